"""Editing a topology file in place (planner.topology.edit): only the changed keys, everything else kept."""

from __future__ import annotations

import dataclasses
import difflib
import json
from fractions import Fraction
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.errors import InputError
from planner.model import Database, Environment, Pool, Pooler, Service, Topology
from planner.topology import parse_topology
from planner.topology.edit import yaml_document as edit_module
from planner.topology.edit import EditBug, edit_topology, same_topology
from planner.topology.writer import topology_document

from ..conftest import EXAMPLES


def changed(topology: Topology, *, services: dict[str, Callable[[Service], Service]] | None = None,
            databases: dict[str, Callable[[Database], Database]] | None = None,
            poolers: dict[str, Pooler | None] | None = None,
            environments: dict[str, Environment | None] | None = None) -> Topology:
    """Return ``topology`` with entries changed (a function), added or removed (None)."""
    def apply(items: Any, changes: Any) -> dict[str, Any]:
        out = dict(items)
        for name, change in (changes or {}).items():
            if change is None:
                out.pop(name)
            elif callable(change):
                out[name] = change(out[name])
            else:
                out[name] = change
        return out

    return dataclasses.replace(
        topology, services=apply(topology.services, services), databases=apply(topology.databases, databases),
        poolers=apply(topology.poolers, poolers), environments=apply(topology.environments, environments))


def edit(text: str, name: str, change: Callable[[Topology], Topology]) -> tuple[str, Topology]:
    """Edit ``text`` with ``change`` and check the result reads back as the changed topology."""
    before = parse_topology(text, name)
    after = change(before)
    result = edit_topology(text, name, before, after)
    assert same_topology(parse_topology(result, name), after)
    return result, after


def diff(a: str, b: str) -> tuple[list[str], list[str]]:
    """Return (removed lines, added lines) between two texts."""
    removed, added = [], []
    for line in difflib.ndiff(a.splitlines(), b.splitlines()):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


def squashed(lines: list[str]) -> list[str]:
    """Return lines with runs of spaces made one (ruamel keeps a comment's column, so spacing moves)."""
    return [" ".join(line.split()) for line in lines]


def with_pool(pool: Pool) -> Callable[[Service], Service]:
    return lambda s: dataclasses.replace(s, pool=pool)


# --------------------------------------------------------------------------- YAML: values in the file's own form

SHOP = """\
# Shop: the web tier and its workers. Incident 2024-03: the pool was too big.
version: 1
databases:
  main:
    engine_version: '16'            # upgraded from 14 in May
    instance_class: db.m6g.large
    headroom: 0.2
services:
  # the storefront
  web:
    replicas: {min: 2, max: 8}      # HPA
    processes: 4
    pool: {driver: sqlalchemy, size: 5, max_overflow: 10}   # see incident notes
  worker:
    replicas: 3
    threads: 8
    pool: 8                         # one per thread

  # cron: nightly exports
  cron:
    connections: 2
"""


def test_unchanged_topology_gives_the_text_back_byte_for_byte() -> None:
    before = parse_topology(SHOP, "shop.yaml")
    assert edit_topology(SHOP, "shop.yaml", before, before) == SHOP


def test_only_the_changed_line_differs_and_comments_stay() -> None:
    result, _ = edit(SHOP, "shop.yaml", lambda t: changed(t, databases={
        "main": lambda d: dataclasses.replace(d, instance_class="db.r6g.xlarge")}))
    assert diff(SHOP, result) == (["    instance_class: db.m6g.large"], ["    instance_class: db.r6g.xlarge"])


def test_a_pool_mapping_keeps_its_driver_and_comment() -> None:
    result, _ = edit(SHOP, "shop.yaml", lambda t: changed(t, services={"web": with_pool(Pool("sqlalchemy", 3, 2))}))
    removed, added = diff(SHOP, result)
    assert removed == ["    pool: {driver: sqlalchemy, size: 5, max_overflow: 10}   # see incident notes"]
    assert squashed(added) == ["pool: {driver: sqlalchemy, size: 3, max_overflow: 2} # see incident notes"]


def test_a_pool_written_as_a_number_stays_a_number() -> None:
    result, _ = edit(SHOP, "shop.yaml", lambda t: changed(t, services={"worker": with_pool(Pool("custom", 4, 0))}))
    assert diff(SHOP, result) == (["    pool: 8                         # one per thread"],
                                  ["    pool: 4                         # one per thread"])


