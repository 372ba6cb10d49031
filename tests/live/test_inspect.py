"""``planner inspect`` against a real PostgreSQL with known settings and known sessions, and a
real PgBouncer in front of it: the report is exact, nothing is written, passwords never show."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Iterator

import psycopg
import pytest

from ..conftest import run_cli
from ..pgserver import PostgresServer, free_port, require_binaries, start_pgbouncer, start_postgres, wait_for_port

pytestmark = pytest.mark.server

SECRET = "s3cr3t-xyz"
TOPOLOGY = """
version: 1
databases:
  main: {engine: self-managed, engine_version: "15", parameters: {max_connections: 20, superuser_reserved_connections: 3}}
environments:
  prod: {}
services:
  web: {replicas: 1, max_surge: 0, pool: 2}
  worker: {replicas: 1, max_surge: 0, pool: 2}
"""


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    # every statement is logged with its application_name: the test reads what inspect sent
    yield from start_postgres({
        "max_connections": 20, "superuser_reserved_connections": 3, "log_statement": "all", "log_line_prefix": "%a|",
    })


@pytest.fixture(scope="module")
def sessions(server: PostgresServer) -> Iterator[list[psycopg.Connection]]:
    """3 sessions of web@prod and 2 of worker as the ordinary role app, one superuser psql."""
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        admin.execute("CREATE ROLE app LOGIN")
        admin.execute("CREATE ROLE watcher LOGIN")  # sees every session, may not end them
        admin.execute("GRANT pg_read_all_stats TO watcher")
    held = [psycopg.connect(server.dsn("app"), autocommit=True, application_name="web@prod") for _ in range(3)]
    held += [psycopg.connect(server.dsn("app"), autocommit=True, application_name="worker") for _ in range(2)]
    held.append(psycopg.connect(server.dsn(), autocommit=True, application_name="psql"))
    yield held
    for conn in held:
        conn.close()


@pytest.fixture()
def idle(server: PostgresServer, sessions: list[psycopg.Connection]) -> Iterator[psycopg.Connection]:
    """One more web@prod session of app, idle in a transaction for more than a second."""
    conn = psycopg.connect(server.dsn("app"), application_name="web@prod")
    conn.execute("SELECT 1")
    time.sleep(1.2)
    yield conn
    conn.close()


def alive(server: PostgresServer, pid: int) -> bool:
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        return admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone() == (1,)


def inspect_json(server: PostgresServer, *args: str, user: str | None = None) -> dict:
    code, out, err = run_cli(["inspect", "--dsn", server.dsn(user), "--format", "json", *args])
    assert code == 0, err
    return json.loads(out)


def statements_of(server: PostgresServer, application: str) -> list[str]:
    log = (server.root / "log").read_text(errors="replace")
    return [line.split("statement: ", 1)[1] for line in log.splitlines() if line.startswith(f"{application}|") and "statement: " in line]


def test_inspect_reports_budget_sessions_and_idle_transactions_exactly(server: PostgresServer, idle: psycopg.Connection) -> None:
    doc = inspect_json(server, "--idle-after", "1s")
    budget = doc["budget"]
    # 3 web@prod + 2 worker + 1 idle web@prod (app) + psql and this inspect session (superusers)
    assert {k: budget[k] for k in ("max_connections", "superuser_reserved_connections", "reserved", "usable", "in_use",
                                   "in_use_superuser", "in_use_ordinary", "free")} == {
        "max_connections": 20, "superuser_reserved_connections": 3, "reserved": 3, "usable": 17, "in_use": 8,
        "in_use_superuser": 2, "in_use_ordinary": 6, "free": 9,
    }
    assert budget["percent_used"] == 47.1 and budget["reserved_connections"] is None
    assert budget["rds.rds_superuser_reserved_connections"] is None and budget["rds.rds_reserved_connections"] is None
    assert budget["reserved_detail"] == [
        {"parameter": "superuser_reserved_connections", "value": 3, "who": "superusers only (on RDS: AWS's rdsadmin)", "you_may_use": True}]
    # this session is a superuser's: every slot is its own; no rds_superuser role on community PostgreSQL
    assert doc["you"] == {
        "role": "postgres", "superuser": True, "rds_superuser": False, "pg_use_reserved_connections": False,
        "may_use": ["superuser_reserved_connections"], "must_leave_free": 0, "may_hold": 20, "free_now": 12,
        "why": "you are a superuser: every slot is yours, the reserved ones too",
    }
    assert doc["server"]["version"].startswith(str(server.version())) and doc["server"]["read_only"] is True
    assert doc["sessions"]["application_name"] == {"web@prod": 4, "worker": 2, "planner inspect": 1, "psql": 1}
    assert doc["sessions"]["user"] == {"app": 6, "postgres": 2}
    assert doc["sessions"]["state"] == {"idle": 6, "active": 1, "idle in transaction": 1}
    assert doc["sessions"]["backend_type"]["client backend"] == 8
    (stale,) = doc["idle_in_transaction"]
    assert (stale["pid"], stale["application_name"], stale["user"], stale["terminable"]) == (idle.info.backend_pid, "web@prod", "app", True)
    assert stale["state_seconds"] >= 1.0
    assert doc["oldest_transaction"]["pid"] == idle.info.backend_pid
    advice = {a["kind"]: a for a in doc["advice"]}
    assert f"pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = {idle.info.backend_pid} " in advice["terminate"]["sql"]
    assert advice["timeout"]["sql"] == "ALTER ROLE \"app\" SET idle_in_transaction_session_timeout = '1s';"
    assert doc["terminated"] is None
    # advice is only printed: the session is still there, and inspect sent nothing that writes
    assert alive(server, idle.info.backend_pid)
    sent = statements_of(server, "planner inspect")
    assert sent[0] == "SET default_transaction_read_only = 'on'" and "SET statement_timeout = '10s'" in sent
    assert all(s.split()[0] in ("SET", "SELECT", "BEGIN", "COMMIT") for s in sent), sent
    assert not any("pg_terminate_backend" in s for s in sent)


def test_text_report(server: PostgresServer, idle: psycopg.Connection) -> None:
    code, out, err = run_cli(["inspect", "--dsn", server.dsn(), "--idle-after", "1s"])
    assert code == 0 and err == ""
    assert "superuser_reserved_connections           3     superusers only (on RDS: AWS's rdsadmin)" in out
    assert "usable by ordinary roles                 17" in out
    # (a session that just closed may still hold its slot a moment: the count of free ones is the snapshot's own)
    in_use = int(re.search(r"\n  in use +(\d+) ", out).group(1))  # type: ignore[union-attr]
    assert f"you (role postgres) may open 20 in all, {20 - in_use} more now: you are a superuser" in out
    assert "idle in transaction for more than 1.0s: 1" in out
    assert f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = {idle.info.backend_pid}" in out
    assert "planner inspect --terminate runs" in out


def test_terminate_needs_confirmation_and_ends_only_ordinary_stale_sessions(server: PostgresServer, idle: psycopg.Connection) -> None:
    superuser_idle = psycopg.connect(server.dsn(), application_name="psql-tx")
    superuser_idle.execute("SELECT 1")
    time.sleep(1.1)
    try:
        code, _, err = run_cli(["inspect", "--dsn", server.dsn(), "--idle-after", "1s", "--terminate"])
        assert code == 2 and "--yes" in err  # no terminal to ask: nothing done
        assert alive(server, idle.info.backend_pid)
        doc = inspect_json(server, "--idle-after", "1s", "--terminate", "--yes", user="watcher")
        assert "pg_signal_backend" in doc["terminated"][str(idle.info.backend_pid)]  # the server's refusal, reported
        assert alive(server, idle.info.backend_pid)
        doc = inspect_json(server, "--idle-after", "1s", "--terminate", "--yes")
        assert doc["terminated"] == {str(idle.info.backend_pid): True}
        deadline = time.monotonic() + 5
        while alive(server, idle.info.backend_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(server, idle.info.backend_pid)
        assert alive(server, superuser_idle.info.backend_pid)  # superusers' sessions are never ended
        stale = [s["pid"] for s in doc["idle_in_transaction"]]
        assert superuser_idle.info.backend_pid in stale
    finally:
        superuser_idle.close()


def test_planned_vs_actual_with_a_topology(server: PostgresServer, sessions: list[psycopg.Connection], tmp_path: Path) -> None:
    topology = tmp_path / "shop.yaml"
    topology.write_text(TOPOLOGY)
    doc = inspect_json(server, "--topology", str(topology), "--database", "main")
    rows = {r["source"]: (r["peak"], r["actual"], r["above_plan"]) for r in doc["plan"]["sources"]}
    assert rows == {"web@prod": (2, 3, True), "worker@prod": (2, 2, False)}
    assert doc["plan"]["above_plan"] == ["web@prod"]
    assert doc["plan"]["unknown_clients"] == {"psql": 1}
    code, out, _ = run_cli(["inspect", "--dsn", server.dsn(), "--topology", str(topology)])
    assert code == 0 and "ABOVE PLAN" in out and "unknown clients: psql 1" in out


def test_an_ordinary_role_sees_the_same_budget(server: PostgresServer, sessions: list[psycopg.Connection]) -> None:
    as_app = inspect_json(server, user="app")
    as_superuser = inspect_json(server)
    assert as_app["budget"]["in_use"] == as_superuser["budget"]["in_use"]
    assert as_app["hidden_sessions"] == 1  # psql: another role's session, without pg_read_all_stats
    assert as_app["server"]["superuser"] is False
    in_use = as_app["budget"]["in_use"]
    assert (as_app["you"]["must_leave_free"], as_app["you"]["may_hold"], as_app["you"]["free_now"]) == (3, 17, 17 - in_use)
    assert as_app["you"]["may_use"] == [] and as_app["budget"]["reserved_detail"][0]["you_may_use"] is False


# --------------------------------------------------------------------------- the server's own reserves, RDS's too
#
# Community PostgreSQL has no rds.* settings; set in postgresql.conf they are placeholders, which inspect reads as
# it reads RDS's (they are not enforced: these servers stand in for RDS only in what inspect reads). The roles are
# RDS's: rds_superuser, with pg_use_reserved_connections granted on 16+ as RDS grants it, and a master user in it.

RDS_ROLES = ["CREATE ROLE rds_superuser NOLOGIN", "CREATE ROLE master LOGIN IN ROLE rds_superuser", "CREATE ROLE app LOGIN"]


@pytest.fixture(scope="module")
def rds16() -> Iterator[PostgresServer]:
    """PostgreSQL 16+ as RDS 16.5+ sets it: superuser 3, rds_reserved 4, reserved_connections 2 of 30."""
    binaries = require_binaries(at_least=16)
    settings = {"max_connections": 30, "superuser_reserved_connections": 3, "reserved_connections": 2, "rds.rds_reserved_connections": 4}
    for server in start_postgres(settings, binaries):
        with psycopg.connect(server.dsn(), autocommit=True) as admin:
            for statement in [*RDS_ROLES, "GRANT pg_use_reserved_connections TO rds_superuser"]:
                admin.execute(statement)
        yield server


@pytest.fixture(scope="module")
def rds15() -> Iterator[PostgresServer]:
    """PostgreSQL before 16 as RDS 15.9+ sets it: superuser 3, rds_reserved 4, rds_superuser 2 of 30 (no pg_use_reserved_connections role)."""
    binaries = require_binaries(below=16)
    settings = {"max_connections": 30, "superuser_reserved_connections": 3, "rds.rds_reserved_connections": 4,
                "rds.rds_superuser_reserved_connections": 2}
    for server in start_postgres(settings, binaries):
        with psycopg.connect(server.dsn(), autocommit=True) as admin:
            for statement in RDS_ROLES:
                admin.execute(statement)
        yield server


RDS16_DETAIL = [
    ("superuser_reserved_connections", 3, "superusers only (on RDS: AWS's rdsadmin)"),
    ("rds.rds_reserved_connections", 4, "the rds_reserved role (AWS's own sessions)"),
    ("reserved_connections", 2, "roles with pg_use_reserved_connections (rds_superuser, so the master user)"),
]


@pytest.mark.parametrize(
    ("user", "flags", "may_use", "may_hold", "why"),
    [
        ("app", (False, False, False), [], 21,
         "an ordinary role (no superuser, rds_superuser or pg_use_reserved_connections): no reserved slot is yours"),
        ("master", (False, True, True), ["reserved_connections"], 23,
         "you are a member of rds_superuser and you have pg_use_reserved_connections, so the slots of reserved_connections are yours too"),
        # pg_has_role answers true to a superuser for every role: so does inspect
        (None, (True, True, True), ["superuser_reserved_connections", "rds.rds_reserved_connections", "reserved_connections"], 30,
         "you are a superuser: every slot is yours, the reserved ones too"),
    ],
)
def test_rds16_reserves_itemised_and_what_each_role_may_open(
    rds16: PostgresServer, user: str | None, flags: tuple[bool, bool, bool], may_use: list[str], may_hold: int, why: str
) -> None:
    doc = inspect_json(rds16, user=user)
    budget, you = doc["budget"], doc["you"]
    assert [(d["parameter"], d["value"], d["who"]) for d in budget["reserved_detail"]] == RDS16_DETAIL
    assert [d["parameter"] for d in budget["reserved_detail"] if d["you_may_use"]] == may_use
    assert (budget["reserved"], budget["usable"], budget["rds.rds_reserved_connections"], budget["reserved_connections"]) == (9, 21, 4, 2)
    assert budget["rds.rds_superuser_reserved_connections"] is None  # RDS has none on 16+
    assert (doc["server"]["superuser"], doc["server"]["rds_superuser"], doc["server"]["pg_use_reserved_connections"]) == flags
    assert (you["may_use"], you["may_hold"], you["must_leave_free"], you["why"]) == (may_use, may_hold, 30 - may_hold, why)
    assert you["free_now"] == may_hold - budget["in_use"]
    code, out, err = run_cli(["inspect", "--dsn", rds16.dsn(user)])
    assert code == 0, err
    for parameter, value, who in RDS16_DETAIL:
        assert f"  {parameter:<40} {value:<5} {who}" in out
    in_use = int(re.search(r"\n  in use +(\d+) ", out).group(1))  # type: ignore[union-attr]  # this run's own count
    assert f"you (role {user or 'postgres'}) may open {may_hold} in all, {may_hold - in_use} more now: {why}" in out


def test_rds15_master_user_takes_rds_superusers_slots_not_rds_reserved(rds15: PostgresServer) -> None:
    doc = inspect_json(rds15, user="master")
    assert [(d["parameter"], d["value"], d["you_may_use"]) for d in doc["budget"]["reserved_detail"]] == [
        ("superuser_reserved_connections", 3, False), ("rds.rds_reserved_connections", 4, False),
        ("rds.rds_superuser_reserved_connections", 2, True)]
    assert doc["budget"]["reserved_connections"] is None  # before 16: no such setting, and no pg_use_reserved_connections role to ask about
    assert (doc["server"]["rds_superuser"], doc["server"]["pg_use_reserved_connections"]) == (True, False)
    assert (doc["you"]["may_hold"], doc["you"]["must_leave_free"], doc["budget"]["usable"]) == (23, 7, 21)
    assert inspect_json(rds15, user="app")["you"]["may_hold"] == 21


def connect_when_a_slot_frees(dsn: str) -> psycopg.Connection:
    """Connect, waiting up to 5 s for the slot a just-refused attempt still holds while its backend exits."""
    deadline = time.monotonic() + 5
    while True:
        try:
            return psycopg.connect(dsn, autocommit=True)
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_full_16_server_explains_each_refusal() -> None:
    """PostgreSQL 16's three refusals, as an ordinary role, a role with pg_use_reserved_connections and a superuser meet them."""
    binaries = require_binaries(at_least=16)
    for small in start_postgres({"max_connections": 8, "superuser_reserved_connections": 2, "reserved_connections": 2}, binaries):
        with psycopg.connect(small.dsn(), autocommit=True) as admin:
            admin.execute("CREATE ROLE app LOGIN")
            admin.execute("CREATE ROLE priv LOGIN IN ROLE pg_use_reserved_connections")
        held: list[psycopg.Connection] = []
        try:
            for user, count, words, who, hint in [
                ("app", 4, 'for roles with privileges of the "pg_use_reserved_connections" role',
                 "only a superuser or a role with privileges of pg_use_reserved_connections (on RDS: rds_superuser members, so the master user)",
                 "connect as a superuser or, on RDS, as the master user"),
                ("priv", 2, "for roles with the SUPERUSER attribute", "only a superuser could connect now; on RDS that is AWS's rdsadmin alone",
                 "on RDS, where not even the master user is one, end sessions"),
                ("postgres", 2, "sorry, too many clients already", "every slot is taken, even those reserved for superusers",
                 "wait for a session to end"),
            ]:
                held += [connect_when_a_slot_frees(small.dsn(user)) for _ in range(count)]
                code, out, err = run_cli(["inspect", "--dsn", small.dsn(user) + f" password={SECRET}"])
                assert code == 3 and out == "" and len(err.strip().splitlines()) == 1 and SECRET not in err
                assert words in err and f"the server is full: {who}" in err and hint in err, err
        finally:
            for conn in held:
                conn.close()


