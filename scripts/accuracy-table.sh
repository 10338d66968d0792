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
  "magnitude:sparsity=0.5"
  "wanda:sparsity=0.5"
  "sparsegpt:sparsity=0.5"
  "nm_sparse:pattern=2:4"
  "nm_sparse:pattern=2:4,criterion=wanda"
  "nm_sparse:pattern=2:4,criterion=sparsegpt"
  "nm_sparse:pattern=4:8,criterion=sparsegpt"
  "nm_sparse:pattern=2:4,criterion=sparsegpt,values=f16"
)

# One table row per spec; a spec of several words is a pipeline (one --apply per word).
# $1: evaluation context (tokens per window, BOS included); the other arguments: the specs.
# With wide=1, two more columns: size against the unmodified model and the KV cache.
table() {
  local context=$1
  shift
  local extra_head="" extra_rule=""
  if [ "${wide:-0}" = 1 ]; then
    extra_head=" size / unmodified | KV cache per token (bound) |"
    extra_rule="---:|---|"
  fi
  echo "| technique (\`--apply\`) | bits/weight (all) | bits/weight (layer matrices) | perplexity | mean KLD | top-1 agreement |$extra_head"
  echo "|---|---:|---:|---:|---:|---:|$extra_rule"
  for spec in "$@"; do
    applies=()
    for step in $spec; do applies+=(--apply "$step"); done
    out=$("$sq" eval --model "$model" --text "$work/eval.txt" --calib-text "$work/calib.txt" \
      "${applies[@]}" --context "$context" --no-latency --no-cache 2>&1) || {
      echo "| \`$spec\` | failed: $(echo "$out" | tail -n 1) | | | | |"
      continue
    }
    echo "$out" | awk -v spec="$spec" -v wide="${wide:-0}" '
      /^  bits per weight /      { bpw = $4 }
      /^  layer bits per weight/ { lbpw = $5 }
      /^  perplexity  /          { ppl = $2 }
      /^  KLD mean/              { kld = $4 }
      /^  top-1 agreement/       { top1 = $3 }
      /^  size \/ baseline/      { ratio = $4 }
      /^  KV cache per token/    { kv = $5 " " $6 }
      /^  KV cache bound/        { bound = " (" $4 " positions)" }
      END {
        printf "| `%s` | %s | %s | %s | %s | %s |", spec, bpw, lbpw, ppl, kld, top1
        if (wide == 1) printf " %s | %s%s |", ratio, kv, bound
        printf "\n"
      }'
  done
}

table 256 "${specs[@]}"
echo
echo "stories260K on the second half of $(basename "$text") ($(wc -l <"$work/eval.txt") lines);"
echo "calibration on the first half; squeeze eval defaults (context 256, every token once)."

# Attention variants and structured pruning, at the context stories260K was trained for (512).
attention_specs=(
  "attention_kernel:kernel=naive"
  "flash"
  "sliding_window:window=256"
  "sliding_window:window=64"
  "sinks:sinks=4,window=60"
  "block_sparse:block=16,local=4,stride=4"
  "gqa:groups=2"
  "mqa"
  "head_prune:fraction=0.25"
  "head_prune:fraction=0.25,score=activation"
  "ffn_prune:fraction=0.25"
  "ffn_prune:fraction=0.25,score=activation"
  "ffn_prune:fraction=0.25,score=activation rtn:bits=4,group=32"
)
echo
wide=1 table 512 "${attention_specs[@]}"
echo
echo "The same evaluation at context 512 (windows of 511 text tokens after BOS)."
