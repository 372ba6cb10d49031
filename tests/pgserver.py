"""A throwaway PostgreSQL server for tests: real binaries, a free port, a temporary directory.

PostgreSQL refuses to run as root, so when the suite runs as root (CI does) the server runs as
``nobody``. Outside CI a machine without PostgreSQL skips the server tests with the reason; in CI
(``CI`` set) it fails, because ``make test`` installs PostgreSQL first.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator, Mapping

import pytest

from planner.adapters.localpg import UNPRIVILEGED_USER, Binaries, LocalPostgres, available_binaries, find_bindir, free_port, local_postgres

__all__ = [
    "PostgresServer", "find_bindir", "free_port", "require_binaries", "require_bindir", "start_pgbouncer", "start_pgpool",
    "start_postgres", "wait_for_port",
]

# The throwaway server is the planner's own (planner verify --local uses it); tests connect over TCP.
PostgresServer = LocalPostgres


def require_bindir() -> Path:
    """Return the bin directory, or skip (outside CI) / fail (in CI) saying what is missing."""
    bindir = find_bindir()
    if bindir is None:
        reason = "PostgreSQL server binaries not found (make test installs Debian's postgresql package)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return bindir


def require_binaries(at_least: int | None = None, below: int | None = None) -> Binaries:
    """Return the newest server binaries of a major in [at_least, below), or skip (outside CI) /
    fail (in CI) saying what is missing: ``make test`` installs Debian's PostgreSQL (15 on
    bookworm) and the pgserver package (16) with the test extras."""
    fitting = [b for b in available_binaries() if (at_least is None or b.major >= at_least) and (below is None or b.major < below)]
    if not fitting:
        wanted = " and ".join(x for x in (f"{at_least} or later" if at_least else "", f"before {below}" if below else "") if x)
        reason = (f"no PostgreSQL server binaries of major {wanted or 'any'} here "
                  "(make test installs Debian's postgresql, and pgserver for 16, with pip install -e '.[test]')")
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return fitting[-1]


def start_postgres(settings: Mapping[str, object], binaries: Binaries | None = None) -> Iterator[PostgresServer]:
    """Start a server with ``settings`` (postgresql.conf values), yield it, stop it, remove its files.

    ``binaries``: which server to run (see :func:`require_binaries`); by default the machine's.
    TCP on 127.0.0.1 trusts every user: tests connect with ``server.dsn(user)``, no password.
    """
    if binaries is None:
        require_bindir()
    with local_postgres(settings, host_auth="trust", bindir=None if binaries is None else binaries.bindir) as server:
        yield server


def find_pgbouncer() -> str | None:
    """Return the pgbouncer binary, or None."""
    return shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None)


def start_pgbouncer(ini: str, files: Mapping[str, str]) -> Iterator[Path]:
    """Run PgBouncer on ``ini`` (with ``files`` such as userlist.txt beside it); yield its directory.

    PgBouncer refuses to run as root, so under root it runs as ``nobody`` like the server.
    """
    binary = find_pgbouncer()
    if binary is None:
        reason = "pgbouncer not found (make test installs Debian's pgbouncer package)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="planner-pgbouncer-"))
    for name, content in {"pgbouncer.ini": ini, **files}.items():
        (root / name).write_text(content, encoding="utf-8")
    if os.geteuid() == 0:
        for path in [root, *root.iterdir()]:
            shutil.chown(path, user=UNPRIVILEGED_USER)
    kwargs: dict[str, object] = {"user": UNPRIVILEGED_USER} if os.geteuid() == 0 else {}
    process = subprocess.Popen(  # type: ignore[call-overload]
        [binary, str(root / "pgbouncer.ini")], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs
    )
    try:
        yield root
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(root, ignore_errors=True)


def start_pgpool(backend_port: int, settings: Mapping[str, object]) -> Iterator[int]:
    """Run Pgpool-II in front of the server on ``backend_port`` with ``settings`` (pgpool.conf values); yield its port.

    Raw mode (one backend, no failover), no health or replication checks, no pool_hba (clients
    authenticate with the backend: the test servers trust TCP). Pgpool-II runs as ``nobody`` under
    root, like the server; it is stopped with SIGINT (fast shutdown: clients still connected do not
    hold it up).
    """
    import signal

    binary = shutil.which("pgpool") or ("/usr/sbin/pgpool" if Path("/usr/sbin/pgpool").exists() else None)
    if binary is None:
        reason = "pgpool not found (make test installs Debian's pgpool2 package)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="planner-pgpool-"))
    port = free_port()
    options: dict[str, object] = {
        "backend_clustering_mode": "raw", "listen_addresses": "127.0.0.1", "port": port, "socket_dir": root,
        "pcp_listen_addresses": "", "pcp_port": free_port(), "pcp_socket_dir": root, "wd_ipc_socket_dir": root,
        "backend_hostname0": "127.0.0.1", "backend_port0": backend_port, "backend_flag0": "DISALLOW_TO_FAILOVER",
        "enable_pool_hba": "off", "pool_passwd": "", "health_check_period": 0, "sr_check_period": 0,
        "pid_file_name": root / "pgpool.pid", "logdir": root, **settings,
    }
    (root / "pgpool.conf").write_text("".join(f"{k} = '{v}'\n" for k, v in options.items()), encoding="utf-8")
    (root / "pcp.conf").write_text("", encoding="utf-8")
    if os.geteuid() == 0:
        for path in [root, *root.iterdir()]:
            shutil.chown(path, user=UNPRIVILEGED_USER)
    kwargs: dict[str, object] = {"user": UNPRIVILEGED_USER} if os.geteuid() == 0 else {}
    process = subprocess.Popen(  # type: ignore[call-overload]
        [binary, "-n", "-f", str(root / "pgpool.conf"), "-F", str(root / "pcp.conf")], cwd=root,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs,
    )
    try:
        wait_for_port(port)
        yield port
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(root, ignore_errors=True)


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Wait until something accepts TCP connections on 127.0.0.1:``port``."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def processes_mentioning(fragment: str) -> list[str]:
    """Return the command lines of running processes that mention ``fragment`` (to prove nothing leaked)."""
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if fragment in cmdline:
                found.append(cmdline)
    return found


def start_postgres_with_app_role(max_connections: int = 20, superuser_reserved: int = 3) -> Iterator[PostgresServer]:
    """Start a server and create the ordinary LOGIN role ``app`` the connection tests open sessions as."""
    import psycopg

    for server in start_postgres({"max_connections": max_connections, "superuser_reserved_connections": superuser_reserved}):
        with psycopg.connect(server.dsn(), autocommit=True) as admin:
            admin.execute("CREATE ROLE app LOGIN")
        yield server
