"""``planner inspect --sample`` and ``planner recommend --observed`` against a real PostgreSQL and real clients.

The clients are the libraries services use, run as services run them: two processes with a psycopg_pool
ConnectionPool each (8 connections, one always running a query, one of them adding a short query every
1.2 s), a SQLAlchemy QueuePool in threads (3 connections: one running a query, one idle in a
transaction, one idle in the pool), and a process that opens a connection every 0.2 s and never closes
one (a leak). The figures inspect reports, the leaks it names, the SQL it advises and the pool caps
recommend derives from the samples file are asserted; so is what the sampling session sent (the server
logs every statement with its application_name): three SETs, then one read-only query per sample.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import psycopg
import pytest
import sqlalchemy

from planner.adapters.postgres import SAMPLE_QUERY

from ..conftest import run_cli
from ..pgserver import PostgresServer, start_postgres

pytestmark = pytest.mark.server

ROOT = Path(__file__).parents[2]
SECRET = "s3cr3t-sample"
TOPOLOGY = """
version: 1
databases:
  main: {engine: self-managed, engine_version: "15", parameters: {max_connections: 60, superuser_reserved_connections: 3}}
environments:
  prod: {}
services:
  web: {replicas: 2, max_surge: 0, threads: 3, pool: {driver: psycopg-pool, size: 8}}
  worker: {replicas: 1, max_surge: 0, pool: {driver: sqlalchemy, size: 3, max_overflow: 2}}
  reports: {replicas: 1, max_surge: 0, threads: 4, pool: {driver: hikari, size: 30}}
"""

# A web process: a psycopg_pool of 8, one connection always busy; with "burst", a second one every 1.2 s for 0.3 s.
WEB = r"""
import sys, threading, time
from psycopg_pool import ConnectionPool
pool = ConnectionPool(sys.argv[1], min_size=8, max_size=8, kwargs={"application_name": "web@prod", "autocommit": True})
pool.wait()
def run(sql, pause):
    while True:
        try:
            with pool.connection() as conn:
                conn.execute(sql)
        except Exception:
            return
        time.sleep(pause)