def test_a_pool_becomes_a_mapping_only_when_the_change_needs_one() -> None:
    result, _ = edit(SHOP, "shop.yaml", lambda t: changed(t, services={"worker": with_pool(Pool("custom", 4, 2))}))
    assert "    pool: {size: 4, max_overflow: 2} # one per thread" in result.splitlines() or \
        "pool: {size: 4, max_overflow: 2}" in result


def test_a_missing_pool_is_added_in_the_simplest_form() -> None:
    text = "version: 1\ndatabases: {main: {}}\nservices:\n  api:\n    replicas: 2\n    threads: 5\n"
    result, _ = edit(text, "a.yaml", lambda t: changed(t, services={"api": with_pool(Pool("per-thread", 3, 0))}))
    assert result.endswith("    threads: 5\n    pool: {driver: per-thread, size: 3}\n")
    result, _ = edit(text, "a.yaml", lambda t: changed(t, services={"api": with_pool(Pool("custom", 3, 0))}))
    assert result.endswith("    threads: 5\n    pool: 3\n")
    result, _ = edit(text, "a.yaml", lambda t: changed(t, services={"api": with_pool(Pool("sqlalchemy", 5, 10))}))
    assert result.endswith("    threads: 5\n    pool: sqlalchemy\n")


def test_a_driver_name_becomes_a_mapping_with_the_numbers_that_differ() -> None:
    text = "version: 1\ndatabases: {main: {}}\nservices:\n  api: {replicas: 2, pool: sqlalchemy}\n"
    result, _ = edit(text, "a.yaml", lambda t: changed(t, services={"api": with_pool(Pool("sqlalchemy", 3, 0))}))
    assert "  api: {replicas: 2, pool: {driver: sqlalchemy, size: 3, max_overflow: 0}}\n" in result


def test_replicas_keep_their_form() -> None:
    result, _ = edit(SHOP, "shop.yaml", lambda t: changed(t, services={
        "web": lambda s: dataclasses.replace(s, replicas_max=6),
        "worker": lambda s: dataclasses.replace(s, replicas_min=2, replicas_max=2)}))
    removed, added = diff(SHOP, result)
    assert added == ["    replicas: {min: 2, max: 6}      # HPA", "    replicas: 2"]
    assert len(removed) == 2
    # an integer becomes a mapping only when min and max differ
    result, _ = edit(SHOP, "shop.yaml", lambda t: changed(t, services={
        "worker": lambda s: dataclasses.replace(s, replicas_min=1, replicas_max=3)}))
    assert "    replicas: {min: 1, max: 3}" in result.splitlines()


def test_headroom_keeps_number_or_percentage_and_quotes_stay() -> None:
    result, _ = edit(SHOP, "shop.yaml", lambda t: changed(t, databases={"main": lambda d: dataclasses.replace(
        d, headroom=Fraction(1, 4), engine_version="16.4")}))
    assert "    headroom: 0.25" in result.splitlines()
    assert "engine_version: '16.4' # upgraded from 14 in May" in squashed(result.splitlines())
    text = SHOP.replace("headroom: 0.2", "headroom: 20%")
    result, _ = edit(text, "shop.yaml", lambda t: changed(t, databases={
        "main": lambda d: dataclasses.replace(d, headroom=Fraction(3, 10))}))
    assert "    headroom: 30%" in result.splitlines()


def test_strings_planner_would_misread_are_quoted() -> None:
    text = "version: 1\ndatabases: {main: {}, 'yes': {}}\nservices:\n  web: {replicas: 2, database: main}\n"
    # `yes` and `17` unquoted would be a boolean and a number to planner's YAML 1.1 reader
    result, _ = edit(text, "a.yaml", lambda t: changed(t, services={
        "web": lambda s: dataclasses.replace(s, database="yes")},
        databases={"main": lambda d: dataclasses.replace(d, engine_version="17")}))
    assert 'database: "yes"' in result and 'engine_version: "17"' in result


def test_new_keys_go_where_the_schema_puts_them() -> None:
    result, _ = edit(SHOP, "shop.yaml", lambda t: changed(t, services={
        "web": lambda s: dataclasses.replace(s, surge_count=1, surge_percent=None)}))
    lines = result.splitlines()
    assert lines[lines.index("    replicas: {min: 2, max: 8}      # HPA") + 1] == "    max_surge: 1"


