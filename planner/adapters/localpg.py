"""A throwaway PostgreSQL server from the machine's own binaries, for ``planner verify --local``.

Binaries come from ``$PLANNER_PG_BINDIR``, the machine (Debian's ``/usr/lib/postgresql/*/bin``,
``pg_config --bindir``, ``initdb`` on ``PATH``) or the ``pgserver`` Python package, whose wheel
ships PostgreSQL 16 in ``pgserver/pginstall/bin`` (only its files are used: its Python API runs the
server as the current user, and initdb refuses root). :func:`choose_binaries` picks, for an engine
version, the oldest major at or above it (so a 15 topology runs 15 and a 16 one runs 16 where
both are here), else the newest there is.

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
import importlib.util
import os
import re
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

__all__ = [
    "INSTALL_HINT", "Binaries", "LocalPostgres", "available_binaries", "binaries_version", "choose_binaries", "find_bindir",
    "free_port", "local_postgres", "require_bindir",
]

UNPRIVILEGED_USER = "nobody"
INSTALL_HINT = "install postgresql (Debian: apt-get install postgresql)"
INSTALL_16_HINT = "pip install 'planner[local16]' (the pgserver package ships PostgreSQL 16)"
BINDIR_ENV = "PLANNER_PG_BINDIR"
ORIGIN_ENV, ORIGIN_MACHINE, ORIGIN_PGSERVER = "env", "machine", "pgserver"


def _version_key(path: str) -> tuple[int, ...]:
    """Sort /usr/lib/postgresql/VERSION/bin/initdb by VERSION (9.6 < 15 < 16)."""
    try:
        return tuple(int(p) for p in Path(path).parts[-3].split("."))
    except ValueError:
        return (0,)


def find_bindir() -> Path | None:
    """Return a PostgreSQL server bin directory (with ``initdb``), newest first, or None.

    Looks at ``$PLANNER_PG_BINDIR``, then Debian's ``/usr/lib/postgresql/*/bin``, then
    ``pg_config --bindir``, then ``initdb`` on ``PATH``, then the ``pgserver`` package's. (The
    test suite's servers use this; ``verify --local`` chooses by version with :func:`choose_binaries`.)
    """
    explicit = os.environ.get(BINDIR_ENV)
    if explicit and (Path(explicit) / "initdb").exists():
        return Path(explicit)
    machine = [d for d in _machine_bindirs() if (d / "initdb").exists()]
    debian = [d for d in machine if d.parts[:4] == ("/", "usr", "lib", "postgresql")]
    if debian:
        return debian[-1]  # the newest of Debian's
    if machine:
        return machine[0]  # pg_config's, else the one on PATH
    packaged = pgserver_bindir()  # no server on the machine: the pgserver package's, if installed
    return packaged[0] if packaged else None


def require_bindir() -> Path:
    """Return the bin directory or raise :class:`ExternalError` saying how to install it."""
    bindir = find_bindir()
    if bindir is None:
        raise ExternalError(f"no PostgreSQL server binaries (initdb, pg_ctl) found on this machine: {INSTALL_HINT}, or set ${BINDIR_ENV}")
    return bindir


def _full_version(bindir: Path) -> str:
    """Return ``postgres --version``'s version (``15.18``, ``16.2``, ``17beta1``)."""
    try:
        out = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True, timeout=30).stdout
        # "postgres (PostgreSQL) 16.2", "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
        match = re.search(r"\(PostgreSQL\)\s+(\d\S*)", out)
        if match is None:
            raise ValueError(f"not a version: {out.strip()!r}")
        return match.group(1)
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        raise ExternalError(f"{bindir / 'postgres'} --version failed ({exc}): {INSTALL_HINT}") from exc


def _version_tuple(version: str) -> tuple[int, ...]:
    """Return ``16.2`` as (16, 2), ``17beta1`` as (17,): for ordering versions."""
    parts = []
    for part in version.split("."):
        digits = re.match(r"\d+", part)
        if digits is None:
            break
        parts.append(int(digits.group(0)))
        if digits.group(0) != part:  # 17beta1: the rest is not a number
            break
    return tuple(parts) or (0,)


def binaries_version(bindir: Path) -> int:
    """Return the major version of the server binaries in ``bindir``."""
    return _version_tuple(_full_version(bindir))[0]


@dataclass(frozen=True)
class Binaries:
    """One set of PostgreSQL server binaries: where, which version, and where they came from."""

    bindir: Path
    version: str  # as postgres --version says it: 15.18, 16.2
    origin: str  # env | machine | pgserver
    package_version: str | None = None  # pgserver's version, for origin pgserver

    @property
    def major(self) -> int:
        return _version_tuple(self.version)[0]

    @property
    def source(self) -> str:
        """Return where the binaries came from, in words."""
        if self.origin == ORIGIN_PGSERVER:
            return f"the pgserver {self.package_version} Python package" if self.package_version else "the pgserver Python package"
        if self.origin == ORIGIN_ENV:
            return f"${BINDIR_ENV}"
        return "the machine's"

    def as_dict(self) -> dict[str, object]:
        return {"bindir": str(self.bindir), "version": self.version, "major": self.major, "origin": self.origin,
                "source": self.source, "package_version": self.package_version}


