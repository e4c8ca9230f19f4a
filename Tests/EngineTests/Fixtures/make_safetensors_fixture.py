#!/usr/bin/env python3
"""Writes safetensors_dtypes.safetensors with the reference `safetensors` library (PyTorch backend)
and safetensors_dtypes.json with the values each tensor must decode to (as Python floats/ints).

Independent reference for Lepton's reader: the file is produced by Hugging Face's own writer.
Run: python3 make_safetensors_fixture.py   (needs torch and safetensors)
"""
import json, os
import torch
from safetensors.torch import save_file

here = os.path.dirname(os.path.abspath(__file__))
vals = [0.0, 1.0, -2.5, 0.1, 65504.0, 1e-5, -3.140625, 7.0]
ints = [0, 1, -2, 127, -128, 42, 5, -7]
tensors = {
    "f32": torch.tensor(vals, dtype=torch.float32).reshape(2, 4),
    "f16": torch.tensor(vals, dtype=torch.float16).reshape(4, 2),
    "bf16": torch.tensor(vals, dtype=torch.bfloat16).reshape(8),
    "f64": torch.tensor(vals, dtype=torch.float64).reshape(2, 2, 2),
    "i64": torch.tensor([0, 1, -2, 2**40, -(2**33), 511, 5, -7], dtype=torch.int64).reshape(2, 4),
    "i32": torch.tensor([0, 1, -2, 2**30, -(2**31), 511, 5, -7], dtype=torch.int32).reshape(8),
    "i16": torch.tensor([0, 1, -2, 32767, -32768, 511, 5, -7], dtype=torch.int16).reshape(8),
    "i8": torch.tensor(ints, dtype=torch.int8).reshape(8),
    "u8": torch.tensor([0, 1, 2, 255, 128, 42, 5, 7], dtype=torch.uint8).reshape(8),
    "bool": torch.tensor([True, False, True, True, False, False, True, False]).reshape(2, 4),
    "scalar": torch.tensor(3.5, dtype=torch.float32),
    "empty": torch.zeros((0, 3), dtype=torch.float32),
}
save_file(tensors, os.path.join(here, "safetensors_dtypes.safetensors"), metadata={"format": "pt", "note": "fixture"})
expect = {}
for k, t in tensors.items():
    entry = {"shape": list(t.shape)}
    if t.dtype in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8, torch.bool):
        entry["ints"] = [int(x) for x in t.reshape(-1).tolist()]
    entry["floats"] = [float(x) for x in t.to(torch.float64).reshape(-1).tolist()]
    expect[k] = entry
with open(os.path.join(here, "safetensors_dtypes.json"), "w") as f:
    json.dump(expect, f, indent=1)
print("wrote", len(tensors), "tensors")
