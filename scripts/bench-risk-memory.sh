#!/usr/bin/env bash
# Scoring time and peak memory of `lepton-risk score` against the number of
# transactions (issue 23, "at a bank's volume"), release build, this machine.
#
#   scripts/bench-risk-memory.sh [--rows "1000000 2000000 5000000"] [--seed 7]
#                                [--model samples/risk/model] [--keep DIR]
#
# For every size, `lepton-risk simulate` makes a seeded file of about that many
# rows (30 days, accounts = rows / 16.5), then `score` ranks and prints every
# row (CSV to /dev/null) under /usr/bin/time -v. One JSON line per size on
# stdout: rows, wall and user seconds, peak resident MB, bytes a row; logs on
# stderr. Files go to a temporary folder removed at the end (--keep DIR keeps
# them there; a rerun reuses files of the same size and seed).
set -euo pipefail
cd "$(dirname "$0")/.."
sizes="1000000 2000000 5000000"; seed=7; model=samples/risk/model; keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) sizes="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --keep) keep="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-risk-memory.sh: error: unknown argument $1" >&2; exit 64 ;;
  esac
done
B=.build/release/lepton-risk
[ -x "$B" ] || { echo "bench-risk-memory.sh: error: $B is not built (swift build -c release)" >&2; exit 1; }
if [ -n "$keep" ]; then work="$keep"; mkdir -p "$work"; else
  work=$(mktemp -d "${TMPDIR:-/tmp}/lepton-bench-risk.XXXXXX"); trap 'rm -rf "$work"' EXIT
fi
for n in $sizes; do
  # The simulator makes about 0.55 rows per account and day.
  accounts=$(( n * 10 / 165 )); [ "$accounts" -gt 1000000 ] && accounts=1000000
  csv="$work/sim-$n-$seed.csv"
  if [ ! -s "$csv" ]; then
    echo "simulating about $n rows ($accounts accounts, 30 days, seed $seed)" >&2
    "$B" simulate --accounts "$accounts" --days 30 --seed "$seed" --out "$csv" --patterns "$work/sim-$n-$seed-patterns.csv" -q >&2
  fi
  rows=$(( $(wc -l < "$csv") - 1 ))
  echo "scoring $rows rows" >&2
  /usr/bin/time -v -o "$work/time-$n.txt" "$B" score --model "$model" --transactions "$csv" -q > /dev/null
  python3 - "$work/time-$n.txt" "$rows" "$model" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
rows = int(sys.argv[2])
rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1))
clock = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text).group(1)
seconds = 0.0
for part in clock.split(":"):
    seconds = seconds * 60 + float(part)
user = float(re.search(r"User time \(seconds\): ([\d.]+)", text).group(1))
print(json.dumps({"rows": rows, "wall_s": round(seconds, 1), "user_s": round(user, 1), "peak_rss_mb": round(rss_kb / 1024, 1),
                  "bytes_per_row": round(rss_kb * 1024 / rows), "model": sys.argv[3]}))
PY
done
