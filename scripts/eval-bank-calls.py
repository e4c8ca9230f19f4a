#!/usr/bin/env python3
"""Intent accuracy of a bank agent on spoken calls, at 16 kHz and on their 8 kHz phone copies.

A calls folder holds `labels.tsv` (file TAB intent TAB text, as ../shared/data/speech/bank-dev
has) and, for each FILE.wav listed, its phone copy FILE_tel8k.wav. All calls go through one
`lepton-chat shell --json` process (each call a new session), so Whisper and the sentence
encoder load once. `scripts/make-asr-augmentation.py --keep-audio DIR` makes such a folder from
any nlu.yml (e.g. samples/bank/validation-calls.yml).

Usage (from the repository root, after a release build):
  python3 scripts/eval-bank-calls.py ../shared/data/speech/bank-dev
  python3 scripts/eval-bank-calls.py /tmp/val-calls --domain my-domain.yml -v
Prints one JSON summary line on stdout; -v lists every call on stderr.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("calls", help="folder with labels.tsv, FILE.wav and FILE_tel8k.wav")
    ap.add_argument("--lepton-chat", default=os.path.join(root, ".build/release/lepton-chat"))
    ap.add_argument("--model", help="intent model folder (default: the shipped agent's)")
    ap.add_argument("--domain", help="domain.yml (default: the shipped agent's)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    try:
        with open(os.path.join(a.calls, "labels.tsv"), encoding="utf-8") as f:
            rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    except OSError as e:
        sys.exit(f"eval-bank-calls: {e}")
    calls = []  # (path, intent, channel)
    for row in rows:
        if len(row) < 2:
            sys.exit(f"eval-bank-calls: labels.tsv: expected file TAB intent, got {row!r}")
        stem = os.path.splitext(row[0])[0]
        calls += [(os.path.join(a.calls, stem + ".wav"), row[1], "16k"),
                  (os.path.join(a.calls, stem + "_tel8k.wav"), row[1], "8k")]
    for path, _, _ in calls:
        if not os.path.exists(path):
            sys.exit(f"eval-bank-calls: missing {path}")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [a.lepton_chat, "shell", "--json", "-q", "--threads", str(a.threads),
               "--store", os.path.join(tmp, "sessions.sqlite")]
        if a.model:
            cmd += ["--model", a.model]
        if a.domain:
            cmd += ["--domain", a.domain]
        stdin = "".join(f"{path}\n/new\n" for path, _, _ in calls)
        done = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"eval-bank-calls: lepton-chat shell failed ({done.returncode}): {done.stderr.strip()[-300:]}")
    replies = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if len(replies) != len(calls):
        sys.exit(f"eval-bank-calls: {len(replies)} replies for {len(calls)} calls")
    right = {"16k": 0, "8k": 0}
    fallback = {"16k": 0, "8k": 0}
    total = {"16k": 0, "8k": 0}
    for (path, intent, channel), reply in zip(calls, replies):
        total[channel] += 1
        ok = reply["intent"] == intent
        right[channel] += ok
        fallback[channel] += (not ok) and reply["intent"] == "nlu_fallback"
        if a.verbose:
            print(f"{'+' if ok else ' '} {channel:3} {intent} -> {reply['intent']} {reply['confidence']:.2f} | "
                  f"{reply['transcript']}", file=sys.stderr)
    n = total["16k"] + total["8k"]
    print(json.dumps({"calls": n, "right_16k": right["16k"], "right_8k": right["8k"],
                      "fallback_16k": fallback["16k"], "fallback_8k": fallback["8k"],
                      "accuracy": round((right["16k"] + right["8k"]) / n, 4) if n else None}))


if __name__ == "__main__":
    main()
