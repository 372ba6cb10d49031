"""Warnings for the traps that put teams in the incident write-ups (spec §2–3, issue 4).

Each lint reads a computed :class:`BudgetReport` and returns :class:`Finding` objects: what the
trap is, the number that makes it real, and what to change. They never change a status; the
verdict stays the arithmetic's.
"""

from __future__ import annotations

import re
from typing import Callable, Iterable, Iterator

from planner.budget.concurrency import above_concurrency, concurrency, held_to_concurrency
from planner.budget.demand import SourceDemand, resolve_database, service_demand, service_environments
from planner.budget.instances import BudgetReport, Finding, InstanceBudget
from planner.model import DEFAULT_MAX_CONNECTIONS_FORMULA, DEPLOYMENT_LABELS, SOURCE_ESTIMATED, Service, Topology
from planner.topology.services import POOL_DRIVERS, RANGE_DRIVERS

Lint = Callable[[BudgetReport], Iterator[Finding]]
# Environment names that mean "this is production" for the lints that care.
PRODUCTION_NAMES = ("prod", "production", "live", "prd")
# An RDS Proxy allowed this share of max_connections or more leaves direct clients too little.
PROXY_NEAR_FULL_PERCENT = 90


def _finding(topology: Topology, code: str, key_path: str, message: str, *, subject: str | None = None,
             cause: str | None = None, detail: str | None = None) -> Finding:
    """Return a finding at ``key_path``; ``subject``/``cause``/``detail`` let many print as one line."""
    return Finding(code, message, key_path, topology.line_of(key_path), subject, cause, detail)


def _writers(report: BudgetReport) -> list[InstanceBudget]:
    return [i for i in report.instances if i.role == "writer"]


def lambda_without_reserved_concurrency(report: BudgetReport) -> Iterator[Finding]:
    """Lambda with no reserved concurrency can scale to the whole account's limit."""
    for service in report.topology.services.values():
        if service.shape == "lambda" and service.lambda_concurrency is None:
            yield _finding(
                report.topology, "lambda-unreserved", f"services.{service.name}.lambda",
                "no reserved concurrency: assuming the account default of 1000 concurrent executions, "
                "each with its own connections; set lambda.concurrency (reserved concurrency) or put it behind RDS Proxy",
                subject=service.name,
            )


def unbounded_pools(report: BudgetReport) -> Iterator[Finding]:
    """An unbounded pool has no upper limit: no instance is large enough."""
    for service in report.topology.services.values():
        if service.pool is not None and service.pool.unbounded:
            yield _finding(
                report.topology, "unbounded-pool", f"services.{service.name}.pool",
                "unbounded pool: demand has no upper limit (e.g. Go database/sql without SetMaxOpenConns, "
                "SQLAlchemy max_overflow -1); set a pool size",
                subject=service.name,
            )


def proxy_sharing(report: BudgetReport) -> Iterator[Finding]:
    """RDS Proxy at 100 % leaves nothing for direct clients; several proxies can sum past 100 %."""
    topology = report.topology
    by_db: dict[str, list[str]] = {}
    for pooler in topology.poolers.values():
        if pooler.kind == "rds-proxy":
            by_db.setdefault(pooler.database, []).append(pooler.name)
    for database, names in by_db.items():
        percents = [topology.poolers[n].max_connections_percent for n in names]
        if len(names) > 1 and sum(percents) > 100:
            yield _finding(
                topology, "proxy-over-100", f"poolers.{names[0]}.max_connections_percent",
                f"RDS Proxies {', '.join(names)} on {database} may take {sum(percents)} % of max_connections together; "
                "keep their max_connections_percent summing to at most 100 minus what direct clients need",
            )
        writer = next(i for i in _writers(report) if i.database == database)
        direct = [s.source for s in writer.demand_by_source if s.kind == "service"]
        others = [s.source for s in writer.demand_by_source if s.kind == "pooler" and s.source not in names]
        for name, percent in zip(names, percents):
            if percent >= PROXY_NEAR_FULL_PERCENT and (direct or others):
                clients = ", ".join((direct + others)[:5])
                yield _finding(
                    topology, "proxy-full-with-direct", f"poolers.{name}.max_connections_percent",
                    f"RDS Proxy may take {percent} % of max_connections while {clients} also connect directly to {database}; "
                    "lower max_connections_percent to leave room for them (AWS advises this)",
                )


