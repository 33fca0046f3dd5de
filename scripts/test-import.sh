#!/usr/bin/env bash
# The import tests (tests/import/): `sessiongate import` from real session stores started on
# 127.0.0.1 (Debian's redis-server and PostgreSQL, dynalite; MemoryStore dumps; connect-mongo's own
# documents in a stub collection), its files loaded with wrangler into local KV, then the gateway
# (build/) on that KV. Needs build/ and pkg/dist/ (scripts/build-worker.sh, scripts/build-pkg.sh)
# and the npm packages of tests/ and the root (scripts/test-tools.sh).
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
# shellcheck source=ensure-store-servers.sh
source "$repo_root/scripts/ensure-store-servers.sh"
export PATH="$repo_root/node_modules/.bin:$repo_root/tests/node_modules/.bin:$PATH"
node --test --test-concurrency=2 tests/import/
