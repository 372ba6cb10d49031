"""Demand (spec §2): the connections each service opens in each environment, per scenario.

Every number is an exact integer; fractions (scale, surge) are :class:`Fraction` so that ``ceil``
never suffers from binary rounding: ``ceil(10 × 0.2)`` is 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Mapping

from planner.model import SCENARIOS, Service, Topology
from planner.topology.services import RANGE_DRIVERS

# What AWS assumes for a Lambda function without reserved concurrency: the account's
# regional concurrency limit, 1000 by default.
LAMBDA_ACCOUNT_CONCURRENCY = 1000


@dataclass(frozen=True)
class SourceDemand:
    """Connections one source (a service in one environment, or a pooler) opens per scenario."""

    source: str  # "web@prod", or the pooler's name for its server pool
    kind: str  # "service" | "pooler"
    database: str
    endpoint: str
    demand: Mapping[str, int]  # scenario -> connections (0 where unbounded)
    working: Mapping[str, str]  # scenario -> the multiplication written out
    unbounded: bool = False
    service: str | None = None
    environment: str | None = None
    via: str | None = None  # the pooler a service connects through; None = direct
    line: int | None = None
    scenarios: tuple[str, ...] | None = None  # the scenarios its demand counts in (None: every one)

    def counts_in(self, scenario: str) -> bool:
        """Return whether this source's demand counts in ``scenario``."""
        return self.scenarios is None or scenario in self.scenarios

    def unbounded_in(self, scenario: str) -> bool:
        """Return whether the source is unbounded in ``scenario`` (an unbounded pool, where it counts)."""
        return self.unbounded and self.counts_in(scenario)

    def value(self, scenario: str) -> int | None:
        """Return the demand in ``scenario``, or None where it is unbounded."""
        return None if self.unbounded_in(scenario) else self.demand[scenario]


