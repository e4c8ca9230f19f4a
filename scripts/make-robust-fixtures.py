#!/usr/bin/env python3
"""Fixtures for Tests/DiagnoseTests/AdversarialAttackTests: PyTorch's FGSM and PGD on the shipped scan model.

Usage
  $(bash scripts/ml-env.sh | tail -n1) scripts/make-robust-fixtures.py [--out DIR] [--force]

Runs in the pinned environment of scripts/ml-env.sh (torch, safetensors, numpy, pillow). The
reference is written here, independently of Lepton: Lepton's ScanClassifier architecture in torch
(three 3x3 conv blocks with BatchNorm and ReLU, 2x2 max pools after the first two, global average
pool, linear), the weights of samples/diagnose/model/model.safetensors loaded by name (the
PyTorch state_dict names Lepton saves), evaluation mode, float64 (so the reference's own
round-off is far below Lepton's float32). The model is the predictor `analyze` runs: with "tta": k
in config.json, the mean of the logits of the image and of its shifts by k pixels left, right, up
and down (edges repeated: replicate padding, then a crop), and the attacks are white-box on that
mean (autograd carries the gradient back through the shifts). Writes into DIR (default
~/.cache/lepton/fixtures/robust), skipping the work when DIR/.complete names this script's version
and the SHA-256 of the model's model.safetensors and config.json (so a new shipped model remakes them):

  files.json            the validation images used: the first 4 of each class in ../shared/data/medical/
                        pneumoniamnist val/ whose cross-entropy under the model is above 0.02 (a saturated softmax
                        gives a gradient of round-off alone, whose sign means nothing)
  pixels.npy            [8, 28, 28] their pixels / 255 (PIL), labels.npy [8] int64
  loss.npy, grad.npy    mean cross-entropy of the labels and its gradient w.r.t. pixels.npy
                        (through (x - 0.5) / 0.5)
  loss_single.npy, grad_single.npy  the same for the unshifted view alone (the network without TTA)
  fgsm_{1,2,4}.npy      clamp(x + eps * sign(grad), 0, 1), eps = k/255
  fgsm_{1,2,4}_logits.npy  the model's logits on them
  pgd_start_{2,4}.npy   PGD's random start: uniform(-eps, eps) from numpy's default_rng(5 + k)
  pgd_{2,4}.npy         PGD (Madry et al.): x0 = clamp(x + start, 0, 1), then 10 times
                        x = clamp(x + clamp(x + a*sign(grad) - x_orig, -eps, eps) ... ) with
                        a = 2.5 * eps / 10, as torchattacks.PGD
  pgd_{2,4}_logits.npy  the model's logits on those PGD images
"""
import hashlib
import json
import os
import sys

from fixture_stamp import fixture_folder, mark_complete

VERSION = "4"
HOME = os.path.expanduser("~")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(HOME, ".cache", "lepton", "fixtures", "robust")
MODEL_DIR = os.path.join(REPO, "samples", "diagnose", "model")
DATA = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "medical", "pneumoniamnist"))
MEAN, STD, STEPS = 0.5, 0.5, 10


def model_stamp():
    """This script's version and the model files' SHA-256: the fixtures describe that model."""
    h = hashlib.sha256()
    for name in ("model.safetensors", "config.json"):
        h.update(open(os.path.join(MODEL_DIR, name), "rb").read())
    return f"{VERSION} {h.hexdigest()[:16]}"


def scan_cnn(torch, state, tta):
    class ScanCNN(torch.nn.Module):
        def __init__(self, channels=(16, 32, 64), pool=(True, True, False)):
            super().__init__()
            self.pool = pool
            self.tta = tta
            cin = 1
            for i, c in enumerate(channels, start=1):
                setattr(self, f"c{i}", torch.nn.Conv2d(cin, c, 3, padding=1))
                setattr(self, f"b{i}", torch.nn.BatchNorm2d(c))
                cin = c
            self.n = len(channels)
            self.fc = torch.nn.Linear(cin, 2)

        def forward(self, pixels):
            if not self.tta:
                return self.single(pixels)
            # The mean over the unshifted image and its four k-pixel shifts: a view shifted by
            # (dx, dy) shows pixel (clamp(y - dy), clamp(x - dx)), i.e. a crop of the replicate-padded image.
            k, size = self.tta, pixels.shape[-1]
            padded = torch.nn.functional.pad(pixels, (k, k, k, k), mode="replicate")
            views = [padded[..., k - dy:k - dy + size, k - dx:k - dx + size]
                     for dx, dy in ((0, 0), (-k, 0), (k, 0), (0, -k), (0, k))]
            return torch.stack([self.single(v) for v in views]).mean(dim=0)

        def single(self, pixels):
            x = (pixels - MEAN) / STD
            for i in range(1, self.n + 1):
                x = torch.relu(getattr(self, f"b{i}")(getattr(self, f"c{i}")(x)))
                if self.pool[i - 1]:
                    x = torch.nn.functional.max_pool2d(x, 2)
            return self.fc(x.mean(dim=(2, 3)))

    model = ScanCNN()
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
    if missing or [u for u in unexpected if not u.endswith("num_batches_tracked")]:
        sys.exit(f"weights do not fit: missing {missing}, unexpected {unexpected}")
    return model.double().eval()


