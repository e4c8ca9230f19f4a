#!/usr/bin/env python3
"""Fixtures for Tests/ONNXTests/ONNXRecurrentTests.swift: small graphs using LSTM, Pad and 1-D Conv
(built with onnx.helper, random weights from fixed seeds) and Silero VAD v6 itself, with ONNX
Runtime's outputs. Our runtime is never run here.

Usage
  $(bash scripts/ml-env.sh | tail -n1) scripts/make-recurrent-fixtures.py [--out DIR] [--force]

Writes into DIR (default ~/.cache/lepton/fixtures/onnx-recurrent; never committed), skipping the
work when DIR/.complete names this script's version:

  cases.json        {case: {"model": FILE, "inputs": {name: NPY}, "outputs": {name: NPY}}}
  CASE.onnx, CASE_*.npy
      lstm_forward        X [5,2,3], W/R/B, initial_h/c given, hidden 4 -> Y, Y_h, Y_c
      lstm_bidirectional  X [4,3,2], no bias, no initial state, hidden 3
      lstm_reverse        direction=reverse, X [6,2,3], hidden 5, bias and initial states
      pad_reflect         [3,6] reflect pads [0,2,0,3] (opset 18, pads as an input)
      pad_constant_3d     [2,3,4] constant 1.5, pads [1,0,-1, 0,2,1] (a negative pad crops)
      pad_edge_axes       [2,5] edge on axes [1] only (opset 18 axes input)
      pad_wrap            [2,3] wrap pads [0,2,1,1] (opset 19)
      pad_int64           int64 [2,3] constant 7, pads [1,1,0,2]
      conv1d              [2,3,11] by [4,3,3], pads [2,1], stride 2, dilation 2, bias
      conv1d_groups       [1,4,9] by [6,2,1], group 2, no bias
      silero_vad          faster-whisper 1.2.1's silero_vad_v6.onnx (from ~/.cache/lepton/models/silero-vad,
                          see scripts/bootstrap.sh) on 40 windows of 576 samples cut from
                          ../shared/data/speech/dev/jfk.wav as faster-whisper cuts them (64 samples of the
                          previous window, then 512), h and c from a first call on the 8 windows before
"""
import argparse
import json
import os
import sys
import wave

VERSION = "1"
HOME = os.path.expanduser("~")
DEFAULT_OUT = os.path.join(HOME, ".cache", "lepton", "fixtures", "onnx-recurrent")
SILERO = os.path.join(os.environ.get("LEPTON_MODELS", os.path.join(HOME, ".cache", "lepton", "models")),
                      "silero-vad", "silero_vad_v6.onnx")
