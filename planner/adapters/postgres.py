"""PostgreSQL and PgBouncer through psycopg: the only module of the package that imports it.

Every psycopg failure leaves here as an :class:`~planner.errors.ExternalError` (exit 3) that
carries the server's own message and a hint, on one line, with the password taken out: DSNs
and URLs are printed only through :func:`redact_dsn`, and messages are scrubbed of the
password's value (and of ``$PGPASSWORD``'s) before anyone sees them.

Sessions opened for ``inspect`` are read-only (``default_transaction_read_only``), time-limited
(``statement_timeout``, ``lock_timeout``) and have a connect timeout. A connection cut mid-way, a
statement cancelled by a timeout or a session ended by ``pg_terminate_backend`` is one line too,
with the server's (or libpq's) words and what it means.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from planner.adapters.server import (
    ActivitySample,
    ServerSettings,
    Session,
    Snapshot,
    classify_refusal,
    full_server_explanation,
    is_slot_refusal,
    settings_from_rows,
)
from planner.errors import ExternalError, InputError, SessionLost

if TYPE_CHECKING:
    import psycopg

REDACTED = "***"
CONNECT_TIMEOUT_SECONDS = 10
STATEMENT_TIMEOUT = "10s"
LOCK_TIMEOUT = "2s"  # inspect never queues long behind a lock (and never makes others queue behind it)
CUT = "server closed the connection unexpectedly"  # libpq's words for a connection dropped mid-way
SETTINGS = (
    "server_version", "server_version_num", "max_connections", "superuser_reserved_connections",
    "rds.rds_reserved_connections", "rds.rds_superuser_reserved_connections", "reserved_connections",
    "idle_in_transaction_session_timeout",
)
# RDS defines its rds.* settings, so they are in pg_settings there; elsewhere such a name is at most a
# placeholder (set in postgresql.conf, e.g. by the test suite to stand in for RDS), which pg_settings
# hides but current_setting(name, true) reads.
SETTINGS_QUERY = """SELECT name, setting FROM pg_settings WHERE name = ANY(%(names)s)
UNION ALL
SELECT n, current_setting(n, true) FROM unnest(%(names)s::text[]) AS n
 WHERE n LIKE 'rds.%%' AND current_setting(n, true) IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_settings p WHERE p.name = n)"""
# The connected role and what it may use of the reserved slots. pg_use_reserved_connections exists
# from PostgreSQL 16 on and rds_superuser only on RDS and Aurora: each is looked up in pg_roles first
# and pg_has_role is asked by oid, so a server without the role answers false instead of failing.
# USAGE (the role's privileges, as PostgreSQL checks them) for pg_use_reserved_connections;
# MEMBER for rds_superuser, as RDS checks it.
ROLE_QUERY = """SELECT current_user, COALESCE((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false),
       EXISTS (SELECT 1 FROM pg_roles g WHERE g.rolname = 'rds_superuser' AND pg_has_role(current_user, g.oid, 'MEMBER')),
       EXISTS (SELECT 1 FROM pg_roles g WHERE g.rolname = 'pg_use_reserved_connections'
               AND current_setting('server_version_num')::int >= 160000 AND pg_has_role(current_user, g.oid, 'USAGE'))"""
_KV_SECRET = re.compile(r"(\b(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|\S+)", re.IGNORECASE)
_URL = re.compile(r"^(\s*postgres(?:ql)?://)(.*)$", re.IGNORECASE | re.DOTALL)
_URL_PARAM_SECRET = re.compile(r"([?&](?:ssl)?password=)[^&#]*", re.IGNORECASE)


# --------------------------------------------------------------------------- passwords


def redact_dsn(dsn: str) -> str:
    """Return ``dsn`` (a URL or key=value string) with every password replaced by ``***``.

    In a URL the password is everything between the first ``:`` of the user part and the last
    ``@`` (so an unencoded ``@`` or ``/`` in it is covered too), and any ``password=`` parameter.
    """
    match = _URL.match(dsn)
    if match is None:
        return _KV_SECRET.sub(lambda m: m.group(1) + REDACTED, dsn)
    scheme, rest = match.groups()
    at = rest.rfind("@")
    colon = rest.find(":")
    if at != -1 and colon != -1 and colon < at:
        rest = rest[: colon + 1] + REDACTED + rest[at:]
    return scheme + _URL_PARAM_SECRET.sub(lambda m: m.group(1) + REDACTED, rest)


def _secrets(dsn: str) -> list[str]:
    """Return the password values in ``dsn`` (as written and decoded) and ``$PGPASSWORD``."""
    found: list[str] = []
    match = _URL.match(dsn)
    if match is not None:
        rest = match.group(2)
        at, colon = rest.rfind("@"), rest.find(":")
        if at != -1 and colon != -1 and colon < at:
            found.append(rest[colon + 1: at])
        found.extend(m.group(0).split("=", 1)[1] for m in _URL_PARAM_SECRET.finditer(rest))
    else:
        for m in _KV_SECRET.finditer(dsn):
            value = m.group(2)
            found.append(value)
            if value.startswith("'"):
                found.append(value.strip("'").replace("\\'", "'").replace("\\\\", "\\"))
    if os.environ.get("PGPASSWORD"):
        found.append(os.environ["PGPASSWORD"])
    found += [unquote(s) for s in found]
    return sorted({s for s in found if len(s) >= 3}, key=len, reverse=True)


def scrub(text: str, dsn: str) -> str:
    """Return ``text`` on one line, without any password that ``dsn`` or the environment holds."""
    for secret in _secrets(dsn):
        text = text.replace(secret, REDACTED)
    return "; ".join(" ".join(line.split()) for line in text.splitlines() if line.strip())


def describe_target(dsn: str) -> str:
    """Return ``user@host:port/dbname`` for messages: where a DSN points, never its password."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(dsn)
    except Exception:  # noqa: BLE001 - an unparsable DSN is reported by connect(); describe it safely
        return redact_dsn(dsn)
    env = os.environ
    host = str(params.get("host") or params.get("hostaddr") or env.get("PGHOST") or "local socket")
    port = str(params.get("port") or env.get("PGPORT") or "5432")
    user = str(params.get("user") or env.get("PGUSER") or _login_name())
    dbname = str(params.get("dbname") or env.get("PGDATABASE") or user)
    if host.startswith("/"):
        host = f"socket {host}"
    return f"{user}@{host}:{port}/{dbname}"


def _login_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "?"


# --------------------------------------------------------------------------- errors


def server_message(text: str) -> str:
    """Return the server's (or libpq's) own words from a psycopg connection error."""
    text = " ".join(text.split())
    if CUT in text:  # libpq adds "This probably means the server terminated abnormally ...": often not so
        return CUT
    fatal = text.find("FATAL:")
    if fatal != -1:
        return text[fatal:].replace("FATAL: ", "FATAL: ", 1)
    if "failed: " in text:
        return text.rsplit("failed: ", 1)[1]
    return text.removeprefix("connection failed: ")


def connect_timeout_of(dsn: str, override: float | None = None) -> int | None:
    """Return the seconds libpq waits for a connection: ``override``, else the DSN's
    ``connect_timeout``, else :data:`CONNECT_TIMEOUT_SECONDS`; at least 2 (libpq's minimum);
    None when the DSN turns it off (0)."""
    from psycopg.conninfo import conninfo_to_dict

    value: Any = override
    if value is None:
        try:
            value = conninfo_to_dict(dsn).get("connect_timeout", CONNECT_TIMEOUT_SECONDS)
        except Exception:  # noqa: BLE001 - an unparsable DSN is reported by connect
            value = CONNECT_TIMEOUT_SECONDS
    try:
        seconds = int(float(value))
    except (TypeError, ValueError):
        return CONNECT_TIMEOUT_SECONDS
    return None if seconds <= 0 else max(2, seconds)


def _cut_hint() -> str:
    return "the connection was cut mid-way: the server restarted or ended the session, or a proxy, load balancer or firewall in between dropped it"


def sqlstate_of(exc: BaseException) -> str | None:
    """Return the SQLSTATE of a psycopg error, where the server sent one.

    libpq keeps none for a failed login (the error of a connection attempt has no result), so
    for refusals at connect time the caller falls back on the message's words.
    """
    code = getattr(exc, "sqlstate", None) or getattr(getattr(exc, "diag", None), "sqlstate", None)
    return str(code) if code else None


def connection_error(exc: BaseException, dsn: str, what: str = "PostgreSQL", timeout: int | None = None) -> ExternalError:
    """Turn a psycopg connection failure into one line with the server's message and a hint;
    ``timeout`` is the connect timeout that was used (seconds)."""
    text = scrub(str(exc), dsn)
    message = server_message(text)
    where = describe_target(dsn)
    lowered = message.lower()
    if is_slot_refusal(message, sqlstate_of(exc)):
        return ExternalError(
            f"{what} at {where}: {full_server_explanation(message)} ({message}); {classify_refusal(message).hint}"
        )
    if "authentication failed" in lowered or "no password supplied" in lowered or "not allowed" in lowered:
        hint = "check the user and the password (PGPASSWORD or ~/.pgpass keep it off the command line)"
    elif "does not exist" in lowered:
        hint = "check the user and the database name"
    elif "timeout" in lowered:
        hint = f"no answer within {timeout or CONNECT_TIMEOUT_SECONDS} s: check the host, the port and firewalls or security groups"
    elif message == CUT:
        hint = _cut_hint()
    elif "pg_hba.conf" in lowered:
        hint = "the server does not accept this user from this address: see its pg_hba.conf"
    elif "is the server running" in lowered:
        hint = ""  # libpq's own words already say it
    else:
        hint = "is the server running and accepting connections on that host and port?"
    hint = f" ({hint})" if hint else ""
    return ExternalError(f"{what} at {where} refused or could not be reached: {message}{hint}")


def query_message(exc: BaseException, dsn: str) -> str:
    """Return the server's (or libpq's) words for a failed statement, on one line, with a hint
    where the words alone do not say what happened (a timeout, a cut, a terminated session)."""
    primary = getattr(getattr(exc, "diag", None), "message_primary", None)
    text = scrub(primary or str(exc).split("\n", 1)[0], dsn)  # not LINE 1: ... ^ (the query, not the problem)
    for prefix in ("consuming input failed: ", "sending query failed: ", "sending query and params failed: "):
        text = text.removeprefix(prefix)
    lowered = text.lower()
    if CUT in text:
        return f"{CUT} ({_cut_hint()})"
    if "statement timeout" in lowered:
        hint = ("the server did not answer within statement_timeout: it is overloaded or a lock blocks what planner reads, "
                "see pg_locks; planner inspect --statement-timeout sets a longer one")
    elif "lock timeout" in lowered:
        hint = "another session holds a lock on what planner reads, see pg_locks: run again once it is released"
    elif "terminating connection" in lowered:
        hint = "the session was ended: pg_terminate_backend from another session, or the server shutting down or restarting"
    else:
        return text
    return f"{text} ({hint})"


def _release(exc: BaseException) -> None:
    """Drop the locals of the finished psycopg frames an error keeps alive: an attempt that timed
    out holds its half-open socket there, to the server that never answered, until the garbage
    collector runs (and our errors keep psycopg's as their cause)."""
    import traceback

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)
        current = current.__cause__ or current.__context__


