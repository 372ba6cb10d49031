"""`scenarios` on a service (extension): the scenarios in which its demand counts, and 0 in the others.

A Kubernetes Job or a migration that other Compose services wait for runs only during deploys
(`scenarios: [rollout]`); a CronJob at any time but not as steady load (`scenarios: [peak, rollout]`).
Every number below is worked out by hand in the comment beside it.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.budget import compute_budget
from planner.catalog import load_catalog
from planner.render.check import render_markdown, render_text
from planner.render.data import report_dict
from planner.render.explain import render_explain
from planner.render.html import render_report
from planner.review.diff import diff_reports
from planner.render.diff import render_json as render_diff_json
from planner.render.diff import render_text as render_diff_text
from planner.topology import parse_topology
from planner.topology.edit import edit_topology
from planner.topology.writer import dump_topology

from ..conftest import refusal, run_cli

CATALOG = load_catalog()
SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "schema" / "check.schema.json").read_text())

JOBS = """\
version: 1
name: jobs
databases:
  main: {engine: self-managed, parameters: {max_connections: 100}}
services:
  web:
    replicas: {min: 2, max: 4}
    processes: 2
    threads: 4
  migrate:                    # a Kubernetes Job: only while a deploy runs
    scenarios: [rollout]
    replicas: 1
    max_surge: 0
    pool: 3
  cleanup:                    # a CronJob: at any time, but not steady load
    scenarios: [rollout, peak]
    connections: 5
"""


def report_of(text: str, name: str = "jobs.yaml"):  # type: ignore[no-untyped-def]
    return compute_budget(parse_topology(text, name), CATALOG)


def totals(text: str) -> dict[str, int | None]:
    report = report_of(text)
    return {s: r.demand for s, r in report.instances[0].scenarios.items()}


def test_demand_counts_only_in_the_scenarios_given() -> None:
    # steady: web 2 × 2 × 4 = 16; migrate and cleanup do not count
    # peak: web 4 × 2 × 4 = 32, + cleanup 5 = 37
    # rollout: web (4 + ceil(4 × 25%) = 1) × 2 × 4 = 40, + migrate (1 + 0) × 1 × 3 = 3, + cleanup 5 = 48
    assert totals(JOBS) == {"steady": 16, "peak": 37, "rollout": 48}
    by_source = {s.source: dict(s.demand) for s in report_of(JOBS).instances[0].demand_by_source}
    assert by_source["migrate@default"] == {"steady": 0, "peak": 0, "rollout": 3}
    assert by_source["cleanup@default"] == {"steady": 0, "peak": 5, "rollout": 5}


def test_every_shape_takes_scenarios_and_the_default_is_all_three() -> None:
    text = JOBS + """\
  thumbs:
    scenarios: [peak]
    lambda: {concurrency: 7}
    pool: 2
  ops:
    connections: 3
"""
    # thumbs: 7 × 2 = 14 in peak only; ops 3 in all three
    assert totals(text) == {"steady": 16 + 3, "peak": 37 + 14 + 3, "rollout": 48 + 3}
    assert parse_topology(text, "jobs.yaml").services["ops"].scenarios is None
    # the order written does not matter: the model keeps the spec's order
    assert parse_topology(text, "jobs.yaml").services["cleanup"].scenarios == ("peak", "rollout")


def test_a_client_of_a_pooler_counts_only_in_its_scenarios_on_the_client_side() -> None:
    text = JOBS + """\
poolers:
  bouncer: {kind: pgbouncer, database: main, clients: [migrate, cleanup], default_pool_size: 4, max_client_conn: 6}
