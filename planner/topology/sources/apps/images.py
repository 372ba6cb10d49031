"""What planner knows of database images: how to read an image's name, and which server each runs.

One table for every reader (Compose, Kubernetes) and for the importer and the evidence of clients:
:data:`SERVER_IMAGES` holds a row per database server image, with the documentation it comes from,
its PostgreSQL version in its name or tag, and where it takes ``max_connections``. An image of another
engine (MySQL, MariaDB, SQL Server, Oracle) has a row too, so that its container is named as a
database planner does not plan, never dropped in silence or taken for a client.

:func:`parse_image` is the one reading of an image reference; :func:`server_image`,
:func:`is_postgres_image` and :func:`unplanned_engine` read the table with it; :func:`server` says
whether a container runs the server of its image or its client tools; :func:`postgres_setting` reads a
setting from a ``postgres`` command line. The rows' patterns are compiled on first use: ``check`` of a
topology that reads services only never imports this module.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass
from typing import Any

from planner.topology.sources.base import Container

POSTGRES = "postgres"
POSTGRES_DOC = "https://www.postgresql.org/docs/current/app-postgres.html"  # -c name=value, --name=value, -N


@dataclass(frozen=True)
class ImageRef:
    """An image reference, read: ``docker.io/library/postgres:16@sha256:…`` → ``postgres``, ``16``, ``sha256:…``."""

    repository: str  # without its registry or Docker Hub's `library/`, lower-cased: "bitnami/postgresql"
    tag: str  # "" when the reference has none (Docker's `latest`, or a digest alone)
    digest: str  # "" when the reference has none

    @property
    def name(self) -> str:
        """The last part of the repository: ``quay.io/fedora/mysql-80`` → ``mysql-80``."""
        return self.repository.rsplit("/", 1)[-1]


def parse_image(image: str) -> ImageRef:
    """Return an image reference's repository (without registry or ``library/``), tag and digest.

    ``docker.io/bitnami/postgresql:16.4.0@sha256:…`` → (``bitnami/postgresql``, ``16.4.0``, ``sha256:…``);
    ``registry.example.com:5000/team/app`` → (``team/app``, ``"``, ``"``). The repository is lower-cased
    (Docker accepts no capitals in it, so a capital is a typo the registry would refuse too); the tag
    is kept as written, as the registry does.
    """
    name, _, digest = image.strip().partition("@")
    tag = ""
    if name.rfind(":") > name.rfind("/"):  # a colon after the last slash is the tag's; before it, a registry port's
        name, tag = name.rsplit(":", 1)
    parts = name.lower().split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]  # a registry: docker.io, ghcr.io, registry.example.com:5000
    if len(parts) > 1 and parts[0] == "library":  # docker.io/library/postgres is the official `postgres`
        parts = parts[1:]
    return ImageRef("/".join(parts), tag, digest)


# ---------------------------------------------------------------------------- the servers' images


@dataclass(frozen=True)
class ServerImage:
    """A database server's image: how to know it, and where it takes its settings.

    ``repository`` matches the image's repository without its registry and tag
    (``bitnami/postgresql``); ``version`` matches ``repository:tag`` with the PostgreSQL version as
    its group 1; ``variables`` set ``max_connections``; ``flags`` hold extra server flags; ``config``
    are the files the image reads ``postgresql.conf`` settings from (a path ending in ``/``: every
    ``.conf`` file in that folder, after the others).
    """

    engine: str  # "postgres", "mysql", "mariadb", "sqlserver", "oracle"
    repository: str  # a regular expression, compiled on first use (check, reading services only, never needs it)
    doc: str
    version: str | None = None
    variables: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    config: tuple[str, ...] = ()


def _image(engine: str, repository: str, doc: str, version: str | None = None, **settings: Any) -> ServerImage:
    return ServerImage(engine, repository, doc, version, **settings)


# Bitnami's PostgreSQL images (postgresql-env.sh): POSTGRESQL_MAX_CONNECTIONS, or its alias
# POSTGRES_MAX_CONNECTIONS; extra server flags in POSTGRESQL_EXTRA_FLAGS; a mounted configuration in
# /bitnami/postgresql/conf. `bitnamilegacy/` holds the same images since Bitnami moved them there.
_BITNAMI: dict[str, Any] = {
    "version": r"[^:]+:([0-9]+(?:\.[0-9]+)?)",
    "variables": ("POSTGRESQL_MAX_CONNECTIONS", "POSTGRES_MAX_CONNECTIONS"),
    "flags": ("POSTGRESQL_EXTRA_FLAGS",),
    "config": ("/bitnami/postgresql/conf/postgresql.conf", "/bitnami/postgresql/conf/conf.d/"),
}
# The name of a RHEL/CentOS/Fedora Software Collections image: sclorg's, and its rebuilds' (rhel9/, fedora/).
_SCLORG = r"(?:sclorg|rhel[0-9]+|centos[0-9]*|rhscl|fedora)/"

GENERIC_POSTGRES = _image(POSTGRES, r"(?:.*/)?(?:postgres(?:ql)?(?:-[0-9]+[a-z0-9.-]*)?|postgis|timescaledb(?:-ha)?|pgvector)",
                          "https://hub.docker.com/_/postgres")
SERVER_IMAGES: tuple[ServerImage, ...] = (
    _image(POSTGRES, r"postgres", "https://hub.docker.com/_/postgres", r"postgres:([0-9]+(?:\.[0-9]+)?)"),
    _image(POSTGRES, r"bitnami(?:legacy)?/postgresql",
           "https://github.com/bitnami/containers/blob/main/bitnami/postgresql/README.md#configuration", **_BITNAMI),
    _image(POSTGRES, r"bitnami(?:legacy)?/postgresql-repmgr",
           "https://github.com/bitnami/containers/blob/main/bitnami/postgresql-repmgr/README.md#configuration", **_BITNAMI),
    _image(POSTGRES, _SCLORG + r"postgresql-[0-9]+(?:-[a-z0-9]+)*",
           "https://github.com/sclorg/postgresql-container", r"[^:]*/postgresql-([0-9]+)",
           variables=("POSTGRESQL_MAX_CONNECTIONS",)),
    _image(POSTGRES, r"postgis/postgis", "https://hub.docker.com/r/postgis/postgis", r"[^:]+:([0-9]+)-"),
    _image(POSTGRES, r"timescale/timescaledb", "https://hub.docker.com/r/timescale/timescaledb", r"[^:]+:.*pg([0-9]+)"),
    _image(POSTGRES, r"timescale/timescaledb-ha", "https://hub.docker.com/r/timescale/timescaledb-ha",
           r"[^:]+:pg([0-9]+(?:\.[0-9]+)?)"),
    _image(POSTGRES, r"pgvector/pgvector", "https://hub.docker.com/r/pgvector/pgvector", r"[^:]+:(?:.*-)?pg([0-9]+)"),
    _image(POSTGRES, r"cloudnative-pg/postgresql", "https://github.com/cloudnative-pg/postgres-containers",
           r"[^:]+:([0-9]+(?:\.[0-9]+)?)"),
    _image(POSTGRES, r"supabase/postgres", "https://hub.docker.com/r/supabase/postgres", r"[^:]+:([0-9]+)\."),
    # Sourcegraph's images copy /conf/postgresql.conf into the data folder at start
    # (https://github.com/sourcegraph/deploy-sourcegraph-docker/pull/806; the pgsql-conf ConfigMap of
    # https://github.com/sourcegraph/deploy-sourcegraph-k8s/tree/main/base/sourcegraph/pgsql).
    _image(POSTGRES, r"sourcegraph/postgres(?:ql)?-[0-9]+(?:-[a-z0-9]+)*", "https://github.com/sourcegraph/deploy-sourcegraph-k8s",
           r"[^:]*/postgres(?:ql)?-([0-9]+)", config=("/conf/postgresql.conf",)),
    # Images built on the ones above keep their names' stem: postgres, postgresql-16, postgis, pgvector
    # (ankane/pgvector, the extension's image before pgvector/pgvector).
    GENERIC_POSTGRES,
    # Engines planner does not plan: https://hub.docker.com/_/mysql, https://hub.docker.com/_/percona,
    # https://hub.docker.com/r/mysql/mysql-server, https://hub.docker.com/r/percona/percona-server,
    # https://hub.docker.com/r/percona/percona-xtradb-cluster, https://hub.docker.com/r/bitnami/mysql.
    _image("mysql", r"(?:mysql(?:/mysql-server|/enterprise-server)?|bitnami(?:legacy)?/mysql"
                    r"|percona(?:/percona-server|/percona-xtradb-cluster)?)", "https://hub.docker.com/_/mysql"),
    _image("mysql", _SCLORG + r"mysql-[0-9]+(?:-[a-z0-9]+)*", "https://github.com/sclorg/mysql-container"),
    # https://hub.docker.com/_/mariadb, https://hub.docker.com/r/bitnami/mariadb(-galera),
    # https://hub.docker.com/r/linuxserver/mariadb.
    _image("mariadb", r"(?:mariadb(?:/server)?|bitnami(?:legacy)?/mariadb(?:-galera)?|linuxserver/mariadb)",
           "https://hub.docker.com/_/mariadb"),
    _image("mariadb", _SCLORG + r"mariadb-[0-9]+(?:-[a-z0-9]+)*", "https://github.com/sclorg/mariadb-container"),
    # mcr.microsoft.com/mssql/server (and its rhel/ build), mcr.microsoft.com/azure-sql-edge.
    _image("sqlserver", r"(?:mssql(?:/rhel)?/server|azure-sql-edge)", "https://hub.docker.com/r/microsoft/mssql-server"),
    # container-registry.oracle.com/database/*, https://hub.docker.com/r/gvenzl/oracle-free (and oracle-xe).
    _image("oracle", r"(?:database/(?:enterprise|free|express)|gvenzl/oracle-(?:xe|free))",
           "https://container-registry.oracle.com"),
)
# The programs that are the server, when a container's command is written out (a client image, such
# as `postgres:16` running psql in a Job or a backup loop, runs none of them).
SERVER_PROGRAMS: dict[str, tuple[str, ...]] = {
    POSTGRES: ("postgres", "postmaster", "pg_ctl", "pg_ctlcluster", "docker-entrypoint.sh"),
    "mysql": ("mysqld", "mysqld_safe", "docker-entrypoint.sh"),
    "mariadb": ("mariadbd", "mysqld", "mysqld_safe", "docker-entrypoint.sh"),
    "sqlserver": ("sqlservr",),
    "oracle": ("runOracle.sh", "container-entrypoint.sh"),
}
# The official image keeps its data in PGDATA, /var/lib/postgresql/data by default
# (https://hub.docker.com/_/postgres, "PGDATA"): a container that mounts a volume there is a server
# built on it, whatever its image is called.
PGDATA = ("/var/lib/postgresql/data", "/var/lib/postgresql")


def server_image(image: str | None) -> ServerImage | None:
    """Return the row of a database server's image, or None if ``image`` is no known server."""
    if not image:
        return None
    repository = parse_image(image).repository
    return next((row for row in SERVER_IMAGES if re.fullmatch(row.repository, repository)), None)


