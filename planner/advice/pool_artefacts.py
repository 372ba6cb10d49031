"""Pool artefacts: one file per service, in the setting names of the library the service uses.

Each builder reads a PoolTarget (the numbers the option's topology holds for one service) and
returns a PoolArtefact. The names were checked in each library's own documentation (SOURCES);
a driver without a builder gets a generic note, never another library's syntax. No environment
variable is written: the topology has no place to name one, and a guessed name is one the
service does not read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable, Mapping

from planner.advice.recommend import Option
from planner.errors import InputError
from planner.model import Pool
from planner.topology.services import CUSTOM_DRIVER


@dataclass(frozen=True)
class PoolTarget:
    """What one service's pool must become, per process (or per Lambda instance)."""

    service: str
    driver: str
    cap: int  # most connections per process: size + max_overflow, what `check` counts at peak
    steady: int  # connections the pool keeps (size), at most cap
    threads: int  # threads per process today (1 for Lambda)
    unit: str  # "process" or "Lambda instance"
    written_by: str  # "Written by planner for TOPOLOGY: OPTION"

    @property
    def overflow(self) -> int:
        """Connections above the steady pool that the cap still allows."""
        return self.cap - self.steady


@dataclass(frozen=True)
class PoolArtefact:
    """One service's artefact: file suffix, content and the library's own setting names."""

    suffix: str  # the file is SERVICE.SUFFIX
    library: str
    content: str
    settings: Mapping[str, int]  # the library's setting names -> values written
    source: str  # where the setting names are documented
    threads_per_process: int | None = None  # set where the lever is the thread count


# Where each library documents the names its artefact uses (checked when the artefact was written).
SOURCES: dict[str, str] = {
    "sqlalchemy": "SQLAlchemy, Connection Pooling (create_engine pool_size, max_overflow): "
                  "https://sqlalchemy.org/docs/core/pooling.html",
    "asyncpg": "asyncpg.create_pool(dsn, min_size=..., max_size=...): docstring in asyncpg/pool.py, "
               "https://github.com/MagicStack/asyncpg",
    "psycopg-pool": "psycopg_pool ConnectionPool / AsyncConnectionPool (min_size, max_size): "
                    "https://www.psycopg.org/psycopg3/docs/api/pool.html",
    "django": "Django databases, Persistent connections and Connection pool: "
              "https://docs.djangoproject.com/en/6.0/ref/databases/",
    "rails": "ActiveRecord::ConnectionAdapters::ConnectionPool, Options (pool): "
             "https://api.rubyonrails.org/classes/ActiveRecord/ConnectionAdapters/ConnectionPool.html",
    "node-pg": "node-postgres, pg.Pool (max): https://node-postgres.com/apis/pool",
    "hikari": "HikariCP configuration (maximumPoolSize, minimumIdle): https://github.com/brettwooldridge/HikariCP; "
              "Spring Boot binds spring.datasource.hikari.* to the HikariDataSource",
    "database-sql": "Go database/sql, Managing connections (DB.SetMaxOpenConns, DB.SetMaxIdleConns): "
                    "https://go.dev/doc/database/manage-connections",
    "pgxpool": "pgx v5, package github.com/jackc/pgx/v5/pgxpool: ParseConfig (pool_max_conns) and Config.MaxConns",
}
SOURCES["django-pool"] = SOURCES["django"]


def _connections(n: int) -> str:
    """Return "1 connection" or "N connections"."""
    return f"{n} connection" if n == 1 else f"{n} connections"


def _pool_header(target: PoolTarget, mark: str, what: str) -> list[str]:
    """Return the comment lines every artefact starts with: who wrote it, for what, and why."""
    return [
        f"{mark} {target.written_by}",
        f"{mark} {target.service} ({target.driver}): {what}",
        f"{mark} planner counts this cap once for each {target.unit} the service runs; "
        "the connection string and any password stay yours.",
    ]


def _queue_note(target: PoolTarget, mark: str, waits: str) -> list[str]:
    """Say that threads beyond the cap wait, when the service runs more threads than connections.

    Only thread-based libraries get it: asyncpg, node-postgres and Go share a pool between tasks,
    which the topology's ``threads`` does not count.
    """
    if target.threads <= target.cap:
        return []
    return [f"{mark} {target.threads} threads per {target.unit} share {_connections(target.cap)}: "
            f"a thread waits when all are busy ({waits})."]


