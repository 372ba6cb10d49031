"""Emitted artefacts: a real PgBouncer accepts pgbouncer.ini and carries more clients than the server has slots;
pool settings come in each service's own library names."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator

import psycopg
import pytest

from planner.advice.emit import Connection, emit_parameters, emit_pgbouncer, emit_pools, emit_proxy
from planner.advice.recommend import Option, recommend
from planner.topology import parse_topology

from ..conftest import require_program
from ..pgserver import PostgresServer, free_port, start_pgbouncer, start_postgres, wait_for_port

MAX_CONNECTIONS = 20
# 10 replicas × 4 processes × 5 = 200 connections wanted, 17 usable: PgBouncer must fit it. Five threads
# per process use the pool of 5 (a pool above its threads would first be held to them: pool-above-concurrency).
TOPOLOGY = f"""
version: 1
databases:
  main: {{engine: self-managed, engine_version: "15", parameters: {{max_connections: {MAX_CONNECTIONS}}}}}
services:
  web: {{replicas: 10, max_surge: 0, processes: 4, threads: 5, pool: {{size: 5}}}}
"""


def pgbouncer_option() -> Option:
    topology = parse_topology(TOPOLOGY, "emit.yaml")
    (rec,) = recommend(topology, None)  # type: ignore[arg-type]
    return next(o for o in rec.options if o.kind == "pgbouncer")


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    yield from start_postgres({"max_connections": MAX_CONNECTIONS, "superuser_reserved_connections": 3})


def test_pgbouncer_ini_numbers_and_no_secret() -> None:
    option = pgbouncer_option()
    files = emit_pgbouncer(option)
    ini = files["pgbouncer.ini"]
    # alarm_at = floor(20 × 0.8) = 16 server connections for 2 replicas: 8 each
    assert "default_pool_size = 8" in ini and "max_db_connections = 8" in ini
    assert "pool_mode = transaction" in ini
    assert "max_client_conn = 110" in ini  # ceil(ceil(200 × 1.1) / 2)
    assert "password" not in ini.lower()
    assert "SCRAM-SHA-256$<iterations>" in files["userlist.txt"]


def test_real_pgbouncer_carries_more_clients_than_server_slots(server: PostgresServer) -> None:
    option = pgbouncer_option()
    port = free_port()
    connection = Connection(host="127.0.0.1", port=server.port, dbname="postgres", listen_addr="127.0.0.1", listen_port=port)
    files = emit_pgbouncer(option, connection)
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        admin.execute("CREATE ROLE app LOGIN PASSWORD 'secret'")
    # the emitted userlist, comments and all, with the test's own secret in place of the placeholder
    userlist = files["userlist.txt"].replace('"SCRAM-SHA-256$<iterations>:<salt>$<storedkey>:<serverkey>"', '"secret"')
    assert userlist.count('"secret"') == 1
    for _ in start_pgbouncer(files["pgbouncer.ini"], {"userlist.txt": userlist}):
        wait_for_port(port)
        clients = 2 * MAX_CONNECTIONS  # twice the server's slots, all open at once
        dsn = f"host=127.0.0.1 port={port} dbname=main user=app password=secret connect_timeout=10"
        opened = [psycopg.connect(dsn, autocommit=True) for _ in range(clients)]
        errors: list[BaseException] = []

        def query(conn: psycopg.Connection) -> None:
            try:
                conn.execute("SELECT pg_sleep(0.05)")
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=query, args=(c,)) for c in opened]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        with psycopg.connect(server.dsn(), autocommit=True) as admin:
            backends = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = 'app'").fetchone()
        for conn in opened:
            conn.close()
        assert errors == []
        assert len(opened) == clients
        assert backends is not None and backends[0] <= 8  # the server pool, not the clients


def test_proxy_and_parameter_and_pool_artefacts() -> None:
    topology = parse_topology(
        """
version: 1
databases:
  main: {instance_class: db.r6g.large, engine: aurora-postgresql, engine_version: "15"}
services:
  api: {lambda: {concurrency: 800}, pool: {driver: node-pg, size: 2}}
  web: {replicas: 4, processes: 2, pool: {driver: sqlalchemy, size: 5, max_overflow: 5}}
