"""Properties over generated topologies (hypothesis): what must hold for any file a user writes.

- no crash: a valid topology always gives a report (or a clean InputError);
- the JSON output always matches docs/schema/check.schema.json;
- demand is monotone in every multiplier (replicas, processes, pool size, concurrency, scale);
- a pooler puts exactly its server pool on the database, whatever its clients ask;
- `diff A A` is empty; writing a topology and reading it back gives it back.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.budget import compute_budget, pgbouncer_server_connections, pgpool_server_connections
from planner.catalog import load_catalog
from planner.review.diff import diff_reports
from planner.topology.writer import dump_topology
from planner.render.data import report_dict
from planner.topology import parse_topology

CATALOG = load_catalog()
SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "schema" / "check.schema.json").read_text())
CLASSES = [c.instance_class for c in CATALOG.classes(engine="postgres") if not c.retired][:40]
DRIVERS = ["sqlalchemy", "django", "rails", "node-pg", "asyncpg", "psycopg-pool", "hikari", "per-thread"]
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

names = st.sampled_from(["web", "api", "worker", "cron", "reports", "thumbs", "admin"])


@st.composite
def pools(draw: st.DrawFn) -> Any:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.sampled_from(DRIVERS))
    if kind == 1:
        return draw(st.integers(1, 30))
    if kind == 2:
        return {"driver": draw(st.sampled_from(DRIVERS)), "size": draw(st.integers(1, 20)), "max_overflow": draw(st.integers(0, 20))}
    return None


@st.composite
def services(draw: st.DrawFn, readers: int) -> dict[str, Any]:
    shape = draw(st.sampled_from(["long", "lambda", "fixed"]))
    out: dict[str, Any] = {}
    if shape == "fixed":
        out["connections"] = draw(st.integers(0, 50))
    elif shape == "lambda":
        out["lambda"] = {"concurrency": draw(st.integers(1, 500))} if draw(st.booleans()) else {}
        pool = draw(pools())
        if pool is not None:
            out["pool"] = pool
    else:
        low = draw(st.integers(1, 20))
        out["replicas"] = {"min": low, "max": low + draw(st.integers(0, 20))} if draw(st.booleans()) else low
        out["processes"] = draw(st.integers(1, 8))
        out["threads"] = draw(st.integers(1, 8))
        out["max_surge"] = draw(st.sampled_from(["25%", "0%", "100%", 0, 1, 3]))
        pool = draw(pools())
        if pool is not None:
            out["pool"] = pool
    if readers and shape != "fixed" and draw(st.booleans()):
        out["endpoint"] = "reader"
    if draw(st.integers(0, 3)) == 0:  # a one-shot or cron job: counts only in some scenarios
        out["scenarios"] = draw(st.sampled_from([["rollout"], ["peak", "rollout"], ["steady", "peak"]]))
    return out


@st.composite
def topologies(draw: st.DrawFn) -> dict[str, Any]:
    readers = draw(st.integers(0, 2))
    doc: dict[str, Any] = {
        "version": 1,
        "name": "generated",
        "databases": {"main": {"instance_class": draw(st.sampled_from(CLASSES)), "engine_version": "16", "readers": readers,
                                "headroom": draw(st.sampled_from(["20%", "10%", "0%", 0.35]))}},
    }
    if draw(st.booleans()):
        doc["environments"] = {"prod": {}, "staging": {"scale": draw(st.sampled_from([0.5, 0.25, 0.2, 0.1, 2]))}}
    doc["services"] = {name: draw(services(readers)) for name in draw(st.lists(names, min_size=1, max_size=5, unique=True))}
    long_running = [n for n, s in doc["services"].items() if "replicas" in s and s.get("endpoint") != "reader"]
    if long_running and draw(st.booleans()):
        doc["poolers"] = {"bouncer": {
            "kind": "pgbouncer", "database": "main", "clients": long_running[:2], "replicas": draw(st.integers(1, 4)),
            "default_pool_size": draw(st.integers(1, 50)), "reserve_pool_size": draw(st.integers(0, 5)),
            "max_client_conn": draw(st.integers(10, 5000)),
        }}
        if draw(st.booleans()):  # Pgpool-II instead: its own keys
            doc["poolers"] = {"bouncer": {
                "kind": "pgpool", "database": "main", "clients": long_running[:2], "replicas": draw(st.integers(1, 4)),
                "num_init_children": draw(st.integers(1, 64)), "max_pool": draw(st.integers(1, 8)),
            }}
    return doc


def load(doc: dict[str, Any]):  # type: ignore[no-untyped-def]
    return parse_topology(json.dumps(doc), "generated.json")


def demands(doc: dict[str, Any]) -> dict[tuple[str, str], int | None]:
    report = compute_budget(load(doc), CATALOG)
    return {(f"{i.database}/{i.role}", s): r.demand for i in report.instances for s, r in i.scenarios.items()}


@SETTINGS
@given(topologies())
def test_json_output_always_matches_the_schema(doc: dict[str, Any]) -> None:
    report = compute_budget(load(doc), CATALOG)
    jsonschema.validate(json.loads(json.dumps(report_dict(report))), SCHEMA)


def _bigger(doc: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """Return ``doc`` with one multiplier of one service (or an environment's scale) increased."""
    grown = copy.deepcopy(doc)
    name = data.draw(st.sampled_from(sorted(grown["services"])))
    service = grown["services"][name]
    if "connections" in service:
        service["connections"] += 1
    elif "lambda" in service:
        service["lambda"]["concurrency"] = service["lambda"].get("concurrency", 1000) + data.draw(st.integers(1, 50))
    else:
        which = data.draw(st.sampled_from(["replicas", "processes", "pool"]))
        if which == "replicas":
            replicas = service["replicas"]
            if isinstance(replicas, dict):
                replicas["max"] += 1
            else:
                service["replicas"] = {"min": replicas, "max": replicas + 1}
        elif which == "processes":
            service["processes"] += 1
        else:
            pool = service.get("pool")
            if isinstance(pool, dict):
                pool["size"] += 1
            elif isinstance(pool, int):
                service["pool"] = pool + 1
            else:
                service["threads"] += 1  # per-thread pools grow with threads
    return grown


@SETTINGS
@given(topologies(), st.data())
def test_demand_is_monotone_in_every_multiplier(doc: dict[str, Any], data: st.DataObject) -> None:
    before = demands(doc)
    after = demands(_bigger(doc, data))
    for key, value in before.items():
        if value is not None and after[key] is not None:
            assert after[key] >= value, key


@SETTINGS
@given(topologies())
def test_scale_up_never_lowers_demand(doc: dict[str, Any]) -> None:
    if "environments" not in doc:
        return
    grown = copy.deepcopy(doc)
    grown["environments"]["staging"]["scale"] = doc["environments"]["staging"]["scale"] * 2
    before, after = demands(doc), demands(grown)
    assert all(after[k] >= v for k, v in before.items() if v is not None and after[k] is not None)


@SETTINGS
@given(topologies())
def test_pooler_puts_exactly_its_server_pool_on_the_database(doc: dict[str, Any]) -> None:
    topology = load(doc)
    report = compute_budget(topology, CATALOG)
    for pooler in topology.poolers.values():
        writer = report.instances[0]
        (source,) = [s for s in writer.demand_by_source if s.kind == "pooler" and s.source == pooler.name]
        server = (pgpool_server_connections if pooler.kind == "pgpool" else pgbouncer_server_connections)(pooler)[0]
        assert all(v == server for v in source.demand.values())
        # and no client of the pooler reaches the database directly
        assert not {s.service for s in writer.demand_by_source} & set(pooler.clients)


@SETTINGS
@given(topologies())
def test_diff_of_a_topology_with_itself_is_empty(doc: dict[str, Any]) -> None:
    report = compute_budget(load(doc), CATALOG)
    result = diff_reports(report, report)
    assert not result.changed


@SETTINGS
@given(topologies())
def test_dump_then_parse_round_trips(doc: dict[str, Any]) -> None:
    topology = load(doc)
    again = parse_topology(dump_topology(topology), "again.yaml")
    first, second = report_dict(compute_budget(topology, CATALOG)), report_dict(compute_budget(again, CATALOG))
    assert (second["instances"], second["poolers"], second["status"]) == (first["instances"], first["poolers"], first["status"])
    for kind in ("databases", "environments", "services", "poolers"):
        mine, theirs = getattr(topology, kind), getattr(again, kind)
        assert {k: replace(v, line=None) for k, v in theirs.items()} == {k: replace(v, line=None) for k, v in mine.items()}
