"""``planner inspect`` against a real PostgreSQL with known settings and known sessions, and a
real PgBouncer in front of it: the report is exact, nothing is written, passwords never show."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Iterator

import psycopg
import pytest

from .conftest import run_cli
from .pgserver import PostgresServer, free_port, start_pgbouncer, start_postgres, wait_for_port

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
    assert budget["rds.rds_superuser_reserved_connections"] is None
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
    assert "usable by ordinary roles                 17" in out
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
