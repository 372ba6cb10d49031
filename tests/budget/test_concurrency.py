"""Pools larger than the concurrency that can use them (spec §2, v1.2): the warning, and recommend's first option.

The topology THREADS, worked out by hand (self-managed, max_connections 500: usable 497, alarm_at 400):

- web: 3..15 replicas × 2 processes, 2 threads, SQLAlchemy 5 + 10 = 15 per process:
  steady 3 × 2 × 5 = 30, peak 15 × 2 × 15 = 450, rollout (15 + ceil(15 × 25 %) = 4) × 2 × 15 = 570;
  held to its 2 threads (size 2, overflow 0): 3 × 2 × 2 = 12, 15 × 2 × 2 = 60, 19 × 2 × 2 = 76;
- worker: 4 replicas (no surge) × 4 processes, threads not written (1), Rails pool 5: 80 in every scenario;
  held to 1: 16;
- api: 2 replicas, 8 threads, node-pg 10 (asynchronous: not flagged): 20 in every scenario.

Totals: steady 130, peak 550, rollout 670 (over 497); held: 48, 96, 112 (ok).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from planner.advice.recommend import recommend
from planner.budget import compute_budget
from planner.budget.concurrency import above_concurrency, held_to_concurrency
from planner.catalog import load_catalog
from planner.model import Pool, Service
from planner.render.sarif_rules import LINT_RULES
from planner.topology import load_topology, parse_topology

from ..conftest import run_cli

CATALOG = load_catalog()
DOCS = (Path(__file__).parents[2] / "docs" / "topology.md").read_text()

THREADS = """\
version: 1
name: threads
databases:
  main: {engine: self-managed, parameters: {max_connections: 500}}
services:
  web:
    replicas: {min: 3, max: 15}
    processes: 2
    threads: 2
    pool: sqlalchemy
  worker:
    replicas: 4
    max_surge: 0
    processes: 4
    pool: {driver: rails, size: 5}
  api:
    replicas: 2
    max_surge: 0
    threads: 8
    pool: node-pg
