#!/usr/bin/env python3
"""The bank agent's intent figures on a split (issue 21), computed here with NumPy from
`lepton-chat classify --json` (every label's probability), independently of the Swift code:

- topic accuracy (the model's fine label) on BANKING77 rows; handler accuracy (the domain's
  `topics` map summed, as the agent does) on BANKING77 rows and on our own typed calls;
- out-of-scope requests caught (top handler `nlu_fallback` or below `fallback_threshold`);
- right / clarifying question / wrong / fallback with the domain's `clarify_margin`;
- ECE (10 equal-width bins) of the topic probabilities at temperature 1 and at the model's
  temperature, and of the handler probabilities.

  python3 scripts/eval-agent-intents.py --split validation [--sweep]   # choices are made here
  python3 scripts/eval-agent-intents.py --split test                   # reported, never chosen on
  python3 scripts/eval-agent-intents.py --split validation --check-swift   # Swift's ECE/T against NumPy

--check-swift runs `lepton-chat test --json` and `lepton-chat calibrate --no-write --json` on the same
rows and fails unless their ECE and NLL equal this script's (1e-4), and fits the temperature by a
fine grid here and fails unless `calibrate` (golden-section search) finds the same within 1%.
Exit status: 0 ok, 1 failure.
"""
import argparse, csv, json, os, re, subprocess, sys, tempfile
import numpy as np
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BANK = os.path.join(ROOT, "samples", "bank")
SPLITS = {
    "validation": {"banking77": "splits/banking77-validation.csv", "oos": "splits/oos-validation.csv",
                   "own": ["validation-calls.yml", "validation-calls-2.yml"]},
    "test": {"banking77": "splits/banking77-test.csv", "oos": "splits/oos-test.csv", "own": ["validation-calls-3.yml", "validation-calls-4.yml"]},
}


def read_csv(path):
    with open(path, encoding="utf-8", newline="") as f:
        return [(r["text"], r["category"]) for r in csv.DictReader(f)]


def read_nlu(path):
    out = []
    for item in yaml.safe_load(open(path, encoding="utf-8"))["nlu"]:
        for line in item.get("examples", "").splitlines():
            line = line.strip()
            if line.startswith("- "):
                text = re.sub(r"\[([^\]]*)\][({][^)}]*[)}]", r"\1", line[2:]).strip()
                out.append((text, item["intent"]))
    return out