def _query_error(exc: BaseException, dsn: str, what: str) -> ExternalError:
    return ExternalError(f"{what} at {describe_target(dsn)}: {query_message(exc, dsn)}")


def connect(dsn: str, what: str = "PostgreSQL", connect_timeout: float | None = None, **kwargs: Any) -> "psycopg.Connection[Any]":
    """Connect with a connect timeout (``connect_timeout`` seconds, else the DSN's, else 10 s);
    map every failure."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error as exc:
        detail = re.sub(r'"[^"]*"', "…", scrub(str(exc), dsn))  # libpq quotes the bad fragment: drop it
        option = "--pgbouncer" if what == "PgBouncer" else "--dsn"
        # not echoed: a mistyped DSN may hold a password where no parser can find it
        raise InputError(f"{option}: not a valid connection string or URL (libpq: {detail}); write postgresql://USER@HOST:PORT/DBNAME or host=... dbname=...") from exc
    if connect_timeout is not None:
        kwargs["connect_timeout"] = connect_timeout
    elif "connect_timeout" not in params:
        kwargs["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    try:
        return psycopg.connect(dsn, autocommit=True, **kwargs)
    except psycopg.Error as exc:
        _release(exc)
        raise connection_error(exc, dsn, what, connect_timeout_of(dsn, connect_timeout)) from exc


# --------------------------------------------------------------------------- inspect


def connect_read_only(
    dsn: str, application_name: str = "planner inspect", *, connect_timeout: float | None = None, statement_timeout: str = STATEMENT_TIMEOUT
) -> "psycopg.Connection[Any]":
    """Open the one read-only, time-limited session ``inspect`` uses.

    ``statement_timeout`` is a PostgreSQL duration (``10s``, ``250ms``); it is set last, so that a
    tiny one limits inspect's queries, not its own settings.
    """
    conn = connect(dsn, application_name=application_name, connect_timeout=connect_timeout)
    try:
        for setting, value in (("default_transaction_read_only", "on"), ("lock_timeout", LOCK_TIMEOUT), ("statement_timeout", statement_timeout)):
            conn.execute(f"SET {setting} = '{value}'")
    except Exception as exc:
        conn.close()
        raise _query_error(exc, dsn, "PostgreSQL") from exc
    return conn


def read_snapshot(conn: "psycopg.Connection[Any]", dsn: str) -> Snapshot:
    """Read the settings and ``pg_stat_activity`` in one read-only transaction."""
    import psycopg

    try:
        with conn.transaction():
            rows = dict(conn.execute(SETTINGS_QUERY, {"names": list(SETTINGS)}).fetchall())
            pid = conn.execute("SELECT pg_backend_pid()").fetchone()
            me = conn.execute(ROLE_QUERY).fetchone()
            activity = conn.execute(
                """SELECT a.pid, a.backend_type, a.usename, COALESCE(a.application_name, ''), a.datname,
                       CASE WHEN a.client_port = -1 THEN 'local' ELSE host(a.client_addr) END,
                       a.state, COALESCE(r.rolsuper, false),
                       GREATEST(0, EXTRACT(EPOCH FROM clock_timestamp() - a.state_change))::float8,
                       GREATEST(0, EXTRACT(EPOCH FROM clock_timestamp() - a.xact_start))::float8,
                       a.backend_type IS NULL
                  FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid
                 ORDER BY a.pid
                """
            ).fetchall()
    except psycopg.Error as exc:
        raise _query_error(exc, dsn, "PostgreSQL: reading pg_settings and pg_stat_activity") from exc
    assert me is not None and pid is not None
    sessions = tuple(Session(*row) for row in activity)
    return Snapshot(
        describe_target(dsn), settings_from_rows(rows), sessions, int(pid[0]), str(me[0]), bool(me[1]), bool(me[2]), bool(me[3])
    )


def run_terminations(conn: "psycopg.Connection[Any]", dsn: str, statements: list[tuple[int, str]]) -> dict[int, bool | str]:
    """Run each (pid, guarded ``pg_terminate_backend`` SQL); return pid → whether it was ended,
    or the server's message when it refused (e.g. the role may not signal that session)."""
    import psycopg

    done: dict[int, bool | str] = {}
    for pid, sql in statements:
        try:
            row = conn.execute(sql).fetchone()
        except psycopg.Error as exc:  # autocommit: the next statement is unaffected
            done[pid] = scrub(str(exc), dsn)
            continue
        done[pid] = bool(row and row[0])
    return done