""",
        "l.yaml",
    )
    from planner.catalog import load_catalog

    (rec,) = recommend(topology, load_catalog())
    by_kind = {o.kind: o for o in rec.options}
    proxy = by_kind.get("rds-proxy") or by_kind["pool-everything"]
    files = emit_proxy(proxy)
    percent = next(p for p in proxy.topology.poolers.values() if p.kind == "rds-proxy").max_connections_percent
    assert f"MaxConnectionsPercent={percent}" in files["rds-proxy.sh"]
    assert f"max_connections_percent = {percent}" in files["rds-proxy.tf"]
    assert "db_cluster_identifier" in files["rds-proxy.tf"]
    assert '"password":"..."' in files["rds-proxy.sh"]  # a placeholder, never a value
    shrink = by_kind["shrink-pools"]
    pools = emit_pools(shrink)
    # each service in its own library: node-postgres for the Lambda, SQLAlchemy for web
    caps = {name: shrink.topology.services[name].pool.worst for name in shrink.details["pools"]}  # type: ignore[union-attr]
    if "api" in caps:
        assert f"max: {caps['api']} }})" in pools["api.node-pg.js"] and "per Lambda instance" in pools["api.node-pg.js"]
    if "web" in caps:
        assert "create_engine(url, pool_size=" in pools["web.sqlalchemy.py"]
    assert not any(name.endswith(".env") for name in pools)


def test_parameter_artefacts() -> None:
    topology = parse_topology(
        'version: 1\ndatabases:\n  main: {instance_class: db.m5.large, engine_version: "15"}\n'
        "services:\n  web: {replicas: 10, max_surge: 0, processes: 7, pool: {driver: rails, size: 10}}\n",
        "p.yaml",
    )
    from planner.catalog import load_catalog

    (rec,) = recommend(topology, load_catalog())
    option = next(o for o in rec.options if o.kind == "parameter")
    files = emit_parameters(option)
    value = option.details["max_connections"]
    assert f"ParameterValue={value},ApplyMethod=pending-reboot" in files["parameters.sh"]
    assert 'family = "postgres15"' in files["parameters.tf"] and f'value        = "{value}"' in files["parameters.tf"]


# ----------------------------------------------------------------------------------------------
# Pool artefacts per driver: each service gets its own library's setting names and the cap the
# option's topology holds; no environment variable the topology does not name.
# ----------------------------------------------------------------------------------------------

# The syntax that marks each library's artefact: none of it may appear in another library's file.
# (Django's pool is psycopg_pool under the hood; its artefact names the class, never its call.)
LIBRARY_SYNTAX: dict[str, tuple[str, ...]] = {
    "sqlalchemy": ("create_engine(", "pool_size=", "max_overflow="),
    "asyncpg": ("asyncpg.create_pool(", "import asyncpg"),
    "psycopg-pool": ("ConnectionPool(conninfo", "from psycopg_pool import"),
    "django": ('DATABASES["default"]', "CONN_MAX_AGE"),
    "rails": ("config/database.yml", "ActiveRecord", "\npool: "),
    "node-pg": ("require('pg')", "new Pool("),
    "hikari": ("maximum-pool-size", "setMaximumPoolSize", "spring.datasource"),
    "database-sql": ("SetMaxOpenConns", "database/sql"),
    "pgxpool": ("pgxpool", "pool_max_conns", "MaxConns ="),
}
LIBRARY_SYNTAX["django-pool"] = LIBRARY_SYNTAX["django"]

# What each driver's artefact must say, with the option's numbers: cap (most per process), steady
# (kept open) and overflow (cap - steady).
EXPECTED: dict[str, tuple[str, ...]] = {
    "sqlalchemy": ("create_engine(url, pool_size={steady}, max_overflow={overflow})",),
    "asyncpg": ("await asyncpg.create_pool(dsn, min_size={steady}, max_size={cap})",),
    "psycopg-pool": ("ConnectionPool(conninfo, min_size={steady}, max_size={cap})",
                     "AsyncConnectionPool(conninfo, min_size={steady}, max_size={cap}, open=False)"),
    "django": ("run at most {cap} threads per process", 'DATABASES["default"]["CONN_MAX_AGE"] = 0',
               '["pool"] = {{"min_size": {steady}, "max_size": {cap}}}'),
    "django-pool": ('DATABASES["default"]["CONN_MAX_AGE"] = 0', '["pool"] = {{"min_size": {steady}, "max_size": {cap}}}'),
    "rails": ("\npool: {cap}\n",),
    "node-pg": ("new Pool({{ ...config, max: {cap} }})",),
    "hikari": ("\nspring.datasource.hikari.maximum-pool-size={cap}\n", "config.setMaximumPoolSize({cap});"),
    "database-sql": ("db.SetMaxOpenConns({cap})", "db.SetMaxIdleConns({steady})"),
    "pgxpool": ("config.MaxConns = {cap}", "pool_max_conns={cap}"),
    "per-thread": ("run at most {cap} threads per process",),
    "unbounded": ("set its maximum to {cap} per process",),
}
SUFFIX = {"sqlalchemy": "sqlalchemy.py", "asyncpg": "asyncpg.py", "psycopg-pool": "psycopg_pool.py",
          "django": "django-settings.py", "django-pool": "django-settings.py", "rails": "database.yml",
          "node-pg": "node-pg.js", "hikari": "hikari.properties", "database-sql": "database-sql.go",
          "pgxpool": "pgxpool.go", "per-thread": "pool.txt", "unbounded": "pool.txt"}

# Ways a file could set or read an environment variable: none may appear, as no pool names one.
ENV_PATTERNS = (r"(?m)^\s*(export\s+)?[A-Z][A-Z0-9_]*=", r"os\.environ", r"getenv", r"process\.env", r"ENV\[",
                r"ENV\.fetch", r"RAILS_MAX_THREADS", r"DATABASE_URL", r"\$\{?[A-Z][A-Z0-9_]+")


def _assert_no_environment(text: str) -> None:
    import re

    for pattern in ENV_PATTERNS:
        assert not re.search(pattern, text), f"environment variable ({pattern}) in:\n{text}"


def _assert_only_its_library(driver: str, text: str) -> None:
    for other, marks in LIBRARY_SYNTAX.items():
        if other == driver or marks is LIBRARY_SYNTAX.get(driver):
            continue
        for mark in marks:
            assert mark not in text, f"{driver}'s artefact uses {other}'s {mark!r}:\n{text}"


def _shrink_option(driver: str) -> Option:
    """Return the recommended pool cap for one over-budget service using ``driver``."""
    pool = "{driver: unbounded}" if driver == "unbounded" else f"{{driver: {driver}, size: 12}}"
    topology = parse_topology(
        f"""
