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
from itertools import chain
from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd

from planner.budget.demand import ceil_scaled
from planner.live.inspect import Advice, PlanRow, format_duration, plan_rows, quote_ident, terminate_sql
from planner.live.sample import Samples

if TYPE_CHECKING:
    from planner.budget import BudgetReport, InstanceBudget, PoolerBudget
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


def _high(series: pd.Series, q: float) -> int:
    """Return the ``q`` quantile as a value some sample saw (the next one up, not an interpolation)."""
    return int(series.quantile(q, interpolation="higher"))


class Activity:
    """The samples as arrays, built once: every table, total and leak of a window is computed from them.

    Per group of sessions alike (:class:`planner.live.sample.Group`) and any grouping of them (by
    application_name, user, client, or planned source), the counts are summed per sample into a
    samples × keys table (a key that held nothing in a sample counts 0 there) and read column by column.
    """

    def __init__(self, samples: Samples) -> None:
        self.samples = samples
        self.n = samples.taken
        flat = chain.from_iterable(chain((i,), c) for i, counts in enumerate(samples.counts) for c in counts)
        table = np.fromiter(flat, dtype=float).reshape(-1, 8)
        self.sample, self.group = table[:, 0].astype(np.int64), table[:, 1].astype(np.int64)
        self.values = {name: table[:, 2 + k] for k, name in enumerate(VALUES)}
        self.longest = table[:, 7]
        self.names = pd.DataFrame([(g.application_name, g.user, g.client, g.database) for g in samples.groups], columns=list(KEYS))

    def keys(self, by: Sequence[str]) -> tuple[np.ndarray, list[tuple[str, ...]]]:
        """Return each group's key index under ``by``, and the keys (in order of first appearance)."""
        codes, uniques = pd.factorize(pd.MultiIndex.from_frame(self.names[list(by)]))
        return np.asarray(codes, dtype=np.int64), [tuple(str(x) for x in (u if isinstance(u, tuple) else (u,))) for u in uniques]

    def wide(self, codes: np.ndarray, width: int, name: str) -> pd.DataFrame:
        """Return the samples × keys table of one count (``busy``: active + idle in transaction) under ``codes``."""
        if name == "busy":
            return self.wide(codes, width, "active") + self.wide(codes, width, "idle_in_transaction")
        flat = self.sample * width + codes[self.group] if len(self.group) else np.zeros(0, dtype=np.int64)
        counts = np.bincount(flat, weights=self.values[name], minlength=self.n * width)
        return pd.DataFrame(counts.reshape(self.n, width))

    def longest_by(self, codes: np.ndarray, width: int) -> np.ndarray:
        """Return the longest idle-in-transaction time of each key."""
        found = np.zeros(width)
        if len(self.group):
            np.maximum.at(found, codes[self.group], self.longest)
        return found

    def usage_by(self, by: Sequence[str] = GROUPINGS[0]) -> list[Usage]:
        """Return the usage of each group of sessions alike in ``by`` (names of :data:`KEYS`), most held first."""
        if not self.n or self.names.empty:
            return []
        codes, keys = self.keys(by)
        width = len(keys)
        held, active, idle, tx, hidden, busy = (self.wide(codes, width, name) for name in (*VALUES, "busy"))
        # the busiest client address of each key: the keys × clients combinations, read the same way
        pairs, combos = self.keys([*by, "client"] if "client" not in by else list(by))
        of_pair = np.zeros(len(combos), dtype=np.int64)
        of_pair[pairs] = codes
        per_client = self.wide(pairs, len(combos), "busy")
        client_p99 = pd.Series(per_client.quantile(0.99, interpolation="higher").to_numpy()).groupby(of_pair).max()
        client_max = pd.Series(per_client.max().to_numpy()).groupby(of_pair).max()
        clients = self.names[self.names["client"] != ""].assign(key=codes[self.names["client"] != ""]).groupby("key")["client"].nunique()
        longest = self.longest_by(codes, width)
        stats = {
            "held_min": held.min(), "held_median": held.median(), "held_max": held.max(), "active_median": active.median(),
            "active_p95": active.quantile(0.95, interpolation="higher"), "active_max": active.max(), "idle_median": idle.median(),
            "tx_median": tx.median(), "tx_max": tx.max(), "busy_p99": busy.quantile(0.99, interpolation="higher"),
            "busy_max": busy.max(), "hidden_max": hidden.max(),
        }  # fmt: skip
        found = [
            Usage(
                key, int(clients.get(k, 0)), int(stats["held_min"][k]), float(stats["held_median"][k]), int(stats["held_max"][k]),
                float(stats["active_median"][k]), int(stats["active_p95"][k]), int(stats["active_max"][k]),
                float(stats["idle_median"][k]), float(stats["tx_median"][k]), int(stats["tx_max"][k]), float(longest[k]),
                int(stats["busy_p99"][k]), int(stats["busy_max"][k]), int(client_p99[k]), int(client_max[k]), int(stats["hidden_max"][k]),
            )
            for k, key in enumerate(keys)
        ]  # fmt: skip
        return sorted(found, key=lambda u: (-u.held_max, u.key))

    def totals(self) -> dict[str, float | int]:
        """Return the whole server's client sessions over the window (this session left out): held and busy."""
        if not self.n:
            return {}
        codes = np.zeros(len(self.names), dtype=np.int64)
        held, busy, hidden = (self.wide(codes, 1, name)[0] for name in ("held", "busy", "hidden"))
        return {"held_min": int(held.min()), "held_median": float(held.median()), "held_max": int(held.max()),
                "busy_median": float(busy.median()), "busy_p95": int(busy.quantile(0.95, interpolation="higher")),
                "busy_max": int(busy.max()), "hidden_max": int(hidden.max())}  # fmt: skip


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


