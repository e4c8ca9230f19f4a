#!/usr/bin/env python3
"""Checks and report of scripts/scale-test.sh (the cross-host test). Standard library only.

  scale_check.py faults --record TURNS --states S --turns T --keys K --reference-url URL
                        --reference-store FILE --access-log LOG --killed ADDR --down T0 T1 --load JSON
  scale_check.py report --faults JSON --acks LINE --scan JSONL --cores N --mode M --json OUT

`faults` compares what the cluster stored (S, T, K: JSON read from PostgreSQL with psql by the
script) with a single-process run of the same turns: it replays every conversation of the load
record (serve_load.py --record), turn by turn and without keys, against a `lepton-chat serve` on a
fresh SQLite store (URL), reads that store with Python's sqlite3, and requires the same dialog
state per session and the same (turn, intent, reply) history. It also requires that every turn
was acknowledged, that each turn has exactly one stored key, that conversations were served by
several replicas, and that while the killed replica (ADDR) was down between T0 and T1 (epoch
seconds) turns were acknowledged and none was served by it (nginx routed around it). Prints one
JSON object; exit 1 when a check fails.

`report` puts the faults verdict and the 1/2/3-replica runs together, derives per-core figures and
a sizing for a contact centre of 1,000 concurrent calls, writes OUT and prints a summary.
"""
import argparse, concurrent.futures, http.client, json, math, sqlite3, sys, time, urllib.parse


def replay(url, conversations, deadline_s=600):
    """Plays each session's texts in order against the reference service (4 sessions at a time)."""
    u = urllib.parse.urlsplit(url)
    deadline = time.monotonic() + deadline_s
    failures = []

    def play(item):
        session, texts = item
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        try:
            for text in texts:
                if time.monotonic() > deadline:
                    return "%s: reference run out of time" % session
                conn.request("POST", "/v1/sessions/%s/turns" % urllib.parse.quote(session), json.dumps({"text": text}),
                             {"Content-Type": "application/json"})
                r = conn.getresponse()
                body = r.read()
                if r.status != 200:
                    return "%s: reference answered %d %s" % (session, r.status, body[:200])
        finally:
            conn.close()
        return None

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for f in pool.map(play, sorted(conversations.items())):
            if f:
                failures.append(f)
    return failures


def last_upstream(addr):
    """The replica that answered: the last of nginx's "a, b" list of tried upstreams."""
    return addr.split(",")[-1].strip() if addr else None