def classify(binary, model, texts):
    """Probability matrix [len(texts), labels] and the label order, from classify --json."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write("\n".join(t.replace("\n", " ") for t in texts) + "\n")
        name = f.name
    try:
        labels = json.load(open(os.path.join(model, "intent-model.json")))["labels"]
        out = subprocess.run([binary, "classify", "--model", model, "--json", "--top-k", str(len(labels)), "--input", name],
                             check=True, capture_output=True, text=True, timeout=1800).stdout
    finally:
        os.unlink(name)
    index = {l: i for i, l in enumerate(labels)}
    rows = [json.loads(l) for l in out.splitlines() if l.strip()]
    assert len(rows) == len(texts), (len(rows), len(texts))
    p = np.zeros((len(rows), len(labels)))
    for i, r in enumerate(rows):
        for e in r["top_k"]:
            p[i, index[e["intent"]]] = e["probability"]
    return p, labels


def rescale(p, t):
    """softmax(log p / t) per row (zeros stay zero)."""
    with np.errstate(divide="ignore"):
        z = np.where(p > 0, np.log(np.maximum(p, 1e-300)) / t, -np.inf)
    z -= z.max(axis=1, keepdims=True)
    e = np.where(p > 0, np.exp(z), 0.0)
    return e / e.sum(axis=1, keepdims=True)


def ece(p, y, bins=10):
    conf, pred = p.max(axis=1), p.argmax(axis=1)
    b = np.minimum((conf * bins).astype(int), bins - 1)
    total, table = 0.0, []
    for k in range(bins):
        m = b == k
        if m.any():
            acc, c = (pred[m] == y[m]).mean(), conf[m].mean()
            total += m.mean() * abs(acc - c)
            table.append((k / bins, (k + 1) / bins, int(m.sum()), float(c), float(acc)))
        else:
            table.append((k / bins, (k + 1) / bins, 0, 0.0, 0.0))
    return total, table


def nll(p, y):
    return float(-np.log(np.maximum(p[np.arange(len(y)), y], 1e-300)).mean())


def handler_matrix(p, labels, handler_of):
    handlers = sorted({handler_of(l) for l in labels})
    h = np.zeros((p.shape[0], len(handlers)))
    hi = {n: i for i, n in enumerate(handlers)}
    for j, l in enumerate(labels):
        h[:, hi[handler_of(l)]] += p[:, j]
    return h, handlers


def route(h, handlers, domain, threshold, margin):
    """Per row: ('right'|'clarify'|'wrong'|'fallback', chosen handler or pair)."""
    order = np.argsort(-h, axis=1, kind="stable")
    out = []
    for i in range(h.shape[0]):
        a, b = order[i, 0], order[i, 1]
        top = handlers[a]
        # As DialogEngine: two close labelled handlers that together reach the threshold → ask.
        if margin > 0 and h[i, a] - h[i, b] < margin and h[i, a] + h[i, b] >= threshold and top in domain["intents"] \
                and domain["intents"][top].get("label") and handlers[b] in domain["intents"] \
                and domain["intents"][handlers[b]].get("label"):
            out.append(("clarify", (top, handlers[b])))
        elif top not in domain["intents"] or h[i, a] < threshold:
            out.append(("fallback", None))
        else:
            out.append(("route", top))
    return out


def score(routes, truth):
    """Counts of right / clarify-with-the-right-choice / clarify-without / wrong / fallback."""
    c = dict(right=0, clarify_right=0, clarify_wrong=0, wrong=0, fallback=0)
    for (kind, x), t in zip(routes, truth):
        if kind == "fallback":
            c["fallback" if t != "nlu_fallback" else "right"] += 1
        elif t == "nlu_fallback":
            c["wrong"] += 1
        elif kind == "clarify":
            c["clarify_right" if t in x else "clarify_wrong"] += 1
        else:
            c["right" if x == t else "wrong"] += 1
    return c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", choices=SPLITS, required=True)
    ap.add_argument("--model", default=os.path.join(BANK, "model"))
    ap.add_argument("--domain", default=os.path.join(BANK, "domain.yml"))
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "lepton-chat"))
    ap.add_argument("--sweep", action="store_true", help="print the choice table (threshold x clarify margin)")
    ap.add_argument("--check-swift", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    sp = SPLITS[a.split]
    domain = yaml.safe_load(open(a.domain, encoding="utf-8"))
    topics = domain.get("topics") or {}
    handler_of = lambda l: (topics.get(l) or {}).get("intent", l)
    settings = domain.get("settings") or {}
    b77 = read_csv(os.path.join(BANK, sp["banking77"]))
    oos = read_csv(os.path.join(BANK, sp["oos"]))
    own = [r for f in sp["own"] for r in read_nlu(os.path.join(BANK, f))]
    rows = b77 + oos + own
    p, labels = classify(a.binary, a.model, [t for t, _ in rows])
    index = {l: i for i, l in enumerate(labels)}
    temperature = json.load(open(os.path.join(a.model, "intent-model.json"))).get("temperature") or 1.0
    raw = rescale(p, 1 / temperature)  # classify gives softmax(log p / T): p ∝ q^T undoes it
    nb, no = len(b77), len(oos)
    y_topic = np.array([index[l] for _, l in b77 + oos])
    topic_acc = float((p[:nb].argmax(1) == y_topic[:nb]).mean())
    h, handlers = handler_matrix(p, labels, handler_of)
    truth = [handler_of(l) for _, l in rows]
    hy = np.array([handlers.index(t) for t in truth])
    e_raw, bins_raw = ece(raw[:nb + no], y_topic)
    e_cal, bins_cal = ece(p[:nb + no], y_topic)
    h_raw, _ = handler_matrix(raw, labels, handler_of)
    he_raw, _ = ece(h_raw, hy)
    he_cal, _ = ece(h, hy)
    threshold, margin = settings.get("fallback_threshold", 0.45), settings.get("clarify_margin", 0)
    result = dict(split=a.split, banking77_rows=nb, oos_rows=no, own_rows=len(own), temperature=temperature,
                  topic_accuracy=topic_acc,
                  handler_accuracy_top1=float((h[:nb].argmax(1) == hy[:nb]).mean()),
                  own_handler_accuracy_top1=float((h[nb + no:].argmax(1) == hy[nb + no:]).mean()) if own else None,
                  ece_topic_uncalibrated=e_raw, ece_topic_calibrated=e_cal, nll_topic_uncalibrated=nll(raw[:nb + no], y_topic),
                  nll_topic_calibrated=nll(p[:nb + no], y_topic), ece_handler_uncalibrated=he_raw, ece_handler_calibrated=he_cal,
                  reliability_uncalibrated=bins_raw, reliability_calibrated=bins_cal)
    routes = route(h, handlers, domain, threshold, margin)
    result["routing"] = dict(threshold=threshold, clarify_margin=margin,
                             banking77=score(routes[:nb], truth[:nb]), oos=score(routes[nb:nb + no], truth[nb:nb + no]),
                             own=score(routes[nb + no:], truth[nb + no:]))
    if a.sweep:
        result["sweep"] = []
        for t in (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8):
            for m in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5):
                r = route(h, handlers, domain, t, m)
                s_in = score(r[:nb] + r[nb + no:], truth[:nb] + truth[nb + no:])
                s_oos = score(r[nb:nb + no], truth[nb:nb + no])
                n_in = nb + len(own)
                # The cost chosen on: a wrong route or a missed out-of-scope request 1, a fallback on an
                # in-scope request 1, a clarifying question 0.3 (1 when neither choice is right);
                # in-scope and out-of-scope rows weigh the same in total.
                cost = (s_in["wrong"] + s_in["fallback"] + 0.3 * s_in["clarify_right"] + s_in["clarify_wrong"]) / n_in \
                    + s_oos["wrong"] / no
                result["sweep"].append(dict(threshold=t, clarify_margin=m, cost=round(cost, 4), in_scope=s_in, oos=s_oos))
    if a.check_swift:
        check_swift(a, rows[:nb + no], raw[:nb + no], y_topic, labels, temperature)
    if a.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            if k == "sweep":
                print("threshold\tmargin\tcost\tin-scope right/clarify(right)/clarify(wrong)/wrong/fallback\toos caught/missed")
                for s in v:
                    i, o = s["in_scope"], s["oos"]
                    print(f"{s['threshold']}\t{s['clarify_margin']}\t{s['cost']}\t{i['right']}/{i['clarify_right']}/{i['clarify_wrong']}/"
                          f"{i['wrong']}/{i['fallback']}\t{o['right']}/{o['wrong']}")
            elif not k.startswith("reliability"):
                print(f"{k}: {v}")


def check_swift(a, rows, raw, y, labels, temperature):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "rows.csv")
        with open(path, "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(["text", "category"])
            w.writerows(rows)
        test = json.loads(subprocess.run([a.binary, "test", "--model", a.model, "--data", path, "--json"], check=True,
                                         capture_output=True, text=True, timeout=1800).stdout)
        cal = test["calibration"]
        mine_raw, mine_cal = ece(raw, y)[0], ece(rescale(raw, temperature), y)[0]
        problems = []
        for name, swift, numpy_value in [("ECE at T=1", cal["uncalibrated"]["ece"], mine_raw),
                                         ("ECE at the model's T", cal["calibrated"]["ece"], mine_cal),
                                         ("NLL at T=1", cal["uncalibrated"]["nll"], nll(raw, y))]:
            print(f"{name}: Swift {swift:.6f}, NumPy {numpy_value:.6f}")
            if abs(swift - numpy_value) > 1e-4:
                problems.append(name)
        grid = np.exp(np.linspace(np.log(0.05), np.log(20), 4001))
        best = grid[int(np.argmin([nll(rescale(raw, t), y) for t in grid]))]
        fit = json.loads(subprocess.run([a.binary, "calibrate", "--model", a.model, "--data", path, "--no-write", "--json",
                                         "--temperature", "1"], check=True, capture_output=True, text=True, timeout=1800).stdout)
        print(f"calibrate --no-write at T=1: ECE {fit['calibrated']['ece']:.6f} (NumPy {mine_raw:.6f}); NumPy's NLL-optimal T {best:.4f}, "
              f"the model's T {temperature:.4f}")
        if abs(fit["calibrated"]["ece"] - mine_raw) > 1e-4:
            problems.append("calibrate's ECE at T=1")
        if abs(best - temperature) / best > 0.01:
            problems.append(f"temperature: NumPy {best:.4f}, model {temperature:.4f} (only equal on the rows the model was calibrated on)")
        if problems:
            sys.exit("mismatch: " + "; ".join(problems))


if __name__ == "__main__":
    main()
