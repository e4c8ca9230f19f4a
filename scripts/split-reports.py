#!/usr/bin/env python3
"""Seeded split of the IU X-ray dev reports for the Transformer report reader (issue 22).

Writes samples/diagnose/report-split.csv (file,split) with split in train / validation / test:

- train: the even-numbered reports. The rule reader's lexicon was tuned on exactly these
  (FindingLexicon), so they can teach the Transformer head but cannot judge either reader.
- validation / test: the odd-numbered reports (never used to tune the rules), shuffled with a
  fixed seed and cut in half. Every choice (features, regularisation, thresholds, whether and how
  to combine with the rules, the default reader) is made on validation; test is scored once at
  the end and nothing is chosen on it.

The IU reports are de-identified and carry no patient ID; each report is one study of one
patient, so the split is by report. ../shared/holdout is never read.

Usage: python3 scripts/split-reports.py [FINDINGS_CSV] [OUT_CSV]
"""
import csv
import os
import random
import sys

SEED = 2022  # fixed before any result was seen

def main() -> None:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "..", "shared", "data", "medical", "iu-xray", "findings.csv")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "samples", "diagnose", "report-split.csv")
    with open(src, newline="") as f:
        files = [row["file"] for row in csv.DictReader(f)]
    def number(name: str) -> int:
        return int("".join(c for c in os.path.basename(name) if c.isdigit()))
    odd = sorted(f for f in files if number(f) % 2 == 1)
    random.Random(SEED).shuffle(odd)
    half = len(odd) // 2
    split = {f: "train" for f in files if number(f) % 2 == 0}
    split.update({f: "validation" for f in odd[:half]})
    split.update({f: "test" for f in odd[half:]})
    tmp = out + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["file", "split"])
        for name in files:
            w.writerow([name, split[name]])
    os.replace(tmp, out)
    counts = {s: sum(1 for v in split.values() if v == s) for s in ("train", "validation", "test")}
    print(f"{out}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))

if __name__ == "__main__":
    main()
