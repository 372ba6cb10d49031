"""Pgpool-II as a pooler kind (spec §2, v1.2): its keys, its arithmetic, and every output that shows poolers.

The topology below, worked out by hand:

- the database: self-managed, max_connections 500, reserved 3 (superuser_reserved_connections), usable
  497, alarm_at floor(500 × 0.8) = 400;
- Pgpool-II server side: replicas 2 × num_init_children 20 × max_pool 3 = 120, in every scenario; with
  ops' 3 fixed connections the database carries 123 in each;
- its client side: capacity 2 × 20 = 40; web (no pool: one connection per thread) asks for
  steady 4 × 2 × 4 = 32 (ok), peak 10 × 2 × 4 = 80 (warn), rollout (10 + ceil(10 × 25 %) = 3) × 2 × 4 = 104
  (warn): clients beyond 40 wait in Pgpool-II's queue, so never over.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from planner.advice.recommend import recommend
from planner.budget import compute_budget
from planner.catalog import load_catalog
from planner.model import Pooler
from planner.render.check import render_csv, render_github, render_markdown, render_text
from planner.render.data import report_dict
from planner.render.diff import render_text as render_diff_text
from planner.render.explain import render_explain
from planner.render.html import render_report
from planner.render.junit import render_junit_many
from planner.render.sarif import sarif_log
from planner.review.diff import diff_reports
from planner.topology import parse_topology
from planner.topology.edit import edit_topology
from planner.topology.writer import dump_topology

from ..conftest import refusal, run_cli

CATALOG = load_catalog()
SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "schema" / "check.schema.json").read_text())

SHOP = """\
version: 1
name: pgpool-shop
databases:
  main: {engine: self-managed, parameters: {max_connections: 500}}
services:
  web:
    replicas: {min: 4, max: 10}
    processes: 2
    threads: 4
  ops:
    connections: 3
poolers:
  pool:
    kind: pgpool
    database: main
    clients: [web]
    replicas: 2
    num_init_children: 20
    max_pool: 3
