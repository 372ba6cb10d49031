"""Tests for planner.topology: the file formats, the schema of spec §1, and hostile input."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.errors import InputError, Problem
from planner.model import Database, Environment, Pool, Pooler, Service, Topology
from planner.topology import POOL_DRIVERS, load_topology, parse_topology

from ..conftest import without_verdict

HAVE_FORMULA = importlib.util.find_spec("planner.formula") is not None


@pytest.fixture
def examples() -> Path:
    """The shared examples, copied into the repository so CI needs nothing beside it."""
    return Path(__file__).parents[1] / "examples"


def doc(*lines: str) -> str:
    """Join lines into a file: line N of the result is ``lines[N - 1]``."""
    return "\n".join(lines) + "\n"


def problems_of(text: str, filename: str = "shop.yaml") -> list[Problem]:
    with pytest.raises(InputError) as info:
        parse_topology(text, filename)
    problems = info.value.problems
    assert all(isinstance(p, Problem) for p in problems)
    return problems  # type: ignore[return-value]


def only_problem(exc: pytest.ExceptionInfo[InputError]) -> Problem:
    (problem,) = exc.value.problems
    assert isinstance(problem, Problem)
    return problem


def without_lines(topology: Topology) -> Topology:
    """Return ``topology`` without what depends on the file: lines and path."""

    def strip(items: Any) -> dict[str, Any]:
        return {name: dataclasses.replace(item, line=None) for name, item in items.items()}

    return dataclasses.replace(
        topology, path="", lines={}, databases=strip(topology.databases),
        environments=strip(topology.environments), services=strip(topology.services),
        poolers=strip(topology.poolers),
    )


HEAD = ("version: 1", "databases:", "  main: {instance_class: db.m6g.large}")  # lines 1-3

# --------------------------------------------------------------------------- the examples


def test_example_beanstalk_flask(examples: Path) -> None:
    t = load_topology(examples / "beanstalk-flask.yaml")
    assert t.name == "beanstalk-flask"
    assert t.path == str(examples / "beanstalk-flask.yaml")
    assert t.databases == {
        "main": Database("main", "postgres", "9.4", "db.t2.small",
                         {"max_connections": "{DBInstanceClassMemory/31457280}"}, line=9)
    }
    assert t.environments == {"default": Environment("default")}
    assert t.services["api"] == Service(
        "api", "long-running", replicas_min=2, replicas_max=6, surge_percent=None, surge_count=0,
        processes=2, threads=5, pool=Pool("per-thread", 5, 0), line=16)
    assert t.services["admin"] == Service("admin", "fixed", connections=2, line=21)
    assert t.poolers == {}
    assert t.lines["services.api.max_surge"] == 18
    assert t.line_of("databases.main.parameters.max_connections") == 14


def test_example_lambda_proxy(examples: Path) -> None:
    t = load_topology(examples / "lambda-proxy.yaml")
    db = t.databases["cluster"]
    assert (db.engine, db.engine_version, db.readers, db.headroom) == ("aurora-postgresql", "15", 1, Fraction(1, 5))
    api = t.services["api"]
    assert (api.shape, api.lambda_concurrency, api.pool) == ("lambda", 400, Pool("node-pg", 1, 0))
    reports = t.services["reports"]
    assert (reports.endpoint, reports.replicas_min, reports.replicas_max, reports.processes) == ("reader", 2, 2, 2)
    assert reports.pool == Pool("psycopg-pool", 4, 0)
    assert t.services["ops"].connections == 3
    assert t.poolers["proxy"] == Pooler("proxy", "rds-proxy", "cluster", ("api",), max_connections_percent=60,
                                        line=25)


def test_example_pgbouncer_fleet(examples: Path) -> None:
    t = load_topology(examples / "pgbouncer-fleet.yaml")
    web, worker = t.services["web"], t.services["worker"]
    assert (web.replicas_min, web.replicas_max, web.processes, web.pool) == (6, 30, 4, Pool("sqlalchemy", 5, 10))
    assert web.surge_percent == Fraction(1, 4) and web.surge_count is None
    assert (worker.replicas_min, worker.threads, worker.pool) == (8, 16, Pool("per-thread", 16, 0))
    bouncer = t.poolers["bouncer"]
    assert bouncer.clients == ("web", "worker")
    assert (bouncer.replicas, bouncer.pool_mode, bouncer.default_pool_size, bouncer.reserve_pool_size,
            bouncer.max_db_connections, bouncer.pairs, bouncer.max_client_conn) == (3, "transaction", 40, 5, 0, 1, 1000)
    assert t.lines["poolers.bouncer.clients[1]"] == 28


def test_example_shared_instance(examples: Path) -> None:
    t = load_topology(examples / "shared-instance.yaml")
    assert {n: e.scale for n, e in t.environments.items()} == {
        "prod": Fraction(1), "staging": Fraction(1, 2), "dev": Fraction(1, 5)}
    assert t.services["web"].pool == Pool("sqlalchemy", 10, 10)
    importer = t.services["importer"]
    assert (importer.shape, importer.lambda_concurrency, importer.pool) == ("lambda", None, Pool("node-pg", 10, 0))
    assert t.services["monitoring"].environments == ("prod",)
    assert t.environments["staging"].line == 14


def test_examples_match_their_copies(examples: Path) -> None:
    """tests/examples are the README's examples/; both are the shared ones where ../shared is beside the repository."""
    published = Path(__file__).resolve().parents[2] / "examples"
    names = sorted(p.name for p in examples.glob("*.yaml"))
    assert names == sorted(p.name for p in published.glob("*.yaml")) and names
    for name in names:
        assert (examples / name).read_text() == (published / name).read_text(), f"tests/examples/{name} differs from examples/"
    shared = Path(__file__).resolve().parents[3] / "shared" / "examples"
    for source in shared.glob("*.yaml"):  # nothing to compare in a clone without the workplace's ../shared
        # the repository's copies add the verdict comment on top; the rest is the shared text
        assert without_verdict((examples / source.name).read_text()) == source.read_text(), f"refresh tests/examples/{source.name}"


