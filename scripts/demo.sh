#!/usr/bin/env bash
# README's first command: the whole of squeeze on one machine. Installs what is missing,
# builds the binaries and the dashboard, trains the demo model (or reuses it from the cache),
# starts a coordinator on an SQLite file with one CPU worker inside it, submits a sweep that
# covers every technique family, shows its progress, prints the results and the Pareto front,
# and keeps the dashboard up at the printed URL until Ctrl-C.
#
#   scripts/demo.sh [--no-serve] [--screenshot FILE] [--port N]
#
# --no-serve: stop after printing the results (timing runs, CI). --screenshot FILE: save the
# sweep view as a PNG (headless Chromium). The model is cached in $SQUEEZE_CACHE (default
# ~/.cache/squeeze); the database, logs and sweep file go to build/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
serve=1 screenshot="" port=${SQUEEZE_DEMO_PORT:-8080}
while [ $# -gt 0 ]; do
  case "$1" in
    --no-serve) serve=0 ;;
    --screenshot) screenshot=$(realpath -m "$2"); shift ;;
    --port) port=$2; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
cache=${SQUEEZE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/squeeze}
work=build/demo
sq=build/service/cli/squeeze

elapsed() { local s=$(($(date +%s) - t0)); printf '%d:%02d' $((s / 60)) $((s % 60)); }
step() { printf '\n== %s  [%s]\n' "$1" "$(elapsed)"; }

step "install what is missing"
scripts/install-deps.sh

step "build (squeeze, squeeze-coordinator, squeeze-worker, the dashboard)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target squeeze squeeze-coordinator squeeze-worker
scripts/build-web.sh

# The demo model, in its own data root: trained once by `squeeze train` (the tiny preset on
# the built-in story corpus, 200 steps instead of 400: the validation loss is near its final
# value by then) and reused from the cache after. Sets root (the coordinator's
# --data-root); examples/demo.yaml names the model and texts inside it.
demo_model() {
  root="$cache/demo"
  if [ -f "$root/tiny/model.safetensors" ] && [ -f "$root/tiny/valid.txt" ]; then
    echo "demo: reusing the model in $root/tiny (delete it to train again)"
    return
  fi
  mkdir -p "$root"
  rm -rf "$root/tiny.partial"
  "$sq" train --out "$root/tiny.partial" --preset tiny --steps 200
  mv "$root/tiny.partial" "$root/tiny"
}
step "demo model"
demo_model

step "coordinator and worker"
mkdir -p "$work"
rm -f "$work"/squeeze.db* "$work/ports.json"
pids=()
stop_all() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_all EXIT
trap 'echo; echo "demo: stopping"; exit 0' INT TERM
start_coordinator() {
  build/service/squeeze-coordinator --db "$work/squeeze.db" --data-root "$root" \
    --listen 127.0.0.1:0 --http "127.0.0.1:$1" --ports-file "$work/ports.json" \
    --local-workers 1 >"$work/coordinator.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do
    if [ -f "$work/ports.json" ]; then pids+=("$pid"); return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
if ! start_coordinator "$port"; then
  echo "demo: port $port is taken; using a free port"
  start_coordinator 0 || { cat "$work/coordinator.log"; exit 1; }
fi
grpc=127.0.0.1:$(sed 's/.*"grpc": \([0-9]*\).*/\1/' "$work/ports.json")
http_port=$(sed 's/.*"http": \([0-9]*\).*/\1/' "$work/ports.json")
echo "coordinator: gRPC $grpc, dashboard http://127.0.0.1:$http_port/ (log $work/coordinator.log)"
echo "worker: one CPU worker inside the coordinator (--local-workers 1)"

step "sweep: every technique family"
cp examples/demo.yaml "$work/sweep.yaml"
echo "sweep file: $work/sweep.yaml"
set +e
"$sq" submit "$work/sweep.yaml" --coordinator "$grpc" --watch 2>&1 | tee "$work/submit.log"
submitted=${PIPESTATUS[0]}
set -e
id=$(sed -n 's/^sweep \([0-9]*\):.*/\1/p' "$work/submit.log" | head -1)
[ -n "$id" ] || { echo "demo: the sweep was not accepted"; exit 1; }

step "results of sweep $id"
"$sq" results "$id" --coordinator "$grpc"
step "Pareto front: mean KL divergence against bits per weight"
"$sq" results "$id" --coordinator "$grpc" --pareto kld_mean,bits_per_weight
if [ "$submitted" != 0 ]; then
  step "jobs that failed"
  "$sq" status "$id" --coordinator "$grpc" || true
fi

url="http://127.0.0.1:$http_port/#/sweeps/$id"
if [ -n "$screenshot" ]; then
  node web/tests/screenshot.mjs "$url" "$screenshot"
fi
printf '\ndemo: done in %s\n' "$(elapsed)"
if [ "$serve" = 1 ]; then
  printf '\n  dashboard: %s\n\n  (Ctrl-C stops the coordinator and its worker)\n' "$url"
  wait
fi
