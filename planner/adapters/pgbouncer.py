"""PgBouncer's admin console: its pools, databases and settings (``SHOW POOLS``, ``SHOW DATABASES``, ``SHOW CONFIG``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from planner.errors import ExternalError

if TYPE_CHECKING:
    import psycopg

from planner.adapters.postgres import connect, describe_target, query_message


@dataclass(frozen=True)
class BouncerPool:
    """One (database, user) pool of ``SHOW POOLS``."""

    database: str
    user: str
    cl_active: int
    cl_waiting: int
    sv_active: int
    sv_idle: int
    sv_used: int
    sv_tested: int
    sv_login: int
    maxwait_seconds: float
    pool_mode: str

    @property
    def servers(self) -> int:
        """Return the server connections this pool holds on PostgreSQL."""
        return self.sv_active + self.sv_idle + self.sv_used + self.sv_tested + self.sv_login


@dataclass(frozen=True)
class BouncerState:
    """What PgBouncer's admin console says: pools, databases, configuration."""

    where: str
    version: str
    pools: tuple[BouncerPool, ...]
    databases: tuple[Mapping[str, Any], ...]
    config: Mapping[str, str]


def _rows(conn: "psycopg.Connection[Any]", command: str) -> list[dict[str, Any]]:
    cur = conn.cursor()
    cur.execute(command)
    names = [d.name for d in cur.description or []]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def read_pgbouncer(url: str, connect_timeout: float | None = None) -> BouncerState:
    """Read ``SHOW POOLS``, ``SHOW DATABASES`` and ``SHOW CONFIG`` from PgBouncer's admin console.

    The console speaks only the simple query protocol: a ``ClientCursor`` in autocommit mode.
    """
    import psycopg

    conn = connect(url, cursor_factory=psycopg.ClientCursor, what="PgBouncer", connect_timeout=connect_timeout)
    try:
        version = str(_rows(conn, "SHOW VERSION")[0].get("version", "?"))
        pools = [
            BouncerPool(
                str(r["database"]), str(r["user"]), int(r["cl_active"]), int(r["cl_waiting"]), int(r["sv_active"]),
                int(r["sv_idle"]), int(r["sv_used"]), int(r["sv_tested"]), int(r["sv_login"]),
                int(r.get("maxwait", 0)) + int(r.get("maxwait_us", 0)) / 1e6, str(r.get("pool_mode") or ""),
            )
            for r in _rows(conn, "SHOW POOLS") if r["database"] != "pgbouncer"
        ]
        databases = [r for r in _rows(conn, "SHOW DATABASES") if r.get("name") != "pgbouncer"]
        config = {str(r["key"]): "" if r["value"] is None else str(r["value"]) for r in _rows(conn, "SHOW CONFIG")}
    except psycopg.Error as exc:
        raise ExternalError(
            f"PgBouncer at {describe_target(url)}: {query_message(exc, url)} "
            "(connect to the admin console: database 'pgbouncer', as a user listed in admin_users or stats_users)"
        ) from exc
    finally:
        conn.close()
    return BouncerState(describe_target(url), version, tuple(pools), tuple(databases), config)


__all__ = ["BouncerPool", "BouncerState", "read_pgbouncer"]