# --------------------------------------------------------------------------- formats

SAME_YAML = """\
version: 1
name: same
databases:
  main:
    engine: aurora-postgresql
    engine_version: "15.4"
    instance_class: db.r6g.large
    readers: 2
    headroom: 25%
    parameters:
      max_connections: "LEAST({DBInstanceClassMemory/9531392},5000)"
      rds.rds_superuser_reserved_connections: 2
  dev: {engine: self-managed, parameters: {max_connections: 200}}
environments:
  prod: {}
  staging: {scale: 0.5}
  dev: {scale: 0.1, database: dev}
services:
  web:
    database: main
    replicas: {min: 2, max: 6}
    max_surge: 50%
    processes: 4
    threads: 2
    pool: {driver: sqlalchemy, size: 5, max_overflow: 10}
    environments: [prod, staging]
  reports:
    database: main
    endpoint: reader
    pool: django
    threads: 3
  fn:
    lambda: {concurrency: 100}
    pool: 1
    environments: [dev]
  ops:
    database: main
    connections: 3
poolers:
  bouncer:
    kind: pgbouncer
    database: main
    clients: [web]
    replicas: 2
    pool_mode: session
    max_db_connections: 100
  proxy:
    kind: rds-proxy
    database: main
    endpoint: reader
    clients: [reports]
    max_connections_percent: 50
"""

SAME_TOML = """\
version = 1
name = "same"

[databases.main]
engine = "aurora-postgresql"
engine_version = "15.4"
instance_class = "db.r6g.large"
readers = 2
headroom = "25%"

[databases.main.parameters]
max_connections = "LEAST({DBInstanceClassMemory/9531392},5000)"
rds.rds_superuser_reserved_connections = 2

[databases.dev]
engine = "self-managed"
parameters = { max_connections = 200 }

[environments.prod]
[environments.staging]
scale = 0.5
[environments.dev]
scale = 0.1
database = "dev"

[services.web]
database = "main"
replicas = { min = 2, max = 6 }
max_surge = "50%"
processes = 4
threads = 2
pool = { driver = "sqlalchemy", size = 5, max_overflow = 10 }
environments = ["prod", "staging"]

[services.reports]
database = "main"
endpoint = "reader"
pool = "django"
threads = 3

[services.fn]
lambda = { concurrency = 100 }
pool = 1
environments = ["dev"]

[services.ops]
database = "main"
connections = 3

[poolers.bouncer]
kind = "pgbouncer"
database = "main"
clients = ["web"]
replicas = 2
pool_mode = "session"
max_db_connections = 100

[poolers.proxy]
kind = "rds-proxy"
database = "main"
endpoint = "reader"
clients = ["reports"]
max_connections_percent = 50
"""


def test_yaml_toml_and_json_give_equal_topologies() -> None:
    from_yaml = parse_topology(SAME_YAML, "same.yaml")
    from_toml = parse_topology(SAME_TOML, "same.toml")
    as_json = json.dumps(yaml.safe_load(SAME_YAML), indent=2)
    from_json = parse_topology(as_json, "same.json")
    assert without_lines(from_yaml) == without_lines(from_toml) == without_lines(from_json)
    web = from_yaml.services["web"]
    assert (web.surge_percent, web.threads, web.environments) == (Fraction(1, 2), 2, ("prod", "staging"))
    assert from_yaml.services["reports"].pool == Pool("django", 3, 0)
    assert from_yaml.services["fn"].pool == Pool("custom", 1, 0)
    assert from_yaml.environments["dev"].scale == Fraction(1, 10)
    assert from_yaml.databases["main"].parameters["rds.rds_superuser_reserved_connections"] == 2


def test_toml_and_json_lines_are_found() -> None:
    toml = parse_topology(SAME_TOML, "same.toml")
    assert toml.lines["services.web.max_surge"] == 29
    assert toml.lines["services.web.replicas.max"] == 28  # inside an inline table
    assert toml.lines["databases.main.parameters.rds.rds_superuser_reserved_connections"] == 13
    assert toml.lines["databases"] == 4
    assert toml.services["fn"].line == 41
    as_json = json.dumps(yaml.safe_load(SAME_YAML), indent=2)
    from_json = parse_topology(as_json, "same.json")
    json_lines = as_json.splitlines()
    for path in ("services.web.max_surge", "poolers.proxy.clients[0]", "environments.dev.database"):
        line = from_json.lines[path]
        assert path.rsplit(".", 1)[-1].split("[")[0] in json_lines[line - 1] or "[" in path


def test_problem_lines_in_toml_and_json() -> None:
    bad_toml = SAME_TOML.replace("processes = 4", "processs = 4")
    (problem,) = problems_of(bad_toml, "same.toml")
    assert (problem.key_path, problem.line, problem.hint) == ("services.web.processs", 30, "did you mean 'processes'?")
    bad_json = '{\n  "version": 1,\n  "databases": {"main": {}},\n  "services": {\n    "web": {"replicas": -1}\n  }\n}'
    (problem,) = problems_of(bad_json, "shop.json")
    assert (problem.key_path, problem.line) == ("services.web.replicas", 5)


