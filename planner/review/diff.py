"""Compare two budget reports: what a change to a topology does to every instance's connections.

Pure: :func:`diff_reports` takes the :class:`~planner.budget.BudgetReport` of the topology before
(BASE) and after (HEAD) a change and returns a :class:`BudgetDiff`: per instance and scenario the
demand, headroom and status on both sides; per source (a service in an environment, or a
pooler's server pool) its demand on both sides and where it lands; per pooler its client side;
the warnings HEAD adds or resolves. Reading files and git, and rendering, live elsewhere.

Things are matched by name: an instance by ``(database, role)``, a source by its name
(``web@prod``, or the pooler's), a pooler by its name. A rename is therefore a removal plus an
addition, which is also what it is for the connections.
"""

from __future__ import annotations

from typing import Iterator, Mapping, Sequence

from planner.budget import BudgetReport, Finding, InstanceBudget, PoolerBudget, SourceDemand, service_demand
from planner.model import Topology
from planner.review.changes import (
    ADDED,
    CHANGED,
    REMOVED,
    UNCHANGED,
    BudgetDiff,
    Delta,
    DeployedChange,
    InstanceChange,
    InstanceScenario,
    K,
    PoolerChange,
    PoolerScenario,
    SourceChange,
    SourceSide,
    V,
)

FAIL_ON = ("over", "warn", "increase")


def _pair_up(before: Mapping[K, V], after: Mapping[K, V]) -> list[tuple[K, V | None, V | None]]:
    """Return (key, before, after) for every key: HEAD's order, then what only BASE had."""
    keys = list(after) + [k for k in before if k not in after]
    return [(k, before.get(k), after.get(k)) for k in keys]


def _instance_scenario(scenario: str, before: InstanceBudget | None, after: InstanceBudget | None) -> InstanceScenario:
    def side(instance: InstanceBudget | None) -> tuple[int | None, bool, str | None, int | None, int | None]:
        if instance is None or scenario not in instance.scenarios:
            return None, False, None, None, None
        result = instance.scenarios[scenario]
        if result.demand is None:
            return None, True, result.status, None, None
        return result.demand, False, result.status, instance.usable - result.demand, instance.alarm_at - result.demand

    b_demand, b_unbounded, b_status, b_room, b_alarm = side(before)
    a_demand, a_unbounded, a_status, a_room, a_alarm = side(after)
    return InstanceScenario(
        scenario, Delta(b_demand, a_demand, b_unbounded, a_unbounded), b_status, a_status, b_room, a_room, b_alarm, a_alarm,
    )


def _route(topology: Topology, database: str, endpoint: str, via: str | None) -> tuple[str, str | None]:
    """Return where a source's demand lands, written out, and the one instance role it lands on."""
    if via is not None:
        return f"via {via}", None
    if endpoint == "writer":
        return f"{database}/writer", "writer"
    readers = topology.databases[database].readers if database in topology.databases else 1
    if readers <= 1:
        return f"{database}/reader-1", "reader-1"
    return f"{database}/reader-1..{readers}", None


def _service_sources(report: BudgetReport) -> Iterator[SourceDemand]:
    """Yield every service source of ``report`` once, whole, where the budget placed it.

    The report already holds them: whole on the writers and behind the poolers, and split on
    readers, where every reader carries the same shares. Only a split share is recomputed,
    which keeps a diff of a 10,000-service topology from redoing all the demand arithmetic.
    """
    topology = report.topology
    for instance in report.instances:
        if instance.role not in ("writer", "reader-1"):
            continue
        for source in instance.demand_by_source:
            if source.kind != "service":
                continue
            if instance.role != "writer" and instance.readers > 1 and source.service and source.environment:
                scale = topology.environments[source.environment].scale
                source = service_demand(topology.services[source.service], source.environment, scale, source.database)
            yield source
    for pooler in report.poolers:
        yield from pooler.clients


