#!/usr/bin/env python3
"""Reference transposed convolutions from PyTorch (torch.nn.functional.conv_transpose2d, float64):
outputs and the gradients of sum(output * R) for a fixed random R with respect to input, weight
and bias. Writes conv_transpose_torch.json, used by Tests/EngineTests/ConvTransposeTests.swift.
Run: $(bash scripts/ml-env.sh | tail -n1) Tests/EngineTests/Fixtures/make_conv_transpose_fixture.py
"""
import json, os
import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(11)
# (batch, in, out, H, W, kernel, stride, padding, output_padding, dilation): DCGAN's upsampling
# (4, 2, 1), a stride-1 case, an odd output padding, a dilated kernel, a non-square input.
CASES = [(2, 3, 4, 5, 5, 4, 2, 1, 0, 1), (1, 2, 3, 4, 4, 3, 1, 0, 0, 1), (2, 2, 2, 3, 4, 3, 2, 1, 1, 1),
         (1, 3, 2, 4, 3, 3, 2, 2, 0, 2)]
out = []
for n, cin, cout, h, w, k, s, p, op, d in CASES:
    x = torch.tensor(rng.standard_normal((n, cin, h, w)), requires_grad=True)
    wt = torch.tensor(rng.standard_normal((cin, cout, k, k)) * 0.3, requires_grad=True)
    b = torch.tensor(rng.standard_normal(cout), requires_grad=True)
    y = torch.nn.functional.conv_transpose2d(x, wt, b, stride=s, padding=p, output_padding=op, dilation=d)
    r = torch.tensor(rng.standard_normal(tuple(y.shape)))
    (y * r).sum().backward()
    f = lambda t: {"shape": list(t.shape), "data": [float(v) for v in t.detach().numpy().ravel()]}
    out.append({"stride": s, "padding": p, "output_padding": op, "dilation": d, "x": f(x), "weight": f(wt), "bias": f(b),
                "y": f(y), "r": f(r), "dx": f(x.grad), "dweight": f(wt.grad), "dbias": f(b.grad)})
with open(os.path.join(here, "conv_transpose_torch.json"), "w") as fh:
    json.dump(out, fh)
