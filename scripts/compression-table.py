#!/usr/bin/env python3
"""The scan classifier's compression table (issue 24): every variant's size, inference speed
against the float32 teacher and against PyTorch on the same architecture, and accuracy against
the teacher, with the command that made it.

Variants (all from samples/diagnose/model, the teacher: channels 16,32,64, float32, version 1.1):
  float16 / bfloat16   the teacher re-saved with --save-dtype (prune --sparsity 0 --epochs 0)
  distilled student    train --distil-from TEACHER (channels 8,16,32, T = 4, alpha = 0.9)
  plain student        train --channels 8,16,32 (the same recipe without the teacher)
                       (both: --epochs 20 --patience 20, the whole schedule, seed 1)
  pruned S%            prune --sparsity S --epochs E (channels removed by |gamma|, fine-tuned)
                       and the same without fine-tuning (--epochs 0), for the plot

Measured with the release build, 2 threads: accuracy, ROC-AUC on the PneumoniaMNIST validation
split (`lepton-diagnose evaluate --split val --tta 0 --json`; 524 scans; it also chose every
variant's early-stopping epoch and temperature, and half of it the teacher's, so the figures
compare variants, they are not a held-out estimate). Every variant is scored as one network pass
per image (--tta 0): the teacher ships with test-time augmentation (5 passes, "tta": 1), which
the students do not inherit, so scoring each with its own setting would mix the two effects.
Inference images/s (`lepton-bench cnn --model DIR --no-train`, the fastest
of 20 passes over the 524 scans, batch 64: the median swings several-fold on cores shared with
builds), and PyTorch's images/s on the same layer widths (its fastest pass too)
(../shared/bench/cnn_peer.py --no-train with a generated arch file; random weights, same
shapes) with the Python of scripts/ml-env.sh. Size: bytes of model.safetensors.

  python3 scripts/compression-table.py                     # trains what is missing (about 15 min on 2 busy cores)
  python3 scripts/compression-table.py --student-epochs 20 --prune-epochs 5 --work DIR   # the defaults
  python3 scripts/compression-table.py --table-only        # re-print from the saved JSON

Writes docs/compression/scan-compression.json (every figure and command) and
docs/compression/pruning.png (accuracy and AUC against channel sparsity, drawn with Pillow);
prints a Markdown table. Models go to --work (default ~/.cache/lepton/compression), reused when
present (delete the folder to retrain). Exit status 0, 1 when a command fails.
"""
import argparse, json, os, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
LABELS = os.path.join(SHARED, "data", "medical", "pneumoniamnist", "labels.csv")
TEACHER = os.path.join(ROOT, "samples", "diagnose", "model")
OUT_DIR = os.path.join(ROOT, "docs", "compression")
B = os.path.join(ROOT, ".build", "release")
SPARSITIES = [0.3, 0.5, 0.7, 0.9]


def run(cmd, timeout=7200):
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if r.returncode != 0:
        sys.exit(f"compression-table: {' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()[-600:]}")
    return r.stdout


def relative(path):
    return os.path.relpath(path, ROOT) if path.startswith(ROOT) else path.replace(os.path.expanduser("~"), "~")


def ml_python():
    return subprocess.run(["bash", os.path.join(ROOT, "scripts", "ml-env.sh")], capture_output=True, text=True,
                          check=True, timeout=1800).stdout.strip().splitlines()[-1]


def make(folder, cmd):
    """Runs `cmd` (which writes `folder`) unless the folder already holds a model."""
    if not os.path.exists(os.path.join(folder, "config.json")):
        t = time.time()
        run(cmd)
        print(f"  {relative(folder)}: {time.time() - t:.0f} s", file=sys.stderr, flush=True)
    return " ".join(relative(c) if c.startswith("/") else c for c in cmd)


