#!/usr/bin/env bash
# The whole test suite: bootstrap (idempotent), then every test in a release build
# (numerics-heavy tests are 100× slower in debug).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# -enable-testing: tests use @testable imports, which a plain release build does not allow.
swift test -c release -Xswiftc -enable-testing "$@"
