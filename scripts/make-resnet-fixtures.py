#!/usr/bin/env python3
"""Fixtures for Tests/DiagnoseTests/ScanResNetTests: a small ResNet in PyTorch and its outputs.

Usage
  $(bash scripts/ml-env.sh | tail -n1) scripts/make-resnet-fixtures.py [--out DIR] [--force]

Runs in the pinned environment of scripts/ml-env.sh (torch, torchvision, numpy, pillow). The
network is written here with torchvision's own BasicBlock (ResNet-18's block), independently of
Lepton: conv1 3x3 (1 -> 8, no bias), bn1, ReLU; layer1 (8), layer2 (16, stride 2), layer3 (32,
stride 2), two BasicBlocks each, the first of layer2/layer3 with a 1x1 conv + BatchNorm
downsample; global average pool; fc (32 -> 2). Seeded random weights, with batch-norm scales,
shifts and running statistics drawn away from their defaults so that evaluation mode is really
exercised, fc weights from N(0, 3) so that the logits differ between images, and the fc bias
centring them on the images used, so that both classes are predicted. Evaluation mode, float64. Writes into DIR (default ~/.cache/lepton/fixtures/scan-resnet),
skipping the work when DIR/.complete names this script's version:

  weights.npz     the state dict in float32 (torchvision names: layer2.0.downsample.0.weight, ...;
                  num_batches_tracked included, as PyTorch saves it)
  reference.npz   files (the first 8 validation images of ../shared/data/medical/pneumoniamnist),
                  input_normalized [8, 28, 28] ((pixel/255 - 0.5) / 0.5, PIL), logits [8, 2],
                  predicted_class [8], gradcam_7x7 [8, 7, 7] (Grad-CAM of the predicted class on
                  layer3's output) and gradcam_28x28 [8, 28, 28] (bilinear, align_corners=False)
"""
import os

from fixture_stamp import fixture_folder, mark_complete

VERSION = "3"
HOME = os.path.expanduser("~")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(HOME, ".cache", "lepton", "fixtures", "scan-resnet")
DATA = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "medical", "pneumoniamnist"))
CHANNELS, BLOCKS, POOL = (8, 16, 32), 2, (True, True, False)


def scan_resnet(torch):
    from torchvision.models.resnet import BasicBlock

    class ScanResNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(1, CHANNELS[0], 3, padding=1, bias=False)
            self.bn1 = torch.nn.BatchNorm2d(CHANNELS[0])
            cin = CHANNELS[0]
            for i, c in enumerate(CHANNELS):
                stride = 2 if i > 0 and POOL[i - 1] else 1
                down = None
                if stride != 1 or cin != c:
                    down = torch.nn.Sequential(torch.nn.Conv2d(cin, c, 1, stride=stride, bias=False), torch.nn.BatchNorm2d(c))
                blocks = [BasicBlock(cin, c, stride, down)] + [BasicBlock(c, c) for _ in range(BLOCKS - 1)]
                setattr(self, f"layer{i + 1}", torch.nn.Sequential(*blocks))
                cin = c
            self.fc = torch.nn.Linear(cin, 2)

        def features(self, x):
            x = torch.relu(self.bn1(self.conv1(x)))
            for i in range(len(CHANNELS)):
                x = getattr(self, f"layer{i + 1}")(x)
            return x

        def head(self, a):
            if POOL[-1]:
                a = torch.nn.functional.max_pool2d(a, 2)
            return self.fc(a.mean(dim=(2, 3)))

    return ScanResNet()


def main():
    out = fixture_folder(__doc__, DEFAULT_OUT, VERSION, "resnet")
    if out is None:
        return
    import numpy as np
    import torch
    from PIL import Image

    torch.manual_seed(22)
    model = scan_resnet(torch)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
        # A wide head, so that the logits differ clearly between images (a fresh head gives nearly one output for all).
        model.fc.weight.normal_(0, 3)
    rows = [line.strip().split(",") for line in open(os.path.join(DATA, "labels.csv")).read().splitlines()[1:]]
    files = [f for f, _ in rows if f.startswith("val/")][:8]
    pixels = np.stack([np.asarray(Image.open(os.path.join(DATA, f)).convert("L"), dtype=np.float64) / 255.0 for f in files])
    x = torch.from_numpy((pixels - 0.5) / 0.5)[:, None]
    with torch.no_grad():
        # The fc bias centres the logits on these images, so that both classes are predicted.
        model.eval()
        pooled = model.features(x.float()).mean(dim=(2, 3))
        model.fc.bias.copy_(-(pooled @ model.fc.weight.T).mean(dim=0))
    state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    weights = {k: (v.astype(np.float32) if v.dtype.kind == "f" else v) for k, v in state.items()}
    # The reference runs on exactly the float32 weights Lepton reads, widened to float64.
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    model = model.double().eval()
    with torch.no_grad():
        a = model.features(x)
    a = a.clone().requires_grad_(True)
    logits = model.head(a)
    predicted = logits.argmax(dim=1)
    logits.gather(1, predicted[:, None]).sum().backward()
    alpha = a.grad.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((alpha * a).sum(dim=1)).detach()
    cam28 = torch.nn.functional.interpolate(cam[:, None], size=(28, 28), mode="bilinear", align_corners=False)[:, 0]

    np.savez(os.path.join(out, "weights.npz"), **weights)
    np.savez(os.path.join(out, "reference.npz"), files=np.array(files),
             input_normalized=x[:, 0].numpy().astype(np.float32), logits=logits.detach().numpy().astype(np.float32),
             predicted_class=predicted.numpy().astype(np.int64), gradcam_7x7=cam.numpy().astype(np.float32),
             gradcam_28x28=cam28.numpy().astype(np.float32))
    mark_complete(out, VERSION)
    print(f"resnet fixtures written to {out}: {len(weights)} tensors, logits {logits.detach().numpy().round(4).tolist()}")


if __name__ == "__main__":
    main()
