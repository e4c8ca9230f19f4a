#!/usr/bin/env bash
# Builds Lepton's container image (deploy/container/Containerfile) with podman and runs the three
# services in it, as Kubernetes would: non-root, read-only root filesystem with a /tmp of its own,
# weights mounted read-only at /models, an API key file, host network on a free loopback port.
#
#   scripts/container-test.sh [--bin DIR] [--measure FILE] [--load-seconds S]
#
# No image registry and no Swift toolchain image are reachable here, so the image is the
# Containerfile's `runtime-host` target: the runtime stage with the programs of DIR (default
# .build/release, what the test step built; no second build) and the Swift runtime libraries they
# load (found with ldd), on a Debian bookworm base made by `debootstrap --variant=minbase` with the
# Containerfile's RUNTIME_PACKAGES (cached in ~/.cache/lepton/container, one tarball per day).
# Podman runs as ../shared/specs/infrastructure.md says: runc, ulimits within the machine's
# limits, storage in a temporary folder (--root/--runroot), network `none` or `host` only — never
# podman's default bridge.
#
# Checks: every library resolves in the image; each program answers --version; each `serve`
# becomes ready (/healthz 200) and answers a real request like the host's CLI does; HEALTHCHECK
# reports healthy; `podman stop` (SIGTERM) ends it with status 0 within the grace period. Measures
# the image size, each service's time to ready and its peak resident memory under a small bounded
# load, and writes them to FILE (default deploy/measured.json), which scripts/check-manifests.py
# compares with the Kubernetes manifests' probes and limits.
# Exit status: 0 all passed, 1 a check failed, 64 usage.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