version: 1
databases:
  main: {{engine: self-managed, engine_version: "16", parameters: {{max_connections: 60}}}}
services:
  web: {{replicas: 10, max_surge: 0, processes: 2, threads: 12, pool: {pool}}}
  ops: {{connections: 2}}
""",
        f"{driver}.yaml",
    )
    options = [o for rec in recommend(topology, None) for o in rec.options if o.kind == "shrink-pools"]  # type: ignore[arg-type]
    assert options, f"no pool cap recommended for a {driver} service"
    return options[0]


def _known_drivers() -> list[str]:
    from planner.topology.services import POOL_DRIVERS

    return [d for d in EXPECTED if d in POOL_DRIVERS]


@pytest.mark.parametrize("driver", _known_drivers())
def test_pool_artefact_uses_its_drivers_names_and_the_recommended_cap(driver: str) -> None:
    option = _shrink_option(driver)
    pool = option.topology.services["web"].pool
    assert pool is not None
    cap = option.details["pools"]["web"]
    assert pool.worst == cap  # the artefact's number is the one `check` verified
    files = emit_pools(option)
    text = next(content for name, content in files.items() if name.startswith("web."))
    if pool.driver == driver:
        name = f"web.{SUFFIX[driver]}"
        assert files[name] == text
        minimum = getattr(pool, "min_size", None)
        steady = min(minimum if isinstance(minimum, int) else pool.steady, cap)
        for expected in EXPECTED[driver]:
            assert expected.format(cap=cap, steady=steady, overflow=cap - steady) in text, (expected, text)
        _assert_only_its_library(driver, text)
    else:  # no pool or no limit, capped by numbers alone: a note, never a library's syntax
        assert driver in ("per-thread", "unbounded") and pool.driver == "custom"
        assert f"library in use to {cap} per process" in text
        if driver == "per-thread":  # the lever without a pool: the threads
            assert f"run at most {cap} threads per process instead (today 12)" in text
        for marks in LIBRARY_SYNTAX.values():
            assert not any(mark in text for mark in marks), text
    _assert_no_environment("".join(files.values()))
    doc = __import__("json").loads(files["pools.json"])["services"]["web"]
    assert doc["connections"] == cap and doc["per"] == "process" and doc["file"] in files


@pytest.mark.parametrize("driver", sorted(EXPECTED))
def test_every_artefact_in_the_table(driver: str) -> None:
    """Every driver of the table, presets or not yet: its names, its numbers, nobody else's, no environment."""
    from planner.advice.pool_artefacts import PoolTarget, pool_artefact

    target = PoolTarget("web", driver, cap=7, steady=3, threads=16, unit="process", written_by="Written by planner for t: x")
    artefact = pool_artefact(target)
    assert artefact.suffix == SUFFIX[driver]
    for expected in EXPECTED[driver]:
        assert expected.format(cap=7, steady=3, overflow=4) in artefact.content, (expected, artefact.content)
    _assert_only_its_library(driver, artefact.content)
    _assert_no_environment(artefact.content)
    assert "Written by planner for t: x" in artefact.content
    # the settings it reports are names that the file itself writes
    for name, value in artefact.settings.items():
        assert name.rpartition(".")[2] in artefact.content and str(value) in artefact.content


