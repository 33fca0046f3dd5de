#!/usr/bin/env bash
# Runs sessiongate locally (`npm run dev`): the Worker in workerd (wrangler dev, local KV) on
# 127.0.0.1:8787 in front of the demo origin on 127.0.0.1:8788. Both read their settings and secrets
# from .dev.vars (created from .dev.vars.example when missing): wrangler itself for the Worker, Node's
# --env-file for the demo origin. wrangler runs the [build] command once on start and again when a
# file in src/ changes. Installs only the build tools. Ctrl-C stops both.
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"
# shellcheck source=build-tools.sh
source "$repo_root/scripts/build-tools.sh"

if [ ! -f .dev.vars ]; then
  cp .dev.vars.example .dev.vars
  echo "[dev] created .dev.vars from .dev.vars.example (example secrets, local use only)"
fi
if ! grep -q '^ORIGIN_URL=' .dev.vars; then
  echo "[dev] .dev.vars sets no ORIGIN_URL, so the gateway forwards to wrangler.toml's; for the demo" \
    "origin add the local settings of .dev.vars.example to it" >&2
fi

DEMO_ORIGIN_PORT="${DEMO_ORIGIN_PORT:-8788}" node --env-file=.dev.vars scripts/demo-origin.mjs &
origin_pid=$!
trap 'kill "$origin_pid" 2>/dev/null || true' EXIT INT TERM

echo "[dev] gateway on http://127.0.0.1:${GATEWAY_PORT:-8787} (demo users alice / bob, password sessiongate-demo)"
export WRANGLER_SEND_METRICS=false
wrangler dev --ip 127.0.0.1 --port "${GATEWAY_PORT:-8787}" --local --persist-to .wrangler/state
