#!/usr/bin/env python3
"""Runs every example the documentation shows, as written, and fails if one does not work.

Examples come from
  - README.md: lines of its ```sh blocks that run a built program (`$B/lepton-…`, with
    `B=.build/release` as the README sets it);
  - every `--help` of the three programs and of each of their commands: the indented lines
    under "Example:"/"Examples:" that start with the program's name (a trailing backslash
    continues a line, as in a shell).
Each runs with bash from the repository root, with .build/release first on PATH. An example
passes when it exits 0, or with the status its own comment declares (`# exit 3`). A help line
that ArgumentParser wrapped (so that it no longer runs as written) fails here too.

  scripts/check-examples.py [--bin DIR] [--only SUBSTRING] [--list] [--timeout S]
Exit status: 0 all passed, 1 some failed, 64 usage.
"""
import argparse
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAMS = ["lepton-chat", "lepton-risk", "lepton-diagnose"]


def join_continuations(lines):
    out, cur = [], ""
    for line in lines:
        if cur:
            cur += " " + line.strip()
        else:
            cur = line.strip()
        if cur.endswith("\\"):
            cur = cur[:-1].rstrip()
            continue
        out.append(cur)
        cur = ""
    if cur:
        out.append(cur)
    return out


def readme_examples():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    examples = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for cmd in join_continuations(block.splitlines()):
            m = re.match(r"^(\$B|\.build/release)/(lepton-(?:chat|risk|diagnose))\b", cmd)
            if m:
                examples.append(("README.md", "B=.build/release; " + cmd))
    return examples


def help_text(bin_dir, args):
    r = subprocess.run([os.path.join(bin_dir, args[0])] + args[1:] + ["--help"], cwd=ROOT,
                       capture_output=True, text=True, env=dict(os.environ, COLUMNS="80"))
    if r.returncode != 0:
        raise SystemExit(f"check-examples: {' '.join(args)} --help exited {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def subcommands(help_out):
    m = re.search(r"^SUBCOMMANDS:\n(.*?)(?:\n\n|\Z)", help_out, re.S | re.M)
    if not m:
        return []
    names = []
    for line in m.group(1).splitlines():
        w = line.split()
        if w and line.startswith("  ") and not line.startswith("    ") and w[0] != "help":
            names.append(w[0])
    return names


def help_examples(bin_dir):
    examples = []
    for program in PROGRAMS:
        commands = [[program]] + [[program, s] for s in subcommands(help_text(bin_dir, [program]))]
        for args in commands:
            out = help_text(bin_dir, args)
            m = re.search(r"^Examples?:\n(.*?)(?:\n\n|\nUSAGE:|\Z)", out, re.S | re.M)
            if not m:
                continue
            lines = m.group(1).splitlines()
            # A wrapped line (no indentation) is kept: it then runs as the broken command it is.
            for cmd in join_continuations(lines):
                if cmd.startswith(program):
                    examples.append((" ".join(args) + " --help", cmd))
    return examples


def expected_status(cmd):
    m = re.search(r"#.*\bexits? (\d+)\b", cmd)
    return int(m.group(1)) if m else 0


def main():
    ap = argparse.ArgumentParser(description="Run every documented example as written.")
    ap.add_argument("--bin", default=os.path.join(ROOT, ".build", "release"))
    ap.add_argument("--only", help="run only examples containing this text")
    ap.add_argument("--list", action="store_true", help="print the examples, run nothing")
    ap.add_argument("--timeout", type=float, default=900)
    a = ap.parse_args()
    for p in PROGRAMS:
        if not os.access(os.path.join(a.bin, p), os.X_OK):
            print(f"check-examples: {p} is not built in {a.bin} (run scripts/run-samples.sh)", file=sys.stderr)
            return 1
    examples = readme_examples() + help_examples(a.bin)
    if a.only:
        examples = [e for e in examples if a.only in e[1]]
    if a.list:
        for where, cmd in examples:
            print(f"{where}: {cmd}")
        return 0
    env = dict(os.environ, PATH=a.bin + os.pathsep + os.environ.get("PATH", ""))
    failed = []
    for i, (where, cmd) in enumerate(examples, 1):
        want = expected_status(cmd)
        t0 = time.time()
        try:
            r = subprocess.run(["bash", "-c", cmd], cwd=ROOT, env=env, capture_output=True, text=True, timeout=a.timeout)
            status, err = r.returncode, r.stderr
        except subprocess.TimeoutExpired:
            status, err = None, f"timed out after {a.timeout:.0f} s"
        dt = time.time() - t0
        ok = status == want
        print(f"[{i}/{len(examples)}] {'ok  ' if ok else 'FAIL'} {dt:6.1f} s  {where}: {cmd}", file=sys.stderr, flush=True)
        if not ok:
            tail = "\n".join(err.strip().splitlines()[-4:])
            print(f"      exit {status}, expected {want}; stderr:\n      " + tail.replace("\n", "\n      "), file=sys.stderr)
            failed.append((where, cmd))
    print(f"check-examples: {len(examples) - len(failed)} of {len(examples)} examples ran as written", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
