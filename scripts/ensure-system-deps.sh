#!/usr/bin/env bash
# Install PostgreSQL, PgBouncer and Chromium from Debian's packages when they are missing.
# The test suite starts its own throwaway servers from these binaries, and renders the HTML report
# in headless Chromium; nothing is started here.
set -euo pipefail
have_postgres() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; }
have_pgbouncer() { command -v pgbouncer >/dev/null 2>&1 || test -x /usr/sbin/pgbouncer; }
have_chromium() { test -x /usr/bin/chromium; }
if have_postgres && have_pgbouncer && have_chromium; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-system-deps: PostgreSQL/PgBouncer/Chromium missing and no apt-get here; install them by hand" >&2
  exit 0  # the server and browser tests then skip outside CI and fail inside it, saying why
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
packages=()
have_postgres || packages+=(postgresql)
have_pgbouncer || packages+=(pgbouncer)
have_chromium || packages+=(chromium)
echo "ensure-system-deps: installing ${packages[*]} from Debian's packages" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
# Debian's packages start their own cluster and bouncer as services; the tests do not use them.
