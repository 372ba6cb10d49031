"""``planner plan``: which instance classes hold a database's worst scenario under the alarm line.

Each candidate is judged by re-running the budget (:func:`~planner.budget.instances.budget_report`) on the topology with that class,
never by a separate formula, so what ``plan`` promises is what ``check`` will say.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Sequence

from planner.budget.demand import all_service_demands
from planner.budget.instances import BudgetReport, budget_report
from planner.budget.limits import max_connections_for
from planner.budget.lints import production_label
from planner.budget.pricing import DatabasePrice, database_price, monthly
from planner.errors import InputError, Problem
from planner.model import (
    DEFAULT_DEPLOYMENT,
    DEPLOYMENT_LABELS,
    RDS_ENGINES,
    SCENARIOS,
    SERVERLESS_CLASS,
    Database,
    InstanceClass,
    Price,
    Topology,
    price_for,
)
from planner.reserves import EngineVersion

if TYPE_CHECKING:
    from planner.catalog import Catalog

BURSTABLE_NOTE = "burstable: throttles when CPU credits run out"


@dataclass(frozen=True)
class Candidate:
    """One instance class judged against one database's demand."""

    instance_class: InstanceClass
    engine: str
    max_connections: int
    max_connections_source: str
    usable: int
    alarm_at: int
    worst_scenario: str
    worst_demand: int | None  # the largest demand over the database's instances; None = unbounded
    fits: bool  # every instance of the database is `ok` in every scenario
    deployment: str = ""  # whose price applies: single-az, multi-az, ... ("" = the engine's default)
    reading_range: tuple[int, int] | None = None  # what a real instance may read (its memory's band)
    point: int | None = None  # the catalogue's value where max_connections counts on the band's low end
    total: DatabasePrice | None = None  # the whole database's month on this class (writer, standbys, readers)

    @property
    def burstable(self) -> bool:
        """Return whether the class is burstable (db.t*): it throttles when its CPU credits run out."""
        return self.instance_class.burstable

    @property
    def fit(self) -> str:
        """Return ``fits`` (every instance at or under alarm_at), ``tight`` (worst demand ≤ usable) or ``over``."""
        if self.fits:
            return "fits"
        if self.worst_demand is not None and self.worst_demand <= self.usable:
            return "tight"
        return "over"

    @property
    def headroom(self) -> int | None:
        """Connections left under the alarm line in the worst scenario."""
        return None if self.worst_demand is None else self.alarm_at - self.worst_demand

    @property
    def price(self) -> Price | None:
        """Return the class's on-demand price in the database's deployment, if known."""
        return price_for(self.instance_class, self.engine, self.deployment or None)

    @property
    def monthly_usd(self) -> float | None:
        price = self.price
        return None if price is None else monthly(price.usd_per_hour)


@dataclass(frozen=True)
class DatabasePlan:
    """The candidates for one database, best first, and what it runs on today."""

    database: str
    engine: str
    current_class: str | None
    candidates: tuple[Candidate, ...]  # the ones that fit, smallest then cheapest first
    considered: int  # how many classes were tried
    largest: Candidate | None  # the roomiest class tried, to say how far off a miss is
    deployment: str = ""
    engine_version: str = ""
    not_deployable: int = 0  # classes of the engine left out: not orderable that way (or retired)
    current: Candidate | None = None  # today's database judged as it is (its readers on their own class)
    current_note: str = ""  # why there is no current row, when there is none
    burstable_left_out: int = 0  # burstable classes judged but not proposed
    burstable_reason: str = ""  # why burstable classes are left out ("" = they are proposed)
    # the RDS Proxies in front of it and the share of max_connections each takes, whatever the class
    proxies: tuple[tuple[str, int], ...] = ()


def single_database(topology: Topology, name: str) -> Topology:
    """Return ``topology`` reduced to one database and the poolers in front of it."""
    return replace(
        topology,
        databases={name: topology.databases[name]},
        poolers={k: p for k, p in topology.poolers.items() if p.database == name},
    )


def _judge(report: BudgetReport, cls: InstanceClass, engine: str) -> Candidate:
    writer = report.instances[0]
    results = [(s, r) for i in report.instances for s, r in i.scenarios.items()]
    fits = all(r.status == "ok" for _, r in results)
    unbounded = next((s for s, r in results if r.demand is None), None)
    worst_demand: int | None
    if unbounded is not None:
        worst_scenario, worst_demand = unbounded, None
    else:
        worst_scenario, worst = max(results, key=lambda item: item[1].demand or 0)
        worst_demand = worst.demand
    return Candidate(
        instance_class=cls,
        engine=engine,
        max_connections=writer.max_connections.value,
        max_connections_source=writer.max_connections.source,
        usable=writer.usable,
        alarm_at=writer.alarm_at,
        worst_scenario=worst_scenario,
        worst_demand=worst_demand,
        fits=fits,
    )