def test_comment_lines_stay_before_the_entry_they_describe() -> None:
    # cron's comment (and the blank line before it) sit between worker and cron: a key added to
    # worker goes before them, not after
    result, _ = edit(SHOP, "shop.yaml", lambda t: changed(t, services={
        "worker": lambda s: dataclasses.replace(s, processes=2)}))
    assert "    pool: 8                         # one per thread\n\n  # cron: nightly exports\n  cron:" in result
    removed, added = diff(SHOP, result)
    assert removed == [] and added == ["    processes: 2"]


def test_a_new_pooler_section_is_appended_in_block_style() -> None:
    pooler = Pooler("pgbouncer", "pgbouncer", "main", ("web",), replicas=2, default_pool_size=10, max_client_conn=200)
    result, _ = edit(SHOP, "shop.yaml", lambda t: changed(t, poolers={"pgbouncer": pooler}))
    assert result.startswith(SHOP)
    assert result[len(SHOP):] == (
        "poolers:\n  pgbouncer:\n    kind: pgbouncer\n    database: main\n    clients: [web]\n    replicas: 2\n"
        "    default_pool_size: 10\n    max_client_conn: 200\n")


def test_a_new_entry_follows_its_siblings_flow_style() -> None:
    text = ("version: 1\ndatabases: {main: {}}\nservices:\n  web: {replicas: 2}\n  api: {replicas: 2}\n"
            "poolers:\n  old: {kind: pgbouncer, database: main, clients: [web]}\n")
    new = Pooler("new", "pgbouncer", "main", ("api",), default_pool_size=5)
    result, _ = edit(text, "a.yaml", lambda t: changed(t, poolers={"new": new}))
    assert result.endswith("  new: {kind: pgbouncer, database: main, clients: [api], replicas: 1, default_pool_size: 5, "
                           "max_client_conn: 100}\n")


def test_lists_change_item_by_item() -> None:
    text = ("version: 1\ndatabases: {main: {}}\nenvironments: {prod: {}, staging: {}, dev: {}}\nservices:\n"
            "  web:\n    environments:\n      - prod      # the real one\n      - staging\n")
    result, _ = edit(text, "a.yaml", lambda t: changed(t, services={
        "web": lambda s: dataclasses.replace(s, environments=("prod", "staging", "dev"))}))
    assert result.endswith("      - prod      # the real one\n      - staging\n      - dev\n")


def test_removed_entries_go_and_their_neighbours_comments_stay() -> None:
    result, _ = edit(SHOP, "shop.yaml", lambda t: changed(t, services={"worker": None}))
    assert "  worker:" not in result
    assert "  # cron: nightly exports\n  cron:" in result


def test_an_odd_layout_is_kept_on_the_lines_the_edit_does_not_touch() -> None:
    text = (
        "%YAML 1.1\n---\n# four-space indentation, spaces inside braces\nversion: 1\ndatabases:\n"
        "    main:   # the db\n        instance_class:    db.t3.micro\n        parameters: { max_connections: 100 }\n"
        "services:\n    web:\n        replicas: { min: 2, max: 6 }\n        pool:\n            driver: sqlalchemy\n"
        "            size: 5\n    worker: {replicas: 2,\n             threads: 4}\n"
        "x-defaults: &defaults\n    replicas: 3\n...\n")
    result, _ = edit(text, "odd.yaml", lambda t: changed(t, services={"web": with_pool(Pool("sqlalchemy", 3, 10))}))
    removed, added = diff(text, result)
    assert (removed, added) == (["            size: 5"], ["            size: 3"])
    # a change inside a flow mapping written over two lines rewrites those two lines only
    result, _ = edit(text, "odd.yaml", lambda t: changed(t, services={
        "worker": lambda s: dataclasses.replace(s, replicas_min=3, replicas_max=3)}))
    removed, added = diff(text, result)
    assert removed == ["    worker: {replicas: 2,", "             threads: 4}"]
    assert added == ["    worker: {replicas: 3, threads: 4}"]
    # a new key takes the file's indentation
    result, _ = edit(text, "odd.yaml", lambda t: changed(t, services={"web": lambda s: dataclasses.replace(s, processes=2)}))
    assert diff(text, result) == ([], ["        processes: 2"])


def test_windows_line_endings_are_kept() -> None:
    text = SHOP.replace("\n", "\r\n")
    result, _ = edit(text, "shop.yaml", lambda t: changed(t, services={"worker": with_pool(Pool("custom", 4, 0))}))
    assert result.count("\r\n") == text.count("\r\n") and "\n" not in result.replace("\r\n", "")


