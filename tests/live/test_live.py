"""The pure logic of inspect and verify, without a server: tables of cases, and PostgreSQL's rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner.budget import compute_budget
from planner.errors import InputError
from planner.adapters.server import REFUSALS, ServerSettings, Session, Snapshot, classify_refusal, full_server_explanation, is_slot_refusal, role_allowance, settings_from_rows
from planner.live.inspect import advise, compare_with_plan, count_by, format_duration, groupings, live_budget, locate, oldest_transaction, parse_duration, predict_refusal, stale_idle_sessions
from planner.adapters.localpg import Binaries
from planner.adapters.postgres import redact_dsn, scrub, server_message
from planner.topology import parse_topology
from planner.live.verify import build_plan, default_scale, local_settings

PG15 = ServerSettings("15.8", 150008, 20, 3)
PG16 = ServerSettings("16.2", 160002, 20, 3, reserved_connections=2)
# Default parameter groups (spec v1.1 §3): RDS 16.5+ has rds_reserved and reserved_connections, no rds_superuser reserve;
# 15.9+ has rds_reserved and the rds_superuser reserve; 15.8 only the latter.
RDS16 = ServerSettings("16.8", 160008, 100, 3, reserved_connections=2, rds_reserved_connections=4)
RDS15_9 = ServerSettings("15.9", 150009, 100, 3, rds_superuser_reserved_connections=2, rds_reserved_connections=4)
RDS15_8 = ServerSettings("15.8", 150008, 100, 3, rds_superuser_reserved_connections=2)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h", 3600), ("90", 90), ("250ms", 0.25), ("1.5m", 90), (" 2 min ", 120), ("0", 0)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5x", "", "-1s", "m", "1h30m", "five"])
def test_bad_durations_are_input_errors(text: str) -> None:
    with pytest.raises(InputError, match="--idle-after"):
        parse_duration(text)


@pytest.mark.parametrize(("seconds", "text"), [(None, "-"), (1.25, "1.2s"), (45, "45s"), (303, "5m 3s"), (600, "10m"), (7800, "2h 10m")])
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_settings_from_pg_settings_rows() -> None:
    rows = {"server_version": "16.8", "server_version_num": "160008", "max_connections": "100",
            "superuser_reserved_connections": "3", "reserved_connections": "2", "rds.rds_reserved_connections": "4",
            "idle_in_transaction_session_timeout": "60000"}
    assert settings_from_rows(rows) == ServerSettings("16.8", 160008, 100, 3, 2, None, 60000, 4)
    rows = {"server_version": "15.4 (Debian 15.4-1)", "server_version_num": "150004", "max_connections": "100",
            "superuser_reserved_connections": "3", "rds.rds_superuser_reserved_connections": "2"}
    assert settings_from_rows(rows) == ServerSettings("15.4", 150004, 100, 3, None, 2)  # absent settings are None, not 0
    assert settings_from_rows({"server_version_num": "90624", "max_connections": "50", "superuser_reserved_connections": "3"}).major == 9


@pytest.mark.parametrize(
    ("settings", "flags", "reserved"),
    [
        (PG15, (False, False, False), 3),
        (PG15, (True, False, False), 0),
        (PG16, (False, False, False), 5),
        (PG16, (False, False, True), 3),  # pg_use_reserved_connections may take reserved_connections
        (RDS16, (False, False, False), 9),  # an application role: N − 9
        (RDS16, (False, True, True), 7),  # the master user (rds_superuser, so pg_use_reserved_connections): N − 7
        (RDS16, (False, True, False), 9),  # rds_superuser without the privilege: nothing on 16+ is kept for it alone
        (RDS16, (True, False, False), 0),  # a superuser (rdsadmin) may take every slot, rds_reserved's too
        (RDS15_9, (False, False, False), 9),
        (RDS15_9, (False, True, False), 7),  # the master user takes rds_superuser's 2, never rds_reserved's 4
        (RDS15_8, (False, False, False), 5),
        (RDS15_8, (False, True, False), 3),
    ],
)
def test_reserved_for_each_kind_of_role(settings: ServerSettings, flags: tuple[bool, bool, bool], reserved: int) -> None:
    assert settings.reserved_for(*flags) == reserved


def test_live_settings_budget_lists_reserves_in_planner_order() -> None:
    assert (RDS16.reserved, RDS16.usable) == (9, 91)
    assert RDS16.reserved_slots == (("superuser_reserved_connections", 3), ("rds.rds_reserved_connections", 4), ("reserved_connections", 2))
    assert RDS15_9.reserved_slots == (
        ("superuser_reserved_connections", 3), ("rds.rds_reserved_connections", 4), ("rds.rds_superuser_reserved_connections", 2))
    every = ServerSettings("x", 0, 100, 3, reserved_connections=2, rds_superuser_reserved_connections=2, rds_reserved_connections=4)
    assert [n for n, _ in every.reserved_slots] == [
        "superuser_reserved_connections", "rds.rds_reserved_connections", "rds.rds_superuser_reserved_connections", "reserved_connections"]
    assert dict(PG15.reserved_slots) == {"superuser_reserved_connections": 3}


@pytest.mark.parametrize(
    ("settings", "flags", "may_use", "hold", "why"),
    [
        (RDS16, (False, False, False), (), 91, "an ordinary role (no superuser, rds_superuser or pg_use_reserved_connections): no reserved slot is yours"),
        (RDS16, (False, True, True), ("reserved_connections",), 93,
         "you are a member of rds_superuser and you have pg_use_reserved_connections, so the slots of reserved_connections are yours too"),
        (RDS15_9, (False, True, False), ("rds.rds_superuser_reserved_connections",), 93,
         "you are a member of rds_superuser, so the slots of rds.rds_superuser_reserved_connections are yours too"),
        (RDS16, (True, False, False), ("superuser_reserved_connections", "rds.rds_reserved_connections", "reserved_connections"), 100,
         "you are a superuser: every slot is yours, the reserved ones too"),
        (PG15, (False, True, False), (), 17, "you are a member of rds_superuser, but no reserved slot of this server is kept for that"),
    ],
)
def test_what_the_connected_role_may_open(settings: ServerSettings, flags: tuple[bool, bool, bool], may_use: tuple[str, ...], hold: int, why: str) -> None:
    you = role_allowance(settings, "someone", *flags, in_use=10)
    assert (you.may_use, you.may_hold, you.free_now, you.why) == (may_use, hold, hold - 10, why)
    assert you.must_leave_free == settings.max_connections - hold
    assert role_allowance(settings, "someone", *flags).free_now is None


@pytest.mark.parametrize(
    ("max_connections", "reserved", "others", "demand", "refused"),
    [
        (60, 5, 0, 62, 56),  # beanstalk-flask: usable 55, the 56th is refused
        (60, 5, 0, 55, None),
        (60, 5, 0, 56, 56),
        (20, 3, 2, 20, 16),  # two sessions already connected (superusers' count too)
        (10, 3, 12, 4, 1),  # already past the line: the very first is refused
        (10, 3, 0, 0, None),
    ],
)
def test_predict_refusal(max_connections: int, reserved: int, others: int, demand: int, refused: int | None) -> None:
    assert predict_refusal(max_connections, reserved, others, demand) == refused


def simulate_postgres(max_connections: int, reserved: int, others: int, demand: int) -> int | None:
    """PostgreSQL's InitPostgres, one connection at a time: take a slot, then an ordinary role
    needs ``reserved`` slots still free (HaveNFreeProcs); no slot at all is refused too."""
    used = others
    for k in range(1, demand + 1):
        if used >= max_connections:
            return k  # "sorry, too many clients already"
        used += 1
        if max_connections - used < reserved:
            return k  # "remaining connection slots are reserved ..."
    return None


@given(st.integers(1, 300), st.integers(0, 20), st.integers(0, 300), st.integers(0, 400))
def test_prediction_matches_postgres_rule(max_connections: int, reserved: int, others: int, demand: int) -> None:
    others = min(others, max_connections)  # a server never holds more client backends than slots
    assert predict_refusal(max_connections, reserved, others, demand) == simulate_postgres(max_connections, reserved, others, demand)


def test_locate_the_source_of_an_ordinal() -> None:
    counts = [("web@prod", 10), ("idle@prod", 0), ("worker@prod", 5)]
    assert locate(1, counts) == ("web@prod", 1)
    assert locate(10, counts) == ("web@prod", 10)
    assert locate(11, counts) == ("worker@prod", 1)
    assert locate(16, counts) is None


# Every refusal text of /work/shared/data/reserved-slots.md §2, exactly as the servers send it (libpq
# keeps the two spaces after FATAL:), with its kind and what planner says about who could still connect.
REFUSAL_TEXTS = [
    ("FATAL:  remaining connection slots are reserved for non-replication superuser connections", "superuser",
     "only a superuser could connect now; on RDS no customer role is one, so the master user is refused too"),
    ("FATAL:  remaining connection slots are reserved for non-replication superuser and rds_superuser connections", "rds_superuser",
     "only a superuser or a member of rds_superuser (on RDS: the master user) could connect now"),
    ("FATAL: remaining connection slots are reserved for non-replication superuser, rds_reserved, and rds_superuser connections",
     "rds_reserved_rds_superuser",
     "only a superuser, AWS's rds_reserved sessions or a member of rds_superuser (on RDS: the master user) could connect now"),
    ('FATAL:  remaining connection slots are reserved for roles with privileges of the "pg_use_reserved_connections" role',
     "pg_use_reserved_connections",
     "only a superuser or a role with privileges of pg_use_reserved_connections (on RDS: rds_superuser members, so the master user) could connect now"),
    ("FATAL:  remaining connection slots are reserved for roles with privileges of pg_use_reserved_connections",  # early 16, unquoted
     "pg_use_reserved_connections", "only a superuser or a role with privileges of pg_use_reserved_connections"),
    ("FATAL:  remaining connection slots are reserved for roles with privileges of the pg_use_reserved_connections role",
     "pg_use_reserved_connections", "only a superuser or a role with privileges of pg_use_reserved_connections"),
    ('FATAL:  remaining connection slots are reserved for roles with privileges of the "rds_reserved" role', "rds_reserved",
     "only AWS's rds_reserved sessions or a superuser could connect now: the master user (rds_superuser) is refused too"),
    ("FATAL:  remaining connection slots are reserved for roles with the SUPERUSER attribute", "superuser_attribute",
     "only a superuser could connect now; on RDS that is AWS's rdsadmin alone, so the master user is refused too"),
    ("FATAL:  sorry, too many clients already", "too_many_clients",
     "every slot is taken, even those reserved for superusers: nobody can connect until a session ends"),
    ('FATAL:  too many connections for role "app"', "connection_limit", "this role or database has reached its own CONNECTION LIMIT"),
    ('FATAL:  too many connections for database "shop"', "connection_limit", "other roles may still connect"),
]


@pytest.mark.parametrize(("message", "kind", "who"), REFUSAL_TEXTS)
def test_every_refusal_text_is_recognised_and_explained(message: str, kind: str, who: str) -> None:
    assert is_slot_refusal(message)
    assert is_slot_refusal(message.replace("FATAL:  ", "").replace("FATAL: ", ""))  # libpq's text or the bare message
    assert classify_refusal(message).key == kind
    headline = "refused: " if kind == "connection_limit" else "the server is full: "
    assert full_server_explanation(message) == headline + classify_refusal(message).who
    assert who in full_server_explanation(message)
    # the same words on a log line, with a timestamp and the Postgrex/pq prefixes, or in another case
    assert classify_refusal(f"2026-01-01 12:00:00 UTC::@:[1]:{message}").key == kind
    assert classify_refusal(message.upper()).key == kind


def test_every_known_wording_has_a_text_in_the_table() -> None:
    assert {r.key for r in REFUSALS} == {kind for _, kind, _ in REFUSAL_TEXTS}


@pytest.mark.parametrize(
    ("message", "sqlstate", "full"),
    [
        ("FATAL:  es sind keine Verbindungen mehr frei", "53300", True),  # a translated lc_messages: SQLSTATE decides
        ("FATAL:  remaining connection slots are reserved for a role this planner has not met", None, True),  # the common beginning
        ("FATAL:  remaining connection slots are reserved for non-replication superuser connections", "08006", True),  # words suffice
        ('FATAL:  password authentication failed for user "app"', "28P01", False),
        ('FATAL:  password authentication failed for user "app"', None, False),
        ('FATAL:  database "shop" does not exist', None, False),
    ],
)
def test_refusals_by_sqlstate_or_common_beginning(message: str, sqlstate: str | None, full: bool) -> None:
    assert is_slot_refusal(message, sqlstate) is full


def test_an_unknown_wording_gets_a_general_explanation() -> None:
    text = "FATAL:  es sind keine Verbindungen mehr frei"
    assert classify_refusal(text).key == "unknown"
    assert "depends on its reserved slots" in full_server_explanation(text)


def session(pid: int, app: str = "web@prod", user: str | None = "app", state: str | None = "idle", **kwargs: object) -> Session:
    values: dict[str, object] = dict(backend_type="client backend", database="shop", client="10.0.0.5", state_seconds=1.0)
    values.update(kwargs)
    return Session(pid, values.pop("backend_type"), user, app, state=state, **values)  # type: ignore[arg-type]


def snapshot(*sessions: Session, self_pid: int = 1, settings: ServerSettings = PG15) -> Snapshot:
    return Snapshot("app@db:5432/shop", settings, tuple(sessions), self_pid, "app", False)


SNAP = snapshot(
    session(1, "planner inspect", state="active"),
    session(2), session(3), session(4, "worker"),
    session(5, state="idle in transaction", state_seconds=400.0, xact_seconds=420.0),
    session(6, "psql", user="postgres", superuser=True, state="idle in transaction", state_seconds=900.0, xact_seconds=900.0),
    session(7, "", client="local"),
    Session(8, "autovacuum launcher", None, "", None, None, None),
    Session(9, None, "other", "reports@prod", "shop", None, None, hidden=True),  # no pg_read_all_stats
    Session(10, None, None, "", None, None, None, hidden=True),  # a background process, hidden
    session(11, "batch", state="idle in transaction", state_seconds=30.0, xact_seconds=31.0),
)


def test_budget_and_groupings() -> None:
    budget = live_budget(SNAP)
    assert (budget.in_use, budget.in_use_superuser, budget.usable, budget.free, budget.percent_used) == (9, 1, 17, 8, 52.9)
    groups = groupings(SNAP)
    assert groups["application_name"] == {"web@prod": 3, "(none)": 1, "batch": 1, "planner inspect": 1, "psql": 1, "reports@prod": 1, "worker": 1}
    assert groups["user"] == {"app": 7, "other": 1, "postgres": 1}
    assert groups["client"] == {"10.0.0.5": 7, "(hidden)": 1, "local": 1}
    assert groups["state"] == {"idle": 4, "idle in transaction": 3, "(hidden)": 1, "active": 1}
    assert groups["backend_type"] == {"client backend": 8, "(hidden)": 2, "autovacuum launcher": 1}
    assert count_by([], lambda s: s.user) == {}


def test_stale_sessions_oldest_transaction_and_advice() -> None:
    assert [s.pid for s in stale_idle_sessions(SNAP, 300)] == [6, 5]
    assert [s.pid for s in stale_idle_sessions(SNAP, 10)] == [6, 5, 11]
    oldest = oldest_transaction(SNAP)
    assert oldest is not None and oldest.pid == 6
    advice = advise(SNAP, 300)
    # the superuser's session (6) is reported but never advised for termination
    assert [(a.kind, a.pid) for a in advice] == [("terminate", 5), ("timeout", None)]
    assert advice[0].sql == (
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = 5 AND state IN "
        "('idle in transaction', 'idle in transaction (aborted)') AND state_change < now() - interval '300 seconds';"
    )
    assert advice[1].sql == "ALTER ROLE \"app\" SET idle_in_transaction_session_timeout = '300s';"


def test_no_timeout_advice_when_the_server_already_ends_them() -> None:
    strict = ServerSettings("15.8", 150008, 20, 3, idle_in_transaction_session_timeout_ms=60_000)
    snap = snapshot(session(5, state="idle in transaction", state_seconds=400.0), settings=strict)
    assert [a.kind for a in advise(snap, 300)] == ["terminate"]
    assert advise(snapshot(session(2)), 300) == []


def test_own_hidden_and_background_sessions_are_never_terminated() -> None:
    snap = snapshot(
        session(1, state="idle in transaction", state_seconds=999.0),  # ourselves
        Session(2, None, "other", "x", "shop", None, "idle in transaction", state_seconds=999.0, hidden=True),
        session(3, backend_type="parallel worker", state="idle in transaction", state_seconds=999.0),
    )
    assert advise(snap, 1) == []


TOPOLOGY = """
version: 1
databases:
  main: {engine: self-managed, engine_version: "15", parameters: {max_connections: 100}}
