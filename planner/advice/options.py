"""An option that closes a gap, how it is judged, and what it costs.

Every option is a changed :class:`Topology`; its numbers come from re-running the budget on it
(:func:`evaluate`), never from a separate formula, so what an option promises is what ``check``
says once it is applied. Instance prices are the catalogue's, in the database's deployment, named
with their source and date; a class without one says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Mapping

from planner.budget import (
    BudgetReport,
    all_service_demands,
)
from planner.budget.instances import budget_report, worst_scenario
from planner.budget.plan import single_database
from planner.budget.pricing import DatabasePrice, database_price
from planner.model import (
    SCENARIOS,
    STATUS_RANK,
    InstanceClass,
    Price,
    Topology,
    price_for,
    worst_status,
)

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

    kind: str  # resize | resize-family | parameter | pgbouncer | rds-proxy | proxy-percent | shrink-pools | client-limit |
    #            lambda-concurrency | autoscaling-max | processes | serverless-range (and resize+… combinations)
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
    # the option takes concurrency from the applications (fewer connections, replicas, processes or
    # executions) rather than giving the database room: at equal cost, the others come first
    limits_applications: bool = False


@dataclass(frozen=True)
class Recommendation:
    """The ranked options for one flagged database (its instances and its poolers)."""

    database: str
    problem: str
    options: tuple[Option, ...]
    notes: tuple[str, ...] = ()


def outcome_of(report: BudgetReport, database: str) -> Outcome:
    """Return the worst instance of ``database`` (and its poolers' client side) as one Outcome."""
    instances = [i for i in report.instances if i.database == database]
    worst = max(instances, key=lambda i: (STATUS_RANK[i.status], -(i.alarm_at - (i.worst_demand or 10**9))))
    scenario = worst_scenario(worst.scenarios)
    poolers = [p.status for p in report.poolers if p.database == database]
    status = worst_status([i.status for i in instances] + poolers)
    return Outcome(worst.usable, worst.alarm_at, scenario, worst.scenarios[scenario].demand, status)


def evaluate(
    kind: str, database: str, title: str, before: Outcome, topology: Topology, catalog: "Catalog | None", **extra: Any,
) -> Option:
    """Re-run the budget on ``topology`` and wrap the result as an :class:`Option`."""
    after = outcome_of(budget_for(topology, catalog, database), database)
    return Option(kind, database, title, topology, before, after, after.status == "ok", **extra)


def budget_for(topology: Topology, catalog: "Catalog | None", database: str) -> BudgetReport:
    """Return the budget of ``database`` alone: only its services' demand is computed."""
    sub = single_database(topology, database)
    # an option is judged by its statuses: the arithmetic alone, no lints
    return budget_report(sub, catalog, SCENARIOS, all_service_demands(topology, database))


def with_database(topology: Topology, name: str, **changes: Any) -> Topology:
    return replace(topology, databases={**topology.databases, name: replace(topology.databases[name], **changes)})


def instance_price(topology: Topology, catalog: "Catalog", database: str, instance_class: str | None) -> Price | None:
    """Return the on-demand price of ``instance_class`` in the database's engine and deployment."""
    db = topology.databases[database]
    cls = catalog.find(instance_class) if instance_class else None
    return price_for(cls, db.engine, db.deployment_name) if cls else None


def monthly_instance_cost(topology: Topology, catalog: "Catalog", database: str, instance_class: str | None) -> float | None:
    """Return the month of what a resize to ``instance_class`` changes: the writer and the readers that follow its class.

    Priced as ``plan`` prices the whole database (:func:`planner.budget.pricing.database_price`): a
    Multi-AZ writer with its standby at the Multi-AZ rate, a Multi-AZ DB cluster's writer and two
    standbys at the deployment's rate, read replicas at the Single-AZ rate. None when any is unknown.
    """
    db = topology.databases[database]
    if instance_class is None:
        return None
    cls = catalog.find(instance_class)
    lines = database_price(db, db.engine, db.deployment_name, cls, instance_class, cls, instance_class).lines
    # readers on a reader_instance_class of their own do not change with the writer's class
    return DatabasePrice(lines if db.reader_instance_class is None else lines[:1]).usd_month


def instance_price_note(topology: Topology, catalog: "Catalog", database: str, instance_class: str | None) -> str:
    """Return where an instance price comes from (source, region, deployment, date)."""
    price = instance_price(topology, catalog, database, instance_class)
    return f"instance prices: {price.describe()}" if price else ""


def unknown_price(before: str | None, after: str) -> str:
    """Say which class has no known price, so "cost unknown" is never a silent guess."""
    return f"price unknown: the catalogue has no on-demand price for {before or 'the current class'} or {after} in this deployment"


def price_order(cls: InstanceClass, engine: str, deployment: str) -> tuple[float, bool, float, int]:
    """Order classes smallest first, then cheapest in the deployment (unpriced last), then by vCPUs."""
    price = price_for(cls, engine, deployment)
    return (cls.memory_gib, price is None, price.usd_per_hour if price else 0.0, cls.vcpu)