"""


def _service(driver: str, size: int | None, overflow: int = 0, threads: int = 1, min_size: int | None = None,
             shape: str = "long-running") -> Service:
    return Service("s", shape, threads=threads, pool=Pool(driver, size, overflow, min_size))  # type: ignore[arg-type]


@pytest.mark.parametrize(("service", "flagged"), [
    (_service("sqlalchemy", 5, 10, threads=2), True),
    (_service("sqlalchemy", 1, 1, threads=2), False),  # 2 = 2 threads: not above
    (_service("rails", 5, threads=3), True),
    (_service("rails", 5, threads=5), False),
    (_service("hikari", 10, threads=4), True),
    (_service("psycopg-pool", 4), True),
    (_service("django-pool", 4, threads=2), True),
    (_service("custom", 10, threads=4), True),
    (_service("node-pg", 10), False),  # an event loop: the pool is the concurrency
    (_service("asyncpg", 10), False),
    (_service("pgxpool", 10), False),  # goroutines
    (_service("database-sql", 10), False),
    (_service("per-thread", 1), False),
    (_service("django", 1), False),
    (_service("unbounded", None), False),
    (_service("sqlalchemy", 5, 10, shape="lambda"), True),  # one invocation at a time per execution environment
    (_service("node-pg", 10, shape="lambda"), False),
])
def test_which_pools_are_above_their_concurrency(service: Service, flagged: bool) -> None:
    assert above_concurrency(service) is flagged


@pytest.mark.parametrize(("service", "held"), [
    (_service("sqlalchemy", 5, 10, threads=2), Pool("sqlalchemy", 2, 0)),  # size alone above 2: size 2, no overflow
    (_service("sqlalchemy", 1, 10, threads=4), Pool("sqlalchemy", 1, 3)),  # overflow lowered: 1 + 3 = 4
    (_service("rails", 5, threads=3), Pool("rails", 3, 0)),
    (_service("psycopg-pool", 10, min_size=2, threads=4), Pool("psycopg-pool", 4, 0, 2)),  # keeps its floor
    (_service("psycopg-pool", 10, min_size=4, threads=2), Pool("psycopg-pool", 2, 0)),  # floor at the cap: fixed
    (_service("sqlalchemy", 5, 10, shape="lambda"), Pool("sqlalchemy", 1, 0)),
    (_service("node-pg", 10), Pool("node-pg", 10, 0)),  # not thread-per-request: unchanged
])
def test_a_pool_held_to_its_concurrency(service: Service, held: Pool) -> None:
    assert held_to_concurrency(service).pool == held


def test_the_warning_gives_both_numbers_and_the_held_demand() -> None:
    report = compute_budget(parse_topology(THREADS, "threads.yaml"), CATALOG)
    found = {w.key_path: w.message for w in report.warnings if w.code == "pool-above-concurrency"}
    assert found == {
        "services.web.pool": "sqlalchemy pool of 15 per process (size 5 + max_overflow 10) is above the 2 threads that can "
                             "use it: counted at 15, what a leak or a background thread can reach; held to its concurrency "
                             "(size 2 + max_overflow 0), web could open 60 at peak, not 450 (planner recommend offers it "
                             "at no cost)",
        "services.worker.pool": "rails pool of 5 per process is above the 1 thread that can use it (threads not written: 1 "
                                "by default): counted at 5, what a leak or a background thread can reach; held to its "
                                "concurrency (size 1 + max_overflow 0), worker could open 16 at peak, not 80 (planner "
                                "recommend offers it at no cost)",
    }
    # still counted at its size: the warning never changes a number
    assert {s: r.demand for s, r in report.instances[0].scenarios.items()} == {"steady": 130, "peak": 550, "rollout": 670}


def test_the_held_demand_follows_environments_and_scale() -> None:
    text = THREADS.replace("services:\n", "environments:\n  prod: {}\n  staging: {scale: 0.5}\nservices:\n")
    report = compute_budget(parse_topology(text, "threads.yaml"), CATALOG)
    web = next(w.message for w in report.warnings if w.key_path == "services.web.pool")
    # staging: max(1, ceil(15 × 0.5)) = 8 replicas; peak 15 × 2 × 15 + 8 × 2 × 15 = 690, held 60 + 32 = 92
    assert "web could open 92 at peak, not 690" in web


def test_a_job_that_runs_only_in_rollouts_is_quoted_in_rollout() -> None:
    text = THREADS.replace("    pool: {driver: rails, size: 5}\n", "    pool: {driver: rails, size: 5}\n    scenarios: [rollout]\n")
    report = compute_budget(parse_topology(text, "threads.yaml"), CATALOG)
    worker = next(w.message for w in report.warnings if w.key_path == "services.worker.pool")
    assert "worker could open 16 in rollout, not 80" in worker


def test_the_rule_is_documented_and_has_a_sarif_rule() -> None:
    assert "| `pool-above-concurrency` |" in DOCS and "### Pools above their concurrency" in DOCS
    assert "pool-above-concurrency" in LINT_RULES


# ---------------------------------------------------------------------------- recommend


def test_recommend_holds_the_pools_first_with_the_demand_it_saves() -> None:
    [rec] = recommend(parse_topology(THREADS, "threads.yaml"), CATALOG)
    first = rec.options[0]
    assert first.kind == "pools-to-concurrency" and first.fits
    assert first.title == (
        "hold each pool to the concurrency that can use it: web 15 → 2 per process (size 5 + max_overflow 10 → size 2), "
        "worker 5 → 1 per process (size 5 → size 1); saves 454 connections at peak (530 → 76), at no cost")
    assert (first.monthly_cost_delta, first.after.worst_scenario, first.after.worst_demand, first.after.headroom) == (0.0, "rollout", 112, 288)
    assert first.details["saved"] == {"steady": 30 + 80 - 12 - 16, "peak": 454, "rollout": 570 + 80 - 76 - 16}
    assert first.details["pools"] == {"web": 2, "worker": 1}
    assert any("worker: threads is not written, so 1 is assumed" in r for r in first.requires)
    assert first.topology.services["web"].pool == Pool("sqlalchemy", 2, 0)
    assert first.topology.services["api"] == parse_topology(THREADS, "threads.yaml").services["api"]


def test_when_holding_is_not_enough_every_option_starts_from_it() -> None:
    text = THREADS.replace("max_connections: 500", "max_connections: 100")  # usable 97, alarm_at 80: held rollout 112 is over
    topology = parse_topology(text, "threads.yaml")
    [rec] = recommend(topology, CATALOG)
    assert rec.notes[0].startswith("hold each pool to the concurrency that can use it: web 15 → 2 per process")
    assert rec.notes[0].endswith("not enough on its own (rollout demand 112 vs alarm at 80), so every option below starts from it")
    assert rec.options
    for option in rec.options:
        assert option.title.startswith("hold each pool to its concurrency (web → 2, worker → 1), then "), option.title
        assert option.fits and option.before.worst_demand == 670
        assert option.topology.services["web"].pool.worst <= 2  # type: ignore[union-attr]
        report = compute_budget(option.topology, CATALOG)
        assert {i.status for i in report.instances} | {p.status for p in report.poolers} == {"ok"}


def test_apply_to_topology_writes_the_held_pools(tmp_path: Path) -> None:
    path = tmp_path / "threads.yaml"
    path.write_text(THREADS.replace("max_connections: 500", "max_connections: 200"))
    target = tmp_path / "held.yaml"
    code, out, err = run_cli(["recommend", str(path), "--option", "main:1", "--apply-to-topology", str(target)])
    assert code == 0, err
    assert "[main:1] hold each pool to the concurrency that can use it" in out
    written = target.read_text()
    assert written == path.read_text().replace("    pool: sqlalchemy\n", "    pool: {driver: sqlalchemy, size: 2, max_overflow: 0}\n").replace(
        "{driver: rails, size: 5}", "{driver: rails, size: 1}")
    # 200 − 3 = 197 usable, alarm_at 160: held rollout 112 is ok
    assert "planner check: ok" in err and run_cli(["check", str(target)])[0] == 0


def test_emit_pools_writes_the_held_settings(tmp_path: Path) -> None:
    path = tmp_path / "threads.yaml"
    path.write_text(THREADS)
    code, _, err = run_cli(["emit", "pools", str(path), "-o", str(tmp_path / "out")])
    assert code == 0, err
    pools = json.loads((tmp_path / "out" / "pools.json").read_text())["services"]
    assert {name: entry["connections"] for name, entry in pools.items()} == {"web": 2, "worker": 1}
    assert pools["web"]["settings"] == {"pool_size": 2, "max_overflow": 0}


def test_a_pool_read_from_the_deployment_is_not_written(tmp_path: Path) -> None:
    """The e2e shop reads web's pool size from a ConfigMap: holding it is refused, naming the manifest line."""
    import shutil

    fixtures = Path(__file__).parents[1] / "topology" / "sources" / "fixtures" / "kubernetes" / "e2e"
    shutil.copytree(fixtures, tmp_path / "e2e")
    web = tmp_path / "e2e" / "rendered" / "web.yaml"
    web.write_text(web.read_text().replace("  maxReplicas: 10\n", "  maxReplicas: 60\n"))
    shop = tmp_path / "e2e" / "shop.yaml"
    [rec] = recommend(load_topology(shop), CATALOG)
    assert rec.options[0].kind == "pools-to-concurrency" or rec.notes[0].startswith("hold each pool")
    code, _, err = run_cli(["recommend", str(shop), "--option", "main:1", "--apply-to-topology", str(tmp_path / "e2e" / "held.yaml")])
    assert code == 2, err
    assert "services.web.pool.size: 5 → 1: the value comes from DB_POOL_SIZE = '5' ← ConfigMap/shop-web-env" in err
    assert not (tmp_path / "e2e" / "held.yaml").exists()
    assert replace(load_topology(shop).services["worker"], line=None).pool == Pool("sqlalchemy", 2, 0)


def test_when_the_pools_are_the_deployments_the_options_stay_applicable_without_them(tmp_path: Path) -> None:
    """Not enough on its own, and the pool sizes come from a ConfigMap: the options are not built on them (none
    could then be applied); a note names the values to change in the deployment."""
    import shutil

    fixtures = Path(__file__).parents[1] / "topology" / "sources" / "fixtures" / "kubernetes" / "e2e"
    shutil.copytree(fixtures, tmp_path / "e2e")
    shop = tmp_path / "e2e" / "shop.yaml"
    shop.write_text(shop.read_text().replace("db.m6g.large", "db.t4g.micro").replace(", parameters: {max_connections: 600}", ""))
    web = tmp_path / "e2e" / "rendered" / "web.yaml"
    web.write_text(web.read_text().replace("  maxReplicas: 10\n", "  maxReplicas: 30\n"))
    [rec] = recommend(load_topology(shop), CATALOG)
    assert rec.notes[0].startswith("hold each pool to the concurrency that can use it: web 15 → 1 per process")
    assert rec.notes[0].endswith("services.web.pool.size, services.web.pool.max_overflow are read from the deployment: "
                                 "change them there, then run recommend again")
    assert rec.options and not any(o.title.startswith("hold each pool") for o in rec.options)
