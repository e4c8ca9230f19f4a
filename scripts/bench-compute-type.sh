#!/usr/bin/env bash
# `--compute-type` (issue 24): Lepton's float32, float16 and int8 beside the peers' float32 and
# int8, release build, 2 threads, the same inputs, run one after the other in this session.
#
#   scripts/bench-compute-type.sh [--repeats N] [--no-build] [asr|embed|intents|all]
#
#   asr      Whisper tiny.en, beam 5, the dev clips (../shared/data/speech/dev/transcripts.tsv):
#            `lepton-bench asr --compute-type T` for float32, float16, int8 and faster-whisper
#            (../shared/bench/asr_peer.py, system python3) compute_type float32 and int8:
#            WER, wall and CPU seconds per pass, peak RSS
#   embed    all-MiniLM-L6-v2, the first 2,000 BANKING77 training sentences, batch 32:
#            `lepton-bench embed --compute-type T` against ONNX Runtime float32 and ONNX Runtime
#            `quantize_dynamic` int8 (QInt8 weights per channel) on the same ONNX export
#            (../shared/bench/embed_peer.py, the ml-env python): sentences/s, CPU s, peak RSS
#   intents  BANKING77 test split (samples/bank/splits/banking77-test.csv) accuracy of the bank
#            agent's intent model with each compute type (`lepton-chat test`)
#
# One JSON line per run on stdout, then a summary table; progress on stderr. Each run is bounded
# (timeout 30 min). Prints the load average before and after: compare only figures measured on
# a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
repeats=3; build=1; what=all
while [ $# -gt 0 ]; do
  case "$1" in
    --repeats) repeats="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    asr|embed|intents|all) what="$1"; shift ;;
    *) echo "bench-compute-type.sh: error: unknown argument $1" >&2; exit 64 ;;
  esac
done
if [ $build = 1 ]; then
  swift build -c release --product lepton-bench >&2
  swift build -c release --product lepton-chat >&2
fi
B="$ROOT/.build/release"
SHARED="$ROOT/../shared"
MODELS="${LEPTON_CACHE:-$HOME/.cache/lepton}/models"
work=$(mktemp -d "${TMPDIR:-/tmp}/lepton-bench-compute.XXXXXX")
trap 'rm -rf "$work"' EXIT
results="$work/results.jsonl"
: >"$results"
# Bounded runs; each prints one JSON document, kept on one line in $results with a label.
run() { # run LABEL COMMAND...
  local label=$1; shift
  echo "bench-compute-type: $label" >&2
  timeout 1800 "$@" >"$work/out.json"
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["label"]=sys.argv[2]; print(json.dumps(d))' "$work/out.json" "$label" \
    | tee -a "$results"
}
echo "bench-compute-type: load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

asr() {
  local tsv="$SHARED/data/speech/dev/transcripts.tsv"
  for t in float32 float16 int8; do
    run "lepton asr $t" "$B/lepton-bench" asr --threads 2 --repeats "$repeats" --compute-type "$t" "$tsv"
  done
  for t in float32 int8; do
    run "faster-whisper asr $t" python3 "$SHARED/bench/asr_peer.py" --model-dir "$MODELS/whisper-tiny.en" --threads 2 \
      --repeats "$repeats" --compute-type "$t" "$tsv"
  done
}

embed() {
  local py; py=$(bash scripts/ml-env.sh | tail -1)
  local fp32="$work/minilm-opset17.onnx" int8="$work/minilm-opset17-int8.onnx"
  for t in float32 float16 int8; do
    run "lepton embed $t" "$B/lepton-bench" embed --threads 2 --repeats "$repeats" --compute-type "$t"
  done
  # Export once, untimed (torch's export would share the timed process), then time ORT on the
  # float32 file and on ORT's dynamic quantisation of it.
  timeout 900 "$py" "$SHARED/bench/embed_peer.py" --engine ort --limit 1 --repeats 1 --model-dir "$MODELS/all-MiniLM-L6-v2" \
    --onnx-cache "$fp32" >/dev/null
  run "onnxruntime embed float32" "$py" "$SHARED/bench/embed_peer.py" --engine ort --sort-by-length --threads 2 \
    --repeats "$repeats" --model-dir "$MODELS/all-MiniLM-L6-v2" --onnx-cache "$fp32"
  timeout 600 "$py" -c 'import sys
from onnxruntime.quantization import quantize_dynamic, QuantType
quantize_dynamic(sys.argv[1], sys.argv[2], weight_type=QuantType.QInt8, per_channel=True)' "$fp32" "$int8" >&2
  run "onnxruntime embed int8 (quantize_dynamic)" "$py" "$SHARED/bench/embed_peer.py" --engine ort --sort-by-length --threads 2 \
    --repeats "$repeats" --model-dir "$MODELS/all-MiniLM-L6-v2" --onnx-cache "$int8"
}

intents() {
  for t in float32 float16 int8; do
    echo "bench-compute-type: lepton-chat test $t" >&2
    timeout 1800 "$B/lepton-chat" test --json -q --threads 2 --compute-type "$t" --model samples/bank/model \
      --data samples/bank/splits/banking77-test.csv >"$work/out.json"
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps({"label": sys.argv[2], "accuracy": d["accuracy"], "macro_f1": d.get("macro_f1"), "examples": d.get("examples"), "model": d.get("model")}))' \
      "$work/out.json" "lepton-chat test $t" | tee -a "$results"
  done
}

case $what in
  asr) asr ;;
  embed) embed ;;
  intents) intents ;;
  all) asr; embed; intents ;;
esac
echo "bench-compute-type: load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# Summary table (markdown) from the JSON lines.
python3 - "$results" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for r in rows:
    label = r["label"]
    if "totals" in r:
        t = r["totals"]
        print(f"| {label} | WER {t['wer']:.4f} | wall {t['wall_s']:.2f} s | CPU {t['cpu_s']:.2f} s | peak RSS {r['peak_rss_mb']:.0f} MB |")
    elif "sentences_per_s" in r or "sentencesPerSecond" in r:
        sps = r.get("sentences_per_s", r.get("sentencesPerSecond"))
        cpu = r.get("cpu_s", r.get("cpuSeconds"))
        rss = r.get("peak_rss_mb", r.get("peakRSSMegabytes"))
        print(f"| {label} | {sps:.1f} sentences/s | CPU {cpu:.2f} s | peak RSS {rss:.0f} MB |")
    elif "accuracy" in r:
        print(f"| {label} | accuracy {r['accuracy']:.4f} | macro-F1 {r['macro_f1']:.4f} | {r['examples']} examples |")
EOF
