#!/usr/bin/env bash
# Service benchmarks for `lepton-chat serve` (issue 19), release build, loopback, this machine.
#
#   scripts/bench-serve.sh [--seconds S] [--clients N] [--no-build] [typed|spoken|soak|faults|all]
#
#   typed   text turns through the service vs. one `lepton-chat respond` process per turn
#           (8 concurrent clients each): turns/s and p50/p95/p99, and the ratio
#   spoken  the same with bank-dev calls as audio (../shared/data/speech/bank-dev)
#   soak    10 minutes (--soak-seconds) of mixed typed and spoken load: 5xx count, resident memory
#           every 10 s (growth after a 60 s warm-up), every acknowledged turn in the store after
#   faults  kill -9 under load and restart: every acknowledged turn in the store, every session
#           still playable; with PostgreSQL (scripts/with-postgres.sh), the database stopped for
#           20 s under load: 503s meanwhile, success after, no acknowledged turn lost
#
# Every load loop is bounded in time (scripts/serve_load.py). Figures go to stdout as JSON lines
# and a summary; logs to stderr. The default `all` takes about 20 minutes. `faults` exits 1 when
# an acknowledged turn is lost, a session cannot go on, or the outage answered anything but 503
# (CI runs it under scripts/with-postgres.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
seconds=30; clients=8; soak_seconds=600; build=1; what=all
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --soak-seconds) soak_seconds="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    typed|spoken|soak|faults|all) what="$1"; shift ;;
    *) echo "bench-serve.sh: error: unknown argument $1" >&2; exit 64 ;;
  esac
