"""``planner verify``: the refusal the budget predicts happens on a real PostgreSQL, exactly there.

The expected ordinal is computed here from ``planner check --format json`` (the plan's own
numbers), independently of verify's prediction: usable at the verify scale is
``ceil(max_connections / K) − reserved``, and connection ``usable + 1`` is refused.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Iterator

import psycopg
import pytest

from ..conftest import EXAMPLES, run_cli
from ..docs.test_readme import machine_neutral
from ..pgserver import (
    PostgresServer,
    free_port,
    processes_mentioning,
    require_binaries,
    start_postgres_with_app_role,
)

pytestmark = pytest.mark.server

REFUSAL = "remaining connection slots are reserved"
# What PostgreSQL 16+ says to an ordinary role (reserved_connections left, or only the superusers' slots),
# and what 15 and older say: exactly, as libpq passes them on.
PG16_REFUSALS = (
    'FATAL: remaining connection slots are reserved for roles with privileges of the "pg_use_reserved_connections" role',
    "FATAL: remaining connection slots are reserved for roles with the SUPERUSER attribute",
)
PG15_REFUSAL = "FATAL: remaining connection slots are reserved for non-replication superuser connections"

UNSEEN = {
    # self-managed: usable 30 − 4 = 26; rollout web (4 + 1) × 5 = 25, jobs 6: refused at jobs' 2nd
    "self-managed.yaml": ("""
version: 1
databases:
  main: {engine: self-managed, engine_version: "15", parameters: {max_connections: 30, superuser_reserved_connections: 4}}
services:
  web: {replicas: {min: 2, max: 4}, pool: {size: 3, max_overflow: 2}}
  jobs: {connections: 6}
""", "main", "rollout", [], ("jobs@default", 2)),
    # RDS 16: reserved 3 + 4 (rds_reserved) + 2 (reserved_connections) = 9 of 40, usable 31;
    # peak api@prod 24, api@staging 12: refused at the 32nd, staging's 8th
    "rds16-envs.yaml": ("""
version: 1
databases:
  main:
    engine: postgres
    engine_version: "16"
    instance_class: db.m6g.large
    parameters: {max_connections: 40, reserved_connections: 2}
environments:
  prod: {}
  staging: {scale: 0.5}
services:
  api: {replicas: 6, max_surge: 0, pool: 4}
""", "main", "peak", [], ("api@staging", 8)),
    # Aurora on a big class, two databases, a PgBouncer fleet and Lambdas; explicitly scaled
    "aurora-fleet.yaml": ("""
version: 1
databases:
  orders: {engine: aurora-postgresql, engine_version: "15", instance_class: db.r6g.xlarge}
  other: {engine: self-managed, parameters: {max_connections: 10}}
services:
  web: {database: orders, replicas: {min: 10, max: 40}, processes: 4, pool: sqlalchemy}
  fn: {database: orders, lambda: {concurrency: 900}, pool: {driver: node-pg, size: 2}}
  cron: {database: other, connections: 2}
poolers:
  bouncer: {kind: pgbouncer, database: orders, clients: [web], replicas: 4, default_pool_size: 200, reserve_pool_size: 20}
""", "orders", "rollout", ["--scale", "20"], None),
    # within budget: nothing refused
    "quiet.yaml": ("""
version: 1
databases:
  main: {engine: self-managed, parameters: {max_connections: 50}}
services:
  web: {replicas: 2, pool: 3}
  ops: {connections: 2}
