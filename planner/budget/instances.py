"""The budget of each instance and pooler (spec §2–3) for a topology: what ``check`` knows.

Nothing here reads files or prints: :func:`budget_report` takes a validated :class:`Topology`
and a catalogue and returns a :class:`BudgetReport` that every renderer reads. Demand comes from
:mod:`planner.budget.demand`, each instance's limits from :mod:`planner.budget.limits`; the
warnings come later, from the lints (:func:`planner.budget.compute_budget`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import TYPE_CHECKING, Mapping, Sequence

from planner.budget.demand import SourceDemand, all_service_demands, resolve_database, service_environments
from planner.budget.limits import MaxConnections, database_reserves, max_connections_for
from planner.errors import InputError, Problem
from planner.model import SCENARIOS, Database, Pooler, Topology, worst_status
from planner.reserves import Reserve

if TYPE_CHECKING:  # the arithmetic only needs the catalogue's interface, not its reader
    from planner.catalog import Catalog


@dataclass(frozen=True)
class ScenarioResult:
    """Demand and status of one instance (or pooler client side) in one scenario."""

    demand: int | None  # None: unbounded
    status: str


@dataclass(frozen=True)
class InstanceBudget:
    """The connection budget of one database instance (the writer or one reader)."""

    database: str
    role: str  # writer | reader-1 | reader-2 ...
    engine: str
    instance_class: str | None
    max_connections: MaxConnections
    reserves: tuple[Reserve, ...]
    headroom: Fraction
    scenarios: Mapping[str, ScenarioResult]
    demand_by_source: tuple[SourceDemand, ...]
    readers: int = 0
    line: int | None = None
    engine_version: str = ""

    @property
    def name(self) -> str:
        """Return the instance as every output names it: ``main/writer``, ``main/reader-2``."""
        return f"{self.database}/{self.role}"

    @property
    def reserved_slots(self) -> tuple[tuple[str, int], ...]:
        """Return (parameter, value) of each reserve, in the order the engine version lists them."""
        return tuple((r.parameter, r.value) for r in self.reserves)

    @property
    def reserved(self) -> int:
        return sum(r.value for r in self.reserves)

    @property
    def reserved_estimated(self) -> bool:
        """Return whether any reserve is an estimate (an undocumented default)."""
        return any(r.estimated for r in self.reserves)

    @property
    def master_usable(self) -> int:
        """Return what the master user (an rds_superuser member) can open: it may use some reserves."""
        return self.max_connections.value - sum(r.value for r in self.reserves if not r.master_user_may_use)

    @property
    def usable(self) -> int:
        return self.max_connections.value - self.reserved

    @property
    def alarm_at(self) -> int:
        return math.floor(self.max_connections.value * (1 - self.headroom))

    @property
    def status(self) -> str:
        return worst_status([s.status for s in self.scenarios.values()])

    @property
    def worst_demand(self) -> int | None:
        """Return the largest demand over the scenarios (None if any is unbounded)."""
        if any(s.demand is None for s in self.scenarios.values()):
            return None
        return max((s.demand or 0 for s in self.scenarios.values()), default=0)


@dataclass(frozen=True)
class PoolerBudget:
    """A pooler: the server connections it holds and its client side per scenario."""

    pooler: str
    kind: str
    database: str
    endpoint: str
    server_connections: int  # in total, over its replicas
    server_working: str
    client_capacity: int | None  # PgBouncer: replicas × max_client_conn; Pgpool-II: replicas × num_init_children; RDS Proxy: None
    client_working: str
    scenarios: Mapping[str, ScenarioResult]  # demand = client demand
    clients: tuple[SourceDemand, ...]
    line: int | None = None

    @property
    def client_overflow(self) -> str | None:
        """Return what happens to clients beyond the client capacity: ``refused``, ``wait``, or None (no limit modelled)."""
        return CLIENT_OVERFLOW.get(self.kind)

    @property
    def status(self) -> str:
        return worst_status([s.status for s in self.scenarios.values()])


@dataclass(frozen=True)
class Finding:
    """A warning about a trap in the topology, with where it points.

    ``message`` stands alone. A lint that can fire for many services of one topology also says what
    they share (``cause``: the trap and its fix) apart from what is one service's own (``subject``,
    ``detail``: its numbers), so that :func:`planner.budget.grouping.grouped` can print one line for
    the cause listing them (issue 18 item 8).
    """

    code: str
    message: str
    key_path: str
    line: int | None = None
    subject: str | None = None
    cause: str | None = None
    detail: str | None = None

    def __str__(self) -> str:
        return f"{self.key_path}: {self.message}"


@dataclass(frozen=True)
class BudgetReport:
    """Everything ``check`` knows about a topology: instances, poolers, warnings, verdict."""

    topology: Topology
    scenarios: tuple[str, ...]
    instances: tuple[InstanceBudget, ...]
    poolers: tuple[PoolerBudget, ...]
    warnings: tuple[Finding, ...] = field(default_factory=tuple)
    # informational warnings (how a number was counted, nothing to change) a person's view folds into one
    # line unless --verbose (planner.budget.grouping.fold_notes); machine formats keep them in warnings
    notes: tuple[Finding, ...] = field(default_factory=tuple)
    # warnings the topology acknowledges (`lints`), each with the reason it gives: counted, not listed
    acknowledged: tuple[tuple[Finding, str], ...] = field(default_factory=tuple)
    # every service's demand in every environment it runs in, before routing through poolers or
    # sharing among readers: what the lints quote a service's own total from
    demands: tuple[SourceDemand, ...] = field(default_factory=tuple)

    @property
    def status(self) -> str:
        return worst_status([i.status for i in self.instances] + [p.status for p in self.poolers])


def worst_scenario(scenarios: Mapping[str, ScenarioResult]) -> str:
    """Return the scenario with the largest demand (an unbounded one first): the one to quote."""
    return max(scenarios, key=lambda s: (scenarios[s].demand is None, scenarios[s].demand or 0))


def scenario_status(demand: int | None, usable: int, alarm_at: int) -> str:
    """Return ``over``, ``warn`` or ``ok`` for a demand against an instance's lines (spec §3)."""
    if demand is None or demand > usable:
        return "over"
    if demand > alarm_at:
        return "warn"
    return "ok"


