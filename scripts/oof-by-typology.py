#!/usr/bin/env python3
"""Recall within an alert budget, per laundering typology, from a file of scores.

  scripts/oof-by-typology.py SCORES.csv PATTERNS.csv [--budget 0.005] [--missed] [--json]

SCORES.csv is `row,label,score` (what `lepton-risk train --out-of-fold` writes; row = 0-based
data row of the transactions file); PATTERNS.csv is `row_index,pattern_id,typology` (what
`simulate --patterns` and `split --patterns` write, and aml-sample's patterns file).

The budget is the top `round(budget × rows)` scores of the file (at least one), as
`lepton-risk`'s recall at a budget counts it: ties in score keep the file's row order (a stable
sort), and a warning on stderr says when a tie straddles the cut. Also prints the average
precision (PR-AUC, scikit-learn's definition: tied scores form one step) and, with --missed,
the positive rows outside the budget with their rank. A positive row without a typology counts
under `(none)`.
Exit status: 0 done, 1 bad input, 64 usage.
"""
import argparse
import csv
import json
import math
import sys


def fail(message):
    print(f"oof-by-typology: error: {message}", file=sys.stderr)
    sys.exit(1)


def read_scores(path):
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or not {"row", "label", "score"} <= set(reader.fieldnames):
                fail(f"{path}: expected the header row,label,score")
            rows = []
            for n, r in enumerate(reader, start=2):
                try:
                    rows.append((int(r["row"]), int(float(r["label"])), float(r["score"])))
                except (TypeError, ValueError):
                    fail(f"{path}:{n}: not a row,label,score line")
                if not math.isfinite(rows[-1][2]) or rows[-1][1] not in (0, 1):
                    fail(f"{path}:{n}: label must be 0 or 1 and the score finite")
            return rows
    except OSError as e:
        fail(f"{path}: {e.strerror}")


def read_patterns(path):
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or not {"row_index", "typology"} <= set(reader.fieldnames):
                fail(f"{path}: expected the header row_index,pattern_id,typology")
            typology = {}
            for n, r in enumerate(reader, start=2):
                try:
                    typology[int(r["row_index"])] = r["typology"]
                except (TypeError, ValueError):
                    fail(f"{path}:{n}: row_index is not a number")
            return typology
    except OSError as e:
        fail(f"{path}: {e.strerror}")


class Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors exit 64, as the programs' do
        self.print_usage(sys.stderr)
        print(f"oof-by-typology: error: {message}", file=sys.stderr)
        sys.exit(64)


def main():
    p = Parser(description="Recall within an alert budget per typology.")
    p.add_argument("scores")
    p.add_argument("patterns")
    p.add_argument("--budget", type=float, default=0.005, help="share of rows alerted (default 0.005)")
    p.add_argument("--missed", action="store_true", help="list the positive rows outside the budget")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    a = p.parse_args()
    if not 0 < a.budget <= 1:
        p.error("--budget must be in (0, 1]")
    rows = read_scores(a.scores)
    typology = read_patterns(a.patterns)
    if not rows:
        fail(f"{a.scores}: no rows")
    positives = sum(label for _, label, _ in rows)
    if positives == 0:
        fail(f"{a.scores}: no positive row")
    k = max(1, math.floor(len(rows) * a.budget + 0.5))
    order = sorted(range(len(rows)), key=lambda q: -rows[q][2])  # stable: ties keep file order
    if k < len(order) and rows[order[k - 1]][2] == rows[order[k]][2]:
        print(f"oof-by-typology: warning: rows tied at score {rows[order[k]][2]} straddle the budget", file=sys.stderr)
    rank = {order[q]: q for q in range(len(order))}
    # Average precision with tied scores as one step (scikit-learn's definition).
    ap, tp, start = 0.0, 0, 0
    while start < len(order):
        end, gained = start, 0
        while end < len(order) and rows[order[end]][2] == rows[order[start]][2]:
            gained += rows[order[end]][1]
            end += 1
        tp += gained
        ap += gained / positives * tp / end
        start = end
    table = {}
    missed = []
    for q, (row, label, _) in enumerate(rows):
        if label != 1:
            continue
        name = typology.get(row, "(none)")
        caught, total = table.get(name, (0, 0))
        inside = rank[q] < k
        table[name] = (caught + inside, total + 1)
        if not inside:
            missed.append({"row": row, "typology": name, "rank": rank[q] + 1, "score": rows[q][2]})
    caught = sum(c for c, _ in table.values())
    result = {
        "rows": len(rows), "positives": positives, "budget_rows": k,
        "pr_auc": round(ap, 4), "recall": round(caught / positives, 4), "caught": caught,
        "typologies": {name: {"caught": c, "positives": n} for name, (c, n) in sorted(table.items())},
    }
    if a.missed:
        result["missed"] = sorted(missed, key=lambda m: m["rank"])
    if a.json:
        print(json.dumps(result))
        return
    print(f"{len(rows)} rows, {positives} positive; budget {k} rows; PR-AUC {result['pr_auc']:.3f}; "
          f"recall {caught}/{positives} = {result['recall']:.3f}")
    for name, (c, n) in sorted(table.items()):
        print(f"  {name:<16} {c}/{n}")
    for m in result.get("missed", []):
        print(f"  missed row {m['row']} ({m['typology']}): rank {m['rank']}, score {m['score']:.4g}")


if __name__ == "__main__":
    main()