def deployment_for(db: Database, engine: str) -> str:
    """Return the deployment a class is judged for: the database's own, or the default of another engine."""
    return db.deployment_name if engine == db.engine else DEFAULT_DEPLOYMENT[engine]


def proposable(cls: InstanceClass, engine: str, deployment: str, version: EngineVersion, include_retired: bool = False) -> bool:
    """Return whether ``plan`` and ``recommend`` may propose ``cls`` for that engine, deployment and version.

    Only classes AWS lists as orderable that way; a catalogue that says nothing about where its
    classes can run (an older or hand-written one) has every class it knows, retired ones aside.
    """
    if cls.retired and not include_retired:
        return False
    flag = cls.deployable(engine, deployment, version)
    return flag is True or (flag is None and not cls.orderable)


def candidate_classes(topology: Topology, catalog: "Catalog", database: str, engine: str,
                      family: str | None = None, include_retired: bool = False) -> tuple[list[InstanceClass], int]:  # fmt: skip
    """Return the classes that may be proposed for ``database`` on ``engine``, and how many were left out."""
    db = topology.databases[database]
    deployment = deployment_for(db, engine)
    known = catalog.classes(engine=engine, family=family)
    kept = [c for c in known if proposable(c, engine, deployment, db.version, include_retired)]
    return kept, len(known) - len(kept)


def judge_classes(
    topology: Topology, catalog: "Catalog", database: str, engine: str, classes: Sequence[InstanceClass],
) -> list[Candidate]:
    """Judge each class for ``database`` by re-running the budget with it (writer and readers).

    A class enters the budget only through its max_connections, so classes that share that
    number share one budget run: a few dozen runs instead of one per class (≈ 270).
    """
    db = topology.databases[database]
    sub = single_database(topology, database)
    demands = all_service_demands(topology, database)
    runs: dict[int, Candidate] = {}
    judged: list[Candidate] = []
    deployment = deployment_for(db, engine)
    for cls in classes:
        # plan one class for the writer and its readers
        changed = replace(db, engine=engine, instance_class=cls.instance_class, reader_instance_class=None)
        with_class = replace(sub, databases={database: changed})
        mc = max_connections_for(changed, cls.instance_class, catalog, with_class)
        if mc.value not in runs:
            runs[mc.value] = _judge(budget_report(with_class, catalog, SCENARIOS, demands), cls, engine)
        total = database_price(changed, engine, deployment, cls, cls.instance_class, cls, cls.instance_class)
        judged.append(replace(runs[mc.value], instance_class=cls, max_connections_source=mc.source, deployment=deployment,
                              reading_range=mc.reading_range, point=mc.point if mc.uses_low_end else None, total=total))
    return judged


def judge_current(topology: Topology, catalog: "Catalog", database: str, engine: str) -> tuple[Candidate | None, str]:
    """Judge the database as it runs today (its readers on their own class), for the row marked "now".

    Returns the candidate, or None and why there is no row; the text also says when today's class
    could not be ordered that way any more.
    """
    db = topology.databases[database]
    name = db.instance_class
    if name is None:
        return None, "no instance_class in the topology"
    if name == SERVERLESS_CLASS:
        return None, "Aurora Serverless v2 sizes by ACUs, not by class"
    cls = catalog.find(name)
    reader_name = db.reader_instance_class or name
    reader = catalog.find(reader_name) if reader_name != SERVERLESS_CLASS else None
    for role, found, named in (("writer", cls, name), ("reader", reader, reader_name)):
        if named != SERVERLESS_CLASS and (found is None or not found.supports(engine)):
            return None, f"the {role} class {named} has no {engine} budget in the catalogue"
    assert cls is not None  # checked in the loop
    deployment = deployment_for(db, engine)
    changed = replace(db, engine=engine)
    sub = replace(single_database(topology, database), databases={database: changed})
    candidate = _judge(budget_report(sub, catalog, SCENARIOS, all_service_demands(topology, database)), cls, engine)
    mc = max_connections_for(changed, name, catalog, sub)
    total = database_price(changed, engine, deployment, cls, name, reader, reader_name)
    candidate = replace(candidate, deployment=deployment, total=total, reading_range=mc.reading_range,
                        point=mc.point if mc.uses_low_end else None)
    orderable = "" if proposable(cls, engine, deployment, db.version) else (
        f"{name} is {'retired' if cls.retired else 'not orderable'} for {engine} {db.engine_version}, "
        f"{DEPLOYMENT_LABELS.get(deployment, deployment)}")
    return candidate, orderable


