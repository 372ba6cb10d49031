"""Options that bring an instance or pooler back under its alarm line, with their numbers.

Every option is a changed :class:`Topology`; its numbers come from re-running
:func:`compute_budget` on it, never from a separate formula, so what an option promises is what
``check`` says once it is applied. Pure: no files, no network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from planner.budget import (
    BudgetReport,
    InstanceBudget,
    SourceDemand,
    all_service_demands,
    compute_budget,
    max_connections_for,
    resolve_database,
    service_environments,
)
from planner.model import (
    RDS_ENGINES,
    SCENARIOS,
    STATUS_RANK,
    InstanceClass,
    Pool,
    Pooler,
    Price,
    Service,
    Topology,
    price_for,
    worst_status,
)
from planner.budget.plan import HOURS_PER_MONTH, _single_database, candidate_classes, plan_database

if TYPE_CHECKING:
    from planner.catalog import Catalog

# RDS Proxy is billed per vCPU-hour of the instances it fronts (minimum 2 vCPUs per instance).
RDS_PROXY_USD_PER_VCPU_HOUR = 0.015
RDS_PROXY_MIN_VCPU = 2
RDS_PROXY_PRICE_SOURCE = (
    "RDS Proxy on-demand price for provisioned instances, us-east-1: $0.015 per vCPU-hour, minimum 2 vCPUs "
    "(AWS RDS Proxy pricing page, as of 2026-11; an estimate: check your region)"
)
NO_PRICE_CHANGE = "no price change"
# A PostgreSQL backend's memory, to judge whether max_connections may be raised: about 5 MiB for an
# idle backend (catalog caches, stack); work_mem comes on top for every sort or hash a query runs.
BACKEND_MEMORY_BYTES = 5 * 2**20
# RDS gives shared_buffers {DBInstanceClassMemory/32768} pages of 8 KiB: a quarter of the memory.
SHARED_BUFFERS_FRACTION = Fraction(1, 4)
PGBOUNCER_REPLICAS = 2  # one per availability zone: a single PgBouncer is a single point of failure
CLIENT_CONN_MARGIN = Fraction(11, 10)  # max_client_conn 10 % above the rollout demand
# A pooler with fewer server connections than this per replica (or proxy) serializes its clients'
# transactions: it "fits" on paper and fails in production. Below it, the option needs a bigger class.
MIN_SERVER_POOL = 5

TRANSACTION_POOLING_BREAKS = (
    "transaction pooling breaks session state: SET/RESET of session variables, session-level advisory locks, "
    "LISTEN/NOTIFY, WITH HOLD cursors and temporary tables that outlive a transaction",
    "protocol-level prepared statements need PgBouncer 1.21 or later with max_prepared_statements set "
    "(before 1.21: disable them in the driver, e.g. prepare_threshold=None in psycopg, statement_cache_size=0 in asyncpg)",
    "PgBouncer needs its own pods/VMs, a userlist or auth_query, and monitoring (SHOW POOLS)",
)


@dataclass(frozen=True)
class Outcome:
    """One target's numbers in a topology: its usable, worst demand and status."""

    usable: int
    alarm_at: int
    worst_scenario: str
    worst_demand: int | None
    status: str

    @property
    def headroom(self) -> int | None:
        """Connections left under the alarm line in the worst scenario (negative: over it)."""
        return None if self.worst_demand is None else self.alarm_at - self.worst_demand


@dataclass(frozen=True)
class Option:
    """One way to close a gap: the changed topology, its numbers, its cost, what it requires."""

    kind: str  # resize | resize-family | parameter | pgbouncer | rds-proxy | proxy-percent | shrink-pools | client-limit
    database: str
    title: str
    topology: Topology
    before: Outcome
    after: Outcome
    fits: bool
    requires: tuple[str, ...] = ()
    monthly_cost_delta: float | None = None
    cost_note: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    effort: int = 3  # 1 = a setting, 2 = configuration in every service, 3 = new infrastructure, 4 = a bigger instance


