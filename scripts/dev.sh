#!/usr/bin/env bash
# Runs sessiongate locally: the Worker in workerd (wrangler dev, local KV) on 127.0.0.1:8787 in
# front of the demo origin on 127.0.0.1:8788. Installs what it needs first. Ctrl-C stops both.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
# shellcheck source=ensure-tools.sh
source "$repo_root/scripts/ensure-tools.sh"

if [ ! -f .dev.vars ]; then
  cp .dev.vars.example .dev.vars
  echo "[dev] created .dev.vars from .dev.vars.example (example secrets, local use only)"
fi
# The demo origin verifies assertions with the same secret the gateway signs them with.
assertion_secret=$(sed -n 's/^ASSERTION_SECRET="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' .dev.vars | head -n 1)

ASSERTION_SECRET="$assertion_secret" DEMO_ORIGIN_PORT="${DEMO_ORIGIN_PORT:-8788}" \
  node scripts/demo-origin.mjs &
origin_pid=$!
trap 'kill "$origin_pid" 2>/dev/null || true' EXIT INT TERM

echo "[dev] gateway on http://127.0.0.1:8787 (demo users alice / bob, password sessiongate-demo)"
export WRANGLER_SEND_METRICS=false
wrangler dev --env dev --ip 127.0.0.1 --port "${GATEWAY_PORT:-8787}" --local --persist-to .wrangler/state