bin=.build/release
measure=deploy/measured.json
load_seconds=20
while (($#)); do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --measure) measure=$2; shift 2 ;;
    --load-seconds) load_seconds=$2; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "container-test: unknown argument $1" >&2; exit 64 ;;
  esac
done
log() { echo "container-test: $*" >&2; }
fail() { echo "container-test: FAIL: $*" >&2; exit 1; }

for p in lepton-chat lepton-risk lepton-diagnose; do
  [ -x "$bin/$p" ] || { echo "container-test: $bin/$p is not built (swift build -c release first)" >&2; exit 64; }
done
for t in podman runc debootstrap curl python3; do
  command -v "$t" >/dev/null || { echo "container-test: $t is missing (scripts/bootstrap.sh installs it)" >&2; exit 64; }
done
models="${LEPTON_MODELS:-${LEPTON_CACHE:-$HOME/.cache/lepton}/models}"
[ -f "$models/whisper-tiny.en/.complete" ] && [ -f "$models/all-MiniLM-L6-v2/.complete" ] \
  || { echo "container-test: no weights in $models (run scripts/bootstrap.sh)" >&2; exit 64; }

work=$(mktemp -d /tmp/lepton-container.XXXXXX)
chmod 755 "$work"
P=(podman --root "$work/storage" --runroot "$work/run" --runtime runc --cgroup-manager cgroupfs --events-backend file)
# No systemd here to time the HEALTHCHECK: `podman healthcheck run` runs it on demand instead.
RUN_LIMITS=(--ulimit nofile=20000:20000 --ulimit nproc=32768:32768 --health-interval disable)
loaders=()
cleanup() {
  set +e   # clean up everything, whatever fails on the way
  local pid
  for pid in "${loaders[@]}"; do kill "$pid" 2>/dev/null || true; done
  "${P[@]}" rm -af -t 0 >/dev/null 2>&1 || true
  "${P[@]}" rmi -af >/dev/null 2>&1 || true
  "${P[@]}" system reset -f >/dev/null 2>&1 || true
  # Anything podman left mounted under the temporary storage, then the folder itself.
  grep -o " $work[^ ]*" /proc/mounts 2>/dev/null | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

# --- the base: debootstrap minbase bookworm with the runtime packages, cached per day ------------
packages=$(sed -n 's/^ARG RUNTIME_PACKAGES="\(.*\)"$/\1/p' deploy/container/Containerfile)
[ -n "$packages" ] || fail "no RUNTIME_PACKAGES line in deploy/container/Containerfile"
cache="${LEPTON_CACHE:-$HOME/.cache/lepton}/container"
mkdir -p "$cache"
key=$(echo "$packages" | sha256sum | cut -c1-12)
base_tar="$cache/bookworm-minbase-$(date -u +%Y%m%d)-$key.tar"
t0=$(date +%s)
if [ ! -f "$base_tar" ]; then
  mirror=${LEPTON_DEBIAN_MIRROR:-http://deb.debian.org/debian}
  log "debootstrap bookworm (minbase + $packages) from $mirror"
  timeout 600 debootstrap --variant=minbase --include="${packages// /,}" bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; fail "debootstrap failed"; }
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
  tar -C "$work/rootfs" -cf "$base_tar.tmp" . && mv "$base_tar.tmp" "$base_tar"
  rm -rf "$work/rootfs"
  find "$cache" -maxdepth 1 -name 'bookworm-minbase-*.tar' ! -path "$base_tar" -delete
fi
"${P[@]}" import -q "$base_tar" localhost/lepton-base:bookworm >/dev/null
log "base ready in $(( $(date +%s) - t0 )) s"

# --- the build context: opt/lepton/{bin,lib,openapi,samples} from the host's build ---------------
ctx="$work/context"
mkdir -p "$ctx/opt/lepton/bin" "$ctx/opt/lepton/lib" "$ctx/opt/lepton/samples/risk" "$ctx/opt/lepton/samples/diagnose"
for p in lepton-chat lepton-risk lepton-diagnose; do
  strip -o "$ctx/opt/lepton/bin/$p" "$bin/$p"
  # The Swift runtime (not a Debian package) comes along; the Debian libraries come from the base.
  ldd "$bin/$p" | awk '$3 ~ /^\// {print $3}' | while read -r lib; do
    dpkg -S "$lib" >/dev/null 2>&1 || dpkg -S "$(readlink -f "$lib")" >/dev/null 2>&1 || cp -n "$lib" "$ctx/opt/lepton/lib/"
  done
done
cp -r openapi "$ctx/opt/lepton/"
cp -r samples/bank "$ctx/opt/lepton/samples/"
cp -r samples/risk/model "$ctx/opt/lepton/samples/risk/"
cp -r samples/diagnose/model "$ctx/opt/lepton/samples/diagnose/"
log "context: $(du -sh "$ctx" | cut -f1) ($(ls "$ctx/opt/lepton/lib" | wc -l) Swift runtime libraries)"

t0=$(date +%s)
"${P[@]}" build -q --format docker --network none --pull=never --target runtime-host \
  --build-arg BASE=localhost/lepton-base:bookworm --build-arg SERVICE=chat \
  -f deploy/container/Containerfile -t localhost/lepton:test "$ctx" >/dev/null
image_bytes=$("${P[@]}" image inspect --format '{{.Size}}' localhost/lepton:test)
log "image built in $(( $(date +%s) - t0 )) s: $(( image_bytes / 1048576 )) MiB"

run_none() { "${P[@]}" run --rm --network none "${RUN_LIMITS[@]}" "$@"; }
missing=$(run_none --entrypoint /bin/sh localhost/lepton:test -c 'for b in /opt/lepton/bin/*; do ldd "$b"; done' | grep 'not found' || true)
[ -z "$missing" ] || fail "libraries missing in the image: $missing"
[ "$(run_none --entrypoint id localhost/lepton:test -u)" = 10001 ] || fail "the image does not run as user 10001"
for s in chat risk diagnose; do
  v=$(run_none -e LEPTON_SERVICE=$s localhost/lepton:test --version)
  [ "$v" = "$("$bin/lepton-$s" --version)" ] || fail "lepton-$s --version in the image printed '$v'"
done
log "libraries resolve, user 10001, --version of the three programs"

# --- each service: ready, a real request, healthy, peak memory under load, graceful stop ----------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/api-key"
chmod 644 "$work/api-key"
key_header="Authorization: Bearer $(cat "$work/api-key")"
declare -A ready_s rss_mib stop_s requests
results="$work/results"; mkdir -p "$results"

start_service() {   # NAME SERVICE [serve options...]
  local name=$1 service=$2; shift 2
  port=$(free_port)
  "${P[@]}" run -d --name "$name" --network host "${RUN_LIMITS[@]}" \
    --read-only --tmpfs /tmp:rw,size=256m,mode=1777 \
    -v "$models:/models:ro" -v "$work/api-key:/secrets/api-key:ro" \
    -e LEPTON_SERVICE="$service" -e LEPTON_HEALTH_PORT="$port" -e LEPTON_DIAGNOSE_SALT=container-test \
    localhost/lepton:test serve --host 127.0.0.1 --port "$port" --api-key-file /secrets/api-key "$@" >/dev/null
  url="http://127.0.0.1:$port"
  local t0 code deadline=$(( $(date +%s) + 180 ))
  t0=$(date +%s.%N)
  while :; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url/healthz" || true)
    [ "$code" = 200 ] && break
    [ "$("${P[@]}" inspect --format '{{.State.Running}}' "$name")" = true ] || { "${P[@]}" logs "$name" >&2; fail "$name exited before it was ready"; }
    [ "$(date +%s)" -lt "$deadline" ] || { "${P[@]}" logs "$name" >&2; fail "$name not ready within 180 s"; }
    sleep 0.2
  done
  ready_s[$service]=$(python3 -c "import time; print(round(time.time() - $t0, 1))")
  log "$name ready in ${ready_s[$service]} s on $url"
}

peak_rss_mib() {   # NAME: VmHWM of the container's main process (the service itself, PID 1 inside)
  local pid; pid=$("${P[@]}" inspect --format '{{.State.Pid}}' "$1")
  awk '/^VmHWM/ {printf "%d\n", ($2 + 1023) / 1024}' "/proc/$pid/status"
}

bounded_load() {   # SECONDS CLIENTS CURL-ARGS...: each client repeats the request until the deadline
  local seconds=$1 clients=$2; shift 2
  local c; loaders=()
  for ((c = 0; c < clients; c++)); do
    timeout "$seconds" bash -c 'while :; do curl -s -o /dev/null -w "%{http_code}\n" --max-time 30 "$@" || true; done' _ "$@" \
      >>"$results/load-$c" 2>/dev/null &
    loaders+=($!)
  done
  for c in "${loaders[@]}"; do wait "$c" || true; done
  loaders=()
  # Whole lines only: `timeout` can stop a client between curl's status and its newline (CI once
  # counted "1404 of 1403"), and that cut answer belongs to no one.
  local total ok
  read -r total ok < <(python3 -c '
import glob, sys
t = o = 0
for f in glob.glob(sys.argv[1] + "/load-*"):
    lines = open(f).read().split("\n")[:-1]
    t += len(lines); o += sum(l == "200" for l in lines)
print(t, o)' "$results")
  rm -f "$results"/load-*
  [ "$total" -gt 0 ] && [ "$ok" -eq "$total" ] || fail "load: $ok of $total answers were 200"
  echo "$total"
}

stop_service() {   # NAME SERVICE: SIGTERM (podman stop) must end it cleanly within the grace period
  local name=$1 service=$2 grace=30 t0 status
  "${P[@]}" healthcheck run "$name" >/dev/null || fail "$name: HEALTHCHECK not healthy"
  t0=$(date +%s.%N)
  "${P[@]}" stop -t "$grace" "$name" >/dev/null
  stop_s[$service]=$(python3 -c "import time; print(round(time.time() - $t0, 2))")
  status=$("${P[@]}" inspect --format '{{.State.ExitCode}}' "$name")
  "${P[@]}" logs "$name" >"$results/$name.log" 2>&1 || true
  [ "$status" = 0 ] || { tail -n 5 "$results/$name.log" >&2; fail "$name exited with $status after SIGTERM (137: killed after the grace period)"; }
  "${P[@]}" rm "$name" >/dev/null
  log "$name: healthy; stopped by SIGTERM in ${stop_s[$service]} s with status 0"
}

# lepton-chat: a typed turn, its intent as the host CLI finds it for the same text.
start_service lc chat --store /tmp/chat-sessions.sqlite
text="I lost my card"
got=$(curl -sf -H "$key_header" -H 'Content-Type: application/json' -d "{\"text\": \"$text\"}" "$url/v1/sessions/s1/turns") \
  || fail "chat turn failed"
want=$("$bin/lepton-chat" respond --json --session s1 --store "$work/cli.sqlite" --text "$text" 2>/dev/null)
python3 - "$got" "$want" <<'PY' || fail "chat turn differs from the CLI's"
import json, sys
got, want = json.loads(sys.argv[1]), json.loads(sys.argv[2].splitlines()[-1])
for k in ("intent", "reply"):
    g, w = got.get(k), want.get(k)
    g = g.get("name", g) if isinstance(g, dict) else g
    w = w.get("name", w) if isinstance(w, dict) else w
    assert g == w and g, f"{k}: service {g!r}, CLI {w!r}"
PY
[ "$(curl -s -o /dev/null -w '%{http_code}' -d '{"text": "hi"}' "$url/v1/sessions/s2/turns")" = 401 ] || fail "chat answered without the API key"
python3 scripts/serve_load.py --url "$url" --api-key-file "$work/api-key" --mode mixed --clients 4 \
  --seconds "$load_seconds" --request-timeout 30 >"$results/chat-load.json"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); bad={k: v for k, v in r['status'].items() if k != '200'}; \
sys.exit(1 if bad or not r['requests'] else 0)" "$results/chat-load.json" \
  || { cat "$results/chat-load.json" >&2; fail "chat load had failures"; }
requests[chat]=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['requests'])" "$results/chat-load.json")
rss_mib[chat]=$(peak_rss_mib lc)
stop_service lc chat

# lepton-risk: a score request, the same lines as the host CLI's `score --json`.
start_service lr risk --model samples/risk/model
curl -sf -H "$key_header" --data-binary @samples/risk/test.csv "$url/v1/score?top=5" >"$results/risk.ndjson" || fail "risk score failed"
"$bin/lepton-risk" score --model samples/risk/model --transactions samples/risk/test.csv --json --top 5 >"$results/risk-cli.ndjson"
diff <(tail -n 5 "$results/risk.ndjson") <(tail -n 5 "$results/risk-cli.ndjson") >&2 || fail "risk scores differ from the CLI's"
requests[risk]=$(bounded_load "$load_seconds" 4 -H "$key_header" --data-binary @samples/risk/test.csv "$url/v1/score?top=10")
rss_mib[risk]=$(peak_rss_mib lr)
stop_service lr risk

# lepton-diagnose: a scan with its report, the same findings as the host CLI's `analyze --json`.
start_service ld diagnose
export LEPTON_DIAGNOSE_SALT=container-test   # the container's salt: the same subject_id
curl -sf -H "$key_header" -F scan=@samples/diagnose/studies/case1.png -F report=@samples/diagnose/studies/case1.txt \
  "$url/v1/analyze" >"$results/dx.json" || fail "diagnose analyze failed"
"$bin/lepton-diagnose" analyze samples/diagnose/studies/case1.png --report samples/diagnose/studies/case1.txt --json >"$results/dx-cli.json"
python3 - "$results/dx.json" "$results/dx-cli.json" <<'PY' || fail "diagnose answer differs from the CLI's"
import json, sys
a, b = json.load(open(sys.argv[1])), json.loads(open(sys.argv[2]).read().splitlines()[-1])
# (subject_id hashes the study's name, which differs: an upload's file name, the CLI's path)
for k in ("image", "report", "suggestion", "model"):
    assert k in b and a.get(k) == b[k], f"{k}: service {a.get(k)!r}, CLI {b.get(k)!r}"
PY
requests[diagnose]=$(bounded_load "$load_seconds" 4 -H "$key_header" -F scan=@samples/diagnose/studies/case1.png \
  -F report=@samples/diagnose/studies/case1.txt "$url/v1/analyze")
rss_mib[diagnose]=$(peak_rss_mib ld)
stop_service ld diagnose

# --- the measurements, for the manifests ------------------------------------------------------------
mkdir -p "$(dirname "$measure")"
python3 - "$measure" "$image_bytes" "$load_seconds" \
  "${ready_s[chat]}" "${rss_mib[chat]}" "${stop_s[chat]}" "${requests[chat]}" \
  "${ready_s[risk]}" "${rss_mib[risk]}" "${stop_s[risk]}" "${requests[risk]}" \
  "${ready_s[diagnose]}" "${rss_mib[diagnose]}" "${stop_s[diagnose]}" "${requests[diagnose]}" <<'PY'
import datetime, json, os, sys
out, image, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
v = sys.argv[4:]
loads = {"chat": "serve_load.py --mode mixed --clients 4 (typed and spoken turns)",
         "risk": "4 clients repeating POST /v1/score?top=10 of samples/risk/test.csv",
         "diagnose": "4 clients repeating POST /v1/analyze of samples/diagnose/studies/case1.png + case1.txt"}
services = {}
for i, name in enumerate(["chat", "risk", "diagnose"]):
    ready, rss, stop, n = v[4 * i: 4 * i + 4]
    services[name] = {"ready_seconds": float(ready), "peak_rss_mib": int(rss), "stop_seconds": float(stop),
                      "load_requests": int(n), "load": loads[name]}
doc = {"command": "scripts/container-test.sh", "measured": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
       "image_mib": round(image / 1048576), "load_seconds": seconds, "services": services}
tmp = out + ".tmp"
with open(tmp, "w") as f:
    json.dump(doc, f, indent=2); f.write("\n")
os.replace(tmp, out)
PY
log "PASS: image $(( image_bytes / 1048576 )) MiB; peak RSS chat ${rss_mib[chat]} MiB, risk ${rss_mib[risk]} MiB, diagnose ${rss_mib[diagnose]} MiB; ready in ${ready_s[chat]}/${ready_s[risk]}/${ready_s[diagnose]} s (written to $measure)"
