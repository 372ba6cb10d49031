"""The levers inside the topology: pools held to their concurrency, pool caps, Lambda reserved
concurrency, autoscaling maxima, processes per replica, an Aurora Serverless v2 capacity range.

**Pools held to their concurrency** come first, at no cost: a thread-per-request pool larger than the
threads of its process (:mod:`planner.budget.concurrency`) is lowered to them (``max_overflow`` first,
then ``size``). Requests lose nothing: a process never had more requests than threads holding a
connection at once.

Each lever is a small optimisation, stated, and proven by the same arithmetic as ``check``
(:func:`planner.advice.options.evaluate`): a value is feasible when every instance and pooler of
the database is ``ok`` in every scenario, i.e. under its alarm line.

**Pool caps** keep as much concurrency as possible where it is least: they maximise the smallest
fraction of its current worst pool (``size + max_overflow`` per process) that any service keeps.
That fraction is found by bisection over the caps it implies (``max(1, floor(pool × f))``); then
each capped service gets back, one at a time, the largest cap that still fits (the rounding's
slack). A pool is never raised, and a service whose pool does not have to shrink keeps it.
"""

from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction
from typing import TYPE_CHECKING, Callable, Iterator

from planner.advice.options import NO_PRICE_CHANGE, Option, Outcome, budget_for, evaluate, outcome_of, with_database
from planner.budget import BudgetReport
from planner.budget.concurrency import above_concurrency, concurrency, held_to_concurrency
from planner.budget.demand import LAMBDA_ACCOUNT_CONCURRENCY, all_service_demands, resolve_database, service_environments
from planner.model import SERVERLESS_CLASS, Pool, Service, Topology

if TYPE_CHECKING:
    from planner.catalog import Catalog

MAX_ACU = 256
ACU_STEP = Fraction(1, 2)


def _fits(topology: Topology, catalog: "Catalog | None", database: str) -> bool:
    """Return whether every instance and pooler of ``database`` is ``ok`` in every scenario."""
    return outcome_of(budget_for(topology, catalog, database), database).status == "ok"


def _largest(low: int, high: int, ok: Callable[[int], bool]) -> int | None:
    """Return the largest value in ``[low, high]`` for which ``ok`` holds (``ok`` is monotone: true, then false)."""
    if high < low or not ok(low):
        return None
    while low < high:
        middle = (low + high + 1) // 2
        if ok(middle):
            low = middle
        else:
            high = middle - 1
    return low


def _on_database(topology: Topology, service: Service, database: str) -> bool:
    return any(resolve_database(topology, service, env) == database for env in service_environments(topology, service))


def pooled_services(topology: Topology, database: str) -> list[Service]:
    """Return the services of ``database`` whose demand a pool cap changes (long-running and Lambda)."""
    return [s for s in topology.services.values() if s.shape != "fixed" and _on_database(topology, s, database)]


def worst_pool(service: Service) -> int | None:
    """Return a process's worst pool today (``size + max_overflow``; threads without a pool); None if unbounded."""
    if service.pool is None:
        return service.threads
    return None if service.pool.unbounded else service.pool.worst


def capped(service: Service, cap: int) -> Service:
    """Return ``service`` with at most ``cap`` connections per process (steady pool kept below it)."""
    pool = service.pool or Pool("per-thread", service.threads, 0)
    steady = min(pool.size if pool.size is not None else cap, cap)
    driver = pool.driver if pool.driver not in ("unbounded", "per-thread") else "custom"
    minimum = None if pool.min_size is None else min(pool.min_size, cap)  # a growing pool keeps its floor, capped
    return replace(service, pool=Pool(driver, steady, cap - steady, minimum))


HELD_KIND = "pools-to-concurrency"


def _pool_text(pool: Pool) -> str:
    return f"size {pool.size} + max_overflow {pool.max_overflow}" if pool.max_overflow else f"size {pool.size}"