"""
    report = report_of(text)
    clients = {s: r.demand for s, r in report.poolers[0].scenarios.items()}
    # steady 0, peak cleanup 5, rollout migrate 3 + cleanup 5 = 8 > max_client_conn 6: over in rollout only
    assert clients == {"steady": 0, "peak": 5, "rollout": 8}
    assert [r.status for r in report.poolers[0].scenarios.values()] == ["ok", "ok", "over"]
    # the database sees the pooler's server pool in every scenario: web + 4
    assert {s: r.demand for s, r in report.instances[0].scenarios.items()} == {"steady": 20, "peak": 36, "rollout": 44}


def test_an_unbounded_pool_is_unbounded_only_where_it_counts() -> None:
    text = JOBS.replace("    pool: 3\n", "    pool: unbounded\n")
    assert totals(text) == {"steady": 16, "peak": 37, "rollout": None}


@pytest.mark.parametrize(("value", "message"), [
    ("[rollot]", "services.migrate.scenarios[0]: unknown scenario 'rollot' (did you mean 'rollout'?)"),
    ("[peak, peak]", "services.migrate.scenarios[1]: scenario 'peak' is listed twice (remove the second one)"),
    ("[]", "services.migrate.scenarios: scenarios is empty (list at least one scenario, or remove the key)"),
    ("rollout", "services.migrate.scenarios: scenarios must be a list of scenario names, not the string 'rollout' "
                "(write e.g. scenarios: [rollout])"),
    ("[3]", "services.migrate.scenarios[0]: scenarios must be a non-empty string, not the integer 3 (write e.g. steady)"),
])
def test_bad_scenarios_are_exit_2_with_the_fix(tmp_path: Path, value: str, message: str) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text(JOBS.replace("scenarios: [rollout]", f"scenarios: {value}"))
    assert refusal(["check", str(path)]) == [f"{path}:11: {message}"]


def test_json_keeps_per_scenario_numbers_and_says_where_a_source_counts() -> None:
    doc = report_dict(report_of(JOBS))
    jsonschema.validate(doc, SCHEMA)
    sources = {s["source"]: s for s in doc["instances"][0]["demand_by_source"]}
    assert sources["migrate@default"] == {"source": "migrate@default", "kind": "service", "steady": 0, "peak": 0,
                                          "rollout": 3, "endpoint": "writer", "scenarios": ["rollout"]}
    assert sources["cleanup@default"]["scenarios"] == ["peak", "rollout"]
    assert "scenarios" not in sources["web@default"]  # every scenario: no key, as before


def test_text_markdown_and_explain_say_it() -> None:
    report = report_of(JOBS)
    note = "counted only in some scenarios: migrate@default (rollout only), cleanup@default (peak and rollout only)"
    assert note in render_text(report).splitlines()
    assert note in render_markdown(report)
    assert "| migrate@default (rollout only) | 0 | 0 | 3 |" in render_markdown(report)
    explained = render_explain(report).splitlines()
    assert "    migrate@default: not counted in steady: counts in rollout only (scenarios: [rollout]) = 0" in explained
    assert "    migrate@default (counts in rollout only): (replicas 1 + surge 0) × processes 1 × custom pool 3 = 3" in explained
    assert "    cleanup@default (counts in peak and rollout only): connections 5 = 5" in explained
    assert "counted only" not in render_text(report_of(JOBS.replace("    scenarios: [rollout]\n", "").replace(
        "    scenarios: [rollout, peak]\n", "")))


def test_the_report_says_it() -> None:
    html = render_report(report_of(JOBS), CATALOG)
    assert "migrate@default <span class=\"muted small\"" in html and "(rollout only)</span>" in html
    assert "(peak and rollout only)</span>" in html


def test_diff_says_when_a_service_stops_counting_in_a_scenario() -> None:
    base = report_of(JOBS.replace("    scenarios: [rollout]\n", ""))
    head = report_of(JOBS)
    diff = diff_reports(base, head)
    text = render_diff_text(diff)
    assert "  - migrate@default counts in rollout only (was every scenario)" in text
    row = next(line for line in text.splitlines() if line.lstrip().startswith("migrate@default"))
    # steady 3 → 0, peak 3 → 0, rollout 3 unchanged
    assert "(every scenario → rollout only)" in row and "3 → 0 (-3)" in row
    source = next(s for s in json.loads(render_diff_json(diff))["sources"] if s["source"] == "migrate@default")
    assert (source["counts_in_before"], source["counts_in_after"]) == (None, ["rollout"])
    assert source["scenarios"]["steady"]["after"] == 0 and source["scenarios"]["rollout"]["after"] == 3


def test_written_and_edited_back_the_same() -> None:
    topology = parse_topology(JOBS, "jobs.yaml")
    again = parse_topology(dump_topology(topology), "jobs.yaml")
    assert {n: replace(s, line=None) for n, s in again.services.items()} == {
        n: replace(s, line=None) for n, s in topology.services.items()}
    changed = replace(topology.services["migrate"], scenarios=("peak", "rollout"))
    after = replace(topology, services={**topology.services, "migrate": changed})
    text = edit_topology(JOBS, "jobs.yaml", topology, after)
    assert "    scenarios: [peak, rollout]\n" in text and text.count("\n") == JOBS.count("\n")


def test_check_cli_exit_codes_follow_the_counted_demand(tmp_path: Path) -> None:
    # 100 max_connections − 3 reserved = 97 usable: a job of 60 that runs only in rollout breaks only rollout
    path = tmp_path / "jobs.yaml"
    path.write_text(JOBS.replace("pool: 3", "pool: 60"))
    code, out, _ = run_cli(["check", str(path), "--format", "json"])
    doc = json.loads(out)
    assert code == 1
    assert {s: r["status"] for s, r in doc["instances"][0]["scenarios"].items()} == {"steady": "ok", "peak": "ok", "rollout": "over"}


# ---------------------------------------------------------------------------- property

SCENARIO_SETS = [["steady", "peak", "rollout"], ["peak", "rollout"], ["rollout"], ["steady"], ["peak"], ["steady", "rollout"]]


@st.composite
def job_topologies(draw: st.DrawFn) -> dict[str, Any]:
    services: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(["web", "job", "cron", "fn", "ops"]), min_size=1, max_size=5, unique=True)):
        shape = draw(st.sampled_from(["long", "lambda", "fixed"]))
        if shape == "long":
            low = draw(st.integers(1, 6))
            spec: dict[str, Any] = {"replicas": {"min": low, "max": low + draw(st.integers(0, 6))},
                                    "processes": draw(st.integers(1, 4)), "pool": draw(st.integers(1, 12))}
        elif shape == "lambda":
            spec = {"lambda": {"concurrency": draw(st.integers(1, 50))}, "pool": draw(st.integers(1, 3))}
        else:
            spec = {"connections": draw(st.integers(0, 30))}
        if draw(st.booleans()):
            spec["scenarios"] = draw(st.sampled_from(SCENARIO_SETS))
        services[name] = spec
    doc: dict[str, Any] = {"version": 1, "name": "p",
                           "databases": {"main": {"engine": "self-managed", "parameters": {"max_connections": 500}}},
                           "services": services}
    long_running = [n for n, s in services.items() if "replicas" in s]
    if long_running and draw(st.booleans()):
        doc["poolers"] = {"b": {"kind": "pgbouncer", "database": "main", "clients": long_running[:2],
                                "default_pool_size": draw(st.integers(1, 20)), "max_client_conn": draw(st.integers(1, 300))}}
    return doc


def _all_demands(doc: dict[str, Any]) -> dict[tuple[str, str], int | None]:
    report = compute_budget(parse_topology(json.dumps(doc), "p.json"), CATALOG)
    found = {(i.name, s): r.demand for i in report.instances for s, r in i.scenarios.items()}
    found |= {(f"pooler {p.pooler}", s): r.demand for p in report.poolers for s, r in p.scenarios.items()}
    return found


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(job_topologies(), st.data())
def test_removing_a_scenario_never_raises_demand(doc: dict[str, Any], data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(doc["services"])))
    counted = doc["services"][name].get("scenarios", ["steady", "peak", "rollout"])
    if len(counted) < 2:
        return
    dropped = data.draw(st.sampled_from(counted))
    smaller = copy.deepcopy(doc)
    smaller["services"][name]["scenarios"] = [s for s in counted if s != dropped]
    before, after = _all_demands(doc), _all_demands(smaller)
    assert before.keys() == after.keys()
    for key, value in after.items():
        assert value is not None and before[key] is not None and value <= before[key], (key, before[key], value)
    # and in the scenario dropped, the service's own demand is gone from every instance it landed on
    report = compute_budget(parse_topology(json.dumps(smaller), "p.json"), CATALOG)
    for source in [s for i in report.instances for s in i.demand_by_source] + [c for p in report.poolers for c in p.clients]:
        if source.service == name:
            assert source.demand[dropped] == 0
