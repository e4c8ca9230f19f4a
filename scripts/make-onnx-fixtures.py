#!/usr/bin/env python3
"""Fixtures for Tests/ONNXTests: models exported from PyTorch and ONNX Runtime's answers on them.

Usage
  $(bash scripts/ml-env.sh | tail -n1) scripts/make-onnx-fixtures.py [--out DIR] [--force]

Runs in the pinned environment of scripts/ml-env.sh (torch, torchvision, onnx, onnxruntime,
transformers). Writes into DIR (default ~/.cache/lepton/fixtures/onnx; never committed: ResNet-18
alone is 45 MB), skipping the work when DIR/.complete names this script's version:

  scan_cnn.onnx (+ .onnx.json)  Lepton's ScanClassifier architecture written in torch (three 3x3
                                conv blocks with BatchNorm and ReLU, 2x2 max pools after the first
                                two, global average pool, linear), random weights (seed 0) and random
                                BatchNorm statistics, exported with torch.onnx.export(dynamo=False,
                                opset 17); input [1, 1, 28, 28]
  scan_cnn_input.npy, scan_cnn_logits.npy
                                a fixed normalised input and ONNX Runtime's logits for it
  scan.png                      a 28x28 8-bit gray image (fixed seed)
  scan_gradcam.json             the analyze inputs of scan.png ((pixels/255 - 0.5)/0.5), torch's
                                logits and Grad-CAM of the predicted class on the output of the
                                last Conv of the exported graph (= the last BatchNorm's output in
                                torch: the exporter folds BatchNorm into the Conv before it):
                                coarse [7, 7] map ReLU(sum_k alpha_k A_k), alpha_k = mean of the
                                gradient, and its bilinear (align_corners=False) upsampling to 28x28
  resnet18.onnx, resnet18_input.npy, resnet18_logits.npy
                                torchvision resnet18(weights=None), torch.manual_seed(0), input
                                [1, 3, 224, 224] ~ N(0, 1) (seed 1), ONNX Runtime's logits
  minilm.onnx, minilm_input_ids.npy, minilm_attention_mask.npy, minilm_hidden.npy
                                the MiniLM encoder of ~/.cache/lepton/models/all-MiniLM-L6-v2
                                (transformers, eager attention; input_ids, attention_mask ->
                                last_hidden_state, dynamic batch and sequence axes), four sentences
                                tokenised with its tokenizer.json and padded to the longest; ONNX
                                Runtime's last_hidden_state
  minilm_sentences.json         those sentences
  conv_bn.onnx, conv_bn_input.npy, conv_bn_output.npy
                                Conv -> BatchNormalization -> Relu as three nodes (onnx.helper,
                                seed 3) and ONNX Runtime's output: the fusion at load is checked
  conv_segment.onnx, conv_segment_input_b{1,3}.npy, conv_segment_{y,mid,res}_b{1,3}.npy
                                odd shapes for the oneDNN convolution segment (onnx.helper, seed 4;
                                input [N, 5, 13, 11], N dynamic): stride 2 with padding, channels
                                5/12/7, a residual Add whose other operand is computed after the
                                Conv, max pool with padding, a dilated depthwise Conv (group 12),
                                an Add that is not after a Conv, a residual on the graph input, an
                                intermediate graph output; ONNX Runtime's outputs for N = 1 and 3
  hostile/*.onnx                files the loader must refuse with a typed error: an unknown op, a
                                cycle, a huge dimension, a wrong-shaped initializer, a missing
                                input, an unsupported opset, a truncated file (see HOSTILE below)
"""
import argparse
import json
import os
import sys

VERSION = "2"
HOME = os.path.expanduser("~")
DEFAULT_OUT = os.path.join(HOME, ".cache", "lepton", "fixtures", "onnx")
MINILM = os.path.join(HOME, ".cache", "lepton", "models", "all-MiniLM-L6-v2")
SENTENCES = [
    "I still have not received my new card, why is it taking so long?",
    "How do I top up by bank transfer?",
    "My card payment was declined at the supermarket.",
    "Can I change my PIN?",
]


def save(out, name, array):
    import numpy as np
    np.save(os.path.join(out, name), np.ascontiguousarray(array))


def export(model, args, path, **kw):
    import torch
    tmp = path + ".tmp"
    with torch.no_grad():
        torch.onnx.export(model, args, tmp, opset_version=17, dynamo=False, **kw)
    os.replace(tmp, path)


