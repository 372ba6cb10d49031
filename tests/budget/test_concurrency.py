"""Pools larger than the concurrency that can use them (spec §2, v1.2): the warning.

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

from pathlib import Path

import pytest

from planner.budget import compute_budget
from planner.budget.concurrency import above_concurrency, held_to_concurrency
from planner.catalog import load_catalog
from planner.model import Pool, Service
from planner.render.sarif import LINT_RULES
from planner.topology import parse_topology

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
