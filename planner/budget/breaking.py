"""Breaking points: how far one service can grow before its instance (or its pooler) runs out.

The count that grows is the one written in the topology: ``replicas.max`` (R_max) of a
long-running service, ``lambda.concurrency`` of a Lambda, ``connections`` of a fixed source.
Every demand here comes from re-running the budget (:func:`~planner.budget.instances.budget_report`) on a topology in which only that
count changed (``dataclasses.replace`` on the :class:`Service`), never from a separate formula,
so a breaking point is exactly where ``planner check`` would start to say ``over``.

Demand never falls when a count grows (spec §2 multiplies and rounds up), so the first count
that is over is found by doubling until over, then bisecting: about 2·log2(count) budget runs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable

from planner.budget.demand import LAMBDA_ACCOUNT_CONCURRENCY, SourceDemand, all_service_demands
from planner.budget.instances import BudgetReport, InstanceBudget, PoolerBudget, budget_report
from planner.budget.plan import single_database
from planner.errors import InputError
from planner.model import SCENARIOS, Service, Topology

if TYPE_CHECKING:
    from planner.catalog import Catalog

# Far beyond any real fleet; a search that reaches it reports "never" instead of looping.
SEARCH_LIMIT = 10_000_000
CURVE_POINTS = 24

KNOBS: dict[str, str] = {"long-running": "replicas (max)", "lambda": "Lambda concurrency", "fixed": "connections"}


@dataclass(frozen=True)
class CurvePoint:
    """The worst-scenario demand at one count; ``demand`` None means unbounded."""

    count: int
    demand: int | None


@dataclass(frozen=True)
class PoolerLimit:
    """Where a pooler's client side refuses the service, as its count grows."""

    pooler: str
    kind: str  # pgbouncer | rds-proxy | pgpool
    capacity: int | None  # PgBouncer: replicas × max_client_conn; Pgpool-II: × num_init_children; RDS Proxy: None
    count: int | None  # first count whose worst client demand exceeds capacity; None = never
    demand: int | None  # the worst client demand at ``count``
    curve: tuple[CurvePoint, ...]


@dataclass(frozen=True)
class BreakingPoint:
    """How far ``service`` can grow before instance ``database``/``role`` runs out."""

    service: str
    shape: str  # long-running | lambda | fixed
    knob: str  # what grows, in words: "replicas (max)", "Lambda concurrency", "connections"
    database: str
    role: str  # writer | reader-1 (every reader carries the same share)
    current: int  # the count as written in the topology today
    usable: int
    direct: bool  # some of its demand lands on the instance itself (not through a pooler)
    count: int | None  # first count at which the instance's worst-scenario demand > usable; None = never
    demand: int | None  # the instance's worst-scenario demand at ``count`` (None = unbounded)
    curve: tuple[CurvePoint, ...]  # the instance's worst-scenario demand as the count grows
    poolers: tuple[PoolerLimit, ...] = ()  # the poolers it reaches this instance through
    unbounded: bool = False  # its pool has no limit: no count is safe

    @property
    def over_now(self) -> bool:
        """Return whether the instance is already over at today's count."""
        return self.count is not None and self.count <= self.current


def current_count(service: Service) -> int:
    """Return the count that :func:`breaking_point` varies, as the topology sets it today."""
    if service.shape == "lambda":
        return service.lambda_concurrency or LAMBDA_ACCOUNT_CONCURRENCY
    if service.shape == "fixed":
        return service.connections
    return service.replicas_max


def with_count(service: Service, count: int) -> Service:
    """Return ``service`` with its growing count set to ``count`` (R_min follows R_max down)."""
    if service.shape == "lambda":
        return replace(service, lambda_concurrency=count)
    if service.shape == "fixed":
        return replace(service, connections=count)
    return replace(service, replicas_max=count, replicas_min=min(service.replicas_min, count))


def first_over(is_over: Callable[[int], bool], limit: int = SEARCH_LIMIT) -> int | None:
    """Return the smallest count ≥ 1 for which monotone ``is_over`` holds, or None up to ``limit``.

    Doubles until over, then bisects between the last count that held and the first that did not.
    """
    if is_over(1):
        return 1
    below, above = 1, 2
    while not is_over(above):
        if above >= limit:
            return None
        below, above = above, min(above * 2, limit)
    while above - below > 1:
        middle = (below + above) // 2
        if is_over(middle):
            above = middle
        else:
            below = middle
    return above


def _worst(results: "InstanceBudget | PoolerBudget") -> int | None:
    demands = [r.demand for r in results.scenarios.values()]
    if any(d is None for d in demands):
        return None
    return max((d or 0 for d in demands), default=0)


def _exceeds(demand: int | None, capacity: int) -> bool:
    return demand is None or demand > capacity


class _Runner:
    """Re-runs the budget of one database with one service's count changed, remembering each run."""

    def __init__(self, topology: Topology, catalog: "Catalog | None", database: str, service: Service) -> None:
        self.topology = topology
        self.catalog = catalog
        self.database = database
        self.service = service
        self.sub = single_database(topology, database)
        # the other services' demand does not change with this count: compute it once
        self.others = [
            d for d in all_service_demands(topology) if d.database == database and d.service != service.name
        ]
        self.runs: dict[int, BudgetReport] = {}

    def __call__(self, count: int) -> BudgetReport:
        report = self.runs.get(count)
        if report is None:
            changed = with_count(self.service, count)
            services = {**self.topology.services, self.service.name: changed}
            mine = [
                d for d in all_service_demands(replace(self.topology, services={changed.name: changed}))
                if d.database == self.database
            ]
            report = budget_report(replace(self.sub, services=services), self.catalog, SCENARIOS, self.others + mine)
            self.runs[count] = report
        return report