@pytest.mark.parametrize("fmt, name", [("yaml", "topology"), ("json", "x.cfg"), ("toml", "noext")])
def test_explicit_format_overrides_the_suffix(fmt: str, name: str) -> None:
    text = {"yaml": SAME_YAML, "toml": SAME_TOML, "json": json.dumps(yaml.safe_load(SAME_YAML))}[fmt]
    assert parse_topology(text, name, fmt).name == "same"


def test_unknown_suffix_says_how_to_fix() -> None:
    with pytest.raises(InputError) as info:
        parse_topology(SAME_YAML, "shop.txt")
    problem = only_problem(info)
    assert "cannot tell the file format" in problem.message and ".yaml" in (problem.hint or "")
    with pytest.raises(InputError, match="unknown format"):
        parse_topology(SAME_YAML, "shop.yaml", "xml")


def test_yaml_scalars_follow_their_resolved_tags() -> None:
    t = parse_topology(doc(
        "version: 1",
        "databases:",
        "  old: {engine_version: 9.4, headroom: 0.2}",
        "  new: {engine_version: 16, headroom: '12.5%'}",
        "  quoted: {engine_version: '16.4', headroom: 0}",
        "services: {web: {database: old}}",
    ), "v.yaml")
    assert {n: d.engine_version for n, d in t.databases.items()} == {"old": "9.4", "new": "16", "quoted": "16.4"}
    assert {n: d.headroom for n, d in t.databases.items()} == {
        "old": Fraction(1, 5), "new": Fraction(1, 8), "quoted": Fraction(0)}
    assert t.databases["old"].major_version == 9


def test_defaults() -> None:
    t = parse_topology(doc("version: 1", "databases: {main: {}}", "services: {web: {}, w2: }"), "my-app.yaml")
    assert t.name == "my-app"
    assert t.environments == {"default": Environment("default")}
    db = t.databases["main"]
    assert (db.engine, db.engine_version, db.instance_class, db.readers, db.headroom, dict(db.parameters)) == (
        "postgres", "16", None, 0, Fraction(1, 5), {})
    for name in ("web", "w2"):
        s = t.services[name]
        assert (s.shape, s.replicas_min, s.replicas_max, s.processes, s.threads) == ("long-running", 1, 1, 1, 1)
        assert (s.surge_percent, s.surge_count, s.pool, s.database, s.environments) == (
            Fraction(1, 4), None, Pool("per-thread", 1, 0), None, None)


def test_empty_environments_mean_default() -> None:
    t = parse_topology(doc(*HEAD, "environments: {}", "services: {web: {environments: [default]}}"), "e.yaml")
    assert list(t.environments) == ["default"]


def test_pooler_defaults() -> None:
    t = parse_topology(doc(*HEAD, "services: {web: {}}",
                           "poolers: {b: {kind: pgbouncer, database: main, clients: [web]}}"), "p.yaml")
    assert t.poolers["b"] == Pooler("b", "pgbouncer", "main", ("web",), line=5)


def test_pool_drivers_table_is_the_spec() -> None:
    assert POOL_DRIVERS == {
        "sqlalchemy": (5, 10), "django": ("threads", 0), "rails": (5, 0), "node-pg": (10, 0),
        "asyncpg": (10, 0), "psycopg-pool": (4, 0), "hikari": (10, 0), "per-thread": ("threads", 0),
        "unbounded": (None, 0),
        # extensions (issue 12): Django 5.1+'s pool, and two Go pools whose size must be written
        "django-pool": (4, 0), "pgxpool": ("required", 0), "database-sql": ("required", 0),
        # extension (issue 18): SQLAlchemy's async engine under an event loop, read from the deployment
        "sqlalchemy-async": (5, 10),
    }


@pytest.mark.parametrize(
    "service, expected",
    [
        ("{pool: sqlalchemy}", Pool("sqlalchemy", 5, 10)),
        ("{pool: django, threads: 4}", Pool("django", 4, 0)),
        ("{pool: per-thread, threads: 8, processes: 2}", Pool("per-thread", 8, 0)),
        ("{threads: 3}", Pool("per-thread", 3, 0)),
        ("{pool: 7}", Pool("custom", 7, 0)),
        ("{pool: {size: 3}}", Pool("custom", 3, 0)),
        ("{pool: {driver: rails, size: 8}}", Pool("rails", 8, 0)),
        ("{pool: {driver: hikari, max_overflow: 2}}", Pool("hikari", 10, 2)),
        ("{pool: {driver: sqlalchemy, max_overflow: -1}}", Pool("sqlalchemy", None, 0)),
        ("{pool: {max_overflow: -1}}", Pool("custom", None, 0)),
        ("{pool: unbounded}", Pool("unbounded", None, 0)),
        ("{pool: {driver: sqlalchemy, size: 2, max_overflow: 0}}", Pool("sqlalchemy", 2, 0)),
        ("{lambda: {}, pool: django}", Pool("django", 1, 0)),
        ("{lambda: null}", Pool("per-thread", 1, 0)),
    ],
)
def test_pool_forms(service: str, expected: Pool) -> None:
    t = parse_topology(doc(*HEAD, f"services: {{s: {service}}}"), "pool.yaml")
    assert t.services["s"].pool == expected


def test_replicas_surge_and_shapes() -> None:
    t = parse_topology(doc(
        *HEAD,
        "services:",
        "  a: {replicas: 3, max_surge: 2}",
        "  b: {replicas: {min: 1, max: 1}, max_surge: 0%}",
        "  c: {lambda: {concurrency: 50}}",
        "  d: {connections: 0}",
    ), "s.yaml")
    a, b, c, d = (t.services[n] for n in "abcd")
    assert (a.replicas_min, a.replicas_max, a.surge_count, a.surge_percent) == (3, 3, 2, None)
    assert (b.surge_percent, b.surge_count) == (Fraction(0), None)
    assert (c.shape, c.lambda_concurrency) == ("lambda", 50)
    assert (d.shape, d.connections, d.pool) == ("fixed", 0, None)


