#!/usr/bin/env bash
# The cross-host test of issue 25: PostgreSQL, three `lepton-chat serve` replicas and nginx as the
# load balancer, each on a "host" of its own (a network namespace this script makes), under a
# bounded load of conversations whose turns carry Idempotency-Key and land on different replicas.
#
#   scripts/scale-test.sh [--quick] [--clients N] [--json FILE]
#
#   1. faults: load through nginx while replica 2 is killed (kill -9) and started again and
#      PostgreSQL is restarted; then every acknowledged turn must be stored exactly once, every
#      conversation's dialog state and replies must equal a single-process run of the same turns on
#      a fresh SQLite store (scripts/scale_check.py), and nginx must have routed around the dead replica;
#   2. scaling: throughput through nginx with 1, 2 and 3 replicas (turns/s, p50/p99, CPU seconds
#      per turn of the replicas and of PostgreSQL, PostgreSQL commits per turn), and a sizing on
#      paper for 1,000 concurrent calls from those figures.
# Default about 4 minutes (70 s of faults, 30 s per replica count); --quick (CI) about 2 minutes.
# Results: a JSON file (default .build/scale-test.json) and a summary on stdout; exit 1 when a check fails.
#
# Needs root (namespaces), the release build (.build/release/lepton-chat: this script never
# builds), nginx, iproute2, PostgreSQL and sqlite3 (scripts/bootstrap.sh installs them).
# Network safety (../shared/specs/infrastructure.md): the hosts are namespaces named lsc<pid>-*,
# linked by veth pairs created directly inside them to a bridge inside the nginx namespace; the
# private addresses 10.251.0.0/24 exist only there, and no namespace has a default route. Nothing
# here addresses them from the root namespace (every client runs inside a namespace). A trap kills
# every process inside the namespaces and deletes them, also on failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
quick=0; clients=8; out="$ROOT/.build/scale-test.json"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --clients) clients="$2"; shift 2 ;;
    --json) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "scale-test.sh: error: unknown argument $1" >&2; exit 64 ;;
  esac
done
[[ "$clients" =~ ^[0-9]+$ ]] && [ "$clients" -ge 1 ] && [ "$clients" -le 64 ] || { echo "scale-test.sh: error: --clients must be 1..64" >&2; exit 64; }
if [ $quick = 1 ]; then fault_s=40; scan_s=12; else fault_s=70; scan_s=30; fi
[ "$(id -u)" = 0 ] || { echo "scale-test.sh: error: needs root (it makes network namespaces)" >&2; exit 1; }
B="${LEPTON_BIN_DIR:-$ROOT/.build/release}"  # LEPTON_BIN_DIR: programs built or installed elsewhere
[ -x "$B/lepton-chat" ] || { echo "scale-test.sh: error: no $B/lepton-chat (build first: swift build -c release)" >&2; exit 1; }
for tool in ip nginx psql sqlite3 python3; do
  command -v "$tool" >/dev/null || { echo "scale-test.sh: error: $tool is missing (bash scripts/bootstrap.sh)" >&2; exit 1; }
done
log() { echo "scale-test: $*" >&2; }

