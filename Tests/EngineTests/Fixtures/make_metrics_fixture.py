#!/usr/bin/env python3
"""Computes classification, ranking and calibration metrics with scikit-learn on fixed arrays and
writes metrics_sklearn.json. Independent reference for Sources/LeptonEngine/Metrics.

Scores are float32 values (rounded to 2 decimals on purpose, so many ties occur) and are stored as
their exact float32 values, so Swift sees the same numbers. ECE uses sklearn.calibration.
calibration_curve(strategy="uniform") for the per-bin mean label and mean probability (bins
right-closed: [0, 1/M], (1/M, 2/M], ...), weighted by the bin counts.
Run: python3 make_metrics_fixture.py  (needs numpy and scikit-learn)
"""
import json, os
import numpy as np
import sklearn
from sklearn import metrics
from sklearn.calibration import calibration_curve

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20261129)
out = {"sklearn_version": sklearn.__version__, "cases": []}

def ece(y, p, m):
    prob_true, prob_pred = calibration_curve(y, p, n_bins=m, strategy="uniform")
    bins = np.linspace(0.0, 1.0, m + 1)
    ids = np.searchsorted(bins[1:-1], p)
    counts = np.bincount(ids, minlength=m)
    counts = counts[counts > 0]
    return float(np.sum(counts / len(p) * np.abs(prob_true - prob_pred)))

def curves(y, s):
    fpr, tpr, thr = metrics.roc_curve(y, s)
    fpr_all, tpr_all, thr_all = metrics.roc_curve(y, s, drop_intermediate=False)
    prec, rec, pthr = metrics.precision_recall_curve(y, s)
    def fin(a):  # JSON has no inf: the first ROC threshold is +inf
        return [None if not np.isfinite(v) else float(v) for v in a]
    return {
        "roc_fpr": fpr.tolist(), "roc_tpr": tpr.tolist(), "roc_thresholds": fin(thr),
        "roc_all_fpr": fpr_all.tolist(), "roc_all_tpr": tpr_all.tolist(), "roc_all_thresholds": fin(thr_all),
        "auc": float(metrics.roc_auc_score(y, s)),
        "pr_precision": prec.tolist(), "pr_recall": rec.tolist(), "pr_thresholds": pthr.tolist(),
        "average_precision": float(metrics.average_precision_score(y, s)),
    }

# Binary cases: random scores with ties, a perfectly separated case, an all-tied case.
for name, n, noise in [("binary_ties", 200, 0.35), ("binary_small", 12, 0.5)]:
    y = rng.integers(0, 2, n)
    s = np.clip(y * 0.3 + rng.normal(0.35, noise, n), 0, 1)
    s = np.round(s, 2).astype(np.float32)
    case = {"name": name, "labels": y.tolist(), "scores": [float(v) for v in s]}
    case.update(curves(y, s.astype(np.float64)))
    case["ece10"] = ece(y, s.astype(np.float64), 10)
    case["ece15"] = ece(y, s.astype(np.float64), 15)
    out["cases"].append(case)

y = np.array([0, 0, 1, 1, 0, 1]); s = np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.5], dtype=np.float32)
case = {"name": "all_tied", "labels": y.tolist(), "scores": s.astype(float).tolist()}
case.update(curves(y, s.astype(np.float64)))
out["cases"].append(case)

# Multiclass: per-class precision/recall/F1, macro averages, confusion matrix, accuracy,
# top-label ECE from softmax-like probabilities.
k, n = 4, 150
y = rng.integers(0, k, n)
logits = rng.normal(0, 1, (n, k)) + 1.5 * np.eye(k)[y]
probs = (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype(np.float32)
pred = probs.argmax(1)
pred[pred == 3] = np.where(rng.random((pred == 3).sum()) < 0.5, 3, 2)  # class 3 rarely predicted
conf = probs.max(1).astype(np.float64)
correct = (probs.argmax(1) == y).astype(int)
p, r, f, sup = metrics.precision_recall_fscore_support(y, pred, labels=list(range(k)), zero_division=0)
mp, mr, mf, _ = metrics.precision_recall_fscore_support(y, pred, labels=list(range(k)), average="macro", zero_division=0)
out["multiclass"] = {
    "classes": k, "labels": y.tolist(), "predicted": pred.tolist(),
    "probabilities": [[float(v) for v in row] for row in probs],
    "accuracy": float(metrics.accuracy_score(y, pred)),
    "confusion": metrics.confusion_matrix(y, pred, labels=list(range(k))).tolist(),
    "precision": p.tolist(), "recall": r.tolist(), "f1": f.tolist(), "support": sup.tolist(),
    "macro_precision": float(mp), "macro_recall": float(mr), "macro_f1": float(mf),
    "top_label_ece10": ece(correct, conf, 10),
}
# A class never predicted and never present (zero_division=0 gives 0 for it).
y2 = [0, 1, 1, 0, 1]; p2 = [0, 1, 0, 0, 1]
a, b, c, d = metrics.precision_recall_fscore_support(y2, p2, labels=[0, 1, 2], zero_division=0)
out["absent_class"] = {"labels": y2, "predicted": p2, "classes": 3, "precision": a.tolist(), "recall": b.tolist(),
                       "f1": c.tolist(), "support": d.tolist(),
                       "macro_f1": float(metrics.f1_score(y2, p2, labels=[0, 1, 2], average="macro", zero_division=0))}
with open(os.path.join(here, "metrics_sklearn.json"), "w") as fh:
    json.dump(out, fh)
print("sklearn", sklearn.__version__, "cases", len(out["cases"]))
