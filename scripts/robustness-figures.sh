#!/usr/bin/env bash
# Issue 22's robustness figures: the scan model's clean and attacked (FGSM, PGD) accuracy and AUC on
# the PneumoniaMNIST validation split at eps = 1, 2, 4 /255, before and after adversarial training.
#
#   scripts/robustness-figures.sh [--epochs E] [--epsilon E] [--pgd-steps K] [--train-pgd-steps K] [--seed S] [--out FILE]
#
# "Before" is the shipped model (samples/diagnose/model). "After" fine-tunes it for --epochs with
# train --start-from ... --adversarial fgsm --epsilon E (default 2) at --lr 5e-4, and once more
# with --adversarial pgd (--train-pgd-steps, default 3); a control fine-tunes it the same way
# without the attack, so the change is the attack's, not the extra epochs'. Every model is evaluated with evaluate --attack fgsm and --attack pgd (--pgd-steps,
# default 10, random start from --seed). A model with "tta" in its config.json (the shipped one
# since 1.1; the fine-tunes inherit it) is attacked and scored as the mean over its test-time
# views, which is what analyze reports. Only the train/ and val/ rows of
# ../shared/data/medical/pneumoniamnist are read (early stopping and temperature use val/, so
# the "after" figures are validation figures, not held-out ones); ../shared/holdout is never
# read. Prints one JSON object per model and attack, then a table; --out also writes the JSON
# lines to FILE. Needs a release build (.build/release/lepton-diagnose).
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=2 epsilon=2 steps=10 train_steps=3 seed=1 out=""
while (($#)); do
  case "$1" in
    --epochs) epochs=$2; shift 2 ;;
    --epsilon) epsilon=$2; shift 2 ;;
    --pgd-steps) steps=$2; shift 2 ;;
    --train-pgd-steps) train_steps=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: scripts/robustness-figures.sh [--epochs E] [--epsilon E] [--pgd-steps K] [--train-pgd-steps K] [--seed S] [--out FILE]" >&2; exit 64 ;;
  esac
done
B=.build/release
[ -x "$B/lepton-diagnose" ] || { echo "robustness-figures: $B/lepton-diagnose is not built (swift build -c release)" >&2; exit 1; }
labels=../shared/data/medical/pneumoniamnist/labels.csv
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "# $(date -u +%FT%TZ) load: $(uptime | sed 's/.*load average: //')" >&2

# Fine-tuning (each bounded in time): the adversarial model and its clean control.
timeout 5400 "$B/lepton-diagnose" train --labels "$labels" --out "$work/adversarial" --start-from samples/diagnose/model \
  --lr 5e-4 --epochs "$epochs" --seed "$seed" --adversarial fgsm --epsilon "$epsilon" --json > "$work/train-adversarial.json"
timeout 5400 "$B/lepton-diagnose" train --labels "$labels" --out "$work/adversarial-pgd" --start-from samples/diagnose/model \
  --lr 5e-4 --epochs "$epochs" --seed "$seed" --adversarial pgd --epsilon "$epsilon" --pgd-steps "$train_steps" \
  --json > "$work/train-adversarial-pgd.json"
timeout 5400 "$B/lepton-diagnose" train --labels "$labels" --out "$work/control" --start-from samples/diagnose/model \
  --lr 5e-4 --epochs "$epochs" --seed "$seed" --json > "$work/train-control.json"

: > "$work/figures.jsonl"
for model in samples/diagnose/model "$work/control" "$work/adversarial" "$work/adversarial-pgd"; do
  for attack in fgsm pgd; do
    timeout 3600 "$B/lepton-diagnose" evaluate --labels "$labels" --split val --model "$model" --attack "$attack" \
      --epsilon 1,2,4 --pgd-steps "$steps" --seed "$seed" --json \
      | python3 -c 'import json, sys; d = json.load(sys.stdin); d["name"] = sys.argv[1]; print(json.dumps(d))' \
        "$(basename "$model")" >> "$work/figures.jsonl"
  done
done
[ -z "$out" ] || cp "$work/figures.jsonl" "$out"
cat "$work/figures.jsonl"
python3 - "$work/figures.jsonl" "$epochs" "$epsilon" "$train_steps" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
names = {"model": "shipped (before)", "control": f"clean fine-tune, {sys.argv[2]} epochs",
         "adversarial": f"FGSM eps {sys.argv[3]}/255 fine-tune, {sys.argv[2]} epochs",
         "adversarial-pgd": f"PGD-{sys.argv[4]} eps {sys.argv[3]}/255 fine-tune, {sys.argv[2]} ep"}
print(f"\n{'model':42} {'attack':6} {'clean ACC/AUC':>15} " + " ".join(f"{'eps ' + str(e) + ' ACC/AUC':>17}" for e in (1, 2, 4)))
for r in rows:
    rb = r["robustness"]
    cells = " ".join(f"{a['accuracy']:.3f} / {a['auc']:.3f}".rjust(17) for a in rb["attacked"])
    print(f"{names[r['name']]:42} {rb['attack']:6} {rb['clean']['accuracy']:.3f} / {rb['clean']['auc']:.3f}".ljust(66) + " " + cells)
PY
