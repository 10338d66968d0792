#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every test (GPU tests skip
# without a GPU), runs the parser tests again under AddressSanitizer + UBSan, and checks
# formatting. This is what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

scripts/install-deps.sh

echo "== format"
scripts/check-format.sh

echo "== build (Release)"
scripts/build.sh

echo "== tests"
(cd build && ctest --output-on-failure -j"$jobs" --timeout 600)

echo "== parser tests under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSQUEEZE_PARSERS_ONLY=ON \
  -DSQUEEZE_BUILD_BENCH=OFF -DSQUEEZE_CUDA=OFF \
  "-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
  >/dev/null
cmake --build build-asan --target model_test -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j"$jobs" --timeout 600)