threading.Thread(target=run, args=("SELECT pg_sleep(3600)", 0), daemon=True).start()
if sys.argv[2] == "burst":
    threading.Thread(target=run, args=("SELECT pg_sleep(0.3)", 1.2), daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
"""

# A leaking process: after "go", a new connection every 0.2 s, none ever closed.
LEAKY = r"""
import sys, time, psycopg
print("ready", flush=True)
sys.stdin.readline()
held = []
for _ in range(int(sys.argv[2])):
    held.append(psycopg.connect(sys.argv[1], application_name="leaky", autocommit=True))
    time.sleep(0.2)
sys.stdin.read()
"""


def start(script: str, *args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-c", script, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process


def stop(process: subprocess.Popen[str]) -> None:
    process.kill()
    process.wait(10)


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    # every statement is logged with its application_name: the test counts what the sampling session sent
    for server in start_postgres({"max_connections": 60, "superuser_reserved_connections": 3, "log_statement": "all",
                                  "log_line_prefix": "%a|"}):  # fmt: skip
        with psycopg.connect(server.dsn(), autocommit=True) as admin:
            for statement in ("CREATE ROLE app LOGIN", "CREATE ROLE watcher LOGIN", "GRANT pg_read_all_stats TO watcher",
                              "CREATE ROLE nosy LOGIN"):  # fmt: skip
                admin.execute(statement)
        yield server


def busy(server: PostgresServer, application_name: str) -> tuple[int, int]:
    """Return (held, active) of ``application_name`` now."""
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        row = admin.execute("SELECT count(*), count(*) FILTER (WHERE state = 'active') FROM pg_stat_activity WHERE application_name = %s",
                            [application_name]).fetchone()  # fmt: skip
    assert row is not None
    return int(row[0]), int(row[1])


def wait_for(server: PostgresServer, application_name: str, held: int, active: int) -> None:
    deadline = time.monotonic() + 30
    while busy(server, application_name)[:1] != (held,) or busy(server, application_name)[1] < active:
        assert time.monotonic() < deadline, busy(server, application_name)
        time.sleep(0.05)


@pytest.fixture(scope="module")
def services(server: PostgresServer) -> Iterator[dict[str, Any]]:
    """web@prod in two processes (psycopg_pool), worker in threads (SQLAlchemy), and a superuser's psql."""
    dsn = server.dsn("app")
    webs = [start(WEB, dsn, "burst"), start(WEB, dsn, "steady")]
    engine = sqlalchemy.create_engine(f"postgresql+psycopg://app@127.0.0.1:{server.port}/postgres", pool_size=3, max_overflow=2,
                                      connect_args={"application_name": "worker"})  # fmt: skip
    a, b, c = engine.connect(), engine.connect(), engine.connect()
    c.close()  # back in the pool: idle
    b.execute(sqlalchemy.text("SELECT 1"))  # SQLAlchemy began a transaction: idle in it from now on

    def query() -> None:
        try:
            a.execute(sqlalchemy.text("SELECT pg_sleep(3600)"))
        except Exception:  # noqa: BLE001 - the server stops at the end of the module
            pass

    threading.Thread(target=query, daemon=True).start()
    psql = psycopg.connect(server.dsn(), autocommit=True, application_name="psql")
    wait_for(server, "web@prod", 16, 2)
    wait_for(server, "worker", 3, 1)
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        worker_tx = admin.execute("SELECT pid FROM pg_stat_activity WHERE application_name = 'worker' AND state = 'idle in transaction'").fetchone()
    time.sleep(1.1)  # the worker's transaction is idle past --idle-after 1s
    yield {"worker_tx_pid": worker_tx[0] if worker_tx else None}
    for process in webs:
        stop(process)
    with psycopg.connect(server.dsn(), autocommit=True) as admin:  # the worker's query runs until its session ends
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'worker'")
    for conn in (a, b):
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - ended above
            pass
    engine.dispose()
    psql.close()


def log_lines(server: PostgresServer) -> list[str]:
    return (server.root / "log").read_text(errors="replace").splitlines()


@pytest.fixture(scope="module")
def sampled(server: PostgresServer, services: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One 4-second window sampled every 250 ms as watcher (pg_read_all_stats) while the leak runs."""
    folder = tmp_path_factory.mktemp("sampled")
    topology = folder / "shop.yaml"
    topology.write_text(TOPOLOGY)
    leaky = start(LEAKY, server.dsn("app"), "20")
    before = len(log_lines(server))
    assert leaky.stdin is not None
    leaky.stdin.write("go\n")
    leaky.stdin.flush()
    code, out, err = run_cli(["inspect", "--dsn", server.dsn("watcher"), "--sample", "4s", "--every", "250ms", "--idle-after", "1s",
                              "--topology", str(topology), "--format", "json", "-o", str(folder / "samples.json")])  # fmt: skip
    sent = [line for line in log_lines(server)[before:] if line.startswith("planner inspect|")]
    yield {"code": code, "doc": json.loads(out) if code == 0 else None, "err": err, "file": folder / "samples.json",
           "topology": topology, "sent": sent, "leaky": leaky}  # fmt: skip
    stop(leaky)


def group(doc: dict[str, Any], name: str, user: str = "app") -> dict[str, Any]:
    (found,) = [g for g in doc["groups"]["application_name_user"] if (g["application_name"], g["user"]) == (name, user)]
    return found


def test_held_active_and_idle_in_transaction_per_application(sampled: dict[str, Any]) -> None:
    assert sampled["code"] == 0 and sampled["err"] == "", sampled["err"]
    doc = sampled["doc"]
    window = doc["window"]
    assert (window["planned_samples"], window["samples"], window["missed"], window["stopped"], window["partial"]) == (16, 16, 0, None, False)
    assert doc["server"]["user"] == "watcher" and doc["server"]["max_connections"] == 60
    web = group(doc, "web@prod")
    # two pools of 8, one query each always running, one process adding a 0.3 s query every 1.2 s
    assert (web["clients"], web["held_min"], web["held_median"], web["held_max"]) == (1, 16, 16, 16)
    assert (web["active_median"], web["active_p95"], web["active_max"]) == (2, 3, 3)
    assert (web["idle_in_transaction_max"], web["busy_p99"], web["busy_per_client_p99"]) == (0, 3, 3)
    worker = group(doc, "worker")
    assert (worker["held_min"], worker["held_max"], worker["active_max"], worker["idle_median"]) == (3, 3, 1, 1)
    assert (worker["idle_in_transaction_median"], worker["idle_in_transaction_max"], worker["busy_p99"]) == (1, 1, 2)
    assert worker["longest_idle_in_transaction"] >= 1.0
    leaky = group(doc, "leaky")
    assert leaky["active_max"] == 0 and leaky["held_max"] >= leaky["held_min"] + 10
    assert group(doc, "psql", "postgres")["held_max"] == 1
    # the sampling session itself is left out; nothing is hidden from a role with pg_read_all_stats
    assert "planner inspect" not in {g["application_name"] for g in doc["groups"]["application_name_user"]}
    assert doc["totals"]["hidden_max"] == 0 and doc["groups"]["client"][0]["client"] == "127.0.0.1"


def test_each_source_against_its_declared_pool(sampled: dict[str, Any]) -> None:
    plan = sampled["doc"]["plan"]
    rows = {r["source"]: r for r in plan["sources"]}
    assert plan["instance"] == f"main/writer of {sampled['topology']}"
    assert (rows["web@prod"]["declared"], rows["web@prod"]["held_max"], rows["web@prod"]["active_max"]) == ("pool 8 × 2 processes", 16, 3)
    assert (rows["worker@prod"]["declared"], rows["worker@prod"]["held_max"], rows["worker@prod"]["application_names"]) == (
        "pool 3 + overflow 2 × 1 process", 3, ["worker"])
    assert rows["reports@prod"]["application_names"] == [] and rows["reports@prod"]["held_max"] == 0
    assert set(plan["unknown_clients"]) == {"leaky", "psql"}


def test_leaks_are_named_with_their_remedies_as_sql(sampled: dict[str, Any], services: dict[str, Any]) -> None:
    doc = sampled["doc"]
    leaks = {leak["kind"]: leak for leak in doc["leaks"]}
    assert set(leaks) == {"idle-in-transaction", "held-rising"}
    stale = leaks["idle-in-transaction"]
    assert (stale["application_name"], stale["user"], stale["pids"], stale["at_end"]) == ("worker", "app", [services["worker_tx_pid"]], 1)
    rising = leaks["held-rising"]
    assert (rising["application_name"], rising["busy_max"], rising["use_hidden"]) == ("leaky", 0, False) and rising["rise"] >= 5
    assert "held rose from" in rising["text"] and "connections opened and not released" in rising["text"]
    advice = [(a["kind"], a["sql"]) for a in doc["advice"]]
    pid = services["worker_tx_pid"]
    assert advice == [
        ("terminate", f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = {pid} AND state IN ('idle in transaction', "
                      "'idle in transaction (aborted)') AND state_change < now() - interval '1 seconds';"),
        ("timeout", "ALTER ROLE \"app\" SET idle_in_transaction_session_timeout = '1s';"),
        ("timeout-database", "ALTER DATABASE \"postgres\" SET idle_in_transaction_session_timeout = '1s';"),
        ("idle-timeout", "ALTER ROLE \"app\" SET idle_session_timeout = '15min';"),
    ]
    assert doc["terminated"] is None  # printed, not run


def test_sampling_sends_three_sets_then_one_read_only_query_per_sample(sampled: dict[str, Any]) -> None:
    statements = [line.split("statement: ", 1)[1] for line in sampled["sent"] if "statement: " in line]
    assert [line for line in sampled["sent"] if "statement: " not in line and "execute" in line] == []  # no prepared statements either
    assert statements[:3] == ["SET default_transaction_read_only = 'on'", "SET lock_timeout = '2s'", "SET statement_timeout = '10s'"]
    first_line = SAMPLE_QUERY.splitlines()[0]
    assert statements[3:] == [first_line] * sampled["doc"]["window"]["samples"]  # the log shows a statement's first line


def test_recommend_caps_pools_at_the_measured_concurrency(sampled: dict[str, Any]) -> None:
    topology, samples = str(sampled["topology"]), str(sampled["file"])
    code, out, err = run_cli(["recommend", topology, "--observed", samples, "--format", "json"])
    assert code == 0, err
    (rec,) = json.loads(out)["recommendations"]
    observed = [o for o in rec["options"] if o["kind"] == "observed-pools"]
    (option,) = observed
    # web: p99 3 in use at once from its one address, × 1.25 → 4, above its 3 threads; worker: 2 (one active, one in a
    # transaction) → 3, its threads not written (1 assumed as the floor); reports: never seen, left as it is
    assert option["details"]["pools"] == {"web": 4, "worker": 3}
    assert option["details"]["measured"]["web"]["per_replica_p99"] == 3 and option["details"]["margin"] == 0.25
    assert option["fits"] and option["after"]["worst_demand"] == option["before"]["worst_demand"] - (2 * (8 - 4) + (5 - 3))
    assert any("worker: threads is not written" in r for r in option["requires"])
    assert any("no session of reports" in n for n in rec["notes"])
    code, out, err = run_cli(["recommend", topology, "--observed", samples, "--margin", "50", "--format", "json"])
    (option,) = [o for o in json.loads(out)["recommendations"][0]["options"] if o["kind"] == "observed-pools"]
    assert option["details"]["pools"] == {"web": 5, "worker": 3}
    # applied, the topology says what the option promised
    rank = next(o["rank"] for o in json.loads(out)["recommendations"][0]["options"] if o["kind"] == "observed-pools")
    applied = sampled["topology"].with_name("shop-observed.yaml")
    code, _, err = run_cli(["recommend", topology, "--observed", samples, "--margin", "50", "--option", f"main:{rank}",
                            "--apply-to-topology", str(applied)])  # fmt: skip
    assert code == 0, err
    code, out, _ = run_cli(["check", str(applied), "--format", "json"])
    assert json.loads(out)["instances"][0]["scenarios"]["peak"]["demand"] == option["after"]["worst_demand"]


def test_recommend_lists_a_database_within_budget_when_observed(sampled: dict[str, Any], tmp_path: Path) -> None:
    small = tmp_path / "small.yaml"
    small.write_text(TOPOLOGY.replace("  reports: {replicas: 1, max_surge: 0, threads: 4, pool: {driver: hikari, size: 30}}\n", ""))
    code, out, _ = run_cli(["recommend", str(small)])
    assert code == 0 and "nothing to recommend" in out
    code, out, err = run_cli(["recommend", str(small), "--observed", str(sampled["file"])])
    assert code == 0, err
    assert "main/writer is ok" in out and f"measured in {sampled['file']} (16 samples every 250ms over 4.0s" in out
    assert "cap the pools on main at the concurrency measured + 25%: web 8 → 4 per process (p99 3 in use at once per replica" in out


def test_text_report(server: PostgresServer, services: dict[str, Any], tmp_path: Path) -> None:
    topology = tmp_path / "shop.yaml"
    topology.write_text(TOPOLOGY)
    code, out, err = run_cli(["inspect", "--dsn", server.dsn("watcher"), "--sample", "1s", "--every", "250ms", "--idle-after", "1s",
                              "--topology", str(topology)])  # fmt: skip
    assert code == 0 and err == "", err
    assert "sampled: 4 samples every 250ms over 1.0s" in out and "one query per sample; this session left out" in out
    assert "web@prod holds 16 (pool 8 × 2 processes; planned steady 16), at most " in out
    assert "worker@prod holds 3 (pool 3 + overflow 2 × 1 process; planned steady 3), at most 1 active in 1.0s" in out
    assert "\n  worker            app  " in out and "advice (SQL printed, not run)" in out
    assert "ALTER ROLE \"app\" SET idle_in_transaction_session_timeout = '1s';" in out


def test_hidden_sessions_are_counted_and_the_grant_named(server: PostgresServer, services: dict[str, Any]) -> None:
    code, out, err = run_cli(["inspect", "--dsn", server.dsn("nosy"), "--sample", "1s", "--every", "500ms", "--format", "json"])
    assert code == 0, err
    doc = json.loads(out)
    web = group(doc, "web@prod")
    assert (web["held_max"], web["hidden_max"], web["active_max"], web["clients"]) == (16, 16, 0, 0)  # held seen, use not
    assert doc["totals"]["hidden_max"] == doc["totals"]["held_max"]
    code, out, _ = run_cli(["inspect", "--dsn", server.dsn("nosy"), "--sample", "1s", "--every", "500ms"])
    assert "GRANT pg_read_all_stats TO \"nosy\"; (or pg_monitor, which includes it) shows them" in out


def test_terminate_ends_the_stale_sessions_after_the_window(server: PostgresServer, services: dict[str, Any]) -> None:
    stale = psycopg.connect(server.dsn("app"), application_name="stale")
    stale.execute("SELECT 1")
    time.sleep(1.1)
    try:
        code, out, err = run_cli(["inspect", "--dsn", server.dsn(), "--sample", "1s", "--idle-after", "1s", "--terminate"])
        assert (code, out) == (2, "") and "--terminate: needs confirmation and there is no terminal to ask: add --yes" in err
        code, out, err = run_cli(["inspect", "--dsn", server.dsn(), "--sample", "1s", "--every", "500ms", "--idle-after", "1s",
                                  "--terminate", "--yes", "--format", "json"])  # fmt: skip
        assert code == 0, err
        ended = json.loads(out)["terminated"]
        assert ended[str(stale.info.backend_pid)] is True and ended[str(services["worker_tx_pid"])] is True
    finally:
        stale.close()


# --------------------------------------------------------------------------- faults: a restart, Ctrl-C


def planner_process(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PGPASSWORD": "env-" + SECRET, "NO_COLOR": "1"}
    return subprocess.Popen([sys.executable, "-m", "planner", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def samples_sent(server: PostgresServer, before: int, at_least: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while sum(1 for line in log_lines(server)[before:] if line.startswith("planner inspect|") and "statement: SELECT" in line) < at_least:
        assert time.monotonic() < deadline
        time.sleep(0.05)


@pytest.fixture()
def lone_server() -> Iterator[PostgresServer]:
    yield from start_postgres({"max_connections": 20, "log_statement": "all", "log_line_prefix": "%a|"})


def test_a_restart_keeps_what_was_sampled_says_it_is_partial_and_exits_3(lone_server: PostgresServer, tmp_path: Path) -> None:
    saved = tmp_path / "samples.json"
    before = len(log_lines(lone_server))
    process = planner_process("inspect", "--dsn", lone_server.dsn() + f" password={SECRET}", "--sample", "30s", "--every", "200ms",
                              "-o", str(saved))  # fmt: skip
    try:
        samples_sent(lone_server, before, 5)
        subprocess.run([str(lone_server.bindir / "pg_ctl"), "-D", str(lone_server.datadir), "-l", str(lone_server.root / "log"), "-w",
                        "-m", "fast", "restart"], check=True, capture_output=True, timeout=60,
                       **({"user": "nobody"} if os.geteuid() == 0 else {}))  # type: ignore[call-overload]  # fmt: skip
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 3, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert err.startswith("planner: sampling stopped after ") and "of 150 samples" in err and "the session was lost: " in err
    assert "the result is partial; the samples are in" in err
    assert "terminating connection due to administrator command" in err or "server closed the connection unexpectedly" in err
    assert "PARTIAL: sampling stopped after " in out and "held vs used" in out
    doc = json.loads(saved.read_text())
    assert doc["window"]["stopped"] == "lost" and 5 <= doc["window"]["samples"] < 150 == doc["window"]["planned_samples"]
    assert len(doc["samples"]) == doc["window"]["samples"]
    assert SECRET not in out + err + saved.read_text()


def test_ctrl_c_keeps_what_was_sampled_and_writes_the_file(lone_server: PostgresServer, tmp_path: Path) -> None:
    saved = tmp_path / "samples.json"
    before = len(log_lines(lone_server))
    process = planner_process("inspect", "--dsn", lone_server.dsn(), "--sample", "30s", "--every", "200ms", "-o", str(saved))
    try:
        samples_sent(lone_server, before, 5)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "interrupted (Ctrl-C); the result is partial; the samples are in" in err
    doc = json.loads(saved.read_text())
    assert doc["window"]["stopped"] == "interrupted" and doc["window"]["samples"] >= 5 and len(doc["samples"]) == doc["window"]["samples"]
    assert f"PARTIAL: sampling stopped after {doc['window']['samples']} of 150 samples" in out


# --------------------------------------------------------------------------- bad input: exit 2, one line, before connecting


@pytest.mark.parametrize(("args", "fragment"), [
    (["--every", "1s"], "--every: sets the interval of --sample DURATION; give --sample too"),
    (["--sample", "0s"], "--sample: '0s' is not a window"),
    (["--sample", "5x"], "--sample: '5x' is not a duration"),
    (["--sample", "1m", "--every", "50ms"], "--every: 50ms is too often: give 100ms or more"),
    (["--sample", "5s", "--every", "10s"], "--every: 10s is longer than the --sample 5s window"),
    (["--sample", "25h"], "--sample: 25h is longer than a day"),
    (["--sample", "24h", "--every", "100ms"], "--sample 24h --every 100ms is 864,000 samples: at most 100,000"),
    (["--sample", "1m", "--pgbouncer", "postgresql://admin@127.0.0.1:1/pgbouncer"], "--sample: samples a PostgreSQL server"),
])
def test_bad_windows_exit_2_before_connecting(args: list[str], fragment: str) -> None:
    # port 1: nothing listens there, so exit 2 proves the window was refused before any connection
    code, out, err = run_cli(["inspect", "--dsn", f"host=127.0.0.1 port=1 user=app password={SECRET}", *args])
    assert (code, out) == (2, "") and len(err.strip().splitlines()) == 1 and fragment in err, err
    assert SECRET not in err
