#!/usr/bin/env python3
"""Reference matrix square roots and Fréchet distances from SciPy (scipy.linalg.sqrtm, float64):
a symmetric positive definite matrix, a singular positive semi-definite one and their square
roots; two sets of feature rows and the Fréchet distance between them by the formula of
pytorch-fid (|mu1 - mu2|^2 + tr(S1 + S2 - 2 sqrtm(S1 S2)), numpy.cov with rowvar=False).
Writes frechet_scipy.json, used by Tests/EngineTests/FrechetDistanceTests.swift.
Run: python3 Tests/EngineTests/Fixtures/make_frechet_fixture.py  (needs numpy and scipy)
"""
import json, os
import numpy as np
from scipy import linalg

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(21)
a = rng.standard_normal((6, 6)); spd = a @ a.T + 0.1 * np.eye(6)
b = rng.standard_normal((5, 3)); psd = b @ b.T  # rank 3
feat1 = rng.standard_normal((80, 5)) * [1, 2, 0.5, 1, 3] + [0.2, 0, 1, -1, 0]
feat2 = rng.standard_normal((60, 5)) @ rng.standard_normal((5, 5)) * 0.7 + 0.3
mu1, mu2 = feat1.mean(0), feat2.mean(0)
s1, s2 = np.cov(feat1, rowvar=False), np.cov(feat2, rowvar=False)
covmean = linalg.sqrtm(s1 @ s2)
if np.iscomplexobj(covmean):
    covmean = covmean.real
fd = float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))
f = lambda m: [float(v) for v in np.asarray(m).ravel()]
with open(os.path.join(here, "frechet_scipy.json"), "w") as fh:
    json.dump({"spd": f(spd), "spd_sqrt": f(linalg.sqrtm(spd).real), "psd": f(psd), "psd_sqrt": f(linalg.sqrtm(psd).real),
               "features1": f(feat1), "features2": f(feat2), "dimension": 5, "frechet": fd,
               "mean1": f(mu1), "cov1": f(s1)}, fh)
