"""What planner knows of database images run on Compose: how each sets PostgreSQL's max_connections.

A row per image, with the documentation that says it. The official ``postgres`` image (and those
built on it: PostGIS, TimescaleDB) has no variable for it: ``max_connections`` is set on its command
line (``postgres -c max_connections=200``, or ``-N 200``), as PostgreSQL's own ``postgres`` program
takes any setting. Without either, PostgreSQL's default (100) applies, as for any self-managed database.
"""

from __future__ import annotations

import re

# (image repository, as the image names it after its registry; variable; documentation)
MAX_CONNECTIONS_VARIABLES: tuple[tuple[str, str, str], ...] = (
    ("bitnami/postgresql", "POSTGRESQL_MAX_CONNECTIONS",
     "https://github.com/bitnami/containers/blob/main/bitnami/postgresql/README.md#configuration"),
    ("bitnami/postgresql-repmgr", "POSTGRESQL_MAX_CONNECTIONS",
     "https://github.com/bitnami/containers/blob/main/bitnami/postgresql-repmgr/README.md#configuration"),
)

# Database images of engines planner does not plan (it counts PostgreSQL connections): a container of
# one is named in a note, never dropped in silence. Image repositories without their registry:
# https://hub.docker.com/_/mysql, https://hub.docker.com/_/mariadb, https://hub.docker.com/_/percona,
# https://hub.docker.com/r/bitnami/mysql, https://hub.docker.com/r/bitnami/mariadb,
# https://hub.docker.com/r/microsoft/mssql-server (mcr.microsoft.com/mssql/server),
# https://hub.docker.com/r/gvenzl/oracle-free, https://container-registry.oracle.com (database/*).
UNPLANNED_ENGINES: tuple[tuple[str, str], ...] = (
    ("mysql", "mysql"), ("mysql/mysql-server", "mysql"), ("bitnami/mysql", "mysql"), ("percona", "mysql"),
    ("percona/percona-server", "mysql"), ("mariadb", "mariadb"), ("bitnami/mariadb", "mariadb"),
    ("linuxserver/mariadb", "mariadb"), ("mssql/server", "sqlserver"), ("azure-sql-edge", "sqlserver"),
    ("gvenzl/oracle-xe", "oracle"), ("gvenzl/oracle-free", "oracle"), ("database/enterprise", "oracle"),
    ("database/free", "oracle"), ("database/express", "oracle"),
)

# postgres's command-line forms of a setting (https://www.postgresql.org/docs/current/app-postgres.html):
# -c name=value, -cname=value, --name=value (dashes or underscores), and -N for max_connections.
POSTGRES_DOCS = "https://www.postgresql.org/docs/current/app-postgres.html"
_SETTING = re.compile(r"(?:--)?max[-_]connections=(.*)")


def repository(image: str) -> str:
    """Return an image's repository without its registry, tag or digest:
    ``docker.io/bitnami/postgresql:16`` → ``bitnami/postgresql``, ``postgres:16`` → ``postgres``."""
    name = image.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    parts = name.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]  # a registry host
    if parts[:1] == ["library"]:
        parts = parts[1:]
    return "/".join(parts).lower()


def max_connections_variable(image: str) -> tuple[str, str] | None:
    """Return the variable that sets max_connections in ``image``, and its documentation, if it has one."""
    repo = repository(image)
    for known, variable, docs in MAX_CONNECTIONS_VARIABLES:
        if repo == known:
            return variable, docs
    return None


def unplanned_engine(image: str) -> str | None:
    """Return the engine of a database image planner does not plan (``mysql:8.0`` → ``mysql``), or None."""
    repo = repository(image)
    return next((engine for known, engine in UNPLANNED_ENGINES if repo == known), None)


def max_connections_argument(words: tuple[str, ...]) -> str | None:
    """Return the value a ``postgres`` command line gives max_connections (the last one wins), or None."""
    found = None
    for i, word in enumerate(words):
        following = words[i + 1] if i + 1 < len(words) else ""
        if word == "-c":
            setting = _SETTING.fullmatch(following)
        elif word.startswith("-c"):
            setting = _SETTING.fullmatch(word[2:])
        elif word.startswith("--"):
            setting = _SETTING.fullmatch(word)
        elif word == "-N":
            found = following or found
            continue
        elif word.startswith("-N") and word[2:].isdigit():
            found = word[2:]
            continue
        else:
            continue
        if setting is not None:
            found = setting.group(1)
    return found