tag="lsc$$"
NS_LB="$tag-lb"; NS_PG="$tag-pg"; NS_R=("$tag-r1" "$tag-r2" "$tag-r3")
NET=10.251.0; LB_IP=$NET.1; PG_IP=$NET.2; R_IP=($NET.11 $NET.12 $NET.13)
TODAY=2026-03-02
work=$(mktemp -d "${TMPDIR:-/tmp}/lepton-scale.XXXXXX")
made=()
pg_runner=""

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
kill_ns() { # kill -9 every process inside namespace $1 (only namespaces this script made)
  local pids; pids=$(ip netns pids "$1" 2>/dev/null || true)
  [ -z "$pids" ] || kill -9 $pids 2>/dev/null || true
}
cleanup() {
  set +e
  # PostgreSQL first, through scripts/with-postgres.sh's own trap (stops the cluster, removes it).
  if [ -s "$work/pg.holder" ]; then kill "$(cat "$work/pg.holder")" 2>/dev/null; fi
  if [ -n "$pg_runner" ]; then
    for _ in $(seq 1 100); do kill -0 "$pg_runner" 2>/dev/null || break; sleep 0.1; done
  fi
  for ns in "${made[@]}"; do kill_ns "$ns"; done
  sleep 0.3
  for ns in "${made[@]}"; do kill_ns "$ns"; ip netns delete "$ns" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- hosts ------------------------------------------------------------------------------------
# A bridge inside the nginx namespace; each other host hangs on it by a veth pair whose two ends
# are created inside the two namespaces (never in the root namespace).
for ns in "$NS_LB" "$NS_PG" "${NS_R[@]}"; do ip netns add "$ns"; made+=("$ns"); ip -n "$ns" link set lo up; done
ip -n "$NS_LB" link add br0 type bridge
ip -n "$NS_LB" addr add "$LB_IP/24" dev br0
ip -n "$NS_LB" link set br0 up
link_host() { # link_host NS IP N
  ip -n "$NS_LB" link add "veth$3" type veth peer name eth0 netns "$1"
  ip -n "$NS_LB" link set "veth$3" master br0 up
  ip -n "$1" addr add "$2/24" dev eth0
  ip -n "$1" link set eth0 up
}
link_host "$NS_PG" "$PG_IP" 0
for i in 0 1 2; do link_host "${NS_R[$i]}" "${R_IP[$i]}" $((i + 1)); done
log "hosts: ${made[*]} on $NET.0/24 (nginx $LB_IP, PostgreSQL $PG_IP, replicas ${R_IP[*]})"

# --- PostgreSQL (scripts/with-postgres.sh inside its namespace, held open until cleanup) ---------
in_ns "$NS_PG" env LEPTON_POSTGRES_HOST="$PG_IP" bash "$ROOT/scripts/with-postgres.sh" bash -c \
  'printf "%s\n%s\n" "$LEPTON_TEST_POSTGRES_URL" "$LEPTON_TEST_POSTGRES_CTL" >"$1.tmp"; echo $$ >"$2"; mv "$1.tmp" "$1"; exec sleep 3600' \
  _ "$work/pg.env" "$work/pg.holder" >"$work/pg.log" 2>&1 &
pg_runner=$!
for _ in $(seq 1 600); do [ -s "$work/pg.env" ] && break; kill -0 $pg_runner 2>/dev/null || break; sleep 0.1; done
[ -s "$work/pg.env" ] || { log "PostgreSQL did not start:"; cat "$work/pg.log" >&2; exit 1; }
PG_URL=$(sed -n 1p "$work/pg.env"); PG_CTL=$(sed -n 2p "$work/pg.env")
log "PostgreSQL: $PG_URL"
pg_sql() { in_ns "$NS_LB" psql "$PG_URL" -v ON_ERROR_STOP=1 -At -c "$1"; }

# --- replicas ---------------------------------------------------------------------------------
start_replica() { # start_replica I: `lepton-chat serve` in namespace r(I+1); waits (at most 300 s) until it listens
  local i=$1 logf="$work/replica$(( $1 + 1 )).log"
  : >"$logf"
  in_ns "${NS_R[$i]}" "$B/lepton-chat" serve --host "${R_IP[$i]}" --port 8080 --store "$PG_URL" --today "$TODAY" --threads 2 \
    2>>"$logf" >/dev/null &
  local pid=$!
  disown "$pid"  # found and killed through its namespace (kill_ns), not as a job of this shell
  for _ in $(seq 1 3000); do
    grep -q "listening on http://" "$logf" && return 0
    # The launcher's own pid, not the namespace's list: right after the fork `ip netns exec` has not
    # entered the namespace yet, and an empty list there once failed CI with an empty log.
    kill -0 "$pid" 2>/dev/null || { log "replica $((i + 1)) exited:"; tail -5 "$logf" >&2; exit 1; }
    sleep 0.1
  done
  log "replica $((i + 1)) not ready after 300 s"; exit 1
}
ns_cpu() { # CPU seconds used so far by the processes of replica namespace I, or of "pg" or "lb" (nginx, load client)
  local ns; case $1 in pg) ns=$NS_PG ;; lb) ns=$NS_LB ;; *) ns=${NS_R[$1]} ;; esac
  # shellcheck disable=SC2046
  python3 - $(ip netns pids "$ns") <<'PY'