def burstable_reason(topology: Topology, database: str, include: bool | None) -> str:
    """Return why burstable classes are left out of ``database``'s candidates ("" = they are proposed).

    ``include`` is ``--burstable`` (True), ``--no-burstable`` (False) or neither (None): then they are
    left out where the database serves production, as the ``burstable-production`` lint decides it.
    """
    if include is True:
        return ""
    if include is False:
        return "left out: --no-burstable"
    label = production_label(d.environment for d in all_service_demands(topology, database))
    if label is None:
        return ""
    return f"left out: {database} serves {label}; --burstable includes them"


def burstable_left_out(count: int, reason: str) -> str:
    """Say how many burstable classes that fit were left out, why, and how to include them ("" when none were)."""
    if not count or not reason:
        return ""
    return f"{count} burstable class{'es' if count != 1 else ''} that fit{'s' if count == 1 else ''} {reason}"


def plan_database(
    topology: Topology,
    catalog: "Catalog",
    database: str,
    engine: str | None = None,
    families: Sequence[str] | None = None,
    include_retired: bool = False,
    burstable: bool | None = None,
) -> DatabasePlan:
    """Return every class of the engine that keeps ``database`` under its alarm line, best first.

    ``burstable``: propose burstable classes (True), never (False), or unless the database serves
    production (None, see :func:`burstable_reason`). The database as it runs today is judged too.
    """
    if database not in topology.databases:
        known = ", ".join(topology.databases)
        raise InputError(Problem(topology.path, "databases", f"no database named {database!r}", None, f"choose one of: {known}"))
    db = topology.databases[database]
    engine = engine or db.engine
    if engine not in RDS_ENGINES:
        raise InputError(Problem(
            topology.path, f"databases.{database}.engine", f"{engine} has no instance classes to plan",
            topology.line_of(f"databases.{database}.engine"), "pass --engine postgres or --engine aurora-postgresql",
        ))
    if db.instance_class is not None and db.instance_class != SERVERLESS_CLASS:
        # a typo in today's class is still an input error, even though plan does not need the class
        key = f"databases.{database}.instance_class"
        try:
            if engine == db.engine:
                catalog.dbicm(db.instance_class, engine)
            else:
                catalog.get(db.instance_class)
        except InputError as exc:
            raise InputError(Problem(topology.path, key, str(exc).split("\n")[0], topology.line_of(key), None)) from exc
    family = ",".join(families) if families else None
    classes, left_out = candidate_classes(topology, catalog, database, engine, family, include_retired)
    judged = judge_classes(topology, catalog, database, engine, classes)
    fitting = sorted((c for c in judged if c.fits), key=candidate_order)
    reason = burstable_reason(topology, database, burstable)
    kept = [c for c in fitting if not (reason and c.burstable)]
    largest = max(judged, key=lambda c: c.usable, default=None)
    current, current_note = judge_current(topology, catalog, database, engine)
    return DatabasePlan(database, engine, db.instance_class, tuple(kept), len(judged), largest,
                        deployment_for(db, engine), db.engine_version, left_out, current, current_note,
                        len(fitting) - len(kept), reason,
                        tuple((p.name, p.max_connections_percent) for p in topology.poolers.values()
                              if p.kind == "rds-proxy" and p.database == database))  # fmt: skip


def candidate_order(c: Candidate) -> tuple[float, bool, float, int, str]:
    """Order candidates smallest first, then cheapest (unpriced last), then fewest vCPUs, then by name."""
    price = c.price
    return (c.instance_class.memory_gib, price is None, price.usd_per_hour if price else 0.0,
            c.instance_class.vcpu, c.instance_class.instance_class)  # fmt: skip


def plan_topology(
    topology: Topology,
    catalog: "Catalog",
    engine: str | None = None,
    families: Sequence[str] | None = None,
    include_retired: bool = False,
    database: str | None = None,
    burstable: bool | None = None,
) -> list[DatabasePlan]:
    """Return a :class:`DatabasePlan` for each RDS database (or just ``database``)."""
    names = [database] if database else [n for n, d in topology.databases.items() if engine or d.engine in RDS_ENGINES]
    return [plan_database(topology, catalog, n, engine, families, include_retired, burstable) for n in names]
