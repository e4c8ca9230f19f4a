#!/usr/bin/env python3
"""Checks the Kubernetes manifests in deploy/kubernetes, offline, against the real programs.

  scripts/check-manifests.py [--dir DIR] [--bin DIR] [--kubernetes-version V] [--measured FILE]
  scripts/check-manifests.py --self-test

1. schema: every manifest passes `kubernetes-validate --strict` for Kubernetes V (default 1.30);
   every file is listed by a kustomization.yaml (and every listed file exists), except the merge
   Jobs (*-merge.yaml, applied once their Indexed Job completed) and secrets.example.yaml, which
   no kustomization may list.
2. options: every `lepton-* COMMAND --flag` a Deployment or Job runs names an option that
   `lepton-* COMMAND --help` lists (the built programs in --bin, default .build/release).
3. routes: each Deployment's probes use a named container port and a path of the service's
   OpenAPI document (openapi/PROGRAM.json); the service is started with the Deployment's own args
   (host, port, key file and store made local), becomes ready within its startup probe's budget,
   answers 200 on every probe path, and ends with status 0 on SIGTERM within the grace period.
4. resources and termination: each service's memory request and limit are at least its peak
   resident memory in FILE (default deploy/measured.json, written by scripts/container-test.sh,
   which measured it in the container under load), the limit with 25 % headroom; the startup
   budget is at least 3x the measured time to ready; terminationGracePeriodSeconds covers the
   preStop sleep + lepton-chat's stream drain + --timeout + the measured stop; non-root, read-only root, /tmp an emptyDir;
   every Secret used is one secrets.example.yaml describes.
5. batch: each Indexed Job runs, with SHARDS pods as completions says, on sample inputs: its exact
   shell script for every index, then its merge Job's script; the merged output must equal the
   script's command without --shard, byte for byte; each shard's peak memory must be under the
   Job's limit.
--self-test copies deploy/ to a temporary folder, breaks one thing at a time (a misspelled field, a
probe path, a Job option, a memory limit, the grace period, a Secret's name, SHARDS) and checks
that the check fails, naming it; the unbroken copy must pass.
Exit status: 0 passed, 1 a check failed, 64 usage.
"""
import argparse
import glob
import json
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAMS = ("lepton-chat", "lepton-risk", "lepton-diagnose")


class Failure(Exception):
    pass


