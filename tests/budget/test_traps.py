"""Issue 12 in the budget: the lints for the traps, min/max pools held at max, every budget problem at once."""

from __future__ import annotations

import pytest

from planner.budget import budget_report, compute_budget
from planner.budget.limits import limit_problems
from planner.catalog import load_catalog
from planner.errors import InputError, Problem
from planner.topology import parse_topology

CATALOG = load_catalog()
HEAD = "version: 1\ndatabases:\n  main: {instance_class: db.m6g.large}\nservices:\n"


def warnings_of(*services: str) -> dict[str, list[str]]:
    """Return the warnings of a topology with these service lines, code -> messages."""
    topology = parse_topology(HEAD + "".join(f"  {s}\n" for s in services), "t.yaml")
    report = compute_budget(topology, CATALOG)
    found: dict[str, list[str]] = {}
    for warning in report.warnings:
        found.setdefault(warning.code, []).append(f"{warning.key_path}: {warning.message}")
    return found


# --------------------------------------------------------------------------- surge-count


def test_integer_surge_as_large_as_the_fleet_asks_for_a_percentage() -> None:
    (message,) = warnings_of("web: {replicas: {min: 2, max: 10}, max_surge: 25}")["surge-count"]
    assert message.startswith("services.web.max_surge: max_surge 25 is a number of replicas")
    assert "10 + 25 = 35 replicas" in message and 'did you mean "25%"?' in message
    assert "ceil(10 × 25%) = 3 extra replicas" in message


@pytest.mark.parametrize("service", [
    "web: {replicas: 10, max_surge: 9}",  # smaller than the fleet: a real count
    "web: {replicas: 1, max_surge: 1}",  # one replica, one surge: the ordinary rolling update
    "web: {replicas: 4, max_surge: 25%}",
    "web: {replicas: 4}",
])
def test_ordinary_surges_are_not_flagged(service: str) -> None:
    assert "surge-count" not in warnings_of(service)


# --------------------------------------------------------------------------- pool-below-threads


def test_rails_pool_under_puma_threads() -> None:
    (message,) = warnings_of("web: {replicas: 3, threads: 15, pool: rails}")["pool-below-threads"]
    assert message.startswith("services.web.pool: rails pool of 5 per process is shared by 15 threads")
    assert "10 threads per process wait" in message and "ActiveRecord::ConnectionTimeoutError" in message
    assert "RAILS_MAX_THREADS" in message


@pytest.mark.parametrize(("service", "error"), [
    ("{threads: 8, pool: {driver: sqlalchemy, size: 2, max_overflow: 2}}", "QueuePool limit"),  # 4 < 8
    ("{threads: 8, pool: psycopg-pool}", "PoolTimeout"),
    ("{threads: 8, pool: django-pool}", "PoolTimeout"),
    ("{threads: 12, pool: hikari}", "SQLTransientConnectionException"),
    ("{threads: 6, pool: 2}", "wait for one"),
])
def test_shared_pools_smaller_than_their_threads(service: str, error: str) -> None:
    (message,) = warnings_of(f"web: {service}")["pool-below-threads"]
    assert error in message


@pytest.mark.parametrize("service", [
    "{threads: 15, pool: sqlalchemy}",  # 5 + overflow 10 = 15: enough
    "{threads: 16, pool: node-pg}",  # an event loop: waiting in the pool is the design
    "{threads: 16, pool: asyncpg}",
    "{threads: 16, pool: {driver: pgxpool, size: 4}}",  # goroutines
    "{threads: 16, pool: per-thread}",
    "{threads: 16, pool: django}",
    "{threads: 16, pool: unbounded}",
    "{lambda: {concurrency: 5}, pool: {driver: rails, size: 1}}",
])
def test_pools_that_do_not_queue_threads_are_not_flagged(service: str) -> None:
    assert "pool-below-threads" not in warnings_of(f"web: {service}")


# --------------------------------------------------------------------------- django-pool-unknown


def test_django_preset_under_the_pool_option_would_open_more() -> None:
    (message,) = warnings_of("celery: {replicas: 2, processes: 8, pool: django}")["django-pool-unknown"]
    assert "one connection per thread (1 per process)" in message
    assert "16 processes at peak would hold 64, not 16" in message and "pool: django-pool" in message