"""


def report_of(text: str = SHOP):  # type: ignore[no-untyped-def]
    return compute_budget(parse_topology(text, "shop.yaml"), CATALOG)


def test_server_side_on_the_database_and_client_side_warns() -> None:
    report = report_of()
    pool = report.poolers[0]
    assert (pool.kind, pool.server_connections, pool.client_capacity, pool.client_overflow) == ("pgpool", 120, 40, "wait")
    assert {s: (r.demand, r.status) for s, r in pool.scenarios.items()} == {
        "steady": (32, "ok"), "peak": (80, "warn"), "rollout": (104, "warn")}
    writer = report.instances[0]
    assert (writer.usable, writer.alarm_at) == (497, 400)
    assert {s: (r.demand, r.status) for s, r in writer.scenarios.items()} == {
        "steady": (123, "ok"), "peak": (123, "ok"), "rollout": (123, "ok")}
    assert report.status == "warn"


def test_defaults_are_pgpool_iis() -> None:
    text = SHOP.replace("    replicas: 2\n    num_init_children: 20\n    max_pool: 3\n", "")
    pool = report_of(text).poolers[0]
    # 1 replica × num_init_children 32 × max_pool 4 = 128 server connections; 32 clients at once
    assert (pool.server_connections, pool.client_capacity) == (128, 32)
    assert pool.server_working == "replicas 1 × num_init_children 32 × max_pool 4 = 128"


def test_the_same_fleet_as_pgbouncer_refuses_instead() -> None:
    text = SHOP.replace("kind: pgpool", "kind: pgbouncer").replace("num_init_children: 20", "max_client_conn: 20").replace(
        "    max_pool: 3\n", "")
    pool = report_of(text).poolers[0]
    assert (pool.client_capacity, pool.client_overflow) == (40, "refused")
    assert [r.status for r in pool.scenarios.values()] == ["ok", "over", "over"]


def test_an_unbounded_client_behind_pgpool_waits_too() -> None:
    text = SHOP.replace("    threads: 4\n", "    threads: 4\n    pool: unbounded\n")
    report = report_of(text)
    assert [(r.demand, r.status) for r in report.poolers[0].scenarios.values()] == [(None, "warn")] * 3
    assert report.instances[0].status == "ok"  # the database sees 123: Pgpool-II's children are the limit


@pytest.mark.parametrize(("edit", "message"), [
    (("    max_pool: 3\n", "    max_pol: 3\n"), "poolers.pool.max_pol: unknown key 'max_pol' (did you mean 'max_pool'?)"),
    (("num_init_children: 20", "num_init_child: 20"),
     "poolers.pool.num_init_child: unknown key 'num_init_child' (did you mean 'num_init_children'?)"),
    (("    max_pool: 3\n", "    max_pool: 3\n    pool_mode: session\n"),
     "poolers.pool.pool_mode: pool_mode is a PgBouncer setting, but this pooler is kind pgpool (remove pool_mode, or change the kind)"),
    (("    max_pool: 3\n", "    max_pool: 3\n    max_connections_percent: 50\n"),
     "poolers.pool.max_connections_percent: max_connections_percent is an RDS Proxy setting, but this pooler is kind pgpool "
     "(remove max_connections_percent, or change the kind)"),
    (("max_pool: 3", "max_pool: 0"), "poolers.pool.max_pool: max_pool must be at least 1, not 0 (use a whole number of at least 1)"),
    (("num_init_children: 20", "num_init_children: '20'"),
     "poolers.pool.num_init_children: num_init_children must be a whole number, not the string '20' (remove the quotes: num_init_children: 20)"),
    (("kind: pgpool", "kind: pgpol"), "poolers.pool.kind: unknown kind 'pgpol' (did you mean 'pgpool'?)"),
    (("kind: pgpool", "kind: rds-proxy"),
     "poolers.pool.replicas: replicas is a PgBouncer or a Pgpool-II setting, but this pooler is kind rds-proxy "
     "(remove replicas, or change the kind)"),
])
def test_bad_pgpool_settings_are_exit_2_with_the_fix(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(SHOP.replace(*edit))
    lines = refusal(["check", str(path)])
    assert any(line.endswith(message) for line in lines), lines


def test_explain_writes_both_sides_out() -> None:
    lines = render_explain(report_of()).splitlines()
    assert "pooler pool (pgpool → main)" in lines
    assert "  server connections = replicas 2 × num_init_children 20 × max_pool 3 = 120" in lines
    assert ("  client capacity = replicas 2 × num_init_children 20 = 40 (one client per child; more wait in "
            "Pgpool-II's queue)") in lines
    assert "  steady: clients web@default 32 = 32 → OK" in lines
    assert ("  rollout: clients web@default 104 = 104 → WARN (> client capacity 40: the clients beyond it wait in "
            "Pgpool-II's queue)") in lines
    assert "    pool: replicas 2 × num_init_children 20 × max_pool 3 = 120" in lines


def test_check_formats_show_the_pooler() -> None:
    report = report_of()
    text = render_text(report).splitlines()
    assert text[0] == "pgpool-shop (shop.yaml): WARN"
    pooler_rows = [line.split() for line in text if line.startswith(("POOLER", "pool ", "  "))]
    assert ["pool", "pgpool", "120", "40", "steady", "32", "ok"] in pooler_rows
    assert ["40", "rollout", "104", "WARN"] in pooler_rows
    markdown = render_markdown(report)
    assert "| pool | pgpool | 120 | 40 | 32 ✅ ok | 80 ⚠️ warn | 104 ⚠️ warn |" in markdown
    doc = report_dict(report)
    jsonschema.validate(doc, SCHEMA)
    assert doc["poolers"][0] | {"clients": None} == {
        "pooler": "pool", "kind": "pgpool", "database": "main", "server_connections": 120, "client_capacity": 40,
        "client_overflow": "wait", "status": "warn", "clients": None,
        "scenarios": {"steady": {"client_demand": 32, "status": "ok", "unbounded": False},
                      "peak": {"client_demand": 80, "status": "warn", "unbounded": False},
                      "rollout": {"client_demand": 104, "status": "warn", "unbounded": False}}}
    assert doc["instances"][0]["demand_by_source"][-1] == {
        "source": "pool", "kind": "pooler", "steady": 120, "peak": 120, "rollout": 120, "endpoint": "writer"}
    csv_rows = render_csv(report).splitlines()
    assert "pgpool-shop,main,writer,,rollout,pool,pooler,,120,123,497,400,ok,no," in csv_rows
    github = render_github(report).splitlines()
    assert ("::warning file=shop.yaml,line=13,title=pool makes clients wait::pool: client demand 104 in rollout exceeds "
            "replicas × num_init_children = 40: the rest wait in Pgpool-II's queue") in github


def test_sarif_and_junit_treat_it_as_a_warning() -> None:
    report = report_of()
    results = [r for r in sarif_log([report])["runs"][0]["results"] if r["ruleId"].startswith("pooler-")]
    assert [(r["ruleId"], r["level"], r["properties"]["scenario"]) for r in results] == [
        ("pooler-client-wait", "warning", "peak"), ("pooler-client-wait", "warning", "rollout")]
    # the pooler is the related location the message links to (GitHub shows [name](1) as a link to it)
    assert "pooler [pool](1) makes clients wait in rollout: client demand 104 (web@default 104) > replicas 2" in results[1]["message"]["text"]
    for fail_on, failures in (("over", 0), ("warn", 2)):
        suite = ET.fromstring(render_junit_many([report], fail_on)).find("testsuite")
        assert suite is not None
        cases = [c for c in suite.iter("testcase") if c.get("classname") == "pgpool-shop.pool/pooler"]
        failed = [c.find("failure") for c in cases if c.find("failure") is not None]
        assert len(failed) == failures
        if failed:
            assert failed[0].get("type") == "warn"  # type: ignore[union-attr]
            assert failed[0].get("message") == "pooler pool makes clients wait in peak: client demand 80 > 40"  # type: ignore[union-attr]


def test_check_exits_0_unless_fail_on_warn(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(SHOP)
    assert run_cli(["check", str(path)])[0] == 0
    assert run_cli(["check", str(path), "--fail-on", "warn"])[0] == 1


def test_report_banner_and_breaking_point() -> None:
    html = render_report(report_of(), CATALOG)
    assert "rollout client demand 104 vs client capacity 40: 64 wait in Pgpool-II&#39;s queue" in html
    # (5 + ceil(5 × 25 %)) × 2 × 4 = 56 > 40 clients, where (4 + 1) × 8 = 40 still fit: clients wait from 5 replicas
    assert ("the pooler&#39;s client side makes clients wait in its queue at replicas (max) 5 (clients already wait today; "
            "client demand 56 &gt; client capacity 40)") in html


def test_diff_shows_the_pooler_added() -> None:
    base = report_of(SHOP.split("poolers:")[0])
    diff = render_diff_text(diff_reports(base, report_of()))
    assert "  - pooler pool added (pgpool on main): 120 server connections" in diff


def test_recommend_offers_more_children_when_the_database_holds_them() -> None:
    topology = parse_topology(SHOP, "shop.yaml")
    [rec] = recommend(topology, CATALOG)
    option = next(o for o in rec.options if o.kind == "client-limit")
    # ceil(104 / 2 replicas) = 52 children per replica; server 2 × 52 × 3 = 312, + ops 3 = 315 ≤ alarm_at 400
    assert option.title == "raise pool's num_init_children from 20 to 52 per replica (server connections 120 → 312)"
    assert option.fits and (option.after.worst_demand, option.after.status) == (315, "ok")
    assert rec.options[0] is option  # no cost, a setting: before every lever that limits the applications


def test_lint_for_replicas() -> None:
    [finding] = [w for w in report_of().warnings if w.code == "pgpool-replicas"]
    assert str(finding) == (
        "poolers.pool.replicas: replicas 2 × num_init_children 20 × max_pool 3 = 120 server connections: each Pgpool-II "
        "replica runs its own num_init_children children, each caching up to max_pool backend connections; size "
        "num_init_children and max_pool per replica")


def test_written_and_edited_back_the_same() -> None:
    topology = parse_topology(SHOP, "shop.yaml")
    again = parse_topology(dump_topology(topology), "shop.yaml")
    assert replace(again.poolers["pool"], line=None) == replace(topology.poolers["pool"], line=None)
    after = replace(topology, poolers={"pool": replace(topology.poolers["pool"], num_init_children=52)})
    text = edit_topology(SHOP, "shop.yaml", topology, after)
    assert text == SHOP.replace("num_init_children: 20", "num_init_children: 52")
    assert replace(parse_topology(text, "shop.yaml").poolers["pool"], line=None) == replace(
        Pooler("pool", "pgpool", "main", ("web",), replicas=2, num_init_children=52, max_pool=3), line=None)
