#!/usr/bin/env bash
# Install PostgreSQL and PgBouncer from Debian's packages when they are missing.
# The test suite starts its own throwaway servers from these binaries; nothing is started here.
set -euo pipefail
have_postgres() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; }
have_pgbouncer() { command -v pgbouncer >/dev/null 2>&1 || test -x /usr/sbin/pgbouncer; }
if have_postgres && have_pgbouncer; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-system-deps: PostgreSQL/PgBouncer missing and no apt-get here; install them by hand" >&2
  exit 0  # the server tests then skip outside CI and fail inside it, saying why
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
echo "ensure-system-deps: installing postgresql and pgbouncer from Debian's packages" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postgresql pgbouncer >/dev/null
# Debian's packages start their own cluster and bouncer as services; the tests do not use them.