def test_django_preset_with_a_size_django_has_no_setting_for() -> None:
    (message,) = warnings_of("web: {threads: 4, pool: {driver: django, size: 10}}")["django-pool-unknown"]
    assert "django pool of 10 per process" in message and "one connection per thread (4)" in message
    assert "pool: {driver: django-pool, max_size: 10}" in message


@pytest.mark.parametrize("service", ["{threads: 4, pool: django}", "{threads: 8, pool: django}", "{pool: django-pool}"])
def test_django_pools_the_preset_covers_are_not_flagged(service: str) -> None:
    assert "django-pool-unknown" not in warnings_of(f"web: {service}")


# --------------------------------------------------------------------------- min/max pools


def test_min_max_pool_is_held_at_max_and_says_why() -> None:
    topology = parse_topology(HEAD + "  api: {replicas: {min: 2, max: 4}, processes: 2, "
                              "pool: {driver: psycopg-pool, min_size: 2, max_size: 10}}\n", "t.yaml")
    report = compute_budget(topology, CATALOG)
    (source,) = report.instances[0].demand_by_source
    assert source.demand == {"steady": 40, "peak": 80, "rollout": 80 + 2 * 10}
    assert source.working["steady"] == ("replicas 2 × processes 2 × psycopg-pool pool max_size 10 (not min_size 2: "
                                        "what a burst opens stays open until max_idle 600 s) = 40")
    (finding,) = [w for w in report.warnings if w.code == "pool-held-at-max"]
    assert finding.key_path == "services.api.pool" and finding.line == 5
    assert "min_size 2 < max_size 10" in finding.message and "max_idle (600 s)" in finding.message


def test_asyncpg_range_names_its_own_timeout() -> None:
    (message,) = warnings_of("api: {pool: {driver: asyncpg, min_size: 1, max_size: 20}}")["pool-held-at-max"]
    assert "max_inactive_connection_lifetime (300 s)" in message and "counts 20, not 1" in message


def test_lints_never_change_a_status() -> None:
    """The traps are warned about, and the report is the arithmetic's, number for number."""
    traps = parse_topology(HEAD + "  web: {replicas: {min: 2, max: 3}, max_surge: 5, threads: 15, pool: rails}\n"
                           "  celery: {processes: 8, pool: django}\n", "t.yaml")
    report = compute_budget(traps, CATALOG)
    assert {w.code for w in report.warnings} >= {"surge-count", "pool-below-threads", "django-pool-unknown"}
    assert report.instances == budget_report(traps, CATALOG).instances and report.status == "ok"
    # web (3 + 5 surge) × rails 5, celery (1 + ceil(25 %)) × 8 processes × 1
    assert report.instances[0].scenarios["rollout"].demand == (3 + 5) * 5 + (1 + 1) * 8


# --------------------------------------------------------------------------- every budget problem at once


def test_limit_problems_are_all_found_at_once() -> None:
    topology = parse_topology(
        "version: 1\ndatabases:\n"
        "  main: {instance_class: db.x9.huge, readers: 1, reader_instance_class: db.y9.huge}\n"
        "  other: {instance_class: db.m6g.large, parameters: {max_connections: '{DBInstanceClassMemory/99999999999}'}}\n"
        "  third: {engine: postgres}\n"
        "services:\n  web: {database: main}\n", "t.yaml")
    problems = limit_problems(topology, CATALOG)
    assert [(p.key_path, p.line) for p in problems] == [
        ("databases.main.instance_class", 3),
        ("databases.main.reader_instance_class", 3),  # the reader's own class, on its own key
        ("databases.other.parameters.max_connections", 4),
        ("databases.third.instance_class", 5),
    ]
    assert "evaluates to 0" in problems[2].message and "is required" in problems[3].message
    # the budget itself meets the same problems, all of them
    with pytest.raises(InputError) as info:
        compute_budget(topology, CATALOG)
    assert [p for p in info.value.problems if isinstance(p, Problem)] == problems