def quantity_mib(q):
    """A Kubernetes memory quantity in MiB."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?", str(q))
    if not m:
        raise Failure(f"memory quantity {q!r} is not understood")
    v = float(m.group(1))
    unit = {None: 1 / 1048576, "Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1048576,
            "k": 1e3 / 1048576, "M": 1e6 / 1048576, "G": 1e9 / 1048576, "T": 1e12 / 1048576}[m.group(2)]
    return v * unit


class Manifests:
    """Every document of every YAML file under a folder."""

    def __init__(self, folder):
        self.folder = folder
        self.files = sorted(glob.glob(os.path.join(folder, "**", "*.yaml"), recursive=True))
        self.docs = []   # (file, document)
        for f in self.files:
            if os.path.basename(f) == "kustomization.yaml":
                continue
            with open(f) as fh:
                for d in yaml.safe_load_all(fh):
                    if d:
                        self.docs.append((f, d))

    def of_kind(self, kind, example=False):
        return [(f, d) for f, d in self.docs if d.get("kind") == kind and (example or not f.endswith("secrets.example.yaml"))]


# --- 1. schema and kustomizations -----------------------------------------------------------------
def check_schema(m, version):
    files = [f for f in m.files if os.path.basename(f) != "kustomization.yaml"]
    r = subprocess.run(["kubernetes-validate", "--strict", "--quiet", "-k", version] + files,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure("kubernetes-validate --strict -k %s: %s" % (version, (r.stdout + r.stderr).strip()))
    listed = set()
    for k in [f for f in m.files if os.path.basename(f) == "kustomization.yaml"]:
        with open(k) as fh:
            doc = yaml.safe_load(fh)
        for res in doc.get("resources", []):
            path = os.path.normpath(os.path.join(os.path.dirname(k), res))
            if not os.path.exists(path):
                raise Failure(f"{k} lists {res}, which does not exist")
            listed.add(path)
    for f in files:
        example = f.endswith("secrets.example.yaml")
        if example and f in listed:
            raise Failure(f"{f} is an example and must not be in a kustomization")
        # A merge Job is applied by hand once its Indexed Job completed (check 5 pairs them).
        if not example and f not in listed and not f.endswith("-merge.yaml"):
            raise Failure(f"{f} is in no kustomization.yaml")


# --- 2. options ---------------------------------------------------------------------------------
_help_cache = {}


def options_of(binary, command):
    key = (binary, command)
    if key not in _help_cache:
        r = subprocess.run([binary, command, "--help"], capture_output=True, text=True, cwd=ROOT,
                           env=dict(os.environ, COLUMNS="200"))
        if r.returncode != 0:
            raise Failure(f"{os.path.basename(binary)} {command} --help exited {r.returncode}: {r.stderr.strip()}")
        # Option lines only ("  -f, --format <format>  …", "  --beam-size <n>  …"), not words in descriptions.
        opts = set()
        for m in re.finditer(r"^  (?:(-[a-zA-Z]), )?(--[a-z0-9][a-z0-9-]*|-[a-zA-Z])\b", r.stdout, re.M):
            opts.update(o for o in m.groups() if o)
        _help_cache[key] = opts
    return _help_cache[key]


def invocations(container):
    """(program, command, [tokens]) for each Lepton program the container runs."""
    cmd = list(container.get("command", [])) + list(container.get("args", []))
    if cmd[:2] == ["sh", "-c"]:
        out = []
        for line in "\n".join(cmd[2:]).splitlines():
            try:
                tokens = shlex.split(line, comments=True)
            except ValueError:
                continue
            for i, t in enumerate(tokens):
                if t in PROGRAMS and i + 1 < len(tokens):
                    rest = []
                    for u in tokens[i + 2:]:
                        if u in (">", ">>", "|", "&&", "||", ";", "<"):
                            break
                        rest.append(u)
                    out.append((t, tokens[i + 1], rest))
        return out
    if cmd and cmd[0] in PROGRAMS:
        return [(cmd[0], cmd[1], cmd[2:])]
    return []


def workloads(m):
    """(file, name, pod spec) of every Deployment and Job."""
    out = []
    for kind in ("Deployment", "Job"):
        for f, d in m.of_kind(kind):
            out.append((f, d["metadata"]["name"], d["spec"]["template"]["spec"], d))
    return out


def check_options(m, bindir):
    seen = 0
    for f, name, pod, _ in workloads(m):
        for c in pod["containers"]:
            inv = invocations(c)
            if not inv:
                raise Failure(f"{name}: runs no Lepton program ({c.get('command')} {c.get('args')})")
            for program, command, tokens in inv:
                known = options_of(os.path.join(bindir, program), command)
                for t in tokens:
                    flag = t.split("=", 1)[0]
                    if re.fullmatch(r"--[a-z0-9][a-z0-9-]*|-[a-zA-Z]", flag) and flag not in known:
                        raise Failure(f"{name}: {program} {command} has no option {flag} (see {program} {command} --help)")
                seen += 1
    return seen


# --- 3. routes -----------------------------------------------------------------------------------
def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def get(url, timeout=3):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError):
        return None


def service_containers(m):
    for f, d in m.of_kind("Deployment"):
        pod = d["spec"]["template"]["spec"]
        yield d["metadata"]["name"], pod, pod["containers"][0]


def local_args(args, port, keyfile):
    """The Deployment's args with the address and key made local."""
    out, i = [], 0
    while i < len(args):
        a = args[i]
        if a in ("--host", "--port", "--api-key-file") and i + 1 < len(args):
            out += [a, {"--host": "127.0.0.1", "--port": str(port), "--api-key-file": keyfile}[a]]
            i += 2
            continue
        out.append(a)
        i += 1
    return out


