#!/usr/bin/env bash
# ONNX models on Lepton's engine against ONNX Runtime, same files, same inputs, side by side.
#
#   scripts/bench-onnx.sh [--threads N] [--repeats R] [--limit SENTENCES]
#
# Models: ResNet-18 (torchvision, random weights; input 1x3x224x224, batch 1) and the MiniLM
# encoder (all-MiniLM-L6-v2 exported by transformers) from scripts/make-onnx-fixtures.py. MiniLM's
# inputs are the sentences ../shared/bench/embed_peer.py uses by default: the first 2000 rows of
# ../shared/data/banking77/train.csv, tokenized with the model's tokenizer.json, in input order,
# batches of 32 padded to their longest sentence; the token batches (and ResNet's N(0, 1) input,
# numpy seed 1) are written once to .npz files that both sides read, so the checksums must agree. Timed: the model alone (no tokenization, no pooling), one warm-up pass,
# then R repeats of (calls until at least 0.5 s), median and best per pass. ONNX Runtime 1.32 runs
# with intra_op_num_threads = N, inter_op_num_threads = 1, all graph optimizations (its default);
# Lepton with --threads N. Prints one JSON line per engine and model, then a table with the ratio
# lepton / ORT (below 1: Lepton is faster). Needs a release build (.build/release/lepton-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=2 repeats=5 limit=2000
while (($#)); do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    *) echo "usage: scripts/bench-onnx.sh [--threads N] [--repeats R] [--limit SENTENCES]" >&2; exit 64 ;;
  esac
done
bench=.build/release/lepton-bench
[ -x "$bench" ] || { echo "bench-onnx: $bench is not built (swift build -c release)" >&2; exit 1; }
python=$(bash scripts/ml-env.sh | tail -n1)
"$python" scripts/make-onnx-fixtures.py
fixtures="${LEPTON_ONNX_FIXTURES:-$HOME/.cache/lepton/fixtures/onnx}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Token batches for both sides, and ONNX Runtime's timings.
timeout 1800 "$python" - "$fixtures" "$work" "$threads" "$repeats" "$limit" > "$work/ort.jsonl" <<'PY'
import csv, json, os, statistics, sys, time
import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

fixtures, work, threads, repeats, limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
with open("../shared/data/banking77/train.csv", encoding="utf-8", newline="") as f:
    rows = [r["text"] for r in csv.DictReader(f)]
rows = rows[:limit] if limit else rows
tok = Tokenizer.from_file(os.path.expanduser("~/.cache/lepton/models/all-MiniLM-L6-v2/tokenizer.json"))
tok.no_padding(); tok.enable_truncation(256)
ids = [e.ids for e in tok.encode_batch(rows)]
batches, arrays = [], {}
for k, start in enumerate(range(0, len(ids), 32)):
    part = ids[start:start + 32]
    width = max(len(p) for p in part)
    a = np.zeros((len(part), width), np.int64); m = np.zeros((len(part), width), np.int64)
    for i, p in enumerate(part):
        a[i, :len(p)] = p; m[i, :len(p)] = 1
    batches.append({"input_ids": a, "attention_mask": m})
    arrays[f"input_ids_{k}"] = a; arrays[f"attention_mask_{k}"] = m
np.savez(os.path.join(work, "banking77-ids.npz"), **arrays)

def measure(sess, feeds):
    def once():
        out = None
        for f in feeds: out = sess.run(None, f)
        return out
    time.sleep(0.2)
    once()
    t0 = time.perf_counter(); once(); one = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, int(-(-0.5 // one)))
    times = []
    c0 = time.process_time()
    for _ in range(repeats):
        s = time.perf_counter()
        for _ in range(inner): once()
        times.append((time.perf_counter() - s) / inner)
    cpu = (time.process_time() - c0) / (repeats * inner)
    return statistics.median(times) * 1e3, min(times) * 1e3, cpu * 1e3

opts = ort.SessionOptions()
opts.intra_op_num_threads = threads; opts.inter_op_num_threads = 1
image = np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype(np.float32)
np.savez(os.path.join(work, "resnet18-input.npz"), input_0=image)
for name, feeds in [("resnet18.onnx", [{"input": image}]), ("minilm.onnx", batches)]:
    t0 = time.perf_counter()
    sess = ort.InferenceSession(os.path.join(fixtures, name), opts, providers=["CPUExecutionProvider"])
    load = time.perf_counter() - t0
    checksum = sum(float(np.mean(o)) for f in feeds for o in sess.run(None, f))
    med, best, cpu = measure(sess, feeds)
    print(json.dumps({"bench": "onnx", "engine": "onnxruntime " + ort.__version__, "model": name, "threads": threads,
                      "calls": len(feeds), "load_s": load, "median_ms": med, "best_ms": best, "cpu_ms": cpu, "checksum": checksum}))
PY
cat "$work/ort.jsonl"
timeout 1800 "$bench" onnx --model "$fixtures/resnet18.onnx" --inputs "$work/resnet18-input.npz" --threads "$threads" --repeats "$repeats" > "$work/lepton.jsonl"
timeout 1800 "$bench" onnx --model "$fixtures/minilm.onnx" --inputs "$work/banking77-ids.npz" --threads "$threads" --repeats "$repeats" >> "$work/lepton.jsonl"
cat "$work/lepton.jsonl"
python3 - "$work/ort.jsonl" "$work/lepton.jsonl" <<'PY'
import json, sys
ort = {r["model"]: r for r in map(json.loads, open(sys.argv[1]))}
lep = {r["model"]: r for r in map(json.loads, open(sys.argv[2]))}
print(f"{'model':<14} {'calls':>5} {'ORT median ms':>14} {'Lepton median ms':>17} {'ratio':>6}  checksums (ORT / Lepton)")
for m in ort:
    o, l = ort[m], lep[m]
    print(f"{m:<14} {o['calls']:>5} {o['median_ms']:>14.1f} {l['median_ms']:>17.1f} {l['median_ms'] / o['median_ms']:>6.2f}  {o['checksum']:.6f} / {l['checksum']:.6f}")
PY
