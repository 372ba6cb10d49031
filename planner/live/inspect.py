"""Pure logic of ``planner inspect``: what a live server's numbers mean.

Nothing here connects anywhere: :mod:`planner.adapters.postgres` reads a server into the
dataclasses of :mod:`planner.adapters.server`, and these functions turn them into the budget
(spec §3 with the server's own settings), who holds the slots, the plan against reality, advice
with its exact SQL, and the verify prediction: which connection an ordinary role is refused.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Sequence

from planner.budget.sessions import source_names
from planner.errors import InputError

if TYPE_CHECKING:
    from planner.adapters.pgbouncer import BouncerState
    from planner.budget import InstanceBudget, PoolerBudget

from planner.adapters.server import (
    IDLE_IN_TRANSACTION,
    ServerSettings,
    Session,
    Snapshot,
)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h)?\s*$", re.IGNORECASE)


_UNITS = {None: 1.0, "ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_duration(text: str, option: str = "--idle-after") -> float:
    """Return ``30s``, ``5m``, ``1h``, ``250ms`` or a bare number of seconds as seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise InputError(f"{option}: {text!r} is not a duration (use 30s, 5m, 1h or a number of seconds)")
    return float(match.group(1)) * _UNITS[match.group(2).lower() if match.group(2) else None]


def format_duration(seconds: float | None) -> str:
    """Return a duration as people read it: ``45s``, ``5m 3s``, ``2h 10m``."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{int(seconds)}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs}s" if secs else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m" if minutes else f"{hours}h"


@dataclass(frozen=True)
class LiveBudget:
    """The budget of spec §3 with the server's own settings, and how much of it is in use."""

    settings: ServerSettings
    in_use: int  # client backends, this session included
    in_use_superuser: int

    @property
    def usable(self) -> int:
        return self.settings.usable

    @property
    def free(self) -> int:
        """Return how many more connections ordinary roles can open now."""
        return max(0, self.usable - self.in_use)

    @property
    def percent_used(self) -> float:
        return round(100 * self.in_use / self.usable, 1) if self.usable > 0 else 100.0


def live_budget(snapshot: Snapshot) -> LiveBudget:
    """Return the server's budget and the slots its client sessions hold."""
    clients = snapshot.clients
    return LiveBudget(snapshot.settings, len(clients), sum(1 for s in clients if s.superuser))