# What each replica of a pooler kind keeps of its own, and what to size per replica (kind -> code, cause).
REPLICATED_POOLERS: dict[str, tuple[str, str]] = {
    "pgbouncer": ("pgbouncer-replicas", "each PgBouncer replica keeps its own server pools; size default_pool_size per "
                  "replica, or set max_db_connections"),
    "pgpool": ("pgpool-replicas", "each Pgpool-II replica runs its own num_init_children children, each caching up to "
               "max_pool backend connections; size num_init_children and max_pool per replica"),
}


def pooler_replicas(report: BudgetReport) -> Iterator[Finding]:
    """Every PgBouncer replica keeps its own server pools, every Pgpool-II replica its own children:
    the fleet multiplies them."""
    for pooler in report.poolers:
        spec = report.topology.poolers[pooler.pooler]
        if spec.kind not in REPLICATED_POOLERS or spec.replicas <= 1:
            continue
        code, cause = REPLICATED_POOLERS[spec.kind]
        detail = f"{pooler.server_working} server connections"
        yield _finding(report.topology, code, f"poolers.{pooler.pooler}.replicas", f"{detail}: {cause}",
                       subject=pooler.pooler, detail=detail, cause=cause)


def session_mode(report: BudgetReport) -> Iterator[Finding]:
    """Session pooling holds a server connection per client: it caps, it does not multiplex."""
    for pooler in report.topology.poolers.values():
        if pooler.kind == "pgbouncer" and pooler.pool_mode == "session":
            yield _finding(
                report.topology, "session-mode", f"poolers.{pooler.name}.pool_mode",
                "session mode gives each client a server connection for its whole session: clients beyond the "
                "server pool wait; use transaction mode if the clients allow it",
                subject=pooler.name,
            )


def shared_environments(report: BudgetReport) -> Iterator[Finding]:
    """Several environments on one instance: a staging load test can take prod's slots."""
    for writer in _writers(report):
        envs: list[str] = []
        for source in _all_sources(report, writer):
            if source.environment and source.environment not in envs:
                envs.append(source.environment)
        if len(envs) > 1:
            yield _finding(
                report.topology, "shared-instance", f"databases.{writer.database}",
                f"environments {', '.join(envs)} share one instance: a spike in one takes the others' connections; "
                "give each environment its own database, or its own role with a CONNECTION LIMIT",
            )


def _all_sources(report: BudgetReport, instance: InstanceBudget) -> Iterator[SourceDemand]:
    """Yield the services on ``instance``, looking through its poolers to their clients."""
    for source in instance.demand_by_source:
        if source.kind == "service":
            yield source
    for pooler in report.poolers:
        if pooler.database == instance.database:
            yield from pooler.clients


def production_label(environments: Iterable[str | None]) -> str | None:
    """Return what makes a database's clients production, or None when nothing does.

    An environment named like production (PRODUCTION_NAMES), else a topology that declares no
    environments (its only one is "default"): a single-environment file describes what runs.
    ``burstable-production`` and ``plan``'s choice of classes read the same answer.
    """
    envs = {e for e in environments}
    prod = sorted(e for e in envs if e and e.lower() in PRODUCTION_NAMES)
    if prod:
        return prod[0]
    return "production (no environments declared)" if envs == {"default"} else None


def burstable_in_production(report: BudgetReport) -> Iterator[Finding]:
    """T classes run out of CPU credits under sustained load: a trap for production."""
    topology = report.topology
    for writer in _writers(report):
        cls = writer.instance_class or ""
        if not re.match(r"db\.t\d", cls):
            continue
        label = production_label(s.environment for s in _all_sources(report, writer))
        if label is not None:
            yield _finding(
                topology, "burstable-production", f"databases.{writer.database}.instance_class",
                f"{cls} is a burstable class serving {label}: it throttles when CPU credits run out; "
                "prefer an m- or r-class for production",
            )


def parameter_overrides(report: BudgetReport) -> Iterator[Finding]:
    """A max_connections far above the default trades connections for memory per backend."""
    for writer in _writers(report):
        mc = writer.max_connections
        if mc.default_value is None or mc.formula == DEFAULT_MAX_CONNECTIONS_FORMULA:
            continue
        key = f"databases.{writer.database}.parameters.max_connections"
        if mc.value > 2 * mc.default_value:
            yield _finding(
                report.topology, "max-connections-override", key,
                f"max_connections {mc.value} is over twice the default {mc.default_value} for {writer.instance_class}: "
                "each backend needs memory (work_mem, catalog caches); watch FreeableMemory or size up",
            )
        if "31457280" in mc.formula:
            yield _finding(
                report.topology, "old-formula", key,
                f"uses the old default formula {mc.formula} ({mc.value} connections); current parameter groups use "
                f"LEAST({{DBInstanceClassMemory/9531392}},5000) ({mc.default_value} on {writer.instance_class})",
            )


