"""The fault cases of the hardening issue, reproduced against real servers (and stubbed AWS).

Each case exits with its code (3: an outside system failed, 2: a bad output path, 130: Ctrl-C),
prints exactly one line on stderr and no traceback, and leaves nothing behind: no session on
the server, no connection to a dead one, no throwaway server process, no temporary directory, no
output file (an existing one stays byte-identical).

PostgreSQL's faults are real: a TCP server that accepts and never answers, a lock that holds
inspect's query until its statement_timeout, pg_terminate_backend from another session, and a
loopback proxy in front of a real server that cuts both sockets after N bytes of the server's
answers. AWS's are botocore Stubbers put in ``planner.adapters.aws.client_overrides``.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import boto3
import psycopg
import pytest
from botocore.stub import Stubber

from planner.adapters import aws

from ..conftest import EXAMPLES, run_cli
from ..pgserver import PostgresServer, processes_mentioning, start_postgres_with_app_role

INTERRUPTED = "planner: interrupted; everything opened was closed"
CUT = "server closed the connection unexpectedly"
SECRET = "s3cr3t-faults"
TOPOLOGY = """
version: 1
databases:
  main: {engine: self-managed, engine_version: "15", parameters: {max_connections: 20, superuser_reserved_connections: 3}}
services:
  web: {replicas: 1, max_surge: 0, pool: 10}
  jobs: {connections: 2}
"""


def one_line(err: str) -> str:
    """Return the only line of ``err``; fail on a traceback or on more lines."""
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# --------------------------------------------------------------------------- servers that misbehave


def stop_listening(listener: socket.socket) -> None:
    """Close a listening socket; shutdown first wakes the thread blocked in accept()."""
    try:
        listener.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    listener.close()


class Hang:
    """A loopback TCP server that accepts every connection and never answers."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def client_hung_up(self, conn: socket.socket, timeout: float = 3.0) -> bool:
        """Return whether the client closed its end (EOF after its startup packet)."""
        conn.settimeout(timeout)
        try:
            while conn.recv(4096):
                pass
        except (socket.timeout, OSError):
            return False
        return True

    def close(self) -> None:
        stop_listening(self.listener)
        for conn in self.accepted:
            conn.close()
        self.thread.join(5)


class CuttingProxy:
    """A loopback TCP proxy to a real server. Connections before ``cut_from`` (1-based) pass
    untouched; from ``cut_from`` on, both sockets are cut once ``server_bytes`` of the server's
    answers have gone through. ``sent`` records the server's bytes per connection."""

    def __init__(self, upstream: int, cut_from: int | None = None, server_bytes: int = 0) -> None:
        self.upstream, self.cut_from, self.server_bytes = upstream, cut_from, server_bytes
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.sent: dict[int, int] = {}
        self.cuts: list[int] = []
        self.stopping = False
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def dsn(self, user: str = "app") -> str:
        return f"host=127.0.0.1 port={self.port} user={user} dbname=postgres connect_timeout=5"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            thread = threading.Thread(target=self._pipe, args=(client, self.connections), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _pipe(self, client: socket.socket, number: int) -> None:
        server = socket.create_connection(("127.0.0.1", self.upstream))
        limit = self.server_bytes if self.cut_from is not None and number >= self.cut_from else None
        sent = 0
        try:
            while not self.stopping:
                ready, _, _ = select.select([client, server], [], [], 0.1)
                if client in ready:
                    data = client.recv(65536)
                    if not data:
                        break
                    server.sendall(data)
                if server in ready:
                    data = server.recv(65536)
                    if not data:
                        break
                    if limit is not None and sent + len(data) >= limit:
                        client.sendall(data[: limit - sent])
                        sent = limit
                        self.cuts.append(number)
                        break
                    client.sendall(data)
                    sent += len(data)
        except OSError:
            pass
        finally:
            self.sent[number] = sent
            for sock in (client, server):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def close(self) -> None:
        self.stopping = True
        stop_listening(self.listener)
        for thread in self.threads:
            thread.join(5)


@contextmanager
def proxy(upstream: int, cut_from: int | None = None, server_bytes: int = 0) -> Iterator[CuttingProxy]:
    running = CuttingProxy(upstream, cut_from, server_bytes)
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    yield from start_postgres_with_app_role()


def sessions_left(server: PostgresServer, pattern: str, timeout: float = 5.0) -> int:
    """Return the sessions whose application_name is LIKE ``pattern``, once they are gone or after ``timeout``."""
    with psycopg.connect(server.dsn(), autocommit=True, application_name="faults-watcher") as admin:
        deadline = time.monotonic() + timeout
        while True:
            row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE %s AND pid <> pg_backend_pid()",
                                [pattern]).fetchone()  # fmt: skip
            if row == (0,) or time.monotonic() > deadline:
                return int(row[0]) if row else 0
            time.sleep(0.05)