# --------------------------------------------------------------------------- YAML anchors and aliases

ANCHORS = """\
version: 1
x-base: &base
  replicas: 2
  pool: {driver: sqlalchemy, size: 5}   # shared pool settings
databases:
  main: {instance_class: db.t3.micro}
services:
  web:
    <<: *base
    threads: 4
  api: &api
    replicas: 3
    pool: {size: 4}
  api2: *api
  job:
    <<: *api
    threads: 2
"""


def test_a_change_every_user_of_an_anchor_wants_is_made_in_the_anchor() -> None:
    # x-base is merged into web alone: its pool is web's pool
    result, _ = edit(ANCHORS, "a.yaml", lambda t: changed(t, services={"web": with_pool(Pool("sqlalchemy", 3, 10))}))
    assert diff(ANCHORS, result) == (["  pool: {driver: sqlalchemy, size: 5}   # shared pool settings"],
                                     ["  pool: {driver: sqlalchemy, size: 3}   # shared pool settings"])


def test_a_change_one_user_of_an_anchor_wants_overrides_the_merged_key_there() -> None:
    text = ANCHORS.replace("  api: &api\n", "  worker:\n    <<: *base\n  api: &api\n")
    result, _ = edit(text, "a.yaml", lambda t: changed(t, services={
        "web": lambda s: dataclasses.replace(s, replicas_min=5, replicas_max=5, pool=Pool("sqlalchemy", 3, 10))}))
    assert result.startswith(text.split("databases:")[0])  # x-base unchanged: worker still uses it
    assert "    <<: *base\n    threads: 4\n    replicas: 5\n    pool: {driver: sqlalchemy, size: 3}" in result


@pytest.mark.parametrize("service", ["api", "api2", "job"])
def test_an_aliased_entry_is_changed_alone(service: str) -> None:
    before = parse_topology(ANCHORS, "a.yaml")
    result, after = edit(ANCHORS, "a.yaml", lambda t: changed(t, services={service: with_pool(Pool("custom", 2, 0))}))
    again = parse_topology(result, "a.yaml")
    for name in before.services:  # every other service keeps its values
        if name != service:
            assert dataclasses.replace(again.services[name], line=None) == dataclasses.replace(before.services[name], line=None)


def test_removing_a_merged_key_is_refused_in_one_line() -> None:
    text = ANCHORS.replace("  replicas: 2\n", "  replicas: 2\n  environments: [default]\n", 1)
    before = parse_topology(text, "a.yaml")
    after = changed(before, services={"web": lambda s: dataclasses.replace(s, environments=None)})
    with pytest.raises(InputError) as info:
        edit_topology(text, "a.yaml", before, after)
    (line,) = info.value.lines()
    assert line.startswith("a.yaml: services.web.environments: comes from a YAML merge")
    assert "by hand" in line


def test_an_edit_anchors_make_impossible_is_refused_not_written(monkeypatch: pytest.MonkeyPatch) -> None:
    # whatever goes wrong after an anchored node was copied is the anchors' doing: exit 2, one line
    monkeypatch.setattr(edit_module.YamlDocument, "render", lambda self: ["version: 1\n"])
    before = parse_topology(ANCHORS, "a.yaml")
    after = changed(before, services={"api2": with_pool(Pool("custom", 2, 0))})
    with pytest.raises(InputError) as info:
        edit_topology(ANCHORS, "a.yaml", before, after)
    assert info.value.lines() == [
        "a.yaml: services.api2: is shared through a YAML anchor, and planner could not change it here alone "
        "(write this entry out without the alias, or apply the option by hand)"]


# --------------------------------------------------------------------------- TOML

SHOP_TOML = """\
# Shop, in TOML. Incident 2024-03: the pool was too big.
version = 1

[databases.main]
engine_version = "15"   # upgraded in May
instance_class = 'db.m6g.large'

[databases.main.parameters]
rds.rds_superuser_reserved_connections = 2

# the storefront
[services.web]
replicas = { min = 2, max = 8 }   # HPA
processes = 4
pool = { driver = "sqlalchemy", size = 5, max_overflow = 10 }

[services.worker]
replicas = 3
threads = 8
pool = 8   # one per thread

[services.cron]
connections = 2
"""


