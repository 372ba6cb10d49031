"""What a sampled window says: connections held against connections used, per group and per planned source,
and the leaks: sessions idle in a transaction too long, connections held that grow without being released.

The input is :class:`planner.live.sample.Samples` (``inspect --sample``, or its file). A session counts as
*in use* (busy) when it is active or idle in a transaction: either way its pool has handed it out, so
the pool cannot give it to another request. Percentiles are of the samples and are observed values
(``interpolation="higher"``): a p95 of 3 means 95 % of the samples saw at most 3. Samples see moments,
one per interval: a burst shorter than the interval may fall between two of them.

pandas is the table library here (group-bys over samples × groups, percentiles); only ``inspect --sample``
and ``recommend --observed`` import this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import pandas as pd

from planner.budget.demand import ceil_scaled
from planner.live.inspect import Advice, PlanRow, format_duration, plan_rows, quote_ident, terminate_sql
from planner.live.sample import Samples

if TYPE_CHECKING:
    from planner.budget import InstanceBudget, PoolerBudget
    from planner.model import Topology

KEYS = ("application_name", "user", "client", "database")
VALUES = ("held", "active", "idle", "idle_in_transaction", "hidden")
# the tables of inspect --sample: who (application_name and user), then by user alone and by client address
GROUPINGS: tuple[tuple[str, ...], ...] = (("application_name", "user"), ("user",), ("client",))
LEAK_MIN_SAMPLES = 8  # fewer: a rise cannot be told from noise
LEAK_MIN_RISE = 2  # connections: one more held can be a pool opening its next connection
# idle_session_timeout (PostgreSQL 14+) ends sessions idle longer than this, leaked ones included; longer than
# the idle time pools close what they opened above their minimum (psycopg_pool max_idle: 10 minutes)
LEAK_IDLE_TIMEOUT = "15min"


def _frame(samples: Samples) -> pd.DataFrame:
    """Return the samples in long form: one row per sample and group seen, with the group's names."""
    rows = [(i, *c) for i, counts in enumerate(samples.counts) for c in counts]
    frame = pd.DataFrame(rows, columns=["sample", "group", *VALUES, "longest"])
    names = pd.DataFrame([(g.application_name, g.user, g.client, g.database) for g in samples.groups], columns=list(KEYS))
    return frame.join(names, on="group")


def _per_sample(frame: pd.DataFrame, by: Sequence[str], samples: int) -> pd.DataFrame:
    """Return the counts per sample and key, with a row of zeros where a key held nothing in a sample."""
    summed = frame.groupby(["sample", *by], sort=False).agg(
        held=("held", "sum"), active=("active", "sum"), idle=("idle", "sum"), idle_in_transaction=("idle_in_transaction", "sum"),
        hidden=("hidden", "sum"), longest=("longest", "max"),
    )  # fmt: skip
    keys = summed.index.droplevel("sample").unique()
    full = pd.MultiIndex.from_tuples([(s, *(k if isinstance(k, tuple) else (k,))) for s in range(samples) for k in keys],
                                     names=["sample", *by])  # fmt: skip
    wide = summed.reindex(full, fill_value=0)
    wide["busy"] = wide["active"] + wide["idle_in_transaction"]
    return wide


@dataclass(frozen=True)
class Usage:
    """One group of sessions over the window: what it held and what it used."""

    key: tuple[str, ...]
    clients: int  # client addresses it connected from
    held_min: int
    held_median: float
    held_max: int
    active_median: float
    active_p95: int
    active_max: int
    idle_median: float
    idle_in_transaction_median: float
    idle_in_transaction_max: int
    longest_idle_in_transaction: float  # seconds
    busy_p99: int  # active + idle in transaction, 99th percentile of the samples
    busy_max: int
    busy_per_client_p99: int  # the same from one client address (one replica, where each has its own), the busiest
    busy_per_client_max: int
    hidden_max: int

    def as_dict(self, by: Sequence[str]) -> dict[str, object]:
        """Return the usage as JSON: the key's names, then every figure."""
        figures = {k: v for k, v in self.__dict__.items() if k != "key"}
        return {**dict(zip(by, self.key)), **figures}


def _high(series: pd.Series, q: float) -> int:
    return int(series.quantile(q, interpolation="higher"))