def usage_by(samples: Samples, by: Sequence[str] = GROUPINGS[0]) -> list[Usage]:
    """Return the usage of each group of sessions alike in ``by`` (names of :data:`KEYS`), most held first."""
    return Activity(samples).usage_by(by)


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


def find_leaks(samples: Samples, activity: "Activity | None" = None) -> list[Leak]:
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
        activity = activity or Activity(samples)
        codes, keys = activity.keys(("application_name", "user"))
        held, busy, hidden = (activity.wide(codes, len(keys), name) for name in ("held", "busy", "hidden"))
        for k, (name, user) in enumerate(keys):
            found = _rising(held[k], busy[k], hidden[k])
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
    activity: "Activity | None" = None,
) -> tuple[list[PlannedUse], list[Usage]]:
    """Return each planned source's use over the window, and the application names the plan does not know."""
    activity = activity or Activity(samples)
    by_name = {u.key[0]: u for u in activity.usage_by(("application_name",))}
    rows, row_of = plan_rows(instance, poolers, by_name)
    index = {row.key: k for k, row in enumerate(rows)}
    other = len(rows)  # the sessions of no row
    codes = np.array([index.get(row_of.get(g.application_name, ""), other) for g in samples.groups], dtype=np.int64)
    tables = {name: activity.wide(codes, other + 1, name) for name in ("held", "active", "busy")} if activity.n else {}
    planned: list[PlannedUse] = []
    for k, row in enumerate(rows):
        names = tuple(sorted(n for n, key in row_of.items() if key == row.key))
        declared = declared_pool(topology, instance, poolers, row)
        if not names or not tables:
            planned.append(PlannedUse(row, declared, (), 0.0, 0, 0.0, 0, 0, 0))
            continue
        held, active, busy = tables["held"][k], tables["active"][k], tables["busy"][k]
        planned.append(PlannedUse(
            row, declared, names, float(held.median()), int(held.max()), float(active.median()), _high(active, 0.95),
            int(active.max()), _high(busy, 0.99),
        ))  # fmt: skip
    unknown = [u for name, u in by_name.items() if name not in row_of]
    return planned, sorted(unknown, key=lambda u: (-u.held_max, u.key))


@dataclass(frozen=True)
class SampledUse:
    """A samples file set against one instance of a topology: what ``report --samples`` shows."""

    instance: str  # 'main/writer'
    samples: Samples
    plan: tuple[PlannedUse, ...]
    unknown: tuple[Usage, ...]


def sampled_use(report: "BudgetReport", instance: "InstanceBudget", samples: Samples) -> SampledUse:
    """Return ``samples`` compared with ``instance``'s planned sources (and its poolers)."""
    poolers = [p for p in report.poolers if p.database == instance.database]
    plan, unknown = compare_usage(report.topology, instance, poolers, samples)
    return SampledUse(instance.name, samples, tuple(plan), tuple(unknown))


def busy_per_application(samples: Samples) -> dict[str, tuple[int, int]]:
    """Return, per application_name, the sessions in use at once from one client address: (p99, max)."""
    return {u.key[0]: (u.busy_per_client_p99, u.busy_per_client_max) for u in Activity(samples).usage_by(("application_name",))}


__all__ = [
    "GROUPINGS", "Activity", "Leak", "PlannedUse", "Usage", "advise_leaks", "busy_per_application", "compare_usage", "declared_pool",
    "find_leaks", "usage_by",
]