def _pool_sqlalchemy(target: PoolTarget) -> PoolArtefact:
    """SQLAlchemy: ``create_engine(url, pool_size=N, max_overflow=M)``, N + M per process."""
    settings = {"pool_size": target.steady, "max_overflow": target.overflow}
    lines = _pool_header(target, "#", f"at most {_connections(target.cap)} per {target.unit} "
                         f"(pool_size {target.steady} + max_overflow {target.overflow}).")
    lines += _queue_note(target, "#", "up to pool_timeout seconds, then an error")
    lines += [
        f"# Settings: {SOURCES['sqlalchemy']}",
        "from sqlalchemy import create_engine",
        "",
        "",
        "def make_engine(url):",
        f'    """Return {target.service}\'s engine: at most {_connections(target.cap)} per {target.unit}."""',
        f"    return create_engine(url, pool_size={target.steady}, max_overflow={target.overflow})",
    ]
    return PoolArtefact("sqlalchemy.py", "SQLAlchemy", "\n".join(lines) + "\n", settings, SOURCES["sqlalchemy"])


def _pool_asyncpg(target: PoolTarget) -> PoolArtefact:
    """asyncpg: ``asyncpg.create_pool(dsn, min_size=..., max_size=N)``."""
    settings = {"min_size": target.steady, "max_size": target.cap}
    lines = _pool_header(target, "#", f"at most {_connections(target.cap)} per {target.unit} (max_size {target.cap}).")
    lines += [
        "# min_size is written too: asyncpg's default min_size (10) above max_size is refused (ValueError).",
        "# A pool with min_size below max_size keeps the extra connections until they have been idle for",
        "# max_inactive_connection_lifetime seconds: count max_size as what it holds after a burst.",
    ]
    lines += [
        f"# Settings: {SOURCES['asyncpg']}",
        "import asyncpg",
        "",
        "",
        "async def make_pool(dsn):",
        f'    """Return {target.service}\'s pool: at most {_connections(target.cap)} per {target.unit}."""',
        f"    return await asyncpg.create_pool(dsn, min_size={target.steady}, max_size={target.cap})",
    ]
    return PoolArtefact("asyncpg.py", "asyncpg", "\n".join(lines) + "\n", settings, SOURCES["asyncpg"])


def _pool_psycopg(target: PoolTarget) -> PoolArtefact:
    """psycopg_pool: ``ConnectionPool(conninfo, min_size=..., max_size=N)`` and its async twin."""
    settings = {"min_size": target.steady, "max_size": target.cap}
    kwargs = f"min_size={target.steady}, max_size={target.cap}"
    lines = _pool_header(target, "#", f"at most {_connections(target.cap)} per {target.unit} (max_size {target.cap}).")
    lines += [
        "# min_size is written too: psycopg_pool's default min_size is 4. Above min_size the pool shrinks back",
        "# only after max_idle seconds: count max_size as what it holds after a burst.",
    ]
    lines += _queue_note(target, "#", "up to timeout seconds in pool.connection()")
    lines += [
        f"# Settings: {SOURCES['psycopg-pool']}",
        "from psycopg_pool import AsyncConnectionPool, ConnectionPool",
        "",
        "",
        "def make_pool(conninfo):",
        f'    """Return {target.service}\'s pool: at most {_connections(target.cap)} per {target.unit}."""',
        f"    return ConnectionPool(conninfo, {kwargs})",
        "",
        "",
        "def make_async_pool(conninfo):",
        '    """The same for asyncio; open it with `await pool.open()`."""',
        f"    return AsyncConnectionPool(conninfo, {kwargs}, open=False)",
    ]
    return PoolArtefact("psycopg_pool.py", "psycopg_pool", "\n".join(lines) + "\n", settings, SOURCES["psycopg-pool"])


def _django_pool_lines(target: PoolTarget) -> list[str]:
    """Return the Django 5.1+ settings that give each process a psycopg_pool of at most ``cap``."""
    return [
        "# Django 5.1+ with psycopg 3 and psycopg_pool: OPTIONS['pool'] is passed to psycopg_pool.ConnectionPool,",
        f"# one pool per {target.unit}, so the cap holds whatever the thread count. Django refuses pooling with",
        "# persistent connections: CONN_MAX_AGE must be 0. Merge into settings.py, after DATABASES:",
        'DATABASES["default"]["CONN_MAX_AGE"] = 0',
        'DATABASES["default"].setdefault("OPTIONS", {})["pool"] = '
        f'{{"min_size": {target.steady}, "max_size": {target.cap}}}',
    ]