def held_demand(topology: Topology, database: str, names: set[str]) -> dict[str, int]:
    """Return what the services ``names`` open on ``database`` per scenario, over their environments."""
    totals = {"steady": 0, "peak": 0, "rollout": 0}
    for source in all_service_demands(topology, database):
        if source.service in names:
            for scenario in totals:
                totals[scenario] += source.demand[scenario]
    return totals


def concurrency_caps_option(topology: Topology, catalog: "Catalog | None", database: str, report: BudgetReport,
                            before: Outcome) -> Iterator[Option]:  # fmt: skip
    """Yield every pool of ``database`` above its concurrency held to it: no cost, and no request loses anything.

    ``recommend`` offers it before anything else; when it is not enough on its own, the other options
    are computed on top of it.
    """
    services = [s for s in pooled_services(topology, database) if above_concurrency(s)]
    if not services:
        return
    held = {s.name: held_to_concurrency(s) for s in services}
    changed = replace(topology, services={**topology.services, **held})
    was, now = held_demand(topology, database, set(held)), held_demand(changed, database, set(held))
    saved = {scenario: was[scenario] - now[scenario] for scenario in was}
    parts = []
    for service in services:
        old, new = service.pool, held[service.name].pool
        assert old is not None and new is not None
        unit = "Lambda execution environment" if service.shape == "lambda" else "process"
        parts.append(f"{service.name} {old.worst} → {new.worst} per {unit} ({_pool_text(old)} → {_pool_text(new)})")
    title = (f"hold each pool to the concurrency that can use it: {', '.join(parts)}; saves {saved['peak']:,} connections "
             f"at peak ({was['peak']:,} → {now['peak']:,}), at no cost")
    requires = [
        "requests lose nothing: a process never has more requests holding a connection than its threads; a background "
        "thread or a request that holds two connections waits for one instead (the pool's timeout then says so)",
    ]
    unwritten = [s.name for s in services if s.shape == "long-running" and f"services.{s.name}.threads" not in topology.lines
                 and f"services.{s.name}.threads" not in topology.provenance]
    if unwritten:
        requires.append(f"{', '.join(unwritten)}: threads is not written, so 1 is assumed; if a process serves more requests "
                        "at once, write threads first and run recommend again")
    if any(s.shape == "lambda" for s in services):
        requires.append("a Lambda execution environment serves one invocation at a time: one connection each")
    yield evaluate(
        HELD_KIND, database, title, before, changed, catalog, requires=tuple(requires), monthly_cost_delta=0.0,
        cost_note=NO_PRICE_CHANGE, effort=1,
        details={"pools": {n: s.pool.worst for n, s in held.items() if s.pool is not None},
                 "concurrency": {s.name: concurrency(s) for s in services}, "saved": saved},
    )


