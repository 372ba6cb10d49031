"""Pure budget arithmetic (spec §2–3): demand per source and scenario, budget per instance.

Nothing here reads files or prints: ``compute_budget`` takes a validated :class:`Topology` and a
catalogue and returns a :class:`BudgetReport` that every renderer (text, JSON, Markdown, GitHub
annotations, HTML) reads. Every number is an exact integer; fractions (scale, surge, headroom)
are :class:`Fraction` so that ``ceil`` and ``floor`` never suffer from binary rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from planner.errors import FormulaError, InputError, Problem
from planner.formula import evaluate_formula
from planner.reserves import Reserve, reserves_for
from planner.model import (
    DEFAULT_MAX_CONNECTIONS_FORMULA,
    DEPLOYMENTS,
    RDS_ENGINES,
    SCENARIOS,
    SELF_MANAGED_MAX_CONNECTIONS,
    SERVERLESS_CLASS,
    SOURCE_AWS_DOC,
    SOURCE_ESTIMATED,
    SOURCE_PARAMETER,
    Database,
    EngineMemory,
    Pooler,
    Service,
    Topology,
    worst_status,
)

if TYPE_CHECKING:  # the catalogue pulls in pandas; the arithmetic only needs its interface
    from planner.catalog import Catalog

# What AWS assumes for a Lambda function without reserved concurrency: the account's
# regional concurrency limit, 1000 by default.
LAMBDA_ACCOUNT_CONCURRENCY = 1000
# Aurora Serverless v2: DBInstanceClassMemory follows the maximum capacity, 2 GiB per ACU, less a
# reserve; 0.9383 × 2 GiB × max_acu − 200 MiB reproduces every value AWS published (1 to 128 ACU).
SERVERLESS_FRACTION = Fraction(9383, 10000)
SERVERLESS_RESERVE = 200 * 2**20
SERVERLESS_PUBLISHED_MAX_ACU = (1, 4, 8, 16, 32, 64, 128)
# With a minimum of 0 or 0.5 ACU, Aurora caps the default max_connections at 2000.
SERVERLESS_LOW_MIN_ACU = Fraction(1, 2)
SERVERLESS_LOW_MIN_CAP = 2000
# Environment names that mean "this is production" for the lints that care.
PRODUCTION_NAMES = ("prod", "production", "live", "prd")


@dataclass(frozen=True)
class SourceDemand:
    """Connections one source (a service in one environment, or a pooler) opens per scenario."""

    source: str  # "web@prod", or the pooler's name for its server pool
    kind: str  # "service" | "pooler"
    database: str
    endpoint: str
    demand: Mapping[str, int]  # scenario -> connections (0 where unbounded)
    working: Mapping[str, str]  # scenario -> the multiplication written out
    unbounded: bool = False
    service: str | None = None
    environment: str | None = None
    via: str | None = None  # the pooler a service connects through; None = direct
    line: int | None = None


@dataclass(frozen=True)
class ScenarioResult:
    """Demand and status of one instance (or pooler client side) in one scenario."""

    demand: int | None  # None: unbounded
    status: str


@dataclass(frozen=True)
class MaxConnections:
    """The max_connections of one instance class under a database's parameters, and why."""

    value: int
    source: str  # parameter | observed | aws-doc | estimated
    formula: str  # the parameter as written (or the default formula), or the integer
    memory: EngineMemory | None  # DBInstanceClassMemory, where a formula used it
    vcpu: int | None = None
    default_value: int | None = None  # what the default parameter group would give
    # whether AWS offers the class for the database's engine, version and deployment (None: unknown),
    # and the deployments it is offered in
    deployable: bool | None = None
    offered_as: tuple[str, ...] = ()

    @property
    def reading_range(self) -> tuple[int, int] | None:
        """Return what a real instance may read for an estimate (the rule's leave-one-out range), else None."""
        if self.source != SOURCE_ESTIMATED or self.memory is None:
            return None
        return self.memory.reading_range(self.value)

    def estimate_text(self) -> str:
        """Return "estimate" with its range where known: "estimate; a real instance may read 812–833"."""
        found = self.reading_range
        return "estimate" + (f"; a real instance may read {found[0]}–{found[1]}" if found else "")


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
    client_capacity: int | None  # PgBouncer: replicas × max_client_conn; RDS Proxy: None
    client_working: str
    scenarios: Mapping[str, ScenarioResult]  # demand = client demand
    clients: tuple[SourceDemand, ...]
    line: int | None = None

    @property
    def status(self) -> str:
        return worst_status([s.status for s in self.scenarios.values()])


