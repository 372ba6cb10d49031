"""``planner recommend``: every option for each database that warns or is over, ranked.

First, pools held to the concurrency that can use them (:func:`~planner.advice.levers.concurrency_caps_option`):
no cost, nothing lost. When that fits it is option 1; when it does not fit on its own, every other
option is computed on top of it (and says so). Then options that fit; by monthly cost in $50 steps
(unknown last); then by effort. When no option fits on today's class, the options worth combining
with a bigger class are tried on the classes above it (:func:`resized_options`).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Iterator

from planner.budget import (
    BudgetReport,
    budget_report,
    compute_budget,
    max_connections_for,
)
from planner.budget.demand import all_service_demands
from planner.budget.instances import worst_scenario
from planner.budget.plan import candidate_classes
from planner.model import (
    RDS_ENGINES,
    Topology,
)

if TYPE_CHECKING:
    from planner.catalog import Catalog

from planner.advice.generators import (
    client_limit_option,
    parameter_option,
    pgbouncer_option,
    pool_everything_option,
    pooler_pool_option,
    rds_proxy_option,
    resize_options,
)
from planner.advice.levers import (
    HELD_KIND,
    autoscaling_max_option,
    concurrency_caps_option,
    lambda_concurrency_option,
    pool_caps_option,
    processes_option,
    serverless_option,
)
from planner.advice.observed import Measurement, measurement_notes, observed_caps_option
from planner.advice.options import (
    NO_PRICE_CHANGE,
    Option,
    Outcome,
    Recommendation,
    budget_for,
    instance_price_note,
    monthly_instance_cost,
    outcome_of,
    price_order,
    with_database,
)

Generator = Callable[[Topology, Any, str, BudgetReport, Outcome], Iterator[Option]]


GENERATORS: tuple[Generator, ...] = (
    concurrency_caps_option, client_limit_option, pooler_pool_option, parameter_option, pool_caps_option, lambda_concurrency_option, autoscaling_max_option,
    processes_option, serverless_option, pgbouncer_option, rds_proxy_option, pool_everything_option,
)


# Options worth combining with a bigger class when they do not fit on the current one.
RESIZABLE: tuple[Generator, ...] = (pool_everything_option, rds_proxy_option, pgbouncer_option, pool_caps_option)


def resized_options(topology: Topology, catalog: "Catalog", database: str, before: Outcome, kinds_that_fit: set[str]) -> Iterator[Option]:
    """Yield, for each option that does not fit today, the smallest class on which it does.

    The classes bigger than today's are searched by rising max_connections; the first class where
    the option fits gives the combined option "resize to C and …", its cost the sum of both.
    """
    db = topology.databases[database]
    now_cost = monthly_instance_cost(topology, catalog, database, db.instance_class)
    classes, _ = candidate_classes(topology, catalog, database, db.engine)
    classes.sort(key=lambda c: price_order(c, db.engine, db.deployment_name))
    current = catalog.find(db.instance_class) if db.instance_class else None
    # one class per max_connections value (the smallest, then cheapest): the budget sees nothing else
    by_value: dict[int, Any] = {}
    for cls in classes:
        if cls.instance_class == db.instance_class or (current is not None and cls.memory_gib <= current.memory_gib):
            continue  # today's class, or a smaller one: not a resize anyone wants here
        changed = with_database(topology, database, instance_class=cls.instance_class)
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
        new_cost = monthly_instance_cost(topology, catalog, database, cls.instance_class)
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
                n for n in (instance_price_note(topology, catalog, database, cls.instance_class) if resize_delta is not None else "",
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
        resized = with_database(topology, database, instance_class=cls.instance_class)
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
    """Rank: options that fit; then by monthly cost in $50 steps (unknown last); then those that give the
    database room before those that take concurrency from the applications; then effort."""
    cost = option.monthly_cost_delta
    bucket = math.inf if cost is None else max(0.0, cost) // 50
    return (not option.fits, bucket, option.limits_applications, option.effort, math.inf if cost is None else cost, option.title)


def _scoped(topology: Topology, database: str) -> Topology:
    """Return ``topology`` with only the services that open connections on ``database`` (the same objects)."""
    names = {demand.service for demand in all_service_demands(topology, database)}
    if len(names) == len(topology.services):
        return topology
    return replace(topology, services={n: s for n, s in topology.services.items() if n in names})


def _options(topology: Topology, catalog: "Catalog", database: str, report: BudgetReport,
             before: Outcome, extra: tuple[Generator, ...] = ()) -> tuple[list[Option], tuple[str, ...]]:
    """Return the options that fit ``database``, ranked, and a note for each that does not fit on its own
    (``extra``: generators beyond :data:`GENERATORS`, e.g. pools sized from a measurement)."""
    # The levers re-run the budget hundreds of times, each over every service of the topology; the
    # services of other databases add nothing to it. They are left out while searching and put back
    # (unchanged, in their order) in each option's topology, which emit and --apply-to-topology write.
    # (A new pooler's name is checked against the report's whole topology: see _unique_name.)
    local = _scoped(topology, database)
    options: list[Option] = []
    for generate in (*GENERATORS, *extra):
        options.extend(generate(local, catalog, database, report, before))
    # a bigger class gives the instance room; a pooler whose own client side is over gains nothing by it
    instance_flagged = any(i.status != "ok" for i in report.instances if i.database == database)
    if topology.databases[database].engine in RDS_ENGINES and instance_flagged:
        options.extend(resize_options(local, catalog, database, before))
    if local is not topology:
        options = [replace(o, topology=replace(o.topology, services={**topology.services, **o.topology.services})) for o in options]
    if topology.databases[database].engine in RDS_ENGINES and instance_flagged and not any(o.fits for o in options):
        options.extend(resized_options(topology, catalog, database, before, {o.kind for o in options if o.fits}))
    fitting = sorted((o for o in options if o.fits), key=_rank_key)
    # the pools held to their concurrency have their own note (recommend)
    notes = tuple(f"{o.title}: does not fit on its own ({o.after.status})" for o in options if not o.fits and o.kind != HELD_KIND)
    return fitting, notes


def _after_holding(option: Option, held: Option, before: Outcome) -> Option:
    """Return ``option`` computed on top of the pools held to their concurrency, as one option (it includes them)."""
    return replace(
        option,
        title=f"hold each pool to its concurrency ({', '.join(f'{n} → {c}' for n, c in held.details['pools'].items())}), "
              f"then {option.title}",
        before=before,
        requires=held.requires + option.requires,
        details={**option.details, "held_to_concurrency": dict(held.details["pools"]),
                 "pools": {**held.details["pools"], **option.details.get("pools", {})}},
    )


# a pool field the held option changes -> the keys a topology writes it under
_POOL_KEYS = {"size": ("size", "max_size"), "max_overflow": ("max_overflow",), "min_size": ("min_size",)}


def _read_from_deployment(topology: Topology, held: Option) -> list[str]:
    """Return the pool values ``held`` changes that ``topology`` reads from the deployment (``--apply-to-topology``
    does not write them: they are changed in the manifest)."""
    found = []
    for name, service in held.topology.services.items():
        old, new = topology.services[name].pool, service.pool
        if old is None or new is None or old == new:
            continue
        for field, keys in _POOL_KEYS.items():
            if getattr(old, field) != getattr(new, field):
                found += [path for key in keys if (path := f"services.{name}.pool.{key}") in topology.provenance]
    return found


def problem_of(report: BudgetReport, database: str) -> str:
    """Return what is over or warns on ``database``: each instance and each pooler's client side that is, with
    its numbers, and the instance's own state where only a pooler is flagged (a bigger class would not help)."""
    parts: list[str] = []
    instances = [i for i in report.instances if i.database == database]
    for instance in instances:
        if instance.status == "ok":
            continue
        scenario = worst_scenario(instance.scenarios)
        demand = instance.scenarios[scenario].demand
        shown = "unbounded" if demand is None else f"{demand:,}"
        parts.append(f"{instance.name} is {instance.status}: {scenario} demand {shown} vs alarm at {instance.alarm_at:,}, "
                     f"usable {instance.usable:,}")
    for pooler in report.poolers:
        if pooler.database != database or pooler.status == "ok":
            continue
        scenario = worst_scenario(pooler.scenarios)
        demand = pooler.scenarios[scenario].demand
        shown = "unbounded" if demand is None else f"{demand:,}"
        limit = "replicas × num_init_children" if pooler.kind == "pgpool" else "replicas × max_client_conn"
        parts.append(f"{pooler.pooler}'s client side is {pooler.status}: {scenario} client demand {shown} vs {limit} "
                     f"{pooler.client_capacity:,}")
    if all(i.status == "ok" for i in instances):
        writer = next(i for i in instances if i.role == "writer")
        worst = writer.worst_demand
        parts.append(f"{writer.name} itself is ok ({'unbounded' if worst is None else f'{worst:,}'} vs alarm at "
                     f"{writer.alarm_at:,}): the levers are the pooler's own settings")
    return "; ".join(parts)