# --------------------------------------------------------------------------- inspect --sample

# One sample of ``inspect --sample``, its only query: every client backend (hidden ones too: another role's
# session without pg_read_all_stats has no backend_type, state or address, but a user and a database), this
# session included, at the statement's own time. The server's version and max_connections ride along on
# each row, so that sampling needs no other query.
SAMPLE_QUERY = """SELECT statement_timestamp(), current_setting('server_version_num')::int, current_setting('max_connections')::int,
       pg_backend_pid(), a.pid, a.usename, COALESCE(a.application_name, ''), a.datname,
       CASE WHEN a.client_port = -1 THEN 'local' ELSE host(a.client_addr) END, a.state, COALESCE(r.rolsuper, false),
       GREATEST(0, EXTRACT(EPOCH FROM statement_timestamp() - a.state_change))::float8, a.backend_type IS NULL
  FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid
 WHERE a.backend_type = 'client backend' OR (a.backend_type IS NULL AND a.usesysid IS NOT NULL AND a.datname IS NOT NULL)"""


def read_activity(conn: "psycopg.Connection[Any]", dsn: str) -> ActivitySample:
    """Read one sample of ``pg_stat_activity`` with :data:`SAMPLE_QUERY` (autocommit: its own snapshot).

    :class:`~planner.errors.SessionLost` when the session is gone (the server restarted or ended it, the
    network cut it); :class:`~planner.errors.ExternalError` when only this query failed (a statement timeout).
    """
    import psycopg

    try:
        rows = conn.execute(SAMPLE_QUERY, prepare=False).fetchall()
    except psycopg.Error as exc:
        error = SessionLost if conn.broken or conn.closed else ExternalError
        raise error(f"PostgreSQL at {describe_target(dsn)}: {query_message(exc, dsn)}") from exc
    first = rows[0]  # this session is always one of the rows
    sessions = tuple(
        Session(pid, None if hidden else "client backend", user, name, database, client, state, superuser, seconds, None, hidden)
        for _, _, _, _, pid, user, name, database, client, state, superuser, seconds, hidden in rows
    )
    return ActivitySample(first[0], int(first[1]), int(first[2]), int(first[3]), sessions)