def test_lines_cover_keys_and_list_items() -> None:
    t = parse_topology(doc(
        *HEAD,
        "environments: {prod: {}, dev: {}}",
        "services:",
        "  web:",
        "    environments:",
        "      - prod",
        "      - dev",
    ), "l.yaml")
    assert t.lines["services.web.environments[1]"] == 9
    assert t.lines["databases.main.instance_class"] == 3
    assert t.services["web"].line == 6
    assert t.line_of("services.web.nothing") == 6


def test_merge_keys_and_extension_keys() -> None:
    t = parse_topology(doc(
        *HEAD,
        "x-defaults: &defaults",
        "  replicas: {min: 2, max: 4}",
        "  pool: {driver: rails}",
        "services:",
        "  web:",
        "    <<: *defaults",
        "    processes: 3",
        "  api:",
        "    <<: [{threads: 4}, *defaults]",
        "    replicas: 1",
    ), "m.yaml")
    web, api = t.services["web"], t.services["api"]
    assert (web.replicas_min, web.replicas_max, web.processes, web.pool) == (2, 4, 3, Pool("rails", 5, 0))
    assert (api.replicas_min, api.replicas_max, api.threads) == (1, 1, 4)
    assert t.lines["services.web.replicas"] == 5  # where the merged value is written
    assert t.lines["services.api.replicas"] == 13


def test_aliases_reuse_values_and_lines() -> None:
    t = parse_topology(doc(
        *HEAD,
        "services:",
        "  web: {pool: &pool {driver: sqlalchemy, size: 2}}",
        "  api: {pool: *pool}",
    ), "a.yaml")
    assert t.services["api"].pool == Pool("sqlalchemy", 2, 10)
    assert t.lines["services.api.pool.size"] == 5


# --------------------------------------------------------------------------- bad input, one problem each

TWO_DBS = ("version: 1", "databases:", "  main: {}", "  other: {}")  # lines 1-4
READERS = ("version: 1", "databases:", "  main: {readers: 1}")  # lines 1-3

