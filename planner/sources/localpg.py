"""A throwaway PostgreSQL server from the machine's own binaries, for ``planner verify --local``.

``local_postgres(settings)`` runs ``initdb`` in a new temporary directory, starts the server on a
free port of 127.0.0.1 only, yields it, then stops it and removes the directory — always, also
when the caller fails or the user presses Ctrl-C. PostgreSQL refuses to run as root, so under
root the server runs as ``nobody``. The server runs in its own session, so a Ctrl-C reaches the
planner (which stops it) rather than the server.

Access: the planner talks to the server over the Unix socket in the private temporary
directory (trust; only its owner can reach it). TCP on 127.0.0.1 asks for a password by default
(a random one nobody is told), so other local users cannot borrow the throwaway superuser.
The test suite uses ``host_auth="trust"`` to connect over TCP.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

from planner.errors import ExternalError

__all__ = ["INSTALL_HINT", "LocalPostgres", "binaries_version", "find_bindir", "free_port", "local_postgres", "require_bindir"]

UNPRIVILEGED_USER = "nobody"
INSTALL_HINT = "install postgresql (Debian: apt-get install postgresql)"
BINDIR_ENV = "PLANNER_PG_BINDIR"


def _version_key(path: str) -> tuple[int, ...]:
    """Sort /usr/lib/postgresql/VERSION/bin/initdb by VERSION (9.6 < 15 < 16)."""
    try:
        return tuple(int(p) for p in Path(path).parts[-3].split("."))
    except ValueError:
        return (0,)


def find_bindir() -> Path | None:
    """Return a PostgreSQL server bin directory (with ``initdb``), newest first, or None.

    Looks at ``$PLANNER_PG_BINDIR``, then Debian's ``/usr/lib/postgresql/*/bin``, then
    ``pg_config --bindir``, then ``initdb`` on ``PATH``.
    """
    explicit = os.environ.get(BINDIR_ENV)
    if explicit and (Path(explicit) / "initdb").exists():
        return Path(explicit)
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    if candidates:
        return Path(candidates[-1]).parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and (Path(out) / "initdb").exists():
            return Path(out)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def require_bindir() -> Path:
    """Return the bin directory or raise :class:`ExternalError` saying how to install it."""
    bindir = find_bindir()
    if bindir is None:
        raise ExternalError(f"no PostgreSQL server binaries (initdb, pg_ctl) found on this machine: {INSTALL_HINT}, or set ${BINDIR_ENV}")
    return bindir


def binaries_version(bindir: Path) -> int:
    """Return the major version of the server binaries in ``bindir``."""
    try:
        out = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True, timeout=30).stdout
        return int(out.split()[-1].split(".")[0])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        raise ExternalError(f"{bindir / 'postgres'} --version failed ({exc}): {INSTALL_HINT}") from exc


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_user() -> dict[str, object]:
    """Return ``subprocess`` keyword arguments that drop root to an unprivileged user."""
    return {"user": UNPRIVILEGED_USER} if os.geteuid() == 0 else {}


@dataclass
class LocalPostgres:
    """A running throwaway server: ``dsn()`` over TCP, ``socket_conninfo()`` over its Unix socket."""

    bindir: Path
    root: Path
    port: int
    superuser: str = "postgres"

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def dsn(self, user: str | None = None, dbname: str = "postgres") -> str:
        """Return a key=value DSN over TCP (works without a password only with ``host_auth="trust"``)."""
        return f"host=127.0.0.1 port={self.port} user={user or self.superuser} dbname={dbname} connect_timeout=5"

    def socket_conninfo(self, user: str | None = None, dbname: str = "postgres") -> str:
        """Return a key=value DSN over the Unix socket in the private directory."""
        return f"host={self.root} port={self.port} user={user or self.superuser} dbname={dbname} connect_timeout=5"

    def version(self) -> int:
        """Return the server's major version."""
        return binaries_version(self.bindir)


def _run(args: list[str], what: str) -> None:
    try:
        subprocess.run(args, capture_output=True, text=True, check=True, timeout=120, **_server_user())  # type: ignore[call-overload]
    except subprocess.CalledProcessError as exc:
        tail = " ".join((exc.stderr or exc.stdout or "").strip().splitlines()[-3:])
        raise ExternalError(f"local PostgreSQL: {what} failed: {tail}") from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ExternalError(f"local PostgreSQL: {what} failed: {exc}") from exc


def _log_tail(root: Path) -> str:
    try:
        lines = (root / "log").read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " ".join(lines[-3:])


@contextmanager
def local_postgres(
    settings: Mapping[str, object], *, prefix: str = "planner-pg-", host_auth: str = "scram-sha-256"
) -> Iterator[LocalPostgres]:
    """Start a throwaway server with ``settings`` (postgresql.conf values); stop and remove it after."""
    bindir = require_bindir()
    root = Path(tempfile.mkdtemp(prefix=prefix))
    server = LocalPostgres(bindir, root, free_port())
    started = False
    try:
        if os.geteuid() == 0:
            shutil.chown(root, user=UNPRIVILEGED_USER)
        initdb = [str(bindir / "initdb"), "-D", str(server.datadir), "-U", server.superuser, "-E", "UTF8", "--no-sync",
                  "--auth-local=trust", f"--auth-host={host_auth}"]
        if host_auth != "trust":
            pwfile = root / "pw"
            pwfile.write_text(secrets.token_urlsafe(24) + "\n", encoding="utf-8")
            if os.geteuid() == 0:
                shutil.chown(pwfile, user=UNPRIVILEGED_USER)
            initdb.append(f"--pwfile={pwfile}")
        _run(initdb, "initdb")
        (root / "pw").unlink(missing_ok=True)
        options = {
            "listen_addresses": "127.0.0.1", "port": server.port, "unix_socket_directories": str(root),
            "fsync": "off", "shared_buffers": "16MB", **settings,
        }
        conf = "".join(f"{key} = '{value}'\n" for key, value in options.items())
        with open(server.datadir / "postgresql.auto.conf", "a", encoding="utf-8") as handle:
            handle.write(conf)
        started = True  # from here on a postmaster may exist: stop it whatever happens
        try:
            subprocess.run(
                [str(bindir / "pg_ctl"), "-D", str(server.datadir), "-l", str(root / "log"), "-w", "-t", "60", "start"],
                capture_output=True, text=True, check=True, timeout=90, start_new_session=True, **_server_user(),  # type: ignore[call-overload]
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise ExternalError(f"local PostgreSQL did not start: {_log_tail(root) or exc}") from exc
        yield server
    finally:
        try:
            if started:
                _stop(server)
        finally:
            shutil.rmtree(root, ignore_errors=True)


def _stop(server: LocalPostgres) -> None:
    """Stop the server (immediate shutdown); kill the postmaster if pg_ctl cannot."""
    pidfile = server.datadir / "postmaster.pid"
    try:
        subprocess.run(
            [str(server.bindir / "pg_ctl"), "-D", str(server.datadir), "-m", "immediate", "-w", "-t", "30", "stop"],
            capture_output=True, timeout=60, **_server_user(),  # type: ignore[call-overload]
        )
    except (OSError, subprocess.SubprocessError):
        pass
    if pidfile.exists():  # still running: pg_ctl failed or timed out
        try:
            os.kill(int(pidfile.read_text().split()[0]), 9)
        except (OSError, ValueError, IndexError):
            pass
