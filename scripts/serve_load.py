#!/usr/bin/env python3
"""A small, bounded load client for `lepton-chat serve` (and its CLI baseline).

Each of --clients workers plays scripted bank conversations, one turn after another, for
--seconds (never longer: the loop stops at the deadline and every request has a timeout).
A worker's conversation is its own session, so many sessions run at once and each session's
turns are sequential, as a caller's are.

  serve_load.py --url http://127.0.0.1:8080 --mode text --clients 8 --seconds 30
  serve_load.py --url http://127.0.0.1:8080 --mode audio --audio-dir ../shared/data/speech/bank-dev
  serve_load.py --cli .build/release/lepton-chat --store /tmp/s.sqlite --mode text --clients 8 --seconds 30

--idempotency sends each turn with an `Idempotency-Key` header (session/n) and retries a turn
that got no answer or 502/503/504 with the same key (after 0.2 s, until the deadline plus
--settle seconds), instead of giving the conversation up: what a client behind a load balancer
does. --record FILE then writes one JSON line per turn (session, n, text, status, attempts,
replayed, upstream: the X-Upstream header a proxy may add).

--mode mixed alternates typed and spoken turns. The CLI transport runs one
`lepton-chat respond` process per turn (what a client did before `serve`). Prints one JSON line:
requests, status counts, turns per second, latency percentiles (ms). --acks FILE appends one
line per acknowledged turn (HTTP 200): "session<TAB>turn-number-in-session"; a later check
compares them with the store. Standard library only.
"""
import argparse, glob, http.client, json, os, random, subprocess, sys, threading, time, urllib.parse

# Typed conversations: greetings, a transfer form filled over three turns, one-shot requests.
CONVERSATIONS = [
    ["hello", "I'd like to send 250 dollars", "to my landlord", "yes"],
    ["what's my balance"],
    ["I lost my card", "thanks, bye"],
    ["how do I change my PIN"],
    ["I want to dispute a charge of 40 dollars", "yes"],
    ["can I speak to a real person"],
]


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list (ms)."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return round(sorted_values[k], 2)


