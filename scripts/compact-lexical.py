#!/usr/bin/env python3
"""Stores an intent model's n-gram head (`lexical.safetensors`) in int8 with one float32 scale per
term row, a quarter of its float32 size: the form samples/bank/model keeps in git (issue 24; 15.5 MB
in float32, 7.8 MB in float16, 3.9 MB so).

Per row r of `lexical.weight [terms, labels]`: scale_r = max|w_r| / 127, q = round(w / scale_r)
(the int8 rule of CTranslate2 and of the engine's int8 panels; ties to even here), written as `lexical.weight` (I8) and
`lexical.weight_scale [terms]` (F32); `lexical.bias` stays float32. LeptonText's loader widens it
back (w = q * scale). Deterministic: the same float32 file gives the same bytes.

  python3 scripts/compact-lexical.py samples/bank/model     # after `lepton-chat train ... --out samples/bank/model`

Prints the largest absolute rounding error. Exit status 0, 1 on a malformed or non-float32 file.
"""
import json, os, struct, sys
import numpy as np


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, t in header.items():
        if t["dtype"] != "F32":
            sys.exit(f"compact-lexical: {path}: {name} is {t['dtype']}, expected F32 (already compacted?)")
        b, e = t["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + b:8 + n + e], dtype="<f4").reshape(t["shape"])
    return out, meta


def write(path, tensors, meta):
    names = sorted(tensors)
    header, offset = {"__metadata__": meta}, 0
    for k in names:
        a = tensors[k]
        header[k] = {"dtype": {"int8": "I8", "float32": "F32"}[a.dtype.name], "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for k in names:
            f.write(np.ascontiguousarray(tensors[k]).astype(tensors[k].dtype.newbyteorder("<")).tobytes())
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    path = os.path.join(sys.argv[1], "lexical.safetensors")
    t, meta = read(path)
    w = t["lexical.weight"].astype(np.float32)
    peak = np.abs(w).max(axis=1)
    scale = np.where(peak > 0, peak / 127, 1).astype(np.float32)
    q = np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8)
    error = float(np.abs(q.astype(np.float32) * scale[:, None] - w).max())
    write(path, {"lexical.weight": q, "lexical.weight_scale": scale, "lexical.bias": t["lexical.bias"].astype(np.float32)},
          dict(meta, storage="int8 rows, float32 scale per row (scripts/compact-lexical.py)"))
    print(f"{path}: {os.path.getsize(path)} bytes, largest |w - q*scale| {error:.3g}")


if __name__ == "__main__":
    main()