def estimated_numbers(report: BudgetReport) -> Iterator[Finding]:
    """Say where a budget rests on an estimated DBInstanceClassMemory."""
    seen: set[tuple[str, str | None]] = set()
    for instance in report.instances:
        key = (instance.database, instance.instance_class)
        if instance.max_connections.source != SOURCE_ESTIMATED or key in seen:
            continue
        seen.add(key)
        memory = instance.max_connections.memory
        rule = f" ({memory.note})" if memory and memory.note else ""
        estimate = f"max_connections {instance.max_connections.value} on {instance.instance_class} is an {instance.max_connections.estimate_text()}"
        yield _finding(
            report.topology, "estimated", f"databases.{instance.database}.instance_class",
            f"{estimate}: DBInstanceClassMemory estimated{rule}; run SHOW max_connections on the instance and pass it with --observations",
            subject=instance.database, detail=f"{estimate}{rule}",
            cause="DBInstanceClassMemory estimated; run SHOW max_connections on each instance and pass it with --observations",
        )


def classes_not_offered(report: BudgetReport) -> Iterator[Finding]:
    """A class AWS does not offer for the engine version and deployment: nothing new can be built on it."""
    seen: set[tuple[str, str | None]] = set()
    for instance in report.instances:
        key = (instance.database, instance.instance_class)
        mc = instance.max_connections
        if mc.deployable is not False or key in seen:
            continue
        seen.add(key)
        db = report.topology.databases[instance.database]
        where = f"{DEPLOYMENT_LABELS[db.deployment_name]} {db.engine} {db.engine_version}"
        offered = ", ".join(DEPLOYMENT_LABELS[d] for d in mc.offered_as)
        elsewhere = f" (it is offered as: {offered})" if offered else ""
        yield _finding(
            report.topology, "not-orderable", f"databases.{instance.database}.instance_class",
            f"{instance.instance_class} cannot be ordered as {where}{elsewhere}: a running instance keeps working, but a "
            "replacement, a restore or a new environment cannot use it; `planner plan` lists the classes that can",
        )


