#!/usr/bin/env python3
"""Reference for LBFGSTests: scikit-learn's multinomial LogisticRegression (lbfgs, L2, C = 2)
fitted to a small random problem (60 points, 5 features, 3 classes).

sklearn minimises 0.5·‖W‖² + C·Σᵢ CE(xᵢ) (bias not penalised); divided by C·n that is the
mean cross-entropy + ‖W‖² / (2·C·n), the objective the test gives LBFGS.

Run: python3 Tests/EngineTests/Fixtures/make_logreg_fixture.py  (numpy, scikit-learn)
Writes logreg_sklearn.json beside this script.
"""
import json, os
import numpy as np
from sklearn.linear_model import LogisticRegression

rng = np.random.default_rng(7)
n, f, c, C = 60, 5, 3, 2.0
centers = rng.normal(0, 1.5, size=(c, f))
y = np.arange(n) % c
X = (centers[y] + rng.normal(0, 1.0, size=(n, f))).round(6)
lr = LogisticRegression(C=C, tol=1e-10, max_iter=10000).fit(X, y)
out = {
    "C": C, "x": X.tolist(), "y": y.tolist(),
    "coef": lr.coef_.tolist(), "intercept": lr.intercept_.tolist(),
    "probabilities": lr.predict_proba(X).tolist(),
}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "logreg_sklearn.json"), "w") as fh:
    json.dump(out, fh)