BAD = [
    # (id, file text, key path, line, text expected in the message or the hint)
    ("unknown-key", doc(*HEAD, "services:", "  web:", "    replica: 3"),
     "services.web.replica", 6, "did you mean 'replicas'?"),
    ("unknown-top-key", doc(*HEAD, "servics: {web: {}}"), "servics", 4, "did you mean 'services'?"),
    ("unknown-key-no-match", doc(*HEAD, "services: {web: {colour: red}}"), "services.web.colour", 4,
     "allowed keys: database, endpoint"),
    ("replicas-bool", doc(*HEAD, "services: {web: {replicas: true}}"), "services.web.replicas", 4,
     "not a boolean (true)"),
    ("replicas-float", doc(*HEAD, "services: {web: {replicas: 2.5}}"), "services.web.replicas", 4, "whole number"),
    ("replicas-integral-float", doc(*HEAD, "services: {web: {replicas: 3.0}}"), "services.web.replicas", 4,
     "write 3 without the decimal point"),
    ("replicas-quoted", doc(*HEAD, "services: {web: {replicas: '3'}}"), "services.web.replicas", 4,
     "remove the quotes"),
    ("replicas-zero", doc(*HEAD, "services: {web: {replicas: 0}}"), "services.web.replicas", 4, "at least 1"),
    ("replicas-min-over-max", doc(*HEAD, "services:", "  web:", "    replicas: {min: 5, max: 2}"),
     "services.web.replicas", 6, "min 5 is greater than max 2"),
    ("replicas-no-max", doc(*HEAD, "services: {web: {replicas: {min: 2}}}"), "services.web.replicas.max", 4,
     "missing required key 'max'"),
    ("processes-negative", doc(*HEAD, "services: {web: {processes: -1}}"), "services.web.processes", 4,
     "at least 1"),
    ("surge-fraction", doc(*HEAD, "services: {web: {max_surge: 0.25}}"), "services.web.max_surge", 4,
     "percentage"),
    ("surge-negative", doc(*HEAD, "services: {web: {max_surge: -1}}"), "services.web.max_surge", 4, "at least 0"),
    ("version-missing", doc("databases: {main: {}}", "services: {web: {}}"), "version", None,
     "missing required key 'version'"),
    ("version-2", doc("version: 2", "databases: {main: {}}", "services: {web: {}}"), "version", 1,
     "only version 1 exists"),
    ("databases-missing", doc("version: 1", "services: {web: {}}"), "databases", None, "missing required key"),
    ("services-empty", doc(*HEAD, "services: {}"), "services", 4, "services is empty"),
    ("name-empty", doc("version: 1", "name: ''", "databases: {main: {}}", "services: {web: {}}"), "name", 2,
     "non-empty"),
    ("database-name", doc("version: 1", "databases: {'my db': {}}", "services: {web: {}}"), "databases.my db", 2,
     "e.g. 'my-db'"),
    ("service-name-at", doc(*HEAD, "services: {'web@prod': {}}"), "services.web@prod", 4, "contains '@'"),
    ("engine", doc("version: 1", "databases: {main: {engine: mysql}}", "services: {web: {}}"),
     "databases.main.engine", 2, "use one of: postgres, aurora-postgresql, self-managed"),
    ("engine-version", doc("version: 1", "databases: {main: {engine_version: sixteen}}", "services: {web: {}}"),
     "databases.main.engine_version", 2, 'engine_version: "16"'),
    ("instance-class", doc("version: 1", "databases: {main: {instance_class: m6g.large}}", "services: {web: {}}"),
     "databases.main.instance_class", 2, "start with 'db.'"),
    ("reserved-before-16", doc("version: 1", "databases:", "  main:", "    engine_version: '15'",
                               "    parameters: {reserved_connections: 2}", "services: {web: {}}"),
     "databases.main.parameters.reserved_connections", 5, 'set engine_version: "16" or later'),
    ("rds-reserved-self-managed", doc("version: 1", "databases:", "  main:", "    engine: self-managed",
                                      "    parameters:", "      rds.rds_superuser_reserved_connections: 2",
                                      "services: {web: {}}"),
     "databases.main.parameters.rds.rds_superuser_reserved_connections", 6, "not on a self-managed database"),
    ("rds-superuser-on-16", doc("version: 1", "databases:", "  main:", "    engine_version: '16.4'",
                                "    parameters: {rds.rds_superuser_reserved_connections: 2}", "services: {web: {}}"),
     "databases.main.parameters.rds.rds_superuser_reserved_connections", 5, "set reserved_connections instead"),
    ("rds-superuser-default-16", doc("version: 1", "databases:", "  main:",
                                     "    parameters: {rds.rds_superuser_reserved_connections: 2}", "services: {web: {}}"),
     "databases.main.parameters.rds.rds_superuser_reserved_connections", 4, "set reserved_connections instead"),
    ("rds-reserved-before-15.9", doc("version: 1", "databases:", "  main:", "    engine_version: '15.8'",
                                     "    parameters: {rds.rds_reserved_connections: 4}", "services: {web: {}}"),
     "databases.main.parameters.rds.rds_reserved_connections", 5, "set engine_version to 15.9 or later"),
    ("rds-reserved-on-11", doc("version: 1", "databases:", "  main:", "    engine_version: '11.22'",
                               "    parameters: {rds.rds_reserved_connections: 4}", "services: {web: {}}"),
     "databases.main.parameters.rds.rds_reserved_connections", 5, "remove it"),
    ("engine-version-float", doc("version: 1", "databases: {main: {engine_version: 16.10}}", "services: {web: {}}"),
     "databases.main.engine_version", 2, 'quote the version: engine_version: "16.1"'),
    ("max-connections-zero", doc("version: 1", "databases: {main: {parameters: {max_connections: 0}}}",
                                 "services: {web: {}}"), "databases.main.parameters.max_connections", 2, "at least 1"),
    ("max-connections-bool", doc("version: 1", "databases: {main: {parameters: {max_connections: true}}}",
                                 "services: {web: {}}"),
     "databases.main.parameters.max_connections", 2, "an integer or an RDS formula"),
    ("unknown-parameter", doc("version: 1", "databases: {main: {parameters: {max_connection: 5}}}",
                              "services: {web: {}}"),
     "databases.main.parameters.max_connection", 2, "did you mean 'max_connections'?"),
    ("headroom-100", doc("version: 1", "databases: {main: {headroom: 100%}}", "services: {web: {}}"),
     "databases.main.headroom", 2, "below 100%"),
    ("headroom-20", doc("version: 1", "databases: {main: {headroom: 20}}", "services: {web: {}}"),
     "databases.main.headroom", 2, "write 20% for 20 percent"),
    ("readers-negative", doc("version: 1", "databases: {main: {readers: -1}}", "services: {web: {}}"),
     "databases.main.readers", 2, "at least 0"),
    ("scale-zero", doc(*HEAD, "environments:", "  prod: {scale: 0}", "services: {web: {}}"),
     "environments.prod.scale", 5, "greater than 0"),
    ("env-database", doc(*HEAD, "environments:", "  prod: {database: nope}", "services: {web: {}}"),
     "environments.prod.database", 5, "unknown database 'nope'"),
    ("service-env-unknown", doc(*HEAD, "environments: {prod: {}}", "services:", "  web:", "    environments:",
                                "      - prod", "      - stagin"),
     "services.web.environments[1]", 9, "unknown environment 'stagin'"),
    ("service-env-empty", doc(*HEAD, "services: {web: {environments: []}}"), "services.web.environments", 4,
     "is empty"),
    ("service-env-string", doc(*HEAD, "services: {web: {environments: default}}"), "services.web.environments", 4,
     "environments: [default]"),
    ("service-database", doc(*HEAD, "services: {web: {database: mian}}"), "services.web.database", 4,
     "did you mean 'main'?"),
    ("reader-without-readers", doc(*HEAD, "services: {web: {endpoint: reader}}"), "services.web.endpoint", 4,
     "has no readers"),
    ("endpoint", doc(*HEAD, "services: {web: {endpoint: primary}}"), "services.web.endpoint", 4,
     "unknown endpoint 'primary'"),
    ("fixed-and-replicas", doc(*HEAD, "services:", "  job: {connections: 2, replicas: 3}"), "services.job", 5,
     "'connections' (fixed) with 'replicas'"),
    ("lambda-and-processes", doc(*HEAD, "services:", "  fn: {lambda: {}, processes: 2}"), "services.fn", 5,
     "'lambda' with 'processes'"),
    ("pool-on-fixed", doc(*HEAD, "services:", "  ops:", "    connections: 3", "    pool: 5"), "services.ops.pool", 7,
     "has no pool"),
    ("pool-driver", doc(*HEAD, "services: {web: {pool: {driver: sqlalchmy}}}"), "services.web.pool.driver", 4,
     "did you mean 'sqlalchemy'?"),
    ("pool-driver-bare", doc(*HEAD, "services: {web: {pool: gorm}}"), "services.web.pool", 4,
     "known drivers: sqlalchemy"),
    ("pool-nothing", doc(*HEAD, "services: {web: {pool: {max_overflow: 3}}}"), "services.web.pool", 4,
     "needs a driver or a size"),
    ("pool-unbounded-size", doc(*HEAD, "services: {web: {pool: {driver: unbounded, size: 3}}}"),
     "services.web.pool", 4, "takes no size"),
    ("pool-zero", doc(*HEAD, "services: {web: {pool: 0}}"), "services.web.pool", 4, "at least 1"),
    ("pool-overflow", doc(*HEAD, "services: {web: {pool: {size: 5, max_overflow: -2}}}"),
     "services.web.pool.max_overflow", 4, "at least -1"),
    ("lambda-concurrency", doc(*HEAD, "services: {fn: {lambda: {concurrency: 0}}}"),
     "services.fn.lambda.concurrency", 4, "at least 1"),
    ("lambda-not-mapping", doc(*HEAD, "services: {fn: {lambda: 100}}"), "services.fn.lambda", 4,
     "lambda: {concurrency: 100}"),
    ("connections-negative", doc(*HEAD, "services: {ops: {connections: -2}}"), "services.ops.connections", 4,
     "at least 0"),
    ("database-unresolved", doc(*TWO_DBS, "environments: {prod: {database: main}, dev: {}}",
                                "services:", "  web: {}"),
     "services.web", 7, "in environment 'dev'"),
    ("pooler-kind-missing", doc(*HEAD, "services: {web: {}}", "poolers:", "  p: {database: main, clients: [web]}"),
     "poolers.p.kind", 6, "missing required key 'kind'"),
    ("pooler-kind", doc(*HEAD, "services: {web: {}}", "poolers:", "  p:", "    kind: pgbouncr",
                        "    database: main", "    clients: [web]"),
     "poolers.p.kind", 7, "did you mean 'pgbouncer'?"),
    ("pooler-client-unknown", doc(*HEAD, "services: {web: {}}", "poolers:",
                                  "  p: {kind: pgbouncer, database: main, clients: [wbe]}"),
     "poolers.p.clients[0]", 6, "did you mean 'web'?"),
    ("pooler-clients-empty", doc(*HEAD, "services: {web: {}}", "poolers:",
                                 "  p: {kind: pgbouncer, database: main, clients: []}"),
     "poolers.p.clients", 6, "is empty"),
    ("two-poolers", doc(*HEAD, "services: {web: {}}", "poolers:",
                        "  a: {kind: pgbouncer, database: main, clients: [web]}",
                        "  b: {kind: pgbouncer, database: main, clients: [web]}"),
     "poolers.b.clients[0]", 7, "a client routed through two poolers"),
    ("pgbouncer-key-on-proxy", doc(*HEAD, "services: {web: {}}", "poolers:",
                                   "  p: {kind: rds-proxy, database: main, clients: [web], pool_mode: session}"),
     "poolers.p.pool_mode", 6, "is a PgBouncer setting"),
    ("proxy-key-on-pgbouncer", doc(*HEAD, "services: {web: {}}", "poolers:",
                                   "  p: {kind: pgbouncer, database: main, clients: [web],",
                                   "      max_connections_percent: 50}"),
     "poolers.p.max_connections_percent", 7, "is an RDS Proxy setting"),
    ("proxy-percent", doc(*HEAD, "services: {web: {}}", "poolers:",
                          "  p: {kind: rds-proxy, database: main, clients: [web], max_connections_percent: 101}"),
     "poolers.p.max_connections_percent", 6, "from 1 to 100"),
    ("proxy-self-managed", doc("version: 1", "databases: {main: {engine: self-managed}}", "services: {web: {}}",
                               "poolers:", "  p: {kind: rds-proxy, database: main, clients: [web]}"),
     "poolers.p.database", 5, "RDS Proxy cannot front the self-managed database"),
    ("pool-mode", doc(*HEAD, "services: {web: {}}", "poolers:",
                      "  p: {kind: pgbouncer, database: main, clients: [web], pool_mode: batch}"),
     "poolers.p.pool_mode", 6, "unknown pool_mode 'batch'"),
    ("client-endpoint", doc(*READERS, "services: {web: {endpoint: reader}}", "poolers:",
                            "  p: {kind: pgbouncer, database: main, clients: [web]}"),
     "poolers.p.clients[0]", 6, "uses the reader endpoint"),
    ("duplicate-key", doc(*HEAD, "services:", "  web:", "    replicas: 2", "    replicas: 3"),
     "services.web.replicas", 7, "first at line 6"),
    ("merge-scalar", doc(*HEAD, "services:", "  web:", "    <<: 3"), "services.web.<<", 6,
     "needs a mapping or a list of mappings"),
    ("complex-key", doc(*HEAD, "services:", "  web:", "    [a, b]: 3"), "services.web", 6,
     "must be plain text"),
    ("unsupported-tag", doc(*HEAD, "services:", "  web: {replicas: !!python/object:os.system x}"),
     "services.web.replicas", 5, "unsupported YAML tag !!python/object:os.system"),
]


