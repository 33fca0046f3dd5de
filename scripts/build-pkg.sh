#!/usr/bin/env bash
# Builds the npm package's generated files into pkg/dist/ (not committed):
#   primitives.js + primitives_bg.wasm  from `--features js`        (cookie primitives: no Worker
#                                        runtime bindings, no JSON; Node, Workers, browsers)
#   origin.js + origin_bg.wasm          from `--features js-origin` (assertion verification)
#   gate.js + gate_bg.wasm              from `--features embed`     (the gate for JS Workers)
#   import.js + import_bg.wasm          from `--features js-import` (`sessiongate import`: old
#                                        sessions into the gateway's KV entries)
# Both come from the same crate as the Worker, with the size-tuned release profile, then wasm-bindgen
# (`--target web`, loaded by the package's own entry files) and wasm-opt -Oz.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
# shellcheck source=build-tools.sh
source "$repo_root/scripts/build-tools.sh"

out="$repo_root/pkg/dist"
rm -rf "$out"
mkdir -p "$out"
wasm="$repo_root/target/wasm32-unknown-unknown/release/sessiongate.wasm"

build() {
  local name=$1 features=$2
  cargo build --lib --release --target wasm32-unknown-unknown --no-default-features --features "$features"
  # --weak-refs: objects the wrapper drops are freed by a FinalizationRegistry.
  "$WASM_BINDGEN_BIN" --target web --weak-refs --out-dir "$out" --out-name "$name" "$wasm"
  # Same feature list as scripts/build-worker.sh: nothing newer than workerd, Node 20 and current
  # browsers run. An unchanged module is not optimized again.
  wasm_opt_cached "$out/${name}_bg.wasm" -Oz --strip-debug \
    --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
    --enable-bulk-memory --enable-multivalue --enable-reference-types
  local raw gz
  raw=$(wc -c < "$out/${name}_bg.wasm")
  gz=$(gzip -9 -c "$out/${name}_bg.wasm" | wc -c)
  echo "[build-pkg] pkg/dist/${name}_bg.wasm: $((raw)) bytes raw, $((gz)) bytes gzip" >&2
}

build primitives js
build origin js-origin
build gate embed
build import js-import
