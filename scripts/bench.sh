#!/usr/bin/env bash
# Runs every benchmark and writes benches/results.md (a benchmark, not a test: nothing here asserts
# a timing). Installs what it needs when missing: wrk and redis-server (Debian packages), the npm
# packages of benches/ and tests/, the release builds of the Worker and the npm package, valgrind.
#   1. native micro-benchmarks of the core (`cargo bench --bench core`);
#   2. the npm package's unsign vs cookie-signature in one Node process (benches/npm-unsign.mjs);
#   3. end to end under wrk: pass-through Worker, sessiongate, a hand-written JS Worker, and
#      Express + express-session + connect-redis + Redis, same origin, one run (benches/e2e.mjs);
#   4. instructions per request of each Worker target, counted under valgrind's callgrind: the
#      figure this machine's ±20% drift does not move (benches/instructions.mjs, a few minutes);
#   5. Wasm sizes.
# Usage: scripts/bench.sh [seconds per end-to-end run, default 10] [connections, default 16]
#                        [interleaved rounds, default 3]
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
# shellcheck source=test-tools.sh
source "$repo_root/scripts/test-tools.sh"
seconds=${1:-10}
connections=${2:-16}
rounds=${3:-3}

if ! command -v wrk >/dev/null || ! command -v redis-server >/dev/null || ! command -v valgrind >/dev/null; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends wrk redis-server valgrind >/dev/null
fi
(cd benches && npm install --no-save --no-audit --no-fund --loglevel=error)
bash scripts/build-worker.sh
bash scripts/build-pkg.sh

out="$repo_root/benches/results.md"
{
  echo "# Benchmark results"
  echo
  echo "$(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $(uname -sr)."
  echo
  echo "## End to end (wrk on 127.0.0.1)"
  echo
  node benches/e2e.mjs "$seconds" "$connections" "$rounds"
  echo
  echo "## Instructions per request (callgrind on workerd)"
  echo
  node benches/instructions.mjs
  echo
  echo "## Native core (cargo bench --bench core; median of 15 runs)"
  echo
  echo '```'
  cargo bench --bench core 2>/dev/null
  echo '```'
  echo
  echo "## npm package: unsign vs cookie-signature (same process, same inputs)"
  echo
  # Its own title line becomes plain text under this file's heading.
  node benches/npm-unsign.mjs | sed 's/^# //'
  echo
  echo "## Wasm sizes (bytes)"
  echo
  echo "| file | raw | gzip -9 |"
  echo "| --- | ---: | ---: |"
  for f in build/index_bg.wasm pkg/dist/primitives_bg.wasm pkg/dist/origin_bg.wasm pkg/dist/gate_bg.wasm; do
    echo "| \`$f\` | $(wc -c < "$f") | $(gzip -9 -c "$f" | wc -c) |"
  done
} > "$out.tmp"
mv "$out.tmp" "$out"
cat "$out"
