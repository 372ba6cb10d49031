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

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, TypeVar

from planner.budget import BudgetReport, Finding, InstanceBudget, PoolerBudget, SourceDemand, service_demand
from planner.model import STATUS_RANK, Topology

ADDED = "added"
REMOVED = "removed"
CHANGED = "changed"
UNCHANGED = "unchanged"

FAIL_ON = ("over", "warn", "increase")

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class Delta:
    """One number (a demand, a limit) before and after.

    ``None`` on a side means absent there, or unbounded when that side's ``unbounded_*`` flag is
    set. The delta counts an absent side as 0 (a new source adds all of its demand) and is None
    when either side is unbounded (no number describes that change).
    """

    before: int | None
    after: int | None
    unbounded_before: bool = False
    unbounded_after: bool = False

    @property
    def delta(self) -> int | None:
        if self.unbounded_before or self.unbounded_after:
            return None
        return (self.after or 0) - (self.before or 0)

    @property
    def changed(self) -> bool:
        return (self.before, self.unbounded_before) != (self.after, self.unbounded_after)

    @property
    def size(self) -> float:
        """Return how large the change is, for ranking: becoming (un)bounded outranks any number."""
        if self.unbounded_before != self.unbounded_after:
            return float("inf")
        return abs(self.delta or 0)


@dataclass(frozen=True)
class InstanceScenario:
    """One instance in one scenario, before and after: demand, status and headroom."""

    scenario: str
    demand: Delta
    status_before: str | None  # None: the instance is absent on that side
    status_after: str | None
    headroom_before: int | None  # usable − demand; None where absent or unbounded
    headroom_after: int | None
    alarm_headroom_before: int | None  # alarm_at − demand: negative once the alarm fires
    alarm_headroom_after: int | None

    @property
    def status_changed(self) -> bool:
        return self.status_before != self.status_after

    @property
    def changed(self) -> bool:
        return self.demand.changed or self.status_changed


def lifecycle(before: object, after: object, changed: bool) -> str:
    """Return ``added`` (no before), ``removed`` (no after), ``changed`` or ``unchanged``."""
    if before is None:
        return ADDED
    if after is None:
        return REMOVED
    return CHANGED if changed else UNCHANGED


class _BeforeAfter:
    """What an instance and a pooler change share: one value read from each side."""

    before: Any
    after: Any

    def _pair(self, read: Callable[[Any], Any]) -> Delta:
        """Return ``read`` of each side as a Delta (None where the side is absent)."""
        return Delta(*(None if side is None else read(side) for side in (self.before, self.after)))

    @property
    def status_before(self) -> str | None:
        return None if self.before is None else self.before.status

    @property
    def status_after(self) -> str | None:
        return None if self.after is None else self.after.status


@dataclass(frozen=True)
class InstanceChange(_BeforeAfter):
    """One database instance (writer or reader) in BASE and HEAD."""

    database: str
    role: str
    before: InstanceBudget | None
    after: InstanceBudget | None
    scenarios: Mapping[str, InstanceScenario]

    @property
    def name(self) -> str:
        return f"{self.database}/{self.role}"

    @property
    def instance_class(self) -> tuple[str | None, str | None]:
        return (
            None if self.before is None else self.before.instance_class,
            None if self.after is None else self.after.instance_class,
        )

    @property
    def max_connections(self) -> Delta:
        return self._pair(lambda i: i.max_connections.value)

    @property
    def usable(self) -> Delta:
        return self._pair(lambda i: i.usable)

    @property
    def alarm_at(self) -> Delta:
        return self._pair(lambda i: i.alarm_at)

    @property
    def reserved(self) -> Delta:
        return self._pair(lambda i: i.reserved)

    @property
    def budget_changed(self) -> bool:
        """Return whether the instance's limits changed (its class, parameters or alarm line)."""
        before_class, after_class = self.instance_class
        limits = (self.max_connections, self.usable, self.alarm_at, self.reserved)
        return before_class != after_class or any(d.changed for d in limits)

    @property
    def change(self) -> str:
        """Return ``added``, ``removed``, ``changed`` (limits, demand or status) or ``unchanged``."""
        return lifecycle(self.before, self.after, self.budget_changed or any(s.changed for s in self.scenarios.values()))

    @property
    def worst(self) -> Delta:
        """Return the worst-scenario demand before and after (``None`` + flag: unbounded)."""
        before, after = (None if i is None else i.worst_demand for i in (self.before, self.after))
        return Delta(
            before, after,
            unbounded_before=self.before is not None and before is None,
            unbounded_after=self.after is not None and after is None,
        )

    def largest_scenario(self) -> str:
        """Return the scenario to headline: a status change first, then the largest demand change,
        then the worst status and demand in HEAD (so an unchanged instance shows its worst)."""
        def key(item: tuple[int, InstanceScenario]) -> tuple[bool, float, int, float, int]:
            index, s = item
            side_status = s.status_after or s.status_before or "ok"
            side_demand = s.demand.after if s.status_after is not None else s.demand.before
            unbounded = s.demand.unbounded_after if s.status_after is not None else s.demand.unbounded_before
            demand = float("inf") if unbounded else float(side_demand or 0)
            return (s.status_changed, s.demand.size, STATUS_RANK[side_status], demand, index)

        return max(enumerate(self.scenarios.values()), key=key)[1].scenario


