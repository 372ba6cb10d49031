"""A throwaway PostgreSQL server for tests: real binaries, a free port, a temporary directory.

PostgreSQL refuses to run as root, so when the suite runs as root (CI does) the server runs as
``nobody``. Outside CI a machine without PostgreSQL skips the server tests with the reason; in CI
(``CI`` set) it fails, because ``make test`` installs PostgreSQL first.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

import pytest

UNPRIVILEGED_USER = "nobody"


def find_bindir() -> Path | None:
    """Return the newest PostgreSQL server bin directory on this machine, or None."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if candidates:
        return Path(candidates[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def require_bindir() -> Path:
    """Return the bin directory, or skip (outside CI) / fail (in CI) saying what is missing."""
    bindir = find_bindir()
    if bindir is None:
        reason = "PostgreSQL server binaries not found (make test installs Debian's postgresql package)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return bindir


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server: connect with ``dsn(user)``; ``superuser`` owns the cluster."""

    bindir: Path
    root: Path
    port: int
    superuser: str = "postgres"

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def dsn(self, user: str | None = None, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={user or self.superuser} dbname={dbname} connect_timeout=5"

    def version(self) -> int:
        out = subprocess.run([str(self.bindir / "postgres"), "--version"], capture_output=True, text=True, check=True).stdout
        return int(out.split()[-1].split(".")[0])


def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    if os.geteuid() == 0:
        kwargs.setdefault("user", UNPRIVILEGED_USER)
    return subprocess.run(args, capture_output=True, text=True, check=True, **kwargs)  # type: ignore[call-overload]


def start_postgres(settings: Mapping[str, object]) -> Iterator[PostgresServer]:
    """Start a server with ``settings`` (postgresql.conf values), yield it, stop it, remove its files."""
    bindir = require_bindir()
    root = Path(tempfile.mkdtemp(prefix="planner-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, user=UNPRIVILEGED_USER)
    server = PostgresServer(bindir, root, free_port())
    try:
        _run([str(bindir / "initdb"), "-D", str(server.datadir), "-U", server.superuser, "--auth=trust", "-E", "UTF8", "--no-sync"])
        options = {"listen_addresses": "127.0.0.1", "port": server.port, "unix_socket_directories": str(root), "fsync": "off", **settings}
        conf = "".join(f"{key} = '{value}'\n" for key, value in options.items())
        with open(server.datadir / "postgresql.auto.conf", "a", encoding="utf-8") as handle:
            handle.write(conf)
        _run([str(bindir / "pg_ctl"), "-D", str(server.datadir), "-l", str(root / "log"), "-w", "-t", "30", "start"])
        yield server
    finally:
        subprocess.run(
            [str(bindir / "pg_ctl"), "-D", str(server.datadir), "-m", "immediate", "-w", "stop"],
            capture_output=True, user=UNPRIVILEGED_USER if os.geteuid() == 0 else None,
        )
        shutil.rmtree(root, ignore_errors=True)


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
