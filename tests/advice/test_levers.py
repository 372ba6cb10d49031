"""The levers inside the topology: pool caps (a stated optimisation), Lambda concurrency, autoscaling
maxima, processes, Serverless v2 ranges. Every option is proven by check's arithmetic."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.advice.recommend import recommend
from planner.budget import compute_budget
from planner.catalog import load_catalog
from planner.model import Pool
from planner.topology import load_topology, parse_topology

from ..conftest import EXAMPLES

CATALOG = load_catalog()
REPRO = """version: 1
databases:
  main: {engine: postgres, engine_version: "14", instance_class: db.t4g.medium, parameters: {max_connections: 350}}
services:
  daphne: {replicas: 3, threads: 20, pool: 100}
  celery: {replicas: 2, processes: 8, pool: django}
  admin: {connections: 3}
"""


def _options(topology, kind: str):  # type: ignore[no-untyped-def]
    return [o for rec in recommend(topology, CATALOG) for o in rec.options if o.kind == kind]


def _worst(pool: Pool | None, threads: int) -> int | None:
    if pool is None:
        return threads
    return None if pool.unbounded else pool.worst


def _never_raises(before, option) -> None:  # type: ignore[no-untyped-def]
    for name, service in option.topology.services.items():
        old = before.services[name]
        was, now = _worst(old.pool, old.threads), _worst(service.pool, service.threads)
        assert was is None or (now is not None and now <= was), (option.kind, name, was, now)
        assert service.replicas_max <= old.replicas_max and service.processes <= old.processes
        if old.lambda_concurrency is not None:
            assert (service.lambda_concurrency or 10**9) <= old.lambda_concurrency


def test_the_repro_gets_the_pool_cap_that_fits_and_only_daphne_shrinks() -> None:
    topology = parse_topology(REPRO, "repro.yaml")
    (option,) = _options(topology, "shrink-pools")
    assert option.fits and option.details["pools"] == {"daphne": 63}  # 4 × 63 + 24 + 3 = 279 ≤ alarm 280
    assert option.topology.services["celery"] == topology.services["celery"]  # untouched: it need not shrink
    assert "63%" in option.title and "celery unchanged" in option.title
    assert compute_budget(option.topology, CATALOG).status == "ok"  # proven by check's arithmetic
    # 64 does not fit: the cap is the largest
    bigger = replace(option.topology, services={**option.topology.services,
                                                "daphne": replace(option.topology.services["daphne"], pool=Pool("custom", 64, 0))})
    assert compute_budget(bigger, CATALOG).status != "ok"


def test_a_pool_cap_is_never_a_raise() -> None:
    # celery has 1 connection per process: a proportional split used to give it 11
    text = REPRO.replace("daphne: {replicas: 3, threads: 20, pool: 100}", "daphne: {replicas: 3, threads: 20, pool: 60}")
    text = text.replace("max_connections: 350", "max_connections: 200")
    topology = parse_topology(text, "variant.yaml")
    for rec in recommend(topology, CATALOG):
        for option in rec.options:
            _never_raises(topology, option)


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_no_option_on_any_example_raises_a_pool_and_every_option_checks(example: Path) -> None:
    topology = load_topology(example)
    for rec in recommend(topology, CATALOG):
        for option in rec.options:
            _never_raises(topology, option)
            assert option.fits and compute_budget(option.topology, CATALOG).status == "ok", option.title


def test_the_objective_is_the_largest_smallest_fraction_kept() -> None:
    text = """version: 1
databases:
  main: {engine: self-managed, parameters: {max_connections: 100}, headroom: 0}
services:
  a: {replicas: 2, max_surge: 0, pool: 30}
  b: {replicas: 2, max_surge: 0, pool: 20}
"""
    topology = parse_topology(text, "two.yaml")  # demand 100 > usable 97
    (option,) = _options(topology, "shrink-pools")
    caps = option.details["pools"]
    kept = min(Fraction(caps.get("a", 30), 30), Fraction(caps.get("b", 20), 20))
    assert option.details["kept_fraction"] == pytest.approx(float(kept))
    # no other caps that fit keep a larger smallest fraction
    for a in range(1, 31):
        for b in range(1, 21):
            if 2 * a + 2 * b <= 97 and min(Fraction(a, 30), Fraction(b, 20)) > kept:
                pytest.fail(f"a {a}, b {b} keep more than {kept}")


def test_lambda_concurrency_autoscaling_and_processes_levers() -> None:
    text = """version: 1
databases:
  main: {engine: self-managed, parameters: {max_connections: 200}}
services:
  web: {replicas: {min: 2, max: 6}, max_surge: 0, processes: 4, pool: 5}
  fn: {lambda: {concurrency: 100}, pool: {driver: node-pg, size: 1}}
"""
    topology = parse_topology(text, "levers.yaml")  # alarm_at 160; peak: web 6 × 4 × 5 = 120, fn 100
    by_kind = {o.kind: o for rec in recommend(topology, CATALOG) for o in rec.options}
    assert by_kind["lambda-concurrency"].details["lambda_concurrency"] == 40  # 120 + 40 = 160
    assert by_kind["autoscaling-max"].details["replicas_max"] == 3  # 3 × 20 + 100 = 160
    assert by_kind["processes"].details["processes"] == 2  # 6 × 2 × 5 + 100 = 160
    for kind in ("lambda-concurrency", "autoscaling-max", "processes", "shrink-pools"):
        option = by_kind[kind]
        assert option.fits and option.limits_applications and option.requires, kind
        assert compute_budget(option.topology, CATALOG).status == "ok"
    assert "throttled" in by_kind["lambda-concurrency"].requires[0]
    assert "scaling stops at 3 replicas" in by_kind["autoscaling-max"].requires[0]
    # each is the largest that fits: one more does not
    services = dict(topology.services)
    services["web"] = replace(services["web"], replicas_max=4)
    assert compute_budget(replace(topology, services=services), CATALOG).status != "ok"


def test_serverless_range_lifts_the_2000_cap_first() -> None:
    text = """version: 1
databases:
  main: {engine: aurora-postgresql, engine_version: "16.4", instance_class: db.serverless, serverless: {min_acu: 0.5, max_acu: 16}}
services:
  web: {replicas: 10, max_surge: 0, processes: 4, pool: 50}
"""
    topology = parse_topology(text, "sv.yaml")  # 2000 demand > 0.8 × 2000
    (option,) = _options(topology, "serverless-range")
    assert option.fits and option.details["min_acu"] == 1.0 and "caps the default max_connections at 2000" in option.title
    assert "ACU-hours" in option.cost_note and option.monthly_cost_delta is None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(1, 6), st.integers(1, 4), st.integers(1, 40)), min_size=1, max_size=4),
       st.integers(20, 400))
def test_pool_caps_fit_and_never_raise_on_random_topologies(services, max_connections) -> None:  # type: ignore[no-untyped-def]
    lines = ["version: 1", "databases:", f"  main: {{engine: self-managed, parameters: {{max_connections: {max_connections}}}}}",
             "services:"]
    lines += [f"  s{i}: {{replicas: {r}, processes: {p}, pool: {size}}}" for i, (r, p, size) in enumerate(services)]
    topology = parse_topology("\n".join(lines) + "\n", "random.yaml")
    for option in _options(topology, "shrink-pools"):
        _never_raises(topology, option)
        assert option.fits == (compute_budget(option.topology, CATALOG).status == "ok")