def surge_as_count(report: BudgetReport) -> Iterator[Finding]:
    """An integer max_surge as large as the fleet: most likely a percentage written without its %."""
    for service in report.topology.services.values():
        count, fleet = service.surge_count, service.replicas_max
        # one surge replica for one replica is the usual rolling update, not a slip
        if service.shape != "long-running" or count is None or count <= 1 or count < fleet:
            continue
        as_percent = -(-fleet * count // 100)  # ceil(R_max × count %)
        yield _finding(
            report.topology, "surge-count", f"services.{service.name}.max_surge",
            f"max_surge {count} is a number of replicas, not a percentage: a rollout may run {fleet} + {count} = "
            f"{fleet + count} replicas at once; did you mean \"{count}%\"? (ceil({fleet} × {count}%) = {as_percent} "
            f"extra replica{'s' if as_percent != 1 else ''}); write max_surge: \"{count}%\", or keep {count} if the "
            "deploy really starts that many",
            subject=service.name,
            detail=f"max_surge {count} on {fleet} replicas: {fleet + count} at once, \"{count}%\" would add {as_percent}",
            cause="an integer max_surge is a number of replicas, not a percentage; write it as a percentage "
            "(max_surge: \"25%\"), or keep the number if the deploy really starts that many",
        )


# Drivers whose pool is one per process, shared by the process's threads: a thread beyond the pool
# waits for a connection, and the library's own error says it (driver -> the error, its timeout).
# node-pg, asyncpg, pgxpool and database/sql serve an event loop or goroutines, not threads: waiting
# in the pool is how they are meant to work, so they are left out; django and per-thread open one
# connection per thread by definition.
SHARED_POOL_ERRORS: dict[str, str] = {
    "rails": "ActiveRecord::ConnectionTimeoutError after checkout_timeout, 5 s",
    "sqlalchemy": "sqlalchemy.exc.TimeoutError: QueuePool limit reached, after pool_timeout, 30 s",
    "psycopg-pool": "psycopg_pool.PoolTimeout after timeout, 30 s",
    "django-pool": "psycopg_pool.PoolTimeout after timeout, 30 s",
    "hikari": "SQLTransientConnectionException after connectionTimeout, 30 s",
    "custom": "they wait for one, or time out",
}


def pool_below_threads(report: BudgetReport) -> Iterator[Finding]:
    """A per-process pool smaller than the threads that share it: threads queue for connections."""
    for service in report.topology.services.values():
        pool = service.pool
        if (service.shape != "long-running" or pool is None or pool.unbounded
                or pool.driver not in SHARED_POOL_ERRORS or pool.worst >= service.threads):
            continue
        waiting = service.threads - pool.worst
        yield _finding(
            report.topology, "pool-below-threads", f"services.{service.name}.pool",
            f"{pool.driver} pool of {pool.worst} per process is shared by {service.threads} threads: under load "
            f"{waiting} thread{'s' if waiting != 1 else ''} per process wait for a connection "
            f"({SHARED_POOL_ERRORS[pool.driver]}); the budget counts the {pool.worst} the pool opens. Raise the pool to "
            f"{service.threads} (Rails: pool: <%= ENV[\"RAILS_MAX_THREADS\"] %>) if the database holds it, or run fewer threads",
            subject=service.name,
            detail=f"{pool.driver} pool of {pool.worst} shared by {service.threads} threads, {waiting} wait "
            f"({SHARED_POOL_ERRORS[pool.driver]})",
            cause="threads beyond a per-process pool wait for a connection, and the budget counts what the pool opens; "
            "raise each pool to its threads (Rails: pool: <%= ENV[\"RAILS_MAX_THREADS\"] %>) if the database holds "
            "them, or run fewer threads",
        )


def _peak_scenario(service: Service) -> str:
    """Return the scenario to quote a service's largest pool demand in: peak, else where it counts."""
    return next(s for s in ("peak", "rollout", "steady") if service.counts_in(s))


def _service_total(topology: Topology, service: Service, scenario: str) -> int:
    """Return what ``service`` opens in ``scenario`` over every environment it runs in (the demand arithmetic)."""
    total = 0
    for env in service_environments(topology, service):
        database = resolve_database(topology, service, env)
        if database is not None:
            total += service_demand(service, env, topology.environments[env].scale, database).demand[scenario]
    return total


def pool_above_concurrency(report: BudgetReport) -> Iterator[Finding]:
    """A pool larger than the concurrency that can use it: counted at its size, and held to it for free.

    For thread-per-request drivers only (:mod:`planner.budget.concurrency`): a process serves at most
    ``threads`` requests at once, each holding one connection.
    """
    topology = report.topology
    totals: dict[str, list[SourceDemand]] = {}
    for demand in report.demands:
        totals.setdefault(demand.service or "", []).append(demand)
    for service in topology.services.values():
        if not above_concurrency(service):
            continue
        pool, held = service.pool, concurrency(service)
        assert pool is not None and held is not None
        capped = held_to_concurrency(service)
        assert capped.pool is not None
        scenario = _peak_scenario(service)
        now = sum(d.demand[scenario] for d in totals.get(service.name, ()))
        then = _service_total(topology, capped, scenario)
        parts = f" (size {pool.size} + max_overflow {pool.max_overflow})" if pool.max_overflow else ""
        if service.shape == "lambda":
            users, unit = f"the {held} request a Lambda execution environment serves at once", "execution environment"
        else:
            key = f"services.{service.name}.threads"
            sourced = topology.provenance.get(key)
            written = key in topology.lines or (sourced is not None and not sourced.assumed)
            users = f"the {held} thread{'s' if held != 1 else ''} that can use it" + ("" if written else " (threads not written: 1 by default)")
            unit = "process"
        yield _finding(
            topology, "pool-above-concurrency", f"services.{service.name}.pool",
            f"{pool.driver} pool of {pool.worst} per {unit}{parts} is above {users}: counted at {pool.worst}, what a leak or "
            f"a background thread can reach; held to its concurrency (size {capped.pool.size} + max_overflow "
            f"{capped.pool.max_overflow}), {service.name} could open {then:,} {'at' if scenario == 'peak' else 'in'} {scenario}, not {now:,} "
            "(planner recommend offers it at no cost)",
            subject=service.name,
            detail=f"{pool.driver} pool of {pool.worst} per {unit}, concurrency {held}: {now:,} → {then:,} "
            f"{'at' if scenario == 'peak' else 'in'} {scenario}",
            cause="each pool is above the concurrency that can use it and is counted at its size (what a leak or a "
            "background thread can reach); held to its concurrency it opens less, at no cost, which planner recommend offers",
        )


DJANGO_POOL_SIZE = int(str(POOL_DRIVERS["django-pool"][0]))  # psycopg_pool's default min_size, Django's pool


def django_pool_unknown(report: BudgetReport) -> Iterator[Finding]:
    """A `django` pool the preset cannot vouch for: Django's own pool option opens another number.

    The ``django`` preset is Django without ``OPTIONS["pool"]``: one persistent connection per thread,
    and no pool size. Whether a settings file turns the pool on (Django 5.1+) is not in the topology;
    with it, each process opens a psycopg_pool of 4 whatever its threads. Said where that would be
    more than the preset counts, or where a size was given that Django has no setting for.
    """
    for service in report.topology.services.values():
        pool = service.pool
        if pool is None or pool.driver != "django":
            continue
        key = f"services.{service.name}.pool"
        per_process = service.threads if service.shape == "long-running" else 1
        if pool.size != per_process or pool.max_overflow:
            yield _finding(
                report.topology, "django-pool-unknown", key,
                f"django pool of {pool.worst} per process, but Django without OPTIONS pool opens one connection per "
                f"thread ({per_process}) and has no pool size: if {pool.worst} is OPTIONS pool max_size (Django 5.1+), "
                f"write pool: {{driver: django-pool, max_size: {pool.worst}}}; otherwise remove the size",
                subject=service.name, detail=f"django pool of {pool.worst}, {per_process} thread{'s' if per_process != 1 else ''}",
                cause="Django without OPTIONS pool opens one connection per thread and has no pool size: if the size is "
                "OPTIONS pool max_size (Django 5.1+), write pool: {driver: django-pool, max_size: N}; otherwise remove it",
            )
        elif per_process < DJANGO_POOL_SIZE:
            processes = service.replicas_max * service.processes if service.shape == "long-running" else None
            scale = (f": {processes} processes at peak would hold {processes * DJANGO_POOL_SIZE}, not {processes * per_process}"
                     if processes else "")
            yield _finding(
                report.topology, "django-pool-unknown", key,
                f"the django preset counts one connection per thread ({per_process} per process); with OPTIONS "
                f"{{\"pool\": True}} (Django 5.1+) each process opens a psycopg_pool of {DJANGO_POOL_SIZE} whatever its "
                f"threads{scale}; if your settings turn the pool on, write pool: django-pool; if not, nothing to change",
                subject=service.name, detail=f"{per_process} per process" + scale.replace(": ", "; ", 1),
                cause=f"the django preset counts one connection per thread; with OPTIONS {{\"pool\": True}} (Django 5.1+) "
                f"each process opens a psycopg_pool of {DJANGO_POOL_SIZE} whatever its threads; if your settings turn the "
                "pool on, write pool: django-pool; if not, nothing to change",
            )


def pool_held_at_max(report: BudgetReport) -> Iterator[Finding]:
    """min_size < max_size pools keep what a burst opened: steady is max_size, not min_size."""
    for service in report.topology.services.values():
        pool = service.pool
        if pool is None or pool.min_size is None or pool.driver not in RANGE_DRIVERS:
            continue
        hold = RANGE_DRIVERS[pool.driver]
        yield _finding(
            report.topology, "pool-held-at-max", f"services.{service.name}.pool",
            f"{pool.driver} min_size {pool.min_size} < max_size {pool.size}: after a burst {hold.library} keeps up to "
            f"{pool.size} connections per process open until they idle {hold.setting} ({hold.seconds} s), so steady "
            f"counts {pool.size}, not {pool.min_size}; to hold fewer at rest, lower max_size (or {hold.setting})",
            subject=service.name, detail=f"{pool.driver} min_size {pool.min_size} < max_size {pool.size}",
            cause=f"after a burst {hold.library} keeps up to max_size connections per process open until they idle "
            f"{hold.setting} ({hold.seconds} s), so steady counts max_size, not min_size; to hold fewer at rest, lower "
            f"max_size (or {hold.setting})",
        )


def deployment_warnings(report: BudgetReport) -> Iterator[Finding]:
    """What is wrong in the deployment's files but did not stop planner reading them (spec §6.2:
    an autoscaler whose target is in none of the manifests)."""
    for warning in report.topology.source_warnings:
        yield _finding(report.topology, "deployment", "sources", warning)


LINTS: tuple[Lint, ...] = (
    estimated_numbers,
    classes_not_offered,
    lambda_without_reserved_concurrency,
    unbounded_pools,
    proxy_sharing,
    pooler_replicas,
    session_mode,
    shared_environments,
    burstable_in_production,
    parameter_overrides,
    surge_as_count,
    pool_below_threads,
    pool_above_concurrency,
    django_pool_unknown,
    pool_held_at_max,
    deployment_warnings,
)


def find_traps(report: BudgetReport) -> list[Finding]:
    """Return every warning for ``report``, in the order of :data:`LINTS`."""
    return [finding for lint in LINTS for finding in lint(report)]
