#!/usr/bin/env bash
# Fails when a C++/CUDA source tracked by git does not match .clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files --cached --others --exclude-standard \
  '*.cc' '*.h' '*.cu' '*.cuh' | while read -r f; do [ -f "$f" ] && echo "$f"; done)
if [ ${#files[@]} -eq 0 ]; then echo "check-format: no sources"; exit 0; fi
if clang-format --dry-run --Werror "${files[@]}"; then
  echo "check-format: ${#files[@]} files match .clang-format"
else
  echo "check-format: run 'clang-format -i' on the files above" >&2
  exit 1
fi