def main():
    stamp = model_stamp()
    out = fixture_folder(__doc__, DEFAULT_OUT, stamp, "robust")
    if out is None:
        return
    import numpy as np
    import torch
    from PIL import Image
    from safetensors.numpy import load_file

    torch.manual_seed(0)
    tta = json.load(open(os.path.join(MODEL_DIR, "config.json"))).get("tta") or 0
    model = scan_cnn(torch, load_file(os.path.join(MODEL_DIR, "model.safetensors")), tta)

    def loss_grad(x, y, net=model):
        x = x.clone().requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        return loss.detach(), x.grad.detach()

    rows = [line.strip().split(",") for line in open(os.path.join(DATA, "labels.csv")).read().splitlines()[1:]]
    chosen, pixels, labels = [], [], []
    for f, label in rows:
        if not f.startswith("val/"):
            continue
        p = np.asarray(Image.open(os.path.join(DATA, f)).convert("L"), dtype=np.float64) / 255.0
        x = torch.from_numpy(p)[None, None]
        with torch.no_grad():
            ce = float(torch.nn.functional.cross_entropy(model(x), torch.tensor([int(label)])))
        if ce > 0.02 and labels.count(int(label)) < 4:
            chosen.append(f); pixels.append(p); labels.append(int(label))
        if len(chosen) == 8:
            break
    x = torch.from_numpy(np.stack(pixels))[:, None]
    y = torch.tensor(labels)
    loss, grad = loss_grad(x, y)

    def save(name, a):
        np.save(os.path.join(out, name), np.ascontiguousarray(a))

    save("pixels.npy", np.stack(pixels).astype(np.float32))
    save("labels.npy", np.array(labels, dtype=np.int64))
    save("loss.npy", np.array([float(loss)], dtype=np.float32))
    save("grad.npy", grad[:, 0].numpy().astype(np.float32))
    loss_single, grad_single = loss_grad(x, y, net=model.single)
    save("loss_single.npy", np.array([float(loss_single)], dtype=np.float32))
    save("grad_single.npy", grad_single[:, 0].numpy().astype(np.float32))
    for k in (1, 2, 4):
        eps = k / 255
        adv = torch.clamp(x + eps * grad.sign(), 0, 1)
        save(f"fgsm_{k}.npy", adv[:, 0].numpy().astype(np.float32))
        with torch.no_grad():
            save(f"fgsm_{k}_logits.npy", model(adv).numpy().astype(np.float32))
    for k in (2, 4):
        eps = k / 255
        alpha = 2.5 * eps / STEPS
        # Lepton reads the start in float32: draw it there so both sides start from the same point.
        start = np.random.default_rng(5 + k).uniform(-eps, eps, size=x.shape).astype(np.float32)
        adv = torch.clamp(x + torch.from_numpy(start.astype(np.float64)), 0, 1)
        for _ in range(STEPS):
            _, g = loss_grad(adv, y)
            adv = adv + alpha * g.sign()
            adv = torch.clamp(x + torch.clamp(adv - x, -eps, eps), 0, 1)
        save(f"pgd_start_{k}.npy", start[:, 0])
        save(f"pgd_{k}.npy", adv[:, 0].numpy().astype(np.float32))
        with torch.no_grad():
            save(f"pgd_{k}_logits.npy", model(adv).numpy().astype(np.float32))
    with open(os.path.join(out, "files.json"), "w") as fh:
        json.dump(chosen, fh)
    mark_complete(out, stamp)
    print(f"robust fixtures written to {out}: {len(chosen)} images, tta {tta}, loss {float(loss):.4f}")


if __name__ == "__main__":
    main()
