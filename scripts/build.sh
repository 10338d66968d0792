#!/usr/bin/env bash
# Configures and builds squeeze (Release) in ./build. CUDA targets build when nvcc is found.
# Extra arguments go to cmake's configure step (e.g. -DSQUEEZE_CUDA=OFF).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j"$(nproc)"