def scan_cnn(out):
    import numpy as np
    import torch
    import onnxruntime as ort
    from PIL import Image

    class ScanCNN(torch.nn.Module):
        """ScanClassifier's default config: channels [16, 32, 64], pools [True, True, False]."""

        def __init__(self, channels=(16, 32, 64), pool=(True, True, False), classes=2):
            super().__init__()
            self.pool = pool
            cin = 1
            self.convs = torch.nn.ModuleList()
            self.norms = torch.nn.ModuleList()
            for c in channels:
                self.convs.append(torch.nn.Conv2d(cin, c, 3, padding=1))
                self.norms.append(torch.nn.BatchNorm2d(c))
                cin = c
            self.fc = torch.nn.Linear(cin, classes)
            self.cam = None

        def forward(self, x):
            n = len(self.convs)
            for i in range(n):
                x = self.norms[i](self.convs[i](x))
                if i == n - 1:
                    self.cam = x  # the last Conv's output once BatchNorm is folded into it
                x = torch.relu(x)
                if self.pool[i]:
                    x = torch.nn.functional.max_pool2d(x, 2)
            x = x.mean(dim=(2, 3))
            return self.fc(x)

    torch.manual_seed(0)
    model = ScanCNN()
    with torch.no_grad():
        for bn in model.norms:
            bn.running_mean.uniform_(-0.2, 0.2)
            bn.running_var.uniform_(0.5, 1.5)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.1, 0.1)
    model.eval()
    path = os.path.join(out, "scan_cnn.onnx")
    export(model, (torch.zeros(1, 1, 28, 28),), path, input_names=["image"], output_names=["logits"])
    with open(path + ".json", "w") as f:
        json.dump({"labels": ["normal", "pneumonia"], "input_size": [28, 28], "channels": 1, "mean": 0.5, "std": 0.5}, f)

    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 1, 28, 28)).astype(np.float32)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    save(out, "scan_cnn_input.npy", x)
    save(out, "scan_cnn_logits.npy", sess.run(None, {"image": x})[0])

    # A picture with structure (a bright blob off centre on noise), so Grad-CAM is not flat.
    yy, xx = np.mgrid[0:28, 0:28]
    blob = 200 * np.exp(-((yy - 9) ** 2 + (xx - 17) ** 2) / 30.0)
    pixels = np.clip(blob + rng.uniform(0, 50, (28, 28)), 0, 255).astype(np.uint8)
    Image.fromarray(pixels, mode="L").save(os.path.join(out, "scan.png"))
    inp = torch.from_numpy(((pixels.astype(np.float32) / 255 - 0.5) / 0.5)[None, None])
    logits = model(inp)
    model.cam.retain_grad()
    cls = int(logits[0].argmax())
    logits[0, cls].backward()
    a, g = model.cam.detach()[0], model.cam.grad.detach()[0]
    alpha = g.mean(dim=(1, 2))
    coarse = torch.relu((alpha[:, None, None] * a).sum(0))
    up = torch.nn.functional.interpolate(coarse[None, None], size=(28, 28), mode="bilinear", align_corners=False)[0, 0]
    ort_logits = sess.run(None, {"image": inp.numpy()})[0]
    with open(os.path.join(out, "scan_gradcam.json"), "w") as f:
        json.dump({"class_index": cls, "torch_logits": logits.detach()[0].tolist(), "ort_logits": ort_logits[0].tolist(),
                   "probabilities": torch.softmax(logits.detach()[0], 0).tolist(),
                   "cam_shape": list(coarse.shape), "coarse": coarse.flatten().tolist(), "map": up.flatten().tolist()}, f)


def resnet18(out):
    import numpy as np
    import torch
    import torchvision
    import onnxruntime as ort

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    path = os.path.join(out, "resnet18.onnx")
    export(model, (torch.zeros(1, 3, 224, 224),), path, input_names=["input"], output_names=["logits"])
    x = np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype(np.float32)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    save(out, "resnet18_input.npy", x)
    save(out, "resnet18_logits.npy", sess.run(None, {"input": x})[0])