def usage_by(samples: Samples, by: Sequence[str] = GROUPINGS[0]) -> list[Usage]:
    """Return the usage of each group of sessions alike in ``by`` (names of :data:`KEYS`), most held first."""
    if not samples.taken or not samples.groups:
        return []
    by = list(by)
    frame = _frame(samples)
    wide = _per_sample(frame, by, samples.taken)
    client_level = by if "client" in by else [*by, "client"]
    by_client = _per_sample(frame, client_level, samples.taken)["busy"].groupby(level=client_level)
    client_p99 = by_client.quantile(0.99, interpolation="higher").groupby(level=by).max()
    client_max = by_client.max().groupby(level=by).max()
    clients = frame[frame["client"] != ""].groupby(by)["client"].nunique()
    found: list[Usage] = []
    for key, rows in wide.groupby(level=by):
        key = key if isinstance(key, tuple) else (key,)
        found.append(Usage(
            tuple(str(k) for k in key), int(clients.get(key if len(key) > 1 else key[0], 0)),
            int(rows["held"].min()), float(rows["held"].median()), int(rows["held"].max()),
            float(rows["active"].median()), _high(rows["active"], 0.95), int(rows["active"].max()),
            float(rows["idle"].median()), float(rows["idle_in_transaction"].median()), int(rows["idle_in_transaction"].max()),
            float(rows["longest"].max()), _high(rows["busy"], 0.99), int(rows["busy"].max()),
            int(client_p99[key if len(key) > 1 else key[0]]), int(client_max[key if len(key) > 1 else key[0]]),
            int(rows["hidden"].max()),
        ))  # fmt: skip
    return sorted(found, key=lambda u: (-u.held_max, u.key))


def totals(samples: Samples) -> dict[str, float | int]:
    """Return the whole server's client sessions over the window (this session left out): held and busy."""
    if not samples.taken:
        return {}
    frame = _frame(samples)
    per = frame.groupby("sample")[list(VALUES)].sum().reindex(range(samples.taken), fill_value=0)
    busy = per["active"] + per["idle_in_transaction"]
    return {"held_min": int(per["held"].min()), "held_median": float(per["held"].median()), "held_max": int(per["held"].max()),
            "busy_median": float(busy.median()), "busy_p95": _high(busy, 0.95), "busy_max": int(busy.max()),
            "hidden_max": int(per["hidden"].max())}  # fmt: skip


# --------------------------------------------------------------------------- leaks


@dataclass(frozen=True)
class Leak:
    """A group that does not give back what it takes: sessions idle in a transaction too long, or held connections growing."""

    kind: str  # idle-in-transaction | held-rising
    application_name: str
    user: str
    text: str
    pids: tuple[int, ...] = ()
    details: dict[str, object] | None = None


