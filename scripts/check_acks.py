#!/usr/bin/env python3
"""Checks that every turn a client saw acknowledged (HTTP 200) is in the chat session store.

  check_acks.py STORE ACKS [--url URL] [--api-key-file F] [--exact]

STORE: a SQLite path (or sqlite:PATH) read with Python's sqlite3, or a postgresql:// URL read
with psql: independent readers of what `lepton-chat serve` wrote. ACKS: lines
"session<TAB>n" from serve_load.py --acks (the n-th turn of that session was acknowledged).
A session passes when the store holds at least as many turns as its highest acknowledged n
(a turn committed but not acknowledged, e.g. killed before the answer, may be extra).
--exact (clients that retry every turn with its Idempotency-Key until it is acknowledged): the
store must hold exactly as many turns as acknowledged, no more (a turn applied twice) and no less.
With --url, up to 50 sessions also play one more typed turn each, which must succeed: no
session was left unreadable. Prints one line; exit 1 on any lost turn or failed session.
"""
import argparse, http.client, json, sqlite3, subprocess, sys, urllib.parse


def stored_counts(store):
    if store.startswith(("postgresql://", "postgres://")):
        out = subprocess.run(["psql", store, "-At", "-F", "\t", "-c",
                              "SELECT session, count(*) FROM lepton_chat_turns GROUP BY session"],
                             capture_output=True, text=True, timeout=60, check=True).stdout
        return {s: int(n) for s, n in (line.split("\t") for line in out.splitlines() if line)}
    path = store[len("sqlite:"):] if store.startswith("sqlite:") else store
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=30)
    return dict(db.execute("SELECT session, count(*) FROM turns GROUP BY session").fetchall())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("store")
    ap.add_argument("acks")
    ap.add_argument("--url")
    ap.add_argument("--api-key-file")
    ap.add_argument("--exact", action="store_true", help="stored turns must equal acknowledged turns (none extra)")
    args = ap.parse_args()
    acked = {}
    for line in open(args.acks):
        session, n = line.rstrip("\n").split("\t")
        acked[session] = max(acked.get(session, 0), int(n))
    counts = stored_counts(args.store)
    lost = {s: (n, counts.get(s, 0)) for s, n in acked.items() if counts.get(s, 0) < n}
    total = sum(acked.values())
    extra = {s: (n, counts.get(s, 0)) for s, n in acked.items() if counts.get(s, 0) > n} if args.exact else {}
    failed = []
    if args.url:
        u = urllib.parse.urlsplit(args.url)
        key = open(args.api_key_file).read().strip() if args.api_key_file else None
        for s in sorted(acked)[:50]:
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            headers = {"Content-Type": "application/json"}
            if key:
                headers["Authorization"] = "Bearer " + key
            conn.request("POST", "/v1/sessions/%s/turns" % urllib.parse.quote(s), json.dumps({"text": "hello"}), headers)
            r = conn.getresponse()
            body = r.read()
            if r.status != 200 or json.loads(body).get("session") != s:
                failed.append((s, r.status))
            conn.close()
    print("%d of %d acknowledged turns (%d sessions) in the store; lost: %d sessions%s%s%s" % (
        total - sum(n - c for n, c in lost.values()), total, len(acked), len(lost),
        "; applied more than once: %d sessions" % len(extra) if args.exact else "",
        "; %d sessions replayed, failed: %d" % (min(50, len(acked)), len(failed)) if args.url else "",
        (" " + json.dumps({"lost": dict(list(lost.items())[:5]), "extra": dict(list(extra.items())[:5]), "failed": failed[:5]}))
        if lost or failed or extra else ""))
    sys.exit(1 if lost or failed or extra else 0)


if __name__ == "__main__":
    main()