@contextmanager
def catalog_lock(server: PostgresServer) -> Iterator[psycopg.Connection]:
    """Hold ACCESS EXCLUSIVE on the pg_settings view (inspect's first query reads it; logging in does not)."""
    holder = psycopg.connect(server.dsn(), application_name="faults-lock-holder")
    try:
        holder.execute("LOCK TABLE pg_catalog.pg_settings IN ACCESS EXCLUSIVE MODE")
        yield holder
    finally:
        holder.rollback()
        holder.close()
    assert sessions_left(server, "faults-lock-holder") == 0


# --------------------------------------------------------------------------- 1. a server that hangs


@pytest.mark.server
@pytest.mark.parametrize("how", ["option", "dsn"])
def test_hanging_server_exits_3_within_the_connect_timeout(how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", SECRET)
    hang = Hang()
    try:
        dsn = f"host=127.0.0.1 port={hang.port} user=app dbname=shop"
        args = ["--connect-timeout", "2"] if how == "option" else []
        if how == "dsn":
            dsn += " connect_timeout=2"
        started = time.monotonic()
        code, out, err = run_cli(["inspect", "--dsn", dsn, *args])
        elapsed = time.monotonic() - started
        assert code == 3 and out == ""
        assert one_line(err) == (f"planner: PostgreSQL at app@127.0.0.1:{hang.port}/shop refused or could not be reached: connection "
                                 "timeout expired (no answer within 2 s: check the host, the port and firewalls or security groups)")
        assert 1.5 < elapsed < 6, elapsed  # the timeout it names, not the default 10 s
        assert SECRET not in err
        (conn,) = hang.accepted
        assert hang.client_hung_up(conn)  # nothing left connected to the dead server
    finally:
        hang.close()


def test_connect_and_statement_timeouts_are_checked_before_connecting() -> None:
    for args, fragment in [
        (["--statement-timeout", "0"], "--statement-timeout: '0' is not a time limit"),
        (["--statement-timeout", "5x"], "--statement-timeout: '5x' is not a duration"),
        (["--connect-timeout", "0"], "--connect-timeout"),
    ]:
        code, out, err = run_cli(["inspect", "--dsn", "host=127.0.0.1 port=1", *args])
        assert code == 2 and out == "" and fragment in one_line(err), err


# --------------------------------------------------------------------------- 2. a server that is slow


@pytest.mark.server
def test_slow_server_exits_3_at_the_statement_timeout(server: PostgresServer) -> None:
    with catalog_lock(server):
        started = time.monotonic()
        code, out, err = run_cli(["inspect", "--dsn", server.dsn(), "--statement-timeout", "200ms"])
        elapsed = time.monotonic() - started
    assert code == 3 and out == ""
    assert one_line(err) == (
        f"planner: PostgreSQL: reading pg_settings and pg_stat_activity at postgres@127.0.0.1:{server.port}/postgres: "
        "canceling statement due to statement timeout (the server did not answer within statement_timeout: it is overloaded "
        "or a lock blocks what planner reads, see pg_locks; planner inspect --statement-timeout sets a longer one)"
    )
    assert elapsed < 1.9, elapsed  # the 200 ms statement timeout, not the 2 s lock timeout
    assert sessions_left(server, "planner inspect") == 0


@pytest.mark.server
def test_a_lock_held_longer_than_the_lock_timeout_exits_3(server: PostgresServer) -> None:
    with catalog_lock(server):
        code, out, err = run_cli(["inspect", "--dsn", server.dsn(), "--statement-timeout", "20s"])
    assert code == 3 and out == ""
    assert one_line(err).endswith(
        "canceling statement due to lock timeout (another session holds a lock on what planner reads, see pg_locks: "
        "run again once it is released)"
    )
    assert sessions_left(server, "planner inspect") == 0


# --------------------------------------------------------------------------- 3. a server that drops the connection


@pytest.mark.server
def test_inspect_session_terminated_while_it_waits_exits_3(server: PostgresServer) -> None:
    ended: list[bool] = []

    def terminate_inspect() -> None:
        with psycopg.connect(server.dsn(), autocommit=True) as admin:
            deadline = time.monotonic() + 1.5  # before inspect's 2 s lock timeout
            while time.monotonic() < deadline:
                row = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE application_name = 'planner inspect' AND wait_event_type = 'Lock'").fetchone()  # fmt: skip
                if row is not None:
                    ended.append(bool(row[0]))
                    return
                time.sleep(0.01)

    with catalog_lock(server):
        killer = threading.Thread(target=terminate_inspect)
        killer.start()
        code, out, err = run_cli(["inspect", "--dsn", server.dsn(), "--statement-timeout", "20s"])
        killer.join(10)
    assert ended == [True]
    assert code == 3 and out == ""
    assert one_line(err) == (
        f"planner: PostgreSQL: reading pg_settings and pg_stat_activity at postgres@127.0.0.1:{server.port}/postgres: "
        "terminating connection due to administrator command (the session was ended: pg_terminate_backend from another "
        "session, or the server shutting down or restarting)"
    )
    assert sessions_left(server, "planner inspect") == 0


def startup_bytes(server: PostgresServer, application_name: str) -> int:
    """Return how many bytes the server sends to log a session in (authentication, parameters
    including application_name, ready)."""
    with proxy(server.port) as through:
        psycopg.connect(through.dsn(), autocommit=True, application_name=application_name).close()
        deadline = time.monotonic() + 5
        while 1 not in through.sent and time.monotonic() < deadline:
            time.sleep(0.01)
    return through.sent[1]


@pytest.mark.server
def test_inspect_cut_mid_way_exits_3_with_libpqs_words(server: PostgresServer) -> None:
    with proxy(server.port) as through:
        code, _, err = run_cli(["inspect", "--dsn", through.dsn("postgres")])
        assert code == 0, err
    total, startup = through.sent[1], startup_bytes(server, "planner inspect")
    assert startup < total // 2 < total  # the cut falls after logging in, in the middle of inspect's queries
    with proxy(server.port, cut_from=1, server_bytes=total // 2) as cutting:
        code, out, err = run_cli(["inspect", "--dsn", cutting.dsn("postgres") + f" password={SECRET}"])
    assert cutting.cuts == [1]
    assert code == 3 and out == ""
    assert one_line(err) == (
        f"planner: PostgreSQL: reading pg_settings and pg_stat_activity at postgres@127.0.0.1:{cutting.port}/postgres: "
        f"{CUT} (the connection was cut mid-way: the server restarted or ended the session, or a proxy, load balancer or "
        "firewall in between dropped it)"
    )
    assert sessions_left(server, "planner inspect") == 0


@pytest.mark.server
def test_verify_cut_while_opening_connections_exits_3_and_leaves_no_session(server: PostgresServer, tmp_path: Path) -> None:
    topology = tmp_path / "shop.yaml"
    topology.write_text(TOPOLOGY)
    # connection 1 is verify's control session, 2-5 its first four, 6 is cut while logging in
    with proxy(server.port, cut_from=6, server_bytes=20) as cutting:
        code, out, err = run_cli(["verify", str(topology), "--dsn", cutting.dsn(), "--yes"])
        assert cutting.connections == 6 and cutting.cuts == [6]
        assert sessions_left(server, "%@%") == 0  # the four it held: closed by verify, not by the proxy going away
    assert code == 3 and out == ""
    assert one_line(err) == (
        f"planner: PostgreSQL at app@127.0.0.1:{cutting.port}/postgres refused or could not be reached: {CUT} (the connection "
        "was cut mid-way: the server restarted or ended the session, or a proxy, load balancer or firewall in between dropped "
        "it); verify stopped at connection #5 (web@default #5) and closed the 4 connection(s) it had opened"
    )


@pytest.mark.server
def test_verify_connection_cut_during_its_count_exits_3(server: PostgresServer, tmp_path: Path) -> None:
    """The first connection logs in, then is cut while it counts the sessions already there (was a traceback)."""
    topology = tmp_path / "shop.yaml"
    topology.write_text(TOPOLOGY)
    with proxy(server.port, cut_from=2, server_bytes=startup_bytes(server, "web@default") + 5) as cutting:
        code, out, err = run_cli(["verify", str(topology), "--dsn", cutting.dsn(), "--yes"])
        assert cutting.cuts == [2]
    assert code == 3 and out == ""
    line = one_line(err)
    assert line.startswith(f"planner: PostgreSQL at app@127.0.0.1:{cutting.port}/postgres: counting the sessions on the server: {CUT}")
    assert line.endswith("verify stopped at connection #1 (web@default #1) and closed the 1 connection(s) it had opened")
    assert sessions_left(server, "%@%") == 0


# --------------------------------------------------------------------------- 4. Ctrl-C


@pytest.mark.server
def test_ctrl_c_during_verify_local_prints_one_line_and_removes_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    import planner.adapters.postgres as pg

    real, calls = pg.open_tagged, []

    def interrupted(dsn: str, application_name: str) -> psycopg.Connection:
        calls.append(dsn)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(dsn, application_name)

    monkeypatch.setattr(pg, "open_tagged", interrupted)
    code, out, err = run_cli(["verify", str(EXAMPLES / "beanstalk-flask.yaml"), "--local"])
    assert code == 130 and out == ""
    assert one_line(err) == INTERRUPTED
    root = calls[0].split("host=", 1)[1].split()[0]
    assert Path(root).name.startswith("planner-verify-") and not Path(root).exists()
    assert processes_mentioning(root) == []


@pytest.mark.server
def test_ctrl_c_during_inspect_prints_one_line_and_closes_the_session(server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> None:
    import planner.adapters.postgres as pg

    def interrupted(conn: psycopg.Connection, dsn: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(pg, "read_snapshot", interrupted)
    code, out, err = run_cli(["inspect", "--dsn", server.dsn()])
    assert code == 130 and out == ""
    assert one_line(err) == INTERRUPTED
    assert sessions_left(server, "planner inspect") == 0


# A real SIGINT, as a terminal sends it: verify --local in its own process, held at its 5th connection.
SIGINT_RUNNER = r"""
import sys, time
from pathlib import Path
import planner.adapters.postgres as pg
from planner.cli import main

marker, real, calls = Path(sys.argv[1]), pg.open_tagged, []

def held(dsn, application_name):
    calls.append(dsn)
    if len(calls) == 5:
        marker.write_text(dsn.split("host=", 1)[1].split()[0])
        time.sleep(60)  # Ctrl-C lands here
    return real(dsn, application_name)

pg.open_tagged = held
main(sys.argv[2:])
"""


@pytest.mark.server
def test_real_sigint_during_verify_local_leaves_no_server_process_or_directory() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="planner-faults-"))
    scratch.chmod(0o755)  # under root the throwaway server runs as nobody, inside
    marker = scratch.parent / f"{scratch.name}.marker"
    try:
        env = {**os.environ, "TMPDIR": str(scratch)}
        process = subprocess.Popen(
            [sys.executable, "-c", SIGINT_RUNNER, str(marker), "verify", str(EXAMPLES / "beanstalk-flask.yaml"), "--local"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        try:
            deadline = time.monotonic() + 60
            while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert marker.exists(), process.communicate(timeout=30)
            root = marker.read_text()
            assert Path(root).parent == scratch and processes_mentioning(root)  # the server runs, from that directory
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert process.returncode == 130 and out == ""
        assert one_line(err) == INTERRUPTED
        assert not Path(root).exists() and list(scratch.iterdir()) == []
        assert processes_mentioning(root) == []
    finally:
        marker.unlink(missing_ok=True)
        shutil.rmtree(scratch, ignore_errors=True)


# --------------------------------------------------------------------------- 5. AWS: a page fails mid-way


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials, no profile files, no metadata, no endpoint; backoff in milliseconds."""
    empty = tmp_path / "empty-aws-config"
    empty.write_text("")
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_MAX_ATTEMPTS", "AWS_ROLE_ARN",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)  # fmt: skip
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(aws, "BACKOFF_BASE_SECONDS", 0.001)


def stub(monkeypatch: pytest.MonkeyPatch, service: str) -> Stubber:
    """Return an active Stubber whose client the gateway uses for ``service``."""
    client = boto3.Session(aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key=SECRET,
                           region_name="us-east-1").client(service, region_name="us-east-1")  # fmt: skip
    stubber = Stubber(client)
    stubber.activate()
    monkeypatch.setitem(aws.client_overrides, service, client)
    return stubber


ORDERABLE = {"Engine": "aurora-postgresql", "MaxRecords": 100}


def orderable(*classes: str, marker: str | None = None) -> dict[str, Any]:
    page: dict[str, Any] = {"OrderableDBInstanceOptions": [
        {"DBInstanceClass": c, "Engine": "aurora-postgresql", "EngineVersion": "16.4"} for c in classes]}
    if marker:
        page["Marker"] = marker
    return page


def instance_type(name: str, vcpu: int, mib: int) -> dict[str, Any]:
    return {"InstanceType": name, "VCpuInfo": {"DefaultVCpus": vcpu}, "MemoryInfo": {"SizeInMiB": mib}}


def stub_refresh_that_succeeds(monkeypatch: pytest.MonkeyPatch) -> list[Stubber]:
    rds = stub(monkeypatch, "rds")
    rds.add_response("describe_orderable_db_instance_options", orderable("db.r6g.large", "db.r6g.xlarge"), ORDERABLE)
    ec2 = stub(monkeypatch, "ec2")
    ec2.add_response("describe_instance_types", {"InstanceTypes": [instance_type("r6g.large", 2, 16384),
                                                                   instance_type("r6g.xlarge", 4, 32768)]})  # fmt: skip
    return [rds, ec2]


REFRESH = ["catalog", "refresh", "--engine", "aurora-postgresql", "--no-prices"]
EXISTING = "instance_class,family\n# a catalogue someone keeps: must stay exactly as it is\n"


def existing_output(tmp_path: Path, exists: bool) -> Path:
    target = tmp_path / "out" / "catalog.csv"
    if exists:
        target.parent.mkdir()
        target.write_bytes(EXISTING.encode())
    return target


def assert_untouched(target: Path, existed: bool) -> None:
    if existed:
        assert target.read_bytes() == EXISTING.encode()
        assert sorted(p.name for p in target.parent.iterdir()) == [target.name]  # no temporary file beside it
    else:
        assert not target.exists()


@pytest.mark.parametrize("existed", [False, True], ids=["new", "existing"])
def test_catalog_refresh_throttled_on_the_second_page_writes_nothing(aws_env: None, monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Path, existed: bool) -> None:  # fmt: skip
    rds = stub(monkeypatch, "rds")
    rds.add_response("describe_orderable_db_instance_options", orderable("db.r6g.large", marker="m1"), ORDERABLE)
    for _ in range(aws.THROTTLE_ATTEMPTS):
        rds.add_client_error("describe_orderable_db_instance_options", "Throttling", "Rate exceeded", 400,
                             expected_params={**ORDERABLE, "Marker": "m1"})  # fmt: skip
    target = existing_output(tmp_path, existed)
    code, out, err = run_cli([*REFRESH, "-o", str(target)])
    rds.assert_no_pending_responses()
    assert code == 3 and out == ""
    assert one_line(err) == ("planner: AWS kept throttling rds:DescribeOrderableDBInstanceOptions (Throttling) after "
                             f"{aws.THROTTLE_ATTEMPTS} attempts: run again later")  # fmt: skip
    assert_untouched(target, existed)


@pytest.mark.parametrize("existed", [False, True], ids=["new", "existing"])
def test_catalog_refresh_denied_on_a_later_page_writes_nothing(aws_env: None, monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path, existed: bool) -> None:  # fmt: skip
    rds = stub(monkeypatch, "rds")
    rds.add_response("describe_orderable_db_instance_options", orderable("db.r6g.large", marker="m1"), ORDERABLE)
    rds.add_response("describe_orderable_db_instance_options", orderable("db.r6g.xlarge"), {**ORDERABLE, "Marker": "m1"})
    ec2 = stub(monkeypatch, "ec2")
    ec2.add_response("describe_instance_types", {"InstanceTypes": [instance_type("r6g.large", 2, 16384)], "NextToken": "n1"})
    ec2.add_client_error("describe_instance_types", "UnauthorizedOperation", "You are not authorized to perform this operation.", 403)
    target = existing_output(tmp_path, existed)
    code, out, err = run_cli([*REFRESH, "-o", str(target)])
    rds.assert_no_pending_responses()
    ec2.assert_no_pending_responses()
    assert code == 3 and out == ""
    # one line: no progress-bar label before it when stderr is not a terminal
    assert one_line(err) == ("planner: the credentials lack ec2:DescribeInstanceTypes (UnauthorizedOperation): grant it to "
                             "the IAM user or role (the README lists every permission planner needs)")  # fmt: skip
    assert SECRET not in err
    assert_untouched(target, existed)


SHOP_DB = {"DBInstanceIdentifier": "shop-db", "DBInstanceClass": "db.m6g.large", "Engine": "postgres", "EngineVersion": "16.4",
           "DBParameterGroups": [{"DBParameterGroupName": "shop-params", "ParameterApplyStatus": "in-sync"}]}
USERS_TOPOLOGY = """\
version: 1
# ours: the services, written by hand
databases:
  main: {engine: postgres, instance_class: db.t4g.micro}  # imported last month
services:
  web: {replicas: 2, pool: 5}
"""


@pytest.mark.parametrize("failure", ["throttling", "denied"])
def test_import_failing_mid_way_leaves_the_topology_byte_identical(aws_env: None, monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path, failure: str) -> None:  # fmt: skip
    rds = stub(monkeypatch, "rds")
    rds.add_response("describe_db_instances", {"DBInstances": [SHOP_DB]}, {"DBInstanceIdentifier": "shop-db", "MaxRecords": 100})
    first = {"DBParameterGroupName": "shop-params", "MaxRecords": 100}
    rds.add_response("describe_db_parameters", {"Parameters": [{"ParameterName": "max_connections", "ParameterValue": "400",
                                                                "Source": "user"}], "Marker": "p1"}, first)  # fmt: skip
    if failure == "throttling":
        for _ in range(aws.THROTTLE_ATTEMPTS):
            rds.add_client_error("describe_db_parameters", "Throttling", "Rate exceeded", 400, expected_params={**first, "Marker": "p1"})
        expected = f"planner: AWS kept throttling rds:DescribeDBParameters (Throttling) after {aws.THROTTLE_ATTEMPTS} attempts: run again later"
    else:
        rds.add_client_error("describe_db_parameters", "AccessDenied", "not authorized", 403, expected_params={**first, "Marker": "p1"})
        expected = ("planner: the credentials lack rds:DescribeDBParameters (AccessDenied): grant it to the IAM user or role "
                    "(the README lists every permission planner needs)")  # fmt: skip
    target = tmp_path / "shop" / "existing.yaml"
    target.parent.mkdir()
    target.write_bytes(USERS_TOPOLOGY.encode())
    code, out, err = run_cli(["import", "rds", "--db-instance-identifier", "shop-db", "--name", "main", "-o", str(target)])
    rds.assert_no_pending_responses()
    assert code == 3 and out == ""
    assert one_line(err) == expected
    assert target.read_bytes() == USERS_TOPOLOGY.encode()
    assert sorted(p.name for p in target.parent.iterdir()) == ["existing.yaml"]


# --------------------------------------------------------------------------- 6. output paths that cannot be written


def blocked(tmp_path: Path) -> tuple[Path, Path]:
    """Return (a path under a file, a path that is a directory), and the file that blocks the first."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    directory = tmp_path / "a-directory"
    directory.mkdir()
    return blocker / "sub" / "out", directory


def assert_nothing_written(tmp_path: Path, before: set[str]) -> None:
    found = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")}
    assert found == before, found - before


def test_emit_to_an_unwritable_directory_is_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    under_file, directory = blocked(tmp_path)
    (directory / "pgbouncer.ini").mkdir()  # the first file emit writes is a directory
    before = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")}
    for target, fragment in [(under_file, "a part of the path is a file, not a directory"), (directory, "cannot write the output")]:
        code, out, err = run_cli(["emit", "pgbouncer", str(EXAMPLES / "beanstalk-flask.yaml"), "-o", str(target)])
        assert code == 2 and out == ""
        assert fragment in one_line(err)
        assert_nothing_written(tmp_path, before)  # no file, no temporary file, no directory


def test_output_that_is_a_directory_leaves_no_temporary_file(tmp_path: Path) -> None:
    _, directory = blocked(tmp_path)
    code, out, err = run_cli(["check", str(EXAMPLES / "pgbouncer-fleet.yaml"), "-o", str(directory)])
    assert code == 2 and out == "" and "cannot write the output" in one_line(err)
    assert list(tmp_path.glob(".a-directory.*")) == []


def test_catalog_refresh_to_an_unwritable_path_is_exit_2(aws_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    under_file, directory = blocked(tmp_path)
    before = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")}
    for target, fragment in [(under_file, "a part of the path is a file, not a directory"), (directory, "cannot write the output")]:
        stubs = stub_refresh_that_succeeds(monkeypatch)
        code, out, err = run_cli([*REFRESH, "-o", str(target)])
        for s in stubs:
            s.assert_no_pending_responses()  # AWS answered everything: only the write failed
        assert code == 2 and out == ""
        assert one_line(err) == f"planner: {target}: " + (
            "cannot write the output: a part of the path is a file, not a directory; choose another path with -o"
            if target == under_file else "cannot write the output (Is a directory); choose a writable path with -o")
        assert fragment in err
        assert_nothing_written(tmp_path, before)


def test_observe_to_an_unwritable_path_is_exit_2(aws_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    under_file, _ = blocked(tmp_path)
    before = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")}
    rds = stub(monkeypatch, "rds")
    rds.add_response("describe_db_instances", {"DBInstances": [SHOP_DB]}, {"DBInstanceIdentifier": "shop-db", "MaxRecords": 100})
    cloudwatch = stub(monkeypatch, "cloudwatch")
    cloudwatch.add_response("get_metric_data", {"MetricDataResults": [{
        "Id": "connections", "Timestamps": [datetime(2026, 11, 1, tzinfo=timezone.utc)], "Values": [42.0], "StatusCode": "Complete"}]})
    code, out, err = run_cli(["observe", "shop-db", "-o", str(under_file)])
    rds.assert_no_pending_responses()
    cloudwatch.assert_no_pending_responses()
    assert code == 2 and out == ""
    # only why it failed: the peak it read is said once it is written
    assert one_line(err) == f"planner: {under_file}: cannot write the output: a part of the path is a file, not a directory; choose another path with -o"
    assert_nothing_written(tmp_path, before)


def test_emit_writes_every_file_or_none(tmp_path: Path) -> None:
    """A failure on the second file leaves no first file: emit is all or nothing."""
    from ..conftest import EXAMPLES, run_cli

    out = tmp_path / "deploy"
    (out / "userlist.txt").mkdir(parents=True)  # the second file cannot be written
    code, _, err = run_cli(["emit", "pgbouncer", str(EXAMPLES / "beanstalk-flask.yaml"), "-o", str(out)])
    assert code == 2 and len(err.strip().splitlines()) == 1 and "userlist.txt" in err
    assert sorted(p.name for p in out.iterdir()) == ["userlist.txt"]  # no pgbouncer.ini, no temporary file