@pytest.mark.parametrize("text, key_path, line, expected", [case[1:] for case in BAD], ids=[c[0] for c in BAD])
def test_bad_input(text: str, key_path: str, line: int | None, expected: str) -> None:
    problems = problems_of(text)
    matching = [p for p in problems if p.key_path == key_path]
    assert matching, f"no problem at {key_path}: {[str(p) for p in problems]}"
    problem = matching[0]
    assert problem.line == line, str(problem)
    assert expected in f"{problem.message} ({problem.hint})", str(problem)
    assert problem.file == "shop.yaml" and problem.hint, str(problem)


@pytest.mark.skipif(not HAVE_FORMULA, reason="planner/formula.py is not there yet")
def test_bad_formula_points_at_the_parameter() -> None:
    text = doc("version: 1", "databases:", "  main:", "    parameters:",
               '      max_connections: "LEAST({DBInstanceClassMemory/9531392},"', "services: {web: {}}")
    (problem,) = problems_of(text)
    assert (problem.key_path, problem.line) == ("databases.main.parameters.max_connections", 5)
    assert "invalid max_connections formula" in problem.message and "position" in problem.message


def test_digit_strings_are_integers_for_max_connections() -> None:
    t = parse_topology(doc("version: 1", "databases: {main: {parameters: {max_connections: '500'}}}",
                           "services: {web: {}}"), "d.yaml")
    assert t.databases["main"].parameters["max_connections"] == 500


