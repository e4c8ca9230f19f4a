#!/usr/bin/env bash
# The whole test suite: bootstrap (idempotent), the import check, every test in a release build (numerics-heavy
# tests are 100× slower in debug) with a throwaway PostgreSQL cluster, then every example of README and of every --help, run as
# written (scripts/check-examples.py). Arguments go to `swift test` (e.g. --filter X) and then
# only those tests run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# The Python references (PyTorch, safetensors, ONNX Runtime) of the issue-24 tests, outside the clone,
# and the ONNX fixtures: models exported from PyTorch with ONNX Runtime's outputs, in ~/.cache/lepton/fixtures/onnx.
"$(bash scripts/ml-env.sh | tail -n1)" scripts/make-onnx-fixtures.py
# PyTorch's FGSM/PGD on the shipped scan model (issue 22), in ~/.cache/lepton/fixtures/robust.
"$(bash scripts/ml-env.sh | tail -n1)" scripts/make-robust-fixtures.py
# A small ResNet from torchvision's BasicBlock with its logits and Grad-CAM (issue 22), in ~/.cache/lepton/fixtures/scan-resnet.
"$(bash scripts/ml-env.sh | tail -n1)" scripts/make-resnet-fixtures.py
# LSTM, Pad, 1-D Conv and Silero VAD v6 with ONNX Runtime's outputs, in ~/.cache/lepton/fixtures/onnx-recurrent (issue 21).
"$(bash scripts/ml-env.sh | tail -n1)" scripts/make-recurrent-fixtures.py
# Package.swift declares every module each target imports (cheap; fails before the long build).
python3 scripts/check-imports.py
# -enable-testing: tests use @testable imports, which a plain release build does not allow.
# The PostgreSQL session store is tested against a real server: a throwaway cluster on loopback,
# stopped and removed afterwards (scripts/with-postgres.sh; its tests skip only without it).
# Built first, outside it: the cluster's variables (a new port and folder each run) are part of
# the compiler's environment, and SwiftPM would rebuild every module when they change.
swift build -c release -Xswiftc -enable-testing --build-tests
bash scripts/with-postgres.sh swift test -c release -Xswiftc -enable-testing --skip-build "$@"
if [ "$#" -eq 0 ]; then
  python3 scripts/check-examples.py
fi