def option_value(args, flag, default=None):
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return default


def check_routes(m, bindir, tmp):
    for name, pod, c in service_containers(m):
        program = c["command"][0]
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        with open(os.path.join(ROOT, "openapi", program + ".json")) as fh:
            routes = set(json.load(fh)["paths"])
        probes = {k: c[k] for k in ("startupProbe", "readinessProbe", "livenessProbe") if k in c}
        for k in ("readinessProbe", "livenessProbe", "startupProbe"):
            if k not in probes:
                raise Failure(f"{name}: no {k}")
        for k, p in probes.items():
            h = p.get("httpGet")
            if not h:
                raise Failure(f"{name}: {k} is not an HTTP probe")
            if h["port"] not in ports and h["port"] not in ports.values():
                raise Failure(f"{name}: {k} port {h['port']!r} is not a container port ({sorted(ports)})")
            if h["path"] not in routes:
                raise Failure(f"{name}: {k} path {h['path']} is not a route of openapi/{program}.json")
        # The real service, with the Deployment's own args.
        port = free_port()
        keyfile = os.path.join(tmp, "api-key")
        with open(keyfile, "w") as fh:
            fh.write("check-manifests-key\n")
        env = dict(os.environ, LEPTON_CHAT_STORE=os.path.join(tmp, f"{name}.sqlite"), LEPTON_DIAGNOSE_SALT="check-manifests")
        args = local_args(c.get("args", []), port, keyfile)
        log = open(os.path.join(tmp, f"{name}.log"), "w")
        proc = subprocess.Popen([os.path.join(bindir, program)] + args, cwd=ROOT, env=env, stdout=log, stderr=log)
        try:
            sp = probes["startupProbe"]
            budget = sp.get("initialDelaySeconds", 0) + sp.get("periodSeconds", 10) * sp.get("failureThreshold", 3)
            start = time.time()
            while get(f"http://127.0.0.1:{port}/healthz") != 200:
                if proc.poll() is not None:
                    raise Failure(f"{name}: `{program} {' '.join(args)}` exited {proc.returncode} (log {log.name})")
                if time.time() - start > budget:
                    raise Failure(f"{name}: not ready within the startup probe's {budget} s")
                time.sleep(0.2)
            for k, p in probes.items():
                status = get(f"http://127.0.0.1:{port}{p['httpGet']['path']}")
                if status != 200:
                    raise Failure(f"{name}: {k} {p['httpGet']['path']} answered {status}, not 200")
            grace = pod.get("terminationGracePeriodSeconds", 30)
            proc.send_signal(signal.SIGTERM)
            try:
                status = proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                raise Failure(f"{name}: still running {grace} s after SIGTERM")
            if status != 0:
                raise Failure(f"{name}: exited {status} on SIGTERM")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()