def test_toml_keeps_comments_tables_and_string_styles() -> None:
    result, _ = edit(SHOP_TOML, "shop.toml", lambda t: changed(t, services={
        "web": with_pool(Pool("sqlalchemy", 3, 2)), "worker": with_pool(Pool("custom", 4, 0))},
        databases={"main": lambda d: dataclasses.replace(d, instance_class="db.r6g.xlarge", parameters={
            "rds.rds_superuser_reserved_connections": 3, "max_connections": 400})}))
    removed, added = diff(SHOP_TOML, result)
    assert removed == ["instance_class = 'db.m6g.large'", "rds.rds_superuser_reserved_connections = 2",
                       'pool = { driver = "sqlalchemy", size = 5, max_overflow = 10 }', "pool = 8   # one per thread"]
    assert "instance_class = 'db.r6g.xlarge'" in added and "rds.rds_superuser_reserved_connections = 3" in added
    assert "pool = 4   # one per thread" in added and "max_connections = 400" in added


def test_toml_new_pooler_is_a_table_of_its_own() -> None:
    pooler = Pooler("pgbouncer", "pgbouncer", "main", ("web",), replicas=2, default_pool_size=10, max_client_conn=200)
    result, _ = edit(SHOP_TOML, "shop.toml", lambda t: changed(t, poolers={"pgbouncer": pooler}))
    assert result.startswith(SHOP_TOML)
    assert "[poolers.pgbouncer]\nkind = \"pgbouncer\"\ndatabase = \"main\"\nclients = [\"web\"]\n" in result


def test_toml_new_key_in_an_inline_entry() -> None:
    text = 'version = 1\n[databases]\nmain = {}\n[services]\nweb = { replicas = 2 }   # the web\n'
    result, _ = edit(text, "a.toml", lambda t: changed(t, services={"web": lambda s: dataclasses.replace(s, processes=3)}))
    assert "web = { replicas = 2, processes = 3 }   # the web" in result.replace("3}", "3 }")


# --------------------------------------------------------------------------- JSON

def test_json_keeps_key_order_and_indentation() -> None:
    doc = topology_document(parse_topology((EXAMPLES / "pgbouncer-fleet.yaml").read_text(), "p.yaml"))
    for indent in (2, 4, "\t"):
        text = json.dumps(doc, indent=indent) + "\n"
        result, _ = edit(text, "p.json", lambda t: changed(t, poolers={
            "bouncer": lambda p: dataclasses.replace(p, max_client_conn=2000)}))
        removed, added = diff(text, result)
        assert [line.strip() for line in removed] == ['"max_client_conn": 1000']
        assert [line.strip() for line in added] == ['"max_client_conn": 2000']


def test_json_on_one_line_and_hand_laid_out() -> None:
    text = ('{"version": 1, "databases": {"main": {"instance_class": "db.t3.micro"}},\n'
            ' "services": {"web": {"replicas": {"min": 2, "max": 6}, "pool": 5}}}\n')
    result, after = edit(text, "a.json", lambda t: changed(t, services={"web": with_pool(Pool("custom", 3, 0))}))
    assert json.loads(result)["services"]["web"] == {"replicas": {"min": 2, "max": 6}, "pool": 3}
    assert list(json.loads(result)) == ["version", "databases", "services"]


# --------------------------------------------------------------------------- the contract

def test_a_text_that_does_not_hold_before_is_refused() -> None:
    before = parse_topology(SHOP, "shop.yaml")
    other = SHOP.replace("processes: 4", "processes: 5")
    with pytest.raises(InputError) as info:
        edit_topology(other, "shop.yaml", before, before)
    assert "no longer holds the topology" in info.value.lines()[0]


def test_an_edit_that_does_not_read_back_is_a_bug_not_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(edit_module.YamlDocument, "render", lambda self: [self.text])
    before = parse_topology(SHOP, "shop.yaml")
    after = changed(before, services={"worker": with_pool(Pool("custom", 4, 0))})
    with pytest.raises(EditBug, match="parses to another topology"):
        edit_topology(SHOP, "shop.yaml", before, after)


def test_a_file_ruamel_cannot_read_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from ruamel.yaml import YAML

    def broken(self: Any, text: str) -> Any:
        raise ValueError("something ruamel does not like\nmore detail")

    monkeypatch.setattr(YAML, "load", broken)
    before = parse_topology(SHOP, "shop.yaml")
    with pytest.raises(InputError) as info:
        edit_topology(SHOP, "shop.yaml", before, changed(before, services={"cron": None}))
    assert info.value.lines() == ["shop.yaml: cannot edit this YAML file in place (something ruamel does not like) "
                                  "(apply the option by hand, or simplify the file's YAML)"]