# --------------------------------------------------------------------------- PgBouncer


# --------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class Control:
    """What verify learns before its run: the server's settings, the role, who is connected."""

    settings: ServerSettings
    user: str
    superuser: bool
    rds_superuser: bool
    use_reserved: bool
    others: int  # client backends other than the control session


class SlotRefused(Exception):
    """The server refused a connection for lack of slots; ``message`` is its own words,
    ``sqlstate`` its code where libpq kept one (53300)."""

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.sqlstate = sqlstate


def read_control(dsn: str, application_name: str = "planner verify") -> Control:
    """Connect once, read the settings, the role's privileges and the other client sessions."""
    import psycopg

    conn = connect(dsn, application_name=application_name)
    try:
        rows = dict(conn.execute(SETTINGS_QUERY, {"names": list(SETTINGS)}).fetchall())
        role = conn.execute(ROLE_QUERY).fetchone()
        others = conn.execute(
            """SELECT count(*) FROM pg_stat_activity a
                WHERE a.pid <> pg_backend_pid() AND (a.backend_type = 'client backend'
                      OR (a.backend_type IS NULL AND a.usesysid IS NOT NULL AND a.datname IS NOT NULL))"""
        ).fetchone()
    except psycopg.Error as exc:
        raise _query_error(exc, dsn, "PostgreSQL") from exc
    finally:
        conn.close()
    assert role is not None and others is not None
    return Control(settings_from_rows(rows), str(role[0]), bool(role[1]), bool(role[2]), bool(role[3]), int(others[0]))


