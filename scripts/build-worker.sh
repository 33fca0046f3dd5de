#!/usr/bin/env bash
# Builds the Worker into build/ (build/index.js + build/index_bg.wasm) with the size-tuned release
# profile. wrangler.toml's [build] command (so `npx wrangler deploy` and `wrangler dev` run it), and
# used by ./scripts/test.sh. Installs only the build tools (scripts/build-tools.sh).
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

# `wrangler dev` (which sets WRANGLER_COMMAND=dev) runs this command twice on start, once for the
# entry point and once when its watcher on src/ is ready, then on every change in src/. There, a build
# whose inputs are all older than the last build's is skipped: one build on start, none for nothing.
inputs_stamp=build/.inputs-stamp
if [ "${WRANGLER_COMMAND:-}" = dev ] && [ -f "$inputs_stamp" ] && [ -f build/index.js ] &&
  [ -f build/index_bg.wasm ] && [ -z "$(find src Cargo.toml Cargo.lock scripts/build-worker.sh \
    scripts/build-tools.sh build/index.js build/index_bg.wasm -newer "$inputs_stamp" -print | head -n 1)" ]; then
  echo "[build-worker] build/ is up to date with src/, Cargo.toml and Cargo.lock: not rebuilt" >&2
  exit 0
fi

# shellcheck source=build-tools.sh
source "$repo_root/scripts/build-tools.sh"

# worker-build: cargo build, wasm-bindgen, the JavaScript shim. --no-opt: its own wasm-opt pass keeps
# the names section (--debuginfo, about a fifth of the binary) and is redone below anyway.
worker-build --no-opt --release --features worker
# With panic="abort" nothing reads the names section, and the binary size is the cold start: -Oz and
# strip it. The feature list is worker-build's own, so no newer encodings than workerd supports are
# emitted. An unchanged binary reuses the last result instead of running wasm-opt again.
wasm_opt_cached build/index_bg.wasm -Oz --strip-debug \
  --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling
raw=$(wc -c < build/index_bg.wasm)
gz=$(gzip -9 -c build/index_bg.wasm | wc -c)
echo "[build-worker] build/index_bg.wasm: $((raw)) bytes raw, $((gz)) bytes gzip" >&2
touch "$inputs_stamp"