@dataclass(frozen=True)
class SourceSide:
    """One source on one side: its demand per scenario and where that demand lands."""

    kind: str  # service | pooler
    database: str
    endpoint: str
    via: str | None  # the pooler a service connects through; None = directly
    route: str  # "main/writer", "main/reader-1", "main/reader-1..3", "via bouncer"
    role: str | None  # the one instance it lands on; None behind a pooler or spread over readers
    demand: Mapping[str, int]
    unbounded: bool = False


@dataclass(frozen=True)
class SourceChange:
    """One source (``SERVICE@ENV``, or a pooler's server pool) in BASE and HEAD.

    The demand is the source's whole demand: a source on ``endpoint: reader`` spreads it over the
    readers, and each reader's share shows in that reader's instance rows.
    """

    source: str
    before: SourceSide | None
    after: SourceSide | None
    scenarios: Mapping[str, Delta]

    @property
    def side(self) -> SourceSide:
        """Return HEAD's side, or BASE's for a removed source."""
        side = self.after or self.before
        assert side is not None
        return side

    @property
    def kind(self) -> str:
        return self.side.kind

    @property
    def moved(self) -> bool:
        return self.before is not None and self.after is not None and self.before.route != self.after.route

    @cached_property
    def change(self) -> str:
        """Return ``added``, ``removed``, ``changed`` (demand or route) or ``unchanged``."""
        return lifecycle(self.before, self.after, self.moved or any(d.changed for d in self.scenarios.values()))

    @property
    def size(self) -> float:
        """Return the largest change over the scenarios, for ordering."""
        return max((d.size for d in self.scenarios.values()), default=0.0)


@dataclass(frozen=True)
class PoolerScenario:
    """A pooler's client side in one scenario, before and after."""

    scenario: str
    client_demand: Delta
    status_before: str | None
    status_after: str | None

    @property
    def changed(self) -> bool:
        return self.client_demand.changed or self.status_before != self.status_after


@dataclass(frozen=True)
class PoolerChange(_BeforeAfter):
    """One pooler in BASE and HEAD: its server pool and its client side."""

    pooler: str
    before: PoolerBudget | None
    after: PoolerBudget | None
    scenarios: Mapping[str, PoolerScenario]

    @property
    def kind(self) -> str:
        side = self.after or self.before
        assert side is not None
        return side.kind

    @property
    def database(self) -> str:
        side = self.after or self.before
        assert side is not None
        return side.database

    @property
    def server_connections(self) -> Delta:
        return self._pair(lambda p: p.server_connections)

    @property
    def client_capacity(self) -> Delta:
        """Return PgBouncer's replicas × max_client_conn on both sides (None: absent, or RDS Proxy)."""
        return self._pair(lambda p: p.client_capacity)

    @property
    def change(self) -> str:
        """Return ``added``, ``removed``, ``changed`` (server pool, capacity, clients) or ``unchanged``."""
        if self.before is None or self.after is None:
            return lifecycle(self.before, self.after, True)
        limits = (self.server_connections.changed, self.client_capacity.changed, self.before.database != self.after.database)
        return lifecycle(self.before, self.after, any(limits) or any(s.changed for s in self.scenarios.values()))

    def largest_scenario(self) -> str:
        """Return the scenario whose client demand changed most (then the busiest in HEAD)."""
        def key(item: tuple[int, PoolerScenario]) -> tuple[bool, float, float, int]:
            index, s = item
            demand = s.client_demand.after if s.status_after is not None else s.client_demand.before
            return (s.status_before != s.status_after, s.client_demand.size, float(demand or 0), index)

        return max(enumerate(self.scenarios.values()), key=key)[1].scenario