def test_server_down_exits_3_with_one_line_and_no_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "env-" + SECRET)
    port = free_port()
    for dsn in (f"postgresql://app:{SECRET}@127.0.0.1:{port}/shop", f"host=127.0.0.1 port={port} user=app password={SECRET}"):
        code, out, err = run_cli(["inspect", "--dsn", dsn])
        assert code == 3 and out == ""
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert f"app@127.0.0.1:{port}/" in err and "Connection refused" in err
        assert SECRET not in out + err


def test_full_server_exits_3_saying_only_a_superuser_could_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "env-" + SECRET)
    for small in start_postgres({"max_connections": 6, "superuser_reserved_connections": 3}):
        with psycopg.connect(small.dsn(), autocommit=True) as admin:
            admin.execute("CREATE ROLE app LOGIN")
        held = [psycopg.connect(small.dsn("app"), autocommit=True) for _ in range(3)]
        try:
            code, out, err = run_cli(["inspect", "--dsn", small.dsn("app") + f" password={SECRET}", "--format", "json"])
            assert code == 3 and out == ""
            assert "the server is full: only a superuser could connect now" in err
            assert "remaining connection slots are reserved" in err
            assert len(err.strip().splitlines()) == 1 and SECRET not in err
            doc = inspect_json(small)  # a superuser still gets in, and sees why
            assert (doc["budget"]["in_use"], doc["budget"]["free"]) == (4, 0)
        finally:
            for conn in held:
                conn.close()


