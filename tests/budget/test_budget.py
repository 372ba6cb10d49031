"""The budget arithmetic of spec §2–3, as tables of cases built from models (no files)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.budget import (
    ceil_scaled,
    compute_budget,
    pgbouncer_server_connections,
    scenario_status,
    service_demand,
)
from planner.catalog import load_catalog
from planner.errors import InputError
from planner.model import Database, Environment, Pool, Pooler, Service, Topology
from planner.reserves import parse_engine_version, reserves_for

CATALOG = load_catalog()


def topo(
    services: list[Service],
    databases: list[Database] | None = None,
    environments: list[Environment] | None = None,
    poolers: list[Pooler] | None = None,
) -> Topology:
    dbs = databases or [Database("main", engine="self-managed", parameters={"max_connections": 100})]
    envs = environments or [Environment("default")]
    return Topology(
        name="t", path="t.yaml",
        databases={d.name: d for d in dbs},
        environments={e.name: e for e in envs},
        services={s.name: s for s in services},
        poolers={p.name: p for p in poolers or []},
    )


def demand(service: Service, scale: Fraction = Fraction(1)) -> dict[str, int]:
    return dict(service_demand(service, "prod", scale, "main").demand)


LONG = dict(shape="long-running")


@pytest.mark.parametrize(
    ("service", "scale", "expected"),
    [
        # replicas 3..12, 4 processes, sqlalchemy 5+10, surge 25 %: ceil(12×0.25) = 3
        (Service("web", **LONG, replicas_min=3, replicas_max=12, processes=4, pool=Pool("sqlalchemy", 5, 10)), 1,
         {"steady": 60, "peak": 720, "rollout": 900}),
        # surge as an integer
        (Service("web", **LONG, replicas_min=2, replicas_max=2, surge_percent=None, surge_count=1, pool=Pool("x", 5, 0)), 1,
         {"steady": 10, "peak": 10, "rollout": 15}),
        # no pool: one connection per thread
        (Service("api", **LONG, replicas_min=2, replicas_max=6, surge_percent=None, surge_count=0, processes=2, threads=5), 1,
         {"steady": 20, "peak": 60, "rollout": 60}),
        # scale 0.2: R_min = max(1, ceil(4×0.2)) = 1, R_max = ceil(10×0.2) = 2, S = ceil(2×0.25) = 1
        (Service("web", **LONG, replicas_min=4, replicas_max=10, pool=Pool("sqlalchemy", 10, 10)), Fraction(1, 5),
         {"steady": 10, "peak": 40, "rollout": 60}),
        # scale 0.5 with odd counts rounds up
        (Service("web", **LONG, replicas_min=3, replicas_max=5, pool=Pool("p", 1, 0)), Fraction(1, 2),
         {"steady": 2, "peak": 3, "rollout": 4}),
        # lambda: C × (size + overflow) in every scenario
        (Service("fn", shape="lambda", lambda_concurrency=200, pool=Pool("node-pg", 1, 0)), 1,
         {"steady": 200, "peak": 200, "rollout": 200}),
        # lambda without reserved concurrency: the account's 1000, scaled
        (Service("fn", shape="lambda", pool=Pool("node-pg", 10, 0)), Fraction(1, 2),
         {"steady": 5000, "peak": 5000, "rollout": 5000}),
        # lambda uses the worst per-process figure even in steady
        (Service("fn", shape="lambda", lambda_concurrency=3, pool=Pool("sqlalchemy", 5, 10)), 1,
         {"steady": 45, "peak": 45, "rollout": 45}),
        # fixed connections are not scaled
        (Service("ops", shape="fixed", connections=3), Fraction(1, 4), {"steady": 3, "peak": 3, "rollout": 3}),
    ],
)
def test_service_demand(service: Service, scale: Fraction, expected: dict[str, int]) -> None:
    assert demand(service, Fraction(scale)) == expected


def test_ceil_scaled_is_exact() -> None:
    # 0.2 as a float would make 10×0.2 = 2.0000000000000004 → 3 with float ceil
    assert ceil_scaled(10, Fraction("0.2")) == 2
    assert ceil_scaled(3, Fraction("0.1")) == 1
    assert ceil_scaled(0, Fraction(1)) == 1


@pytest.mark.parametrize(
    ("demand_value", "usable", "alarm_at", "status"),
    [(0, 95, 80, "ok"), (80, 95, 80, "ok"), (81, 95, 80, "warn"), (95, 95, 80, "warn"), (96, 95, 80, "over"), (None, 95, 80, "over")],
)
def test_scenario_status(demand_value: int | None, usable: int, alarm_at: int, status: str) -> None:
    assert scenario_status(demand_value, usable, alarm_at) == status


@pytest.mark.parametrize(
    ("pooler", "expected"),
    [
        (Pooler("b", "pgbouncer", "main", ("web",), replicas=3, default_pool_size=40, reserve_pool_size=5), 135),
        (Pooler("b", "pgbouncer", "main", ("web",), replicas=2, default_pool_size=20, pairs=3), 120),
        (Pooler("b", "pgbouncer", "main", ("web",), replicas=2, default_pool_size=20, pairs=3, max_db_connections=25), 50),
        (Pooler("b", "pgbouncer", "main", ("web",), replicas=1, default_pool_size=20, max_db_connections=100), 20),
    ],
)
def test_pgbouncer_server_connections(pooler: Pooler, expected: int) -> None:
    assert pgbouncer_server_connections(pooler)[0] == expected


def test_self_managed_budget() -> None:
    report = compute_budget(topo([Service("ops", shape="fixed", connections=80)]), None)
    (writer,) = report.instances
    assert (writer.max_connections.value, writer.reserved, writer.usable, writer.alarm_at) == (100, 3, 97, 80)
    assert [s.status for s in writer.scenarios.values()] == ["ok"] * 3
    report = compute_budget(topo([Service("ops", shape="fixed", connections=81)]), None)
    assert report.status == "warn"
    report = compute_budget(topo([Service("ops", shape="fixed", connections=98)]), None)
    assert report.status == "over"


def test_rds_reserved_slots_by_version() -> None:
    base = dict(engine="postgres", instance_class="db.m5.large")
    pg15 = compute_budget(topo([Service("a", shape="fixed", connections=1)], [Database("main", engine_version="15.8", **base)]), CATALOG)
    pg16 = compute_budget(
        topo([Service("a", shape="fixed", connections=1)],
             [Database("main", engine_version="16", parameters={"reserved_connections": 4}, **base)]),
        CATALOG,
    )
    # db.m5.large: observed default 823
    assert pg15.instances[0].max_connections.value == 823
    assert dict(pg15.instances[0].reserved_slots) == {"superuser_reserved_connections": 3, "rds.rds_superuser_reserved_connections": 2}
    assert pg15.instances[0].usable == 818
    # 16.5+: 3 + rds.rds_reserved_connections 4 + reserved_connections (set to 4 here)
    assert pg16.instances[0].reserved == 11 and pg16.instances[0].usable == 812
    assert pg15.instances[0].alarm_at == 658  # floor(823 × 0.8)


# spec v1.1 §3: (engine, engine_version) -> the reserves in order, and whether any is an estimate
RESERVE_TABLE = [
    ("postgres", "18", [("superuser_reserved_connections", 3), ("rds.rds_reserved_connections", 4), ("reserved_connections", 2)], False),
    ("postgres", "17", [("superuser_reserved_connections", 3), ("rds.rds_reserved_connections", 4), ("reserved_connections", 2)], False),
    ("postgres", "17.1", [("superuser_reserved_connections", 3), ("rds.rds_reserved_connections", 4), ("reserved_connections", 2)], False),
    ("postgres", "16", [("superuser_reserved_connections", 3), ("rds.rds_reserved_connections", 4), ("reserved_connections", 2)], False),
    ("postgres", "16.5", [("superuser_reserved_connections", 3), ("rds.rds_reserved_connections", 4), ("reserved_connections", 2)], False),
    ("postgres", "16.4", [("superuser_reserved_connections", 3), ("reserved_connections", 2)], True),
    ("postgres", "16.1", [("superuser_reserved_connections", 3), ("reserved_connections", 2)], True),
    ("postgres", "15", [("superuser_reserved_connections", 3), ("rds.rds_reserved_connections", 4), ("rds.rds_superuser_reserved_connections", 2)], True),
    ("postgres", "15.9", [("superuser_reserved_connections", 3), ("rds.rds_reserved_connections", 4), ("rds.rds_superuser_reserved_connections", 2)], True),
    ("postgres", "15.8", [("superuser_reserved_connections", 3), ("rds.rds_superuser_reserved_connections", 2)], False),
    ("postgres", "14.14", [("superuser_reserved_connections", 3), ("rds.rds_reserved_connections", 4), ("rds.rds_superuser_reserved_connections", 2)], True),
    ("postgres", "14.13", [("superuser_reserved_connections", 3), ("rds.rds_superuser_reserved_connections", 2)], False),
    ("postgres", "13.17", [("superuser_reserved_connections", 3), ("rds.rds_reserved_connections", 4), ("rds.rds_superuser_reserved_connections", 2)], True),
    ("postgres", "13.16", [("superuser_reserved_connections", 3), ("rds.rds_superuser_reserved_connections", 2)], False),
    ("postgres", "12.21", [("superuser_reserved_connections", 3), ("rds.rds_reserved_connections", 4), ("rds.rds_superuser_reserved_connections", 2)], True),
    ("postgres", "12.20", [("superuser_reserved_connections", 3), ("rds.rds_superuser_reserved_connections", 2)], False),
    ("postgres", "11", [("superuser_reserved_connections", 3), ("rds.rds_superuser_reserved_connections", 2)], False),
    ("postgres", "9.6.24", [("superuser_reserved_connections", 3), ("rds.rds_superuser_reserved_connections", 2)], False),
    ("aurora-postgresql", "15", [("superuser_reserved_connections", 3), ("rds.rds_superuser_reserved_connections", 2)], False),
    ("aurora-postgresql", "15.4", [("superuser_reserved_connections", 3), ("rds.rds_superuser_reserved_connections", 2)], False),
    ("aurora-postgresql", "16", [("superuser_reserved_connections", 3), ("rds.rds_reserved_connections", 4), ("reserved_connections", 2)], True),
    ("aurora-postgresql", "17.4", [("superuser_reserved_connections", 3), ("rds.rds_reserved_connections", 4), ("reserved_connections", 2)], True),
    ("self-managed", "15", [("superuser_reserved_connections", 3)], False),
    ("self-managed", "16", [("superuser_reserved_connections", 3), ("reserved_connections", 0)], False),
]


@pytest.mark.parametrize("engine, version, expected, estimated", RESERVE_TABLE, ids=[f"{e}-{v}" for e, v, _, _ in RESERVE_TABLE])
def test_reserves_follow_the_engine_version(engine: str, version: str, expected: list[tuple[str, int]], estimated: bool) -> None:
    reserves = reserves_for(engine, parse_engine_version(version), {})
    assert [(r.parameter, r.value) for r in reserves] == expected
    assert any(r.estimated for r in reserves) is estimated


@pytest.mark.parametrize("version, app, master", [("16", 9, 7), ("17", 9, 7), ("18", 9, 7), ("15.8", 5, 3), ("15.9", 9, 7), ("16.4", 5, 3)])
def test_app_roles_and_the_master_user_see_different_budgets(version: str, app: int, master: int) -> None:
    db = Database("main", engine="postgres", engine_version=version, instance_class="db.m5.large")
    (writer,) = compute_budget(topo([Service("a", shape="fixed", connections=1)], [db]), CATALOG).instances
    assert (writer.reserved, writer.usable, writer.master_usable) == (app, 823 - app, 823 - master)


def test_a_reserve_set_in_the_topology_replaces_the_default() -> None:
    reserves = reserves_for("postgres", parse_engine_version("17.6"), {"rds.rds_reserved_connections": 6, "reserved_connections": 0})
    assert [(r.parameter, r.value, r.source) for r in reserves] == [
        ("superuser_reserved_connections", 3, "default"), ("rds.rds_reserved_connections", 6, "parameter"),
        ("reserved_connections", 0, "parameter")]


def test_aurora_16_takes_an_unconfirmed_parameter_as_written() -> None:
    # whether Aurora 16+ still has rds.rds_superuser_reserved_connections is unconfirmed: counting it is the safe side
    reserves = reserves_for("aurora-postgresql", parse_engine_version("16.6"), {"rds.rds_superuser_reserved_connections": 2})
    assert sum(r.value for r in reserves) == 11


@pytest.mark.parametrize("text, major, minor", [("16", 16, None), ("16.4", 16, 4), ("16.10", 16, 10), ("9.6", 9, None),
                                                ("9.6.24", 9, 24), ("11.22-rds.20240418", 11, 22), (" 17.6 ", 17, 6)])
def test_engine_versions_parse_to_major_and_minor(text: str, major: int, minor: int | None) -> None:
    version = parse_engine_version(text)
    assert (version.major, version.minor) == (major, minor)


def test_headroom_is_exact() -> None:
    db = Database("main", engine="self-managed", parameters={"max_connections": 1000}, headroom=Fraction(3, 10))
    report = compute_budget(topo([Service("a", shape="fixed", connections=1)], [db]), None)
    assert report.instances[0].alarm_at == 700


def test_readers_split_reader_demand() -> None:
    db = Database("main", engine="self-managed", parameters={"max_connections": 100}, readers=2)
    services = [
        Service("reports", shape="fixed", endpoint="reader", connections=5),
        Service("batch", shape="fixed", endpoint="reader", connections=4),
        Service("web", shape="fixed", connections=10),
    ]
    report = compute_budget(topo(services, [db]), None)
    roles = [i.role for i in report.instances]
    assert roles == ["writer", "reader-1", "reader-2"]
    assert report.instances[0].scenarios["peak"].demand == 10
    # ceil((5 + 4) / 2) = 5 on each reader
    assert [i.scenarios["peak"].demand for i in report.instances[1:]] == [5, 5]


def test_environments_land_on_their_databases() -> None:
    dbs = [
        Database("main", engine="self-managed", parameters={"max_connections": 100}),
        Database("devdb", engine="self-managed", parameters={"max_connections": 50}),
    ]
    services = [Service("web", **LONG, database=None, replicas_min=4, replicas_max=4, surge_count=0, surge_percent=None, pool=Pool("p", 5))]
    envs = [Environment("prod", database="main"), Environment("dev", scale=Fraction(1, 4), database="devdb")]
    topology = Topology("t", "t.yaml", {d.name: d for d in dbs}, {e.name: e for e in envs}, {s.name: s for s in services})
    report = compute_budget(topology, None)
    by_db = {i.database: [s.source for s in i.demand_by_source] for i in report.instances}
    assert by_db == {"main": ["web@prod"], "devdb": ["web@dev"]}
    assert report.instances[1].scenarios["steady"].demand == 5  # max(1, ceil(4 × 0.25)) × 5


def test_pgbouncer_replaces_client_demand_and_checks_client_side() -> None:
    services = [
        Service("web", **LONG, replicas_min=6, replicas_max=30, processes=4, pool=Pool("sqlalchemy", 5, 10)),
        Service("migrations", shape="fixed", connections=2),
    ]
    pooler = Pooler("bouncer", "pgbouncer", "main", ("web",), replicas=3, default_pool_size=40, reserve_pool_size=5, max_client_conn=700)
    report = compute_budget(topo(services, poolers=[pooler]), None)
    writer = report.instances[0]
    assert {s.source: s.demand["rollout"] for s in writer.demand_by_source} == {"migrations@default": 2, "bouncer": 135}
    assert writer.scenarios["rollout"].demand == 137
    (bouncer,) = report.poolers
    assert bouncer.client_capacity == 2100
    # web: steady 6×4×5 = 120; peak 30×4×15 = 1800; rollout (30+8)×4×15 = 2280 > 2100
    assert {k: (v.demand, v.status) for k, v in bouncer.scenarios.items()} == {
        "steady": (120, "ok"), "peak": (1800, "ok"), "rollout": (2280, "over"),
    }
    assert report.status == "over"


def test_rds_proxy_takes_its_percentage_of_the_target() -> None:
    db = Database("main", engine="self-managed", parameters={"max_connections": 1000})
    services = [Service("fn", shape="lambda", lambda_concurrency=400, pool=Pool("node-pg", 1)), Service("ops", shape="fixed", connections=3)]
    proxy = Pooler("proxy", "rds-proxy", "main", ("fn",), max_connections_percent=60)
    report = compute_budget(topo(services, [db], poolers=[proxy]), None)
    assert report.poolers[0].server_connections == 600
    assert report.instances[0].scenarios["peak"].demand == 603
    assert report.poolers[0].scenarios["peak"].demand == 400
    assert report.poolers[0].client_capacity is None


def test_unbounded_pool_is_over_everywhere() -> None:
    services = [Service("go", **LONG, pool=Pool("unbounded", None))]
    report = compute_budget(topo(services), None)
    assert [r.status for r in report.instances[0].scenarios.values()] == ["over"] * 3
    assert report.instances[0].scenarios["steady"].demand is None
    assert any(w.code == "unbounded-pool" for w in report.warnings)


def test_unbounded_pool_behind_pgbouncer_overflows_the_pooler_not_the_database() -> None:
    services = [Service("go", **LONG, pool=Pool("unbounded", None))]
    pooler = Pooler("b", "pgbouncer", "main", ("go",), default_pool_size=10)
    report = compute_budget(topo(services, poolers=[pooler]), None)
    assert report.instances[0].status == "ok"
    assert report.poolers[0].status == "over"


def test_missing_instance_class_is_an_input_error() -> None:
    db = Database("main", engine="postgres", line=4)
    with pytest.raises(InputError) as info:
        compute_budget(topo([Service("a", shape="fixed", connections=1)], [db]), CATALOG)
    assert "instance_class is required" in str(info.value)
    assert "planner plan" in str(info.value)


def test_scenario_selection() -> None:
    report = compute_budget(topo([Service("a", shape="fixed", connections=1)]), None, ("rollout",))
    assert list(report.instances[0].scenarios) == ["rollout"]


@settings(max_examples=200, deadline=None)
@given(
    r_min=st.integers(1, 50), extra=st.integers(0, 50), processes=st.integers(1, 8), size=st.integers(0, 20),
    overflow=st.integers(0, 20), surge=st.integers(0, 100), scale=st.fractions(min_value=Fraction(1, 100), max_value=4),
)
def test_demand_is_monotone_and_ordered(r_min: int, extra: int, processes: int, size: int, overflow: int, surge: int, scale: Fraction) -> None:
    """steady ≤ peak ≤ rollout, and one more replica never lowers any scenario."""
    kwargs = dict(shape="long-running", processes=processes, pool=Pool("p", size, overflow), surge_percent=Fraction(surge, 100))
    base = demand(Service("s", replicas_min=r_min, replicas_max=r_min + extra, **kwargs), scale)
    more = demand(Service("s", replicas_min=r_min, replicas_max=r_min + extra + 1, **kwargs), scale)
    assert base["steady"] <= base["peak"] <= base["rollout"]
    assert all(more[s] >= base[s] for s in base)