@dataclass(frozen=True)
class Recommendation:
    """The ranked options for one flagged database (its instances and its poolers)."""

    database: str
    problem: str
    options: tuple[Option, ...]
    notes: tuple[str, ...] = ()


def _outcome(report: BudgetReport, database: str) -> Outcome:
    """Return the worst instance of ``database`` (and its poolers' client side) as one Outcome."""
    instances = [i for i in report.instances if i.database == database]
    worst = max(instances, key=lambda i: (STATUS_RANK[i.status], -(i.alarm_at - (i.worst_demand or 10**9))))
    scenario = max(worst.scenarios, key=lambda s: (worst.scenarios[s].demand is None, worst.scenarios[s].demand or 0))
    poolers = [p.status for p in report.poolers if p.database == database]
    status = worst_status([i.status for i in instances] + poolers)
    return Outcome(worst.usable, worst.alarm_at, scenario, worst.scenarios[scenario].demand, status)


def _evaluate(
    kind: str, database: str, title: str, before: Outcome, topology: Topology, catalog: "Catalog | None", **extra: Any,
) -> Option:
    """Re-run the budget on ``topology`` and wrap the result as an :class:`Option`."""
    after = _outcome(budget_for(topology, catalog, database), database)
    return Option(kind, database, title, topology, before, after, after.status == "ok", **extra)


def budget_for(topology: Topology, catalog: "Catalog | None", database: str) -> BudgetReport:
    """Return the budget of ``database`` alone: only its services' demand is computed."""
    sub = _single_database(topology, database)
    return compute_budget(sub, catalog, SCENARIOS, all_service_demands(topology, database))


def _with_database(topology: Topology, name: str, **changes: Any) -> Topology:
    return replace(topology, databases={**topology.databases, name: replace(topology.databases[name], **changes)})


def _instance_price(topology: Topology, catalog: "Catalog", database: str, instance_class: str | None) -> Price | None:
    """Return the on-demand price of ``instance_class`` in the database's engine and deployment."""
    db = topology.databases[database]
    cls = catalog.find(instance_class) if instance_class else None
    return price_for(cls, db.engine, db.deployment_name) if cls else None


def _monthly_instance_cost(topology: Topology, catalog: "Catalog", database: str, instance_class: str | None) -> float | None:
    """Return the monthly on-demand price of the writer and the readers that follow its class.

    A Multi-AZ DB cluster's listed rate is the deployment's, its two standbys included.
    """
    db = topology.databases[database]
    price = _instance_price(topology, catalog, database, instance_class)
    if price is None:
        return None
    follow = db.reader_instance_class is None and db.deployment_name != "multi-az-cluster"
    copies = 1 + (db.readers if follow else 0)
    return round(price.usd_per_hour * HOURS_PER_MONTH * copies, 2)


def _instance_price_note(topology: Topology, catalog: "Catalog", database: str, instance_class: str | None) -> str:
    """Return where an instance price comes from (source, region, deployment, date)."""
    price = _instance_price(topology, catalog, database, instance_class)
    return f"instance prices: {price.describe()}" if price else ""