def test_range_pools_are_written_with_min_and_max_size() -> None:
    from planner.model import Pool as range_pool
    text = ("version: 1\ndatabases: {main: {}}\nservices:\n"
            "  api: {replicas: 2, pool: {driver: psycopg-pool, min_size: 2, max_size: 10}}  # the API\n"
            "  job: {replicas: 2, pool: asyncpg}\n")
    result, _ = edit(text, "a.yaml", lambda t: changed(t, services={
        "api": with_pool(range_pool("psycopg-pool", 6, 0, min_size=2)), "job": with_pool(range_pool("asyncpg", 8, 0, min_size=1))}))
    assert "api: {replicas: 2, pool: {driver: psycopg-pool, min_size: 2, max_size: 6}} # the API" in squashed(result.splitlines())
    assert "job: {replicas: 2, pool: {driver: asyncpg, min_size: 1, max_size: 8}}" in result


# --------------------------------------------------------------------------- property: edit, then parse, is after

def _variants() -> list[tuple[str, str]]:
    """Every example as YAML (as written), JSON and TOML."""
    out = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        text = path.read_text()
        out.append((path.name, text))
        doc = topology_document(parse_topology(text, path.name))
        out.append((path.with_suffix(".json").name, json.dumps(doc, indent=2) + "\n"))
        import tomlkit

        out.append((path.with_suffix(".toml").name, tomlkit.dumps(doc)))
    return out


VARIANTS = _variants()
POOLS = st.one_of(
    st.builds(lambda size: Pool("custom", size, 0), st.integers(1, 40)),
    st.builds(lambda size, extra: Pool("custom", size, extra), st.integers(1, 40), st.integers(0, 20)),
    st.builds(Pool, st.sampled_from(["sqlalchemy", "rails", "node-pg", "asyncpg", "hikari", "per-thread"]),
              st.integers(1, 40), st.integers(0, 20)),
    st.sampled_from([Pool("sqlalchemy", 5, 10), Pool("node-pg", 10, 0), Pool("unbounded", None, 0)]),
)


@st.composite
def changes(draw: st.DrawFn, topology: Topology) -> Topology:
    services = {}
    for name, service in topology.services.items():
        if not draw(st.booleans()):
            continue
        if service.shape == "long-running":
            low = draw(st.integers(1, 12))
            high = draw(st.integers(low, 30))
            service = dataclasses.replace(service, replicas_min=low, replicas_max=high, processes=draw(st.integers(1, 8)),
                                          threads=draw(st.integers(1, 16)), pool=draw(POOLS))
        elif service.shape == "lambda":
            service = dataclasses.replace(service, lambda_concurrency=draw(st.none() | st.integers(1, 1000)), pool=draw(POOLS))
        else:
            service = dataclasses.replace(service, connections=draw(st.integers(0, 20)))
        services[name] = service
    databases = {}
    for name, db in topology.databases.items():
        if draw(st.booleans()):
            params = {**db.parameters, "max_connections": draw(st.integers(20, 5000))}
            databases[name] = dataclasses.replace(db, parameters=params, instance_class=draw(
                st.sampled_from([db.instance_class, "db.m6g.large", "db.r6g.xlarge"])))
    poolers = {}
    for name, pooler in topology.poolers.items():
        if pooler.kind == "pgbouncer" and draw(st.booleans()):
            poolers[name] = dataclasses.replace(pooler, max_client_conn=draw(st.integers(1, 5000)),
                                                default_pool_size=draw(st.integers(1, 200)))
    return dataclasses.replace(topology, services={**topology.services, **services},
                               databases={**topology.databases, **databases}, poolers={**topology.poolers, **poolers})


@pytest.mark.parametrize(("name", "text"), VARIANTS, ids=[n for n, _ in VARIANTS])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_changes_read_back_exactly(name: str, text: str, data: st.DataObject) -> None:
    before = parse_topology(text, name)
    after = data.draw(changes(before))
    result = edit_topology(text, name, before, after)
    assert same_topology(parse_topology(result, name), after)
    # comment lines are never lost
    comments = [line.strip() for line in text.splitlines() if line.strip().startswith("#")]
    kept = iter(line.strip() for line in result.splitlines())
    assert all(any(c == line for line in kept) for c in comments)
