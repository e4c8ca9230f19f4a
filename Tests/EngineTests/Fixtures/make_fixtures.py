#!/usr/bin/env python3
"""Independent reference outputs for the engine's forward kernels (NumPy, float64, direct loops).

Run from this folder: `python3 make_fixtures.py` writes kernels.json. Inputs are seeded, so the file
is reproducible. Convolution and pooling use plain nested loops (not im2col) so they are an
independent implementation of the definitions, not a copy of the Swift algorithm.
"""
import json
import math
import numpy as np

rng = np.random.default_rng(1234)
cases = {}


def arr(x):
    return [float(v) for v in np.asarray(x, dtype=np.float64).ravel()]


def put(name, **kw):
    out = {}
    for k, v in kw.items():
        if isinstance(v, np.ndarray):
            out[k] = {"shape": list(v.shape), "data": arr(v)}
        else:
            out[k] = v
    cases[name] = out


def rnd(*shape):
    return rng.standard_normal(shape).astype(np.float32).astype(np.float64)


# Broadcasting binary ops
a, b, c, s = rnd(3, 4), rnd(4), rnd(3, 1), rnd(1)
put("broadcast", a=a, b=b, c=c, add_ab=a + b, sub_ab=a - b, mul_ac=a * c, div_ab=a / (np.abs(b) + 0.5),
    b_shifted=np.abs(b) + 0.5, x3=rnd(2, 1, 4), y3=rnd(3, 1))
x3 = np.array(cases["broadcast"]["x3"]["data"]).reshape(2, 1, 4)
y3 = np.array(cases["broadcast"]["y3"]["data"]).reshape(3, 1)
cases["broadcast"]["add_x3y3"] = {"shape": [2, 3, 4], "data": arr(x3 + y3)}

# Unary
x = rnd(2, 5) * 2
erf = np.vectorize(math.erf)
put("unary", x=x, relu=np.maximum(x, 0), gelu=0.5 * x * (1 + erf(x / math.sqrt(2))), sigmoid=1 / (1 + np.exp(-x)),
    tanh=np.tanh(x), exp=np.exp(x), log=np.log(np.abs(x) + 0.1), absx=np.abs(x) + 0.1, sqrt=np.sqrt(np.abs(x) + 0.1))

# Softmax family (large offsets check stability)
x = rnd(3, 6) * 3 + np.array([[0.0], [100.0], [-100.0]])
m = x.max(axis=-1, keepdims=True)
lse = m + np.log(np.exp(x - m).sum(axis=-1, keepdims=True))
put("softmax", x=x, softmax=np.exp(x - lse), log_softmax=x - lse)

# Reductions
x = rnd(2, 3, 4)
put("reduce", x=x, sum0=x.sum(0), sum1=x.sum(1), sum2=x.sum(2), mean1=x.mean(1), max2=x.max(2),
    argmax1=[int(v) for v in x.argmax(1).ravel()])

# Layer norm
x, w, bias = rnd(4, 6), rnd(6), rnd(6)
mu = x.mean(-1, keepdims=True)
var = ((x - mu) ** 2).mean(-1, keepdims=True)
put("layer_norm", x=x, w=w, b=bias, y=(x - mu) / np.sqrt(var + 1e-5) * w + bias)

# Batch norm (inference)
x, mean, var = rnd(2, 3, 2, 2), rnd(3), np.abs(rnd(3)) + 0.5
w, bias = rnd(3), rnd(3)
y = (x - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5) * w[None, :, None, None] + bias[None, :, None, None]
put("batch_norm", x=x, mean=mean, var=var, w=w, b=bias, y=y)

# Permute
x = rnd(2, 3, 4)
put("permute", x=x, p120=np.transpose(x, (1, 2, 0)), p021=np.transpose(x, (0, 2, 1)))


