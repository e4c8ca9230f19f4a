#!/usr/bin/env bash
# The scan model's honest selection (issue 22): every candidate is trained with the even half of
# PneumoniaMNIST's validation rows for the epoch kept (by validation loss) and the temperature
# (train --val-half even --select-by loss),
# chosen on that half (evaluate --half even, with and without test-time augmentation), and only
# then measured on the odd half, which chose nothing (evaluate --half odd). The official test
# split (../shared/holdout) is not read. Prints one line per candidate and TTA setting:
#   name tta even_acc even_auc odd_acc odd_auc odd_sensitivity odd_specificity
#
#   bash scripts/scan-selection.sh [--epochs N] [--out DIR] [--threads N] [--only NAME]
#
# Candidates (both seed 1, 16,32,64 widths): cnn (the shipped recipe) and resnet (one basic block
# per stage). Each run takes 8-30 minutes on 2 shared cores (nice -n 5); a finished
# model folder in DIR is reused. The shipped model is scored on both halves as well: since version
# 1.1 it is the cnn candidate (seed 1) with "tta": 1, so its lines repeat the cnn ones (version
# 1.0's own validation run saw both halves, so its odd figures were not unseen ones).
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=12 out=/tmp/scan-selection threads=2 only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    *) echo "scan-selection: unknown argument $1" >&2; exit 64 ;;
  esac
done
bin=.build/release/lepton-diagnose
labels=../shared/data/medical/pneumoniamnist/labels.csv
[ -x "$bin" ] || { echo "scan-selection: build first (swift build -c release -Xswiftc -enable-testing --product lepton-diagnose)" >&2; exit 1; }
mkdir -p "$out"
declare -A args=(
  [cnn]=""
  [resnet]="--arch resnet --residual-blocks 1"
)
score() {  # model half tta -> "acc auc sensitivity specificity"
  "$bin" evaluate --model "$1" --labels "$labels" --split val --half "$2" --tta "$3" --threads "$threads" --json -q |
    python3 -c 'import json,sys; i=json.load(sys.stdin)["image"]; print("%.4f %.4f %.4f %.4f" % (i["accuracy"], i["auc"], i["sensitivity"], i["specificity"]))'
}
echo "name tta even_acc even_auc odd_acc odd_auc odd_sensitivity odd_specificity"
for name in cnn resnet; do
  [ -z "$only" ] || [ "$only" = "$name" ] || continue
  if [ ! -f "$out/$name/model.safetensors" ]; then
    # shellcheck disable=SC2086
    nice -n 5 "$bin" train --labels "$labels" --out "$out/$name" ${args[$name]} --channels 16,32,64 --val-half even \
      --select-by loss --epochs "$epochs" --patience "$epochs" --seed 1 --threads "$threads" -q >&2
  fi
  for tta in 0 1; do
    read -r ea eu _ _ <<<"$(score "$out/$name" even $tta)"
    echo "$name $tta $ea $eu $(score "$out/$name" odd $tta)"
  done
done
if [ -z "$only" ]; then
  for tta in 0 1; do
    read -r ea eu _ _ <<<"$(score samples/diagnose/model even $tta)"
    echo "shipped $tta $ea $eu $(score samples/diagnose/model odd $tta)"
  done
fi