def is_postgres_image(image: str | None) -> bool:
    """Return whether ``image`` is a PostgreSQL server's image (``bitnami/postgresql-repmgr:16``: yes)."""
    row = server_image(image)
    return row is not None and row.engine == POSTGRES


def unplanned_engine(image: str | None) -> str | None:
    """Return the engine of a database image planner does not plan (``mysql:8.0`` → ``mysql``), or None."""
    row = server_image(image)
    return row.engine if row is not None and row.engine != POSTGRES else None


def tag_version(image: str, row: ServerImage) -> str | None:
    """Return the PostgreSQL version an image's name or tag states (``postgres:16.4-alpine`` → ``16.4``)."""
    if row.version is None:
        return None
    ref = parse_image(image)
    match = re.match(row.version, f"{ref.repository}:{ref.tag}")
    return match.group(1) if match else None


def server(container: Container, long_running: bool) -> ServerImage | None:
    """Return the row of the server ``container`` runs, or None if it runs none (a client of the image)."""
    if container.one_shot or not long_running:
        return None  # a Job or an init container with a database image runs its client tools
    row = server_image(container.image)
    if row is None:
        if any(path.rstrip("/") in PGDATA for path in container.files):
            return GENERIC_POSTGRES  # built on the official image
        return None
    words = container.command
    if not words or container.entrypoint is None and words[0].startswith("-"):
        return row  # the image's own command (with flags for it): its server
    programs = SERVER_PROGRAMS[row.engine]
    if container.entrypoint is None:
        # the image's entrypoint with a command of its own: the server only if that command is
        return row if posixpath.basename(words[0]) in programs else None
    tokens = (posixpath.basename(token) for word in words for token in word.split())
    return row if any(token in programs for token in tokens) else None


