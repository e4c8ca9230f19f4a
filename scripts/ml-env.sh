#!/usr/bin/env bash
# The Python reference frameworks that the ONNX and compression tests compare against, in a
# virtual environment of their own outside the clone: PyTorch (exports the test models), ONNX and
# onnxscript (the exporters), torchvision (ResNet-18's definition, random weights only),
# transformers (MiniLM's definition; weights come from the bootstrap cache, never a hub) and
# ONNX Runtime (the reference runtime and the int8 peer). Idempotent; prints the environment's
# python on stdout. Not part of the programs: nothing Lepton runs imports these.
#
#   LEPTON_CACHE   the same cache as scripts/bootstrap.sh (default ~/.cache/lepton)
#
# PyPI's Linux torch wheel brings NVIDIA's CUDA libraries with it (~5 GB installed; about a
# minute here); they are loaded but no GPU is used.
set -euo pipefail
cache="${LEPTON_CACHE:-$HOME/.cache/lepton}"
venv="$cache/pyml"
pins=(torch==2.15.0 torchvision==0.29.2 onnx==1.23.2 onnxscript==0.7.2 onnxruntime==1.32.0
      transformers==5.23.0 tokenizers==0.23.3 numpy==2.4.6 pillow==13.0.0)
stamp="$venv/.pins-$(printf '%s\n' "${pins[@]}" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "ml-env: installing ${pins[*]} into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${pins[@]}" >&2
  touch "$stamp"
fi
echo "$venv/bin/python"