def faults(args):
    turns = [json.loads(line) for line in open(args.record)]
    by_session = {}
    for t in turns:
        by_session.setdefault(t["session"], []).append(t)
    failures = []
    gave_up = [t for t in turns if t["status"] != 200]
    if gave_up:
        failures.append("%d turns never acknowledged, e.g. %s" % (len(gave_up), gave_up[:3]))
    conversations = {}
    for s, ts in by_session.items():
        ts.sort(key=lambda t: t["n"])
        conversations[s] = [t["text"] for t in ts if t["status"] == 200]
    # Exactly once: one stored key per acknowledged turn (the turn counts are check_acks.py --exact's).
    keys = json.load(open(args.keys))
    wrong_keys = {s: (len(texts), keys.get(s, 0)) for s, texts in conversations.items() if keys.get(s, 0) != len(texts)}
    if wrong_keys:
        failures.append("stored keys differ from acknowledged turns: %s" % dict(list(wrong_keys.items())[:5]))

    # The single-process reference, on a fresh store.
    ref_fail = replay(args.reference_url, conversations)
    failures += ref_fail[:5]
    db = sqlite3.connect("file:%s?mode=ro" % args.reference_store, uri=True, timeout=30)
    ref_states = {s: json.loads(st) for s, st in db.execute("SELECT id, state FROM sessions")}
    ref_turns = {}
    for s, n, intent, reply in db.execute("SELECT session, turn, intent, reply FROM turns ORDER BY session, turn"):
        ref_turns.setdefault(s, []).append([n, intent, reply])
    states = json.load(open(args.states))
    cluster_turns = {}
    for s, n, intent, reply in json.load(open(args.turns)):
        cluster_turns.setdefault(s, []).append([n, intent, reply])
    state_diff = sorted(s for s in conversations if states.get(s) != ref_states.get(s))
    reply_diff = sorted(s for s in conversations if cluster_turns.get(s, []) != ref_turns.get(s, []))
    if state_diff:
        failures.append("dialog state differs from the single-process run in %d sessions, e.g. %s: cluster %s, reference %s" % (
            len(state_diff), state_diff[0], states.get(state_diff[0]), ref_states.get(state_diff[0])))
    if reply_diff:
        failures.append("history differs from the single-process run in %d sessions, e.g. %s" % (len(reply_diff), reply_diff[0]))

    # Conversations spread over replicas.
    multi = [s for s, ts in by_session.items() if len(ts) >= 2]
    spread = [s for s in multi if len({last_upstream(t["upstream"]) for t in by_session[s]}) >= 2]
    if multi and not spread:
        failures.append("no conversation had turns on two replicas")

    # Routing around the killed replica, from nginx's access log ($msec status "upstreams" ...).
    t0, t1 = args.down
    during = served_by_killed = rerouted = 0
    for line in open(args.access_log):
        parts = line.split('"')
        if len(parts) < 2:
            continue
        msec, status = parts[0].split()[:2]
        if not t0 + 1 <= float(msec) <= t1 or status != "200":
            continue
        during += 1
        served_by_killed += last_upstream(parts[1]) == args.killed
        rerouted += args.killed in parts[1] and last_upstream(parts[1]) != args.killed
    if during == 0:
        failures.append("no turn was acknowledged while the replica was down")
    if served_by_killed:
        failures.append("%d answers came from the killed replica while it was down" % served_by_killed)

    load = json.load(open(args.load))
    out = {
        "ok": not failures, "failures": failures,
        "sessions": len(conversations), "acknowledged_turns": sum(len(v) for v in conversations.values()),
        "turns_retried_by_client": load.get("retried_turns"), "answers_replayed": load.get("replayed"),
        "load": load,
        "states_equal_reference": len(conversations) - len(state_diff), "histories_equal_reference": len(conversations) - len(reply_diff),
        "multi_turn_sessions": len(multi), "multi_turn_sessions_on_two_or_more_replicas": len(spread),
        "slowest_turns": sorted(({k: t.get(k) for k in ("session", "n", "ms", "attempts", "upstream", "at")} for t in turns),
                                key=lambda t: -(t["ms"] or 0))[:3],
        "replica_down_s": round(t1 - t0, 1), "acknowledged_while_down": during,
        "retried_by_nginx_on_another_replica_while_down": rerouted, "served_by_killed_replica_while_down": served_by_killed,
    }
    print(json.dumps(out))
    return 0 if not failures else 1


# Sizing assumptions (stated in the report and the README).
CALLS = 1000
TURNS_PER_CALL_PER_MIN = 4      # a caller's turn every 15 s on average
PEAK_FACTOR = 1.5               # busiest minute over the average
TARGET_UTILISATION = 0.6        # cores kept 40 % free for bursts and a replica's loss
CORES_PER_REPLICA = 2


