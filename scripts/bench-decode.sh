#!/usr/bin/env bash
# Decode speed per weight format on one random-weight model larger than L3, next to F32 in
# the same run. Builds nothing: expects build/service/cli/squeeze (or the binary given as the
# first argument). Writes a 125m-preset F32 model (~500 MB) to a temporary folder, then runs
# `squeeze bench --format F` for each format, which converts EVERY matrix (embedding and
# classifier included) to F before measuring, on 2 threads. Prints a Markdown table.
#
# Usage: scripts/bench-decode.sh [path/to/squeeze]
# Environment: FORMATS (space-separated list, f32 first), THREADS (default 2), REPEATS
# (default 5), GENERATE (decode tokens per repeat, default 32), PRESET (default 125m).
set -euo pipefail

SQUEEZE=${1:-build/service/cli/squeeze}
FORMATS=${FORMATS:-"f32 f16 bf16 q8_channel q8_g32 q4_g32 q4_g64 q4_g128 q4_g32_asym nf4 fp4 fp8_e4m3 q3_g32 q2_g32 w8a8"}
THREADS=${THREADS:-2}
REPEATS=${REPEATS:-5}
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
params=$(sed -n 's/.*, \([0-9]*\) parameters.*/\1/p' <<<"$made")
if [[ -z "$params" ]]; then
  echo "bench-decode: could not read the parameter count from: $made" >&2
  exit 1
fi
echo "model: $made" >&2
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), threads $THREADS" >&2

# field NAME OUTPUT: the first number on the line that starts with NAME.
field() {
  sed -n "s/^$1[[:space:]]*\([^ ,]*\).*/\1/p" <<<"$2" | head -1
}

echo "| format | bits/weight | model MB | decode ms/token (median) | speed-up vs f32 | % of bandwidth limit |"
echo "|---|---:|---:|---:|---:|---:|"
f32_ms=""
for f in $FORMATS; do
  if ! out=$("$SQUEEZE" bench --model "$tmp/model" --format "$f" --threads "$THREADS" \
    --prompt 16 --generate "$GENERATE" --repeats "$REPEATS" --quiet 2>&1); then
    echo "| $f | failed: $(tail -1 <<<"$out") | | | | |"
    continue
  fi
  mb=$(sed -n 's/^weights[[:space:]]*[^,]*, \([0-9.]*\) MB.*/\1/p' <<<"$out")
  ms=$(field decode "$out")
  share=$(field "share of limit" "$out")
  [[ -z "$f32_ms" ]] && f32_ms=$ms
  awk -v f="$f" -v mb="$mb" -v ms="$ms" -v base="$f32_ms" -v share="$share" -v p="$params" \
    'BEGIN { printf "| %s | %.2f | %.1f | %.2f | %.2fx | %s |\n", f, mb * 8e6 / p, mb, ms,
             base / ms, share }'
done