def pool_caps_option(topology: Topology, catalog: "Catalog | None", database: str, report: BudgetReport,
                     before: Outcome) -> Iterator[Option]:  # fmt: skip
    """Yield the pool caps that fit and keep the largest smallest fraction of today's pools (module docstring)."""
    services = pooled_services(topology, database)
    if not services:
        return
    bounded = [w for s in services if (w := worst_pool(s)) is not None]
    # an unbounded pool has no size to keep a fraction of: measure it against the largest bounded
    # pool of the database (else its threads), and say so
    reference = {s.name: (worst_pool(s) or max(bounded, default=s.threads)) for s in services}

    def caps_at(f: Fraction) -> dict[str, int]:
        return {n: max(1, min(w, math.floor(w * f))) for n, w in reference.items()}

    def with_caps(caps: dict[str, int]) -> Topology:
        changed = dict(topology.services)
        for name, cap in caps.items():
            if cap < reference[name] or worst_pool(topology.services[name]) is None:
                changed[name] = capped(topology.services[name], cap)
        return replace(topology, services=changed)

    # every fraction at which some cap changes, smallest first: the feasible ones are a prefix
    fractions = sorted({Fraction(k, w) for w in set(reference.values()) for k in range(1, w + 1)})
    best = _largest(0, len(fractions) - 1, lambda i: _fits(with_caps(caps_at(fractions[i])), catalog, database))
    if best is None:
        return  # not even one connection per process fits: the other levers or a bigger class
    caps = caps_at(fractions[best])
    # hand back the rounding's slack: each service, lowest fraction first, takes the largest cap that still fits
    for name in sorted(caps, key=lambda n: (caps[n] / reference[n], n)):
        if caps[name] >= reference[name]:
            continue
        trial = dict(caps)

        def fits_with(cap: int, name: str = name, trial: dict[str, int] = trial) -> bool:
            trial[name] = cap
            return _fits(with_caps(trial), catalog, database)

        caps[name] = _largest(caps[name], reference[name], fits_with) or caps[name]
    touched = {n: c for n, c in caps.items() if c < reference[n] or worst_pool(topology.services[n]) is None}
    if not touched:
        return  # nothing has to shrink: the gap is elsewhere (a pooler's client side)
    kept = min(Fraction(c, reference[n]) for n, c in touched.items())
    changes = ", ".join(f"{n} {worst_pool(topology.services[n]) or 'unbounded'} → {c}" for n, c in touched.items())
    untouched = [s.name for s in services if s.name not in touched]
    title = (f"cap the pools on {database} per process: {changes} (every service keeps at least {float(kept):.0%} of "
             f"its pool{'; ' + ', '.join(untouched) + ' unchanged' if untouched else ''})")  # fmt: skip
    requires = ["fewer concurrent queries per process: requests beyond the pool wait for a connection (set a pool timeout)"]
    narrow = [n for n, c in touched.items() if c < topology.services[n].threads]
    if narrow:
        requires.append(f"{', '.join(narrow)}: a pool below the threads of a process makes threads queue for connections; "
                        "lower the threads too")  # fmt: skip
    if any(worst_pool(topology.services[n]) is None for n in touched):
        requires.append("an unbounded pool gets a limit for the first time (e.g. SetMaxOpenConns in Go's database/sql)")
    yield evaluate(
        "shrink-pools", database, title, before, with_caps(caps), catalog, requires=tuple(requires),
        monthly_cost_delta=0.0, cost_note=NO_PRICE_CHANGE, effort=2, limits_applications=True,
        details={"pools": touched, "kept_fraction": float(kept), "objective": "largest smallest fraction of each pool kept"},
    )


def _knob(topology: Topology, catalog: "Catalog | None", database: str, before: Outcome, service: Service,
          field: str, low: int, high: int, kind: str, effort: int, title: str, trade_off: str) -> Iterator[Option]:  # fmt: skip
    """Yield the largest value in ``[low, high]`` of one service's ``field`` that fits, the rest unchanged.

    ``title`` and ``trade_off`` are templates: ``{best}`` is replaced by the value found.
    """

    def changed(value: int) -> Topology:
        return replace(topology, services={**topology.services, service.name: replace(service, **{field: value})})

    best = _largest(low, high, lambda value: _fits(changed(value), catalog, database))
    if best is None:
        return
    yield evaluate(
        kind, database, title.format(best=best), before, changed(best), catalog, monthly_cost_delta=0.0,
        cost_note=NO_PRICE_CHANGE, effort=effort, limits_applications=True, requires=(trade_off.format(best=best),),
        details={"service": service.name, field: best},
    )


def lambda_concurrency_option(topology: Topology, catalog: "Catalog | None", database: str, report: BudgetReport,
                              before: Outcome) -> Iterator[Option]:  # fmt: skip
    """Yield, for each Lambda function, the largest reserved concurrency that fits (the others unchanged)."""
    for service in pooled_services(topology, database):
        if service.shape != "lambda":
            continue
        today = service.lambda_concurrency or LAMBDA_ACCOUNT_CONCURRENCY
        was = f"{today}" if service.lambda_concurrency else f"unreserved (the account's {today})"
        yield from _knob(
            topology, catalog, database, before, service, "lambda_concurrency", 1,
            today - 1 if service.lambda_concurrency else today, "lambda-concurrency", 1,
            f"reserve {{best}} concurrent executions for {service.name} (now {was})",
            "invocations beyond {best} at once are throttled (TooManyRequestsException, HTTP 429): callers retry or queue",
        )


