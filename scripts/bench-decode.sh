#!/usr/bin/env bash
# Decode speed per weight format on one random-weight model larger than L3, against F32 in the
# same run. Builds nothing: expects build/service/cli/squeeze (or the binary given as the first
# argument). Writes a PRESET-sized F32 model (125m: ~500 MB) to a temporary folder, then runs
# one `squeeze bench` over every format: each matrix (embedding and classifier included) is
# converted to the format, and ROUNDS rounds each decode GENERATE tokens once per format, in
# turn, on THREADS threads. Prints a Markdown table: medians over the rounds, speed-ups as
# medians of the per-round ratios to f32.
#
# Usage: scripts/bench-decode.sh [path/to/squeeze]
# Environment: FORMATS (space-separated list, f32 first), THREADS (default 2), ROUNDS
# (default 15), GENERATE (decode tokens per round, default 32), PRESET (default 125m).
set -euo pipefail

SQUEEZE=${1:-build/service/cli/squeeze}
FORMATS=${FORMATS:-"f32 f16 bf16 q8_channel q8_g32 q4_g32 q4_g64 q4_g128 q4_g32_asym nf4 fp4 fp8_e4m3 q3_g32 q2_g32 w8a8"}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-15}
GENERATE=${GENERATE:-32}
PRESET=${PRESET:-125m}

if [[ ! -x "$SQUEEZE" ]]; then
  echo "bench-decode: $SQUEEZE is not an executable (build the squeeze target first)" >&2
  exit 2
fi
first=${FORMATS%% *}
if [[ "$first" != "f32" ]]; then
  echo "bench-decode: FORMATS must start with f32 (the baseline of the speed-up column)" >&2
  exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-decode.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

made=$("$SQUEEZE" make-model --preset "$PRESET" --out "$tmp/model")
echo "model: $made" >&2
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), threads $THREADS" >&2

"$SQUEEZE" bench --model "$tmp/model" --format "${FORMATS// /,}" --threads "$THREADS" \
  --prompt 16 --generate "$GENERATE" --rounds "$ROUNDS" --quiet
