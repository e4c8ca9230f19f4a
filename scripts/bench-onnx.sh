#!/usr/bin/env bash
# ONNX models on Lepton's engine against ONNX Runtime, same files, same inputs, side by side.
#
#   scripts/bench-onnx.sh [--threads N] [--repeats R] [--rounds K] [--limit SENTENCES] [--models LIST]
#
# Models: ResNet-18 (torchvision, random weights; input 1x3x224x224, batch 1), the scan CNN (input
# 1x1x28x28, N(0, 1), numpy seed 1) and the MiniLM
# encoder (all-MiniLM-L6-v2 exported by transformers) from scripts/make-onnx-fixtures.py. MiniLM's
# inputs are the sentences ../shared/bench/embed_peer.py uses by default: the first 2000 rows of
# ../shared/data/banking77/train.csv, tokenized with the model's tokenizer.json, in input order,
# batches of 32 padded to their longest sentence; the token batches (and ResNet's N(0, 1) input,
# numpy seed 1) are written once to .npz files that both sides read, so the checksums must agree.
# Timed: the model alone (no tokenization, no pooling), one warm-up pass, then R repeats of (calls
# until at least 0.5 s), median and best per pass. ONNX Runtime 1.32 runs with
# intra_op_num_threads = N, inter_op_num_threads = 1, all graph optimizations (its default);
# Lepton with --threads N. The two alternate, K rounds of (ORT, Lepton) per model, so a change in
# the machine's load hits both; each process runs under /usr/bin/time for its peak RSS (ORT's
# includes Python, numpy and the tokenizers library). Prints one JSON line per run, then a table:
# medians over the rounds, the ratio lepton / ORT (below 1: Lepton is faster) with the rounds'
# lowest and highest ratio, and the load average (`uptime`) before and after. LEPTON_ONNX_FAST=0
# in the environment runs Lepton without its oneDNN convolution segments (the one-by-one steps).
# Needs a release build (.build/release/lepton-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=2 repeats=5 rounds=3 limit=2000 models="resnet18 scan_cnn minilm"
while (($#)); do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    *) echo "usage: scripts/bench-onnx.sh [--threads N] [--repeats R] [--rounds K] [--limit SENTENCES] [--models 'resnet18 scan_cnn minilm']" >&2; exit 64 ;;
  esac
done
bench=.build/release/lepton-bench
[ -x "$bench" ] || { echo "bench-onnx: $bench is not built (swift build -c release)" >&2; exit 1; }
python=$(bash scripts/ml-env.sh | tail -n1)
"$python" scripts/make-onnx-fixtures.py
fixtures="${LEPTON_ONNX_FIXTURES:-$HOME/.cache/lepton/fixtures/onnx}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
load_before=$(uptime)

# The inputs both sides read: token batches and ResNet's image.
timeout 600 "$python" - "$work" "$limit" <<'PY'
import csv, os, sys
import numpy as np
from tokenizers import Tokenizer

work, limit = sys.argv[1], int(sys.argv[2])
with open("../shared/data/banking77/train.csv", encoding="utf-8", newline="") as f:
    rows = [r["text"] for r in csv.DictReader(f)]
rows = rows[:limit] if limit else rows
tok = Tokenizer.from_file(os.path.expanduser("~/.cache/lepton/models/all-MiniLM-L6-v2/tokenizer.json"))
tok.no_padding(); tok.enable_truncation(256)
ids = [e.ids for e in tok.encode_batch(rows)]
arrays = {}
for k, start in enumerate(range(0, len(ids), 32)):
    part = ids[start:start + 32]
    width = max(len(p) for p in part)
    a = np.zeros((len(part), width), np.int64); m = np.zeros((len(part), width), np.int64)
    for i, p in enumerate(part):
        a[i, :len(p)] = p; m[i, :len(p)] = 1
    arrays[f"input_ids_{k}"] = a; arrays[f"attention_mask_{k}"] = m
np.savez(os.path.join(work, "minilm-inputs.npz"), **arrays)
np.savez(os.path.join(work, "resnet18-inputs.npz"), input_0=np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype(np.float32))
np.savez(os.path.join(work, "scan_cnn-inputs.npz"), image_0=np.random.default_rng(1).standard_normal((1, 1, 28, 28)).astype(np.float32))
PY

# ONNX Runtime on one model and its .npz (NAME_K per input NAME and call K), timed like lepton-bench.
cat > "$work/ort.py" <<'PY'
import json, statistics, sys, time
import numpy as np
import onnxruntime as ort

model, inputs, threads, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
opts = ort.SessionOptions()
opts.intra_op_num_threads = threads; opts.inter_op_num_threads = 1
t0 = time.perf_counter()
sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
load = time.perf_counter() - t0
arrays = np.load(inputs)
names = [i.name for i in sess.get_inputs()]
feeds = []
while all(f"{n}_{len(feeds)}" in arrays for n in names):
    feeds.append({n: arrays[f"{n}_{len(feeds)}"] for n in names})

def once():
    for f in feeds: sess.run(None, f)

checksum = sum(float(np.mean(o)) for f in feeds for o in sess.run(None, f))
time.sleep(0.2)
once()
t = time.perf_counter(); once(); one = max(time.perf_counter() - t, 1e-7)
inner = max(1, int(-(-0.5 // one)))
times = []
c0 = time.process_time()
for _ in range(repeats):
    s = time.perf_counter()
    for _ in range(inner): once()
    times.append((time.perf_counter() - s) / inner)
cpu = (time.process_time() - c0) / (repeats * inner)
print(json.dumps({"bench": "onnx", "engine": "onnxruntime " + ort.__version__, "model": model.rsplit("/", 1)[-1], "threads": threads,
                  "calls": len(feeds), "load_s": load, "median_ms": statistics.median(times) * 1e3, "best_ms": min(times) * 1e3,
                  "cpu_ms": cpu * 1e3, "checksum": checksum}))
PY

# Runs a command under /usr/bin/time; prints its JSON line with "peak_rss_mib" and "round" added.
measured() {
  local round=$1; shift
  timeout 1800 /usr/bin/time -f '%M' -o "$work/rss" "$@" > "$work/line"
  python3 -c 'import json, sys; r = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1]); r["peak_rss_mib"] = int(open(sys.argv[2]).read().split()[-1]) / 1024; r["round"] = int(sys.argv[3]); print(json.dumps(r))' \
    "$work/line" "$work/rss" "$round"
}

for ((round = 1; round <= rounds; round++)); do
  for m in $models; do
    measured "$round" "$python" "$work/ort.py" "$fixtures/$m.onnx" "$work/$m-inputs.npz" "$threads" "$repeats" | tee -a "$work/runs.jsonl"
    measured "$round" "$bench" onnx --model "$fixtures/$m.onnx" --inputs "$work/$m-inputs.npz" --threads "$threads" --repeats "$repeats" \
      | tee -a "$work/runs.jsonl"
  done
done
load_after=$(uptime)
python3 - "$work/runs.jsonl" "$load_before" "$load_after" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
print(f"{'model':<14} {'calls':>5} {'ORT median ms':>14} {'Lepton median ms':>17} {'ratio':>6} {'(rounds)':>13} {'peak RSS MiB ORT/Lepton':>24}  checksums (ORT / Lepton)")
for m in dict.fromkeys(r["model"] for r in runs):
    o = [r for r in runs if r["model"] == m and r["engine"] != "lepton"]
    l = [r for r in runs if r["model"] == m and r["engine"] == "lepton"]
    om, lm = statistics.median(r["median_ms"] for r in o), statistics.median(r["median_ms"] for r in l)
    ratios = [b["median_ms"] / a["median_ms"] for a, b in zip(o, l)]
    rss = f"{max(r['peak_rss_mib'] for r in o):.0f} / {max(r['peak_rss_mib'] for r in l):.0f}"
    print(f"{m:<14} {o[0]['calls']:>5} {om:>14.1f} {lm:>17.1f} {lm / om:>6.2f} {min(ratios):>6.2f}-{max(ratios):<6.2f} {rss:>24}  {o[0]['checksum']:.6f} / {l[0]['checksum']:.6f}")
print("load before:", sys.argv[2].strip())
print("load after: ", sys.argv[3].strip())
PY