environments:
  prod: {}
  staging: {scale: 0.5}
services:
  web: {replicas: 2, max_surge: 0, pool: 3}
  worker: {environments: [prod], replicas: 1, max_surge: 0, pool: 2}
  api: {replicas: 4, max_surge: 0, pool: 5}
poolers:
  bouncer: {kind: pgbouncer, database: main, clients: [api], default_pool_size: 4}
"""


def comparison_for(*sessions: Session):  # type: ignore[no-untyped-def]
    report = compute_budget(parse_topology(TOPOLOGY, "shop.yaml"), None)
    return compare_with_plan(report.instances[0], report.poolers, snapshot(session(1, "planner inspect"), *sessions))


def test_plan_vs_actual_by_application_name() -> None:
    result = comparison_for(
        *[session(10 + i, "web@prod") for i in range(7)],
        session(20, "web@staging"),
        session(21, "worker"), session(22, "worker@prod"),
        session(23, "api@prod"), session(24, "api@staging"),  # through the pooler: its server pool's row
        session(25, "psql"), session(26, ""),
    )
    rows = {r.source: (r.kind, r.planned["peak"], r.actual, r.above) for r in result.rows}
    assert rows == {
        "web@prod": ("service", 6, 7, True),
        "web@staging": ("service", 3, 1, False),
        "worker@prod": ("service", 2, 2, False),
        "bouncer": ("pooler", 4, 2, False),
    }
    assert [r.source for r in result.above] == ["web@prod"]
    assert dict(result.unknown) == {"(none)": 1, "psql": 1}


def test_a_bare_service_name_with_several_environments_merges_them() -> None:
    result = comparison_for(session(10, "web"), session(11, "web@prod"), session(12, "web@staging"))
    rows = {r.source: (r.planned["peak"], r.actual) for r in result.rows}
    assert rows["web@*"] == (9, 3)
    assert "web@prod" not in rows and "worker@prod" in rows


@pytest.mark.parametrize(
    ("dsn", "redacted"),
    [
        ("postgresql://app:s3cr3t@db.example.com:5432/shop", "postgresql://app:***@db.example.com:5432/shop"),
        ("postgres://app:p%40ss%2Fw0rd@db/shop?sslmode=require", "postgres://app:***@db/shop?sslmode=require"),
        ("postgresql://app:pa@ss/w@db/shop", "postgresql://app:***@db/shop"),  # unencoded @ and / in the password
        ("postgresql://db/shop?user=app&password=s3cr3t&sslmode=require", "postgresql://db/shop?user=app&password=***&sslmode=require"),
        ("postgresql://app@db:5432/shop", "postgresql://app@db:5432/shop"),
        ("host=db user=app password=s3cr3t dbname=shop", "host=db user=app password=*** dbname=shop"),
        ("host=db password = 'with space\\'s' dbname=shop", "host=db password = *** dbname=shop"),
        ("host=db sslpassword=keypass user=app", "host=db sslpassword=*** user=app"),
        ("host=db user=app", "host=db user=app"),
    ],
)
def test_redact_dsn(dsn: str, redacted: str) -> None:
    assert redact_dsn(dsn) == redacted


def test_scrub_removes_passwords_decoded_and_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "env-s3cr3t")
    dsn = "postgresql://app:p%40ss-word@db/shop"
    text = scrub("oops p@ss-word and p%40ss-word and env-s3cr3t\n\tsecond line", dsn)
    assert text == "oops *** and *** and ***; second line"
    assert "s3cr3t" not in scrub("x s3cr3t-kv", "host=db password='s3cr3t-kv'")


def test_server_message_is_postgres_own_words() -> None:
    text = 'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  sorry, too many clients already'
    assert server_message(text) == "FATAL: sorry, too many clients already"
    assert server_message('connection to server at "h", port 1 failed: Connection refused') == "Connection refused"


# --------------------------------------------------------------------------- verify's plan


VERIFY_TOPOLOGY = """
version: 1
databases:
  main:
    engine: postgres
    engine_version: "{version}"
    instance_class: db.m6g.large
    parameters: {{max_connections: {max_connections}, reserved_connections: {reserved_connections}}}
