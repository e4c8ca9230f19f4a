#!/usr/bin/env bash
# The web consoles' browser tests: every Tests/Pages/test_*.py (Python unittest + Selenium) in
# headless Chromium, against the release programs in .build/release (built here only when one is
# missing, with the test build's flags so that scripts/test.sh's build is reused).
#
#   scripts/page-test.sh [--update-screenshots] [-k PATTERN]
#
#   --update-screenshots   also copy each screenshot to docs/screenshots/ (each must be < 300 KB)
#   -k PATTERN             only the tests whose names match (unittest -k)
#
# Screenshots of every run go to $LEPTON_PAGES_DIR (default /tmp/lepton-pages). Needs Debian's
# chromium and chromium-driver and PyPI's selenium (scripts/bootstrap.sh installs them). Exit
# status: 0 all passed, 1 a test failed, 64 usage.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }
update=0
filter=()
while (($#)); do
  case "$1" in
    --update-screenshots) update=1 ;;
    -k) [ $# -ge 2 ] || { echo "page-test: -k needs a pattern" >&2; exit 64; }; filter=(-k "$2"); shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "page-test: unknown argument $1 (see --help)" >&2; exit 64 ;;
  esac
  shift
done

for tool in /usr/bin/chromium /usr/bin/chromedriver; do
  [ -x "$tool" ] || { echo "page-test: $tool is missing: run scripts/bootstrap.sh" >&2; exit 1; }
done
python3 -c 'import selenium' 2>/dev/null || { echo "page-test: Python's selenium is missing: run scripts/bootstrap.sh" >&2; exit 1; }

missing=0
for program in lepton-chat lepton-risk lepton-diagnose; do
  [ -x ".build/release/$program" ] || missing=1
done
if ((missing)); then
  echo "page-test: building the release programs" >&2
  # shellcheck disable=SC2086 # LEPTON_BUILD_FLAGS holds several flags
  swift build -c release ${LEPTON_BUILD_FLAGS:--Xswiftc -enable-testing}
fi

# The services' session stores and temporary files stay in a folder removed on every exit.
work=$(mktemp -d -t lepton-page-test-XXXXXX)
trap 'rm -rf "$work"' EXIT
export TMPDIR="$work"
export LEPTON_PAGES_DIR="${LEPTON_PAGES_DIR:-/tmp/lepton-pages}"
export LEPTON_UPDATE_SCREENSHOTS="$update"
mkdir -p "$LEPTON_PAGES_DIR"

# Bounded: a hung browser or service must not hold CI (each wait inside the tests is bounded too).
timeout --kill-after=30 1800 python3 -m unittest discover -s Tests/Pages -p 'test_*.py' -v "${filter[@]}"
echo "page-test: screenshots in $LEPTON_PAGES_DIR" >&2
