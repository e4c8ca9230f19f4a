#!/usr/bin/env bash
# The concurrency test under ThreadSanitizer: every model shared by ten threads at once
# (Tests/ConcurrencyTests), with every memory access of our code checked for data races.
#
# Release build (-O) with -sanitize=thread, in its own build folder (.build-tsan) so the normal
# build is untouched. Not debug: Whisper's and MiniLM's scalar loops run ~50x slower unoptimised
# and the test would take many minutes; the sanitizer instruments optimised code just as well
# (what the optimiser removes is not a memory access any more). C libraries (OpenBLAS, libsndfile,
# libpng, zlib) are not instrumented: races inside them are not seen, races on memory they share
# with Swift code are.
#
# Usage: scripts/tsan.sh [extra swift test arguments]   (exit non-zero on a race or a failure)
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=.build-tsan
# LEPTON_TSAN=1: Package.swift keeps only ConcurrencyTests and what it reaches (no apps, no server packages).
LEPTON_TSAN=1 swift build -c release --scratch-path "$scratch" --build-tests --sanitize=thread -Xswiftc -enable-testing
# Every race is reported (not only the first); the process then exits 66 (TSan's exitcode), so
# the script fails. second_deadlock_stack: full reports for lock-order cycles.
LEPTON_TSAN=1 TSAN_OPTIONS="second_deadlock_stack=1 ${TSAN_OPTIONS:-}" \
  swift test -c release --scratch-path "$scratch" --skip-build --sanitize=thread -Xswiftc -enable-testing \
  --filter SharedModelConcurrencyTests "$@"
