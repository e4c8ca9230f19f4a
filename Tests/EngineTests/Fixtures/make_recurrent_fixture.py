#!/usr/bin/env python3
"""Reference LSTM and GRU forward passes written in NumPy (float64), following the equations of
torch.nn.LSTM (gates i, f, g, o) and torch.nn.GRU (gates r, z, n), multi-layer and bidirectional.
Writes recurrent_numpy.json: weights under PyTorch's names, inputs, initial states and the
expected output / final states. Used by Tests/EngineTests/RecurrentTests.swift.

If torch is installed, the NumPy results are also checked against torch.nn.LSTM / torch.nn.GRU
(an assertion only; nothing from torch is written).
Run: python3 make_recurrent_fixture.py
"""
import json, os
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(7)

def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))

def lstm_direction(x, h, c, wih, whh, bih, bhh, reverse):
    T = x.shape[0]; H = h.shape[1]
    out = np.zeros((T, x.shape[1], H))
    steps = range(T - 1, -1, -1) if reverse else range(T)
    for t in steps:
        a = x[t] @ wih.T + bih + h @ whh.T + bhh
        i, f, g, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2*H]), np.tanh(a[:, 2*H:3*H]), sigmoid(a[:, 3*H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        out[t] = h
    return out, h, c

def gru_direction(x, h, wih, whh, bih, bhh, reverse):
    T = x.shape[0]; H = h.shape[1]
    out = np.zeros((T, x.shape[1], H))
    steps = range(T - 1, -1, -1) if reverse else range(T)
    for t in steps:
        gi = x[t] @ wih.T + bih
        gh = h @ whh.T + bhh
        r = sigmoid(gi[:, :H] + gh[:, :H])
        z = sigmoid(gi[:, H:2*H] + gh[:, H:2*H])
        n = np.tanh(gi[:, 2*H:] + r * gh[:, 2*H:])
        h = (1 - z) * n + z * h
        out[t] = h
    return out, h

def run(kind, x, h0, c0, w, layers, dirs):
    seq = x; hs, cs = [], []
    for l in range(layers):
        outs = []
        for d in range(dirs):
            k = l * dirs + d; sfx = f"_l{l}" + ("_reverse" if d == 1 else "")
            args = (w["weight_ih" + sfx], w["weight_hh" + sfx], w["bias_ih" + sfx], w["bias_hh" + sfx], d == 1)
            if kind == "lstm":
                o, h, c = lstm_direction(seq, h0[k], c0[k], *args); cs.append(c)
            else:
                o, h = gru_direction(seq, h0[k], *args)
            outs.append(o); hs.append(h)
        seq = np.concatenate(outs, axis=2)
    return seq, np.stack(hs), (np.stack(cs) if kind == "lstm" else None)

def case(kind, I, H, layers, bidir, T, B):
    dirs = 2 if bidir else 1
    gates = 4 if kind == "lstm" else 3
    k = 1 / np.sqrt(H)
    w = {}
    for l in range(layers):
        for d in range(dirs):
            sfx = f"_l{l}" + ("_reverse" if d == 1 else "")
            inp = I if l == 0 else H * dirs
            w["weight_ih" + sfx] = rng.uniform(-k, k, (gates * H, inp)).astype(np.float32).astype(np.float64)
            w["weight_hh" + sfx] = rng.uniform(-k, k, (gates * H, H)).astype(np.float32).astype(np.float64)
            w["bias_ih" + sfx] = rng.uniform(-k, k, (gates * H,)).astype(np.float32).astype(np.float64)
            w["bias_hh" + sfx] = rng.uniform(-k, k, (gates * H,)).astype(np.float32).astype(np.float64)
    x = rng.normal(0, 1, (T, B, I)).astype(np.float32).astype(np.float64)
    h0 = rng.normal(0, 0.5, (layers * dirs, B, H)).astype(np.float32).astype(np.float64)
    c0 = rng.normal(0, 0.5, (layers * dirs, B, H)).astype(np.float32).astype(np.float64)
    out, hn, cn = run(kind, x, h0, c0, w, layers, dirs)
    try:
        import torch
        mod = (torch.nn.LSTM if kind == "lstm" else torch.nn.GRU)(I, H, num_layers=layers, bidirectional=bidir).double()
        mod.load_state_dict({n: torch.tensor(v) for n, v in w.items()})
        with torch.no_grad():
            if kind == "lstm":
                to, (th, tc) = mod(torch.tensor(x), (torch.tensor(h0), torch.tensor(c0)))
                assert np.allclose(tc.numpy(), cn, atol=1e-12)
            else:
                to, th = mod(torch.tensor(x), torch.tensor(h0))
        assert np.allclose(to.numpy(), out, atol=1e-12) and np.allclose(th.numpy(), hn, atol=1e-12)
        print(kind, "matches torch")
    except ImportError:
        print("torch not installed: NumPy reference only")
    d = {"kind": kind, "input_size": I, "hidden_size": H, "layers": layers, "bidirectional": bidir,
         "time": T, "batch": B,
         "weights": {n: {"shape": list(v.shape), "data": v.reshape(-1).tolist()} for n, v in w.items()},
         "x": x.reshape(-1).tolist(), "h0": h0.reshape(-1).tolist(), "output": out.reshape(-1).tolist(),
         "h_n": hn.reshape(-1).tolist()}
    if kind == "lstm":
        d["c0"] = c0.reshape(-1).tolist(); d["c_n"] = cn.reshape(-1).tolist()
    return d

cases = [case("lstm", 4, 5, 2, True, 6, 3), case("lstm", 3, 4, 1, False, 5, 2),
         case("gru", 4, 5, 2, True, 6, 3), case("gru", 3, 4, 1, False, 5, 2)]
with open(os.path.join(here, "recurrent_numpy.json"), "w") as f:
    json.dump(cases, f)
print("wrote", len(cases), "cases")
