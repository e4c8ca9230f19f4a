#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer + AddressSanitizer) of every decoder and loader a user's
# file reaches. See Fuzz/README.md.
#
#   scripts/fuzz.sh [--runs N | --seconds S] [--corpus DIR] [--artifacts DIR] [--timeout S]
#                  [--no-build] [TARGET...]
#
# Default: 60 s per target (the CI setting). Builds `lepton-fuzz` into .build-fuzz (never the
# normal .build), seeds a corpus per target from samples/, ../shared/data and generated files,
# runs each target and prints one line per target: executions, coverage (cov = edges, ft =
# features, from libFuzzer's last status line), peak RSS, time and the finding, if any.
# Hangs (--timeout, default 10 s per input; raise it on a busy machine, where a slow input is
# starved rather than hung), memory blow-ups (-rss_limit_mb, -malloc_limit_mb) and traps are findings;
# the crashing input is kept in the artifacts folder. Exit status: 0 no finding, 1 a finding,
# 64 usage.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

runs=""; seconds=""; corpus_root=""; build=1; timeout=10; artifacts="$ROOT/.build-fuzz/artifacts"; targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;   # with --seconds too: whichever ends first
    --seconds) seconds="$2"; shift 2 ;;
    --corpus) corpus_root="$2"; shift 2 ;;
    --artifacts) artifacts="$2"; shift 2 ;;
    --timeout) timeout="$2"; shift 2 ;;
    --no-build) build=0; shift ;;   # reuse .build-fuzz (e.g. a second run in parallel)
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: error: unknown option $1" >&2; exit 64 ;;
    *) targets+=("$1"); shift ;;
  esac
done

[ -z "$runs" ] && [ -z "$seconds" ] && seconds=60   # the CI default: a bounded minute per target

# -sanitize-coverage plus libFuzzer's no-main runtime rather than -sanitize=fuzzer: SwiftPM
# defines `main` for executables, which clashes with the `main` that -sanitize=fuzzer links in.
FUZZ_RT=$(ls "$(dirname "$(command -v swiftc)")"/../lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a 2>/dev/null | head -1)
if [ -z "$FUZZ_RT" ]; then echo "fuzz.sh: error: libclang_rt.fuzzer_no_main not found in the Swift toolchain" >&2; exit 1; fi
[ $build = 1 ] && echo "fuzz.sh: building lepton-fuzz (release, ASan, coverage) into .build-fuzz" >&2
if [ $build = 1 ] && ! LEPTON_FUZZ=1 swift build -c release --scratch-path .build-fuzz --product lepton-fuzz \
    -Xswiftc -sanitize=address -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,trace-cmp,pc-table \
    -Xswiftc -DLEPTON_LIBFUZZER -Xcc -fsanitize=fuzzer-no-link,address \
    -Xlinker "$FUZZ_RT" -Xlinker -lstdc++ 2>&1 | grep -v 'ld.gold: warning' | grep -E 'error|warning: .*Fuzz/|Compiling|Build' >&2; then :; fi
BIN="$ROOT/.build-fuzz/release/lepton-fuzz"
[ -x "$BIN" ] || { echo "fuzz.sh: error: build failed" >&2; exit 1; }