class Worker(threading.Thread):
    def __init__(self, index, args, deadline, audio, key, results, lock, acks):
        super().__init__(daemon=True)
        self.index, self.args, self.deadline, self.audio, self.key = index, args, deadline, audio, key
        self.results, self.lock, self.acks = results, lock, acks
        self.infos = []
        self.rng = random.Random(args.seed * 1000 + index)
        self.conn = None
        self.last_headers = {}

    def http(self, method, path, body, content_type, extra_headers=None):
        u = urllib.parse.urlsplit(self.args.url)
        for attempt in (0, 1):  # one reconnect: the server may close an idle keep-alive connection
            if self.conn is None:
                self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=self.args.request_timeout)
            headers = {"Content-Type": content_type}
            headers.update(extra_headers or {})
            if self.key:
                headers["Authorization"] = "Bearer " + self.key
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read()
                self.last_headers = {k.lower(): v for k, v in resp.getheaders()}
                return resp.status, data
            except (ConnectionError, http.client.HTTPException, OSError) as e:
                self.conn.close()
                self.conn = None
                if attempt == 1 or isinstance(e, TimeoutError):
                    return 0, ("%s: %s" % (type(e).__name__, e)).encode()
        return 0, b""

    def turn_http(self, session, text, audio_file, key=None):
        path = "/v1/sessions/%s/turns" % urllib.parse.quote(session)
        extra = {"Idempotency-Key": key} if key else None
        if audio_file:
            with open(audio_file, "rb") as f:
                return self.http("POST", path, f.read(), "audio/wav", extra)
        return self.http("POST", path, json.dumps({"text": text}).encode(), "application/json", extra)

    RETRYABLE = (0, 502, 503, 504)

    def keyed_turn(self, session, n, text, audio_file):
        """One turn with its Idempotency-Key, retried with the same key while the answer says
        "try again" (none, 502, 503, 504), until the deadline plus --settle seconds."""
        key = "%s/%d" % (session, n)
        give_up = self.deadline + self.args.settle
        attempts = 0
        while True:
            attempts += 1
            self.last_headers = {}
            status, body = self.turn_http(session, text, audio_file, key)
            if status not in self.RETRYABLE or time.monotonic() + 0.2 >= give_up:
                break
            time.sleep(0.2)
        info = {"session": session, "n": n, "text": text, "status": status, "attempts": attempts, "at": time.time(),
                "replayed": self.last_headers.get("idempotent-replayed") == "true",
                "upstream": self.last_headers.get("x-upstream")}
        return status, body, info

    def turn_cli(self, session, text, audio_file):
        cmd = [self.args.cli, "respond", "--json", "-q", "--session", session, "--store", self.args.store]
        cmd += [audio_file] if audio_file else ["--text", text]
        p = subprocess.run(cmd, capture_output=True, timeout=self.args.request_timeout)
        return (200 if p.returncode == 0 else 500 + p.returncode), p.stdout

    def run(self):
        k = 0
        while time.monotonic() < self.deadline:
            session = "%s-%d-%d" % (self.args.session_prefix, self.index, k)
            k += 1
            spoken = self.args.mode == "audio" or (self.args.mode == "mixed" and k % 2 == 0)
            turns = [None] if spoken else self.rng.choice(CONVERSATIONS)
            for n, text in enumerate(turns, 1):
                if time.monotonic() >= self.deadline:
                    break
                audio_file = self.rng.choice(self.audio) if spoken else None
                t0 = time.monotonic()
                info = None
                try:
                    if self.args.idempotency:
                        status, body, info = self.keyed_turn(session, n, text, audio_file)
                    else:
                        status, body = (self.turn_cli if self.args.cli else self.turn_http)(session, text, audio_file)
                except subprocess.TimeoutExpired:
                    status, body = 0, b"timeout"
                ms = (time.monotonic() - t0) * 1000
                with self.lock:
                    self.results.append((status, ms, "audio" if spoken else "text"))
                    if info is not None:
                        info["ms"] = round(ms, 1)
                        self.infos.append(info)
                    if status == 200 and self.acks is not None:
                        self.acks.write("%s\t%d\n" % (session, n))
                if status == 0:  # no HTTP answer at all: say why (on stderr) for the record
                    print("serve_load: %s turn %d: no answer: %s" % (session, n, body.decode(errors="replace")[:200]), file=sys.stderr)
                if status != 200:
                    if status == 503:  # the service asked us to come back later: honour it briefly
                        time.sleep(0.05)
                    break  # a failed turn ends this conversation; the next one starts fresh


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="base URL of `lepton-chat serve`")
    ap.add_argument("--cli", help="lepton-chat executable: one `respond` process per turn instead of HTTP")
    ap.add_argument("--store", help="session store for --cli")
    ap.add_argument("--mode", choices=["text", "audio", "mixed"], default="text")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--audio-dir", default=os.path.join(os.path.dirname(__file__), "../../shared/data/speech/bank-dev"))
    ap.add_argument("--api-key-file")
    ap.add_argument("--acks", help="append acknowledged turns (session TAB n) to this file")
    ap.add_argument("--session-prefix", default="load-%d" % os.getpid())
    ap.add_argument("--request-timeout", type=float, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--idempotency", action="store_true", help="Idempotency-Key on every turn; retry a failed turn with it")
    ap.add_argument("--settle", type=float, default=30, help="with --idempotency: seconds past the deadline a started turn may retry")
    ap.add_argument("--record", help="with --idempotency: one JSON line per turn to this file")
    args = ap.parse_args()
    if bool(args.url) == bool(args.cli):
        ap.error("give either --url or --cli")
    if args.cli and not args.store:
        ap.error("--cli needs --store")
    if not 1 <= args.clients <= 256 or not 0 < args.seconds <= 3600:
        ap.error("--clients must be 1..256 and --seconds 0..3600")
    audio = sorted(glob.glob(os.path.join(args.audio_dir, "*.wav")))
    if args.idempotency and args.cli:
        ap.error("--idempotency needs --url")
    if not 0 <= args.settle <= 600:
        ap.error("--settle must be 0..600")
    if args.mode != "text" and not audio:
        ap.error("no .wav files in %s" % args.audio_dir)
    key = open(args.api_key_file).read().strip() if args.api_key_file else None
    results, lock = [], threading.Lock()
    acks = open(args.acks, "a") if args.acks else None
    start = time.monotonic()
    deadline = start + args.seconds
    workers = [Worker(i, args, deadline, audio, key, results, lock, acks) for i in range(args.clients)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(args.seconds + args.request_timeout + (args.settle if args.idempotency else 0) + 5)
    elapsed = time.monotonic() - start
    if acks:
        acks.close()
    ok = sorted(ms for status, ms, _ in results if status == 200)
    statuses = {}
    for status, _, _ in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    out = {
        "transport": "cli" if args.cli else "http", "mode": args.mode, "clients": args.clients,
        "seconds": round(elapsed, 2), "requests": len(results), "ok": len(ok), "status": statuses,
        "turns_per_s": round(len(ok) / elapsed, 2),
        "p50_ms": percentile(ok, 50), "p95_ms": percentile(ok, 95), "p99_ms": percentile(ok, 99),
        "max_ms": round(ok[-1], 2) if ok else None,
        "client_cpu_s": round(sum(os.times()[:2]), 2),
    }
    if args.idempotency:
        infos = [i for w in workers for i in w.infos]
        out["retried_turns"] = sum(1 for i in infos if i["attempts"] > 1)
        out["replayed"] = sum(1 for i in infos if i["replayed"])
        upstreams = {}
        for i in infos:
            if i["status"] == 200 and i["upstream"]:
                upstreams[i["upstream"]] = upstreams.get(i["upstream"], 0) + 1
        out["by_upstream"] = upstreams
        if args.record:
            with open(args.record, "w") as f:
                for i in infos:
                    f.write(json.dumps(i) + "\n")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