import os, sys
tick = os.sysconf("SC_CLK_TCK"); total = 0
for pid in sys.argv[1:]:
    try:
        f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
        total += sum(int(x) for x in f[11:15])  # utime stime cutime cstime
    except OSError:
        pass
print(total / tick)
PY
}
starters=()
machine_busy() { # CPU seconds the whole machine has been busy (all processes, other users' too), from /proc/stat
  awk -v t="$(getconf CLK_TCK)" '/^cpu / { print ($2 + $3 + $4 + $7 + $8) / t }' /proc/stat
}
for i in 0 1 2; do start_replica $i & starters+=($!); done
for p in "${starters[@]}"; do wait "$p"; done
log "three replicas listening"

# --- nginx ------------------------------------------------------------------------------------
mkdir -p "$work/nginx"
nginx_conf() { # nginx_conf N: the configuration with the first N replicas as upstreams
  {
    cat <<EOF
daemon off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
  log_format lb '\$msec \$status "\$upstream_addr" "\$upstream_status" \$request_time';
  access_log $work/nginx/access.log lb;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  # Upgrade and Connection are hop-by-hop: nginx drops them unless told to pass them on.
  map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
  upstream chat {
EOF
    for i in $(seq 0 $(( $1 - 1 ))); do echo "    server ${R_IP[$i]}:8080 max_fails=1 fail_timeout=3s;"; done
    cat <<EOF
    keepalive 32;
  }
  server {
    listen $LB_IP:8080;
    location / {
      proxy_pass http://chat;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_connect_timeout 1s;
      proxy_read_timeout 30s;
      # A replica that refuses the connection, resets it or times out: try the next one. nginx
      # normally never re-sends a POST that reached a replica (it may have been applied);
      # non_idempotent allows it here ONLY because every turn carries an Idempotency-Key: the
      # turn, its key and its answer commit together, so a re-sent turn that was applied gets the
      # stored answer back (Idempotent-Replayed) and is never applied twice.
      proxy_next_upstream error timeout non_idempotent;
      proxy_next_upstream_tries 3;
      proxy_next_upstream_timeout 20s;
      add_header X-Upstream \$upstream_addr always;
    }
    # Live transcription (a WebSocket): the upgrade passed on, and a call may be silent or last
    # far longer than a turn (the service's own --stream-idle-seconds and --stream-max-minutes bound it).
    location = /v1/transcribe/stream {
      proxy_pass http://chat;
      proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade;
      proxy_set_header Connection \$connection_upgrade;
      proxy_connect_timeout 1s;
      proxy_read_timeout 3600s;
      proxy_send_timeout 3600s;
    }
  }
}
EOF
  } >"$work/nginx/nginx.conf"
}
nginx_up() { # waits (at most 30 s) until nginx answers /healthz through a replica
  for _ in $(seq 1 300); do
    in_ns "$NS_LB" curl -sf -o /dev/null --max-time 2 "http://$LB_IP:8080/healthz" && return 0
    sleep 0.1
  done
  log "nginx not answering"; cat "$work/nginx/error.log" >&2; exit 1
}
nginx_conf 3
in_ns "$NS_LB" nginx -c "$work/nginx/nginx.conf" -p "$work/nginx/" -e "$work/nginx/error.log" &
disown $!
nginx_up
log "nginx: http://$LB_IP:8080 -> 3 replicas"
LOAD=(in_ns "$NS_LB" python3 "$ROOT/scripts/serve_load.py" --url "http://$LB_IP:8080" --mode text --idempotency --clients "$clients")

