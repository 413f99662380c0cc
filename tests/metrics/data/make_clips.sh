#!/usr/bin/env bash
# Regenerates the three 3-second speech clips the metric tests use (16 kHz mono, 16-bit FLAC).
# Needs espeak-ng and sox (Debian packages); the tests themselves never do.
# espeak-ng output can differ slightly between versions; the committed clips came from 1.51.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

speak() {  # name voice pitch text
    espeak-ng -v "$2" -s 165 -p "$3" -w "$work/$1.wav" "$4"
    # 0.1 s of lead-in silence, then cut or pad to exactly 3.0 s.
    sox -R "$work/$1.wav" -r 16000 -b 16 -c 1 -C 8 "$1.flac" rate -v pad 0.1 1 trim 0 3.0
}

speak male    en-us+m3 50 "The quick brown fox jumps over the lazy dog."
speak female  en-gb+f3 50 "She sells sea shells by the sea shore."
speak male2   en-us+m7 35 "Please bring these things with you from the store."