# ---------------------------------------------------------------------------- the postgres command line


def command_tokens(words: tuple[str, ...]) -> list[str]:
    """Return a command line's words, with the words of a shell script (``sh -c "…"``) split out."""
    tokens: list[str] = []
    for word in words:
        if any(space in word for space in " \t\n"):
            try:
                tokens += shlex.split(word)
            except ValueError:
                tokens += word.split()
        else:
            tokens.append(word)
    return tokens


def postgres_setting(words: tuple[str, ...], name: str) -> tuple[str, str] | None:
    """Return the last setting of ``name`` on a ``postgres`` command line, as (written, value text).

    PostgreSQL's ``postgres`` takes any setting as ``-c name=value``, ``-cname=value`` or
    ``--name=value`` (dashes or underscores), and ``max_connections`` as ``-N value`` too
    (:data:`POSTGRES_DOC`); the last one wins. ``words`` may hold a shell script (``sh -c "exec
    postgres -c max_connections=300"``): its words are read. The value is as written (quotes and all).
    """
    tokens = command_tokens(words)
    found: tuple[str, str] | None = None
    for i, token in enumerate(tokens):
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        setting = None
        if token == "-c":
            setting = following
        elif token.startswith("-c") and "=" in token:
            setting = token[2:]
        elif token.startswith("--") and "=" in token:
            setting = token[2:]
        elif name == "max_connections" and token == "-N" and following:
            found = (f"-N {following}", following)
        elif name == "max_connections" and token.startswith("-N") and token[2:].isdigit():
            found = (token, token[2:])
        if setting and "=" in setting:
            key, _, value = setting.partition("=")
            if key.strip().replace("-", "_") == name:
                found = (f"-c {setting}" if token == "-c" else token, value)
    return found
