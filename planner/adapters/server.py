"""What a live PostgreSQL server reports, and how it refuses: its settings, its sessions, its refusals.

The adapters (:mod:`planner.adapters.postgres`) read a server into these dataclasses; the logic of
``inspect`` and ``verify`` (:mod:`planner.live`) reason about them. Nothing here connects anywhere.

How PostgreSQL refuses (``InitPostgres``): a new backend first takes one of ``max_connections``
slots, then, unless it is a superuser, needs more than ``superuser_reserved_connections``
(+ ``reserved_connections`` on 16+ unless it has ``pg_use_reserved_connections``, +
``rds.rds_reserved_connections`` on RDS since 17.1/16.5/15.9/14.14/13.17/12.21, +
``rds.rds_superuser_reserved_connections`` on RDS 15 and older unless it is in ``rds_superuser``)
slots still free. Superusers' sessions take slots from the same pool, so every client backend
counts. Every such refusal carries SQLSTATE 53300 (``too_many_connections``); its wording differs
by version and by who may still get in, see :data:`REFUSALS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Mapping

from planner.reserves import HOLDERS, RDS_RESERVED, RDS_SUPERUSER, RESERVED, SUPERUSER

if TYPE_CHECKING:
    pass

CLIENT_BACKEND = "client backend"


IDLE_IN_TRANSACTION = ("idle in transaction", "idle in transaction (aborted)")


# SQLSTATE of every refusal for lack of slots (``ERRCODE_TOO_MANY_CONNECTIONS``), whatever the wording.
TOO_MANY_CONNECTIONS = "53300"


# The common beginnings of the refusal texts of PostgreSQL 9.x to 18, community and RDS: where only
# the text is at hand (libpq gives no SQLSTATE for a failed login), these decide, not one wording.
SLOT_MESSAGES = (
    "remaining connection slots are reserved",
    "sorry, too many clients already",
    "too many connections for",  # a role's or database's own CONNECTION LIMIT: 53300 as well
)


@dataclass(frozen=True)
class SlotRefusal:
    """One wording of PostgreSQL's (or RDS's) refusal for lack of slots, and what it means."""

    key: str
    fragments: tuple[str, ...]  # all in the message tell this wording apart (lower case, one space, no quotes)
    who: str  # who could still connect when a server says it
    where: str  # which servers say it, and to whom
    hint: str  # how to look inside such a server


_AS_SUPERUSER = ("to look inside, connect as a superuser; on RDS, where not even the master user is one, end sessions "
                 "from one already open (pg_terminate_backend) or wait for some to end")


_AS_MASTER_USER = "to look inside, connect as a superuser or, on RDS, as the master user (a member of rds_superuser)"


# Most specific first (each is tried in order); the texts are in /work/shared/data/reserved-slots.md §2.
REFUSALS: tuple[SlotRefusal, ...] = (
    SlotRefusal(
        "rds_reserved_rds_superuser", ("for non-replication superuser, rds_reserved, and rds_superuser connections",),
        "only a superuser, AWS's rds_reserved sessions or a member of rds_superuser (on RDS: the master user) could connect now",
        "RDS 15 and older with rds.rds_reserved_connections (13.17, 14.14, 15.9 and later), to ordinary roles", _AS_MASTER_USER,
    ),
    SlotRefusal(
        "rds_superuser", ("for non-replication superuser and rds_superuser connections",),
        "only a superuser or a member of rds_superuser (on RDS: the master user) could connect now",
        "RDS 15 and older, to ordinary roles", _AS_MASTER_USER,
    ),
    SlotRefusal(
        "superuser", ("for non-replication superuser connections",),
        "only a superuser could connect now; on RDS no customer role is one, so the master user is refused too",
        "PostgreSQL 15 and older (on RDS: to the master user, once only the superusers' slots are left)", _AS_SUPERUSER,
    ),
    SlotRefusal(
        "rds_reserved", ("for roles with privileges of", "rds_reserved"),
        "only AWS's rds_reserved sessions or a superuser could connect now: the master user (rds_superuser) is refused too",
        "RDS 16 and later, once only rds.rds_reserved_connections and the superusers' slots are left",
        "not even the master user gets in now: end sessions from one already open (pg_terminate_backend), or wait for some to end",
    ),
    SlotRefusal(
        # also the unquoted wording of early 16 development ("... privileges of pg_use_reserved_connections")
        "pg_use_reserved_connections", ("for roles with privileges of", "pg_use_reserved_connections"),
        "only a superuser or a role with privileges of pg_use_reserved_connections (on RDS: rds_superuser members, "
        "so the master user) could connect now",
        "PostgreSQL 16 and later, to roles without pg_use_reserved_connections", _AS_MASTER_USER,
    ),
    SlotRefusal(
        "superuser_attribute", ("for roles with the superuser attribute",),
        "only a superuser could connect now; on RDS that is AWS's rdsadmin alone, so the master user is refused too",
        "PostgreSQL 16 and later, once only superuser_reserved_connections is left", _AS_SUPERUSER,
    ),
    SlotRefusal(
        "too_many_clients", ("sorry, too many clients already",),
        "every slot is taken, even those reserved for superusers: nobody can connect until a session ends",
        "every version, when no slot at all is free (also in bursts of refused attempts, each holding a slot a moment)",
        "wait for a session to end, or end one from a session already open (pg_terminate_backend)",
    ),
    SlotRefusal(
        "connection_limit", ("too many connections for",),
        "this role or database has reached its own CONNECTION LIMIT; other roles may still connect",
        "every version, to a role or database at its rolconnlimit/datconnlimit",
        "see the role's and the database's CONNECTION LIMIT (pg_roles.rolconnlimit, pg_database.datconnlimit)",
    ),
)


# A 53300 in words none of the above match (a newer version, or a translated lc_messages).
UNKNOWN_REFUSAL = SlotRefusal(
    "unknown", (),
    "it refuses new connections for lack of slots; who may still connect depends on its reserved slots",
    "", "to look inside, connect as a superuser or, on RDS, as the master user, or end sessions from one already open",
)


def is_slot_refusal(message: str, sqlstate: str | None = None) -> bool:
    """Return whether a connection error is the server refusing for lack of slots.

    SQLSTATE 53300 says so where the error carries one (libpq keeps none for a failed login);
    otherwise the message's common beginning does (``remaining connection slots are reserved
    ...``, ``sorry, too many clients already``), so every wording of every version counts, also
    ones this module does not know yet.
    """
    if sqlstate == TOO_MANY_CONNECTIONS:
        return True
    text = _normalized(message)
    return any(m in text for m in SLOT_MESSAGES)


def _normalized(message: str) -> str:
    """Return ``message`` in lower case, on one line with single spaces, without double quotes
    (16's quoted role names and the unquoted early wording read alike)."""
    return " ".join(message.lower().replace('"', "").split())


def classify_refusal(message: str) -> SlotRefusal:
    """Return which known wording ``message`` is (:data:`UNKNOWN_REFUSAL` when none is)."""
    text = _normalized(message)
    return next((r for r in REFUSALS if all(f in text for f in r.fragments)), UNKNOWN_REFUSAL)


def full_server_explanation(message: str) -> str:
    """Say who could still connect to a server that refused with ``message`` for lack of slots."""
    refusal = classify_refusal(message)
    if refusal.key == "connection_limit":  # the server itself may have slots to spare
        return f"refused: {refusal.who}"
    return f"the server is full: {refusal.who}"


@dataclass(frozen=True)
class ServerSettings:
    """The settings of a live server that decide its connection budget.

    A reserve is None where the server has no such setting: ``reserved_connections`` before
    PostgreSQL 16, the ``rds.*`` ones off RDS (and on the versions RDS lacks them).
    """

    server_version: str
    version_num: int
    max_connections: int
    superuser_reserved_connections: int
    reserved_connections: int | None = None  # None: before PostgreSQL 16
    rds_superuser_reserved_connections: int | None = None  # None: not RDS, or RDS 16+
    idle_in_transaction_session_timeout_ms: int = 0
    rds_reserved_connections: int | None = None  # None: not RDS, or an RDS minor before 17.1/16.5/15.9/...

    @property
    def major(self) -> int:
        return self.version_num // 10000  # 90624 → 9, 150008 → 15

    @property
    def reserved_slots(self) -> tuple[tuple[str, int], ...]:
        """Return each reserved-slot setting the server has, as the plan names them and in its order."""
        values = {
            SUPERUSER: self.superuser_reserved_connections,
            RDS_RESERVED: self.rds_reserved_connections,
            RDS_SUPERUSER: self.rds_superuser_reserved_connections,
            RESERVED: self.reserved_connections,
        }
        return tuple((name, value) for name, value in values.items() if value is not None)

    @property
    def reserved(self) -> int:
        return sum(v for _, v in self.reserved_slots)

    @property
    def usable(self) -> int:
        """Return what ordinary roles can open: ``max_connections − reserved``."""
        return self.max_connections - self.reserved

    def usable_by(self, parameter: str, superuser: bool, rds_superuser: bool = False, use_reserved: bool = False) -> bool:
        """Return whether a role may open the slots ``parameter`` keeps back.

        The rds_reserved slots are AWS's own: no customer role, the master user included, may use them.
        """
        if superuser:
            return True
        if parameter == RDS_SUPERUSER:
            return rds_superuser
        if parameter == RESERVED:
            return use_reserved
        return False  # superuser_reserved_connections, rds.rds_reserved_connections

    def reserved_for(self, superuser: bool, rds_superuser: bool = False, use_reserved: bool = False) -> int:
        """Return the slots a role must leave free: 0 for superusers, fewer for privileged roles."""
        return sum(v for name, v in self.reserved_slots if not self.usable_by(name, superuser, rds_superuser, use_reserved))


def settings_from_rows(rows: Mapping[str, str]) -> ServerSettings:
    """Build :class:`ServerSettings` from ``pg_settings`` name → setting."""

    def number(name: str) -> int | None:
        value = rows.get(name)
        return None if value in (None, "") else int(str(value))

    return ServerSettings(
        server_version=str(rows.get("server_version", "?")).split(" ")[0],
        version_num=number("server_version_num") or 0,
        max_connections=number("max_connections") or 0,
        superuser_reserved_connections=number(SUPERUSER) or 0,
        reserved_connections=number(RESERVED),
        rds_superuser_reserved_connections=number(RDS_SUPERUSER),
        idle_in_transaction_session_timeout_ms=number("idle_in_transaction_session_timeout") or 0,
        rds_reserved_connections=number(RDS_RESERVED),
    )


@dataclass(frozen=True)
class RoleAllowance:
    """What one role may open on a server: the reserves it may use, the slots it must leave free."""

    role: str
    superuser: bool
    rds_superuser: bool
    use_reserved: bool
    may_use: tuple[str, ...]  # reserve parameters whose slots the role may open
    must_leave_free: int
    may_hold: int  # max_connections − must_leave_free: every client session counts against it
    free_now: int | None  # more connections the role could open now; None where in_use is unknown

    @property
    def why(self) -> str:
        """Return what gives the role its share, in words."""
        if self.superuser:
            return "you are a superuser: every slot is yours, the reserved ones too"
        have = (["you are a member of rds_superuser"] if self.rds_superuser else []) + \
            (["you have pg_use_reserved_connections"] if self.use_reserved else [])
        if not have:
            return "an ordinary role (no superuser, rds_superuser or pg_use_reserved_connections): no reserved slot is yours"
        if not self.may_use:
            # e.g. a member of rds_superuser on RDS 16+, whose reserved_connections is 0
            return f"{' and '.join(have)}, but no reserved slot of this server is kept for that"
        return f"{' and '.join(have)}, so the slots of {' and '.join(self.may_use)} are yours too"


def role_allowance(
    settings: ServerSettings, role: str, superuser: bool, rds_superuser: bool = False, use_reserved: bool = False,
    in_use: int | None = None,
) -> RoleAllowance:
    """Return what ``role`` may open on a server with ``settings``, with ``in_use`` client sessions now."""
    may_use = tuple(name for name, value in settings.reserved_slots if value and settings.usable_by(name, superuser, rds_superuser, use_reserved))
    leave = settings.reserved_for(superuser, rds_superuser, use_reserved)
    hold = settings.max_connections - leave
    free = None if in_use is None else max(0, hold - in_use)
    return RoleAllowance(role, superuser, rds_superuser, use_reserved, may_use, leave, hold, free)


def reserve_holder(parameter: str) -> str:
    """Return who may open the slots ``parameter`` keeps back, in words (from :mod:`planner.reserves`)."""
    return HOLDERS[parameter][0] if parameter in HOLDERS else "?"


@dataclass(frozen=True)
class Session:
    """One row of ``pg_stat_activity``; fields the caller may not see are None (``hidden``)."""

    pid: int
    backend_type: str | None
    user: str | None
    application_name: str
    database: str | None
    client: str | None  # an address, "local" for a Unix socket, None where hidden or none
    state: str | None
    superuser: bool = False
    state_seconds: float | None = None  # time in the current state
    xact_seconds: float | None = None  # age of the open transaction
    hidden: bool = False  # the caller lacks pg_read_all_stats for this session

    @property
    def is_client(self) -> bool:
        """Return whether this session holds one of the ``max_connections`` slots."""
        if self.backend_type is not None:
            return self.backend_type == CLIENT_BACKEND
        # Hidden rows have no backend_type: background processes have no user or no database.
        return self.user is not None and self.database is not None


@dataclass(frozen=True)
class Snapshot:
    """Everything one read-only look at a server saw."""

    where: str  # user@host:port/dbname, never a password
    settings: ServerSettings
    sessions: tuple[Session, ...]
    self_pid: int
    user: str
    superuser: bool
    rds_superuser: bool = False  # the connected role is a member of rds_superuser (RDS only)
    use_reserved: bool = False  # the connected role has the privileges of pg_use_reserved_connections (16+)

    @property
    def clients(self) -> list[Session]:
        return [s for s in self.sessions if s.is_client]

    def allowance(self) -> RoleAllowance:
        """Return what the connected role itself may open, with the client sessions there now."""
        return role_allowance(self.settings, self.user, self.superuser, self.rds_superuser, self.use_reserved, len(self.clients))


@dataclass(frozen=True)
class ActivitySample:
    """One read of ``pg_stat_activity`` by ``inspect --sample``: every client session at one moment."""

    at: datetime  # the server's statement_timestamp(), aware
    version_num: int
    max_connections: int
    self_pid: int
    sessions: tuple[Session, ...]  # client backends (hidden ones too), this session included