def _rising(held: pd.Series, busy: pd.Series, hidden: pd.Series) -> dict[str, object] | None:
    """Return the figures of held connections that rise and stay risen while use does not explain it; None else.

    The first and the last quarter of the window are compared: the fewest held in the last must exceed
    the most held in the first by :data:`LEAK_MIN_RISE` or more, and by more than use grew over the
    window (a pool that grows to meet more requests and keeps its connections is not a leak). Where the
    sessions are hidden from the connected role their use is unknown: the rise is said, not judged.
    """
    n = len(held)
    if n < LEAK_MIN_SAMPLES:
        return None
    q = max(2, n // 4)
    first, last = held.iloc[:q], held.iloc[-q:]
    rise = int(last.min() - first.max())
    grew = int(busy.max() - busy.iloc[:q].max())
    use_hidden = bool(hidden.max() > 0)
    if rise < LEAK_MIN_RISE or (rise <= grew and not use_hidden):
        return None
    return {"held_from": float(first.median()), "held_to": float(last.median()), "rise": rise, "busy_max": int(busy.max()),
            "use_hidden": use_hidden}  # fmt: skip


def find_leaks(samples: Samples) -> list[Leak]:
    """Return the groups (application_name and user) that idle in transactions past the threshold or leak connections."""
    leaks: list[Leak] = []
    stale: dict[tuple[str, str], list] = {}
    for session in samples.stale.values():
        stale.setdefault((session.application_name, session.user), []).append(session)
    for (name, user), sessions in sorted(stale.items()):
        sessions.sort(key=lambda s: -s.longest_seconds)
        at_end = sum(1 for s in sessions if s.at_end)
        count = f"{len(sessions)} session{'s' if len(sessions) > 1 else ''}"
        text = (f"{name or '(no application_name)'} (user {user}): {count} idle in a transaction for more "
                f"than {format_duration(samples.idle_after)} (longest {format_duration(sessions[0].longest_seconds)}; pid "
                f"{', '.join(str(s.pid) for s in sessions[:5])}{' …' if len(sessions) > 5 else ''}; {at_end} still so at the end): "
                "each holds its connection, and its locks, until it commits")  # fmt: skip
        leaks.append(Leak("idle-in-transaction", name, user, text, tuple(s.pid for s in sessions),
                          {"sessions": len(sessions), "longest_seconds": round(sessions[0].longest_seconds, 1), "at_end": at_end}))
    if samples.taken >= LEAK_MIN_SAMPLES and samples.groups:
        wide = _per_sample(_frame(samples), ["application_name", "user"], samples.taken)
        for (name, user), rows in wide.groupby(level=["application_name", "user"]):
            found = _rising(*(rows[k].reset_index(drop=True) for k in ("held", "busy", "hidden")))
            if found is None:
                continue
            rose = (f"{name or '(no application_name)'} (user {user}): held rose from {found['held_from']:g} to {found['held_to']:g} "
                    f"over {format_duration(samples.seconds)}")  # fmt: skip
            if found["use_hidden"]:
                text = (f"{rose}, and whether they were in use is hidden from role {samples.user}: a leak or more load "
                        f"(GRANT pg_read_all_stats TO {quote_ident(samples.user)}; tells them apart)")  # fmt: skip
            else:
                text = (f"{rose} while at most {found['busy_max']} were in use: connections opened and not released "
                        "(a code path that neither closes nor returns its connection)")  # fmt: skip
            leaks.append(Leak("held-rising", str(name), str(user), text, details=found))
    return leaks


def advise_leaks(samples: Samples, leaks: Sequence[Leak]) -> list[Advice]:
    """Return the usual remedies as exact SQL: end the stale sessions, a timeout per role or per database."""
    advice: list[Advice] = []
    seconds = max(1, math.ceil(samples.idle_after))
    at_end = [s for s in samples.stale.values() if s.at_end and not s.superuser and s.client != "" and s.pid != samples.self_pid]
    for s in sorted(at_end, key=lambda s: -s.longest_seconds):
        advice.append(Advice("terminate", terminate_sql(s.pid, samples.idle_after),
                             f"pid {s.pid} ({s.application_name or 'no application_name'}, user {s.user}) was idle in a "
                             f"transaction for {format_duration(s.longest_seconds)}, still at the window's end", s.pid))  # fmt: skip
    stale = [leak for leak in leaks if leak.kind == "idle-in-transaction"]
    roles = sorted({leak.user for leak in stale if leak.user})
    for role in roles:
        advice.append(Advice(
            "timeout", f"ALTER ROLE {quote_ident(role)} SET idle_in_transaction_session_timeout = '{seconds}s';",
            f"sessions of {role} stay idle in a transaction past {format_duration(samples.idle_after)}: the server would end "
            "them itself (new sessions of the role; on RDS also settable in the parameter group, in ms)",
        ))  # fmt: skip
    databases = sorted({s.database for s in samples.stale.values() if s.database})
    for database in databases if roles else ():
        advice.append(Advice(
            "timeout-database", f"ALTER DATABASE {quote_ident(database)} SET idle_in_transaction_session_timeout = '{seconds}s';",
            f"or for every role's new sessions on database {database}",
        ))
    rising = sorted({leak.user for leak in leaks if leak.kind == "held-rising" and leak.user and not (leak.details or {}).get("use_hidden")})
    if rising and (samples.version_num == 0 or samples.version_num >= 140000):
        for role in rising:
            advice.append(Advice(
                "idle-timeout", f"ALTER ROLE {quote_ident(role)} SET idle_session_timeout = '{LEAK_IDLE_TIMEOUT}';",
                f"connections of {role} are opened and not released: until the code is fixed, the server ends sessions idle "
                f"longer than {LEAK_IDLE_TIMEOUT} (PostgreSQL 14+; a pool must then check a connection before use: "
                "SQLAlchemy pool_pre_ping, psycopg_pool check)",
            ))  # fmt: skip
    return advice


# --------------------------------------------------------------------------- against the plan


@dataclass(frozen=True)
class PlannedUse:
    """One planned source (or pooler) and what its sessions held and used over the window."""

    row: PlanRow
    declared: str  # "pool 15 × 8 processes"
    names: tuple[str, ...]  # the application names counted on it
    held_median: float
    held_max: int
    active_median: float
    active_p95: int
    active_max: int
    busy_p99: int

    def sentence(self, window: str) -> str:
        """Return "web@prod holds 120 (pool 15 × 8 processes), at most 14 active in 30m (median 6, p95 11)"."""
        steady = self.row.planned.get("steady")
        plan = "" if steady is None else f"; planned steady {steady}"
        if not self.names:
            return f"{self.row.key}: no session in {window} ({self.declared}{plan})"
        return (f"{self.row.key} holds {self.held_max} ({self.declared}{plan}), at most {self.active_max} active in {window} "
                f"(median {self.active_median:g}, p95 {self.active_p95})")  # fmt: skip


def declared_pool(topology: "Topology", instance: "InstanceBudget", poolers: Sequence["PoolerBudget"], row: PlanRow) -> str:
    """Return what a row's plan holds in words: ``pool 15 × 8 processes``, ``connections 2``, a pooler's server pool."""
    by_source = {d.source: d for d in instance.demand_by_source}
    pooler = next((p for p in poolers if p.pooler == row.key), None)
    if pooler is not None:
        return f"{pooler.kind} server connections {pooler.server_connections}"
    sources = [by_source[s] for s in row.sources if s in by_source and by_source[s].service in topology.services]
    if not sources:
        return "not in the topology"
    service = topology.services[sources[0].service or ""]
    if service.shape == "fixed":
        return f"connections {service.connections}"
    pool = service.pool
    if pool is None:
        per = f"threads {service.threads}"
    elif pool.unbounded:
        per = "unbounded pool"
    else:
        per = f"pool {pool.steady}" + (f" + overflow {pool.max_overflow}" if pool.max_overflow else "")
    if service.shape == "lambda":
        return f"{per} per execution environment"
    steady = peak = 0
    for source in sources:
        environment = topology.environments.get(source.environment or "")
        scale = environment.scale if environment is not None else 1
        steady += ceil_scaled(service.replicas_min, scale) * service.processes
        peak += ceil_scaled(service.replicas_max, scale) * service.processes
    return f"{per} × {steady} process{'es' if steady > 1 else ''}" + (f", up to {peak}" if peak != steady else "")


def compare_usage(
    topology: "Topology", instance: "InstanceBudget", poolers: Sequence["PoolerBudget"], samples: Samples,
) -> tuple[list[PlannedUse], list[Usage]]:
    """Return each planned source's use over the window, and the application names the plan does not know."""
    if samples.taken and samples.groups:
        by_name = {u.key[0]: u for u in usage_by(samples, ("application_name",))}
    else:
        by_name = {}
    rows, row_of = plan_rows(instance, poolers, by_name)
    frame = _frame(samples) if by_name else None
    planned: list[PlannedUse] = []
    for row in rows:
        names = tuple(sorted(n for n, key in row_of.items() if key == row.key))
        declared = declared_pool(topology, instance, poolers, row)
        if not names or frame is None:
            planned.append(PlannedUse(row, declared, (), 0.0, 0, 0.0, 0, 0, 0))
            continue
        wide = _per_sample(frame[frame["application_name"].isin(names)].assign(row=row.key), ["row"], samples.taken)
        planned.append(PlannedUse(
            row, declared, names, float(wide["held"].median()), int(wide["held"].max()), float(wide["active"].median()),
            _high(wide["active"], 0.95), int(wide["active"].max()), _high(wide["busy"], 0.99),
        ))  # fmt: skip
    unknown = [u for name, u in by_name.items() if name not in row_of]
    return planned, sorted(unknown, key=lambda u: (-u.held_max, u.key))


def busy_per_application(samples: Samples) -> dict[str, tuple[int, int]]:
    """Return, per application_name, the sessions in use at once from one client address: (p99, max)."""
    return {u.key[0]: (u.busy_per_client_p99, u.busy_per_client_max) for u in usage_by(samples, ("application_name",))}


__all__ = [
    "GROUPINGS", "Leak", "PlannedUse", "Usage", "advise_leaks", "busy_per_application", "compare_usage", "declared_pool",
    "find_leaks", "totals", "usage_by",
]