all_targets=$("$BIN" --list | cut -f1)
[ ${#targets[@]} -eq 0 ] && read -r -a targets <<<"$(echo $all_targets)"
for t in "${targets[@]}"; do
  grep -qx "$t" <<<"$all_targets" || { echo "fuzz.sh: error: unknown target $t (known: $(echo $all_targets))" >&2; exit 64; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/lepton-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
[ -n "$corpus_root" ] || corpus_root="$work/corpus"
mkdir -p "$artifacts" "$corpus_root"
"$BIN" seeds "$work/generated" >&2 || exit 1
DATA="$ROOT/../shared/data"

# seed TARGET FILE...: copies small files (at most the target's max_len) into the corpus.
seed() {
  local t=$1; shift; mkdir -p "$corpus_root/$t"
  local max; max=$("$BIN" --list | awk -F'\t' -v t="$t" '$1 == t {print $2}')
  for f in "$@"; do
    [ -f "$f" ] || continue
    if [ "$(stat -c %s "$f")" -le "$max" ]; then cp "$f" "$corpus_root/$t/$(basename "$f")"
    else head -c "$max" "$f" >"$corpus_root/$t/head-$(basename "$f")"; fi
  done
}
seed_lines() { # seed_lines TARGET N FILE: the first N lines of a big text file
  mkdir -p "$corpus_root/$1"; head -n "$2" "$3" >"$corpus_root/$1/lines-$(basename "$3")" 2>/dev/null
}
seed audio "$work"/generated/audio/*
seed png samples/diagnose/studies/*.png $(ls "$DATA"/medical/pneumoniamnist/train/*.png 2>/dev/null | head -5) \
  $(ls "$DATA"/medical/dicom/expected/*.png 2>/dev/null | head -3)
seed dicom samples/diagnose/studies/*.dcm $(find "$DATA/medical/dicom/files" -name '*.dcm' -size -16k 2>/dev/null)
seed report samples/diagnose/studies/*.txt samples/diagnose/studies/*.xml \
  $(ls "$DATA"/medical/iu-xray/reports/*.xml 2>/dev/null | head -5)
seed csv samples/risk/transactions-patterns.csv; seed_lines csv 60 samples/risk/transactions.csv
seed nlu samples/bank/train-data.yml samples/bank/nlu.yml samples/bank/validation-calls.yml
seed domain samples/bank/domain.yml
seed safetensors "$work"/generated/safetensors/*
seed ctranslate2 "$work"/generated/ctranslate2/*
if python3 -c 'import numpy' 2>/dev/null; then
  python3 - "$work/npz" <<'PY'
import sys, os, numpy as np
d = sys.argv[1]; os.makedirs(d, exist_ok=True)
a = dict(w=np.arange(6, dtype='<f4').reshape(2, 3), b=np.array([1, 2], dtype='<i8'),
         d=np.array([0.5], dtype='<f8'), i=np.array([3], dtype='<i4'), u=np.array([7], dtype='u1'),
         names=np.array(['normal', 'pneumonia']))
np.savez(os.path.join(d, 'stored.npz'), **a)
np.savez_compressed(os.path.join(d, 'deflated.npz'), **a)
PY
  seed npz "$work"/npz/*
fi
# ONNX: two tiny graphs (Gemm+Relu, Conv+BatchNormalization+GlobalAveragePool) from the onnx package
# of the tests' Python environment (scripts/ml-env.sh), when it is there.
if [ -x "${LEPTON_CACHE:-$HOME/.cache/lepton}/pyml/bin/python" ]; then
  "${LEPTON_CACHE:-$HOME/.cache/lepton}/pyml/bin/python" - "$work/onnx" <<'PY' && seed onnx "$work"/onnx/*
import sys, os, numpy as np, onnx
from onnx import helper, TensorProto, numpy_helper
d = sys.argv[1]; os.makedirs(d, exist_ok=True)
def save(name, nodes, inputs, outputs, inits):
    g = helper.make_graph(nodes, name, inputs, outputs, [numpy_helper.from_array(v, k) for k, v in inits.items()])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), os.path.join(d, name + ".onnx"))
f = lambda *s: np.arange(np.prod(s), dtype=np.float32).reshape(s) / 10
save("gemm", [helper.make_node("Gemm", ["x", "w", "b"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["y"])],
     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
     {"w": f(3, 4), "b": f(3)})
save("conv", [helper.make_node("Conv", ["x", "k"], ["c"], pads=[1, 1, 1, 1]),
              helper.make_node("BatchNormalization", ["c", "s", "o", "m", "v"], ["n"]),
              helper.make_node("GlobalAveragePool", ["n"], ["y"])],
     [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 6, 6])], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 1, 1])],
     {"k": f(2, 1, 3, 3), "s": np.ones(2, np.float32), "o": np.zeros(2, np.float32), "m": np.zeros(2, np.float32), "v": np.ones(2, np.float32)})
PY
fi
seed scan-model samples/diagnose/model/config.json
seed risk-model samples/risk/model/config.json
seed node-model "$work"/generated/node-model/*

status=0
printf '%-12s %10s %7s %7s %8s %7s  %s\n' target execs cov ft rss_mb seconds finding
for t in "${targets[@]}"; do
  max=$("$BIN" --list | awk -F'\t' -v t="$t" '$1 == t {print $2}')
  mkdir -p "$corpus_root/$t"
  limit=(-max_total_time="${seconds:-0}"); [ -n "$runs" ] && limit+=(-runs="$runs")
  log="$work/$t.log"; start=$(date +%s)
  # SWIFT_BACKTRACE: let libFuzzer handle the trap (the Swift backtracer would hold the pipe).
  SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 LEPTON_FUZZ_TARGET="$t" \
    "$BIN" "$t" "${limit[@]}" -max_len="$max" -timeout="$timeout" -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -detect_leaks=0 -print_final_stats=1 -artifact_prefix="$artifacts/$t-" "$corpus_root/$t" >"$log" 2>&1
  rc=$?
  elapsed=$(( $(date +%s) - start ))
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}' | tail -1)
  rss=$(grep -oE 'stat::peak_rss_mb: *[0-9]+' "$log" | awk '{print $2}' | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' <<<"$last" | awk '{print $2}'); ft=$(grep -o 'ft: [0-9]*' <<<"$last" | awk '{print $2}')
  [ -z "$execs" ] && execs=$(grep -oE '^#[0-9]+' <<<"$last" | tr -d '#')
  finding="none"
  if [ $rc -ne 0 ]; then
    status=1
    kind=$(grep -m1 -oE 'ERROR: (libFuzzer|AddressSanitizer): [a-zA-Z-]+( [a-z-]+)?|Fatal error: .*' "$log" | head -1)
    art=$(grep -o "Test unit written to .*" "$log" | tail -1 | sed 's/Test unit written to //')
    finding="${kind:-exit $rc} -> ${art:-no artifact} (log: $artifacts/$t.log)"
    cp "$log" "$artifacts/$t.log"
  fi
  printf '%-12s %10s %7s %7s %8s %7s  %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${rss:-?}" "$elapsed" "$finding"
done
exit $status
