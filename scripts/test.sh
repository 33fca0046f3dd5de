#!/usr/bin/env bash
# Runs every test from a clean clone on a fresh machine (`npm test`): it installs what it needs first
# (scripts/test-tools.sh: the build tools, then the test tools, each only when missing).
#   1. formatting and lints (native and wasm32 with the `worker` feature), warnings are errors;
#   2. native unit, flow, store contract, property and doc tests of the core (`cargo test`), and
#      its documentation (`cargo doc`, warnings are errors);
#   3. the scripts: shellcheck, no GNU-only flags, and wrangler.toml's [build] command run as a deploy
#      runs it, with apt-get, sudo and dpkg replaced by stubs that fail the test (it builds the Worker);
#   4. the real Wasm Worker, built with the release profile, run in workerd with local KV in front
#      of real HTTP origins on 127.0.0.1 (`node --test tests/e2e/`);
#   5. the npm package built from the same crate, tested against cookie-signature, cookie and jose,
#      embedded in a JavaScript Worker in workerd, packed and installed (`node --test tests/pkg/`);
#   6. the demo app and the sessions page in headless Chromium (`node --test tests/browser/`).
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
# shellcheck source=test-tools.sh
source "$repo_root/scripts/test-tools.sh"

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --check
step "cargo clippy (native, all targets)"
cargo clippy --all-targets --features js,js-origin,js-import -- -D warnings
step "cargo clippy (wasm32: the Worker, and the npm package's three modules)"
cargo clippy --target wasm32-unknown-unknown --features worker -- -D warnings
cargo clippy --target wasm32-unknown-unknown --no-default-features --features js,js-origin,js-import,embed -- -D warnings
step "cargo test (native core, with the npm bindings' pure parts)"
cargo test --features js,js-origin,js-import
step "cargo doc (a doc line on every public item, no broken links)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps
step "the scripts (shellcheck, no GNU-only flags); the Worker built by wrangler.toml's [build] command with apt-get, sudo and dpkg stubbed to fail"
node --test --test-concurrency=2 tests/tools/
step "build the npm package (pkg/dist)"
bash scripts/build-pkg.sh
step "size budget: the Worker's Wasm <= 150 KB gzip, the npm primitives' <= 40 KB gzip"
node --test tests/size/
step "end-to-end tests in workerd"
node --test --test-concurrency=2 tests/e2e/
step "npm package tests (differential, origin, embedded gate in workerd, pack and install, Chromium)"
node --test --test-concurrency=2 tests/pkg/
step "import tests: sessiongate import from real stores into local KV, then the gateway" && bash scripts/test-import.sh
step "browser tests: the demo app and the sessions page in headless Chromium (screenshots in build/screenshots)"
node --test --test-concurrency=1 tests/browser/
