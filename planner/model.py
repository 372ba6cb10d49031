"""The nouns of the planner: frozen dataclasses shared by every layer.

Numbers that users write as percentages or fractions (headroom, scale, surge) are kept as
:class:`fractions.Fraction` so that ``floor``/``ceil`` in the budget arithmetic are exact:
``ceil(4 × 0.2)`` must be 1, not 2 because of a binary rounding error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Callable, Literal, Mapping

from planner.reserves import EngineVersion, parse_engine_version

Engine = Literal["postgres", "aurora-postgresql", "self-managed"]
ENGINES: tuple[str, ...] = ("postgres", "aurora-postgresql", "self-managed")
RDS_ENGINES: tuple[str, ...] = ("postgres", "aurora-postgresql")

Scenario = Literal["steady", "peak", "rollout"]
SCENARIOS: tuple[str, ...] = ("steady", "peak", "rollout")

Status = Literal["ok", "warn", "over"]
STATUS_RANK: dict[str, int] = {"ok": 0, "warn": 1, "over": 2}

DEFAULT_MAX_CONNECTIONS_FORMULA = "LEAST({DBInstanceClassMemory/9531392},5000)"
SELF_MANAGED_MAX_CONNECTIONS = 100
SERVERLESS_CLASS = "db.serverless"  # Aurora Serverless v2: memory follows the ACU range, not a class
DEFAULT_ENVIRONMENT = "default"

# max_connections_source values (spec §5), from most to least trustworthy.
SOURCE_PARAMETER = "parameter"
SOURCE_OBSERVED = "observed"
SOURCE_AWS_DOC = "aws-doc"
SOURCE_ESTIMATED = "estimated"


def worst_status(statuses: "list[str] | tuple[str, ...]") -> str:
    """Return the most severe of ``statuses`` (``ok`` for none)."""
    return max(statuses, key=STATUS_RANK.__getitem__, default="ok")


@dataclass(frozen=True)
class EngineMemory:
    """DBInstanceClassMemory of one class under one engine, with where the number came from."""

    dbicm_bytes: int
    source: str  # observed | aws-doc | estimated
    note: str = ""  # the rule for estimates, the URL or observation for the others
    # The relative error (estimate − reading) / reading a real instance may show, lowest and highest,
    # e.g. (-0.02, 0.008): for an estimate, the leave-one-out errors of the classes nearest to it
    # (planner.catalog.bands); for a class read differently on two engine versions, how far above
    # the lowest (kept) reading the others are.
    error_range: tuple[float, float] | None = None
    readings: str = ""  # every reading the value rests on, with the engine version each came from

    def bounds(self) -> tuple[int, int] | None:
        """Return the DBInstanceClassMemory a real instance may have, lowest and highest, or None.

        An error e means estimate = reading × (1 + e), so reading = estimate / (1 + e).
        """
        if self.error_range is None:
            return None
        low, high = self.error_range
        return math.floor(self.dbicm_bytes / (1 + high)), math.ceil(self.dbicm_bytes / (1 + low))

    @property
    def may_be_optimistic(self) -> bool:
        """Return whether a real instance may have less memory than this value (its band's top is above zero)."""
        return self.error_range is not None and self.error_range[1] > 0

    def budget_bytes(self) -> int:
        """Return the DBInstanceClassMemory a budget counts on: the low end of the band where the value may be optimistic."""
        found = self.bounds()
        return found[0] if found is not None and self.may_be_optimistic else self.dbicm_bytes

    def reading_range(self, evaluate: "Callable[[int], int]") -> tuple[int, int] | None:
        """Return the range of ``evaluate(DBInstanceClassMemory)`` (a max_connections formula) over :meth:`bounds`."""
        found = self.bounds()
        return None if found is None else (evaluate(found[0]), evaluate(found[1]))


# How a database is deployed: RDS for PostgreSQL as a single instance, a Multi-AZ instance (one
# standby, not readable) or a Multi-AZ DB cluster (a writer and two readable standbys); Aurora by
# its cluster storage configuration, which sets the instance price.
DEPLOYMENTS: dict[str, tuple[str, ...]] = {
    "postgres": ("single-az", "multi-az", "multi-az-cluster"),
    "aurora-postgresql": ("aurora-standard", "aurora-io-optimized"),
}
DEFAULT_DEPLOYMENT: dict[str, str] = {"postgres": "single-az", "aurora-postgresql": "aurora-standard"}
DEPLOYMENT_LABELS: dict[str, str] = {
    "single-az": "Single-AZ",
    "multi-az": "Multi-AZ instance",
    "multi-az-cluster": "Multi-AZ DB cluster",
    "aurora-standard": "Aurora Standard",
    "aurora-io-optimized": "Aurora I/O-Optimized",
}
MULTI_AZ_CLUSTER_READERS = 2  # a Multi-AZ DB cluster's readable standbys


def engine_of_deployment(deployment: str) -> str:
    """Return the engine a deployment name belongs to."""
    return next(engine for engine, names in DEPLOYMENTS.items() if deployment in names)


@dataclass(frozen=True)
class Price:
    """An on-demand hourly price of one class in one deployment, with where and when it was read."""

    usd_per_hour: float
    deployment: str
    region: str
    date: str  # the price list's publication date (YYYY-MM-DD)
    source: str  # URL or API the price was read from

    def describe(self) -> str:
        """Return the price's provenance in a few words, for the line under a table."""
        return f"{self.source}, {self.region} on-demand {DEPLOYMENT_LABELS.get(self.deployment, self.deployment)}, {self.date}"


@dataclass(frozen=True)
class VersionSupport:
    """Which engine versions a class runs: per major, the first minor; majors above those listed all run.

    ``below`` is set for old classes documented as "lower than PostgreSQL N". AWS's tables list the
    oldest supported versions; a major newer than every major listed is taken as supported.
    """

    minimums: tuple[tuple[int, int], ...] = ()  # (major, first minor)
    below: int | None = None

    def supports(self, version: EngineVersion) -> bool | None:
        """Return whether ``version`` runs on the class (None: nothing known)."""
        if self.below is not None:
            return version.major < self.below
        if not self.minimums:
            return None
        known = dict(self.minimums)
        if version.major in known:
            # a bare major means its newest minor, which is at or above any first minor
            return version.minor is None or version.minor >= known[version.major]
        return version.major > max(known)

    def text(self) -> str:
        """Return the catalogue's spelling: "13.4;14.5;15.0", "<13", or "" (unknown)."""
        if self.below is not None:
            return f"<{self.below}"
        return ";".join(f"{major}.{minor}" for major, minor in self.minimums)


@dataclass(frozen=True)
class InstanceClass:
    """One row of the catalogue: an RDS DB instance class, its memory per engine, where it can run, its prices."""

    instance_class: str
    family: str
    generation: int
    size: str
    arch: str
    burstable: bool
    vcpu: int
    memory_gib: float
    retired: bool = False
    memory: Mapping[str, EngineMemory] = field(default_factory=dict)
    # deployment -> orderable (True), not offered (False), or not known (None)
    orderable: Mapping[str, bool | None] = field(default_factory=dict)
    versions: Mapping[str, VersionSupport] = field(default_factory=dict)  # engine -> versions it runs
    orderable_source: str = ""
    prices: Mapping[str, Price] = field(default_factory=dict)  # deployment -> price

    def supports(self, engine: str) -> bool:
        """Return whether the catalogue knows this class for ``engine``."""
        return engine in self.memory

    def deployable(self, engine: str, deployment: str, version: EngineVersion | None = None) -> bool | None:
        """Return whether the class can be ordered for ``engine`` in ``deployment`` (and ``version``).

        False when AWS does not offer it that way; None when the catalogue does not know.
        """
        if not self.supports(engine):
            return False
        flag = self.orderable.get(deployment)
        if flag is False or version is None:
            return flag
        # versions unknown: the orderable flag (from current price lists) decides
        if self.versions.get(engine, VersionSupport()).supports(version) is False:
            return False
        return flag


def price_for(cls: InstanceClass, engine: str, deployment: str | None = None) -> Price | None:
    """Return the class's on-demand price for ``engine`` in ``deployment`` (its default), or None if unknown."""
    deployment = deployment or DEFAULT_DEPLOYMENT.get(engine, "")
    if deployment not in DEPLOYMENTS.get(engine, ()):
        return None
    return cls.prices.get(deployment)


@dataclass(frozen=True)
class Pool:
    """Connections one process may open: ``size`` steady, ``size + max_overflow`` at worst.

    ``size`` is ``None`` for an unbounded pool (Go ``database/sql`` without a limit).
    """

    driver: str
    size: int | None
    max_overflow: int = 0
    # psycopg-pool, asyncpg, django-pool: the pool grows from min_size to size (its max_size) and holds
    # what a burst opened until it idles out, so every number still reads ``size`` (None: not written)
    min_size: int | None = None

    @property
    def unbounded(self) -> bool:
        return self.size is None

    @property
    def steady(self) -> int:
        return self.size or 0

    @property
    def worst(self) -> int:
        return (self.size or 0) + self.max_overflow


@dataclass(frozen=True)
class Service:
    """A client of the database in one of three shapes: long-running, lambda or fixed."""

    name: str
    shape: Literal["long-running", "lambda", "fixed"]
    database: str | None = None
    endpoint: Literal["writer", "reader"] = "writer"
    environments: tuple[str, ...] | None = None  # None = every environment
    replicas_min: int = 1
    replicas_max: int = 1
    surge_percent: Fraction | None = Fraction(1, 4)  # max_surge as a fraction of R_max ...
    surge_count: int | None = None  # ... or as a replica count
    processes: int = 1
    threads: int = 1
    pool: Pool | None = None
    lambda_concurrency: int | None = None  # None: reserved concurrency not set
    connections: int = 0
    line: int | None = None
    # the scenarios in which its demand counts (a one-shot Job runs only during rollouts); None = all three
    scenarios: tuple[str, ...] | None = None

    def counts_in(self, scenario: str) -> bool:
        """Return whether the service's demand counts in ``scenario`` (``scenarios``, default every one)."""
        return self.scenarios is None or scenario in self.scenarios


@dataclass(frozen=True)
class Environment:
    """A deployment environment: its replica/concurrency ``scale`` and default database."""

    name: str
    scale: Fraction = Fraction(1)
    database: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class Database:
    """A database: a writer and ``readers`` replicas, each with its own connection budget."""

    name: str
    engine: str = "postgres"
    engine_version: str = "16"
    instance_class: str | None = None
    parameters: Mapping[str, int | str] = field(default_factory=dict)
    readers: int = 0
    reader_instance_class: str | None = None
    headroom: Fraction = Fraction(1, 5)
    line: int | None = None
    # Aurora Serverless v2 (instance_class db.serverless): the capacity range in ACUs
    min_acu: Fraction | None = None
    max_acu: Fraction | None = None
    deployment: str = ""  # see DEPLOYMENTS; "" for self-managed

    @property
    def deployment_name(self) -> str:
        """Return the deployment, or the engine's default when none was given."""
        return self.deployment or DEFAULT_DEPLOYMENT.get(self.engine, "")

    @property
    def major_version(self) -> int:
        """Return the PostgreSQL major version (9 for "9.6", 16 for "16.4")."""
        return self.version.major

    @property
    def version(self) -> EngineVersion:
        """Return the engine version's major and minor (minor None: the major's newest minor)."""
        return parse_engine_version(self.engine_version)


@dataclass(frozen=True)
class Pooler:
    """A PgBouncer fleet, an RDS Proxy or a Pgpool-II fleet standing between services and a database."""

    name: str
    kind: Literal["pgbouncer", "rds-proxy", "pgpool"]
    database: str
    clients: tuple[str, ...]
    endpoint: Literal["writer", "reader"] = "writer"
    environments: tuple[str, ...] | None = None  # None = every env that resolves to `database`
    replicas: int = 1
    pool_mode: str = "transaction"
    default_pool_size: int = 20
    reserve_pool_size: int = 0
    max_db_connections: int = 0
    pairs: int = 1
    max_client_conn: int = 100
    max_connections_percent: int = 100
    # Pgpool-II: preforked child processes per replica, each serving one client at a time, and the
    # backend connections each child keeps cached (one per user/database pair it served, at most this)
    num_init_children: int = 32
    max_pool: int = 4
    line: int | None = None


@dataclass(frozen=True)
class Sourced:
    """A topology value read from the deployment: the value as written, and where it came from.

    ``origin`` reads "HorizontalPodAutoscaler/web spec.maxReplicas, deploy/web.yaml:12"; for an
    entry's own ``from:`` (key path ``services.web``) ``value`` is the reference itself.
    """

    value: str
    origin: str
    assumed: bool = False  # nothing stated it: v1's default, said in explain but not a reading


# The warning codes of `check` (docs/topology.md "Warnings"): a topology may acknowledge them (`lints:`).
LINT_CODES = (
    "estimated", "not-orderable", "lambda-unreserved", "unbounded-pool", "proxy-full-with-direct", "proxy-over-100",
    "pgbouncer-replicas", "pgpool-replicas", "session-mode", "shared-instance", "burstable-production",
    "max-connections-override", "old-formula", "surge-count", "pool-below-threads", "pool-above-concurrency",
    "django-pool-unknown", "pool-held-at-max", "deployment",
)


@dataclass(frozen=True)
class LintIgnore:
    """Warnings a team has read and acknowledged (``lints: {ignore: [...], reason: ...}``), for the whole
    topology (``service`` None) or for one service: they are counted in one line instead of listed."""

    codes: tuple[str, ...]
    reason: str
    service: str | None = None
    key_path: str = "lints"

    def covers(self, code: str, key_path: str) -> bool:
        """Return whether this acknowledges a warning of ``code`` at ``key_path``."""
        if code not in self.codes:
            return False
        return self.service is None or key_path == f"services.{self.service}" or key_path.startswith(f"services.{self.service}.")


@dataclass(frozen=True)
class Waiver:
    """A breach the team accepts until a date: it warns instead of failing ``check`` until it expires.

    ``target`` is what it covers: an instance (``kind`` "instance", ``main/writer``), every instance
    of a database ("database", ``main``) or a pooler ("pooler", ``bouncer``); ``scenario`` None
    covers every scenario. It holds through ``expires``; from the next day it fails with ``reason``.
    """

    kind: Literal["instance", "database", "pooler"]
    target: str
    scenario: str | None
    reason: str
    expires: date
    index: int  # its position in `waivers`, for key paths (waivers[2])
    line: int | None = None

    @property
    def label(self) -> str:
        """Return what it covers, as reports name it: "main/writer rollout", "pooler bouncer"."""
        subject = f"pooler {self.target}" if self.kind == "pooler" else self.target
        return f"{subject} {self.scenario}" if self.scenario else subject


@dataclass(frozen=True)
class Topology:
    """A whole topology file, validated and with defaults filled in."""

    name: str
    path: str
    databases: Mapping[str, Database]
    environments: Mapping[str, Environment]
    services: Mapping[str, Service]
    poolers: Mapping[str, Pooler] = field(default_factory=dict)
    # key path ("services.web.replicas") -> line, where the file format gives one
    lines: Mapping[str, int] = field(default_factory=dict)
    version: int = 1
    # key path -> its value and where it came from, for values read from the deployment (`sources`/`from`)
    provenance: Mapping[str, "Sourced"] = field(default_factory=dict)
    # entry path ("services.importer") -> what its source object says that is not a value
    source_notes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # what is wrong in the deployment's files but did not stop planner reading them
    source_warnings: tuple[str, ...] = ()
    # breaches accepted until a date (`waivers`): check warns instead of failing on them
    waivers: tuple[Waiver, ...] = ()
    # warnings read and acknowledged (`lints`): counted in one line, not listed
    lint_ignores: tuple[LintIgnore, ...] = ()

    def line_of(self, key_path: str) -> int | None:
        """Return the line of ``key_path`` in the file, or of its nearest parent that has one."""
        parts = key_path.split(".")
        while parts:
            line = self.lines.get(".".join(parts))
            if line is not None:
                return line
            parts.pop()
        return None
