#!/usr/bin/env bash
# Installs the session stores the import tests start (tests/import/): Debian's redis-server and
# postgresql, each only when missing. Used only by the test command (never by a build or deploy);
# the tests start every server themselves on 127.0.0.1 and a free port, and stop it after.
# DynamoDB is dynalite (npm, in tests/); no MongoDB server is installable here (the Mongo source is
# tested on documents written by connect-mongo itself into a stub collection).
set -euo pipefail

log() { printf '[ensure-store-servers] %s\n' "$*" >&2; }

missing=()
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian's ${missing[*]} for the import tests"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's postinst may have started the packaged services: the tests use their own servers.
# The last in glob order: Debian installs one PostgreSQL major version.
PG_BIN=""
for initdb in /usr/lib/postgresql/*/bin/initdb; do
  if [ -x "$initdb" ]; then PG_BIN=$(dirname "$initdb"); fi
done
export PG_BIN