def minilm(out):
    import numpy as np
    import torch
    import onnxruntime as ort
    from tokenizers import Tokenizer
    from transformers import AutoModel

    class Encoder(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            return self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    bert = AutoModel.from_pretrained(MINILM, local_files_only=True, attn_implementation="eager").eval()
    path = os.path.join(out, "minilm.onnx")
    ids = torch.ones(2, 16, dtype=torch.long)
    export(Encoder(bert).eval(), (ids, torch.ones_like(ids)), path, input_names=["input_ids", "attention_mask"],
           output_names=["last_hidden_state"],
           dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                         "last_hidden_state": {0: "batch", 1: "seq"}})
    tok = Tokenizer.from_file(os.path.join(MINILM, "tokenizer.json"))
    tok.no_padding()
    enc = [tok.encode(s).ids for s in SENTENCES]
    width = max(len(e) for e in enc)
    input_ids = np.zeros((len(enc), width), dtype=np.int64)
    mask = np.zeros((len(enc), width), dtype=np.int64)
    for i, e in enumerate(enc):
        input_ids[i, :len(e)] = e
        mask[i, :len(e)] = 1
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    hidden = sess.run(None, {"input_ids": input_ids, "attention_mask": mask})[0]
    save(out, "minilm_input_ids.npy", input_ids)
    save(out, "minilm_attention_mask.npy", mask)
    save(out, "minilm_hidden.npy", hidden)
    with open(os.path.join(out, "minilm_sentences.json"), "w") as f:
        json.dump(SENTENCES, f)


def hostile(out):
    """Small graphs the loader must refuse; each is valid protobuf unless said otherwise."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    folder = os.path.join(out, "hostile")
    os.makedirs(folder, exist_ok=True)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])

    def write(name, nodes, inits=(), inputs=(x,), opset=17):
        graph = helper.make_graph(nodes, name, list(inputs), [y], initializer=list(inits))
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        with open(os.path.join(folder, name + ".onnx"), "wb") as f:
            f.write(model.SerializeToString())

    write("unknown_op", [helper.make_node("Relu", ["x"], ["h"], name="first"),
                         helper.make_node("FancyActivation", ["h"], ["y"], name="mystery_node")])
    write("cycle", [helper.make_node("Add", ["x", "b"], ["a"], name="add_a"),
                    helper.make_node("Relu", ["a"], ["b"], name="relu_b"),
                    helper.make_node("Relu", ["a"], ["y"], name="out")])
    # An initializer whose dims claim 2^40 x 2^20 floats (4 EiB) with no data behind them.
    huge = onnx.TensorProto()
    huge.name = "w"; huge.data_type = TensorProto.FLOAT; huge.dims.extend([1 << 40, 1 << 20])
    write("huge_dims", [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], inits=[huge])
    # A Gemm weight [3, 5] where x [1, 4] needs [?, 4] (transB) : shapes refused at load.
    w = numpy_helper.from_array(np.ones((3, 5), dtype=np.float32), "w")
    write("wrong_shape", [helper.make_node("Gemm", ["x", "w"], ["y"], name="fc", transB=1)], inits=[w])
    write("missing_input", [helper.make_node("Add", ["x", "nowhere"], ["y"], name="add_missing")])
    write("opset_too_new", [helper.make_node("Relu", ["x"], ["y"], name="r")], opset=99)
    # Raw data shorter than the dims say.
    short = onnx.TensorProto()
    short.name = "w"; short.data_type = TensorProto.FLOAT; short.dims.extend([4, 4]); short.raw_data = b"\0" * 12
    write("short_initializer", [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], inits=[short])
    with open(os.path.join(out, "scan_cnn.onnx"), "rb") as f:
        data = f.read()
    with open(os.path.join(folder, "truncated.onnx"), "wb") as f:
        f.write(data[: len(data) // 2])


def conv_bn(out):
    """Conv -> BatchNormalization -> Relu as separate nodes (the loader folds the normalisation)."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    inits = [numpy_helper.from_array(a.astype(np.float32), n) for n, a in [
        ("w", rng.standard_normal((4, 3, 3, 3))), ("b", rng.standard_normal(4)),
        ("scale", rng.uniform(0.5, 1.5, 4)), ("shift", rng.standard_normal(4)),
        ("mean", rng.standard_normal(4) * 0.1), ("var", rng.uniform(0.5, 2.0, 4))]]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("BatchNormalization", ["c", "scale", "shift", "mean", "var"], ["n"], name="bn", epsilon=1e-3),
             helper.make_node("Relu", ["n"], ["y"], name="relu")]
    graph = helper.make_graph(nodes, "conv_bn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 9, 9])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 5, 5])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    path = os.path.join(out, "conv_bn.onnx")
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
    x = rng.standard_normal((1, 3, 9, 9)).astype(np.float32)
    save(out, "conv_bn_input.npy", x)
    save(out, "conv_bn_output.npy", ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0])


