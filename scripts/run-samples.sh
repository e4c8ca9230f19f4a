#!/usr/bin/env bash
# Sets up everything (Debian packages, pretrained weights), builds the programs in release mode
# and runs each of them on samples/ — the first thing a newcomer runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
echo "== building (release) ==" >&2
# One product per call: `swift build` keeps only the last of several --product options.
for product in lepton-chat lepton-risk lepton-diagnose; do
  # LEPTON_BUILD_FLAGS: CI builds with the test build's flags (-Xswiftc -enable-testing) so that
  # scripts/test.sh reuses this build rather than compiling everything a second time.
  swift build -c release ${LEPTON_BUILD_FLAGS:-} --product "$product" >&2
done
B=.build/release
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

echo; echo "== lepton-chat: a caller on a phone line (8 kHz mu-law) and a typed conversation =="
$B/lepton-chat transcribe samples/chat/jfk.wav samples/chat/jfk_tel8k.wav
$B/lepton-chat respond --store "$tmp/sessions.sqlite" --session demo --text "hello"
$B/lepton-chat respond --store "$tmp/sessions.sqlite" --session demo --text "I'd like to send two hundred and fifty dollars"
$B/lepton-chat respond --store "$tmp/sessions.sqlite" --session demo --text "to my landlord"
$B/lepton-chat respond --store "$tmp/sessions.sqlite" --session demo --text "yes"

echo; echo "== lepton-risk: score the sample bank with the shipped model, explain the riskiest row =="
$B/lepton-risk score --model samples/risk/model --transactions samples/risk/transactions.csv --top 5
$B/lepton-risk score --model samples/risk/model --transactions samples/risk/transactions.csv --accounts --top 5
top=$($B/lepton-risk score --model samples/risk/model --transactions samples/risk/transactions.csv --top 1 --json | sed -n 's/.*"row":\([0-9]*\).*/\1/p')
$B/lepton-risk explain --model samples/risk/model --transactions samples/risk/transactions.csv "$top"

echo; echo "== lepton-diagnose: the sample studies (scan + report) =="
# case6.dcm is a DICOM structured report (no image): it shows the per-file error line and
# the batch's exit code 3 ("some inputs failed"), which is expected here.
status=0; $B/lepton-diagnose analyze samples/diagnose/studies --format json || status=$?
[ "$status" -eq 0 ] || [ "$status" -eq 3 ]