def test_rendered_problem_matches_the_house_style() -> None:
    (problem,) = problems_of(doc(*HEAD, "services:", "  web:", "    replica: 3"))
    assert str(problem) == "shop.yaml:6: services.web.replica: unknown key 'replica' (did you mean 'replicas'?)"


def test_every_problem_is_reported_at_once_sorted_by_line() -> None:
    text = doc(
        "version: 1",
        "databases:",
        "  main: {headroom: 1.5}",
        "services:",
        "  web:",
        "    replicas: true",
        "  ops: {connections: 1, threads: 2}",
    )
    with pytest.raises(InputError) as info:
        parse_topology(text, "shop.yaml")
    problems = info.value.problems
    assert [(p.key_path, p.line) for p in problems] == [  # type: ignore[union-attr]
        ("databases.main.headroom", 3), ("services.web.replicas", 6), ("services.ops", 7)]
    assert info.value.lines() == [str(p) for p in problems]


def test_duplicate_keys_report_both_lines_in_yaml_and_json() -> None:
    (problem,) = problems_of(doc(*HEAD, "services:", "  web: {}", "  api: {}", "  web: {replicas: 2}"))
    assert (problem.key_path, problem.line) == ("services.web", 7)
    assert "duplicate key 'web' (first at line 5)" in problem.message
    text = '{"version": 1,\n "databases": {"main": {}},\n "services": {"web": {},\n  "web": {}}}'
    (problem,) = problems_of(text, "shop.json")
    assert (problem.key_path, problem.line, problem.message) == (
        "services.web", 4, "duplicate key 'web' (first at line 3)")


def test_reference_checks_wait_for_valid_names() -> None:
    # a broken databases section is one problem, not one per service that names a database
    problems = problems_of(doc("version: 1", "databases: [main]", "services:", "  a: {database: main}",
                               "  b: {database: main}"))
    assert [p.key_path for p in problems] == ["databases"]


# --------------------------------------------------------------------------- files and hostile input


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_topology(tmp_path / "nope.yaml")
    assert only_problem(info).message == "file not found"


def test_directory(tmp_path: Path) -> None:
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(InputError) as info:
        load_topology(tmp_path / "dir.yaml")
    assert "is a directory" in only_problem(info).message


