#!/usr/bin/env bash
# The build tools, and only those: what wrangler.toml's [build] command (scripts/build-worker.sh),
# scripts/build-pkg.sh and scripts/dev.sh need. Each is installed only when missing or at the wrong
# version:
#   - the Rust target wasm32-unknown-unknown (rustup);
#   - wasm-bindgen-cli at exactly the version Cargo.lock pins for the wasm-bindgen crate, and
#     worker-build at a pinned version: `cargo install --locked`, and when that fails (a registry
#     mirror may lack a version the tool's lock pins) once more without --locked, said in the log;
#   - the npm packages of the root package.json (wrangler, miniflare, binaryen for wasm-opt), at the
#     versions of package-lock.json.
# Nothing else: no system packages, no sudo, no browser, no Node.js download, no test packages (those
# are scripts/test-tools.sh's, for the test command only). Source it: it exports WASM_BINDGEN_BIN and
# WASM_OPT_BIN, so that worker-build downloads nothing from GitHub, and puts node_modules/.bin on PATH.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORKER_BUILD_VERSION=0.8.7
# wrangler 4.86 needs Node.js 20.3; scripts/dev.sh starts the demo origin with --env-file (20.6).
TOOLS_NODE_MIN=20.6.0

log() { printf '[build-tools] %s\n' "$*" >&2; }
die() { printf '[build-tools] %s\n' "$*" >&2; exit 1; }

cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$cargo_bin:$PATH"
if ! command -v cargo >/dev/null || ! command -v rustup >/dev/null; then
  die "cargo and rustup not found: install Rust with rustup (https://rustup.rs), then run this again"
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  die "node and npm not found: install Node.js $TOOLS_NODE_MIN or later (22 or 24 LTS recommended)"
fi
if ! node -e '
  const [need, have] = process.argv.slice(1).map((v) => v.split(".").map(Number));
  const i = need.findIndex((part, k) => part !== have[k]);
  process.exit(i >= 0 && have[i] < need[i] ? 1 : 0);
' "$TOOLS_NODE_MIN" "$(node -p process.versions.node)"; then
  die "Node.js $(node -p process.versions.node) is too old for the tools: wrangler and scripts/dev.sh need $TOOLS_NODE_MIN or later"
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding Rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# `cargo install --locked`, or without --locked when the registry cannot serve the locked versions.
cargo_install() {
  local crate=$1 version=$2
  log "installing $crate $version with cargo (a few minutes, once)"
  if cargo install "$crate" --version "$version" --locked --force; then
    return 0
  fi
  log "cargo install --locked $crate $version failed (above): the registry lacks a dependency version"
  log "its Cargo.lock pins. Installing it again WITHOUT --locked (newest compatible dependencies)."
  cargo install "$crate" --version "$version" --force
}

wasm_bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' \
  "$repo_root/Cargo.lock")
[ -n "$wasm_bindgen_version" ] || die "could not read the wasm-bindgen version from Cargo.lock"
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wasm_bindgen_version" ]; then
  cargo_install wasm-bindgen-cli "$wasm_bindgen_version"
fi
if [ "$(worker-build --version 2>/dev/null)" != "$WORKER_BUILD_VERSION" ]; then
  cargo_install worker-build "$WORKER_BUILD_VERSION"
fi

# The root npm packages: reinstalled only when package-lock.json changed since the last install here.
# Not `npm ci`: some registry mirrors lack workerd's builds for other platforms, which `npm ci`
# insists on finding; `npm install --no-save` installs the locked versions for this platform and
# leaves package.json and the lock alone.
npm_stamp="$repo_root/node_modules/.sessiongate-lock-stamp"
if [ ! -f "$npm_stamp" ] || ! cmp -s "$npm_stamp" "$repo_root/package-lock.json"; then
  log "installing the npm packages of package.json (wrangler, miniflare, binaryen)"
  (cd "$repo_root" && npm install --no-save --no-audit --no-fund --loglevel=error)
  cp "$repo_root/package-lock.json" "$npm_stamp"
fi

export WASM_BINDGEN_BIN="$cargo_bin/wasm-bindgen"
export WASM_OPT_BIN="$repo_root/node_modules/.bin/wasm-opt"
export PATH="$repo_root/node_modules/.bin:$PATH"

# wasm_opt_cached FILE ARGS...: `wasm-opt FILE ARGS... -o FILE`, unless FILE is byte for byte the
# input of the last run on a file of that name with the same arguments and wasm-opt: then that run's
# output is copied instead (an unchanged binary is not optimized again).
wasm_opt_cached() {
  local file=$1
  shift
  local cache
  cache="$repo_root/target/wasm-opt-cache/$(basename "$file")"
  mkdir -p "$cache"
  { "$WASM_OPT_BIN" --version; printf '%s\n' "$@"; } > "$cache/args.next"
  if [ -f "$cache/args" ] && cmp -s "$cache/args.next" "$cache/args" && cmp -s "$file" "$cache/input.wasm"; then
    cp "$cache/output.wasm" "$file"
    printf "[build-tools] wasm-opt skipped: %s is unchanged since the last build\n" "$file" >&2
    return 0
  fi
  rm -f "$cache/args"
  cp "$file" "$cache/input.wasm"
  "$WASM_OPT_BIN" "$file" "$@" -o "$file"
  cp "$file" "$cache/output.wasm"
  mv "$cache/args.next" "$cache/args"
}