# --- 1. faults under load ---------------------------------------------------------------------
now() { date +%s.%N; }
log "faults: ${fault_s} s of load; replica 2 killed at $((fault_s / 4)) s, restarted at $((fault_s * 2 / 5)) s; PostgreSQL restarted at $((fault_s * 3 / 5)) s"
: >"$work/nginx/access.log"
"${LOAD[@]}" --seconds "$fault_s" --session-prefix fault --record "$work/fault.turns" --acks "$work/fault.acks" >"$work/fault.json" &
load=$!
sleep $((fault_s / 4))
killed_at=$(now); kill_ns "${NS_R[1]}"; log "replica 2 killed (kill -9)"
sleep $((fault_s * 2 / 5 - fault_s / 4))
# The replica is down from the kill until its restart begins (it may serve as soon as it listens).
restarted_at=$(now); start_replica 1; log "replica 2 restarted"
sleep $(( fault_s * 3 / 5 - fault_s * 2 / 5 ))
pg_stop_at=$(now); in_ns "$NS_PG" "$PG_CTL" stop; sleep 3; in_ns "$NS_PG" "$PG_CTL" start; pg_start_at=$(now)
log "PostgreSQL restarted (down $(python3 -c "print(round($pg_start_at - $pg_stop_at, 1))") s)"
wait $load
log "faults load: $(cat "$work/fault.json")"
cp "$work/nginx/access.log" "$work/fault.access"
# The reference: one process, a fresh SQLite store, loopback inside the nginx namespace.
in_ns "$NS_LB" "$B/lepton-chat" serve --host 127.0.0.1 --port 8099 --store "$work/reference.sqlite" --today "$TODAY" --threads 2 \
  2>"$work/reference.log" >/dev/null &
disown $!
for _ in $(seq 1 3000); do grep -q "listening on http://" "$work/reference.log" && break; sleep 0.1; done
grep -q "listening on http://" "$work/reference.log" || { log "reference service did not start"; tail -5 "$work/reference.log" >&2; exit 1; }
# What the cluster stored, read with psql (one JSON document each).
pg_sql "SELECT coalesce(json_object_agg(id, state::json), '{}') FROM lepton_chat_sessions WHERE id LIKE 'fault-%'" >"$work/cluster.states"
pg_sql "SELECT coalesce(json_agg(json_build_array(session, turn, intent, reply) ORDER BY session, turn), '[]')
        FROM lepton_chat_turns WHERE session LIKE 'fault-%'" >"$work/cluster.turns"
pg_sql "SELECT coalesce(json_object_agg(session, n), '{}') FROM (SELECT session, count(*) AS n FROM lepton_chat_turn_keys
        WHERE session LIKE 'fault-%' GROUP BY session) k" >"$work/cluster.keys"
fault_ok=1
in_ns "$NS_LB" python3 "$ROOT/scripts/check_acks.py" "$PG_URL" "$work/fault.acks" --exact >"$work/acks.txt" || fault_ok=0
log "acknowledged turns: $(cat "$work/acks.txt")"
in_ns "$NS_LB" python3 "$ROOT/scripts/scale_check.py" faults --record "$work/fault.turns" --states "$work/cluster.states" \
  --turns "$work/cluster.turns" --keys "$work/cluster.keys" --reference-url http://127.0.0.1:8099 \
  --reference-store "$work/reference.sqlite" --access-log "$work/fault.access" --killed "${R_IP[1]}:8080" \
  --down "$killed_at" "$restarted_at" --load "$work/fault.json" >"$work/faults-check.json" || fault_ok=0