""", "main", "rollout", [], None),
}


def expected_refusal(topology: Path, database: str, scenario: str, scale: int) -> tuple[int | None, str | None]:
    """The plan's own numbers, from `planner check --format json`: the ordinal and source refused."""
    _, out, _ = run_cli(["check", str(topology), "--format", "json", "--scenario", scenario])
    writer = next(i for i in json.loads(out)["instances"] if i["database"] == database and i["role"] == "writer")
    max_connections = -(-writer["max_connections"] // scale)
    usable = max_connections - writer["reserved"]
    counts = [(s["source"], max_connections if s[scenario] is None else -(-s[scenario] // scale)) for s in writer["demand_by_source"]]
    if sum(c for _, c in counts) <= usable:
        return None, None
    seen = 0
    for source, count in counts:
        if usable + 1 <= seen + count:
            return usable + 1, source
        seen += count
    raise AssertionError("unreachable")


def run_verify(args: list[str]) -> tuple[int, dict, str]:
    code, out, err = run_cli(["verify", *args, "--format", "json"])
    assert code in (0, 1), err
    return code, json.loads(out), err


def assert_matches_plan(doc: dict, topology: Path, database: str, scenario: str) -> None:
    ordinal, source = expected_refusal(topology, database, scenario, doc["scale"])
    assert doc["predicted_refused_ordinal"] == ordinal
    if ordinal is None:
        assert doc["refused"] is None
        assert sum(s["opened"] for s in doc["sources"]) == doc["total"]
    else:
        assert (doc["refused"]["ordinal"], doc["refused"]["source"]) == (ordinal, source)
        assert REFUSAL in doc["refused"]["message"] and doc["refused"]["message"].startswith("FATAL:")
        assert sum(s["opened"] for s in doc["sources"]) == ordinal - 1
    assert doc["result"] == "pass"


@pytest.mark.parametrize("example", ["beanstalk-flask.yaml", "pgbouncer-fleet.yaml", "lambda-proxy.yaml", "shared-instance.yaml"])
def test_examples_refuse_exactly_the_predicted_connection(example: str) -> None:
    path = EXAMPLES / example
    code, doc, _ = run_verify([str(path), "--local"])
    assert code == 0
    assert_matches_plan(doc, path, doc["database"], "rollout")
    assert doc["server"]["max_connections"] <= 200 and doc["already_connected"] == 0


def test_beanstalk_flask_refuses_the_56th_api_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's verify session (tests/docs/test_readme.py compares all of it): the lines that matter."""
    command = "planner verify examples/beanstalk-flask.yaml --database main --local"
    monkeypatch.chdir(EXAMPLES.parent)
    code, out, err = run_cli(command.split()[1:])
    assert code == 0, err
    assert "binaries: PostgreSQL N, SOURCE (DIR), the closest here to engine_version 9.4" in machine_neutral(out)
    assert "refused: connection #56 (api@default #56): FATAL: remaining connection slots are reserved for non-replication superuser connections" in out
    assert "PASS: the server refused exactly connection #56, as the plan predicts" in out
    assert "superuser_reserved_connections 5 = 3 + rds.rds_superuser_reserved_connections 2: PostgreSQL" in out  # the RDS slots, emulated and said so


@pytest.mark.parametrize("name", list(UNSEEN))
def test_unseen_topologies(name: str, tmp_path: Path) -> None:
    text, database, scenario, extra, where = UNSEEN[name]
    path = tmp_path / name
    path.write_text(text)
    code, doc, _ = run_verify([str(path), "--database", database, "--local", "--scenario", scenario, *extra])
    assert code == 0
    assert_matches_plan(doc, path, database, scenario)
    if where is not None:
        assert (doc["refused"]["source"], doc["refused"]["source_ordinal"]) == where
    if extra:
        assert doc["scale"] == 20


def test_local_server_is_removed_with_its_processes() -> None:
    code, doc, _ = run_verify([str(EXAMPLES / "beanstalk-flask.yaml"), "--local"])
    assert code == 0
    root = doc["server"]["data_directory"]
    assert root and Path(root).name.startswith("planner-verify-")
    assert not Path(root).exists()
    assert processes_mentioning(root) == []


def test_ctrl_c_still_removes_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    import planner.adapters.postgres as pg

    real, calls = pg.open_tagged, []

    def interrupted(dsn: str, application_name: str) -> psycopg.Connection:
        calls.append(dsn)  # host=<the throwaway server's private directory> ...
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(dsn, application_name)

    monkeypatch.setattr(pg, "open_tagged", interrupted)
    code, _, _ = run_cli(["verify", str(EXAMPLES / "beanstalk-flask.yaml"), "--local"])
    assert code == 130  # Typer turns KeyboardInterrupt into exit 130
    root = calls[0].split("host=", 1)[1].split()[0]
    assert Path(root).name.startswith("planner-verify-") and not Path(root).exists()
    assert processes_mentioning(root) == []


def test_a_different_reality_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    import planner.adapters.postgres as pg

    real, calls = pg.open_tagged, []

    def early(dsn: str, application_name: str) -> psycopg.Connection:
        calls.append(application_name)
        if len(calls) == 3:
            raise pg.SlotRefused("FATAL: remaining connection slots are reserved (simulated)")
        return real(dsn, application_name)

    monkeypatch.setattr(pg, "open_tagged", early)
    code, out, _ = run_cli(["verify", str(EXAMPLES / "beanstalk-flask.yaml"), "--local"])
    assert code == 1
    assert "FAIL: the server refused #3; the plan predicts #56" in out


def test_no_postgresql_binaries_exit_3(monkeypatch: pytest.MonkeyPatch) -> None:
    import planner.adapters.localpg as localpg

    monkeypatch.setattr(localpg, "available_binaries", lambda: [])
    code, out, err = run_cli(["verify", str(EXAMPLES / "beanstalk-flask.yaml"), "--local"])
    assert code == 3 and out == ""
    assert "apt-get install postgresql" in err and "pgserver" in err and len(err.strip().splitlines()) == 1


# --------------------------------------------------------------------------- --local: which PostgreSQL


RDS16 = """
version: 1
databases:
  main:
    engine: postgres
    engine_version: "{version}"
    instance_class: db.m6g.large
    parameters: {{max_connections: 30}}
services:
  api: {{replicas: 2, max_surge: 0, pool: 8}}
  jobs: {{connections: 12}}
"""


def test_a_16_topology_runs_postgresql_16_and_meets_its_refusal(tmp_path: Path) -> None:
    """RDS 16: reserved 3 + rds_reserved 4 + reserved_connections 2 = 9 of 30, usable 21: api's 16 fit,
    jobs' 6th is refused, by PostgreSQL 16 itself with one of its own texts."""
    binaries = require_binaries(at_least=16)
    path = tmp_path / "rds16.yaml"
    path.write_text(RDS16.format(version="16"))
    code, doc, _ = run_verify([str(path), "--local", "--scenario", "peak"])
    assert code == 0
    assert_matches_plan(doc, path, "main", "peak")
    assert (doc["refused"]["ordinal"], doc["refused"]["source"], doc["refused"]["source_ordinal"]) == (22, "jobs@default", 6)
    server = doc["server"]
    assert int(server["version"].split(".")[0]) >= 16 and server["binaries"]["major"] >= 16
    assert server["binaries"]["version"] == server["version"] == binaries.version  # the newest 16+ here (one 16+ major)
    assert server["binaries"]["origin"] in ("machine", "pgserver") and Path(server["binaries"]["bindir"]).is_dir()
    # reserved_connections is a real setting on 16; only rds_reserved's 4 are folded
    assert server["reserved_slots"] == {"superuser_reserved_connections": 7, "reserved_connections": 2}
    assert doc["refused"]["message"] in PG16_REFUSALS
    assert doc["refused"]["kind"] == "pg_use_reserved_connections"  # 2 reserved_connections slots were still free
    assert "superuser_reserved_connections 7 = 3 + rds.rds_reserved_connections 4" in doc["notes"][0]
    code, out, _ = run_cli(["verify", str(path), "--local", "--scenario", "peak"])
    assert code == 0
    assert f"server: throwaway PostgreSQL {server['version']} on 127.0.0.1" in out
    assert f"binaries: PostgreSQL {server['version']}, {server['binaries']['source']} ({server['binaries']['bindir']}), the closest here to engine_version 16" in out
    assert "the server is full: only a superuser or a role with privileges of pg_use_reserved_connections" in out


def test_a_15_topology_keeps_postgresql_15(tmp_path: Path) -> None:
    """RDS 15.8: 3 + rds_superuser 2 = 5 of 30, usable 25; PostgreSQL before 16, both reserves in superuser_reserved_connections."""
    require_binaries(below=16)
    path = tmp_path / "rds15.yaml"
    path.write_text(RDS16.format(version="15.8"))
    code, doc, _ = run_verify([str(path), "--local", "--scenario", "peak"])
    assert code == 0
    assert_matches_plan(doc, path, "main", "peak")
    assert (doc["refused"]["ordinal"], doc["refused"]["source_ordinal"]) == (26, 10) and doc["server"]["binaries"]["major"] < 16
    assert doc["server"]["reserved_slots"] == {"superuser_reserved_connections": 5}
    assert doc["refused"]["message"] == PG15_REFUSAL and doc["refused"]["kind"] == "superuser"


def test_a_16_topology_on_older_binaries_folds_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """$PLANNER_PG_BINDIR forces a PostgreSQL before 16: reserved_connections does not exist there, so all 9 are
    folded into superuser_reserved_connections, the refusal still comes at the plan's connection, and the notes say why."""
    older = require_binaries(below=16)
    monkeypatch.setenv("PLANNER_PG_BINDIR", str(older.bindir))
    path = tmp_path / "rds16.yaml"
    path.write_text(RDS16.format(version="16"))
    code, doc, _ = run_verify([str(path), "--local", "--scenario", "peak"])
    assert code == 0
    assert_matches_plan(doc, path, "main", "peak")
    assert doc["server"]["binaries"]["origin"] == "env" and doc["server"]["version"] == older.version
    assert doc["server"]["reserved_slots"] == {"superuser_reserved_connections": 9}
    assert doc["notes"][0].startswith(f"the topology says engine_version 16, but $PLANNER_PG_BINDIR has PostgreSQL {older.version}")
    assert "3 + rds.rds_reserved_connections 4 + reserved_connections 2" in doc["notes"][1]
    assert doc["refused"]["message"] == PG15_REFUSAL  # 15's words: the plan's limit, not 16's texts
    code, out, _ = run_cli(["verify", str(path), "--local", "--scenario", "peak"])
    assert code == 0 and f"  binaries: PostgreSQL {older.version}, $PLANNER_PG_BINDIR ({older.bindir})\n" in out


# --------------------------------------------------------------------------- --dsn


DSN_TOPOLOGY = """
version: 1
databases:
  main: {{engine: self-managed, engine_version: "15", parameters: {{max_connections: {max_connections}, superuser_reserved_connections: 3}}}}
services:
  web: {{replicas: 1, max_surge: 0, pool: {web}}}
  jobs: {{connections: 2}}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    yield from start_postgres_with_app_role()


def topology_file(tmp_path: Path, web: int, max_connections: int = 20) -> Path:
    path = tmp_path / "dsn.yaml"
    path.write_text(DSN_TOPOLOGY.format(web=web, max_connections=max_connections))
    return path


def tagged_sessions(server: PostgresServer) -> int:
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        deadline = time.monotonic() + 5
        while True:
            row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name IN ('web@default', 'jobs@default')").fetchone()
            if row == (0,) or time.monotonic() > deadline:
                return int(row[0]) if row else 0
            time.sleep(0.05)


def test_dsn_refuses_where_predicted_and_closes_everything(server: PostgresServer, tmp_path: Path) -> None:
    path = topology_file(tmp_path, web=20)
    code, doc, _ = run_verify([str(path), "--dsn", server.dsn("app"), "--yes"])
    assert code == 0 and doc["target"] == "dsn" and doc["connect_as"] == "app"
    assert (doc["refused"]["ordinal"], doc["refused"]["source"], doc["predicted_refused_ordinal"]) == (18, "web@default", 18)
    assert REFUSAL in doc["refused"]["message"]
    assert tagged_sessions(server) == 0


def test_dsn_counts_sessions_already_connected(server: PostgresServer, tmp_path: Path) -> None:
    others = [psycopg.connect(server.dsn("app"), autocommit=True), psycopg.connect(server.dsn(), autocommit=True)]
    try:
        code, doc, _ = run_verify([str(topology_file(tmp_path, web=20)), "--dsn", server.dsn("app"), "--yes"])
    finally:
        for conn in others:
            conn.close()
    assert code == 0 and doc["already_connected"] == 2
    assert doc["refused"]["ordinal"] == doc["predicted_refused_ordinal"] == 16


def test_dsn_within_budget_opens_exactly_the_scenario(server: PostgresServer, tmp_path: Path) -> None:
    path = topology_file(tmp_path, web=5, max_connections=100)  # the plan's budget differs from the server's: said so
    code, out, err = run_cli(["verify", str(path), "--dsn", server.dsn("app"), "--yes"])
    assert code == 0, err
    assert "refused: none (7 connections opened)" in out and "PASS" in out
    assert "this server's budget differs from the plan's: max_connections 20 (plan 100)" in out
    assert tagged_sessions(server) == 0


@pytest.mark.parametrize(
    ("extra", "code", "fragment"),
    [
        ([], 2, "add --yes"),  # no terminal to ask
        (["--yes", "--superuser"], 2, "is a superuser"),
        (["--yes", "--scale", "2"], 2, "--scale: applies to --local only"),
        (["--yes", "--down"], 3, "Connection refused"),
    ],
)
def test_dsn_refusals(server: PostgresServer, tmp_path: Path, extra: list[str], code: int, fragment: str) -> None:
    dsn = server.dsn("app") + " password=s3cr3t-xyz"
    if "--superuser" in extra:
        extra, dsn = [e for e in extra if e != "--superuser"], server.dsn()
    if "--down" in extra:
        extra, dsn = [e for e in extra if e != "--down"], f"postgresql://app:s3cr3t-xyz@127.0.0.1:{free_port()}/postgres"
    got, out, err = run_cli(["verify", str(topology_file(tmp_path, web=20)), "--dsn", dsn, *extra])
    assert got == code and out == ""
    assert fragment in err and "s3cr3t" not in err and len(err.strip().splitlines()) == 1
    assert tagged_sessions(server) == 0


def test_verify_usage_errors(tmp_path: Path) -> None:
    path = EXAMPLES / "beanstalk-flask.yaml"
    for args, fragment in [
        ([str(path)], "exactly one of --local"),
        ([str(path), "--local", "--dsn", "host=x"], "exactly one of --local"),
        ([str(path), "--local", "--scenario", "burst"], "unknown scenario 'burst'"),
        ([str(path), "--local", "--database", "nope"], "no database named 'nope'"),
        ([str(path), "--local", "--scale", "30"], "leaves nothing above the 5 reserved slots"),
    ]:
        code, out, err = run_cli(["verify", *args])
        assert code == 2 and out == "" and fragment in err, (args, err)
