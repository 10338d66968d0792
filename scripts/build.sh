#!/usr/bin/env bash
# Configures and builds squeeze (Release) in ./build, and the dashboard in web/dist (when npm
# is installed). CUDA targets build when nvcc is found.
# Extra arguments go to cmake's configure step (e.g. -DSQUEEZE_CUDA=OFF).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j"$(nproc)"
if command -v npm >/dev/null; then
  scripts/build-web.sh
else
  echo "build: npm is not installed, so the dashboard (web/) is not built (scripts/install-deps.sh)"
fi
