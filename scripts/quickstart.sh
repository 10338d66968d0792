#!/usr/bin/env bash
# README's first command: installs what is missing, builds, and runs the main job:
# `squeeze eval` on stories260K (from ../shared/assets) against itself as the baseline, or,
# without the assets, on a small random-weight model that it makes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
sq=build/service/cli/squeeze
assets=${SQUEEZE_ASSETS:-../shared/assets}
if [ -f "$assets/models/stories260K/stories260K.bin" ]; then
  model=$assets/models/stories260K/stories260K.bin
  echo "== squeeze generate (greedy, from BOS)"
  "$sq" generate --model "$model" --steps 60
  echo "== squeeze eval"
  "$sq" eval --model "$model" --baseline "$model" \
    --text "$assets/text/tinystories-valid-100.noeot.txt"
  echo "== squeeze eval --apply rtn:bits=4,group=32 (against the unmodified model)"
  "$sq" eval --model "$model" --text "$assets/text/tinystories-valid-100.noeot.txt" \
    --apply rtn:bits=4,group=32 --no-latency
else
  echo "quickstart: $assets not found; evaluating a random-weight model instead"
  "$sq" make-model --out build/random-model --dim 256 --hidden 688 --layers 4 --heads 8
  "$sq" eval --model build/random-model
fi
