"""What a change does to a budget, as data: per instance, scenario, source and pooler, before and after.

:func:`planner.review.diff.diff_reports` builds a :class:`BudgetDiff`; the renderers read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, Iterable, Mapping, TypeVar

from planner.budget import BudgetReport, Finding, InstanceBudget, PoolerBudget
from planner.model import STATUS_RANK

ADDED = "added"


REMOVED = "removed"


CHANGED = "changed"


UNCHANGED = "unchanged"


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
    scenarios: tuple[str, ...] | None = None  # the scenarios it counts in (None: every one)

    def unbounded_in(self, scenario: str) -> bool:
        """Return whether the source is unbounded in ``scenario`` (where it counts)."""
        return self.unbounded and (self.scenarios is None or scenario in self.scenarios)


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

    @property
    def recounted(self) -> bool:
        """Return whether the scenarios it counts in changed (``scenarios`` on the service)."""
        return self.before is not None and self.after is not None and self.before.scenarios != self.after.scenarios

    @cached_property
    def change(self) -> str:
        """Return ``added``, ``removed``, ``changed`` (demand, route or scenarios) or ``unchanged``."""
        return lifecycle(self.before, self.after,
                         self.moved or self.recounted or any(d.changed for d in self.scenarios.values()))

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
class DeployedChange:
    """A value the topology reads from the deployment that differs between BASE and HEAD.

    ``before``/``after`` are the values as a topology writes them (None: not read on that side);
    ``origin`` is where HEAD read it (BASE's, when HEAD no longer reads it).
    """

    key_path: str
    before: str | None
    after: str | None
    origin: str

    def __str__(self) -> str:
        return f"{self.key_path} {self.before or 'not read'} → {self.after or 'not read'} ({self.origin})"


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
    deployed: tuple[DeployedChange, ...] = ()  # values read from the deployment that changed
    # what each side read instead of its `sources` ("kubernetes=rendered/base/"), "" for none
    overrides: tuple[str, str] = ("", "")

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
        return self.demand_changed or bool(self.new_warnings or self.resolved_warnings or self.deployed)

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