# A retry that lands on another replica gets the first answer back: the same keyed turn sent to
# replica 1, then to replica 3 (directly, curl inside the nginx namespace).
probe() { # probe REPLICA-IP FILE: the keyed turn; prints the Idempotent-Replayed header's value
  in_ns "$NS_LB" curl -sS --max-time 30 -D "$2.head" -o "$2" -H 'Content-Type: application/json' -H 'Idempotency-Key: probe-1' \
    --data '{"text": "I want to send 20 dollars to my landlord"}' "http://$1:8080/v1/sessions/probe-cross/turns" >/dev/null
  tr -d '\r' <"$2.head" | sed -n 's/^[Ii]dempotent-[Rr]eplayed: //p'
}
first_flag=$(probe "${R_IP[0]}" "$work/probe1"); second_flag=$(probe "${R_IP[2]}" "$work/probe2")
probe_turns=$(pg_sql "SELECT count(*) FROM lepton_chat_turns WHERE session = 'probe-cross'")
if [ -z "$first_flag" ] && [ "$second_flag" = true ] && cmp -s "$work/probe1" "$work/probe2" && [ "$probe_turns" = 1 ]; then
  replay="replica 3 answered replica 1's stored answer (Idempotent-Replayed: true, same bytes), 1 turn stored"
else
  replay="FAILED: replayed '$first_flag' then '$second_flag', bodies $(cmp -s "$work/probe1" "$work/probe2" && echo equal || echo differ), $probe_turns turns stored"
  fault_ok=0
fi
log "cross-replica retry: $replay"

# --- 2. throughput with 1, 2 and 3 replicas ---------------------------------------------------
: >"$work/scan.jsonl"
for n in 1 2 3; do
  nginx_conf $n
  in_ns "$NS_LB" nginx -c "$work/nginx/nginx.conf" -p "$work/nginx/" -e "$work/nginx/error.log" -s reload
  sleep 1; nginx_up
  commits0=$(pg_sql "SELECT xact_commit FROM pg_stat_database WHERE datname = 'lepton'")
  cpu0=(); for i in 0 1 2; do cpu0+=("$(ns_cpu $i)"); done; pgcpu0=$(ns_cpu pg); lbcpu0=$(ns_cpu lb); busy0=$(machine_busy)
  "${LOAD[@]}" --seconds "$scan_s" --settle 10 --session-prefix "scan$n" >"$work/scan$n.json"
  cpu1=(); for i in 0 1 2; do cpu1+=("$(ns_cpu $i)"); done; pgcpu1=$(ns_cpu pg); lbcpu1=$(ns_cpu lb); busy1=$(machine_busy)
  sleep 0.5  # pg_stat_database is updated by the server every half second or so
  commits1=$(pg_sql "SELECT xact_commit FROM pg_stat_database WHERE datname = 'lepton'")
  python3 -c '
import json, sys
r = json.load(open(sys.argv[1])); n = int(sys.argv[2])
c0 = [float(x) for x in sys.argv[3].split()]; c1 = [float(x) for x in sys.argv[4].split()]
r.update(replicas=n, replica_cpu_s=round(sum(b - a for a, b in zip(c0, c1)), 2),
         postgres_cpu_s=round(float(sys.argv[6]) - float(sys.argv[5]), 2), postgres_commits=int(sys.argv[8]) - int(sys.argv[7]),
         lb_cpu_s=round(float(sys.argv[10]) - float(sys.argv[9]), 2), machine_busy_s=round(float(sys.argv[12]) - float(sys.argv[11]), 2))
print(json.dumps(r))' "$work/scan$n.json" $n "${cpu0[*]}" "${cpu1[*]}" "$pgcpu0" "$pgcpu1" "$commits0" "$commits1" \
    "$lbcpu0" "$lbcpu1" "$busy0" "$busy1" >>"$work/scan.jsonl"
  log "$n replica(s): $(tail -1 "$work/scan.jsonl")"
done

mkdir -p "$(dirname "$out")"
python3 "$ROOT/scripts/scale_check.py" report --faults "$work/faults-check.json" --acks "$(cat "$work/acks.txt")" \
  --scan "$work/scan.jsonl" --replay "$replay" --cores "$(nproc)" --mode "$([ $quick = 1 ] && echo quick || echo full)" --json "$out" || fault_ok=0
[ $fault_ok = 1 ] || { log "FAILED (see above)"; exit 1; }
log "passed; results in $out"