@pytest.mark.parametrize("driver", ["custom", "some-future-preset"])
def test_a_driver_without_an_artefact_gets_a_generic_note(driver: str) -> None:
    from planner.advice.pool_artefacts import PoolTarget, pool_artefact

    artefact = pool_artefact(PoolTarget("web", driver, cap=4, steady=4, threads=1, unit="process", written_by="w"))
    assert artefact.suffix == "pool.txt" and artefact.settings == {}
    assert "Set the maximum pool size of the library in use to 4 per process." in artefact.content
    assert "threads" not in artefact.content  # one thread: no thread advice
    threaded = pool_artefact(PoolTarget("web", driver, cap=4, steady=2, threads=8, unit="process", written_by="w"))
    assert "to 4 per process, keeping 2 open." in threaded.content
    assert "run at most 4 threads per process instead (today 8)" in threaded.content
    if driver != "custom":
        assert "planner has no artefact for driver 'some-future-preset'" in artefact.content
    for marks in LIBRARY_SYNTAX.values():
        assert not any(mark in artefact.content for mark in marks), artefact.content
    _assert_no_environment(artefact.content)


def test_each_service_gets_its_own_drivers_artefact() -> None:
    """The incident of issue 12: an asyncpg service got SQLAlchemy settings and invented variables."""
    topology = parse_topology(
        """
version: 1
databases:
  main: {engine: self-managed, engine_version: "16", parameters: {max_connections: 200}}
services:
  api: {replicas: 8, max_surge: 0, processes: 4, pool: {driver: asyncpg, size: 10}}
  jobs: {replicas: 4, max_surge: 0, processes: 2, threads: 8, pool: {driver: rails}}
  hooks: {lambda: {concurrency: 10}, pool: {driver: node-pg, size: 2}}
""",
        "mixed.yaml",
    )
    (option,) = [o for rec in recommend(topology, None) for o in rec.options if o.kind == "shrink-pools"][:1]  # type: ignore[arg-type]
    files = emit_pools(option)
    drivers = {"api": "asyncpg", "jobs": "rails", "hooks": "node-pg"}
    for service in option.details["pools"]:
        (name,) = [n for n in files if n.startswith(f"{service}.")]
        assert name == f"{service}.{SUFFIX[drivers[service]]}"
        _assert_only_its_library(drivers[service], files[name])
    assert "create_engine" not in "".join(files.values())
    _assert_no_environment("".join(files.values()))
    if "hooks" in option.details["pools"]:
        assert "per Lambda instance" in files["hooks.node-pg.js"]