def recommend(topology: Topology, catalog: "Catalog", report: BudgetReport | None = None,
              observed: "Measurement | None" = None) -> list[Recommendation]:
    """Return ranked options for every database whose instances or poolers warn or are over.

    ``observed`` (``recommend --observed``): its database also gets the pools sized from what the services
    used (:mod:`planner.advice.observed`), as one more option, and is listed even when it is within budget.
    """
    report = report or compute_budget(topology, catalog)
    out: list[Recommendation] = []
    for database in topology.databases:
        before = outcome_of(report, database)
        measured = observed is not None and observed.database == database
        extra: tuple[Generator, ...] = (observed_caps_option(observed),) if observed is not None and measured else ()
        notes_observed = measurement_notes(observed, topology) if observed is not None and measured else ()
        if before.status == "ok":
            if extra:
                options = tuple(o for o in extra[0](topology, catalog, database, report, before) if o.fits)
                out.append(Recommendation(database, _within_budget(report, database, observed), options, notes_observed))
            continue
        held = next(concurrency_caps_option(topology, catalog, database, report, before), None)
        sourced = [] if held is None else _read_from_deployment(topology, held)
        if held is None or held.fits or sourced:
            fitting, notes = _options(topology, catalog, database, report, before, extra)
            if held is not None and held.fits:  # free, and nothing lost: before anything else
                fitting = [held, *(o for o in fitting if o.kind != HELD_KIND)]
            elif held is not None:
                # the pools are the deployment's: the options below stay applicable without them, and say what to change
                demand_after = "unbounded" if held.after.worst_demand is None else f"{held.after.worst_demand:,}"
                notes = (f"{held.title}: not enough on its own ({held.after.worst_scenario} demand {demand_after} vs alarm at "
                         f"{held.after.alarm_at:,}); {', '.join(sourced)} {'is' if len(sourced) == 1 else 'are'} read from "
                         "the deployment: change them there, then run recommend again",) + notes
        else:
            # not enough on its own: every option starts from it, so none pays for connections no request uses
            on_top = budget_report(held.topology, catalog)
            fitting, notes = _options(held.topology, catalog, database, on_top, outcome_of(on_top, database), extra)
            fitting = [_after_holding(o, held, before) for o in fitting]
            demand_after = "unbounded" if held.after.worst_demand is None else f"{held.after.worst_demand:,}"
            notes = (f"{held.title}: not enough on its own ({held.after.worst_scenario} demand {demand_after} vs alarm at "
                     f"{held.after.alarm_at:,}), so every option below starts from it",) + notes
        out.append(Recommendation(database, problem_of(report, database), tuple(fitting), notes + notes_observed))
    return out


def _within_budget(report: BudgetReport, database: str, observed: "Measurement") -> str:
    """Return the problem line of a measured database that is within budget: nothing to close, pools to size."""
    writer = next(i for i in report.instances if i.database == database and i.role == "writer")
    worst = writer.worst_demand
    return (f"{writer.name} is ok ({'unbounded' if worst is None else f'{worst:,}'} vs alarm at {writer.alarm_at:,}); "
            f"measured in {observed.label}: the pools that are larger than what their services used")


__all__ = ["GENERATORS", "RESIZABLE", "Option", "Outcome", "Recommendation", "recommend", "resized_options"]
