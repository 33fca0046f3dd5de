#!/usr/bin/env bash
# Builds the Worker into build/ (build/index.js + build/index_bg.wasm) with the size-tuned release
# profile. Used by wrangler.toml's [build] command, ./scripts/dev.sh and ./scripts/test.sh.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
# shellcheck source=ensure-tools.sh
source "$repo_root/scripts/ensure-tools.sh"
worker-build --release --features worker
# worker-build runs wasm-opt with --debuginfo, which keeps the names section (about a fifth of the
# binary). With panic="abort" nothing reads it, and the binary size is the cold start: strip it.
# The feature list is worker-build's own, so no newer encodings than workerd supports are emitted.
wasm-opt build/index_bg.wasm -Oz --strip-debug \
  --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling \
  -o build/index_bg.wasm
raw=$(wc -c < build/index_bg.wasm)
gz=$(gzip -9 -c build/index_bg.wasm | wc -c)
echo "[build-worker] build/index_bg.wasm: $raw bytes raw, $gz bytes gzip" >&2