# --- 4. resources, termination, security, secrets ------------------------------------------------
def check_resources(m, measured_path):
    with open(measured_path) as fh:
        measured = json.load(fh)
    if "command" not in measured or "services" not in measured:
        raise Failure(f"{measured_path} names no command or no services")
    examples = {}
    for _, d in m.of_kind("Secret", example=True):
        examples[d["metadata"]["name"]] = set(d.get("stringData", {})) | set(d.get("data", {}))
    for name, pod, c in service_containers(m):
        service = name.replace("lepton-", "")
        if service not in measured["services"]:
            raise Failure(f"{name}: no measurement for {service} in {measured_path}")
        meas = measured["services"][service]
        res = c.get("resources", {})
        req, lim = res.get("requests", {}).get("memory"), res.get("limits", {}).get("memory")
        if not req or not lim:
            raise Failure(f"{name}: memory request and limit are required")
        peak = meas["peak_rss_mib"]
        if quantity_mib(req) < peak:
            raise Failure(f"{name}: memory request {req} is below the measured peak {peak} MiB ({measured['command']})")
        if quantity_mib(lim) < 1.25 * peak:
            raise Failure(f"{name}: memory limit {lim} leaves less than 25 % headroom over the measured peak {peak} MiB")
        sp = c["startupProbe"]
        budget = sp.get("initialDelaySeconds", 0) + sp.get("periodSeconds", 10) * sp.get("failureThreshold", 3)
        if budget < 3 * meas["ready_seconds"]:
            raise Failure(f"{name}: startup budget {budget} s is under 3x the measured {meas['ready_seconds']} s to ready")
        pre = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
        if pre[:1] != ["sleep"]:
            raise Failure(f"{name}: no preStop sleep (endpoints must drain before SIGTERM)")
        # lepton-chat first drains its open streams (--stream-drain-seconds, 10 by default), then
        # finishes the requests in flight.
        drain = float(option_value(c.get("args", []), "--stream-drain-seconds", 10)) if c.get("command") == ["lepton-chat"] else 0
        need = float(pre[1]) + drain + float(option_value(c.get("args", []), "--timeout", 60)) + meas["stop_seconds"]
        grace = pod.get("terminationGracePeriodSeconds", 30)
        if grace < need:
            raise Failure(f"{name}: terminationGracePeriodSeconds {grace} < preStop {pre[1]} s + stream drain {drain:.0f} s + --timeout + measured stop = {need:.0f} s")
    for f, name, pod, _ in workloads(m):
        sc = pod.get("securityContext", {})
        if not sc.get("runAsNonRoot") or not sc.get("runAsUser"):
            raise Failure(f"{name}: must run as a non-root user")
        for c in pod["containers"]:
            csc = c.get("securityContext", {})
            if not csc.get("readOnlyRootFilesystem") or csc.get("allowPrivilegeEscalation", True):
                raise Failure(f"{name}: needs readOnlyRootFilesystem and no privilege escalation")
            tmp_mounts = [v["name"] for v in c.get("volumeMounts", []) if v["mountPath"] == "/tmp"]
            if not any(v["name"] in tmp_mounts and "emptyDir" in v for v in pod.get("volumes", [])):
                raise Failure(f"{name}: /tmp must be an emptyDir (the root filesystem is read-only)")
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref and ref.get("key") not in examples.get(ref["name"], ()):
                    raise Failure(f"{name}: Secret {ref['name']} key {ref.get('key')} is not described in secrets.example.yaml")
        for v in pod.get("volumes", []):
            s = v.get("secret")
            if s:
                for it in s.get("items", []):
                    if it["key"] not in examples.get(s["secretName"], ()):
                        raise Failure(f"{name}: Secret {s['secretName']} key {it['key']} is not described in secrets.example.yaml")


# --- 5. batch Jobs on samples --------------------------------------------------------------------
def sample_inputs(tmp):
    """Sample stand-ins for the Jobs' /data inputs."""
    calls = os.path.join(tmp, "calls")
    os.makedirs(calls, exist_ok=True)
    dev = os.path.join(os.path.dirname(ROOT), "shared", "data", "speech", "dev")
    wavs = [os.path.join(ROOT, "samples/chat/jfk.wav"), os.path.join(ROOT, "samples/chat/jfk_tel8k.wav")]
    wavs += sorted(glob.glob(os.path.join(dev, "LJ*.wav")))[:3]
    for w in wavs:
        os.symlink(w, os.path.join(calls, os.path.basename(w)))
    return {"/data/calls": calls, "/data/studies": os.path.join(ROOT, "samples/diagnose/studies"),
            "/data/transactions.csv": os.path.join(ROOT, "samples/risk/test.csv"),
            "/opt/lepton/samples/risk/model": os.path.join(ROOT, "samples/risk/model")}


def job_env(container, samples, out_dir, bindir):
    env = dict(os.environ, PATH=os.path.abspath(bindir) + os.pathsep + os.environ["PATH"], LEPTON_DIAGNOSE_SALT="check-manifests")
    for e in container.get("env", []):
        if "value" in e:
            v = e["value"]
            env[e["name"]] = out_dir if e["name"] == "OUT_DIR" else samples.get(v, v)
    return env