def test_python_artefacts_run_and_pass_their_numbers() -> None:
    """The Python artefacts are valid modules that hand the library exactly the numbers written.

    SQLAlchemy, asyncpg and psycopg_pool are not dependencies of planner, so stand-ins record the
    call: what is proven is the module and the keyword arguments, not the library's reaction.
    """
    import asyncio
    import sys
    import types

    from planner.advice.pool_artefacts import PoolTarget, pool_artefact

    calls: list[tuple[str, tuple[object, ...], dict[str, object]]] = []

    def recorder(label: str):  # noqa: ANN202 - a stand-in callable
        def call(*args: object, **kwargs: object) -> str:
            calls.append((label, args, kwargs))
            return label
        return call

    async def create_pool(*args: object, **kwargs: object) -> str:
        calls.append(("asyncpg.create_pool", args, kwargs))
        return "pool"

    stubs = {
        "sqlalchemy": types.SimpleNamespace(create_engine=recorder("create_engine")),
        "asyncpg": types.SimpleNamespace(create_pool=create_pool),
        "psycopg_pool": types.SimpleNamespace(ConnectionPool=recorder("ConnectionPool"),
                                              AsyncConnectionPool=recorder("AsyncConnectionPool")),
    }
    saved = {name: sys.modules.get(name) for name in stubs}
    sys.modules.update(stubs)  # type: ignore[arg-type]
    try:
        target = PoolTarget("web", "", cap=6, steady=2, threads=4, unit="process", written_by="w")
        for driver in ("sqlalchemy", "asyncpg", "psycopg-pool"):
            namespace: dict[str, object] = {}
            exec(compile(pool_artefact(PoolTarget(**{**target.__dict__, "driver": driver})).content, driver, "exec"), namespace)
            if driver == "sqlalchemy":
                namespace["make_engine"]("postgresql://h/db")  # type: ignore[operator]
            elif driver == "asyncpg":
                asyncio.run(namespace["make_pool"]("postgresql://h/db"))  # type: ignore[operator]
            else:
                namespace["make_pool"]("host=h")  # type: ignore[operator]
                namespace["make_async_pool"]("host=h")  # type: ignore[operator]
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
    assert calls == [
        ("create_engine", ("postgresql://h/db",), {"pool_size": 2, "max_overflow": 4}),
        ("asyncpg.create_pool", ("postgresql://h/db",), {"min_size": 2, "max_size": 6}),
        ("ConnectionPool", ("host=h",), {"min_size": 2, "max_size": 6}),
        ("AsyncConnectionPool", ("host=h",), {"min_size": 2, "max_size": 6, "open": False}),
    ]


def test_rails_hikari_and_json_artefacts_parse() -> None:
    import json

    import yaml

    from planner.advice.pool_artefacts import PoolTarget, pool_artefact

    target = PoolTarget("web", "rails", cap=6, steady=2, threads=4, unit="process", written_by="w")
    assert yaml.safe_load(pool_artefact(target).content) == {"pool": 6}
    hikari = pool_artefact(PoolTarget(**{**target.__dict__, "driver": "hikari"})).content
    properties = dict(line.split("=", 1) for line in hikari.splitlines() if line and not line.startswith("#"))
    assert properties == {"spring.datasource.hikari.maximum-pool-size": "6", "spring.datasource.hikari.minimum-idle": "2"}
    files = emit_pools(_shrink_option("sqlalchemy"))
    assert set(json.loads(files["pools.json"])["services"]) == {"web"}


def test_node_artefact_runs_under_node(tmp_path: Path) -> None:
    """With Node.js on the machine, the node-postgres artefact loads and builds Pool({..., max: N}).

    node-postgres itself is not installed; a stand-in `pg` module records the config it is given.
    """
    import json
    import subprocess

    from planner.advice.pool_artefacts import PoolTarget, pool_artefact

    node = require_program("node", "nodejs")
    stand_in = tmp_path / "node_modules" / "pg"
    stand_in.mkdir(parents=True)
    (stand_in / "index.js").write_text("class Pool { constructor (config) { this.config = config } }\nmodule.exports = { Pool }\n")
    target = PoolTarget("hooks", "node-pg", cap=3, steady=3, threads=1, unit="Lambda instance", written_by="w")
    (tmp_path / "hooks.node-pg.js").write_text(pool_artefact(target).content)
    script = "const { makePool } = require('./hooks.node-pg.js'); console.log(JSON.stringify(makePool({ host: 'h', max: 99 }).config))"
    result = subprocess.run([node, "-e", script], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"host": "h", "max": 3}  # the cap wins over the caller's


@pytest.mark.parametrize("example", sorted(p.name for p in (Path(__file__).parents[2] / "examples").glob("*.yaml")))
def test_emit_pools_on_every_example_writes_every_file_or_none(example: str, tmp_path: Path) -> None:
    import json

    from ..conftest import EXAMPLES, run_cli

    out = tmp_path / "out"
    code, _, err = run_cli(["emit", "pools", str(EXAMPLES / example), "-o", str(out)])
    if code != 0:
        assert code == 2 and "no pools option fits" in err, err
        assert not out.exists()
        return
    written = {p.name for p in out.iterdir()}
    doc = json.loads((out / "pools.json").read_text())["services"]
    assert written == {"pools.json"} | {entry["file"] for entry in doc.values()}
    for entry in doc.values():
        text = (out / entry["file"]).read_text()
        _assert_no_environment(text)
        assert f"at most {entry['connections']} connection" in text
    # a file that cannot be written (pools.json is a directory now) leaves none of the others behind
    blocked = tmp_path / "blocked"
    (blocked / "pools.json").mkdir(parents=True)
    code, _, err = run_cli(["emit", "pools", str(EXAMPLES / example), "-o", str(blocked)])
    assert code == 2 and "cannot write the output" in err
    assert [p.name for p in blocked.iterdir()] == ["pools.json"] and (blocked / "pools.json").is_dir()