def count_by(sessions: Iterable[Session], key: Callable[[Session], str | None], empty: str = "(none)") -> dict[str, int]:
    """Return sessions counted by ``key``, largest first (ties by name)."""
    counts: dict[str, int] = {}
    for session in sessions:
        value = key(session)
        label = "(hidden)" if value is None and session.hidden else (value or empty)
        counts[label] = counts.get(label, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def groupings(snapshot: Snapshot) -> dict[str, dict[str, int]]:
    """Return who holds the slots: client sessions by application, user, database, client, state;
    every backend (background processes too) by backend type."""
    clients = snapshot.clients
    return {
        "application_name": count_by(clients, lambda s: s.application_name),
        "user": count_by(clients, lambda s: s.user),
        "database": count_by(clients, lambda s: s.database),
        "client": count_by(clients, lambda s: s.client),
        "state": count_by(clients, lambda s: s.state),
        "backend_type": count_by(snapshot.sessions, lambda s: s.backend_type, empty="(unknown)"),
    }


def stale_idle_sessions(snapshot: Snapshot, idle_after: float) -> list[Session]:
    """Return sessions idle in a transaction for longer than ``idle_after`` seconds, oldest first."""
    stale = [
        s for s in snapshot.sessions
        if s.state in IDLE_IN_TRANSACTION and s.state_seconds is not None and s.state_seconds > idle_after
    ]
    return sorted(stale, key=lambda s: -(s.state_seconds or 0))


def oldest_transaction(snapshot: Snapshot) -> Session | None:
    """Return the session with the oldest open transaction, other than this one."""
    open_xacts = [s for s in snapshot.sessions if s.xact_seconds is not None and s.pid != snapshot.self_pid]
    return max(open_xacts, key=lambda s: s.xact_seconds or 0, default=None)


@dataclass(frozen=True)
class Advice:
    """One thing to do about the server, with the exact SQL (printed; run only on request)."""

    kind: str  # terminate | timeout
    sql: str
    reason: str
    pid: int | None = None


def quote_ident(name: str) -> str:
    """Quote an SQL identifier the way ``quote_ident`` does, always."""
    return '"' + name.replace('"', '""') + '"'


def terminate_sql(pid: int, idle_after: float) -> str:
    """Return SQL that ends ``pid`` only if it is still idle in a transaction past ``idle_after``."""
    states = ", ".join(f"'{s}'" for s in IDLE_IN_TRANSACTION)
    return (
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = {int(pid)} "
        f"AND state IN ({states}) AND state_change < now() - interval '{int(idle_after)} seconds';"
    )


def terminable(session: Session, self_pid: int) -> bool:
    """Return whether advice may end ``session``: an ordinary role's client, never our own."""
    return session.is_client and not session.superuser and not session.hidden and session.pid != self_pid


def advise(snapshot: Snapshot, idle_after: float) -> list[Advice]:
    """Return the advice for stale idle-in-transaction sessions: terminate them, set a timeout."""
    stale = [s for s in stale_idle_sessions(snapshot, idle_after) if terminable(s, snapshot.self_pid)]
    advice = [
        Advice(
            "terminate", terminate_sql(s.pid, idle_after),
            f"pid {s.pid} ({s.application_name or 'no application_name'}, user {s.user}) has been idle in a "
            f"transaction for {format_duration(s.state_seconds)}: it holds a slot and its locks",
            s.pid,
        )
        for s in stale
    ]
    timeout_ms = snapshot.settings.idle_in_transaction_session_timeout_ms
    seconds = max(1, math.ceil(idle_after))
    if stale and (timeout_ms == 0 or timeout_ms > seconds * 1000):
        current = "off" if timeout_ms == 0 else f"{timeout_ms} ms"
        for role in sorted({s.user for s in stale if s.user}):
            advice.append(Advice(
                "timeout", f"ALTER ROLE {quote_ident(role)} SET idle_in_transaction_session_timeout = '{seconds}s';",
                f"idle_in_transaction_session_timeout is {current}: the server would end such sessions itself "
                f"(new sessions of {role}; on RDS also settable in the parameter group, in ms)",
            ))
    return advice


@dataclass(frozen=True)
class SourceRow:
    """One planned source (or a service whose environment the sessions do not name) vs reality."""

    source: str
    kind: str  # service | pooler | service (environment not named)
    planned: Mapping[str, int | None]  # scenario -> demand; None = unbounded
    actual: int
    via: str | None = None

    @property
    def planned_max(self) -> int | None:
        values = list(self.planned.values())
        return None if any(v is None for v in values) else max((v or 0 for v in values), default=0)

    @property
    def above(self) -> bool:
        limit = self.planned_max
        return limit is not None and self.actual > limit


@dataclass(frozen=True)
class PlanComparison:
    """The plan of one instance against the sessions on the server."""

    database: str
    role: str
    max_connections: int
    usable: int
    rows: tuple[SourceRow, ...]
    unknown: Mapping[str, int] = field(default_factory=dict)  # application_name -> sessions

    @property
    def above(self) -> list[SourceRow]:
        return [r for r in self.rows if r.above]


@dataclass(frozen=True)
class PlanRow:
    """One row of the plan that sessions are counted on: a source, a pooler, or a service whose sessions do not
    name their environment (``SERVICE@*``, its sources merged)."""

    key: str
    kind: str  # service | pooler | service (environment not named)
    planned: Mapping[str, int | None]  # scenario -> demand; None = unbounded
    sources: tuple[str, ...]  # the planned sources it stands for


def plan_rows(
    instance: "InstanceBudget", poolers: Sequence["PoolerBudget"], application_names: Iterable[str]
) -> tuple[list[PlanRow], dict[str, str]]:
    """Return the plan's rows for sessions carrying ``application_names``, and the row each name is counted on.

    Names map as :mod:`planner.budget.sessions` says; a name that maps to nothing is not in the second
    result (an unknown client). When sessions name a service with several sources on the instance
    without the environment, that service's sources merge into one ``SERVICE@*`` row.
    """
    scenarios = tuple(instance.scenarios)
    planned = {source.source: {s: source.value(s) for s in scenarios} for source in instance.demand_by_source}
    kinds = {source.source: source.kind for source in instance.demand_by_source}
    names = source_names(instance, poolers)
    present = set(application_names)
    bare = {name for name in present if name in names.ambiguous}
    row_of: dict[str, str] = {}
    rows: list[PlanRow] = []
    merged: set[str] = set()
    for key in planned:
        service = next((s for s, keys in names.services.items() if key in keys and s in bare), None)
        if service is None:
            rows.append(PlanRow(key, kinds[key], planned[key], (key,)))
            continue
        if service in merged:
            continue
        merged.add(service)
        keys = [k for k in planned if k in names.services[service]]
        total: dict[str, int | None] = {}
        for s in scenarios:
            values = [planned[k][s] for k in keys]
            total[s] = None if any(v is None for v in values) else sum(v or 0 for v in values)
        rows.append(PlanRow(f"{service}@*", "service (environment not named)", total, tuple(keys)))
    into = {source: row.key for row in rows for source in row.sources}
    for name in present:
        if name in bare:
            row_of[name] = f"{name}@*"
        elif name in names.alias:
            row_of[name] = into[names.alias[name]]
    return rows, row_of


def compare_with_plan(
    instance: "InstanceBudget", poolers: Sequence["PoolerBudget"], snapshot: Snapshot
) -> PlanComparison:
    """Map each client session to a planned source by its ``application_name`` (:func:`plan_rows`) and compare."""
    counts: dict[str, int] = {}
    for session in snapshot.clients:
        if session.pid != snapshot.self_pid:
            counts[session.application_name] = counts.get(session.application_name, 0) + 1
    rows, row_of = plan_rows(instance, poolers, counts)
    actual = {row.key: 0 for row in rows}
    unknown: dict[str, int] = {}
    for name, count in counts.items():
        if name in row_of:
            actual[row_of[name]] += count
        else:
            unknown[name or "(none)"] = unknown.get(name or "(none)", 0) + count
    unknown = dict(sorted(unknown.items(), key=lambda kv: (-kv[1], kv[0])))
    return PlanComparison(
        instance.database, instance.role, instance.max_connections.value, instance.usable,
        tuple(SourceRow(row.key, row.kind, row.planned, actual[row.key]) for row in rows), unknown,
    )


def predict_refusal(max_connections: int, reserved: int, already_connected: int, demand: int) -> int | None:
    """Return the ordinal of the first of ``demand`` new connections an ordinary role is refused.

    Connection ``k`` succeeds while ``already_connected + k ≤ max_connections − reserved``
    (``already_connected`` counts every client backend, superusers' too); None when all fit.
    """
    capacity = max(0, max_connections - reserved - already_connected)
    return capacity + 1 if demand > capacity else None


def locate(ordinal: int, counts: Sequence[tuple[str, int]]) -> tuple[str, int] | None:
    """Return the source that opens connection ``ordinal`` (sources in order), and its own ordinal."""
    seen = 0
    for source, count in counts:
        if ordinal <= seen + count:
            return source, ordinal - seen
        seen += count
    return None


def bouncer_capacity(state: "BouncerState") -> int:
    """Return the most server connections this PgBouncer may open: per database, its pools ×
    (pool_size + reserve_pool), capped by max_db_connections."""
    global_cap = int(state.config.get("max_db_connections") or 0)
    total = 0
    for db in state.databases:
        pools = max(1, sum(1 for p in state.pools if p.database == db.get("name")))
        size = int(db.get("pool_size") or state.config.get("default_pool_size") or 0)
        per_db = pools * (size + int(db.get("reserve_pool") or 0))
        cap = int(db.get("max_connections") or 0) or global_cap
        total += min(per_db, cap) if cap else per_db
    return total
