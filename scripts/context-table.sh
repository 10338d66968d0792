#!/usr/bin/env bash
# Prints README's context-length tables: latency and memory of attention variants at contexts
# of 256, 1k, 4k and 16k tokens on a random-weight model, then flash against naive attention
# for an 8k-token prompt prefilled in one batch.
# Usage: scripts/context-table.sh [path/to/squeeze]   (after scripts/build.sh)
#        ROUNDS=N (default 3) measured rounds per point; each runs every variant once.
set -euo pipefail
cd "$(dirname "$0")/.."
sq=${1:-build/service/cli/squeeze}
rounds=${ROUNDS:-3}
[ -e "$sq" ] || { echo "context-table: $sq not found (run scripts/build.sh)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# 4 heads of 64 dimensions, 2 layers: attention dominates at long contexts.
"$sq" make-model --out "$work/m" --dim 256 --hidden 768 --layers 2 --heads 4 --kv-heads 4 \
  --vocab 2048 --seq-len 16640 >&2

echo "### Latency and memory against context length"
echo
"$sq" bench --model "$work/m" --contexts 256,1k,4k,16k --rounds "$rounds" --generate 32 --quiet \
  --variant none \
  --variant "sliding_window:window=1024" \
  --variant "sinks:sinks=4,window=1020" \
  --variant "block_sparse:block=64,local=4,stride=8" \
  --variant "gqa:groups=2" \
  --variant "mqa" \
  --variant "kv_cache:format=int8"
echo
echo "### Flash against naive attention: an 8k-token prompt in one prefill batch"
echo
"$sq" bench --model "$work/m" --contexts 8k --batch 8192 --rounds "$rounds" --generate 4 --quiet \
  --variant "attention_kernel:kernel=naive" --variant "flash"