@dataclass(frozen=True)
class BudgetDiff:
    """Everything ``planner diff`` knows: both reports and what changed between them."""

    base: BudgetReport
    head: BudgetReport
    scenarios: tuple[str, ...]
    instances: tuple[InstanceChange, ...]
    sources: tuple[SourceChange, ...]
    poolers: tuple[PoolerChange, ...]
    new_warnings: tuple[Finding, ...]
    resolved_warnings: tuple[Finding, ...]

    @property
    def status(self) -> str:
        """Return HEAD's verdict: the status that gates the change."""
        return self.head.status

    @cached_property
    def changed_sources(self) -> tuple[SourceChange, ...]:
        return tuple(s for s in self.sources if s.change != UNCHANGED)

    @property
    def demand_changed(self) -> bool:
        """Return whether any instance, pooler or source differs (demand, limits, status, presence)."""
        return any(c.change != UNCHANGED for c in (*self.instances, *self.poolers, *self.sources))

    @property
    def changed(self) -> bool:
        """Return whether the diff has anything to show, warnings included."""
        return self.demand_changed or bool(self.new_warnings or self.resolved_warnings)

    def increases(self) -> list[tuple[InstanceChange, Delta]]:
        """Return the instances whose worst-scenario demand rose, with that demand before and after.

        A new reader is compared with the readers BASE already had (their load is shared, so
        adding one must not count as more demand); a new writer, i.e. a new database, with 0.
        Becoming unbounded is an increase; a side that was already unbounded cannot get worse.
        """
        # Every reader of a database carries the same share, so any one of BASE's stands for all.
        base_readers = {c.database: c.worst for c in self.instances if c.before is not None and c.role != "writer"}
        found: list[tuple[InstanceChange, Delta]] = []
        for change in self.instances:
            if change.after is None:
                continue
            worst = change.worst
            if change.before is None and change.database in base_readers and change.role != "writer":
                reference = base_readers[change.database]
                worst = Delta(reference.before, worst.after, reference.unbounded_before, worst.unbounded_after)
            if worst.unbounded_before:
                continue
            if worst.unbounded_after or (worst.after or 0) > (worst.before or 0):
                found.append((change, worst))
        return found

    def failures(self, fail_on: Iterable[str]) -> list[str]:
        """Return why the change fails the gate for each ``--fail-on`` condition (empty: it passes)."""
        conditions = set(fail_on)
        reasons: list[str] = []
        if "warn" in conditions and self.status in ("warn", "over"):
            reasons.append(f"HEAD is {self.status} (--fail-on warn)")
        elif "over" in conditions and self.status == "over":
            reasons.append("HEAD is over budget (--fail-on over)")
        if "increase" in conditions:
            for change, worst in self.increases():
                before = "unbounded" if worst.unbounded_before else (worst.before if worst.before is not None else "none")
                after = "unbounded" if worst.unbounded_after else worst.after
                reasons.append(f"worst-scenario demand on {change.name} rose from {before} to {after} (--fail-on increase)")
        return reasons


# --------------------------------------------------------------------------- comparing


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
            {s: demand.demand[s] for s in report.scenarios}, demand.unbounded,
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
        return (None, True) if source.unbounded else (source.demand[scenario], False)

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
    )