def run_script(script, env, what):
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    r = subprocess.run(["sh", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise Failure(f"{what} exited {r.returncode}: {r.stderr.strip()[-400:]}")
    return max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024   # MiB (a bound: the largest child so far)


def check_batch(m, bindir, tmp):
    jobs = {d["metadata"]["name"]: (f, d) for f, d in m.of_kind("Job")}
    samples = sample_inputs(tmp)
    checked = []
    for name, (f, d) in sorted(jobs.items()):
        spec = d["spec"]
        if spec.get("completionMode") != "Indexed":
            continue
        merge = jobs.get(name + "-merge")
        if not merge:
            raise Failure(f"{name}: no merge Job {name}-merge")
        c = spec["template"]["spec"]["containers"][0]
        mc = merge[1]["spec"]["template"]["spec"]["containers"][0]
        env_of = lambda cont: {e["name"]: e.get("value") for e in cont.get("env", [])}
        n = int(env_of(c).get("SHARDS") or 0)
        if n != spec["completions"] or int(env_of(mc).get("SHARDS") or 0) != n:
            raise Failure(f"{name}: SHARDS ({env_of(c).get('SHARDS')}, merge {env_of(mc).get('SHARDS')}) must equal completions ({spec['completions']})")
        script = c["args"][0]
        if '--shard "$JOB_COMPLETION_INDEX/$SHARDS"' not in script:
            raise Failure(f'{name}: the script must pass --shard "$JOB_COMPLETION_INDEX/$SHARDS"')
        out = os.path.join(tmp, name)
        limit = quantity_mib(c["resources"]["limits"]["memory"])
        peak = 0
        for i in range(n):
            env = job_env(c, samples, out, bindir)
            env["JOB_COMPLETION_INDEX"] = str(i)
            peak = max(peak, run_script(script, env, f"{name} index {i}/{n}"))
        run_script(mc["args"][0], job_env(mc, samples, out, bindir), f"{name}-merge")
        merged = sorted(set(glob.glob(os.path.join(out, "*.jsonl"))) - set(glob.glob(os.path.join(out, "*-[0-9]*.jsonl"))))
        if len(merged) != 1:
            raise Failure(f"{name}-merge: expected one merged file in OUT_DIR, found {merged}")
        # The reference: the same script, its command without --shard.
        ref_out = os.path.join(tmp, name + "-single")
        env = job_env(c, samples, ref_out, bindir)
        env["JOB_COMPLETION_INDEX"] = "0"
        run_script(script.replace(' --shard "$JOB_COMPLETION_INDEX/$SHARDS"', ""), env, f"{name} without --shard")
        with open(merged[0], "rb") as a, open(glob.glob(os.path.join(ref_out, "*-0.jsonl"))[0], "rb") as b:
            got, want = a.read(), b.read()
        if got != want or not want:
            raise Failure(f"{name}: merged shards ({len(got)} bytes) differ from the single run ({len(want)} bytes)")
        if peak > limit:
            raise Failure(f"{name}: a shard peaked at {peak:.0f} MiB, above the limit {limit:.0f} MiB")
        lines = want.count(b"\n")
        checked.append(f"{name} N={n} ({lines} lines)")
    if not checked:
        raise Failure("no Indexed Job found")
    return checked


def run_checks(folder, bindir, version, measured, only=None):
    m = Manifests(folder)
    done = []
    with tempfile.TemporaryDirectory(prefix="lepton-manifests-") as tmp:
        def step(name, fn):
            if only is None or name in only:
                r = fn()
                done.append(name + (f": {r}" if r else ""))
        step("schema", lambda: check_schema(m, version))
        step("options", lambda: "%d invocations" % check_options(m, bindir))
        step("resources", lambda: check_resources(m, measured))
        step("routes", lambda: check_routes(m, bindir, tmp))
        step("batch", lambda: ", ".join(check_batch(m, bindir, tmp)))
    return done


# --- self-test ---------------------------------------------------------------------------------------
def mutate(path, old, new):
    with open(path) as fh:
        text = fh.read()
    if old not in text:
        raise SystemExit(f"self-test: {old!r} not in {path}")
    with open(path, "w") as fh:
        fh.write(text.replace(old, new, 1))


MUTATIONS = [
    # (what, file, old, new, check that must fail, words its message must contain)
    ("misspelled field", "chat.yaml", "readinessProbe:", "readynessProbe:", "schema", "kubernetes-validate"),
    ("probe path", "risk.yaml", "livenessProbe:\n            httpGet: {path: /healthz", "livenessProbe:\n            httpGet: {path: /health",
     "routes", "/health "),
    ("Job option", "batch/score.yaml", "--transactions", "--transaction-file", "options", "--transaction-file"),
    ("memory limit", "diagnose.yaml", "limits: {cpu: \"2\", memory:", "limits: {cpu: \"2\", memory: 32Mi, ephemeral-storage:", "resources", "memory"),
    ("grace period", "chat.yaml", "terminationGracePeriodSeconds:", "terminationGracePeriodSeconds: 5 #", "resources", "terminationGracePeriodSeconds"),
    ("Secret name", "chat.yaml", "name: lepton-postgres", "name: lepton-postgress", "resources", "lepton-postgress"),
    ("SHARDS", "batch/analyze.yaml", "{name: SHARDS, value: \"4\"}", "{name: SHARDS, value: \"3\"}", "batch", "SHARDS"),
    ("not in kustomization", "kustomization.yaml", "  - risk.yaml\n", "", "schema", "no kustomization"),
]


def self_test(args):
    src = os.path.join(ROOT, "deploy")
    failures = 0
    with tempfile.TemporaryDirectory(prefix="lepton-manifests-selftest-") as tmp:
        base = os.path.join(tmp, "clean")
        shutil.copytree(src, base)
        needed = sorted({mu[4] for mu in MUTATIONS})
        try:
            run_checks(os.path.join(base, "kubernetes"), args.bin, args.kubernetes_version, os.path.join(base, "measured.json"), only=needed)
            print("self-test: the unbroken copy passes", ", ".join(needed))
        except Failure as e:
            print(f"self-test: FAIL: the unbroken copy fails: {e}")
            return 1
        for what, rel, old, new, check, words in MUTATIONS:
            d = os.path.join(tmp, re.sub(r"\W+", "-", what))
            shutil.copytree(src, d)
            mutate(os.path.join(d, "kubernetes", rel), old, new)
            try:
                run_checks(os.path.join(d, "kubernetes"), args.bin, args.kubernetes_version, os.path.join(d, "measured.json"), only=[check])
                print(f"self-test: FAIL: a broken {what} ({rel}) passed the {check} check")
                failures += 1
            except Failure as e:
                if words not in str(e):
                    print(f"self-test: FAIL: a broken {what} failed for another reason: {e}")
                    failures += 1
                else:
                    print(f"self-test: ok: broken {what} -> {e}")
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", default=os.path.join(ROOT, "deploy", "kubernetes"))
    ap.add_argument("--bin", default=os.path.join(ROOT, ".build", "release"))
    ap.add_argument("--kubernetes-version", default="1.30")
    ap.add_argument("--measured", default=os.path.join(ROOT, "deploy", "measured.json"))
    ap.add_argument("--only", action="append", choices=["schema", "options", "resources", "routes", "batch"])
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)
    for p in PROGRAMS:
        if not os.access(os.path.join(args.bin, p), os.X_OK):
            print(f"check-manifests: {args.bin}/{p} is not built", file=sys.stderr)
            return 64
    if shutil.which("kubernetes-validate") is None:
        print("check-manifests: kubernetes-validate is missing (scripts/bootstrap.sh installs it)", file=sys.stderr)
        return 64
    if args.self_test:
        return self_test(args)
    try:
        for line in run_checks(args.dir, args.bin, args.kubernetes_version, args.measured, only=args.only):
            print("check-manifests: ok:", line)
    except Failure as e:
        print(f"check-manifests: FAIL: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