@dataclass(frozen=True)
class Finding:
    """A warning about a trap in the topology, with where it points."""

    code: str
    message: str
    key_path: str
    line: int | None = None

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

    @property
    def status(self) -> str:
        return worst_status([i.status for i in self.instances] + [p.status for p in self.poolers])


# --------------------------------------------------------------------------- demand


def ceil_scaled(count: int, scale: Fraction) -> int:
    """Return ``max(1, ceil(count × scale))``: a scaled replica or concurrency count."""
    # integer ceiling division: exact like Fraction arithmetic, without building Fractions
    return max(1, -(-count * scale.numerator // scale.denominator))


def service_demand(service: Service, environment: str, scale: Fraction, database: str) -> SourceDemand:
    """Return the demand of ``service`` in one environment, per scenario (spec §2)."""
    source = f"{service.name}@{environment}"
    unbounded = service.pool is not None and service.pool.unbounded
    if service.shape == "fixed":
        n = service.connections
        demand = {s: n for s in SCENARIOS}
        working = {s: f"connections {n} = {n}" for s in SCENARIOS}
    elif service.shape == "lambda":
        demand, working = _lambda_demand(service, scale)
    else:
        demand, working = _long_running_demand(service, scale)
    if unbounded:
        demand = {s: 0 for s in SCENARIOS}
        working = {s: "unbounded pool: no upper limit" for s in SCENARIOS}
    return SourceDemand(
        source=source,
        kind="service",
        database=database,
        endpoint=service.endpoint,
        demand=demand,
        working=working,
        unbounded=unbounded,
        service=service.name,
        environment=environment,
        line=service.line,
    )


def _pool_factors(service: Service) -> tuple[int, int, str, str]:
    """Return (per-process steady, per-process worst) and how each is written out."""
    pool = service.pool
    if pool is None:  # one connection per thread
        return service.threads, service.threads, f"threads {service.threads}", f"threads {service.threads}"
    steady = pool.steady
    worst = pool.worst
    steady_text = f"{pool.driver} pool {steady}"
    worst_text = f"{pool.driver} pool ({pool.steady} + overflow {pool.max_overflow})" if pool.max_overflow else f"{pool.driver} pool {worst}"
    return steady, worst, steady_text, worst_text


def _lambda_demand(service: Service, scale: Fraction) -> tuple[dict[str, int], dict[str, str]]:
    concurrency = service.lambda_concurrency or LAMBDA_ACCOUNT_CONCURRENCY
    c = ceil_scaled(concurrency, scale)
    _, worst, _, worst_text = _pool_factors(service)
    label = "concurrency" if service.lambda_concurrency else "account concurrency (assumed)"
    scaled = f" (= max(1, ceil({concurrency} × {_fmt(scale)})))" if scale != 1 else ""
    text = f"{label} {c}{scaled} × {worst_text} = {c * worst}"
    return {s: c * worst for s in SCENARIOS}, {s: text for s in SCENARIOS}


def _long_running_demand(service: Service, scale: Fraction) -> tuple[dict[str, int], dict[str, str]]:
    r_min = ceil_scaled(service.replicas_min, scale)
    r_max = ceil_scaled(service.replicas_max, scale)
    if service.surge_count is not None:
        surge = service.surge_count
    else:
        percent = service.surge_percent or Fraction(0)
        surge = -(-r_max * percent.numerator // percent.denominator)  # exact ceil(R_max × p)
    steady_pp, worst_pp, steady_text, worst_text = _pool_factors(service)
    p = service.processes
    demand = {
        "steady": r_min * p * steady_pp,
        "peak": r_max * p * worst_pp,
        "rollout": (r_max + surge) * p * worst_pp,
    }
    working = {
        "steady": f"replicas {r_min} × processes {p} × {steady_text} = {demand['steady']}",
        "peak": f"replicas {r_max} × processes {p} × {worst_text} = {demand['peak']}",
        "rollout": f"(replicas {r_max} + surge {surge}) × processes {p} × {worst_text} = {demand['rollout']}",
    }
    return demand, working


def _fmt(value: Fraction) -> str:
    """Write a fraction as a short decimal (0.5, 0.25) for explanations."""
    return f"{float(value):g}"


def resolve_database(topology: Topology, service: Service, environment: str) -> str | None:
    """Return the database ``service`` uses in ``environment`` (spec §2), or None if none resolves."""
    if service.database:
        return service.database
    env = topology.environments.get(environment)
    if env is not None and env.database:
        return env.database
    if len(topology.databases) == 1:
        return next(iter(topology.databases))
    return None


def service_environments(topology: Topology, service: Service) -> list[str]:
    """Return the environments ``service`` runs in, in the topology's order."""
    if service.environments is None:
        return list(topology.environments)
    return [e for e in topology.environments if e in service.environments]


def all_service_demands(topology: Topology, only: str | None = None) -> list[SourceDemand]:
    """Return the demand of every service in every environment it runs in (on database ``only``)."""
    demands: list[SourceDemand] = []
    for service in topology.services.values():
        for env_name in service_environments(topology, service):
            database = resolve_database(topology, service, env_name)
            if database is None or (only is not None and database != only):  # the loader reports None
                continue
            scale = topology.environments[env_name].scale
            demands.append(service_demand(service, env_name, scale, database))
    return demands


# --------------------------------------------------------------------------- budget


def max_connections_for(database: Database, instance_class: str | None, catalog: "Catalog | None", topology: Topology) -> MaxConnections:
    """Evaluate the ``max_connections`` parameter of ``database`` on ``instance_class``."""
    key = f"databases.{database.name}"
    param = database.parameters.get("max_connections")
    if database.engine not in RDS_ENGINES:
        if param is None:
            return MaxConnections(SELF_MANAGED_MAX_CONNECTIONS, SOURCE_PARAMETER, str(SELF_MANAGED_MAX_CONNECTIONS), None)
        if isinstance(param, int) or str(param).strip().isdigit():
            return MaxConnections(int(param), SOURCE_PARAMETER, str(param), None)
        raise _problem(topology, f"{key}.parameters.max_connections", "a self-managed database has no DBInstanceClassMemory", "set max_connections to an integer")
    if instance_class is None:
        raise _problem(
            topology, f"{key}.instance_class", "instance_class is required to compute the budget",
            "set instance_class (e.g. db.m6g.large) or run `planner plan` to choose one",
        )
    offer: dict[str, Any] = {}
    if instance_class == SERVERLESS_CLASS:
        memory, vcpu = serverless_memory(database), 0
    else:
        if catalog is None:
            raise InputError("a catalogue is required for RDS engines")
        try:
            memory = catalog.dbicm(instance_class, database.engine)
            cls = catalog.get(instance_class)
        except InputError as exc:
            raise _problem(topology, f"{key}.instance_class", str(exc).split("\n")[0], None) from exc
        vcpu = cls.vcpu
        offer = {"deployable": cls.deployable(database.engine, database.deployment_name, database.version),
                 "offered_as": tuple(d for d in DEPLOYMENTS[database.engine] if cls.deployable(database.engine, d, database.version))}
    variables = {"DBInstanceClassMemory": memory.dbicm_bytes, "DBInstanceVCPU": vcpu}
    default_value = evaluate_formula(DEFAULT_MAX_CONNECTIONS_FORMULA, variables)
    if instance_class == SERVERLESS_CLASS and database.min_acu is not None and database.min_acu <= SERVERLESS_LOW_MIN_ACU:
        default_value = min(default_value, SERVERLESS_LOW_MIN_CAP)
    if param is None:
        return MaxConnections(default_value, memory.source, DEFAULT_MAX_CONNECTIONS_FORMULA, memory, vcpu, default_value, **offer)
    if isinstance(param, int) or str(param).strip().isdigit():
        return MaxConnections(int(param), SOURCE_PARAMETER, str(param), memory, vcpu, default_value, **offer)
    try:
        value = evaluate_formula(str(param), variables)
    except FormulaError as exc:
        raise _problem(topology, f"{key}.parameters.max_connections", str(exc), "fix the formula as RDS writes it") from exc
    if value < 1:
        raise _problem(
            topology, f"{key}.parameters.max_connections",
            f"evaluates to {value} on {instance_class}", "PostgreSQL needs max_connections ≥ 1",
        )
    return MaxConnections(value, memory.source, str(param), memory, vcpu, default_value, **offer)


def serverless_memory(database: Database) -> EngineMemory:
    """Return the DBInstanceClassMemory of an Aurora Serverless v2 instance at its maximum ACU."""
    max_acu = database.max_acu or Fraction(1)
    dbicm = math.floor(SERVERLESS_FRACTION * 2 * 2**30 * max_acu) - SERVERLESS_RESERVE
    published = max_acu in SERVERLESS_PUBLISHED_MAX_ACU
    rule = f"Aurora Serverless v2 at max {float(max_acu):g} ACU: 0.9383 × 2 GiB × max_acu − 200 MiB"
    note = f"{rule} (reproduces AWS's published table)" if published else f"{rule} (interpolated between AWS's published values)"
    return EngineMemory(dbicm, SOURCE_AWS_DOC if published else SOURCE_ESTIMATED, note)


def database_reserves(database: Database) -> tuple[Reserve, ...]:
    """Return the reserved slots of ``database``'s engine version (spec §3), with its overrides."""
    return reserves_for(database.engine, database.version, database.parameters)


def scenario_status(demand: int | None, usable: int, alarm_at: int) -> str:
    """Return ``over``, ``warn`` or ``ok`` for a demand against an instance's lines (spec §3)."""
    if demand is None or demand > usable:
        return "over"
    if demand > alarm_at:
        return "warn"
    return "ok"


def _problem(topology: Topology, key_path: str, message: str, hint: str | None) -> InputError:
    return InputError(Problem(topology.path, key_path, message, topology.line_of(key_path), hint))


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


def _sum_demand(sources: Iterable[SourceDemand], scenario: str) -> int | None:
    total = 0
    for source in sources:
        if source.unbounded:
            return None
        total += source.demand[scenario]
    return total


def _share(source: SourceDemand, readers: int) -> SourceDemand:
    """Return one reader's share of a reader-endpoint source: ceil(demand / readers)."""
    if readers <= 1:
        return source
    demand = {s: -(-d // readers) for s, d in source.demand.items()}
    working = {s: f"{w} → ceil(÷ {readers} readers) = {demand[s]}" for s, w in source.working.items()}
    return replace(source, demand=demand, working=working)


def compute_budget(
    topology: Topology,
    catalog: "Catalog | None",
    scenarios: Sequence[str] = SCENARIOS,
    demands: Sequence[SourceDemand] | None = None,
) -> BudgetReport:
    """Compute every instance's and pooler's budget for ``scenarios`` (spec §2–3).

    ``demands`` may pass in :func:`all_service_demands` computed once, for callers (``plan``)
    that re-run the budget on many instance classes; demand does not depend on the class.
    """
    scenarios = tuple(s for s in SCENARIOS if s in scenarios)
    routes = _routes(topology)
    direct: list[SourceDemand] = []
    via: dict[str, list[SourceDemand]] = {name: [] for name in topology.poolers}
    for demand in all_service_demands(topology) if demands is None else demands:
        pooler = routes.get((demand.service or "", demand.environment or ""))
        if pooler is None:
            direct.append(demand)
        else:
            via[pooler.name].append(replace(demand, via=pooler.name))

    writer_max: dict[str, MaxConnections] = {}
    reader_max: dict[str, MaxConnections] = {}
    problems: list[Problem] = []
    for db in topology.databases.values():
        try:
            writer_max[db.name] = max_connections_for(db, db.instance_class, catalog, topology)
            if db.readers:
                reader_class = db.reader_instance_class or db.instance_class
                reader_max[db.name] = max_connections_for(db, reader_class, catalog, topology)
        except InputError as exc:
            problems.extend(p for p in exc.problems if isinstance(p, Problem))
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

    from planner.lints import find_traps  # the lints read the report; kept apart to keep this module short

    report = BudgetReport(topology, scenarios, tuple(instances), tuple(poolers))
    return replace(report, warnings=tuple(find_traps(report)))


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
    for scenario in scenarios:
        demand = _sum_demand(clients, scenario)
        over = capacity is not None and (demand is None or demand > capacity)
        results[scenario] = ScenarioResult(demand, "over" if over else "ok")
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
