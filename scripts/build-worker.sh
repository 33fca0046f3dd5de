#!/usr/bin/env bash
# Builds the Worker into build/ (build/index.js + build/index_bg.wasm) with the size-tuned release
# profile. Used by wrangler.toml's [build] command, ./scripts/dev.sh and ./scripts/test.sh.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
# shellcheck source=ensure-tools.sh
source "$repo_root/scripts/ensure-tools.sh"
worker-build --release --features worker
raw=$(wc -c < build/index_bg.wasm)
gz=$(gzip -9 -c build/index_bg.wasm | wc -c)
echo "[build-worker] build/index_bg.wasm: $raw bytes raw, $gz bytes gzip" >&2
