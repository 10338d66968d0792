#!/usr/bin/env bash
# Installs the Debian 12 packages squeeze needs to build and test, only those missing, then
# the dashboard's npm packages (web/node_modules, from package-lock.json) when they are
# missing or older than the lock file. Idempotent: a second run installs nothing. Uses sudo
# when not root.
set -euo pipefail

packages=(
  build-essential cmake pkgconf git clang-format
  libabsl-dev libpcre2-dev nlohmann-json3-dev libcli11-dev libxxhash-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  prometheus-cpp-dev libsqlite3-dev libyaml-cpp-dev libcivetweb-dev
  prometheus openssl
)
# The dashboard (web/) and its browser test: Node.js with npm, and Chromium. A node or
# chromium already on PATH (e.g. NodeSource's nodejs, which bundles npm) counts as present.
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)
command -v chromium >/dev/null || packages+=(chromium)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "install-deps: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

web="$(dirname "$0")/../web"
if [ ! -f "$web/node_modules/.package-lock.json" ] ||
   [ "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]; then
  echo "install-deps: npm ci in web/"
  (cd "$web" && npm ci --no-audit --no-fund --loglevel=error)
fi