def _pool_django(target: PoolTarget) -> PoolArtefact:
    """Django without a pool: one persistent connection per thread, so the lever is the thread count."""
    lines = _pool_header(target, "#", f"at most {_connections(target.cap)} per {target.unit}.")
    lines += [
        "# Django keeps one connection per thread (persistent connections, CONN_MAX_AGE): there is no pool size",
        f"# to set. The lever is threads: run at most {target.cap} threads per {target.unit} "
        f"(today {target.threads}), or fewer processes.",
        f"# Settings: {SOURCES['django']}",
        "",
        "# Or, instead of cutting threads:",
        *_django_pool_lines(target),
    ]
    settings = {"OPTIONS.pool.min_size": target.steady, "OPTIONS.pool.max_size": target.cap, "CONN_MAX_AGE": 0}
    return PoolArtefact("django-settings.py", "Django", "\n".join(lines) + "\n", settings, SOURCES["django"],
                        threads_per_process=target.cap)


def _pool_django_pool(target: PoolTarget) -> PoolArtefact:
    """Django 5.1+ native pooling: ``OPTIONS: {"pool": {"min_size": ..., "max_size": N}}``."""
    lines = _pool_header(target, "#", f"at most {_connections(target.cap)} per {target.unit} "
                         f"(OPTIONS pool max_size {target.cap}).")
    lines += _queue_note(target, "#", "up to the pool's timeout seconds, then an error")
    lines += [f"# Settings: {SOURCES['django-pool']}", *_django_pool_lines(target)]
    settings = {"OPTIONS.pool.min_size": target.steady, "OPTIONS.pool.max_size": target.cap, "CONN_MAX_AGE": 0}
    return PoolArtefact("django-settings.py", "Django (psycopg_pool)", "\n".join(lines) + "\n", settings,
                        SOURCES["django-pool"])


def _pool_rails(target: PoolTarget) -> PoolArtefact:
    """Rails: ``pool: N`` in config/database.yml (Active Record's pool per process)."""
    lines = _pool_header(target, "#", f"at most {_connections(target.cap)} per {target.unit} (pool {target.cap}).")
    lines += _queue_note(target, "#", "up to checkout_timeout seconds, then ActiveRecord::ConnectionTimeoutError")
    lines += [
        "# Rails 8.1 names this setting max_connections and still reads pool; before 8.1 only pool is read.",
        f"# Settings: {SOURCES['rails']}",
        "# In config/database.yml, in the section of each environment this service runs in:",
        f"pool: {target.cap}",
    ]
    return PoolArtefact("database.yml", "Active Record", "\n".join(lines) + "\n", {"pool": target.cap},
                        SOURCES["rails"])


def _pool_node_pg(target: PoolTarget) -> PoolArtefact:
    """node-postgres: ``new Pool({ max: N })``."""
    lines = _pool_header(target, "//", f"at most {_connections(target.cap)} per {target.unit} (max {target.cap}).")
    lines += [
        f"// Settings: {SOURCES['node-pg']}",
        "const { Pool } = require('pg')",
        "",
        f"// config: your connection settings; max caps {target.service} at {target.cap} per {target.unit}",
        "function makePool (config) {",
        f"  return new Pool({{ ...config, max: {target.cap} }})",
        "}",
        "",
        "module.exports = { makePool }",
    ]
    return PoolArtefact("node-pg.js", "node-postgres", "\n".join(lines) + "\n", {"max": target.cap},
                        SOURCES["node-pg"])


def _pool_hikari(target: PoolTarget) -> PoolArtefact:
    """HikariCP: ``spring.datasource.hikari.maximum-pool-size=N`` (``maximumPoolSize`` in HikariConfig)."""
    settings = {"maximumPoolSize": target.cap}
    lines = _pool_header(target, "#", f"at most {_connections(target.cap)} per {target.unit} "
                         f"(maximumPoolSize {target.cap}).")
    lines += _queue_note(target, "#", "up to connectionTimeout milliseconds in getConnection()")
    lines += [
        f"# Settings: {SOURCES['hikari']}",
        f"# Without Spring Boot, on a HikariConfig: config.setMaximumPoolSize({target.cap});",
    ]
    if target.steady < target.cap:
        settings["minimumIdle"] = target.steady
        lines.append(f"#   and config.setMinimumIdle({target.steady});")
    lines += ["# Spring Boot, application.properties:", f"spring.datasource.hikari.maximum-pool-size={target.cap}"]
    if target.steady < target.cap:
        lines.append(f"spring.datasource.hikari.minimum-idle={target.steady}")
    return PoolArtefact("hikari.properties", "HikariCP", "\n".join(lines) + "\n", settings, SOURCES["hikari"])