def report_sources(report: BudgetReport) -> dict[tuple[str, str], SourceSide]:
    """Return every source of ``report`` by (kind, name): services per environment and pooler server pools.

    Demands are whole (before any split over readers), for every scenario of the report.
    """
    topology = report.topology
    sides: dict[tuple[str, str], SourceSide] = {}
    for demand in _service_sources(report):
        through = demand.via
        route, role = _route(topology, demand.database, demand.endpoint, through)
        sides[("service", demand.source)] = SourceSide(
            "service", demand.database, demand.endpoint, through, route, role,
            {s: demand.demand[s] for s in report.scenarios}, demand.unbounded, demand.scenarios,
        )
    for pooler in report.poolers:
        route, role = _route(topology, pooler.database, pooler.endpoint, None)
        sides[("pooler", pooler.pooler)] = SourceSide(
            "pooler", pooler.database, pooler.endpoint, None, route, role,
            {s: pooler.server_connections for s in report.scenarios},
        )
    return sides


def _source_delta(scenario: str, before: SourceSide | None, after: SourceSide | None) -> Delta:
    def side(source: SourceSide | None) -> tuple[int | None, bool]:
        if source is None:
            return None, False
        return (None, True) if source.unbounded_in(scenario) else (source.demand[scenario], False)

    (b, bu), (a, au) = side(before), side(after)
    return Delta(b, a, bu, au)


def _pooler_scenario(scenario: str, before: PoolerBudget | None, after: PoolerBudget | None) -> PoolerScenario:
    def side(pooler: PoolerBudget | None) -> tuple[int | None, bool, str | None]:
        if pooler is None or scenario not in pooler.scenarios:
            return None, False, None
        result = pooler.scenarios[scenario]
        return result.demand, result.demand is None, result.status

    (b, bu, bs), (a, au, as_) = side(before), side(after)
    return PoolerScenario(scenario, Delta(b, a, bu, au), bs, as_)


def _new(findings: Sequence[Finding], known: Sequence[Finding]) -> tuple[Finding, ...]:
    """Return the findings of a kind and place (code, key path) that ``known`` does not have.

    Matching on the text instead would report a warning as both new and resolved whenever a
    number in it moves (the old-formula warning quotes max_connections, which a class change
    moves), although the trap itself was there before and is still there.
    """
    seen = {(f.code, f.key_path) for f in known}
    return tuple(f for f in findings if (f.code, f.key_path) not in seen)


def diff_reports(base: BudgetReport, head: BudgetReport) -> BudgetDiff:
    """Compare the budget of a topology before (``base``) and after (``head``) a change."""
    scenarios = tuple(s for s in head.scenarios if s in base.scenarios)
    instances = [
        InstanceChange(key[0], key[1], b, a, {s: _instance_scenario(s, b, a) for s in scenarios})
        for key, b, a in _pair_up(
            {(i.database, i.role): i for i in base.instances}, {(i.database, i.role): i for i in head.instances}
        )
    ]
    sources = [
        SourceChange(key[1], b, a, {s: _source_delta(s, b, a) for s in scenarios})
        for key, b, a in _pair_up(report_sources(base), report_sources(head))
    ]
    poolers = [
        PoolerChange(name, b, a, {s: _pooler_scenario(s, b, a) for s in scenarios})
        for name, b, a in _pair_up({p.pooler: p for p in base.poolers}, {p.pooler: p for p in head.poolers})
    ]
    return BudgetDiff(
        base=base,
        head=head,
        scenarios=scenarios,
        instances=tuple(instances),
        sources=tuple(sources),
        poolers=tuple(poolers),
        new_warnings=_new(head.warnings, base.warnings),
        resolved_warnings=_new(base.warnings, head.warnings),
        deployed=deployed_changes(base.topology, head.topology),
    )


def deployed_changes(base: Topology, head: Topology) -> tuple[DeployedChange, ...]:
    """Return the values read from the deployment whose value differs between ``base`` and ``head``.

    Only values (``services.web.replicas.max``) are compared, not an entry's own ``from:``: a
    reference that changed shows in the values it brings.
    """
    changes = []
    for path, before, after in _pair_up(base.provenance, head.provenance):
        if path.count(".") < 2:
            continue
        old, new = (before.value if before else None), (after.value if after else None)
        if old != new:
            changes.append(DeployedChange(path, old, new, (after or before).origin))  # type: ignore[union-attr]
    return tuple(changes)


__all__ = ["ADDED", "CHANGED", "FAIL_ON", "REMOVED", "UNCHANGED", "BudgetDiff", "Delta", "DeployedChange", "InstanceChange",
           "PoolerChange", "SourceChange", "deployed_changes", "diff_reports", "report_sources"]