done
[ $build = 1 ] && swift build -c release --product lepton-chat >&2
B="$ROOT/.build/release"
LOAD="python3 $ROOT/scripts/serve_load.py"
AUDIO="$ROOT/../shared/data/speech/bank-dev"
work=$(mktemp -d "${TMPDIR:-/tmp}/lepton-bench-serve.XXXXXX")
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# start_chat STORE [extra serve options...]: starts `lepton-chat serve` on a free port, waits
# (at most 120 s) for "listening on http://…", sets $url and $server_pid.
start_chat() {
  local store=$1; shift
  : >"$work/serve.err"
  "$B/lepton-chat" serve --port 0 --store "$store" --threads 2 "$@" 2>>"$work/serve.err" >/dev/null &
  server_pid=$!
  for _ in $(seq 1 1200); do
    url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$work/serve.err" | head -1)
    [ -n "$url" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || { echo "bench-serve: serve exited:" >&2; tail -5 "$work/serve.err" >&2; exit 1; }
    sleep 0.1
  done
  echo "bench-serve: serve not ready after 120 s" >&2; exit 1
}
# stop_chat: SIGTERM, and at most 30 s for the service to drain and exit (then kill -9 and fail:
# a service that cannot stop is a finding, and CI must not wait for it until its own time runs out).
stop_chat() {
  kill -TERM "$server_pid" 2>/dev/null || true
  local waited=0
  while kill -0 "$server_pid" 2>/dev/null && [ $waited -lt 300 ]; do sleep 0.1; waited=$((waited + 1)); done
  if kill -0 "$server_pid" 2>/dev/null; then
    echo "bench-serve: serve did not exit within 30 s of SIGTERM; its log ends:" >&2; tail -20 "$work/serve.err" >&2
    kill -9 "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true; server_pid=""; exit 1
  fi
  wait "$server_pid" 2>/dev/null || true; server_pid=""
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
ratio() { python3 -c 'import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print("%.1f" % (a/b) if b else "inf")' "$1" "$2"; }

# check_acks STORE ACKS: every acknowledged turn is in the store (turn rows per session >= acks).
check_acks() { python3 "$ROOT/scripts/check_acks.py" "$@"; }

compare() { # compare MODE: the service and the CLI under the same load
  local mode=$1
  start_chat "$work/$mode-serve.sqlite"
  local svc; svc=$($LOAD --url "$url" --mode "$mode" --clients "$clients" --seconds "$seconds" --audio-dir "$AUDIO")
  stop_chat
  local cli; cli=$($LOAD --cli "$B/lepton-chat" --store "$work/$mode-cli.sqlite" --mode "$mode" --clients "$clients" \
    --seconds "$seconds" --audio-dir "$AUDIO")
  echo "$svc"; echo "$cli"
  echo "summary $mode: service $(field "$svc" turns_per_s) turns/s (p50 $(field "$svc" p50_ms) ms, p95 $(field "$svc" p95_ms) ms, p99 $(field "$svc" p99_ms) ms);" \
       "CLI $(field "$cli" turns_per_s) turns/s (p50 $(field "$cli" p50_ms) ms, p99 $(field "$cli" p99_ms) ms);" \
       "throughput ratio $(ratio "$(field "$svc" turns_per_s)" "$(field "$cli" turns_per_s)")x"
}

soak() {
  local store="$work/soak.sqlite" acks="$work/soak.acks"
  start_chat "$store"
  $LOAD --url "$url" --mode mixed --clients "$clients" --seconds "$soak_seconds" --audio-dir "$AUDIO" --acks "$acks" \
    >"$work/soak.json" &
  local load=$! t=0 base=0 peak=0
  while kill -0 $load 2>/dev/null; do
    sleep 10; t=$((t + 10)); local r; r=$(rss_kb "$server_pid")
    echo "soak: t=${t}s rss=${r} kB" >&2
    [ $t -eq 60 ] && base=$r
    [ $t -gt 60 ] && [ "$r" -gt "$peak" ] && peak=$r
  done
  wait $load
  stop_chat
  cat "$work/soak.json"
  local fivexx; fivexx=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["status"]; print(sum(v for k,v in s.items() if k.startswith("5")))' "$work/soak.json")
  echo "summary soak: $(field "$(cat "$work/soak.json")" requests) requests in ${soak_seconds} s, 5xx: $fivexx," \
       "RSS after warm-up ${base} kB, peak ${peak} kB (growth $(python3 -c "import sys; b,p=$base,$peak; print('%.1f%%' % (100*(p-b)/b) if b else 'n/a')"))," \
       "acknowledged turns: $(check_acks "$store" "$acks")"
}

faults() {
  local store="$work/fault.sqlite" acks="$work/fault.acks"
  start_chat "$store"
  $LOAD --url "$url" --mode text --clients "$clients" --seconds 20 --acks "$acks" --session-prefix killed >/dev/null &
  local load=$!
  sleep 8; kill -9 "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
  wait $load || true
  start_chat "$store"
  local verdict ok=1
  verdict=$(check_acks "$store" "$acks" --url "$url") || ok=0
  echo "summary kill -9: acknowledged turns: $verdict"
  stop_chat
  if [ -n "${LEPTON_TEST_POSTGRES_URL:-}" ] && [ -n "${LEPTON_TEST_POSTGRES_CTL:-}" ]; then
    acks="$work/pg.acks"
    start_chat "$LEPTON_TEST_POSTGRES_URL"
    $LOAD --url "$url" --mode text --clients "$clients" --seconds 45 --acks "$acks" --session-prefix pg-outage >"$work/pg.json" &
    load=$!
    sleep 10; "$LEPTON_TEST_POSTGRES_CTL" stop >&2; sleep 20; "$LEPTON_TEST_POSTGRES_CTL" start >&2
    wait $load
    verdict=$(check_acks "$LEPTON_TEST_POSTGRES_URL" "$acks" --url "$url") || ok=0
    echo "summary postgres outage: $(cat "$work/pg.json"); acknowledged turns: $verdict"
    # During the outage the service must have said so (503), never failed otherwise (other 5xx).
    python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["status"]; sys.exit(0 if s.get("503",0) > 0 and all(k in ("200","503") for k in s) else 1)' \
      "$work/pg.json" || { echo "bench-serve: the outage did not answer 503 only" >&2; ok=0; }
    [ $ok = 1 ] || { echo "bench-serve: the service's log around the outage (not 200 lines):" >&2; grep -v 'status=200' "$work/serve.err" | tail -40 >&2; }
    stop_chat
  else
    echo "summary postgres outage: skipped (run as: scripts/with-postgres.sh scripts/bench-serve.sh faults)" >&2
  fi
  [ $ok = 1 ] || { echo "bench-serve: faults: FAILED" >&2; exit 1; }
}

case $what in
  typed) compare text ;;
  spoken) compare audio ;;
  soak) soak ;;
  faults) faults ;;
  all) compare text; compare audio; faults; soak ;;
esac