def _pool_database_sql(target: PoolTarget) -> PoolArtefact:
    """Go ``database/sql``: ``db.SetMaxOpenConns(N)`` and ``db.SetMaxIdleConns`` at most N."""
    settings = {"SetMaxOpenConns": target.cap, "SetMaxIdleConns": target.steady}
    lines = _pool_header(target, "//", f"at most {_connections(target.cap)} per {target.unit} "
                         f"(SetMaxOpenConns({target.cap})).")
    lines += [
        "// Without SetMaxOpenConns a *sql.DB opens connections without limit (0 means unlimited).",
        f"// Settings: {SOURCES['database-sql']}",
        "package db",
        "",
        'import "database/sql"',
        "",
        f"// ConfigurePool caps {target.service} at {_connections(target.cap)} per {target.unit}.",
        "func ConfigurePool(db *sql.DB) {",
        f"\tdb.SetMaxOpenConns({target.cap})",
        f"\tdb.SetMaxIdleConns({target.steady}) // at most SetMaxOpenConns",
        "}",
    ]
    return PoolArtefact("database-sql.go", "Go database/sql", "\n".join(lines) + "\n", settings,
                        SOURCES["database-sql"])


def _pool_pgxpool(target: PoolTarget) -> PoolArtefact:
    """pgx ``pgxpool``: ``pool_max_conns=N`` in the connection string, or ``config.MaxConns = N``."""
    lines = _pool_header(target, "//", f"at most {_connections(target.cap)} per {target.unit} "
                         f"(MaxConns {target.cap}).")
    lines += [
        f"// In the connection string instead: pool_max_conns={target.cap}. Without either, pgxpool opens up to",
        "// 4 connections or the host's CPU count, whichever is more.",
        f"// Settings: {SOURCES['pgxpool']}",
        "package db",
        "",
        "import (",
        '\t"context"',
        "",
        '\t"github.com/jackc/pgx/v5/pgxpool"',
        ")",
        "",
        f"// NewPool opens {target.service}'s pool: at most {_connections(target.cap)} per {target.unit}.",
        "func NewPool(ctx context.Context, connString string) (*pgxpool.Pool, error) {",
        "\tconfig, err := pgxpool.ParseConfig(connString)",
        "\tif err != nil {",
        "\t\treturn nil, err",
        "\t}",
        f"\tconfig.MaxConns = {target.cap}",
        "\treturn pgxpool.NewWithConfig(ctx, config)",
        "}",
    ]
    return PoolArtefact("pgxpool.go", "pgx pgxpool", "\n".join(lines) + "\n",
                        {"MaxConns": target.cap, "pool_max_conns": target.cap}, SOURCES["pgxpool"])


def _pool_per_thread(target: PoolTarget) -> PoolArtefact:
    """One connection per thread: the lever is the thread count, or a pool in the library in use."""
    lines = _pool_header(target, "#", f"at most {_connections(target.cap)} per {target.unit}.")
    lines += [
        "# Each thread holds its own connection: there is no pool size to set.",
        f"# Either run at most {target.cap} threads per {target.unit} (today {target.threads}),",
        f"# or give each {target.unit} a pool with a maximum of {target.cap} in the library it uses, and name",
        "# that driver in the topology (pool: {driver: NAME, size: N}) so planner writes its settings.",
    ]
    return PoolArtefact("pool.txt", "one connection per thread", "\n".join(lines) + "\n", {}, "",
                        threads_per_process=target.cap)


def _pool_unbounded(target: PoolTarget) -> PoolArtefact:
    """A pool without a limit: it needs one, in the library the service uses."""
    lines = _pool_header(target, "#", f"at most {_connections(target.cap)} per {target.unit}.")
    lines += [
        f"# The pool has no limit today: set its maximum to {target.cap} per {target.unit} in the library",
        "# the service uses, and name that driver in the topology (pool: {driver: NAME, size: N}) so",
        "# planner writes its settings.",
    ]
    return PoolArtefact("pool.txt", "no limit", "\n".join(lines) + "\n", {}, "")