def resize_options(topology: Topology, catalog: "Catalog", database: str, before: Outcome) -> Iterator[Option]:
    """Yield the smallest class that fits, and the smallest of the current family (if different)."""
    db = topology.databases[database]
    plan = plan_database(topology, catalog, database)
    current = catalog.find(db.instance_class) if db.instance_class else None
    choices: list[tuple[str, str]] = []
    if plan.candidates:
        choices.append(("resize", plan.candidates[0].instance_class.instance_class))
    if current is not None:
        same = [c for c in plan.candidates if c.instance_class.family == current.family and c.instance_class.arch == current.arch]
        if same and (not choices or same[0].instance_class.instance_class != choices[0][1]):
            choices.append(("resize-family", same[0].instance_class.instance_class))
    now_cost = _monthly_instance_cost(topology, catalog, database, db.instance_class)
    for kind, new_class in choices:
        changed = _with_database(topology, database, instance_class=new_class)
        new_cost = _monthly_instance_cost(topology, catalog, database, new_class)
        delta = None if now_cost is None or new_cost is None else round(new_cost - now_cost, 2)
        label = "the smallest class that fits" if kind == "resize" else f"the smallest {current.family if current else ''} class that fits"
        yield _evaluate(
            kind, database, f"resize {database} from {db.instance_class or 'nothing'} to {new_class} ({label})",
            before, changed, catalog,
            requires=("a modification with a short outage (or a Multi-AZ failover); schedule it in a maintenance window",),
            monthly_cost_delta=delta,
            cost_note=_instance_price_note(topology, catalog, database, new_class) if delta is not None else _unknown_price(db.instance_class, new_class),
            details={"instance_class": new_class, "from": db.instance_class}, effort=4,
        )


def _unknown_price(before: str | None, after: str) -> str:
    """Say which class has no known price, so "cost unknown" is never a silent guess."""
    return f"price unknown: the catalogue has no on-demand price for {before or 'the current class'} or {after} in this deployment"


def _price_order(cls: InstanceClass, engine: str, deployment: str) -> tuple[float, bool, float, int]:
    """Order classes smallest first, then cheapest in the deployment (unpriced last), then by vCPUs."""
    price = price_for(cls, engine, deployment)
    return (cls.memory_gib, price is None, price.usd_per_hour if price else 0.0, cls.vcpu)


def _minimum_max_connections(instance: InstanceBudget, demand: int) -> int:
    """Return the smallest max_connections that keeps ``demand`` under the alarm line and usable."""
    keep = 1 - instance.headroom
    n = max(demand + instance.reserved, math.ceil(demand / keep) if keep > 0 else demand)
    while math.floor(n * keep) < demand:  # exact: floor(n × (1 − h)) must reach the demand
        n += 1
    return n


def parameter_option(topology: Topology, catalog: "Catalog", database: str, report: BudgetReport, before: Outcome) -> Iterator[Option]:
    """Yield a raised max_connections when it stays within 2× the default and the memory estimate."""
    db = topology.databases[database]
    if db.engine not in RDS_ENGINES:
        return
    instances = [i for i in report.instances if i.database == database]
    if any(i.worst_demand is None for i in instances):
        return  # no setting holds an unbounded pool
    writer = instances[0]
    mc = writer.max_connections
    if mc.default_value is None or mc.memory is None:
        return
    needed = max(_minimum_max_connections(i, i.worst_demand or 0) for i in instances)
    memory_limit = int(mc.memory.dbicm_bytes * (1 - SHARED_BUFFERS_FRACTION)) // BACKEND_MEMORY_BYTES
    ceiling = min(2 * mc.default_value, memory_limit)
    if needed > ceiling or needed <= mc.value:
        return
    params = {**db.parameters, "max_connections": needed}
    yield _evaluate(
        "parameter", database, f"raise max_connections on {database} from {mc.value} to {needed} in a custom parameter group",
        before, _with_database(topology, database, parameters=params), catalog,
        requires=(
            "max_connections is static: the instance must reboot to apply it",
            f"memory estimate: {needed} backends × ~5 MiB (idle backend, an estimate) = {needed * 5} MiB of the "
            f"{mc.memory.dbicm_bytes * 3 // 4 // 2**20} MiB left after shared_buffers; each sort or hash adds work_mem: "
            "watch FreeableMemory",
            "a fixed integer no longer follows the instance class: revisit it when you resize",
        ),
        monthly_cost_delta=0.0, cost_note=NO_PRICE_CHANGE,
        details={"max_connections": needed, "default": mc.default_value, "memory_limit": memory_limit}, effort=1,
    )


