#!/usr/bin/env bash
# Prints README's accuracy table: every technique applied to stories260K, measured by
# `squeeze eval` against the unmodified model. Calibration uses the first half of
# tinystories-valid-100.noeot.txt (by lines), evaluation the second half, so no technique is
# scored on the text it was calibrated on.
# Usage: scripts/accuracy-table.sh [path/to/squeeze]   (after scripts/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/stories-halves.sh

specs=(
  "precision:format=f32"
  "precision:format=tf32"
  "precision:format=f16"
  "precision:format=bf16"
  "precision:format=fp8_e4m3"
  "precision:format=fp8_e5m2"
  "rtn:bits=8,group=0"
  "rtn:bits=8,group=32"
  "smoothquant:alpha=0.5"
  "llm_int8:threshold=6"
  "rtn:bits=4,group=32"
  "rtn:bits=4,group=32,symmetric=false"
  "rtn:bits=4,group=128"
  "awq:bits=4,group=32"
  "gptq:bits=4,group=32"
  "gptq:bits=4,group=32,act_order=true"
  "nf4"
  "fp4"
  "rtn:bits=3,group=32"
  "awq:bits=3,group=32"
  "gptq:bits=3,group=32"
  "rtn:bits=3,group=32,symmetric=false"
  "awq:bits=3,group=32,symmetric=false"
  "gptq:bits=3,group=32,symmetric=false"
  "rtn:bits=2,group=32,symmetric=false"
  "awq:bits=2,group=32,symmetric=false"
  "gptq:bits=2,group=32,symmetric=false"
  "kv_cache:format=int8"
  "kv_cache:format=fp8_e4m3"
)

echo "| technique (\`--apply\`) | bits/weight (all) | bits/weight (layer matrices) | perplexity | mean KLD | top-1 agreement |"
echo "|---|---:|---:|---:|---:|---:|"
for spec in "${specs[@]}"; do
  out=$("$sq" eval --model "$model" --text "$work/eval.txt" --calib-text "$work/calib.txt" \
    --apply "$spec" --no-latency --no-cache 2>&1) || {
    echo "| \`$spec\` | failed: $(echo "$out" | tail -n 1) | | | | |"
    continue
  }
  echo "$out" | awk -v spec="$spec" '
    /^  bits per weight /      { bpw = $4 }
    /^  layer bits per weight/ { lbpw = $5 }
    /^  perplexity  /          { ppl = $2 }
    /^  KLD mean/              { kld = $4 }
    /^  top-1 agreement/       { top1 = $3 }
    END { printf "| `%s` | %s | %s | %s | %s | %s |\n", spec, bpw, lbpw, ppl, kld, top1 }'
done
echo
echo "stories260K on the second half of $(basename "$text") ($(wc -l <"$work/eval.txt") lines);"
echo "calibration on the first half; squeeze eval defaults (context 256, every token once)."