def autoscaling_max_option(topology: Topology, catalog: "Catalog | None", database: str, report: BudgetReport,
                           before: Outcome) -> Iterator[Option]:  # fmt: skip
    """Yield, for each autoscaled service, the largest replica maximum that fits (never below its minimum)."""
    for service in pooled_services(topology, database):
        if service.shape == "long-running" and service.replicas_max > service.replicas_min:
            yield from _knob(
                topology, catalog, database, before, service, "replicas_max", service.replicas_min, service.replicas_max - 1,
                "autoscaling-max", 1,
                f"lower {service.name}'s autoscaling maximum from {service.replicas_max} to {{best}} replicas",
                "scaling stops at {best} replicas: beyond that load, latency grows instead of capacity",
            )


def processes_option(topology: Topology, catalog: "Catalog | None", database: str, report: BudgetReport,
                     before: Outcome) -> Iterator[Option]:  # fmt: skip
    """Yield, for each service with several processes per replica, the most processes that fit."""
    for service in pooled_services(topology, database):
        if service.shape == "long-running" and service.processes > 1:
            yield from _knob(
                topology, catalog, database, before, service, "processes", 1, service.processes - 1, "processes", 2,
                f"run {{best}} processes per replica of {service.name} instead of {service.processes}",
                f"each replica serves with {{best}} workers instead of {service.processes}: less throughput per replica "
                "(more replicas would bring the connections back)",
            )


def serverless_option(topology: Topology, catalog: "Catalog | None", database: str, report: BudgetReport,
                      before: Outcome) -> Iterator[Option]:  # fmt: skip
    """Yield the smallest Aurora Serverless v2 capacity range that fits: a higher maximum, or a minimum above 0.5."""
    db = topology.databases[database]
    if db.instance_class != SERVERLESS_CLASS or db.max_acu is None:
        return
    low = db.min_acu or Fraction(0)
    steps = [db.max_acu + ACU_STEP * k for k in range(0, int((MAX_ACU - db.max_acu) / ACU_STEP) + 1)]
    # a minimum of 0 or 0.5 ACU caps the default at 2000: try lifting it to 1 ACU first, at today's maximum
    ranges = ([(Fraction(1), db.max_acu)] if low <= Fraction(1, 2) else []) + [(low, m) for m in steps[1:]]
    for min_acu, max_acu in ranges:
        changed = with_database(topology, database, min_acu=min_acu, max_acu=max(max_acu, min_acu))
        if _fits(changed, catalog, database):
            what = (f"raise {database}'s minimum capacity to {float(min_acu):g} ACU (a minimum of 0 or 0.5 ACU caps the "
                    "default max_connections at 2000)") if min_acu != low else \
                   f"raise {database}'s maximum capacity from {float(db.max_acu):g} to {float(max_acu):g} ACU"  # fmt: skip
            yield evaluate(
                "serverless-range", database, what, before, changed, catalog, effort=1,
                monthly_cost_delta=None, cost_note="ACU-hours are billed as used: not in the price list, so no figure here",
                requires=("max_connections is static on Serverless v2: it follows the new range after a reboot",
                          "a higher minimum is billed while idle; a higher maximum only when used"),
                details={"min_acu": float(min_acu), "max_acu": float(max(max_acu, min_acu))},
            )
            return


__all__ = ["HELD_KIND", "autoscaling_max_option", "capped", "concurrency_caps_option", "held_demand", "lambda_concurrency_option",
           "pool_caps_option", "pooled_services", "processes_option", "serverless_option", "worst_pool"]
