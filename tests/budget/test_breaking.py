"""Breaking points (planner.budget.breaking): hand-computed counts, built from models, no files."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.budget.breaking import breaking_point, current_count, first_over, largest_services, with_count
from planner.budget import compute_budget
from planner.errors import InputError
from planner.model import Database, Environment, Pool, Pooler, Service, Topology

SQLALCHEMY = Pool("sqlalchemy", 5, 10)  # 15 connections per process at worst
NODE_PG_1 = Pool("node-pg", 1, 0)


def topo(
    services: list[Service],
    max_connections: int = 821,
    environments: list[Environment] | None = None,
    poolers: list[Pooler] | None = None,
    readers: int = 0,
) -> Topology:
    """A self-managed database (reserved 3 on 16: max_connections 821 → usable 818)."""
    db = Database("main", engine="self-managed", parameters={"max_connections": max_connections}, readers=readers)
    envs = environments or [Environment("default")]
    return Topology(
        name="t", path="t.yaml", databases={"main": db}, environments={e.name: e for e in envs},
        services={s.name: s for s in services}, poolers={p.name: p for p in poolers or []},
    )


def web(**changes: object) -> Service:
    fields: dict[str, object] = dict(shape="long-running", replicas_min=2, replicas_max=4, processes=4, pool=SQLALCHEMY)
    fields.update(changes)
    return Service("web", **fields)  # type: ignore[arg-type]


def test_usable_is_818() -> None:
    assert compute_budget(topo([web()]), None).instances[0].usable == 818


@pytest.mark.parametrize(
    ("service", "others", "count", "demand"),
    [
        # no surge: R × 4 processes × 15 > 818 first at R = 14 (840; 13 gives 780)
        (web(surge_percent=None, surge_count=0), [], 14, 840),
        # 25 % surge, rollout = (R + ceil(R/4)) × 60: R = 10 gives 13 × 60 = 780, R = 11 gives 14 × 60 = 840
        (web(), [], 11, 840),
        # plus 100 fixed connections: R = 8 → 10 × 60 + 100 = 700; R = 9 → 12 × 60 + 100 = 820 > 818
        (web(), [Service("ops", shape="fixed", connections=100)], 9, 820),
        # surge of 2 replicas: (R + 2) × 60 > 818 first at R = 12 (840; 11 gives 780)
        (web(surge_percent=None, surge_count=2), [], 12, 840),
    ],
)
def test_long_running_breaking_point(service: Service, others: list[Service], count: int, demand: int) -> None:
    point = breaking_point(topo([service, *others]), None, "main", "web")
    assert (point.count, point.demand, point.usable) == (count, demand, 818)
    assert point.knob == "replicas (max)" and point.current == 4 and point.direct
    assert not point.over_now


def test_lambda_concurrency_with_environment_scale() -> None:
    # node-pg 1 per execution, staging at scale 0.5: demand = ceil(C × 0.5) > 818 first at C = 1637
    fn = Service("fn", shape="lambda", lambda_concurrency=100, pool=NODE_PG_1)
    point = breaking_point(topo([fn], environments=[Environment("staging", scale=Fraction(1, 2))]), None, "main", "fn")
    assert (point.count, point.demand, point.knob, point.current) == (1637, 819, "Lambda concurrency", 100)


def test_fixed_connections() -> None:
    point = breaking_point(topo([web(), Service("ops", shape="fixed", connections=3)]), None, "main", "ops")
    # web's rollout is (4 + 1) × 60 = 300: ops may grow to 518 connections
    assert (point.count, point.demand, point.current) == (519, 819, 3)


def test_over_already_today() -> None:
    point = breaking_point(topo([web(replicas_max=20)]), None, "main", "web")
    assert point.count == 11 and point.over_now


def test_over_at_one_when_the_others_fill_the_instance() -> None:
    point = breaking_point(topo([web(), Service("ops", shape="fixed", connections=900)]), None, "main", "web")
    assert (point.count, point.demand) == (1, 1020)  # rollout (1 + ceil(1 × 0.25)) × 60 + 900


def test_behind_pgbouncer_the_pooler_refuses_first() -> None:
    # pool 10, one process; client capacity 2 × 100 = 200; rollout (R + ceil(R/4)) × 10:
    # R = 16 → 20 × 10 = 200 (held), R = 17 → 22 × 10 = 220 (refused)
    svc = web(processes=1, pool=Pool("node-pg", 10, 0), replicas_max=8)
    bouncer = Pooler("bouncer", "pgbouncer", "main", ("web",), replicas=2, max_client_conn=100, default_pool_size=20)
    point = breaking_point(topo([svc], poolers=[bouncer]), None, "main", "web")
    assert not point.direct and point.count is None and point.demand is None
    (limit,) = point.poolers
    assert (limit.pooler, limit.capacity, limit.count, limit.demand) == ("bouncer", 200, 17, 220)
    # the database's demand is the pooler's server pool, whatever the count: 2 × 20
    assert {p.demand for p in point.curve} == {40}
    assert [p.count for p in limit.curve] == [p.count for p in point.curve]


def test_behind_rds_proxy_nothing_runs_out() -> None:
    proxy = Pooler("proxy", "rds-proxy", "main", ("web",), max_connections_percent=50)
    point = breaking_point(topo([web()], poolers=[proxy]), None, "main", "web")
    assert point.count is None and point.poolers[0].capacity is None and point.poolers[0].count is None


def test_unbounded_pool_has_no_breaking_count() -> None:
    point = breaking_point(topo([web(pool=Pool("unbounded", None))]), None, "main", "web")
    assert point.unbounded and point.count is None and point.curve == ()


def test_reader_endpoint_counts_each_readers_share() -> None:
    # 2 readers share ceil(demand / 2): (R + ceil(R/4)) × 60 / 2 > 818 → 28 replicas-with-surge → R = 22 (22 + 6 = 28)
    svc = web(endpoint="reader")
    point = breaking_point(topo([svc], readers=2), None, "main", "web")
    assert point.role == "reader-1"
    assert (point.count, point.demand) == (22, 840)


def test_curve_is_exact_and_covers_today_and_the_count() -> None:
    t = topo([web(), Service("ops", shape="fixed", connections=100)])
    point = breaking_point(t, None, "main", "web")
    counts = [p.count for p in point.curve]
    assert counts == sorted(set(counts)) and counts[0] == 1
    assert {point.current, point.count, point.count - 1} <= set(counts)  # type: ignore[operator]
    for p in point.curve:  # every point is the whole budget re-run
        report = compute_budget(replace(t, services={**t.services, "web": with_count(t.services["web"], p.count)}), None)
        assert p.demand == report.instances[0].worst_demand


@settings(max_examples=40, deadline=None)
@given(
    r_max=st.integers(1, 30), processes=st.integers(1, 6), size=st.integers(1, 20), overflow=st.integers(0, 10),
    surge=st.integers(0, 100), fixed=st.integers(0, 400), max_connections=st.integers(50, 2000),
)
def test_count_is_the_first_over(
    r_max: int, processes: int, size: int, overflow: int, surge: int, fixed: int, max_connections: int
) -> None:
    """The count is over and the one before it is not: checked by re-running the budget."""
    svc = web(replicas_min=1, replicas_max=r_max, processes=processes, pool=Pool("x", size, overflow), surge_percent=Fraction(surge, 100))
    t = topo([svc, Service("ops", shape="fixed", connections=fixed)], max_connections=max_connections)
    point = breaking_point(t, None, "main", "web")
    usable = max_connections - 3

    def worst(count: int) -> int:
        changed = replace(t, services={**t.services, "web": with_count(svc, count)})
        return compute_budget(changed, None).instances[0].worst_demand or 0

    assert point.count is not None
    assert worst(point.count) > usable and worst(point.count) == point.demand
    if point.count > 1:
        assert worst(point.count - 1) <= usable


@pytest.mark.parametrize(
    ("predicate", "expected"),
    [(lambda n: n * n > 50, 8), (lambda n: True, 1), (lambda n: n >= 1_000_000, 1_000_000), (lambda n: False, None)],
)
def test_first_over(predicate: object, expected: int | None) -> None:
    assert first_over(predicate, limit=2_000_000) == expected  # type: ignore[arg-type]


def test_first_over_is_logarithmic() -> None:
    calls: list[int] = []
    first_over(lambda n: calls.append(n) or n > 100_000)  # type: ignore[func-returns-value]
    assert len(calls) <= 2 * 18


def test_with_count_and_current_count() -> None:
    assert with_count(web(replicas_min=5), 3).replicas_min == 3  # R_min never exceeds R_max
    assert current_count(Service("fn", shape="lambda", pool=NODE_PG_1)) == 1000  # the account default
    assert with_count(Service("fn", shape="lambda"), 7).lambda_concurrency == 7


def test_largest_services_look_through_poolers() -> None:
    svc = web(processes=1, pool=Pool("node-pg", 10, 0), replicas_max=8)
    bouncer = Pooler("bouncer", "pgbouncer", "main", ("web",))
    t = topo([svc, Service("ops", shape="fixed", connections=3), Service("big", shape="fixed", connections=50)], poolers=[bouncer])
    report = compute_budget(t, None)
    assert largest_services(report, report.instances[0]) == ["web", "big", "ops"]
    assert largest_services(report, report.instances[0], top=1) == ["web"]


def test_unknown_names_are_input_errors() -> None:
    with pytest.raises(InputError):
        breaking_point(topo([web()]), None, "nope", "web")
    with pytest.raises(InputError):
        breaking_point(topo([web()]), None, "main", "nope")