def _direct_clients(report: BudgetReport, database: str, shape: str) -> list[str]:
    """Return the services of ``shape`` that connect straight to ``database``'s writer."""
    names: list[str] = []
    for instance in report.instances:
        if instance.database != database or instance.role != "writer":
            continue
        for source in instance.demand_by_source:
            service = report.topology.services.get(source.service or "")
            if source.kind == "service" and service is not None and service.shape == shape and service.name not in names:
                names.append(service.name)
    return names


def _worst(sources: list[SourceDemand]) -> int:
    return max((sum(s.demand[sc] for s in sources) for sc in SCENARIOS), default=0)


def _unique_name(topology: Topology, base: str) -> str:
    name, n = base, 2
    while name in topology.poolers or name in topology.services:
        name, n = f"{base}-{n}", n + 1
    return name


def pgbouncer_option(topology: Topology, catalog: "Catalog | None", database: str, report: BudgetReport, before: Outcome) -> Iterator[Option]:
    """Yield a transaction-mode PgBouncer in front of the long-running services."""
    clients = _direct_clients(report, database, "long-running")
    if not clients:
        return
    writer = next(i for i in report.instances if i.database == database and i.role == "writer")
    others = [s for s in writer.demand_by_source if s.service not in clients]
    left = writer.alarm_at - _worst(others)
    pairs = 1
    if left < PGBOUNCER_REPLICAS * pairs:
        return
    client_sources = [s for s in writer.demand_by_source if s.service in clients]
    if any(s.unbounded for s in client_sources):
        return  # PgBouncer would refuse an unbounded client side: bound the pools first
    client_rollout = sum(s.demand["rollout"] for s in client_sources)
    client_worst = _worst(client_sources)
    pool_size = max(1, min(left // (PGBOUNCER_REPLICAS * pairs), math.ceil(client_worst / PGBOUNCER_REPLICAS)))
    if pool_size < min(MIN_SERVER_POOL, math.ceil(client_worst / PGBOUNCER_REPLICAS)):
        return
    max_client = math.ceil(math.ceil(client_rollout * CLIENT_CONN_MARGIN) / PGBOUNCER_REPLICAS)
    name = _unique_name(topology, "pgbouncer")
    pooler = Pooler(
        name, "pgbouncer", database, tuple(clients), replicas=PGBOUNCER_REPLICAS, pool_mode="transaction",
        default_pool_size=pool_size, reserve_pool_size=0, pairs=pairs, max_client_conn=max_client,
    )
    changed = replace(topology, poolers={**topology.poolers, name: pooler})
    yield _evaluate(
        "pgbouncer", database,
        f"put PgBouncer ({PGBOUNCER_REPLICAS} replicas, transaction mode, default_pool_size {pool_size}) in front of "
        f"{', '.join(clients)}",
        before, changed, catalog,
        requires=TRANSACTION_POOLING_BREAKS + (
            f"sized for {pairs} (database, user) pair; each further pair gets its own pool of {pool_size} per replica",
        ),
        cost_note="the PgBouncer pods' compute (small: PgBouncer is single-threaded, ~2 KiB per client connection)",
        details={"pooler": name, "clients": clients, "replicas": PGBOUNCER_REPLICAS, "default_pool_size": pool_size,
                 "max_client_conn": max_client, "pairs": pairs, "server_budget": left},
        effort=3,
    )


def _proxy_monthly_cost(topology: Topology, catalog: "Catalog | None", database: str) -> float | None:
    db = topology.databases[database]
    if catalog is None or db.instance_class is None or catalog.find(db.instance_class) is None:
        return None
    vcpu = max(RDS_PROXY_MIN_VCPU, catalog.get(db.instance_class).vcpu)
    instances = 1 + (db.readers if db.engine == "aurora-postgresql" else 0)
    return round(vcpu * instances * RDS_PROXY_USD_PER_VCPU_HOUR * HOURS_PER_MONTH, 2)


def rds_proxy_option(topology: Topology, catalog: "Catalog | None", database: str, report: BudgetReport, before: Outcome) -> Iterator[Option]:
    """Yield an RDS Proxy for the Lambda functions, with a max_connections_percent that fits."""
    db = topology.databases[database]
    if db.engine not in RDS_ENGINES:
        return
    writer = next(i for i in report.instances if i.database == database and i.role == "writer")
    existing = [p for p in topology.poolers.values() if p.kind == "rds-proxy" and p.database == database]
    clients = _direct_clients(report, database, "lambda")
    if not clients and not existing:
        return
    others = [s for s in writer.demand_by_source if s.service not in clients and s.source not in {p.name for p in existing}]
    left = writer.alarm_at - _worst(others)
    percent = min(100, left * 100 // writer.max_connections.value)
    fn_worst = _worst([s for s in writer.demand_by_source if s.service in clients])
    if writer.max_connections.value * percent // 100 < min(MIN_SERVER_POOL, fn_worst or MIN_SERVER_POOL):
        return
    if existing and not clients:
        proxy = existing[0]
        if proxy.max_connections_percent <= percent:
            return
        changed = replace(topology, poolers={**topology.poolers, proxy.name: replace(proxy, max_connections_percent=percent)})
        yield _evaluate(
            "proxy-percent", database, f"lower {proxy.name}'s max_connections_percent from {proxy.max_connections_percent} to {percent}",
            before, changed, catalog,
            requires=("the proxy queues clients beyond its pool: watch the proxy's DatabaseConnectionsBorrowLatency",),
            monthly_cost_delta=0.0, cost_note=NO_PRICE_CHANGE,
            details={"pooler": proxy.name, "max_connections_percent": percent}, effort=1,
        )
        return
    name = _unique_name(topology, "rds-proxy")
    pooler = Pooler(name, "rds-proxy", database, tuple(clients), max_connections_percent=percent)
    cost = _proxy_monthly_cost(topology, catalog, database)
    yield _evaluate(
        "rds-proxy", database, f"put RDS Proxy ({percent} % of max_connections) in front of {', '.join(clients)}",
        before, replace(topology, poolers={**topology.poolers, name: pooler}), catalog,
        requires=(
            "the functions connect to the proxy endpoint, with IAM authentication or a Secrets Manager secret",
            "session state pins a client to one database connection (SET, temporary tables, prepared statements): "
            "pinned sessions do not multiplex",
            "the proxy lives in the database's VPC: the functions need VPC access",
        ),
        monthly_cost_delta=cost, cost_note=RDS_PROXY_PRICE_SOURCE if cost is not None else "price unknown",
        details={"pooler": name, "clients": clients, "max_connections_percent": percent}, effort=3,
    )


def _per_process_counts(report: BudgetReport, service: Service, database: str) -> int:
    """Return how many pool-holding processes ``service`` runs on ``database`` at rollout."""
    total = 0
    for env in service_environments(report.topology, service):
        if resolve_database(report.topology, service, env) != database:
            continue
        scale = report.topology.environments[env].scale
        if service.shape == "lambda":
            concurrency = service.lambda_concurrency or 1000
            total += max(1, -(-concurrency * scale.numerator // scale.denominator))
        else:
            r_max = max(1, -(-service.replicas_max * scale.numerator // scale.denominator))
            if service.surge_count is not None:
                surge = service.surge_count
            else:
                p = service.surge_percent or Fraction(0)
                surge = -(-r_max * p.numerator // p.denominator)
            total += (r_max + surge) * service.processes
    return total


def shrink_pools_option(topology: Topology, catalog: "Catalog | None", database: str, report: BudgetReport, before: Outcome) -> Iterator[Option]:
    """Yield per-service pool sizes that fit, each service keeping its share of today's worst demand."""
    writer = next(i for i in report.instances if i.database == database and i.role == "writer")
    pooled = [s for s in writer.demand_by_source if s.kind == "service" and topology.services[s.service or ""].shape != "fixed"]
    if not pooled:
        return
    fixed = [s for s in writer.demand_by_source if s not in pooled]
    budget = writer.alarm_at - _worst(fixed)
    names = list(dict.fromkeys(s.service or "" for s in pooled))
    worst_by_service = {n: sum(s.demand["rollout"] for s in pooled if s.service == n) for n in names}
    unbounded = {s.service for s in pooled if s.unbounded}
    # an unbounded pool has no share to keep: give it what an average process of the others gets
    total = sum(worst_by_service.values()) or 1
    processes = {n: _per_process_counts(report, topology.services[n], database) for n in names}
    if budget < sum(processes.values()):
        return  # not even one connection per process fits
    sizes: dict[str, int] = {}
    for name in names:
        if name in unbounded:
            share = budget * processes[name] // max(1, sum(processes.values()))
        else:
            share = budget * worst_by_service[name] // total
        sizes[name] = max(1, share // max(1, processes[name]))
    services = dict(topology.services)
    for name, size in sizes.items():
        service = services[name]
        old = service.pool or Pool("per-thread", service.threads, 0)
        steady = min(old.size or size, size)
        services[name] = replace(service, pool=Pool(old.driver if old.driver != "unbounded" else "custom", steady, size - steady))
    changed = replace(topology, services=services)
    summary = ", ".join(f"{n} {sizes[n]}" for n in names)
    yield _evaluate(
        "shrink-pools", database, f"shrink the pools on {database} to at most {summary} connections per process",
        before, changed, catalog,
        requires=(
            "fewer concurrent queries per process: requests beyond the pool wait for a connection (set a pool timeout)",
            "a pool size below the number of threads makes threads queue for connections",
        ),
        monthly_cost_delta=0.0, cost_note=NO_PRICE_CHANGE, details={"pools": sizes}, effort=2,
    )


def client_limit_option(topology: Topology, catalog: "Catalog | None", database: str, report: BudgetReport, before: Outcome) -> Iterator[Option]:
    """Yield a higher max_client_conn for a PgBouncer whose client side refuses connections."""
    for pooler in report.poolers:
        if pooler.database != database or pooler.status != "over" or pooler.kind != "pgbouncer":
            continue
        demands = [r.demand for r in pooler.scenarios.values()]
        if any(d is None for d in demands):
            continue
        spec = topology.poolers[pooler.pooler]
        needed = math.ceil(max(d or 0 for d in demands) / spec.replicas)
        changed = replace(topology, poolers={**topology.poolers, spec.name: replace(spec, max_client_conn=needed)})
        yield _evaluate(
            "client-limit", database, f"raise {spec.name}'s max_client_conn from {spec.max_client_conn} to {needed} per replica",
            before, changed, catalog,
            requires=(f"each client connection is a file descriptor: raise the PgBouncer pods' ulimit -n above {needed + 100}",),
            monthly_cost_delta=0.0, cost_note=NO_PRICE_CHANGE, details={"pooler": spec.name, "max_client_conn": needed},
            effort=1,
        )


def pool_everything_option(topology: Topology, catalog: "Catalog | None", database: str, report: BudgetReport, before: Outcome) -> Iterator[Option]:
    """Yield PgBouncer for the long-running services and RDS Proxy for the functions, together.

    The server budget left after fixed clients is split between the two in proportion to their
    clients' worst demand, so neither starves the other.
    """
    db = topology.databases[database]
    long_running = _direct_clients(report, database, "long-running")
    functions = _direct_clients(report, database, "lambda")
    if not long_running or not functions or db.engine not in RDS_ENGINES:
        return
    writer = next(i for i in report.instances if i.database == database and i.role == "writer")
    clients = set(long_running) | set(functions)
    if any(s.unbounded for s in writer.demand_by_source if s.service in clients):
        return
    others = [s for s in writer.demand_by_source if s.service not in clients]
    left = writer.alarm_at - _worst(others)
    lr_worst = _worst([s for s in writer.demand_by_source if s.service in long_running])
    fn_worst = _worst([s for s in writer.demand_by_source if s.service in functions])
    proxy_share = left * fn_worst // max(1, lr_worst + fn_worst)
    percent = min(100, proxy_share * 100 // writer.max_connections.value)
    proxy_server = writer.max_connections.value * percent // 100
    pool_size = (left - proxy_server) // PGBOUNCER_REPLICAS
    if proxy_server < min(MIN_SERVER_POOL, fn_worst) or pool_size < min(MIN_SERVER_POOL, math.ceil(lr_worst / PGBOUNCER_REPLICAS)):
        return
    lr_rollout = sum(s.demand["rollout"] for s in writer.demand_by_source if s.service in long_running)
    max_client = math.ceil(math.ceil(lr_rollout * CLIENT_CONN_MARGIN) / PGBOUNCER_REPLICAS)
    bouncer = _unique_name(topology, "pgbouncer")
    proxy = _unique_name(topology, "rds-proxy")
    poolers = {
        **topology.poolers,
        bouncer: Pooler(bouncer, "pgbouncer", database, tuple(long_running), replicas=PGBOUNCER_REPLICAS,
                        default_pool_size=min(pool_size, math.ceil(lr_worst / PGBOUNCER_REPLICAS)), max_client_conn=max_client),
        proxy: Pooler(proxy, "rds-proxy", database, tuple(functions), max_connections_percent=percent),
    }
    cost = _proxy_monthly_cost(topology, catalog, database)
    yield _evaluate(
        "pool-everything", database,
        f"put PgBouncer in front of {', '.join(long_running)} and RDS Proxy ({percent} %) in front of {', '.join(functions)}",
        before, replace(topology, poolers=poolers), catalog,
        requires=TRANSACTION_POOLING_BREAKS[:2] + ("the functions connect to the proxy endpoint (IAM or Secrets Manager)",),
        monthly_cost_delta=cost, cost_note=RDS_PROXY_PRICE_SOURCE if cost is not None else "price unknown",
        details={"poolers": [bouncer, proxy], "default_pool_size": pool_size, "max_connections_percent": percent},
        effort=3,
    )


Generator = Callable[[Topology, Any, str, BudgetReport, Outcome], Iterator[Option]]
GENERATORS: tuple[Generator, ...] = (
    client_limit_option, parameter_option, shrink_pools_option, pgbouncer_option, rds_proxy_option, pool_everything_option,
)
# Options worth combining with a bigger class when they do not fit on the current one.
RESIZABLE: tuple[Generator, ...] = (pool_everything_option, rds_proxy_option, pgbouncer_option, shrink_pools_option)


def resized_options(topology: Topology, catalog: "Catalog", database: str, before: Outcome, kinds_that_fit: set[str]) -> Iterator[Option]:
    """Yield, for each option that does not fit today, the smallest class on which it does.

    The classes bigger than today's are searched by rising max_connections; the first class where
    the option fits gives the combined option "resize to C and …", its cost the sum of both.
    """
    db = topology.databases[database]
    now_cost = _monthly_instance_cost(topology, catalog, database, db.instance_class)
    classes, _ = candidate_classes(topology, catalog, database, db.engine)
    classes.sort(key=lambda c: _price_order(c, db.engine, db.deployment_name))
    current = catalog.find(db.instance_class) if db.instance_class else None
    # one class per max_connections value (the smallest, then cheapest): the budget sees nothing else
    by_value: dict[int, Any] = {}
    for cls in classes:
        if cls.instance_class == db.instance_class or (current is not None and cls.memory_gib <= current.memory_gib):
            continue  # today's class, or a smaller one: not a resize anyone wants here
        changed = _with_database(topology, database, instance_class=cls.instance_class)
        value = max_connections_for(changed.databases[database], cls.instance_class, catalog, changed).value
        by_value.setdefault(value, cls)
    values = sorted(by_value)
    for generate in RESIZABLE:
        found = _first_fitting(topology, catalog, database, before, generate, [by_value[v] for v in values])
        if found is None:
            continue
        cls, option = found
        if option.kind in kinds_that_fit:
            continue  # it already fits without a resize
        new_cost = _monthly_instance_cost(topology, catalog, database, cls.instance_class)
        resize_delta = None if now_cost is None or new_cost is None else new_cost - now_cost
        extra = option.monthly_cost_delta
        total = None if resize_delta is None or extra is None else round(resize_delta + extra, 2)
        yield replace(
            option,
            kind=f"resize+{option.kind}",
            title=f"resize {database} to {cls.instance_class} and {option.title}",
            requires=option.requires + ("a modification of the instance class (a short outage or a Multi-AZ failover)",),
            monthly_cost_delta=total,
            cost_note="; ".join(
                n for n in (_instance_price_note(topology, catalog, database, cls.instance_class) if resize_delta is not None else "",
                            option.cost_note) if n and n != NO_PRICE_CHANGE
            ),
            details={**option.details, "instance_class": cls.instance_class},
            effort=option.effort + 1,
        )


def _first_fitting(
    topology: Topology, catalog: "Catalog", database: str, before: Outcome, generate: "Generator", classes: list[Any],
) -> tuple[Any, Option] | None:
    """Return the first class (in ``classes``, by rising max_connections) on which ``generate`` fits.

    More connections never make an option fit less, so a binary search finds it in a few runs.
    """
    def attempt(cls: Any) -> Option | None:
        resized = _with_database(topology, database, instance_class=cls.instance_class)
        report = budget_for(resized, catalog, database)
        return next((o for o in generate(resized, catalog, database, report, before) if o.fits), None)

    low, high, best = 0, len(classes) - 1, None
    while low <= high:
        middle = (low + high) // 2
        option = attempt(classes[middle])
        if option is not None:
            best, high = (classes[middle], option), middle - 1
        else:
            low = middle + 1
    return best


def _rank_key(option: Option) -> tuple[Any, ...]:
    """Rank: options that fit; then by monthly cost in $50 steps (unknown last); then effort."""
    cost = option.monthly_cost_delta
    bucket = math.inf if cost is None else max(0.0, cost) // 50
    return (not option.fits, bucket, option.effort, math.inf if cost is None else cost, option.title)


def recommend(topology: Topology, catalog: "Catalog", report: BudgetReport | None = None) -> list[Recommendation]:
    """Return ranked options for every database whose instances or poolers warn or are over."""
    report = report or compute_budget(topology, catalog)
    out: list[Recommendation] = []
    for database in topology.databases:
        before = _outcome(report, database)
        if before.status == "ok":
            continue
        options: list[Option] = []
        for generate in GENERATORS:
            options.extend(generate(topology, catalog, database, report, before))
        if topology.databases[database].engine in RDS_ENGINES:
            options.extend(resize_options(topology, catalog, database, before))
            fit_kinds = {o.kind for o in options if o.fits}
            if not any(o.fits for o in options):
                options.extend(resized_options(topology, catalog, database, before, fit_kinds))
        fitting = sorted((o for o in options if o.fits), key=_rank_key)
        notes = tuple(f"{o.title}: does not fit on its own ({o.after.status})" for o in options if not o.fits)
        demand = "unbounded" if before.worst_demand is None else str(before.worst_demand)
        problem = f"{database} is {before.status}: {before.worst_scenario} demand {demand} vs alarm at {before.alarm_at}, usable {before.usable}"
        out.append(Recommendation(database, problem, tuple(fitting), notes))
    return out