def _routes(topology: Topology) -> dict[tuple[str, str], Pooler]:
    """Map (service, environment) to the pooler it connects through."""
    routes: dict[tuple[str, str], Pooler] = {}
    for pooler in topology.poolers.values():
        for client in pooler.clients:
            service = topology.services.get(client)
            if service is None:
                continue
            for env_name in service_environments(topology, service):
                if pooler.environments is not None and env_name not in pooler.environments:
                    continue
                if resolve_database(topology, service, env_name) == pooler.database:
                    routes[(client, env_name)] = pooler
    return routes


def _sum_demand(sources: Sequence[SourceDemand], scenario: str) -> int | None:
    """Return the sources' total demand in ``scenario``, or None when one of them is unbounded there."""
    # unbounded sources are rare: one cheap pass finds them, then a plain sum (recommend sums millions)
    if any(source.unbounded for source in sources) and any(source.unbounded_in(scenario) for source in sources):
        return None
    return sum([source.demand[scenario] for source in sources])


def _share(source: SourceDemand, readers: int) -> SourceDemand:
    """Return one reader's share of a reader-endpoint source: ceil(demand / readers)."""
    if readers <= 1:
        return source
    demand = {s: -(-d // readers) for s, d in source.demand.items()}
    working = {s: f"{w} → ceil(÷ {readers} readers) = {demand[s]}" for s, w in source.working.items()}
    return replace(source, demand=demand, working=working)


def budget_report(
    topology: Topology,
    catalog: "Catalog | None",
    scenarios: Sequence[str] = SCENARIOS,
    demands: Sequence[SourceDemand] | None = None,
) -> BudgetReport:
    """Compute every instance's and pooler's budget for ``scenarios`` (spec §2–3), without warnings.

    ``demands`` may pass in :func:`all_service_demands` computed once, for callers (``plan``)
    that re-run the budget on many instance classes; demand does not depend on the class.
    :func:`planner.budget.compute_budget` adds the lints' warnings.
    """
    scenarios = tuple(s for s in SCENARIOS if s in scenarios)
    routes = _routes(topology)
    direct: list[SourceDemand] = []
    via: dict[str, list[SourceDemand]] = {name: [] for name in topology.poolers}
    demands = tuple(all_service_demands(topology) if demands is None else demands)
    for demand in demands:
        pooler = routes.get((demand.service or "", demand.environment or ""))
        if pooler is None:
            direct.append(demand)
        else:
            via[pooler.name].append(replace(demand, via=pooler.name))

    writer_max: dict[str, MaxConnections] = {}
    reader_max: dict[str, MaxConnections] = {}
    problems: list[Problem] = []
    for db in topology.databases.values():
        # writer and readers each on their own: a bad writer class must not hide a bad reader class
        try:
            writer_max[db.name] = max_connections_for(db, db.instance_class, catalog, topology)
        except InputError as exc:
            problems.extend(p for p in exc.problems if isinstance(p, Problem))
        if not db.readers:
            continue
        reader_class = db.reader_instance_class or db.instance_class
        if reader_class == db.instance_class and db.name not in writer_max:
            continue  # the same class: its problem is reported once, for the writer
        own_key = "reader_instance_class" if db.reader_instance_class else "instance_class"
        try:
            reader_max[db.name] = max_connections_for(db, reader_class, catalog, topology, own_key)
        except InputError as exc:
            problems.extend(p for p in exc.problems if isinstance(p, Problem) and p not in problems)
    if problems:
        raise InputError(problems)

    poolers: list[PoolerBudget] = []
    pooler_sources: list[SourceDemand] = []
    for pooler in topology.poolers.values():
        budget, server_source = _pooler_budget(pooler, via[pooler.name], writer_max, reader_max, topology, scenarios)
        poolers.append(budget)
        pooler_sources.append(server_source)

    by_database: dict[str, list[SourceDemand]] = {name: [] for name in topology.databases}
    for source in direct + pooler_sources:
        by_database.setdefault(source.database, []).append(source)
    instances: list[InstanceBudget] = []
    for db in topology.databases.values():
        on_db = by_database[db.name]
        writer_sources = tuple(s for s in on_db if s.endpoint == "writer")
        instances.append(_instance(db, "writer", db.instance_class, writer_max[db.name], writer_sources, scenarios))
        reader_sources = tuple(_share(s, db.readers) for s in on_db if s.endpoint == "reader")
        for k in range(1, db.readers + 1):
            reader_class = db.reader_instance_class or db.instance_class
            instances.append(
                _instance(db, f"reader-{k}", reader_class, reader_max[db.name], reader_sources, scenarios, _reader_total(on_db, db.readers))
            )

    return BudgetReport(topology, scenarios, tuple(instances), tuple(poolers), demands=demands)


def _reader_total(sources: list[SourceDemand], readers: int) -> dict[str, int | None]:
    """Return each reader's demand per scenario: ceil(reader-endpoint demand / readers)."""
    reader_sources = [s for s in sources if s.endpoint == "reader"]
    totals: dict[str, int | None] = {}
    for scenario in SCENARIOS:
        total = _sum_demand(reader_sources, scenario)
        totals[scenario] = None if total is None else -(-total // readers)
    return totals


def _instance(
    db: Database,
    role: str,
    instance_class: str | None,
    max_conn: MaxConnections,
    sources: tuple[SourceDemand, ...],
    scenarios: tuple[str, ...],
    totals: Mapping[str, int | None] | None = None,
) -> InstanceBudget:
    reserves = database_reserves(db)
    usable = max_conn.value - sum(r.value for r in reserves)
    alarm_at = math.floor(max_conn.value * (1 - db.headroom))
    results: dict[str, ScenarioResult] = {}
    for scenario in scenarios:
        demand = totals[scenario] if totals is not None else _sum_demand(sources, scenario)
        results[scenario] = ScenarioResult(demand, scenario_status(demand, usable, alarm_at))
    return InstanceBudget(
        database=db.name,
        role=role,
        engine=db.engine,
        instance_class=instance_class,
        max_connections=max_conn,
        reserves=reserves,
        headroom=db.headroom,
        scenarios=results,
        demand_by_source=sources,
        readers=db.readers,
        line=db.line,
        engine_version=db.engine_version,
    )


# What a pooler does with clients beyond its client capacity, and the status that earns: PgBouncer
# refuses them ("no more connections allowed (max_client_conn)"); Pgpool-II's children take one client
# each and the rest wait in the listen queue, unrefused while reserved_connections is 0, its default
# (https://www.pgpool.net/docs/latest/en/html/runtime-config-connection.html).
CLIENT_OVERFLOW: dict[str, str] = {"pgbouncer": "refused", "pgpool": "wait"}
OVERFLOW_STATUS: dict[str, str] = {"refused": "over", "wait": "warn"}


def pgpool_server_connections(pooler: Pooler) -> tuple[int, str]:
    """Return the backend connections a Pgpool-II fleet can hold, and the working (spec §2, v1.2).

    Each child process caches up to ``max_pool`` backend connections (one per user/database pair it
    served), so a replica holds at most ``num_init_children × max_pool``.
    """
    total = pooler.replicas * pooler.num_init_children * pooler.max_pool
    return total, (f"replicas {pooler.replicas} × num_init_children {pooler.num_init_children} × "
                   f"max_pool {pooler.max_pool} = {total}")


def pgbouncer_server_connections(pooler: Pooler) -> tuple[int, str]:
    """Return the server connections a PgBouncer fleet can hold, and the working (spec §2)."""
    per_pair = pooler.default_pool_size + pooler.reserve_pool_size
    per_replica = pooler.pairs * per_pair
    text = f"pairs {pooler.pairs} × (default_pool_size {pooler.default_pool_size} + reserve_pool_size {pooler.reserve_pool_size})"
    if pooler.max_db_connections and pooler.max_db_connections < per_replica:
        per_replica = pooler.max_db_connections
        text = f"max_db_connections {pooler.max_db_connections}"
    total = pooler.replicas * per_replica
    return total, f"replicas {pooler.replicas} × {text} = {total}"


def _pooler_budget(
    pooler: Pooler,
    clients: list[SourceDemand],
    writer_max: Mapping[str, MaxConnections],
    reader_max: Mapping[str, MaxConnections],
    topology: Topology,
    scenarios: tuple[str, ...],
) -> tuple[PoolerBudget, SourceDemand]:
    if pooler.kind == "pgbouncer":
        server, working = pgbouncer_server_connections(pooler)
        capacity: int | None = pooler.replicas * pooler.max_client_conn
        client_working = f"replicas {pooler.replicas} × max_client_conn {pooler.max_client_conn} = {capacity}"
    elif pooler.kind == "pgpool":
        server, working = pgpool_server_connections(pooler)
        capacity = pooler.replicas * pooler.num_init_children
        client_working = (f"replicas {pooler.replicas} × num_init_children {pooler.num_init_children} = {capacity} "
                          "(one client per child; more wait in Pgpool-II's queue)")
    else:
        target = (reader_max if pooler.endpoint == "reader" else writer_max)[pooler.database]
        server = target.value * pooler.max_connections_percent // 100
        working = f"floor(max_connections {target.value} × {pooler.max_connections_percent} / 100) = {server}"
        readers = topology.databases[pooler.database].readers
        if pooler.endpoint == "reader" and readers > 1:
            # A proxy's reader endpoint keeps its percentage of *each* reader's slots; the
            # reader split below divides by the reader count, so hand it the sum.
            server *= readers
            working = f"{working} on each of {readers} readers"
        capacity = None
        client_working = "no client limit modelled for RDS Proxy"
    results: dict[str, ScenarioResult] = {}
    beyond = OVERFLOW_STATUS.get(CLIENT_OVERFLOW.get(pooler.kind, ""), "ok")
    for scenario in scenarios:
        demand = _sum_demand(clients, scenario)
        exceeds = capacity is not None and (demand is None or demand > capacity)
        results[scenario] = ScenarioResult(demand, beyond if exceeds else "ok")
    budget = PoolerBudget(
        pooler=pooler.name,
        kind=pooler.kind,
        database=pooler.database,
        endpoint=pooler.endpoint,
        server_connections=server,
        server_working=working,
        client_capacity=capacity,
        client_working=client_working,
        scenarios=results,
        clients=tuple(clients),
        line=pooler.line,
    )
    source = SourceDemand(
        source=pooler.name,
        kind="pooler",
        database=pooler.database,
        endpoint=pooler.endpoint,
        demand={s: server for s in SCENARIOS},
        working={s: working for s in SCENARIOS},
        line=pooler.line,
    )
    return budget, source


__all__ = [
    "BudgetReport",
    "Finding",
    "InstanceBudget",
    "PoolerBudget",
    "ScenarioResult",
    "budget_report",
    "pgbouncer_server_connections",
    "pgpool_server_connections",
    "scenario_status",
]
