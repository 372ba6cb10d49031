"""The kinds of option: resize, raise max_connections, PgBouncer, RDS Proxy, smaller pools, client limits.

Each generator looks at one database's budget and yields the options of its kind, each evaluated
(:func:`planner.advice.options.evaluate`) on the topology it describes.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Iterator

from planner.budget import (
    BudgetReport,
    InstanceBudget,
    SourceDemand,
)
from planner.budget.plan import plan_database
from planner.budget.pricing import HOURS_PER_MONTH
from planner.model import (
    RDS_ENGINES,
    SCENARIOS,
    Pooler,
    Topology,
)

if TYPE_CHECKING:
    from planner.catalog import Catalog

from planner.advice.options import (
    BACKEND_MEMORY_BYTES,
    CLIENT_CONN_MARGIN,
    MIN_SERVER_POOL,
    NO_PRICE_CHANGE,
    PGBOUNCER_REPLICAS,
    RDS_PROXY_MIN_VCPU,
    RDS_PROXY_PRICE_SOURCE,
    RDS_PROXY_USD_PER_VCPU_HOUR,
    SHARED_BUFFERS_FRACTION,
    TRANSACTION_POOLING_BREAKS,
    Option,
    Outcome,
    evaluate,
    instance_price_note,
    monthly_instance_cost,
    unknown_price,
    with_database,
)


def resize_options(topology: Topology, catalog: "Catalog", database: str, before: Outcome) -> Iterator[Option]:
    """Yield the smallest class that fits, and the smallest of the current family (if different)."""
    db = topology.databases[database]
    plan = plan_database(topology, catalog, database)  # plan's choice: no burstable class for production
    current = catalog.find(db.instance_class) if db.instance_class else None
    choices: list[tuple[str, str]] = []
    # today's class is never a resize: the smallest that fits may be it when the instance is not what is over
    candidates = [c for c in plan.candidates if c.instance_class.instance_class != db.instance_class]
    if candidates:
        choices.append(("resize", candidates[0].instance_class.instance_class))
    if current is not None:
        same = [c for c in candidates if c.instance_class.family == current.family and c.instance_class.arch == current.arch]
        if same and (not choices or same[0].instance_class.instance_class != choices[0][1]):
            choices.append(("resize-family", same[0].instance_class.instance_class))
    now_cost = monthly_instance_cost(topology, catalog, database, db.instance_class)
    for kind, new_class in choices:
        changed = with_database(topology, database, instance_class=new_class)
        new_cost = monthly_instance_cost(topology, catalog, database, new_class)
        delta = None if now_cost is None or new_cost is None else round(new_cost - now_cost, 2)
        label = "the smallest class that fits" if kind == "resize" else f"the smallest {current.family if current else ''} class that fits"
        yield evaluate(
            kind, database, f"resize {database} from {db.instance_class or 'nothing'} to {new_class} ({label})",
            before, changed, catalog,
            requires=("a modification with a short outage (or a Multi-AZ failover); schedule it in a maintenance window",),
            monthly_cost_delta=delta,
            cost_note=instance_price_note(topology, catalog, database, new_class) if delta is not None else unknown_price(db.instance_class, new_class),
            details={"instance_class": new_class, "from": db.instance_class}, effort=4,
        )


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
    yield evaluate(
        "parameter", database, f"raise max_connections on {database} from {mc.value} to {needed} in a custom parameter group",
        before, with_database(topology, database, parameters=params), catalog,
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


def _unique_name(base: str, *topologies: Topology) -> str:
    """Return ``base``, or ``base-2``, ``base-3`` …: a name no pooler or service of ``topologies`` has.

    Generators pass their topology and their report's: recommend searches on one database's
    services (:func:`planner.advice.recommend._scoped`), the report has them all.
    """
    taken = {name for t in topologies for name in (*t.poolers, *t.services)}
    name, n = base, 2
    while name in taken:
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
    name = _unique_name("pgbouncer", topology, report.topology)
    pooler = Pooler(
        name, "pgbouncer", database, tuple(clients), replicas=PGBOUNCER_REPLICAS, pool_mode="transaction",
        default_pool_size=pool_size, reserve_pool_size=0, pairs=pairs, max_client_conn=max_client,
    )
    changed = replace(topology, poolers={**topology.poolers, name: pooler})
    yield evaluate(
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
        yield evaluate(
            "proxy-percent", database, f"lower {proxy.name}'s max_connections_percent from {proxy.max_connections_percent} to {percent}",
            before, changed, catalog,
            requires=("the proxy queues clients beyond its pool: watch the proxy's DatabaseConnectionsBorrowLatency",),
            monthly_cost_delta=0.0, cost_note=NO_PRICE_CHANGE,
            details={"pooler": proxy.name, "max_connections_percent": percent}, effort=1,
        )
        return
    name = _unique_name("rds-proxy", topology, report.topology)
    pooler = Pooler(name, "rds-proxy", database, tuple(clients), max_connections_percent=percent)
    cost = _proxy_monthly_cost(topology, catalog, database)
    yield evaluate(
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


def client_limit_option(topology: Topology, catalog: "Catalog | None", database: str, report: BudgetReport, before: Outcome) -> Iterator[Option]:
    """Yield a higher max_client_conn for a PgBouncer whose client side refuses connections, and more
    children for a Pgpool-II whose clients wait (each child is a client slot, and up to max_pool server
    connections: the evaluation says whether the database holds them)."""
    for pooler in report.poolers:
        if pooler.database != database or pooler.status == "ok" or pooler.kind not in ("pgbouncer", "pgpool"):
            continue
        demands = [r.demand for r in pooler.scenarios.values()]
        if any(d is None for d in demands):
            continue
        spec = topology.poolers[pooler.pooler]
        needed = math.ceil(max(d or 0 for d in demands) / spec.replicas)
        if spec.kind == "pgpool":
            changed = replace(topology, poolers={**topology.poolers, spec.name: replace(spec, num_init_children=needed)})
            server = spec.replicas * needed * spec.max_pool
            yield evaluate(
                "client-limit", database,
                f"raise {spec.name}'s num_init_children from {spec.num_init_children} to {needed} per replica "
                f"(server connections {pooler.server_connections} → {server})",
                before, changed, catalog,
                requires=(f"each child is a process with its own memory and up to max_pool {spec.max_pool} cached backend "
                          "connections: the database must hold replicas × num_init_children × max_pool",
                          "num_init_children applies at a restart of Pgpool-II"),
                monthly_cost_delta=0.0, cost_note=NO_PRICE_CHANGE,
                details={"pooler": spec.name, "num_init_children": needed, "server_connections": server}, effort=1,
            )
            continue
        changed = replace(topology, poolers={**topology.poolers, spec.name: replace(spec, max_client_conn=needed)})
        yield evaluate(
            "client-limit", database, f"raise {spec.name}'s max_client_conn from {spec.max_client_conn} to {needed} per replica",
            before, changed, catalog,
            requires=(f"each client connection is a file descriptor: raise the PgBouncer pods' ulimit -n above {needed + 100}",),
            monthly_cost_delta=0.0, cost_note=NO_PRICE_CHANGE, details={"pooler": spec.name, "max_client_conn": needed},
            effort=1,
        )
        # or more replicas at today's max_client_conn: client slots multiply, and so do the server pools
        replicas = math.ceil(max(d or 0 for d in demands) / spec.max_client_conn)
        if replicas > spec.replicas:
            more = replace(topology, poolers={**topology.poolers, spec.name: replace(spec, replicas=replicas)})
            server = pooler.server_connections // spec.replicas * replicas
            yield evaluate(
                "pooler-replicas", database, f"run {replicas} replicas of {spec.name} instead of {spec.replicas} "
                f"(client slots {pooler.client_capacity} → {replicas * spec.max_client_conn}, server connections "
                f"{pooler.server_connections} → {server})",
                before, more, catalog,
                requires=("each PgBouncer replica keeps its own server pools: the database must hold replicas × "
                          "default_pool_size (set max_db_connections to cap it)",
                          "clients must be spread over the replicas (a Service or a load balancer in front of them)"),
                monthly_cost_delta=None, cost_note="the replicas' pods or VMs: not priced here",
                details={"pooler": spec.name, "replicas": replicas, "server_connections": server}, effort=2,
            )


def pooler_pool_option(topology: Topology, catalog: "Catalog | None", database: str, report: BudgetReport, before: Outcome) -> Iterator[Option]:
    """Yield a smaller default_pool_size for a PgBouncer already in front of an instance that is over:
    its server pools are the instance's largest lever, and its clients queue instead of the database."""
    writer = next(i for i in report.instances if i.database == database and i.role == "writer")
    if writer.status == "ok":
        return
    for pooler in report.poolers:
        spec = topology.poolers[pooler.pooler]
        if pooler.database != database or spec.kind != "pgbouncer":
            continue
        others = [s for s in writer.demand_by_source if s.source != spec.name]
        room = writer.alarm_at - _worst(others)
        per_pair = room // (spec.replicas * spec.pairs) - spec.reserve_pool_size
        if per_pair < MIN_SERVER_POOL or per_pair >= spec.default_pool_size:
            continue
        changed = replace(topology, poolers={**topology.poolers, spec.name: replace(spec, default_pool_size=per_pair)})
        server = spec.replicas * spec.pairs * (per_pair + spec.reserve_pool_size)
        yield evaluate(
            "pooler-pool", database, f"lower {spec.name}'s default_pool_size from {spec.default_pool_size} to {per_pair} "
            f"(server connections {pooler.server_connections} → {server})",
            before, changed, catalog,
            requires=("fewer transactions run at once on the database: clients beyond the pool wait in PgBouncer's queue "
                      "(query_wait_timeout, 120 s by default), watch SHOW POOLS' cl_waiting",),
            monthly_cost_delta=0.0, cost_note=NO_PRICE_CHANGE,
            details={"pooler": spec.name, "default_pool_size": per_pair, "server_connections": server}, effort=1,
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
    bouncer = _unique_name("pgbouncer", topology, report.topology)
    proxy = _unique_name("rds-proxy", topology, report.topology)
    poolers = {
        **topology.poolers,
        bouncer: Pooler(bouncer, "pgbouncer", database, tuple(long_running), replicas=PGBOUNCER_REPLICAS,
                        default_pool_size=min(pool_size, math.ceil(lr_worst / PGBOUNCER_REPLICAS)), max_client_conn=max_client),
        proxy: Pooler(proxy, "rds-proxy", database, tuple(functions), max_connections_percent=percent),
    }
    cost = _proxy_monthly_cost(topology, catalog, database)
    yield evaluate(
        "pool-everything", database,
        f"put PgBouncer in front of {', '.join(long_running)} and RDS Proxy ({percent} %) in front of {', '.join(functions)}",
        before, replace(topology, poolers=poolers), catalog,
        requires=TRANSACTION_POOLING_BREAKS[:2] + ("the functions connect to the proxy endpoint (IAM or Secrets Manager)",),
        monthly_cost_delta=cost, cost_note=RDS_PROXY_PRICE_SOURCE if cost is not None else "price unknown",
        details={"poolers": [bouncer, proxy], "default_pool_size": pool_size, "max_connections_percent": percent},
        effort=3,
    )