PGBOUNCER_INI = """
[databases]
main = host=127.0.0.1 port={server_port} dbname=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = userlist.txt
admin_users = admin
pool_mode = transaction
default_pool_size = 2
reserve_pool_size = 1
max_client_conn = 50
"""


def test_pgbouncer_pools_against_the_server_budget(server: PostgresServer, sessions: list[psycopg.Connection], tmp_path: Path) -> None:
    port = free_port()
    ini = PGBOUNCER_INI.format(server_port=server.port, port=port)
    for _ in start_pgbouncer(ini, {"userlist.txt": '"app" ""\n"admin" ""\n'}):
        wait_for_port(port)
        client = f"host=127.0.0.1 port={port} dbname=main user=app connect_timeout=5"
        holders = [psycopg.connect(client) for _ in range(2)]
        for conn in holders:
            conn.execute("SELECT 1")  # a transaction left open holds its server connection
        waiter = psycopg.connect(client, autocommit=True)
        thread = threading.Thread(target=lambda: waiter.execute("SELECT 1"))
        thread.start()
        try:
            url = f"postgresql://admin:{SECRET}@127.0.0.1:{port}/pgbouncer"
            deadline = time.monotonic() + 5
            while True:
                code, out, err = run_cli(["inspect", "--pgbouncer", url, "--dsn", server.dsn(), "--format", "json"])
                assert code == 0, err
                bouncer = json.loads(out)["pgbouncer"]
                if bouncer["clients_waiting"] == 1 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            (pool,) = bouncer["pools"]
            assert (pool["database"], pool["user"], pool["cl_active"], pool["cl_waiting"], pool["sv_active"], pool["servers"]) == (
                "main", "app", 2, 1, 2, 2)
            assert bouncer["server_connections"] == 2 and bouncer["server_capacity"] == 3  # pool 2 + reserve 1
            assert bouncer["budget"] == {"source": "live", "where": f"postgres@127.0.0.1:{server.port}/postgres", "usable": 17}
            assert bouncer["config"]["default_pool_size"] == "2" and bouncer["version"].startswith("PgBouncer")
            code, out, err = run_cli(["inspect", "--pgbouncer", url])
            assert code == 0 and "server connections: 2 now, at most 3" in out and SECRET not in out + err
            topology = tmp_path / "shop.yaml"
            topology.write_text(TOPOLOGY.replace("max_connections: 20", "max_connections: 12"))
            code, out, err = run_cli(["inspect", "--pgbouncer", url, "--topology", str(topology)])
            assert code == 0, err
            assert f"against the budget: 2 of usable 9 (plan: main/writer of {topology})" in out
        finally:
            for conn in holders:
                conn.commit()
            thread.join(10)
            for conn in [*holders, waiter]:
                conn.close()
        code, _, err = run_cli(["inspect", "--pgbouncer", f"postgresql://app@127.0.0.1:{port}/pgbouncer"])
        assert code == 3 and "not allowed" in err  # not an admin user: PgBouncer refuses


def test_usage_errors_exit_2() -> None:
    for args, fragment in [
        (["inspect"], "give --dsn URL"),
        (["inspect", "--dsn", "host=x", "--idle-after", "5x"], "--idle-after: '5x' is not a duration"),
        (["inspect", "--dsn", "host=x", "--database", "main"], "give --topology too"),
        (["inspect", "--dsn", f"nonsense {SECRET}"], "not a valid connection string"),
    ]:
        code, out, err = run_cli(args)
        assert code == 2 and out == "" and fragment in err and SECRET not in err, (args, err)