def _complete(bindir: Path) -> bool:
    return all((bindir / name).exists() for name in ("initdb", "pg_ctl", "postgres"))


def pgserver_bindir() -> tuple[Path, str | None] | None:
    """Return the bin directory inside the installed ``pgserver`` package and its version, or None.

    Found through the import system without importing the package (its ``__init__`` starts
    nothing, but nothing of it is needed: only the binaries in ``pginstall/bin``).
    """
    try:
        spec = importlib.util.find_spec("pgserver")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        bindir = Path(location) / "pginstall" / "bin"
        if _complete(bindir):
            try:
                from importlib.metadata import PackageNotFoundError, version

                return bindir, version("pgserver")
            except PackageNotFoundError:
                return bindir, None
    return None


def _machine_bindirs() -> list[Path]:
    """Return the machine's server bin directories: Debian's, ``pg_config --bindir``, ``PATH``."""
    found = [Path(p).parent for p in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)]
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out:
            found.append(Path(out))
    initdb = shutil.which("initdb")
    if initdb:
        found.append(Path(initdb).resolve().parent)  # /usr/local/bin/initdb may link to Debian's
    return found


def available_binaries() -> list[Binaries]:
    """Return every complete set of server binaries here, oldest version first.

    ``$PLANNER_PG_BINDIR``, when set, is the only candidate: the user chose. A directory that fails
    ``postgres --version`` (a broken install) is left out.
    """
    explicit = os.environ.get(BINDIR_ENV)
    candidates: list[tuple[Path, str, str | None]]
    if explicit:
        candidates = [(Path(explicit), ORIGIN_ENV, None)]
    else:
        candidates = [(d, ORIGIN_MACHINE, None) for d in _machine_bindirs()]
        packaged = pgserver_bindir()
        if packaged is not None:
            candidates.append((packaged[0], ORIGIN_PGSERVER, packaged[1]))
    found: list[Binaries] = []
    seen: set[Path] = set()
    for bindir, origin, package_version in candidates:
        if not _complete(bindir):
            continue
        key = (bindir / "postgres").resolve().parent
        if key in seen:
            continue
        seen.add(key)
        try:
            found.append(Binaries(bindir, _full_version(bindir), origin, package_version))
        except ExternalError:
            continue
    return sorted(found, key=_preference)


def _preference(binaries: Binaries) -> tuple[tuple[int, ...], bool]:
    """Order binaries oldest first; at the same version the machine's (kept current by its package
    manager) after pgserver's, so that the last of a major is the one to run."""
    return _version_tuple(binaries.version), binaries.origin == ORIGIN_MACHINE


def choose_binaries(major: int | None) -> tuple[Binaries, str | None]:
    """Return the binaries for a topology of engine ``major`` (None: any), and a note when none is as new.

    The oldest major at or above ``major`` wins (the machine's over pgserver's at the same
    version): its refusal texts and settings are the engine's own where that major is here. Without
    one, the newest there is runs, and the note says so; the caller folds the reserves that version
    lacks into superuser_reserved_connections, so an ordinary role still meets the planned limit.
    """
    found = sorted(available_binaries(), key=_preference)
    if not found:
        hint = f"{INSTALL_HINT}, {INSTALL_16_HINT}, or set ${BINDIR_ENV}"
        raise ExternalError(f"no PostgreSQL server binaries (initdb, pg_ctl, postgres) found on this machine: {hint}")
    if major is None:
        return found[-1], None
    at_least = [b for b in found if b.major >= major]
    if at_least:
        closest = at_least[0].major
        return [b for b in at_least if b.major == closest][-1], None  # that major's newest minor
    newest = found[-1]
    if newest.origin == ORIGIN_ENV:
        here = f"${BINDIR_ENV} has PostgreSQL {newest.version}"
    else:
        hint = f" ({INSTALL_16_HINT})" if major >= 16 and newest.major < 16 else ""
        here = f"the newest PostgreSQL here is {newest.version}{hint}"
    return newest, (f"the topology says engine_version {major}, but {here}: the run uses {newest.major}, "
                    "with the reserves it lacks folded into superuser_reserved_connections")


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
    settings: Mapping[str, object], *, prefix: str = "planner-pg-", host_auth: str = "scram-sha-256", bindir: Path | None = None,
) -> Iterator[LocalPostgres]:
    """Start a throwaway server with ``settings`` (postgresql.conf values); stop and remove it after.

    ``bindir`` is the server binaries to run (see :func:`choose_binaries`); by default the
    machine's newest (:func:`find_bindir`).
    """
    bindir = bindir or require_bindir()
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