def ceil_scaled(count: int, scale: Fraction) -> int:
    """Return ``max(1, ceil(count × scale))``: a scaled replica or concurrency count."""
    # integer ceiling division: exact like Fraction arithmetic, without building Fractions
    return max(1, -(-count * scale.numerator // scale.denominator))


def service_demand(service: Service, environment: str, scale: Fraction, database: str) -> SourceDemand:
    """Return the demand of ``service`` in one environment, per scenario (spec §2)."""
    source = f"{service.name}@{environment}"
    unbounded = service.pool is not None and service.pool.unbounded
    if service.shape == "fixed":
        n = service.connections
        demand = {s: n for s in SCENARIOS}
        working = {s: f"connections {n} = {n}" for s in SCENARIOS}
    elif service.shape == "lambda":
        demand, working = _lambda_demand(service, scale)
    else:
        demand, working = _long_running_demand(service, scale)
    if unbounded:
        demand = {s: 0 for s in SCENARIOS}
        working = {s: "unbounded pool: no upper limit" for s in SCENARIOS}
    if service.scenarios is not None:
        # a one-shot job or a cron job: nothing in the scenarios it does not run in
        only = counted_in(service.scenarios)
        for scenario in SCENARIOS:
            if scenario not in service.scenarios:
                demand[scenario] = 0
                working[scenario] = f"not counted in {scenario}: counts in {only} (scenarios: [{', '.join(service.scenarios)}]) = 0"
    return SourceDemand(
        source=source,
        kind="service",
        database=database,
        endpoint=service.endpoint,
        demand=demand,
        working=working,
        unbounded=unbounded,
        service=service.name,
        environment=environment,
        line=service.line,
        scenarios=service.scenarios,
    )


def counted_in(scenarios: "tuple[str, ...] | list[str]") -> str:
    """Return where a limited source counts, as a sentence reads it: "rollout only", "peak and rollout only"."""
    names = [s for s in SCENARIOS if s in scenarios]
    if len(names) == len(SCENARIOS):
        return "every scenario"
    return (" and ".join(names) if len(names) < 3 else ", ".join(names)) + " only"


def _pool_factors(service: Service) -> tuple[int, int, str, str]:
    """Return (per-process steady, per-process worst) and how each is written out."""
    pool = service.pool
    if pool is None:  # one connection per thread
        return service.threads, service.threads, f"threads {service.threads}", f"threads {service.threads}"
    steady = pool.steady
    worst = pool.worst
    steady_text = f"{pool.driver} pool {steady}"
    if pool.min_size is not None and pool.driver in RANGE_DRIVERS:
        # Say why steady is max_size, not min_size: what a burst opened stays open until it idles out.
        hold = RANGE_DRIVERS[pool.driver]
        steady_text = (f"{pool.driver} pool max_size {steady} (not min_size {pool.min_size}: what a burst opens "
                       f"stays open until {hold.setting} {hold.seconds} s)")
    worst_text = f"{pool.driver} pool ({pool.steady} + overflow {pool.max_overflow})" if pool.max_overflow else f"{pool.driver} pool {worst}"
    return steady, worst, steady_text, worst_text


def _lambda_demand(service: Service, scale: Fraction) -> tuple[dict[str, int], dict[str, str]]:
    concurrency = service.lambda_concurrency or LAMBDA_ACCOUNT_CONCURRENCY
    c = ceil_scaled(concurrency, scale)
    _, worst, _, worst_text = _pool_factors(service)
    label = "concurrency" if service.lambda_concurrency else "account concurrency (assumed)"
    scaled = f" (= max(1, ceil({concurrency} × {_fmt(scale)})))" if scale != 1 else ""
    text = f"{label} {c}{scaled} × {worst_text} = {c * worst}"
    return {s: c * worst for s in SCENARIOS}, {s: text for s in SCENARIOS}


def _long_running_demand(service: Service, scale: Fraction) -> tuple[dict[str, int], dict[str, str]]:
    r_min = ceil_scaled(service.replicas_min, scale)
    r_max = ceil_scaled(service.replicas_max, scale)
    if service.surge_count is not None:
        surge = service.surge_count
    else:
        percent = service.surge_percent or Fraction(0)
        surge = -(-r_max * percent.numerator // percent.denominator)  # exact ceil(R_max × p)
    steady_pp, worst_pp, steady_text, worst_text = _pool_factors(service)
    p = service.processes
    demand = {
        "steady": r_min * p * steady_pp,
        "peak": r_max * p * worst_pp,
        "rollout": (r_max + surge) * p * worst_pp,
    }
    working = {
        "steady": f"replicas {r_min} × processes {p} × {steady_text} = {demand['steady']}",
        "peak": f"replicas {r_max} × processes {p} × {worst_text} = {demand['peak']}",
        "rollout": f"(replicas {r_max} + surge {surge}) × processes {p} × {worst_text} = {demand['rollout']}",
    }
    return demand, working


def _fmt(value: Fraction) -> str:
    """Write a fraction as a short decimal (0.5, 0.25) for explanations."""
    return f"{float(value):g}"


def resolve_database(topology: Topology, service: Service, environment: str) -> str | None:
    """Return the database ``service`` uses in ``environment`` (spec §2), or None if none resolves."""
    if service.database:
        return service.database
    env = topology.environments.get(environment)
    if env is not None and env.database:
        return env.database
    if len(topology.databases) == 1:
        return next(iter(topology.databases))
    return None


def service_environments(topology: Topology, service: Service) -> list[str]:
    """Return the environments ``service`` runs in, in the topology's order."""
    if service.environments is None:
        return list(topology.environments)
    return [e for e in topology.environments if e in service.environments]


# Recommend, plan and the report re-run the budget on thousands of topologies that differ from the
# one read in a single service or database setting; the other services are the same immutable
# objects. Their demands are remembered by identity (hashing a Service costs a fifth of computing
# its demand), and only while the same environments mapping and the same database names come with
# them (a demand depends on the names only: a resized database changes no service's demand). Each
# entry holds its Service, so an id is never reused while its entry lives.
_Entry = tuple[Service, object, object, tuple[SourceDemand, ...], dict[str, tuple[SourceDemand, ...]]]
_MEMO: dict[int, _Entry] = {}
_MEMO_LIMIT = 50_000
_NAMES: dict[tuple[str, ...], tuple[str, ...]] = {}  # one tuple object per set of database names: compared by identity


def _database_names(topology: Topology) -> tuple[str, ...]:
    names = tuple(topology.databases)
    return _NAMES.setdefault(names, names)


def _remember(topology: Topology, service: Service, names: tuple[str, ...]) -> _Entry:
    """Compute and remember ``service``'s demand in each environment it runs in: all, and per database."""
    found: list[SourceDemand] = []
    per_database: dict[str, list[SourceDemand]] = {}
    for env_name in service_environments(topology, service):
        database = resolve_database(topology, service, env_name)
        if database is None:  # the loader reports it
            continue
        demand = service_demand(service, env_name, topology.environments[env_name].scale, database)
        found.append(demand)
        per_database.setdefault(database, []).append(demand)
    if len(_MEMO) >= _MEMO_LIMIT:
        _MEMO.clear()
        _NAMES.clear()
    entry = (service, topology.environments, names, tuple(found), {k: tuple(v) for k, v in per_database.items()})
    _MEMO[id(service)] = entry
    return entry


def all_service_demands(topology: Topology, only: str | None = None) -> list[SourceDemand]:
    """Return the demand of every service in every environment it runs in (on database ``only``)."""
    environments, names = topology.environments, _database_names(topology)
    demands: list[SourceDemand] = []
    for service in topology.services.values():
        # the lookup inline: recommend runs this loop a million times on a large topology
        entry = _MEMO.get(id(service))
        if entry is None or entry[0] is not service or entry[1] is not environments or entry[2] is not names:
            entry = _remember(topology, service, names)
        demands.extend(entry[3] if only is None else entry[4].get(only, ()))
    return demands


__all__ = [
    "LAMBDA_ACCOUNT_CONCURRENCY",
    "SourceDemand",
    "all_service_demands",
    "ceil_scaled",
    "counted_in",
    "resolve_database",
    "service_demand",
    "service_environments",
]