def test_file_over_16_mib_is_refused_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "big.yaml"
    with open(big, "wb") as f:
        f.truncate(17 * 2**20)  # sparse: 17 MiB without writing them

    def no_open(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("opened a file it should have refused")

    monkeypatch.setattr("builtins.open", no_open)
    with pytest.raises(InputError) as info:
        load_topology(big)
    problem = only_problem(info)
    assert "too large (17.0 MiB; the limit is 16 MiB)" in problem.message


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(b"version: 1\n\x00\x01\x02\xff")
    with pytest.raises(InputError) as info:
        load_topology(path)
    problem = only_problem(info)
    assert "binary file" in problem.message and problem.line == 2


@pytest.mark.parametrize("content", [b"", b"   \n\n", b"# only a comment\n", b"---\n"])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        load_topology(path)
    problem = only_problem(info)
    assert problem.message == "file is empty" and "version: 1" in (problem.hint or "")


@pytest.mark.parametrize("suffix", [".yaml", ".toml", ".json"])
def test_empty_file_in_every_format(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"x{suffix}"
    path.write_text("\n")
    with pytest.raises(InputError, match="file is empty"):
        load_topology(path)


def test_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(b"version: 1\nname: caf\xe9\n")
    with pytest.raises(InputError) as info:
        load_topology(path)
    problem = only_problem(info)
    assert (problem.line, problem.hint) == (2, "save the file as UTF-8")
    assert "byte 0xE9 at column 10" in problem.message


def test_utf16_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes("version: 1\n".encode("utf-16"))
    with pytest.raises(InputError, match="UTF-16"):
        load_topology(path)
    path.write_bytes(b"\xef\xbb\xbf" + doc(*HEAD, "services: {web: {}}").encode())
    assert load_topology(path).lines["version"] == 1


def test_top_level_must_be_a_mapping() -> None:
    with pytest.raises(InputError) as info:
        parse_topology("- 1\n- 2\n", "x.yaml")
    assert "top level must be a mapping" in only_problem(info).message
    with pytest.raises(InputError, match="top level must be a mapping"):
        parse_topology("[1, 2]", "x.json")


def test_billion_laughs_fails_fast() -> None:
    lines = ["version: 1", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    lines.append("databases: {main: *a9}")
    start = time.perf_counter()
    with pytest.raises(InputError) as info:
        parse_topology("\n".join(lines), "laughs.yaml")
    assert time.perf_counter() - start < 1.0
    assert "too many nodes (alias expansion?)" in only_problem(info).message


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(InputError) as info:
        parse_topology("version: 1\na: &a [*a]\n", "r.yaml")
    assert "names no anchor defined before it" in only_problem(info).message


@pytest.mark.parametrize(
    "text, filename",
    [
        ("[" * 100_000 + "]" * 100_000, "deep.yaml"),  # PyYAML's C composer segfaults on this
        ("a: " + "{b: " * 70 + "1" + "}" * 70, "deep.yaml"),
        ("".join(f"{'  ' * i}k{i}:\n" for i in range(70)) + "  " * 70 + "x: 1\n", "deep.yaml"),
        ("- " * 70 + "x", "deep.yaml"),
        ('{"a": ' * 70 + "1" + "}" * 70, "deep.json"),
        ("[" * 100_000 + "]" * 100_000, "deep.json"),
        ("a = " + "[" * 100_000 + "]" * 100_000, "deep.toml"),
        ("[" + ".".join(f"k{i}" for i in range(70)) + "]\nx = 1\n", "deep.toml"),
    ],
    ids=["yaml-flow-100k", "yaml-flow-70", "yaml-block-70", "yaml-seq-70", "json-70", "json-100k",
         "toml-100k", "toml-table-70"],
)
def test_deep_nesting_is_refused(text: str, filename: str) -> None:
    with pytest.raises(InputError) as info:
        parse_topology(text, filename)
    message = only_problem(info).message
    assert "nested more than 64 levels deep" in message or "nested too deeply" in message


@pytest.mark.parametrize(
    "text, filename, line, expected",
    [
        ("version: 1\ndatabases:\n  main: {\n  x: [\n", "bad.yaml", 5, "invalid YAML at column"),
        ("version: 1\ndatabases:\n\tmain: {}\n", "bad.yaml", 3, "invalid YAML at column 1"),
        ("version: 1\nname: a: b\n", "bad.yaml", 2, "invalid YAML at column 8"),
        ("version: 1\n---\nversion: 1\n", "bad.yaml", 2, "more than one YAML document"),
        ("version = 1\n[databases\n", "bad.toml", 2, "invalid TOML"),
        ("version = 1\nversion = 2\n", "bad.toml", 2, "invalid TOML"),
        ('{"version": 1,\n "databases": {},\n}', "bad.json", 3, "invalid JSON at column 1"),
        ('{"version": NaN}', "bad.json", 1, "NaN is not a JSON number"),
    ],
)
def test_syntax_errors_name_line_and_column(text: str, filename: str, line: int, expected: str) -> None:
    with pytest.raises(InputError) as info:
        parse_topology(text, filename)
    problem = only_problem(info)
    assert problem.line == line and expected in problem.message and problem.hint, str(problem)


def test_control_character_in_yaml() -> None:
    with pytest.raises(InputError) as info:
        parse_topology("version: 1\nname: a\x07b\n", "c.yaml")
    problem = only_problem(info)
    assert problem.line == 2 and "U+0007" in problem.message


def test_huge_integer_is_a_problem_not_a_crash() -> None:
    digits = "9" * 5000
    problems = problems_of(doc(*HEAD, f"services: {{web: {{replicas: {digits}}}}}"))
    assert problems and all(p.key_path == "services.web.replicas" for p in problems)
    with pytest.raises(InputError, match="invalid JSON"):
        parse_topology('{"version": ' + digits + "}", "x.json")


def test_ten_thousand_services_load(tmp_path: Path) -> None:
    lines = ["version: 1", "databases:", "  main: {instance_class: db.r6g.4xlarge}", "services:"]
    for i in range(10_000):
        lines += [f"  svc{i}:", "    replicas: {min: 2, max: 6}", "    max_surge: 25%", "    processes: 4",
                  "    threads: 2", "    pool: {driver: sqlalchemy, size: 5, max_overflow: 10}",
                  "    environments: [default]"]
    path = tmp_path / "big.yaml"
    path.write_text("\n".join(lines) + "\n")
    topology = load_topology(path)  # its speed is measured by benchmarks/bench_check.py
    assert len(topology.services) == 10_000
    assert topology.lines["services.svc9999.pool.max_overflow"] == len(lines) - 1


# --------------------------------------------------------------------------- property: formats agree

_names = st.text("abcdefgh", min_size=1, max_size=6)
_pools = st.one_of(
    # a bare name needs a preset that knows its size (pgxpool and database-sql need theirs written)
    st.sampled_from(sorted(d for d, (size, _) in POOL_DRIVERS.items() if size != "required")),
    st.integers(1, 50),
    st.fixed_dictionaries({"driver": st.sampled_from(sorted(POOL_DRIVERS) + ["sqlalchemy"]),
                           "size": st.integers(1, 50)}).filter(lambda p: p["driver"] != "unbounded"),
)
_services = st.dictionaries(
    _names,
    st.one_of(
        st.fixed_dictionaries({"replicas": st.integers(1, 100), "processes": st.integers(1, 16),
                               "threads": st.integers(1, 16), "pool": _pools,
                               "max_surge": st.one_of(st.integers(0, 5), st.integers(0, 100).map(lambda n: f"{n}%"))}),
        st.fixed_dictionaries({"lambda": st.fixed_dictionaries({"concurrency": st.integers(1, 1000)})}),
        st.fixed_dictionaries({"connections": st.integers(0, 20)}),
    ),
    min_size=1, max_size=5,
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(services=_services, headroom=st.integers(0, 99))
def test_yaml_and_json_agree(services: dict[str, Any], headroom: int) -> None:
    data = {"version": 1, "name": "p", "databases": {"main": {"headroom": f"{headroom}%"}}, "services": services}
    from_yaml = parse_topology(yaml.safe_dump(data), "p.yaml")
    from_json = parse_topology(json.dumps(data, indent=1), "p.json")
    assert without_lines(from_yaml) == without_lines(from_json)
    assert set(from_yaml.lines) == set(from_json.lines)