def _refuses(run: _Runner, pooler: str, capacity: int) -> Callable[[int], bool]:
    """Return whether, at a count, the pooler's clients ask for more than its client capacity."""
    return lambda count: _exceeds(_worst(_pooler(run(count), pooler)), capacity)


def _instance(report: BudgetReport, role: str) -> InstanceBudget:
    return next(i for i in report.instances if i.role == role)


def _pooler(report: BudgetReport, name: str) -> PoolerBudget:
    return next(p for p in report.poolers if p.pooler == name)


def _curve_counts(current: int, ends: list[int]) -> list[int]:
    """Return about :data:`CURVE_POINTS` counts from 1 to a little past the interesting ones."""
    top = max([current, *ends, 2])
    top = top + max(1, top // 4)
    step = max(1, top // CURVE_POINTS)
    counts = set(range(1, top + 1, step)) | {top, current}
    for end in ends:
        counts |= {max(1, end - 1), end}
    return sorted(counts)


def breaking_point(
    topology: Topology,
    catalog: "Catalog | None",
    database: str,
    service: str,
    role: str | None = None,
    limit: int = SEARCH_LIMIT,
) -> BreakingPoint:
    """Return the count of ``service`` at which ``database``'s instance (and its poolers) run out.

    ``role`` is the instance to watch: ``writer`` or ``reader-1``; by default the one the
    service's endpoint points at. The count is the first at which the worst scenario's demand on
    that instance exceeds ``usable``; for a pooler in between, the first at which its clients'
    demand exceeds its client capacity.
    """
    if database not in topology.databases:
        raise InputError(f"no database named {database!r}")
    if service not in topology.services:
        raise InputError(f"no service named {service!r}")
    svc = topology.services[service]
    role = role or ("reader-1" if svc.endpoint == "reader" else "writer")
    run = _Runner(topology, catalog, database, svc)
    today = run(current_count(svc))
    instance = _instance(today, role)
    direct = any(s.service == service for s in instance.demand_by_source)
    endpoint = "reader" if role.startswith("reader") else "writer"
    through = [
        p for p in today.poolers
        if p.database == database and p.endpoint == endpoint and any(c.service == service for c in p.clients)
    ]
    if not direct and not through:
        raise InputError(f"service {service!r} opens no connections on {database}/{role}")
    unbounded = svc.pool is not None and svc.pool.unbounded
    current = current_count(svc)
    usable = instance.usable

    def instance_worst(count: int) -> int | None:
        return _worst(_instance(run(count), role))

    count: int | None = None
    if direct and not unbounded:
        count = first_over(lambda n: _exceeds(instance_worst(n), usable), limit)
    pooler_counts: dict[str, int | None] = {}
    for pooler in through:
        capacity = pooler.client_capacity
        if capacity is None or unbounded:  # RDS Proxy: no client limit modelled; unbounded: no count is safe
            pooler_counts[pooler.pooler] = None
            continue
        pooler_counts[pooler.pooler] = first_over(_refuses(run, pooler.pooler, capacity), limit)

    if unbounded:
        counts: list[int] = []
    else:
        counts = _curve_counts(current, [c for c in [count, *pooler_counts.values()] if c is not None])
    curve = tuple(CurvePoint(n, instance_worst(n)) for n in counts)
    limits: list[PoolerLimit] = []
    for pooler in through:
        at = pooler_counts[pooler.pooler]
        pooler_curve = tuple(CurvePoint(n, _worst(_pooler(run(n), pooler.pooler))) for n in counts) if pooler.client_capacity else ()
        limits.append(PoolerLimit(
            pooler=pooler.pooler,
            kind=pooler.kind,
            capacity=pooler.client_capacity,
            count=at,
            demand=None if at is None else _worst(_pooler(run(at), pooler.pooler)),
            curve=pooler_curve,
        ))
    return BreakingPoint(
        service=service,
        shape=svc.shape,
        knob=KNOBS[svc.shape],
        database=database,
        role=role,
        current=current,
        usable=usable,
        direct=direct,
        count=count,
        demand=None if count is None else instance_worst(count),
        curve=curve,
        poolers=tuple(limits),
        unbounded=unbounded,
    )


def largest_services(report: BudgetReport, instance: InstanceBudget, top: int = 3) -> list[str]:
    """Return the ``top`` services with the largest worst-scenario demand on ``instance``.

    A service counts with what it opens directly on the instance plus what it asks of the
    poolers in front of it (their clients' demand), summed over its environments; unbounded first.
    """
    endpoint = "reader" if instance.role.startswith("reader") else "writer"
    sources: list[SourceDemand] = [s for s in instance.demand_by_source if s.kind == "service"]
    for pooler in report.poolers:
        if pooler.database == instance.database and pooler.endpoint == endpoint:
            sources.extend(pooler.clients)
    totals: dict[str, dict[str, int]] = {}
    unbounded: set[str] = set()
    for source in sources:
        if source.service is None:
            continue
        per = totals.setdefault(source.service, {s: 0 for s in SCENARIOS})
        for scenario, value in source.demand.items():
            per[scenario] += value
        if source.unbounded:
            unbounded.add(source.service)
    ranked = sorted(totals, key=lambda name: (name not in unbounded, -max(totals[name].values()), name))
    return ranked[:top]
