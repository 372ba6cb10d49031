"""Issue 12 in the topology reader: min/max pools, the new presets, the format hint, what a bad file still yields."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.errors import InputError, Problem
from planner.model import Database, Pool
from planner.topology import parse_topology
from planner.topology.load import TopologyError, load_topology
from planner.topology.parse import sniff_format
from planner.topology.services import RANGE_DRIVERS

HEAD = ("version: 1", "databases:", "  main: {instance_class: db.m6g.large}", "services:")


def pool_of(service: str) -> Pool | None:
    """Return the pool of ``web`` written as the flow mapping ``service``."""
    topology = parse_topology("\n".join((*HEAD, f"  web: {service}")) + "\n", "p.yaml")
    return topology.services["web"].pool


def problems_of(service: str) -> list[Problem]:
    with pytest.raises(InputError) as info:
        parse_topology("\n".join((*HEAD, f"  web: {service}")) + "\n", "p.yaml")
    return [p for p in info.value.problems if isinstance(p, Problem)]


@pytest.mark.parametrize(("service", "expected"), [
    # min < max: the cap is what the budget counts; min_size is kept for the working text and lints
    ("{pool: {driver: psycopg-pool, min_size: 2, max_size: 10}}", Pool("psycopg-pool", 10, 0, min_size=2)),
    ("{pool: {driver: asyncpg, min_size: 1, max_size: 20}}", Pool("asyncpg", 20, 0, min_size=1)),
    ("{pool: {driver: django-pool, max_size: 10}}", Pool("django-pool", 10, 0, min_size=4)),  # psycopg's min 4
    ("{pool: {driver: asyncpg, min_size: 2}}", Pool("asyncpg", 10, 0, min_size=2)),  # asyncpg's max 10
    ("{pool: {driver: psycopg-pool, min_size: 2, size: 6}}", Pool("psycopg-pool", 6, 0, min_size=2)),
    # min == max: a fixed pool, as before
    ("{pool: {driver: psycopg-pool, min_size: 6}}", Pool("psycopg-pool", 6, 0)),  # psycopg: max follows min
    ("{pool: {driver: asyncpg, min_size: 10, max_size: 10}}", Pool("asyncpg", 10, 0)),
    # the presets
    ("{pool: django-pool, threads: 16}", Pool("django-pool", 4, 0)),  # 4 per process whatever the threads
    ("{pool: {driver: pgxpool, size: 8}}", Pool("pgxpool", 8, 0)),
    ("{pool: {driver: database-sql, size: 25}}", Pool("database-sql", 25, 0)),
    ("{pool: {driver: database-sql, max_overflow: -1}}", Pool("database-sql", None, 0)),
    # `size` keeps working for the range drivers
    ("{pool: {driver: asyncpg, size: 20}}", Pool("asyncpg", 20, 0)),
    ("{pool: psycopg-pool}", Pool("psycopg-pool", 4, 0)),
])
def test_pool_forms_of_issue_12(service: str, expected: Pool) -> None:
    assert pool_of(service) == expected


@pytest.mark.parametrize(("service", "key", "fragment", "fix"), [
    ("{pool: pgxpool}", "services.web.pool", "max(4, the host's CPU count)", "pool: {driver: pgxpool, size: N}"),
    ("{pool: {driver: pgxpool}}", "services.web.pool", "pool_max_conns", "size: N"),
    ("{pool: database-sql}", "services.web.pool", "SetMaxOpenConns", "pool: unbounded"),
    ("{pool: {driver: sqlalchemy, min_size: 2}}", "services.web.pool.min_size",
     "min_size belongs to psycopg-pool, django-pool and asyncpg pools, not to a sqlalchemy pool", "size (and max_overflow)"),
    ("{pool: {min_size: 2, max_size: 4}}", "services.web.pool.min_size", "not to a pool without a driver", "name the driver"),
    ("{pool: {driver: psycopg-pool, size: 5, max_size: 8}}", "services.web.pool.max_size", "the same setting", "remove size"),
    ("{pool: {driver: psycopg-pool, min_size: 9, max_size: 3}}", "services.web.pool.min_size",
     "min_size 9 is above max_size 3: psycopg_pool refuses", "lower min_size"),
    ("{pool: {driver: asyncpg, max_size: 5}}", "services.web.pool.max_size",
     "min_size 10 (asyncpg's default) is above max_size 5", "min_size: 1"),
    ("{pool: {driver: psycopg-pool, max_size: 0}}", "services.web.pool.max_size", "at least 1", "whole number"),
])
def test_pool_mistakes_name_the_key_and_the_fix(service: str, key: str, fragment: str, fix: str) -> None:
    (problem,) = problems_of(service)
    assert problem.key_path == key and problem.line == 5
    assert fragment in problem.message and fix in (problem.hint or ""), problem


def test_range_drivers_say_how_long_they_hold() -> None:
    """The idle timeouts the steady rule rests on (psycopg_pool max_idle, asyncpg max_inactive_connection_lifetime)."""
    assert {d: (h.setting, h.seconds) for d, h in RANGE_DRIVERS.items()} == {
        "psycopg-pool": ("max_idle", 600), "django-pool": ("max_idle", 600),
        "asyncpg": ("max_inactive_connection_lifetime", 300),
    }


# --------------------------------------------------------------------------- content in another format

TOML = 'version = 1\n[databases.main]\ninstance_class = "db.m6g.large"\n[services.web]\nreplicas = 2\n'
YAML = "version: 1\ndatabases:\n  main: {instance_class: db.m6g.large}\nservices:\n  web: {replicas: 2}\n"
JSON = '{"version": 1, "databases": {"main": {"instance_class": "db.m6g.large"}}, "services": {"web": {}}}\n'


@pytest.mark.parametrize(("text", "name", "looks", "rename"), [
    (TOML, "shop.yaml", "TOML, not YAML", "shop.toml"),
    (TOML, "shop.json", "TOML, not JSON", "shop.toml"),
    (YAML, "shop.toml", "YAML, not TOML", "shop.yaml"),
    (YAML, "shop.json", "YAML, not JSON", "shop.yaml"),
    (JSON, "shop.toml", "JSON, not TOML", "shop.json"),
])
def test_content_of_another_format_gets_a_hint(text: str, name: str, looks: str, rename: str) -> None:
    with pytest.raises(InputError) as info:
        parse_topology(text, name)
    (problem,) = info.value.problems
    assert isinstance(problem, Problem)
    assert f"this looks like {looks}: rename it to {rename}" in str(problem), problem


def test_no_format_hint_for_a_plain_mistake() -> None:
    """A YAML syntax error in YAML, or broken JSON that YAML happens to read, gets no misleading hint."""
    for text, name in (("version: 1\nservices: [\n", "shop.yaml"), (JSON.replace("}}}", "}},}"), "shop.json")):
        with pytest.raises(InputError) as info:
            parse_topology(text, name)
        assert "this looks like" not in str(info.value)
    assert sniff_format("just: words\n", "toml") is None  # a mapping, but not a topology


def test_unknown_suffix_says_which_format_the_content_is() -> None:
    with pytest.raises(InputError) as info:
        parse_topology(TOML, "infra/shop.conf")
    assert "cannot tell the file format: suffix '.conf' (this looks like TOML: rename it to shop.toml)" in str(info.value)


# --------------------------------------------------------------------------- what a file with problems still yields


def test_a_file_with_problems_keeps_its_readable_databases(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "version: 1\n"
        "databases:\n"
        "  main: {instance_class: db.x9.huge, headroom: 120}\n"  # headroom: nothing the limits read
        "  other: {engine: postgress, instance_class: db.m6g.large}\n"  # engine: the limits need it
        "  third: {instance_clas: db.m6g.large}\n"  # the class is most likely that misspelt key
        "  fourth: {engine: self-managed}\n"
        "services:\n  web: {pool: sqlalchemyy}\n"
    )
    with pytest.raises(TopologyError) as info:
        load_topology(path)
    partial = info.value.partial
    assert partial is not None and partial.path == str(path) and not partial.services
    assert set(partial.databases) == {"main", "fourth"}
    assert partial.databases["main"] == Database("main", instance_class="db.x9.huge", line=3)
    assert [p.key_path for p in info.value.problems if isinstance(p, Problem)] == [
        "databases.main.headroom", "databases.other.engine", "databases.third.instance_clas", "services.web.pool"]


def test_a_formula_on_a_self_managed_database_is_a_file_problem() -> None:
    with pytest.raises(InputError) as info:
        parse_topology("version: 1\ndatabases:\n  pg:\n    engine: self-managed\n    parameters:\n"
                       "      max_connections: '{DBInstanceClassMemory/9531392}'\nservices:\n  web: {}\n", "s.yaml")
    (problem,) = info.value.problems
    assert isinstance(problem, Problem)
    assert (problem.key_path, problem.line) == ("databases.pg.parameters.max_connections", 6)
    assert "no DBInstanceClassMemory" in problem.message and "SHOW max_connections" in (problem.hint or "")
