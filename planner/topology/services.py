"""Validate the ``services`` section of a topology: shapes, replicas, surge, connection pools.

:class:`ServiceRules` adds the service checks to the database ones: a service is long-running
(replicas x processes x threads, each with a pool), a Lambda function, or a fixed number of
connections. :data:`POOL_DRIVERS` gives the pool each known driver opens per process,
:class:`~planner.model.Pool` with a ``min_size``: a pool that grows from ``min_size`` to ``max_size`` and holds what it opened
(psycopg_pool, asyncpg, Django's pool), and :func:`resolve_database` which database a service uses
in an environment (poolers need it too).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from planner.model import SCENARIOS, Database, Environment, Pool, Service
from planner.topology.databases import DatabaseRules
from planner.topology.parsed import describe, join_path
from planner.topology.values import is_int, parse_percent, suggest

THREADS = "threads"
REQUIRED = "required"  # the library's default is unknowable from a topology: the size must be written
# driver -> (size, max_overflow) per process (spec §1, and the presets marked extension in
# docs/topology.md); size "threads" = the service's threads, None = unbounded.
POOL_DRIVERS: dict[str, tuple[int | None | str, int]] = {
    "sqlalchemy": (5, 10),
    # SQLAlchemy's async engine (AsyncAdaptedQueuePool, same defaults) under an event loop: its tasks share
    # the pool, so a pool above the process's threads is its design, not an excess (no pool-above-concurrency)
    "sqlalchemy-async": (5, 10),
    "django": (THREADS, 0),
    # Django 5.1+ with OPTIONS {"pool": True}: a psycopg_pool ConnectionPool() with its defaults
    # (min_size 4, max_size = min_size) per process and alias, shared by the process's threads.
    "django-pool": (4, 0),
    "rails": (5, 0),
    "node-pg": (10, 0),
    "asyncpg": (10, 0),
    "psycopg-pool": (4, 0),
    "hikari": (10, 0),
    # Go pgx: pool_max_conns defaults to max(4, runtime.NumCPU()) (pgxpool.ParseConfig), and the
    # topology does not know the CPUs of a replica.
    "pgxpool": (REQUIRED, 0),
    # Go database/sql: no limit at all until SetMaxOpenConns(N); without it, write `unbounded`.
    "database-sql": (REQUIRED, 0),
    "per-thread": (THREADS, 0),
    "unbounded": (None, 0),
}
# What to write when a preset needs its size: (what the library does by default, how to fix it).
REQUIRED_SIZE: dict[str, tuple[str, str]] = {
    "pgxpool": (
        "pgxpool's pool_max_conns defaults to max(4, the host's CPU count), which the topology does not know",
        "write pool: {driver: pgxpool, size: N} with N the pool_max_conns you set, "
        "or the CPU count of a replica if that is more than 4",
    ),
    "database-sql": (
        "Go's database/sql has no limit until SetMaxOpenConns(N) is called",
        "write pool: {driver: database-sql, size: N} with N from SetMaxOpenConns(N), or pool: unbounded if it is never called",
    ),
}


@dataclass(frozen=True)
class IdleHold:
    """How a min/max pool library keeps connections it opened: its defaults and its idle timeout."""

    library: str  # as users know it: "psycopg_pool"
    min_size: int  # the library's default min_size
    max_size: int | None  # the library's default max_size (None: equal to min_size)
    setting: str  # the idle-timeout setting that closes what a burst opened
    seconds: int  # its default


# Pools that grow from min_size to max_size under load and close the extra connections only after
# they idled for the timeout (psycopg_pool: max_idle 600 s; asyncpg: max_inactive_connection_lifetime
# 300 s): after any burst they hold max_size for 5-10 minutes, so their steady demand is max_size.
RANGE_DRIVERS: dict[str, IdleHold] = {
    "psycopg-pool": IdleHold("psycopg_pool", 4, None, "max_idle", 600),
    "django-pool": IdleHold("Django's psycopg_pool", 4, None, "max_idle", 600),
    "asyncpg": IdleHold("asyncpg", 10, 10, "max_inactive_connection_lifetime", 300),
}


DEFAULT_SURGE = Fraction(1, 4)
CUSTOM_DRIVER = "custom"  # a pool given by its numbers alone
LONG_RUNNING_KEYS = ("replicas", "max_surge", "processes", "threads")
SERVICE_KEYS = ("database", "endpoint", "environments", "scenarios", *LONG_RUNNING_KEYS, "pool", "lambda", "connections",
                "from", "container", "lints")
POOL_KEYS = ("driver", "size", "max_overflow", "min_size", "max_size")
RANGE_KEYS = ("min_size", "max_size")
ENDPOINTS = ("writer", "reader")


class ServiceRules(DatabaseRules):
    """Check the services a topology defines, and that each can reach its database."""

    def services(self, data: dict[str, Any], db_names: list[str] | None,
                 env_names: list[str] | None) -> dict[str, Service | None] | None:
        """Check the ``services`` section (required); None if it is missing or not a mapping."""
        section = self.section(data, "services", "services: {web: {replicas: 2}}", True)
        if section is None:
            return None
        return self.named_items(section, "services", "service",
                                lambda name, spec, path: self.service(name, spec, path, db_names, env_names))

    def service(self, name: str, spec: Any, path: str, db_names: list[str] | None,
                env_names: list[str] | None) -> Service | None:
        """Check one service of whatever shape; None if anything in it is wrong."""
        spec = self.mapping(spec, path, f"{name}: {{replicas: 2}}")
        if spec is None:
            return None
        before = len(self.problems)
        self.check_keys(spec, path, SERVICE_KEYS)
        shape = self.shape(spec, path)
        common: dict[str, Any] = {"name": name, "line": self.lines.get(path)}
        if "database" in spec:
            common["database"] = self.reference(spec["database"], f"{path}.database", db_names, "database")
        if "endpoint" in spec:
            common["endpoint"] = self.choice(spec["endpoint"], f"{path}.endpoint", ENDPOINTS)
        if "environments" in spec:
            common["environments"] = self.name_list(spec["environments"], f"{path}.environments",
                                                    env_names, "environment")
        if "scenarios" in spec:
            common["scenarios"] = self.scenarios(spec["scenarios"], f"{path}.scenarios")
        if shape == "fixed":
            connections = self.integer(spec["connections"], f"{path}.connections")
            built: Service | None = Service(shape="fixed", connections=connections or 0, **common)
        elif shape == "lambda":
            built = self.lambda_service(spec, path, common)
        else:
            built = self.long_running(spec, path, common)
        return built if len(self.problems) == before else None

    def scenarios(self, value: Any, path: str) -> tuple[str, ...] | None:
        """Return the scenarios a service counts in (extension), in the spec's order; None if wrong.

        A one-shot job (a Kubernetes Job, a migration other Compose services wait for) runs only
        during a deploy, a CronJob at any time but not in steady state: its demand is 0 elsewhere.
        """
        names = self.name_list(value, path, SCENARIOS, "scenario")
        return None if names is None else tuple(s for s in SCENARIOS if s in names)

    def shape(self, spec: dict[str, Any], path: str) -> str:
        """Return the service's shape, reporting keys of two shapes in one service."""
        long_running = [k for k in LONG_RUNNING_KEYS if k in spec]
        if "connections" in spec:
            others = long_running + [k for k in ("lambda", "pool") if k in spec]
            if others == ["pool"]:
                self.add(f"{path}.pool", "a service with fixed `connections` has no pool",
                         "remove pool, or replace connections with replicas/processes and a pool")
            elif others:
                self.add(path, "mixes service shapes: 'connections' (fixed) with "
                         + ", ".join(repr(k) for k in others),
                         "a service is long-running with replicas/processes/threads, a lambda, or fixed "
                         "connections: keep one shape, or split it into two services")
            return "fixed"
        if "lambda" in spec:
            if long_running:
                self.add(path, "mixes service shapes: 'lambda' with " + ", ".join(repr(k) for k in long_running),
                         "a Lambda function has no replicas, processes or threads: remove them, "
                         "or split it into two services")
            return "lambda"
        return "long-running"

    def lambda_service(self, spec: dict[str, Any], path: str, common: dict[str, Any]) -> Service | None:
        """Build a Lambda service: its concurrency and the pool of each instance."""
        lam = self.mapping(spec["lambda"], f"{path}.lambda", "lambda: {concurrency: 100}")
        concurrency = None
        if lam:
            self.check_keys(lam, f"{path}.lambda", ("concurrency",))
            if "concurrency" in lam:
                concurrency = self.integer(lam["concurrency"], f"{path}.lambda.concurrency", minimum=1)
        pool = self.pool(spec["pool"], f"{path}.pool", 1) if "pool" in spec else Pool("per-thread", 1, 0)
        return Service(shape="lambda", lambda_concurrency=concurrency, pool=pool, **common)

    def long_running(self, spec: dict[str, Any], path: str, common: dict[str, Any]) -> Service | None:
        """Build a long-running service: replicas, surge, processes, threads and pool."""
        replicas = self.replicas(spec["replicas"], f"{path}.replicas") if "replicas" in spec else (1, 1)
        surge: tuple[Fraction | None, int | None] | None = (DEFAULT_SURGE, None)
        if "max_surge" in spec:
            surge = self.max_surge(spec["max_surge"], f"{path}.max_surge")
        processes = self.integer(spec["processes"], f"{path}.processes", 1) if "processes" in spec else 1
        threads = self.integer(spec["threads"], f"{path}.threads", 1) if "threads" in spec else 1
        pool = Pool("per-thread", threads or 1, 0)
        if "pool" in spec:
            pool = self.pool(spec["pool"], f"{path}.pool", threads or 1)
        if replicas is None or surge is None or processes is None or threads is None:
            return None
        return Service(shape="long-running", replicas_min=replicas[0], replicas_max=replicas[1],
                       surge_percent=surge[0], surge_count=surge[1], processes=processes, threads=threads,
                       pool=pool, **common)

    def replicas(self, value: Any, path: str) -> tuple[int, int] | None:
        """Return replicas as (min, max), from an integer or ``{min, max}``."""
        if isinstance(value, dict):
            self.check_keys(value, path, ("min", "max"))
            bounds = []
            for key in ("min", "max"):
                if key not in value:
                    self.missing(f"{path}.{key}", "give both, e.g. replicas: {min: 2, max: 6}, or an integer")
                    bounds.append(None)
                else:
                    bounds.append(self.integer(value[key], f"{path}.{key}", 1))
            low, high = bounds
            if low is None or high is None:
                return None
            if low > high:
                self.add(path, f"replicas min {low} is greater than max {high}",
                         f"swap them: replicas: {{min: {high}, max: {low}}}")
                return None
            return low, high
        if is_int(value):
            count = self.integer(value, path, 1)
            return None if count is None else (count, count)
        self.integer(value, path, 1)  # reports the wrong type with the usual hints
        return None

    def max_surge(self, value: Any, path: str) -> tuple[Fraction | None, int | None] | None:
        """Return max_surge as (percentage, None) for "25%" or (None, count) for a whole number."""
        if isinstance(value, str):
            fraction = parse_percent(value)
            if fraction is not None:
                return fraction, None
        elif is_int(value):
            count = self.integer(value, path)
            return None if count is None else (None, count)
        self.add(path, f"max_surge must be a percentage such as \"25%\" or a whole number of replicas, "
                 f"not {self.describe(path, value)}", "write e.g. max_surge: 25% or max_surge: 1")
        return None

    def pool(self, value: Any, path: str, threads: int) -> Pool | None:
        """Return the pool per process from a driver name, a size or a mapping."""
        if isinstance(value, str):
            driver = self.driver(value, path)
            if driver is None or not self.size_known(driver, None, path):
                return None
            return _pool_from(driver, None, None, threads)
        if is_int(value):
            size = self.integer(value, path, 1)
            return None if size is None else Pool(CUSTOM_DRIVER, size, 0)
        if not isinstance(value, dict):
            self.add(path, f"pool must be a driver name, a size or a mapping, not {describe(value)}",
                     "write e.g. pool: sqlalchemy, pool: 5 or pool: {driver: sqlalchemy, size: 5, max_overflow: 10}")
            return None
        self.check_keys(value, path, POOL_KEYS)
        driver = self.driver(value["driver"], f"{path}.driver") if "driver" in value else None
        size = self.integer(value["size"], f"{path}.size", 1) if "size" in value else None
        overflow = self.integer(value["max_overflow"], f"{path}.max_overflow", -1) if "max_overflow" in value else None
        if any(key in value for key in RANGE_KEYS):
            return self.range_pool(value, path, driver, size, overflow)
        if driver == "unbounded" and (size is not None or overflow not in (None, -1)):
            self.add(path, "an unbounded pool takes no size or max_overflow",
                     "remove them, or name the driver whose limits the service really has")
            return None
        if "driver" not in value and "size" not in value and overflow != -1:
            self.add(path, "pool needs a driver or a size", "write e.g. pool: {driver: sqlalchemy} or pool: {size: 5}")
            return None
        if ("driver" in value and driver is None) or ("size" in value and size is None) or (
                "max_overflow" in value and overflow is None):
            return None
        if driver is not None and overflow != -1 and not self.size_known(driver, size, path):
            return None
        return _pool_from(driver or CUSTOM_DRIVER, size, overflow, threads)

    def size_known(self, driver: str, size: int | None, path: str) -> bool:
        """Report a preset whose size the topology must give (pgxpool, database-sql) given without one."""
        if size is not None or driver not in REQUIRED_SIZE:
            return True
        fact, fix = REQUIRED_SIZE[driver]
        self.add(path, f"pool {driver} needs its size: {fact}", fix)
        return False

    def range_pool(self, value: dict[str, Any], path: str, driver: str | None, size: int | None,
                   overflow: int | None) -> Pool | None:
        """Return a min_size/max_size pool (extension) of psycopg-pool, asyncpg or django-pool.

        ``size`` and ``max_size`` are the same setting (the cap); the library's defaults fill in what
        is not written, and a min_size above the cap is refused as the library refuses it.
        """
        keys = [key for key in RANGE_KEYS if key in value]
        if driver not in RANGE_DRIVERS:
            if "driver" in value and driver is None:
                return None  # the unknown driver is reported already
            *first, last = RANGE_DRIVERS
            owners = f"{', '.join(first)} and {last}"
            named = f"a {driver} pool" if driver else "a pool without a driver"
            hint = ("name the driver, e.g. pool: {driver: psycopg-pool, min_size: 2, max_size: 10}" if driver is None
                    else "write size (and max_overflow) for it, e.g. pool: {driver: %s, size: 10}" % driver)
            verb = "belong" if len(keys) > 1 else "belongs"
            self.add(f"{path}.{keys[0]}", f"{' and '.join(keys)} {verb} to {owners} pools, not to {named}", hint)
            return None
        hold = RANGE_DRIVERS[driver]
        low = self.integer(value["min_size"], f"{path}.min_size", 0) if "min_size" in value else None
        high = self.integer(value["max_size"], f"{path}.max_size", 1) if "max_size" in value else None
        if size is not None and "max_size" in value:
            self.add(f"{path}.max_size", "size and max_size are the same setting (the pool's cap)", "keep max_size and remove size")
            return None
        if (("min_size" in value and low is None) or ("max_size" in value and high is None)
                or ("size" in value and size is None) or ("max_overflow" in value and overflow is None)):
            return None
        cap = high if high is not None else size
        minimum = low if low is not None else hold.min_size
        if cap is None:  # no cap written: the library's default max_size, or min_size where it follows it
            cap = hold.max_size if hold.max_size is not None else minimum
        if minimum > cap:
            default = "" if low is not None else f" ({hold.library}'s default)"
            self.add(f"{path}.{'min_size' if low is not None else keys[0]}",
                     f"min_size {minimum}{default} is above max_size {cap}: {hold.library} refuses min_size > max_size",
                     ("write a lower min_size, e.g. min_size: 1," if low is None else "lower min_size") + " or raise max_size")
            return None
        if overflow == -1:
            return Pool(driver, None, 0)
        extra = overflow if overflow is not None else POOL_DRIVERS[driver][1]
        if minimum < cap:
            return Pool(driver, cap, extra, min_size=minimum)
        return Pool(driver, cap, extra)

    def driver(self, value: Any, path: str) -> str | None:
        """Return a known pool driver's name, else report it with the closest one."""
        if isinstance(value, str) and value in POOL_DRIVERS:
            return value
        if isinstance(value, str):
            self.add(path, f"unknown pool driver {value!r}", suggest(value, POOL_DRIVERS, "known drivers")
                     + "; or give the numbers, e.g. pool: {size: 5, max_overflow: 0}")
        else:
            self.add(path, f"pool driver must be a name, not {describe(value)}", "write e.g. driver: sqlalchemy")
        return None

    def check_service_databases(self, databases: dict[str, Database | None],
                                environments: dict[str, Environment], services: dict[str, Service | None]) -> None:
        """Report services whose database cannot be resolved, or a reader endpoint without readers."""
        for name, service in services.items():
            if service is None:
                continue
            path = join_path("services", name)
            unresolved = []
            targets = set()
            for env in service.environments or environments:
                target = resolve_database(service, environments.get(env), databases)
                if target is None:
                    unresolved.append(env)
                else:
                    targets.add(target)
            if unresolved:
                listed = ("environment " if len(unresolved) == 1 else "environments ") + ", ".join(
                    repr(e) for e in unresolved)
                self.add(path, f"cannot tell which database service {name!r} uses in {listed}",
                         f"set services.{name}.database, or `database:` on environment {unresolved[0]!r}")
            if service.endpoint == "reader":
                for target in sorted(targets):
                    self.check_readers(f"{path}.endpoint", databases.get(target))


def resolve_database(service: Service, env: Environment | None,
                     databases: dict[str, Database | None]) -> str | None:
    """Return the database a service uses in an environment (spec §2), or None."""
    if service.database:
        return service.database
    if env is not None and env.database:
        return env.database
    if len(databases) == 1:
        return next(iter(databases))
    return None


def _pool_from(driver: str, size: int | None, overflow: int | None, threads: int) -> Pool:
    """Build a pool from a driver's defaults and explicit numbers (max_overflow -1: unbounded)."""
    default_size, default_overflow = POOL_DRIVERS.get(driver, (None, 0))
    if overflow == -1 or (driver == "unbounded"):
        return Pool(driver, None, 0)
    if default_size == THREADS:
        default_size = threads
    chosen = size if size is not None else default_size
    return Pool(driver, chosen if isinstance(chosen, int) else None,
                overflow if overflow is not None else default_overflow)