DEV = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "speech", "dev")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    stamp = os.path.join(a.out, ".complete")
    if not a.force and os.path.exists(stamp) and open(stamp).read().strip() == VERSION:
        return
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    os.makedirs(a.out, exist_ok=True)
    cases = {}

    def build(name, nodes, inputs, outputs, inits, feeds, opset=18):
        """Saves the graph, its feeds and ONNX Runtime's outputs; records the case."""
        graph = helper.make_graph(nodes, name, inputs, outputs, [numpy_helper.from_array(v, k) for k, v in inits.items()])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        model.ir_version = 8
        onnx.checker.check_model(model)
        path = os.path.join(a.out, name + ".onnx")
        onnx.save(model, path)
        run(name, path, feeds)

    def run(name, path, feeds):
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        got = sess.run(None, feeds)
        case = {"model": os.path.basename(path), "inputs": {}, "outputs": {}}
        for k, v in feeds.items():
            f = f"{name}_in_{k}.npy"
            np.save(os.path.join(a.out, f), v)
            case["inputs"][k] = f
        for o, v in zip(sess.get_outputs(), got):
            f = f"{name}_out_{o.name}.npy"
            np.save(os.path.join(a.out, f), v)
            case["outputs"][o.name] = f
        cases[name] = case

    F = TensorProto.FLOAT
    vi = helper.make_tensor_value_info

    def lstm(name, T, B, I, H, direction, bias, initial, seed=0):
        rng = np.random.default_rng(seed)
        D = 2 if direction == "bidirectional" else 1
        inits = {"W": rng.uniform(-0.5, 0.5, (D, 4 * H, I)).astype(np.float32),
                 "R": rng.uniform(-0.5, 0.5, (D, 4 * H, H)).astype(np.float32)}
        ins = ["X", "W", "R"]
        if bias:
            inits["B"] = rng.uniform(-0.3, 0.3, (D, 8 * H)).astype(np.float32)
            ins.append("B")
        else:
            ins.append("")
        xshape, sshape = [T, B, I], [D, B, H]
        feeds = {"X": rng.standard_normal(xshape).astype(np.float32)}
        graph_inputs = [vi("X", F, xshape)]
        ins.append("")  # sequence_lens
        if initial:
            feeds["h0"] = (0.5 * rng.standard_normal(sshape)).astype(np.float32)
            feeds["c0"] = (0.5 * rng.standard_normal(sshape)).astype(np.float32)
            ins += ["h0", "c0"]
            graph_inputs += [vi("h0", F, sshape), vi("c0", F, sshape)]
        node = helper.make_node("LSTM", ins, ["Y", "Y_h", "Y_c"], hidden_size=H, direction=direction)
        yshape = [T, D, B, H]
        build(name, [node], graph_inputs, [vi("Y", F, yshape), vi("Y_h", F, sshape), vi("Y_c", F, sshape)], inits, feeds)

    lstm("lstm_forward", 5, 2, 3, 4, "forward", bias=True, initial=True, seed=1)
    lstm("lstm_bidirectional", 4, 3, 2, 3, "bidirectional", bias=False, initial=False, seed=2)
    lstm("lstm_reverse", 6, 2, 3, 5, "reverse", bias=True, initial=True, seed=3)

    def pad(name, x, pads, mode, value=None, axes=None, opset=18, etype=F):
        ins = ["x", "pads"]
        inits = {"pads": np.array(pads, dtype=np.int64)}
        if value is not None:
            inits["value"] = np.array(value, dtype=x.dtype)
            ins.append("value")
        if axes is not None:
            if value is None:
                ins.append("")
            inits["axes"] = np.array(axes, dtype=np.int64)
            ins.append("axes")
        node = helper.make_node("Pad", ins, ["y"], mode=mode)
        build(name, [node], [vi("x", etype, list(x.shape))], [vi("y", etype, [None] * x.ndim)], inits, {"x": x}, opset=opset)

    rng = np.random.default_rng(4)
    pad("pad_reflect", rng.standard_normal((3, 6)).astype(np.float32), [0, 2, 0, 3], "reflect")
    pad("pad_constant_3d", rng.standard_normal((2, 3, 4)).astype(np.float32), [1, 0, -1, 0, 2, 1], "constant", value=1.5)
    pad("pad_edge_axes", rng.standard_normal((2, 5)).astype(np.float32), [2, 1], "edge", axes=[1])
    pad("pad_wrap", rng.standard_normal((2, 3)).astype(np.float32), [0, 2, 1, 1], "wrap", opset=19)
    pad("pad_int64", np.arange(6, dtype=np.int64).reshape(2, 3), [1, 1, 0, 2], "constant", value=7, etype=TensorProto.INT64)

    def conv1d(name, x, w, b, seed, **attrs):
        inits = {"w": w}
        ins = ["x", "w"]
        if b is not None:
            inits["b"] = b
            ins.append("b")
        node = helper.make_node("Conv", ins, ["y"], **attrs)
        build(name, [node], [vi("x", F, list(x.shape))], [vi("y", F, [None] * x.ndim)], inits, {"x": x})

    rng = np.random.default_rng(5)
    conv1d("conv1d", rng.standard_normal((2, 3, 11)).astype(np.float32), rng.standard_normal((4, 3, 3)).astype(np.float32),
           rng.standard_normal(4).astype(np.float32), 5, pads=[2, 1], strides=[2], dilations=[2], kernel_shape=[3])
    conv1d("conv1d_groups", rng.standard_normal((1, 4, 9)).astype(np.float32), rng.standard_normal((6, 2, 1)).astype(np.float32),
           None, 6, group=2)

    # Silero VAD v6 on real speech, windows cut as faster-whisper's SileroVADModel cuts them.
    if not os.path.exists(SILERO):
        sys.exit(f"missing {SILERO}: run scripts/bootstrap.sh first")
    with wave.open(os.path.join(DEV, "jfk.wav")) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2
        audio = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    windows = audio[: 48 * 512].reshape(-1, 512)
    context = np.roll(windows[:, -64:], 1, 0)
    context[0] = 0
    batched = np.concatenate([context, windows], 1).astype(np.float32)
    sess = ort.InferenceSession(SILERO, providers=["CPUExecutionProvider"])
    zeros = np.zeros((1, 1, 128), dtype=np.float32)
    _, h, c = sess.run(None, {"input": batched[:8], "h": zeros, "c": zeros})
    run("silero_vad", SILERO, {"input": batched[8:], "h": h, "c": c})
    cases["silero_vad"]["model_path"] = "silero-vad/silero_vad_v6.onnx"

    with open(os.path.join(a.out, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)
    with open(stamp, "w") as f:
        f.write(VERSION + "\n")
    print(f"wrote {len(cases)} cases to {a.out}")


if __name__ == "__main__":
    main()
