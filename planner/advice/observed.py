"""Pools sized from what the services used: ``planner recommend --observed FILE``.

The file holds the samples of ``planner inspect --sample`` (:mod:`planner.live.sample`); the command line
turns them into, per ``application_name``, the sessions in use at once (active or idle in a transaction)
from one client address: its 99th percentile over the samples and its maximum. One client address is one
replica where each replica has its own (a pod, a VM, a task); replicas behind one address (NAT, one
host) are counted together, which only makes the measured concurrency larger.

Per long-running service connecting directly (not through a pooler), the option caps the pool per
process at::

    max(threads, ceil(ceil(p99 per replica / processes per replica) × (1 + margin)))

never below the threads that can use a connection at once (a pool below them makes threads queue), and
never above today's pool (``size + max_overflow``). Like every option it is a changed topology re-checked
by the budget (:func:`planner.advice.options.evaluate`), ranked with the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import TYPE_CHECKING, Callable, Iterator, Mapping, Sequence

from planner.advice.levers import capped, pooled_services, worst_pool
from planner.advice.options import NO_PRICE_CHANGE, Option, Outcome, evaluate
from planner.budget.sessions import source_names

if TYPE_CHECKING:
    from planner.budget import BudgetReport, InstanceBudget, PoolerBudget
    from planner.catalog import Catalog
    from planner.model import Service, Topology

OBSERVED_KIND = "observed-pools"
DEFAULT_MARGIN_PERCENT = 25


@dataclass(frozen=True)
class MeasuredService:
    """What one service's sessions used at once, from one client address (a replica), over the samples."""

    service: str
    per_replica_p99: int
    per_replica_max: int
    application_names: tuple[str, ...]


@dataclass(frozen=True)
class Measurement:
    """The samples of one database's writer, mapped to the topology's services."""

    database: str
    label: str  # where and how it was measured: "samples.json: 1,800 samples every 1s over 30m (2026-12-07)"
    services: Mapping[str, MeasuredService]
    margin: Fraction
    partial: bool = False
    through_pooler: tuple[str, ...] = ()  # application names whose server connections a pooler opens
    unknown: tuple[str, ...] = ()  # application names no service of the topology carries


def measure(
    instance: "InstanceBudget", poolers: Sequence["PoolerBudget"], busy: Mapping[str, tuple[int, int]], label: str,
    margin: Fraction, partial: bool = False,
) -> Measurement:
    """Return ``busy`` (application_name → (p99, max) in use at once from one client address) per service of ``instance``."""
    names = source_names(instance, poolers)
    found: dict[str, list[tuple[str, int, int]]] = {}
    through, unknown = [], []
    for name, (p99, most) in sorted(busy.items()):
        service = names.service(name)
        if service is not None:
            found.setdefault(service, []).append((name, p99, most))
        elif name in names.pooled:
            through.append(name)
        elif name not in names.alias:
            unknown.append(name or "(none)")
    services = {
        service: MeasuredService(service, max(p for _, p, _ in rows), max(m for _, _, m in rows), tuple(n for n, _, _ in rows))
        for service, rows in found.items()
    }
    return Measurement(instance.database, label, services, margin, partial, tuple(through), tuple(unknown))


def observed_cap(service: "Service", measured: MeasuredService, margin: Fraction) -> int | None:
    """Return the pool per process the measurement gives ``service``; None when it is not below today's pool."""
    per_process = math.ceil(measured.per_replica_p99 / service.processes)
    cap = max(service.threads, math.ceil(per_process * (1 + margin)), 1)
    today = worst_pool(service)
    return None if today is not None and cap >= today else cap


def observed_caps_option(measurement: Measurement) -> Callable[["Topology", "Catalog | None", str, "BudgetReport", Outcome], Iterator[Option]]:
    """Return a generator of ``recommend`` (as those of :data:`planner.advice.recommend.GENERATORS`) that yields the
    pools of the measured database capped at their measured concurrency plus the margin (module docstring)."""

    def generate(topology: "Topology", catalog: "Catalog | None", database: str, report: "BudgetReport",
                 before: Outcome) -> Iterator[Option]:  # fmt: skip
        if database != measurement.database:
            return
        caps: dict[str, int] = {}
        for service in pooled_services(topology, database):
            measured = measurement.services.get(service.name)
            if measured is None or service.shape != "long-running":
                continue
            cap = observed_cap(service, measured, measurement.margin)
            if cap is not None:
                caps[service.name] = cap
        if not caps:
            return
        changed = replace(topology, services={**topology.services, **{n: capped(topology.services[n], c) for n, c in caps.items()}})
        margin = f"{float(measurement.margin):.0%}"
        parts = []
        for name, cap in caps.items():
            service, measured = topology.services[name], measurement.services[name]
            floor = f", never below its {service.threads} thread{'s' if service.threads > 1 else ''}" if cap == service.threads else ""
            parts.append(f"{name} {worst_pool(service) or 'unbounded'} → {cap} per process (p99 {measured.per_replica_p99} in use "
                         f"at once per replica, at most {measured.per_replica_max}{floor})")  # fmt: skip
        title = f"cap the pools on {database} at the concurrency measured + {margin}: {'; '.join(parts)}"
        requires = [
            f"measured in {measurement.label}: load the window did not see (a busier hour, a batch job, a release) is not in it, "
            "nor a burst shorter than the interval between samples; sample a busy hour",
            "requests beyond the pool wait for a connection (set a pool timeout)",
        ]
        if any(topology.services[n].processes > 1 for n in caps):
            requires.append("a replica's processes share its load evenly: a process busier than its share waits for a connection")
        unwritten = [n for n in caps if f"services.{n}.threads" not in topology.lines and f"services.{n}.threads" not in topology.provenance]
        if unwritten:
            requires.append(f"{', '.join(unwritten)}: threads is not written, so 1 is assumed as the floor; write it so that no pool "
                            "is capped below the threads that use it")  # fmt: skip
        if measurement.partial:
            requires.append("the sampling window was cut short: the measurement is partial")
        yield evaluate(
            OBSERVED_KIND, database, title, before, changed, catalog, requires=tuple(requires), monthly_cost_delta=0.0,
            cost_note=NO_PRICE_CHANGE, effort=2, limits_applications=True,
            details={"pools": caps, "margin": float(measurement.margin), "measured": {
                n: {"per_replica_p99": measurement.services[n].per_replica_p99, "per_replica_max": measurement.services[n].per_replica_max,
                    "application_names": list(measurement.services[n].application_names)} for n in caps}},
        )  # fmt: skip

    return generate


def measurement_notes(measurement: Measurement, topology: "Topology") -> tuple[str, ...]:
    """Return what the measurement leaves out: services not seen, names measured through a pooler or unknown."""
    notes = []
    seen = set(measurement.services)
    missing = [s.name for s in pooled_services(topology, measurement.database) if s.shape == "long-running" and s.name not in seen]
    if missing:
        notes.append(f"no session of {', '.join(missing)} in {measurement.label}: their pools are not sized from it "
                     "(tag their connections with application_name SERVICE or SERVICE@ENV)")  # fmt: skip
    if measurement.through_pooler:
        notes.append(f"{', '.join(measurement.through_pooler)}: measured through a pooler, whose server connections are its own "
                     "pool's: not capped here")  # fmt: skip
    if measurement.unknown:
        notes.append(f"application names no service of the topology carries: {', '.join(measurement.unknown)}")
    return tuple(notes)


__all__ = ["DEFAULT_MARGIN_PERCENT", "OBSERVED_KIND", "Measurement", "MeasuredService", "measure", "measurement_notes",
           "observed_cap", "observed_caps_option"]
