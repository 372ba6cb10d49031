"""One definition of "the smallest class that fits": plan, the report and recommend name the same one."""

from __future__ import annotations

import re

import pytest

from planner.advice.recommend import recommend
from planner.budget import compute_budget
from planner.budget.candidates import class_fits, proposed
from planner.budget.plan import burstable_reason, plan_database
from planner.catalog import load_catalog
from planner.render.html import render_report
from planner.topology import load_topology, parse_topology

from ..conftest import EXAMPLES

CATALOG = load_catalog()
# 96 gunicorn workers × asyncpg on db.m5.large (issue 12, point 4: the report said db.r5.large, plan db.r6g.large)
GUNICORN = """version: 1
databases:
  main: {engine: postgres, engine_version: "16", instance_class: db.m5.large}
services:
  api: {replicas: {min: 4, max: 8}, processes: 12, pool: {driver: asyncpg, size: 10}}
"""
TOPOLOGIES = {p.stem: load_topology(p) for p in sorted(EXAMPLES.glob("*.yaml"))} | {"gunicorn-asyncpg": parse_topology(GUNICORN, "g.yaml")}


@pytest.mark.parametrize("name", sorted(TOPOLOGIES))
def test_plan_report_and_recommend_name_the_same_smallest_class(name: str) -> None:
    topology = TOPOLOGIES[name]
    for database, db in topology.databases.items():
        if db.engine == "self-managed":
            continue
        plan = plan_database(topology, CATALOG, database)
        planned = plan.candidates[0].instance_class.instance_class if plan.candidates else None
        fits = [f.name for f in proposed(class_fits(topology, CATALOG, database), burstable_reason(topology, database, None))]
        assert (fits[0] if fits else None) == planned
        html = render_report(compute_budget(topology, CATALOG), CATALOG)
        said = re.search(r"Smallest that fits: ([a-z0-9.]+|none)\.", html)
        assert said is not None and said.group(1) == (planned or "none")
        for rec in recommend(topology, CATALOG):
            for option in rec.options:
                if option.kind == "resize":
                    assert option.details["instance_class"] == planned


def test_the_smallest_is_the_cheapest_of_the_smallest_memory() -> None:
    topology = TOPOLOGIES["gunicorn-asyncpg"]
    plan = plan_database(topology, CATALOG, "main")
    first = plan.candidates[0]
    same_memory = [c for c in plan.candidates if c.instance_class.memory_gib == first.instance_class.memory_gib]
    priced = [c.price.usd_per_hour for c in same_memory if c.price is not None]
    assert first.price is not None and first.price.usd_per_hour == min(priced)
