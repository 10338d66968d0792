#!/usr/bin/env bash
# Prints README's table of the training techniques on stories260K, each measured by
# `squeeze eval` against the unmodified model on the second half of
# tinystories-valid-100.noeot.txt (by lines); techniques that train on a file get the first
# half, so nothing is scored on text it was trained on (text=teacher: sampled from the model).
# Usage: scripts/training-table.sh [path/to/squeeze]   (after scripts/build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/stories-halves.sh

# Each row: one or more --apply steps separated by " + ".
rows=(
  "rtn:bits=3,group=32"
  "qat:bits=3,group=32,text=$work/calib.txt"
  "qat:bits=3,group=32"
  "rtn:bits=3,group=32 + finetune:lora_rank=8,loss=kd,text=$work/calib.txt"
  "rtn:bits=3,group=32 + finetune:lora_rank=8,loss=kd,merge=true,text=$work/calib.txt"
  "distill:layers=3,steps=300"
  "distill:layers=3,steps=300,mode=blackbox"
)
echo "| technique (\`--apply\`, text file = first half) | bytes | bits/weight | perplexity | mean KLD | top-1 agreement |"
echo "|---|---:|---:|---:|---:|---:|"
for row in "${rows[@]}"; do
  args=()
  IFS='+' read -ra steps <<<"$row"
  for s in "${steps[@]}"; do args+=(--apply "$(echo "$s" | xargs)"); done
  "$sq" eval --model "$model" --text "$work/eval.txt" "${args[@]}" --no-latency --json -q \
    --cache-dir "$work/cache" >"$work/out.json"
  python3 - "$work/out.json" "${row//$work\//}" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
a, s = j["accuracy"], j["size"]
label = " + ".join("`%s`" % p.strip() for p in sys.argv[2].split("+"))
print("| %s | %d | %.3f | %.4f | %.6f | %.2f%% |" % (label, s["bytes"], s["bits_per_weight"],
      a["perplexity"], a["kld"]["mean"], 100 * a["top1_agreement"]))
PY
done