def conv_segment(out):
    """Odd shapes for the oneDNN convolution segment (see the docstring)."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(4)
    shapes = {"w1": (12, 5, 3, 3), "b1": (12,), "w2": (12, 12, 3, 3), "b2": (12,), "w3": (12, 12, 1, 1),
              "wd": (12, 1, 3, 3), "bd": (12,), "w4": (7, 12, 1, 1), "b4": (7,), "w5": (5, 5, 3, 3), "b5": (5,)}
    inits = [numpy_helper.from_array((rng.standard_normal(s) * 0.3).astype(np.float32), n) for n, s in shapes.items()]
    node = helper.make_node
    nodes = [
        node("Conv", ["x", "w1", "b1"], ["c1"], name="c1", strides=[2, 2], pads=[1, 1, 1, 1]),
        node("Relu", ["c1"], ["r1"], name="r1"),
        node("Conv", ["r1", "w2", "b2"], ["c2"], name="c2", pads=[1, 1, 1, 1]),
        node("Conv", ["r1", "w3"], ["c3"], name="c3"),
        node("Add", ["c2", "c3"], ["a1"], name="a1"),
        node("Relu", ["a1"], ["mid"], name="r2"),
        node("MaxPool", ["mid"], ["p1"], name="p1", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        node("Conv", ["p1", "wd", "bd"], ["d1"], name="d1", group=12, pads=[2, 2, 2, 2], dilations=[2, 2]),
        node("Relu", ["d1"], ["r3"], name="r3"),
        node("Add", ["r3", "p1"], ["a2"], name="a2"),
        node("Conv", ["a2", "w4", "b4"], ["c4"], name="c4"),
        node("GlobalAveragePool", ["c4"], ["y"], name="gap"),
        node("Conv", ["x", "w5", "b5"], ["c5"], name="c5", pads=[1, 1, 1, 1]),
        node("Add", ["c5", "x"], ["a3"], name="a3"),
        node("Relu", ["a3"], ["res"], name="r5"),
    ]
    f = TensorProto.FLOAT
    graph = helper.make_graph(nodes, "conv_segment", [helper.make_tensor_value_info("x", f, ["N", 5, 13, 11])],
                              [helper.make_tensor_value_info("y", f, ["N", 7, 1, 1]),
                               helper.make_tensor_value_info("mid", f, ["N", 12, 7, 6]),
                               helper.make_tensor_value_info("res", f, ["N", 5, 13, 11])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    path = os.path.join(out, "conv_segment.onnx")
    with open(path, "wb") as fh:
        fh.write(model.SerializeToString())
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    for n in (1, 3):
        x = rng.standard_normal((n, 5, 13, 11)).astype(np.float32)
        save(out, f"conv_segment_input_b{n}.npy", x)
        for name, value in zip(["y", "mid", "res"], sess.run(None, {"x": x})):
            save(out, f"conv_segment_{name}_b{n}.npy", value)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--force", action="store_true", help="rebuild even when the folder is complete")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    stamp = os.path.join(a.out, ".complete")
    if not a.force and os.path.exists(stamp) and open(stamp).read().strip() == VERSION:
        # Added after version 2 and made on its own when missing, so a complete version-2 folder
        # (shared by every worktree on the machine) needs no rebuild.
        if not os.path.exists(os.path.join(a.out, "conv_segment_res_b3.npy")):
            print("make-onnx-fixtures: conv_segment", file=sys.stderr)
            conv_segment(a.out)
        print(f"make-onnx-fixtures: {a.out} is up to date", file=sys.stderr)
        return
    import torch
    torch.set_num_threads(2)
    for step in (scan_cnn, resnet18, minilm, conv_bn, conv_segment, hostile):
        print(f"make-onnx-fixtures: {step.__name__}", file=sys.stderr)
        step(a.out)
    with open(stamp, "w") as f:
        f.write(VERSION + "\n")


if __name__ == "__main__":
    main()
