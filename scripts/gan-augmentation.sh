#!/usr/bin/env bash
# Issue 22's GAN experiment: does adding DCGAN images of the smaller class (normal) to the training
# set change the scan model's validation AUC?
#
#   scripts/gan-augmentation.sh [--gan-epochs G] [--images N] [--epochs E] [--seeds "1 2 3"] [--out FILE]
#
# 1. train-gan --class normal on the training rows of ../shared/data/medical/pneumoniamnist
#    (G epochs, seed 1), which reports the Fréchet distance between generated and validation
#    normals on the shipped scan model's features (and the train-to-val distance of real images
#    as the floor), and writes N generated normals.
# 2. For every seed: train the scan model (the usual recipe, E epochs) on the training rows alone
#    and on them plus the N generated images (label 0); the validation rows (val/) are the same.
# Prints the GAN's figures, one JSON line per training run, and per condition the mean, the
# standard deviation and the range of validation AUC over the seeds, with the paired difference.
# Validation drives early stopping in both conditions alike, so the AUCs are slightly optimistic
# in both; ../shared/holdout is never read. Needs a release build (.build/release/lepton-diagnose).
set -euo pipefail
cd "$(dirname "$0")/.."
gan_epochs=15 images=1000 epochs=3 seeds="1 2 3" out=""
while (($#)); do
  case "$1" in
    --gan-epochs) gan_epochs=$2; shift 2 ;;
    --images) images=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: scripts/gan-augmentation.sh [--gan-epochs G] [--images N] [--epochs E] [--seeds \"1 2 3\"] [--out FILE]" >&2; exit 64 ;;
  esac
done
B=.build/release
[ -x "$B/lepton-diagnose" ] || { echo "gan-augmentation: $B/lepton-diagnose is not built (swift build -c release)" >&2; exit 1; }
data=$(cd ../shared/data/medical/pneumoniamnist && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "# $(date -u +%FT%TZ) load: $(uptime | sed 's/.*load average: //')" >&2

timeout 3600 "$B/lepton-diagnose" train-gan --labels "$data/labels.csv" --out "$work/gan" --class normal --epochs "$gan_epochs" \
  --seed 1 --write-images "$images" --logdir "$work/gan-run" --json > "$work/gan.json"
cat "$work/gan.json"

# Two training CSVs over one folder: the real rows, and the real rows plus the generated ones.
mkdir -p "$work/data"
ln -s "$data/train" "$work/data/train"
ln -s "$data/val" "$work/data/val"
ln -s "$work/gan/generated" "$work/data/generated"
cp "$data/labels.csv" "$work/data/real.csv"
{ cat "$data/labels.csv"; tail -n +2 "$work/gan/generated/labels.csv" | sed 's|^|generated/|'; } > "$work/data/augmented.csv"

: > "$work/runs.jsonl"
for seed in $seeds; do
  for condition in real augmented; do
    timeout 5400 "$B/lepton-diagnose" train --labels "$work/data/$condition.csv" --out "$work/model-$condition-$seed" \
      --epochs "$epochs" --seed "$seed" --json \
      | python3 -c 'import json, sys; d = json.load(sys.stdin); d.update(condition=sys.argv[1], seed=int(sys.argv[2])); print(json.dumps(d))' \
        "$condition" "$seed" | tee -a "$work/runs.jsonl"
  done
done
[ -z "$out" ] || { cat "$work/gan.json" "$work/runs.jsonl" > "$out"; }
python3 - "$work/runs.jsonl" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
by = {c: {r["seed"]: r["val_auc"] for r in runs if r["condition"] == c} for c in ("real", "augmented")}
for c, v in by.items():
    a = list(v.values())
    sd = statistics.stdev(a) if len(a) > 1 else 0.0
    print(f"{c:10} val AUC mean {statistics.mean(a):.4f} sd {sd:.4f} range {min(a):.4f}-{max(a):.4f} (seeds {sorted(v)})")
diff = [by["augmented"][s] - by["real"][s] for s in by["real"] if s in by["augmented"]]
sd = statistics.stdev(diff) if len(diff) > 1 else 0.0
print(f"paired difference (augmented - real): mean {statistics.mean(diff):+.4f} sd {sd:.4f} per seed {[round(d, 4) for d in diff]}")
PY
