#!/usr/bin/env bash
# Install PostgreSQL, PgBouncer, Pgpool-II, Chromium, Node.js and ShellCheck from Debian's packages when they
# are missing. The test suite starts its own throwaway servers from these binaries, renders the HTML report
# in headless Chromium, loads the node-postgres pool artefact in Node.js and lets actionlint run ShellCheck
# on the workflow recipes' scripts; nothing is started here.
set -euo pipefail
have_postgres() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; }
have_pgbouncer() { command -v pgbouncer >/dev/null 2>&1 || test -x /usr/sbin/pgbouncer; }
have_pgpool() { command -v pgpool >/dev/null 2>&1 || test -x /usr/sbin/pgpool; }
have_chromium() { test -x /usr/bin/chromium; }
have_node() { command -v node >/dev/null 2>&1; }
have_shellcheck() { command -v shellcheck >/dev/null 2>&1; }
# The pgserver package (test extras) ships PostgreSQL 16 binaries built elsewhere: they need zlib and the C
# library only, as ldd shows; report any shared library this machine lacks, and install zlib if it is the one.
pgserver_missing_libs() {
  local bin
  for bin in "${VENV:-.venv}"/lib/python3*/site-packages/pgserver/pginstall/bin/{postgres,initdb,pg_ctl}; do
    [ -x "$bin" ] && ldd "$bin" 2>/dev/null | awk '/not found/ {print $1}'
  done | sort -u
}
missing_libs=$(pgserver_missing_libs || true)
have_pgserver_libs() { [ -z "$missing_libs" ] || ! echo "$missing_libs" | grep -q '^libz\.so'; }
if [ -n "$missing_libs" ]; then
  echo "ensure-system-deps: pgserver's PostgreSQL 16 binaries lack: $(echo $missing_libs)" >&2
fi
if have_postgres && have_pgbouncer && have_pgpool && have_chromium && have_node && have_shellcheck && have_pgserver_libs; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-system-deps: PostgreSQL/PgBouncer/Pgpool-II/Chromium/Node.js/ShellCheck missing and no apt-get here; install them by hand" >&2
  exit 0  # the server and browser tests then skip outside CI and fail inside it, saying why
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
packages=()
have_postgres || packages+=(postgresql)
have_pgbouncer || packages+=(pgbouncer)
have_pgpool || packages+=(pgpool2)
have_chromium || packages+=(chromium)
have_node || packages+=(nodejs)
have_shellcheck || packages+=(shellcheck)
have_pgserver_libs || packages+=(zlib1g)
echo "ensure-system-deps: installing ${packages[*]} from Debian's packages" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
# Debian's packages start their own cluster, bouncer and pgpool as services; the tests do not use them.