def measure(folder, python, arch_dir):
    ev = json.loads(run([f"{B}/lepton-diagnose", "evaluate", "--labels", LABELS, "--split", "val", "--tta", "0", "--model", folder,
                         "--json"]))["image"]
    config = json.load(open(os.path.join(folder, "config.json")))
    bench = json.loads(run([f"{B}/lepton-bench", "cnn", "--model", folder, "--no-train", "--threads", "2", "--repeats", "20"]))
    widths = config["channels"]
    arch = os.path.join(arch_dir, "cnn-" + "-".join(map(str, widths)) + ".json")
    if not os.path.exists(arch):
        layers, cin = [], 1
        for i, (c, pool) in enumerate(zip(widths, config["pool"])):
            layers.append(f"c{i + 1}: Conv2d({cin},{c},k3,pad1) -> b{i + 1}: BatchNorm2d(eps=1e-5) -> ReLU" + (" -> MaxPool2d(2)" if pool else ""))
            cin = c
        layers.append(f"global average pool -> fc: Linear({cin},2) -> softmax")
        json.dump({"layers": layers}, open(arch, "w"))
    peer = json.loads(run([python, os.path.join(SHARED, "bench", "cnn_peer.py"), "--arch", arch, "--no-train", "--threads", "2", "--repeats", "20"]))
    weights = os.path.join(folder, "model.safetensors")
    return {"channels": widths, "bytes": os.path.getsize(weights), "dtype": sorted({t["dtype"] for t in read_header(weights).values()}),
            "accuracy": ev["accuracy"], "auc": ev["auc"], "images_per_s": bench["infer_images_per_s_best"],
            "peer_images_per_s": peer["infer"]["images_per_s_best"]}