# The DB parameter group families RDS has had for PostgreSQL, as AWS spells them: the RDS API
# reference's DescribeEngineDefaultParameters "Valid Values" (postgres10 … postgres14,
# aurora-postgresql10 … aurora-postgresql14); the 9.x series and later majors as `aws rds
# describe-db-engine-versions --query "DBEngineVersions[].DBParameterGroupFamily"` lists them
# (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_WorkingWithParamGroups.html; RDS's own
# error "Please use a Parameter Group with DBParameterGroupFamily aurora-postgresql10",
# awslabs/aws-rails-provisioner#5, shows the Aurora 9.6 and 10 spellings). Checked 2026-12-07.
RDS_FAMILIES = {
    "postgres": ["postgres9.3", "postgres9.4", "postgres9.5", "postgres9.6"] + [f"postgres{m}" for m in range(10, 19)],
    "aurora-postgresql": ["aurora-postgresql9.6"] + [f"aurora-postgresql{m}" for m in range(10, 18)],
}


@pytest.mark.parametrize(("engine", "family"), [(e, f) for e, families in RDS_FAMILIES.items() for f in families])
def test_parameter_group_family_is_spelled_as_rds_spells_it(engine: str, family: str) -> None:
    from planner.advice.emit import parameter_group_family

    series = family.removeprefix("aurora-postgresql").removeprefix("postgres")
    for version in (series, f"{series}.7", f"{series}.7-rds.20240418" if "." not in series else f"{series}.22"):
        assert parameter_group_family(engine, version) == family, version


def test_a_bare_9_names_no_family() -> None:
    from planner.advice.emit import parameter_group_family
    from planner.errors import InputError

    with pytest.raises(InputError, match=r"names no parameter group family.*write the series"):
        parameter_group_family("postgres", "9")


# An RDS Proxy already in front of the Lambdas takes 100 % while web connects directly: the option
# lowers the existing proxy's percentage, so the artefact changes its target group and creates nothing.
EXISTING_PROXY = """\
version: 1
name: shop
databases:
  main: {engine: postgres, engine_version: "16.4", instance_class: db.m6g.large}
services:
  api: {lambda: {concurrency: 200}, pool: {driver: node-pg, size: 1}}
  web: {replicas: 4, processes: 2, threads: 4, pool: {driver: sqlalchemy, size: 4, max_overflow: 0}}
poolers:
  proxy: {kind: rds-proxy, database: main, clients: [api], max_connections_percent: 100}
"""


def test_an_existing_proxy_gets_its_target_group_changed_not_a_second_proxy(tmp_path: Path) -> None:
    from ..conftest import run_cli

    path = tmp_path / "shop.yaml"
    path.write_text(EXISTING_PROXY)
    code, out, err = run_cli(["emit", "proxy", str(path), "-o", str(tmp_path / "out")])
    assert code == 0, err
    script = (tmp_path / "out" / "rds-proxy-change.sh").read_text()
    assert "aws rds modify-db-proxy-target-group" in script and "--db-proxy-name proxy" in script
    assert "create-db-proxy" not in script and "register-db-proxy-targets" not in script
    percent = int(script.split("MaxConnectionsPercent=")[1].split()[0])
    assert percent < 100
    assert f"max_connections_percent = {percent}" in (tmp_path / "out" / "rds-proxy-change.tf").read_text()
    assert not (tmp_path / "out" / "rds-proxy.sh").exists()


def test_emit_option_writes_the_option_recommend_listed_or_names_the_artefact_that_does(tmp_path: Path) -> None:
    from ..conftest import refusal, run_cli

    path = tmp_path / "shop.yaml"
    path.write_text(EXISTING_PROXY)
    _, listing, _ = run_cli(["recommend", str(path)])
    assert "main:1  proxy-percent" in listing
    code, out, _ = run_cli(["emit", "proxy", str(path), "--option", "main:1"])
    assert code == 0 and "modify-db-proxy-target-group" in out
    (line,) = refusal(["emit", "parameters", str(path), "--option", "main:1"])
    assert line.startswith("--option main:1 is 'lower proxy's max_connections_percent from 100 to ")
    assert line.endswith(f"emit parameters does not implement it; planner emit proxy {path} --option main:1 writes it")
    (line,) = refusal(["emit", "proxy", str(path), "--option", "main:9"])
    assert "no such option (options: main:1..1" in line
