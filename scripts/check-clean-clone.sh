#!/usr/bin/env bash
# Proves the README's first command works where nothing was ever built: clones the committed
# tree into a new folder (no .build/, no caches of the build) and runs scripts/run-samples.sh
# there, then checks that every program it promises was built and answered.
#   scripts/check-clean-clone.sh [REV]     (default HEAD)
#   scripts/check-clean-clone.sh --here    in this checkout, which must be a clean clone never
#                                          built (CI's own); LEPTON_BUILD_FLAGS go to the build
set -euo pipefail
cd "$(dirname "$0")/.."
rev="${1:-HEAD}"
work=$(mktemp -d "${TMPDIR:-/tmp}/lepton-clean-clone-XXXXXX")
trap 'rm -rf "$work"' EXIT
if [ "$rev" = "--here" ]; then
  if [ -e .build ] || [ -n "$(git status --porcelain --ignored)" ]; then
    echo "check-clean-clone: --here needs a clean clone that was never built (found .build or untracked files)" >&2
    exit 1
  fi
  clone=$PWD
else
  clone="$work/lepton"
  git clone -q --no-hardlinks . "$clone"
  git -C "$clone" checkout -q "$(git rev-parse "$rev")"
  # ../shared beside the clone, as beside this checkout (data the samples' commands read).
  [ -e ../shared ] && ln -s "$(cd ../shared && pwd)" "$work/shared"
fi
echo "check-clean-clone: running scripts/run-samples.sh in a fresh clone ($clone, $(git rev-parse --short HEAD))" >&2
start=$(date +%s)
if ! (cd "$clone" && bash scripts/run-samples.sh) > "$work/out.txt" 2> "$work/err.txt"; then
  echo "check-clean-clone: FAILED; last lines of its stderr:" >&2
  tail -n 30 "$work/err.txt" >&2
  exit 1
fi
for program in lepton-chat lepton-risk lepton-diagnose; do
  [ -x "$clone/.build/release/$program" ] || { echo "check-clean-clone: $program was not built" >&2; exit 1; }
done
grep -q "== lepton-diagnose" "$work/out.txt" || { echo "check-clean-clone: run-samples stopped before the last program" >&2; exit 1; }
echo "check-clean-clone: passed in $(( $(date +%s) - start )) s" >&2