def read_header(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        h = json.loads(f.read(n))
    h.pop("__metadata__", None)
    return h


def plot(rows, path):
    """Accuracy and AUC against channel sparsity, fine-tuned and not (Pillow; no matplotlib)."""
    from PIL import Image, ImageDraw
    W, H, L, R, T, Bm = 760, 460, 70, 200, 40, 60
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    lo = min(0.5, min(min(r["accuracy"], r["auc"]) for r in rows) - 0.02)
    x = lambda s: L + s * (W - L - R)
    y = lambda v: T + (1 - (v - lo) / (1 - lo)) * (H - T - Bm)
    d.rectangle([L, T, W - R, H - Bm], outline="black")
    for s in [0, 0.3, 0.5, 0.7, 0.9]:
        d.line([x(s), H - Bm, x(s), H - Bm + 5], fill="black"); d.text((x(s) - 10, H - Bm + 8), f"{int(s * 100)}%", fill="black")
    v = lo
    while v <= 1.0001:
        d.line([L - 5, y(v), L, y(v)], fill="black"); d.text((L - 45, y(v) - 6), f"{v:.2f}", fill="black")
        d.line([L, y(v), W - R, y(v)], fill=(230, 230, 230))
        v = round(v + 0.05, 4)
    d.text((L + 120, H - 25), "channels removed per conv block (sparsity)", fill="black")
    d.text((L, 12), "Scan CNN channel pruning: PneumoniaMNIST validation (524 scans)", fill="black")
    series = [("accuracy", True, (31, 119, 180)), ("auc", True, (214, 39, 40)), ("accuracy", False, (140, 180, 220)), ("auc", False, (240, 150, 150))]
    for k, (metric, tuned, colour) in enumerate(series):
        pts = [(x(r["sparsity"]), y(r[metric])) for r in rows if r["fine_tuned"] == tuned or r["sparsity"] == 0]
        pts.sort()
        d.line(pts, fill=colour, width=3 if tuned else 1)
        for px, py in pts: d.ellipse([px - 3, py - 3, px + 3, py + 3], fill=colour)
        ly = T + 10 + 20 * k
        d.line([W - R + 15, ly, W - R + 40, ly], fill=colour, width=3 if tuned else 1)
        d.text((W - R + 45, ly - 6), f"{'AUC' if metric == 'auc' else 'accuracy'}, {'fine-tuned' if tuned else 'not fine-tuned'}", fill="black")
    img.save(path)


def table(result):
    t = result["teacher"]
    lines = ["| variant | channels | weights | size (bytes) | images/s (× teacher) | PyTorch images/s, same widths | accuracy (Δ) | AUC (Δ) | command |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['variant']} | {','.join(map(str, r['channels']))} | {'/'.join(r['dtype'])} | {r['bytes']:,} | "
                     f"{r['images_per_s']:,.0f} ({r['images_per_s'] / t['images_per_s']:.2f}×) | {r['peer_images_per_s']:,.0f} | "
                     f"{r['accuracy']:.4f} ({r['accuracy'] - t['accuracy']:+.4f}) | {r['auc']:.4f} ({r['auc'] - t['auc']:+.4f}) | `{r['command']}` |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default=os.path.join(os.environ.get("LEPTON_CACHE", os.path.expanduser("~/.cache/lepton")), "compression"))
    ap.add_argument("--student-epochs", type=int, default=20)
    ap.add_argument("--prune-epochs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--table-only", action="store_true")
    a = ap.parse_args()
    json_path = os.path.join(OUT_DIR, "scan-compression.json")
    if a.table_only:
        print(table(json.load(open(json_path))))
        return
    for exe in ["lepton-diagnose", "lepton-bench"]:
        if not os.access(os.path.join(B, exe), os.X_OK):
            sys.exit(f"compression-table: {B}/{exe} is missing: run `swift build -c release` first")
    os.makedirs(a.work, exist_ok=True); os.makedirs(OUT_DIR, exist_ok=True)
    python = ml_python()
    D, W = f"{B}/lepton-diagnose", a.work
    common = ["--labels", LABELS, "--seed", str(a.seed), "--threads", "2"]
    variants = [("teacher (float32)", TEACHER, None, 0, True)]
    for dt in ["float16", "bfloat16"]:
        out = f"{W}/teacher-{dt}"
        variants.append((f"teacher, {dt} storage", out, [D, "prune", "--model", TEACHER, "--sparsity", "0", "--epochs", "0", "--save-dtype", dt, "--out", out], 0, True))
    out = f"{W}/student-distilled"
    # Both students run the whole cosine schedule (--patience = epochs: no early stop), so they
    # differ only in the teacher; the best validation epoch is still the one kept.
    students = ["--epochs", str(a.student_epochs), "--patience", str(a.student_epochs)]
    variants.append(("student, distilled (T=4, α=0.9)", out, [D, "train", "--distil-from", TEACHER] + students + ["--out", out] + common, None, True))
    out = f"{W}/student-plain"
    variants.append(("student, labels only", out, [D, "train", "--channels", "8,16,32"] + students + ["--out", out] + common, None, True))
    for s in SPARSITIES:
        for tuned in [True, False]:
            out = f"{W}/pruned-{int(s * 100)}" + ("" if tuned else "-raw")
            cmd = [D, "prune", "--model", TEACHER, "--sparsity", str(s), "--out", out, "--seed", str(a.seed), "--threads", "2"]
            cmd += ["--labels", LABELS, "--epochs", str(a.prune_epochs)] if tuned else ["--epochs", "0"]
            variants.append((f"pruned {int(s * 100)}%" + (f", fine-tuned {a.prune_epochs} epochs" if tuned else ", not fine-tuned"), out, cmd, s, tuned))
    rows = []
    with tempfile.TemporaryDirectory() as arch_dir:
        for name, folder, cmd, sparsity, tuned in variants:
            command = make(folder, cmd) if cmd else "samples/diagnose/model 1.1 (bash scripts/scan-selection.sh --only cnn; see its config.json)"
            r = measure(folder, python, arch_dir)
            r.update(variant=name, command=command, sparsity=sparsity, fine_tuned=tuned)
            print(f"  {name}: {r['bytes']} bytes, {r['images_per_s']:.0f} images/s (PyTorch {r['peer_images_per_s']:.0f}), "
                  f"accuracy {r['accuracy']:.4f}, AUC {r['auc']:.4f}", file=sys.stderr, flush=True)
            rows.append(r)
    result = {"teacher": rows[0], "rows": rows, "data": relative(LABELS) + " (val/ rows)", "threads": 2,
              "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load_average": os.getloadavg()}
    with open(json_path + ".tmp", "w") as f: json.dump(result, f, indent=1)
    os.replace(json_path + ".tmp", json_path)
    pruning = [r for r in rows if r["sparsity"] is not None and (r["sparsity"] > 0 or r["variant"].startswith("teacher (float32)"))]
    plot(pruning, os.path.join(OUT_DIR, "pruning.png"))
    print(table(result))


if __name__ == "__main__":
    main()
