#!/usr/bin/env bash
# Sets up everything (Debian packages, pretrained weights), builds the programs in release mode
# and runs each of them on samples/ — the first thing a newcomer runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
echo "== building (release) ==" >&2
swift build -c release --product lepton-chat --product lepton-risk --product lepton-diagnose >&2
B=.build/release
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

echo; echo "== lepton-chat: a caller on a phone line (8 kHz mu-law) and a typed conversation =="
for f in samples/chat/*.wav; do
  [ -e "$f" ] && $B/lepton-chat transcribe "$f"
done
$B/lepton-chat respond --store "$tmp/sessions.sqlite" --session demo --text "hello"
$B/lepton-chat respond --store "$tmp/sessions.sqlite" --session demo --text "I'd like to send two hundred and fifty dollars"
$B/lepton-chat respond --store "$tmp/sessions.sqlite" --session demo --text "to my landlord"
$B/lepton-chat respond --store "$tmp/sessions.sqlite" --session demo --text "yes"

echo; echo "== lepton-risk: simulate a bank, train, score the riskiest transactions =="
$B/lepton-risk simulate --accounts 1500 --days 20 --seed 7 --out "$tmp/tx.csv" --patterns "$tmp/patterns.csv"
$B/lepton-risk train --transactions "$tmp/tx.csv" --out "$tmp/risk-model"
$B/lepton-risk score --model "$tmp/risk-model" --transactions "$tmp/tx.csv" --top 5

echo; echo "== lepton-diagnose: the sample studies (scan + report) =="
$B/lepton-diagnose analyze samples/diagnose/studies --format json