services:
  web: {{replicas: 10, max_surge: 0, pool: 50}}
  jobs: {{replicas: 1, pool: unbounded}}
"""


def verify_plan(max_connections: int = 1000, reserved_connections: int = 0, version: int = 16, scale: int | None = None, local: bool = True):  # type: ignore[no-untyped-def]
    from planner.catalog import load_catalog

    text = VERIFY_TOPOLOGY.format(max_connections=max_connections, reserved_connections=reserved_connections, version=version)
    if version < 16:
        text = text.replace(f", reserved_connections: {reserved_connections}", "")
    topology = parse_topology(text, "v.yaml")
    instance = compute_budget(topology, load_catalog()).instances[0]
    return build_plan(topology, instance, "rollout", scale, local)


@pytest.mark.parametrize(("max_connections", "reserved", "scale"), [(100, 5, 1), (200, 5, 1), (201, 5, 2), (5000, 5, 25), (12, 10, 1), (450, 150, 2)])
def test_default_scale(max_connections: int, reserved: int, scale: int) -> None:
    assert default_scale(max_connections, reserved) == scale


def test_build_plan_scales_demand_and_fills_for_unbounded_pools() -> None:
    plan = verify_plan()
    # PostgreSQL 16 with reserved_connections 0: 3 + rds.rds_reserved_connections 4
    assert (plan.scale, plan.scale_auto, plan.max_connections, plan.reserved) == (5, True, 200, 7)
    assert [(s.source, s.planned, s.count) for s in plan.sources] == [("web@default", 500, 100), ("jobs@default", None, 200)]
    assert verify_plan(scale=3).max_connections == 334


def test_build_plan_refusals() -> None:
    with pytest.raises(InputError, match="unbounded pool"):
        verify_plan(local=False)
    with pytest.raises(InputError, match="--scale: applies to --local only"):
        verify_plan(local=False, scale=2)
    with pytest.raises(InputError, match="leaves nothing above"):
        verify_plan(max_connections=50, scale=10)


def test_local_settings_fold_what_community_postgres_lacks() -> None:
    settings, notes = local_settings(verify_plan(reserved_connections=2, scale=1), 15)
    assert settings == {"max_connections": 1000, "superuser_reserved_connections": 9}
    assert "superuser_reserved_connections 9 = 3 + rds.rds_reserved_connections 4 + reserved_connections 2" in notes[0]
    settings, notes = local_settings(verify_plan(reserved_connections=2, scale=1), 16)
    assert settings == {"max_connections": 1000, "reserved_connections": 2, "superuser_reserved_connections": 7}
    assert "superuser_reserved_connections 7 = 3 + rds.rds_reserved_connections 4" in notes[0]
    settings, notes = local_settings(verify_plan(reserved_connections=2, version=15, scale=1), 15)
    assert settings == {"max_connections": 1000, "superuser_reserved_connections": 9}  # 15 = 15.9+: rds_reserved too
    assert "3 + rds.rds_reserved_connections 4 + rds.rds_superuser_reserved_connections 2" in notes[0]
    _, notes = local_settings(verify_plan(), 15)
    assert any("scaled down by 5" in n and "1000 → 200" in n for n in notes)


# --------------------------------------------------------------------------- which binaries verify --local runs


def _binaries(*specs: tuple[str, str]) -> list[Binaries]:
    """Binaries as available_binaries() would find them: (version, origin), no files needed."""
    return [Binaries(Path(f"/{origin}/{version}/bin"), version, origin, "0.1.4" if origin == "pgserver" else None) for version, origin in specs]


@pytest.mark.parametrize(
    ("here", "major", "chosen", "note"),
    [
        ([("15.18", "machine"), ("16.2", "pgserver")], 16, "16.2", None),  # a 16 topology runs 16
        ([("15.18", "machine"), ("16.2", "pgserver")], 15, "15.18", None),  # a 15 one keeps 15's wording
        ([("15.18", "machine"), ("16.2", "pgserver")], 9, "15.18", None),  # 9.4: the oldest here at or above it
        ([("15.18", "machine"), ("16.2", "pgserver")], None, "16.2", None),
        ([("15.18", "machine"), ("16.2", "pgserver")], 17, "16.2", "the topology says engine_version 17, but the newest PostgreSQL here is 16.2"),
        ([("15.18", "machine")], 16, "15.18", "the newest PostgreSQL here is 15.18 (pip install 'planner[local16]'"),
        ([("16.2", "pgserver"), ("16.4", "machine"), ("17.1", "machine")], 16, "16.4", None),  # that major's newest minor
        ([("16.2", "machine"), ("16.2", "pgserver")], 16, "16.2", None),
    ],
)
def test_choose_binaries(monkeypatch: pytest.MonkeyPatch, here: list[tuple[str, str]], major: int | None, chosen: str, note: str | None) -> None:
    import planner.adapters.localpg as localpg

    monkeypatch.setattr(localpg, "available_binaries", lambda: _binaries(*here))
    binaries, said = localpg.choose_binaries(major)
    assert binaries.version == chosen
    if note is None:
        assert said is None
    else:
        assert said is not None and note in said and "folded into superuser_reserved_connections" in said
    if here == [("16.2", "machine"), ("16.2", "pgserver")]:
        assert binaries.origin == "machine"  # the same version from both: the machine's


def test_available_binaries_sorts_and_knows_pgserver() -> None:
    import planner.adapters.localpg as localpg

    found = localpg.available_binaries()
    assert [b.major for b in found] == sorted(b.major for b in found)
    packaged = localpg.pgserver_bindir()
    if packaged is not None:  # installed with the test extras: found, and said to come from it
        (ours,) = [b for b in found if b.origin == "pgserver"]
        assert ours.source == f"the pgserver {packaged[1]} Python package" and ours.major >= 16


def test_no_binaries_says_how_to_get_them(monkeypatch: pytest.MonkeyPatch) -> None:
    import planner.adapters.localpg as localpg
    from planner.errors import ExternalError

    monkeypatch.setattr(localpg, "available_binaries", lambda: [])
    with pytest.raises(ExternalError, match=r"apt-get install postgresql.*planner\[local16\].*PLANNER_PG_BINDIR"):
        localpg.choose_binaries(16)


def test_explicit_bindir_is_the_only_candidate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import planner.adapters.localpg as localpg

    monkeypatch.setenv("PLANNER_PG_BINDIR", str(tmp_path))  # no initdb there: nothing, not the machine's instead
    assert localpg.available_binaries() == []