def _pool_generic(target: PoolTarget) -> PoolArtefact:
    """Any driver without a builder: a clear note, never another library's syntax.

    ``custom`` is also what a pool cap makes of a service that had no pool of its own (one
    connection per thread) or no limit: the note covers both, with the thread count where it matters.
    """
    if target.driver == CUSTOM_DRIVER:
        why = "The pool is given by its numbers alone (pool: {size: N}), so planner does not know its library."
    else:
        why = f"planner has no artefact for driver {target.driver!r}."
    keep = f", keeping {target.steady} open" if target.steady < target.cap else ""
    lines = _pool_header(target, "#", f"at most {_connections(target.cap)} per {target.unit}.")
    lines += [f"# {why}", f"# Set the maximum pool size of the library in use to {target.cap} per {target.unit}{keep}."]
    if target.threads > target.cap:
        lines.append(f"# Where each thread holds its own connection (no pool), run at most {target.cap} threads per "
                     f"{target.unit} instead (today {target.threads}).")
    if target.driver == CUSTOM_DRIVER:
        lines.append("# Name the driver in the topology (pool: {driver: NAME, size: N}) and planner writes its settings.")
    return PoolArtefact("pool.txt", "unknown", "\n".join(lines) + "\n", {}, "")


# The driver -> artefact table; names that are not here (new presets, "custom") get _pool_generic.
POOL_ARTEFACTS: dict[str, Callable[[PoolTarget], PoolArtefact]] = {
    "sqlalchemy": _pool_sqlalchemy,
    "asyncpg": _pool_asyncpg,
    "psycopg-pool": _pool_psycopg,
    "django": _pool_django,
    "django-pool": _pool_django_pool,
    "rails": _pool_rails,
    "node-pg": _pool_node_pg,
    "hikari": _pool_hikari,
    "database-sql": _pool_database_sql,
    "pgxpool": _pool_pgxpool,
    "per-thread": _pool_per_thread,
    "unbounded": _pool_unbounded,
}


def pool_artefact(target: PoolTarget) -> PoolArtefact:
    """Return the artefact of ``target``'s driver, or a generic note for a driver planner has none for."""
    return POOL_ARTEFACTS.get(target.driver, _pool_generic)(target)


def _pool_targets(option: Option) -> list[PoolTarget]:
    """Return what each service the option changes must become, from the option's own topology."""
    caps: Mapping[str, int] = option.details.get("pools") or {}
    if not caps:
        raise InputError(f"option '{option.title}' changes no pools")
    written_by = f"Written by planner for {option.topology.name}: {option.title}"
    targets = []
    for name, cap in caps.items():
        service = option.topology.services[name]
        pool = service.pool or Pool("per-thread", service.threads, 0)
        # the topology's pool is what `check` verified; the details' number is only its summary
        worst = cap if pool.unbounded else pool.worst
        # a min/max pool (psycopg_pool, asyncpg, Django's pool) names its own minimum, which may be 0;
        # for the others the steady size is the minimum (SQLAlchemy's pool_size=0 would mean no limit)
        minimum = getattr(pool, "min_size", None)
        steady = minimum if isinstance(minimum, int) else max(1, pool.steady or worst)
        targets.append(PoolTarget(
            service=name, driver=pool.driver, cap=worst, steady=min(steady, worst),
            threads=service.threads if service.shape == "long-running" else 1,
            unit="Lambda instance" if service.shape == "lambda" else "process", written_by=written_by,
        ))
    return targets


def _file_stems(names: list[str]) -> dict[str, str]:
    """Return a distinct, path-safe file stem for each service name."""
    stems: dict[str, str] = {}
    for name in names:
        base = re.sub(r"[^A-Za-z0-9_-]", "-", name).strip("-") or "service"
        stem, n = base, 2
        while stem in stems.values():
            stem, n = f"{base}-{n}", n + 1
        stems[name] = stem
    return stems


def emit_pools(option: Option) -> dict[str, str]:
    """Return one file per service in its own driver's setting names, and ``pools.json`` summing them up."""
    targets = _pool_targets(option)
    stems = _file_stems([t.service for t in targets])
    files: dict[str, str] = {}
    doc: dict[str, dict[str, object]] = {}
    for target in targets:
        artefact = pool_artefact(target)
        filename = f"{stems[target.service]}.{artefact.suffix}"
        files[filename] = artefact.content
        entry: dict[str, object] = {
            "driver": target.driver,
            "library": artefact.library,
            "connections": target.cap,
            "per": target.unit,
            "file": filename,
            "settings": dict(artefact.settings),
        }
        if artefact.threads_per_process is not None:
            entry["threads_per_process"] = artefact.threads_per_process
        if artefact.source:
            entry["source"] = artefact.source
        doc[target.service] = entry
    files["pools.json"] = json.dumps({"written_by": targets[0].written_by, "services": doc}, indent=2, ensure_ascii=False) + "\n"
    return files