def conv2d_ref(x, w, bias, stride, pad, dil, groups):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    oh = (h + 2 * pad[0] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * pad[1] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    og = o // groups
    y = np.zeros((n, o, oh, ow))
    for b in range(n):
        for oc in range(o):
            g = oc // og
            for oy in range(oh):
                for ox in range(ow):
                    acc = 0.0 if bias is None else bias[oc]
                    for ci in range(cg):
                        for ki in range(kh):
                            for kj in range(kw):
                                iy = oy * stride[0] - pad[0] + ki * dil[0]
                                ix = ox * stride[1] - pad[1] + kj * dil[1]
                                if 0 <= iy < h and 0 <= ix < wd:
                                    acc += x[b, g * cg + ci, iy, ix] * w[oc, ci, ki, kj]
                    y[b, oc, oy, ox] = acc
    return y


convs = []
for (n, c, h, wd, o, k, stride, pad, dil, groups) in [
    (2, 3, 7, 6, 4, (3, 3), (1, 1), (1, 1), (1, 1), 1),
    (1, 4, 9, 8, 6, (3, 2), (2, 1), (1, 0), (1, 2), 2),
    (3, 2, 5, 5, 3, (1, 1), (1, 1), (0, 0), (1, 1), 1),
    (2, 4, 6, 6, 4, (3, 3), (2, 2), (2, 2), (2, 2), 4),
]:
    x = rnd(n, c, h, wd)
    w = rnd(o, c // groups, *k)
    bias = rnd(o)
    convs.append({"x": {"shape": list(x.shape), "data": arr(x)}, "w": {"shape": list(w.shape), "data": arr(w)},
                  "b": {"shape": [o], "data": arr(bias)}, "stride": list(stride), "padding": list(pad),
                  "dilation": list(dil), "groups": groups,
                  "y": {"shape": None, "data": None}})
    y = conv2d_ref(x, w, bias, stride, pad, dil, groups)
    convs[-1]["y"] = {"shape": list(y.shape), "data": arr(y)}
cases["conv2d"] = convs

# conv1d = conv2d with height 1
x, w, bias = rnd(2, 4, 10), rnd(6, 2, 3), rnd(6)
y = conv2d_ref(x[:, :, None, :], w[:, :, None, :], bias, (1, 2), (0, 1), (1, 1), 2)[:, :, 0, :]
put("conv1d", x=x, w=w, b=bias, y=y, stride=2, padding=1, groups=2)

# Pooling
x = rnd(2, 2, 5, 6)


def pool_ref(x, k, s, p, kind):
    n, c, h, wd = x.shape
    oh = (h + 2 * p[0] - k[0]) // s[0] + 1
    ow = (wd + 2 * p[1] - k[1]) // s[1] + 1
    y = np.zeros((n, c, oh, ow))
    for b in range(n):
        for ch in range(c):
            for oy in range(oh):
                for ox in range(ow):
                    vals = []
                    for ki in range(k[0]):
                        for kj in range(k[1]):
                            iy, ix = oy * s[0] - p[0] + ki, ox * s[1] - p[1] + kj
                            if 0 <= iy < h and 0 <= ix < wd:
                                vals.append(x[b, ch, iy, ix])
                            elif kind == "avg":
                                vals.append(0.0)
                    y[b, ch, oy, ox] = max(vals) if kind == "max" else sum(vals) / (k[0] * k[1])
    return y


put("pool", x=x, max22=pool_ref(x, (2, 2), (2, 2), (0, 0), "max"), max33s2p1=pool_ref(x, (3, 3), (2, 2), (1, 1), "max"),
    avg22=pool_ref(x, (2, 2), (2, 2), (0, 0), "avg"), avg33s1p1=pool_ref(x, (3, 3), (1, 1), (1, 1), "avg"),
    gap=x.mean(axis=(2, 3)))


# Attention: 2 heads, causal with offset, key padding
def attn_ref(q, k, v, heads, causal, offset, keymask):
    tq, d = q.shape
    tk = k.shape[0]
    dh = d // heads
    out = np.zeros((tq, v.shape[1]))
    dvh = v.shape[1] // heads
    for h in range(heads):
        qh, kh, vh = q[:, h * dh:(h + 1) * dh], k[:, h * dh:(h + 1) * dh], v[:, h * dvh:(h + 1) * dvh]
        sc = qh @ kh.T / math.sqrt(dh)
        for i in range(tq):
            for j in range(tk):
                if (causal and j > offset + i) or (keymask is not None and not keymask[j]):
                    sc[i, j] = -np.inf
        sc = sc - sc.max(-1, keepdims=True)
        p = np.exp(sc)
        p /= p.sum(-1, keepdims=True)
        out[:, h * dvh:(h + 1) * dvh] = p @ vh
    return out


q, k, v = rnd(3, 8), rnd(5, 8), rnd(5, 8)
keymask = [True, True, False, True, True]
put("attention", q=q, k=k, v=v, heads=2, plain=attn_ref(q, k, v, 2, False, 0, None),
    causal_offset2=attn_ref(q, k, v, 2, True, 2, None), masked=attn_ref(q, k, v, 2, False, 0, keymask),
    keymask=keymask)

# Losses (formulas from the PyTorch / torchvision documentation, evaluated in float64)
logits = rnd(5, 4) * 2
targets = [3, 0, 1, 3, 2]
cw = np.array([0.5, 2.0, 1.0, 1.5])
eps = 0.1
lse = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
logp = logits - lse[:, None]
ce_plain = float(np.mean([-logp[i, t] for i, t in enumerate(targets)]))
num = sum((1 - eps) * cw[t] * -logp[i, t] + eps / 4 * sum(cw[k] * -logp[i, k] for k in range(4)) for i, t in enumerate(targets))
ce_weighted_smooth = float(num / sum(cw[t] for t in targets))
x = rnd(2, 3) * 2
y = np.array([[1, 0, 1], [0, 0, 1]], dtype=np.float64)
sig = 1 / (1 + np.exp(-x))
pw = 3.0
bce = float(np.mean(-(pw * y * np.log(sig) + (1 - y) * np.log(1 - sig))))
p_t = sig * y + (1 - sig) * (1 - y)
alpha_t = 0.25 * y + 0.75 * (1 - y)
focal = float(np.mean(-alpha_t * (1 - p_t) ** 2 * np.log(p_t)))
py = np.exp(np.array([logp[i, t] for i, t in enumerate(targets)]))
focal_mc = float(np.mean([-cw[t] * (1 - py[i]) ** 2 * np.log(py[i]) for i, t in enumerate(targets)]))
pred = rnd(2, 3)
mse = float(np.mean((pred - y) ** 2))
put("losses", logits=logits, targets=targets, class_weights=list(cw), ce_plain=ce_plain,
    ce_weighted_smooth=ce_weighted_smooth, x=x, y=y, bce_pos3=bce, focal=focal, focal_mc=focal_mc, pred=pred, mse=mse)

# Batch norm in training mode: output and the running-statistics update (momentum 0.1, unbiased var)
x = rnd(3, 2, 2, 2)
mu = x.mean(axis=(0, 2, 3))
var_b = x.var(axis=(0, 2, 3))
var_u = x.var(axis=(0, 2, 3), ddof=1)
y = (x - mu[None, :, None, None]) / np.sqrt(var_b[None, :, None, None] + 1e-5)
put("batch_norm_train", x=x, y=y, running_mean=0.9 * np.zeros(2) + 0.1 * mu, running_var=0.9 * np.ones(2) + 0.1 * var_u)

with open("kernels.json", "w") as f:
    json.dump(cases, f)
print("wrote kernels.json with", len(cases), "groups")
