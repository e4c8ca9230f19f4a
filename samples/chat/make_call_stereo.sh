#!/usr/bin/env bash
# Builds call-stereo.wav: a short bank call recorded as contact centres record them, the agent
# on the left channel and the caller on the right (8 kHz G.711 µ-law, as a phone line delivers
# it). Both voices are espeak-ng
# (deterministic for a given espeak-ng version); each side is silent while the other speaks.
#   bash samples/chat/make_call_stereo.sh   (needs espeak-ng and sox)
set -euo pipefail
cd "$(dirname "$0")"
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
say() { espeak-ng -v "$1" -s 150 -w "$t/raw.wav" "$2"; sox "$t/raw.wav" -r 16000 -c 1 -b 16 "$t/$3.wav"; }
say en-us "Thank you for calling. How can I help you today?" a1
say en-gb+f3 "Hi. I think my debit card was stolen, and I need to block it." c1
say en-us "I am sorry to hear that. I have blocked the card ending in four two one seven." a2
say en-gb+f3 "Thank you. Can you send me a new one?" c2
# Lay the turns out on one timeline: each turn starts 0.6 s after the previous one ends.
left=(); right=(); at=0.5
for turn in a1 c1 a2 c2; do
  d=$(soxi -D "$t/$turn.wav")
  if [ "${turn:0:1}" = a ]; then left+=("$t/$turn.wav:$at"); else right+=("$t/$turn.wav:$at"); fi
  at=$(python3 -c "print(round($at + $d + 0.6, 3))")
done
total=$at
side() { # side OUT FILE:START...: the turns placed at their start times on a silent track of $total s
  local out=$1; shift; local parts=()
  for item in "$@"; do
    local f=${item%%:*} s=${item##*:}
    sox "$f" "$t/p$(basename "$f")" pad "$s" 0
    parts+=(-v 1 "$t/p$(basename "$f")")
  done
  sox -m "${parts[@]}" "$t/side.wav"
  sox "$t/side.wav" "$out" pad 0 "$total" trim 0 "$total"
}
side "$t/left.wav" "${left[@]}"
side "$t/right.wav" "${right[@]}"
sox -M "$t/left.wav" "$t/right.wav" -r 8000 -e u-law -b 8 call-stereo.wav sinc 300-3400
soxi call-stereo.wav >&2
