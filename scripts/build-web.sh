#!/usr/bin/env bash
# Builds the dashboard (web/src -> web/dist, served by squeeze-coordinator at /). Needs
# web/node_modules (scripts/install-deps.sh runs npm ci); skips the bundling when dist/ is
# newer than every source file.
set -euo pipefail
cd "$(dirname "$0")/../web"
if [ ! -d node_modules ]; then
  echo "build-web: web/node_modules is missing: run scripts/install-deps.sh (npm ci in web/)" >&2
  exit 1
fi
if [ -f dist/index.html ] &&
   [ -z "$(find src build.mjs package-lock.json -newer dist/index.html -print -quit)" ]; then
  echo "build-web: web/dist is up to date"
  exit 0
fi
npm run --silent build