def create_login_role(dsn: str, role: str) -> None:
    """Create an ordinary LOGIN role (on verify's own throwaway server)."""
    import psycopg
    from psycopg import sql

    conn = connect(dsn, application_name="planner verify (setup)")
    try:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER").format(sql.Identifier(role)))
    except psycopg.Error as exc:
        raise _query_error(exc, dsn, "local PostgreSQL") from exc
    finally:
        conn.close()


def open_tagged(dsn: str, application_name: str) -> "psycopg.Connection[Any]":
    """Open one connection tagged with ``application_name``; :class:`SlotRefused` when full."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    # the DSN's own connect_timeout wins, as in _connect
    timeout = {} if "connect_timeout" in conninfo_to_dict(dsn) else {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    try:
        return psycopg.connect(dsn, autocommit=True, application_name=application_name, **timeout)
    except psycopg.OperationalError as exc:
        _release(exc)
        text = scrub(str(exc), dsn)
        code = sqlstate_of(exc)
        if is_slot_refusal(text, code):
            raise SlotRefused(server_message(text), code) from exc
        raise connection_error(exc, dsn, timeout=connect_timeout_of(dsn)) from exc


def count_other_clients(conn: "psycopg.Connection[Any]", exclude: "list[int]") -> int:
    """Return the client sessions on the server that are not in ``exclude`` (pids)."""
    import psycopg

    try:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid <> ALL(%s) AND (backend_type = 'client backend'"
            " OR (backend_type IS NULL AND usesysid IS NOT NULL AND datname IS NOT NULL))",
            [exclude],
        ).fetchone()
    except psycopg.Error as exc:  # e.g. the connection was cut mid-way
        try:
            info = conn.info
            where = f"{info.user}@{info.host}:{info.port}/{info.dbname}"
        except Exception:  # noqa: BLE001 - only for the message
            where = "the server"
        raise ExternalError(f"PostgreSQL at {where}: counting the sessions on the server: {query_message(exc, '')}") from exc
    return int(row[0]) if row else 0


def settle_others(conn: "psycopg.Connection[Any]", at_most: int, timeout: float = 3.0) -> int:
    """Wait until at most ``at_most`` other client sessions remain (a closed session's backend
    exits a moment after the client hangs up); return how many there are."""
    own = [conn.info.backend_pid]
    deadline = time.monotonic() + timeout
    others = count_other_clients(conn, own)
    while others > at_most and time.monotonic() < deadline:
        time.sleep(0.02)
        others = count_other_clients(conn, own)
    return others