def report(args):
    fault = json.load(open(args.faults)) if args.faults else {"ok": False, "failures": ["no faults check"]}
    scan = [json.loads(line) for line in open(args.scan) if line.strip()]
    rows = []
    for r in scan:
        ok = r["ok"]
        rows.append({
            "replicas": r["replicas"], "turns_per_s": r["turns_per_s"], "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"],
            "turns": ok, "status": r["status"],
            "replica_cpu_ms_per_turn": round(1000 * r["replica_cpu_s"] / ok, 2) if ok else None,
            "postgres_cpu_ms_per_turn": round(1000 * r["postgres_cpu_s"] / ok, 2) if ok else None,
            "postgres_commits_per_turn": round(r["postgres_commits"] / ok, 2) if ok else None,
            "cores_busy": {"replicas": round(r["replica_cpu_s"] / r["seconds"], 2), "postgres": round(r["postgres_cpu_s"] / r["seconds"], 2),
                           "nginx": round(r["lb_cpu_s"] / r["seconds"], 2), "load_client": round(r.get("client_cpu_s", 0) / r["seconds"], 2), "whole_machine": round(r["machine_busy_s"] / r["seconds"], 2)},
        })
    best = max(rows, key=lambda x: x["turns_per_s"]) if rows else None
    sizing = None
    if best and best["replica_cpu_ms_per_turn"]:
        turns_avg = CALLS * TURNS_PER_CALL_PER_MIN / 60
        turns_peak = turns_avg * PEAK_FACTOR
        chat_cores = turns_peak * best["replica_cpu_ms_per_turn"] / 1000 / TARGET_UTILISATION
        pg_cores = turns_peak * best["postgres_cpu_ms_per_turn"] / 1000 / TARGET_UTILISATION
        replicas = math.ceil(chat_cores / CORES_PER_REPLICA) + 1
        sizing = {
            "assumptions": {
                "concurrent_calls": CALLS, "turns_per_call_per_minute": TURNS_PER_CALL_PER_MIN, "peak_factor": PEAK_FACTOR,
                "target_cpu_utilisation": TARGET_UTILISATION, "cores_per_replica": CORES_PER_REPLICA,
                "turn": "typed (text) turns as measured here; spoken turns add speech recognition (README: bench-serve spoken)",
                "per_turn_costs_from": "the %d-replica run (highest throughput)" % best["replicas"],
            },
            "turns_per_s_average": round(turns_avg, 1), "turns_per_s_peak": round(turns_peak, 1),
            "chat_cores": round(chat_cores, 1), "replicas": replicas,
            "postgres_cores": round(pg_cores, 2),
            "postgres_transactions_per_s_peak": round(turns_peak * best["postgres_commits_per_turn"], 1),
            "postgres_rows_written_per_s_peak": round(turns_peak * 4, 1),
        }
    out = {"mode": args.mode, "cores": args.cores, "faults": fault, "acknowledged_turns_check": args.acks, "cross_replica_replay": args.replay,
           "throughput": rows, "sizing": sizing}
    with open(args.json + ".tmp", "w") as f:
        json.dump(out, f, indent=2)
    import os
    os.replace(args.json + ".tmp", args.json)

    print("scale-test summary (%s, %d cores)" % (args.mode, args.cores))
    print("  faults: %s; %s" % ("passed" if fault.get("ok") else "FAILED: " + "; ".join(fault.get("failures", [])), args.acks))
    if args.replay:
        print("  retry on another replica: %s" % args.replay)
    if fault.get("sessions"):
        print("    %d conversations, %d turns acknowledged; %d of %d multi-turn conversations served by 2+ replicas;"
              " states equal to the single-process run: %d/%d; client retries %s, replayed answers %s;"
              " replica down %.1f s: %d turns acknowledged meanwhile, %d re-sent by nginx to another replica, 0 expected from it: %d"
              % (fault["sessions"], fault["acknowledged_turns"], fault["multi_turn_sessions_on_two_or_more_replicas"],
                 fault["multi_turn_sessions"], fault["states_equal_reference"], fault["sessions"], fault["turns_retried_by_client"],
                 fault["answers_replayed"], fault["replica_down_s"], fault["acknowledged_while_down"],
                 fault["retried_by_nginx_on_another_replica_while_down"], fault["served_by_killed_replica_while_down"]))
    for r in rows:
        b = r["cores_busy"]
        print("  %d replica(s): %.1f turns/s, p50 %s ms, p99 %s ms; per turn: replica CPU %s ms, PostgreSQL CPU %s ms, %s commits;"
              " cores busy: replicas %.2f, PostgreSQL %.2f, nginx %.2f, load client %.2f, whole machine (other users too) %.2f of %d"
              % (r["replicas"], r["turns_per_s"], r["p50_ms"], r["p99_ms"], r["replica_cpu_ms_per_turn"],
                 r["postgres_cpu_ms_per_turn"], r["postgres_commits_per_turn"], b["replicas"], b["postgres"],
                 b["nginx"], b["load_client"], b["whole_machine"], args.cores))
    if sizing:
        print("  sizing for %d concurrent calls (%d turns/call/min, peak x%.1f, %.0f%% CPU target): %.1f turns/s at peak ->"
              " %.1f chat cores = %d replicas of %d cores (N+1), PostgreSQL %.2f cores and %.1f transactions/s (%.1f rows written/s)"
              % (CALLS, TURNS_PER_CALL_PER_MIN, PEAK_FACTOR, 100 * TARGET_UTILISATION, sizing["turns_per_s_peak"],
                 sizing["chat_cores"], sizing["replicas"], CORES_PER_REPLICA, sizing["postgres_cores"],
                 sizing["postgres_transactions_per_s_peak"], sizing["postgres_rows_written_per_s_peak"]))
    return 0 if fault.get("ok") else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    f = sub.add_parser("faults")
    for name in ("record", "states", "turns", "keys", "reference-url", "reference-store", "access-log", "killed", "load"):
        f.add_argument("--" + name, required=True)
    f.add_argument("--down", nargs=2, type=float, required=True, metavar=("T0", "T1"))
    r = sub.add_parser("report")
    r.add_argument("--faults")
    r.add_argument("--acks", default="")
    r.add_argument("--replay", default="", help="the cross-replica replay probe's verdict line")
    r.add_argument("--scan", required=True)
    r.add_argument("--cores", type=int, required=True)
    r.add_argument("--mode", default="full")
    r.add_argument("--json", required=True)
    args = ap.parse_args()
    sys.exit(faults(args) if args.what == "faults" else report(args))


if __name__ == "__main__":
    main()
