"""`plan` for production (issue 20 item 4): burstable classes, the current class as a row, the whole database's month.

Prices worked out by hand from the rows of ../shared/data/rds_prices_2026-05-12.csv (us-east-1,
on-demand, price_date 2026-05-12), as the bundled catalogue carries them; each use cites its row.
"""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path

import jsonschema
import pytest

from planner.budget import compute_budget
from planner.budget.plan import plan_database
from planner.catalog import load_catalog
from planner.render.html import build_context
from planner.topology import parse_topology

from ..conftest import EXAMPLES, refusal, run_cli

CATALOG = load_catalog()
SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "schema" / "plan.schema.json").read_text())

# A Multi-AZ instance with two read replicas on another class.
MULTI_AZ = """version: 1
name: shop
environments: {prod: {}}
databases:
  main: {engine_version: '16', instance_class: db.m6g.large, deployment: multi-az, readers: 2, reader_instance_class: db.r6g.large}
services:
  web: {replicas: 4, pool: 20}
  reports: {endpoint: reader, replicas: 3, pool: 10}
"""


def _topology(text: str, name: str = "t.yaml"):  # type: ignore[no-untyped-def]
    return parse_topology(text, name)


def _with_environments(environments: str, instance_class: str = "db.t4g.medium") -> str:
    """Return a one-database topology whose service runs in ``environments`` ("" = none declared)."""
    envs = f"environments: {{{', '.join(f'{e}: {{}}' for e in environments.split(','))}}}\n" if environments else ""
    return (f"version: 1\n{envs}databases:\n  main: {{engine_version: '16', instance_class: {instance_class}}}\n"
            "services:\n  web: {replicas: 2, pool: 10}\n")


@pytest.mark.parametrize(("environments", "production"), [
    ("", True),                 # no environments: the only one is "default", described as production
    ("prod", True), ("Production", True), ("live", True), ("prd", True),
    ("prod,staging", True),     # production is among them
    ("staging", False), ("dev,qa", False),
    ("default,staging", False),  # "default" among others is not the undeclared case
])
def test_burstable_classes_are_left_out_exactly_where_the_lint_calls_them_production(environments: str, production: bool) -> None:
    topology = _topology(_with_environments(environments))
    plan = plan_database(topology, CATALOG, "main")
    lint = any(w.code == "burstable-production" for w in compute_budget(topology, CATALOG).warnings)
    assert lint == production  # the lint on today's db.t4g.medium and plan's choice read one rule
    assert bool(plan.burstable_reason) == production
    assert any(c.burstable for c in plan.candidates) != production
    if production:
        assert plan.burstable_left_out > 0 and "--burstable includes them" in plan.burstable_reason


def test_the_flags_override_the_default() -> None:
    staging = _topology(_with_environments("staging"))
    production = _topology(_with_environments("prod"))
    assert not any(c.burstable for c in plan_database(staging, CATALOG, "main", burstable=False).candidates)
    assert plan_database(staging, CATALOG, "main", burstable=False).burstable_reason == "left out: --no-burstable"
    forced = plan_database(production, CATALOG, "main", burstable=True)
    assert forced.burstable_reason == "" and forced.candidates[0].burstable  # the smallest that fits is a t class
    assert forced.candidates[0].instance_class.instance_class == plan_database(staging, CATALOG, "main").candidates[0].instance_class.instance_class


def test_text_says_why_they_are_left_out_and_how_to_include_them(tmp_path: Path) -> None:
    path = tmp_path / "prod.yaml"
    path.write_text(_with_environments("prod"))
    code, out, err = run_cli(["plan", str(path), "--top", "2"])
    assert code == 0, err
    assert re.search(r"\n  \d+ burstable classes that fit left out: main serves prod; --burstable includes them\n", out)
    assert "\nburstable: throttles when CPU credits run out\n" in out
    # today's db.t4g.medium is a row, marked, though burstable classes are not proposed
    (now,) = [line for line in out.splitlines() if line.startswith("  db.t4g.medium")]
    assert now.endswith("now; burstable")
    code, out, err = run_cli(["plan", str(path), "--top", "2", "--burstable"])
    rows = [line.split()[0] for line in out.splitlines() if line.startswith("  db.")]
    assert code == 0 and rows[0] == "db.t4g.micro" and "burstable classes that fit left out" not in out
    assert out.splitlines()[4].endswith("  burstable")  # the first row's NOTE


def test_the_current_class_is_a_row_even_when_it_does_not_fit_nor_make_the_top(tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(_with_environments("staging", "db.t4g.micro").replace("replicas: 2, pool: 10", "replicas: 10, pool: 20"))
    code, out, err = run_cli(["plan", str(path), "--top", "1", "--format", "json"])
    assert code == 0, err
    db = json.loads(out)["databases"][0]
    assert [c["instance_class"] for c in db["candidates"]] != ["db.t4g.micro"]
    # rollout: (10 + ceil(10 × 0.25) = 3) × 20 = 260 connections; db.t4g.micro's alarm line is far below
    assert db["current"]["instance_class"] == "db.t4g.micro" and db["current"]["worst_demand"] == 260
    assert db["current"]["fit"] == "over" and db["current"]["burstable"] is True
    code, out, _ = run_cli(["plan", str(path), "--top", "1"])
    assert [line.split()[0] for line in out.splitlines() if line.startswith("  db.")][-1] == "db.t4g.micro"
    assert "now (over); burstable" in out


def test_a_current_class_retired_for_the_planned_version_says_so() -> None:
    code, out, err = run_cli(["plan", str(EXAMPLES / "beanstalk-flask.yaml"), "--engine-version", "16", "--top", "1"])
    assert code == 0, err
    assert "now (over); burstable; db.t2.small is retired for postgres 16, Single-AZ" in out


def test_multi_az_with_read_replicas_on_another_class() -> None:
    plan = plan_database(_topology(MULTI_AZ), CATALOG, "main")
    now = plan.current
    assert now is not None and now.total is not None
    # rds_prices_2026-05-12.csv:85  db.m6g.large,postgres,multi-az-instance,us-east-1,0.3180000000 → 0.318 × 730 = 232.14
    # rds_prices_2026-05-12.csv:364 db.r6g.large,postgres,single-az,us-east-1,0.2250000000        → 0.225 × 730 = 164.25
    assert [(line.what, line.count, line.instance_class, line.deployment, line.usd_month) for line in now.total.lines] == [
        ("writer and standby", 1, "db.m6g.large", "multi-az", 232.14),
        ("read replica", 2, "db.r6g.large", "single-az", 328.50),
    ]
    assert now.total.usd_month == 560.64  # 232.14 + 2 × 164.25
    assert now.total.text() == ("writer and standby $232.14 (db.m6g.large, Multi-AZ instance) + "
                                "2 read replicas × $164.25 (db.r6g.large, Single-AZ) = $560.64/month")
    # a candidate runs its readers on its own class: rds_prices_2026-05-12.csv:84 db.m6g.large single-az 0.159 × 730 = 116.07
    first = next(c for c in plan.candidates if c.instance_class.instance_class == "db.m6g.large")
    assert first.total is not None and first.total.usd_month == 464.28  # 232.14 + 2 × 116.07


def test_a_multi_az_cluster_is_priced_once_for_its_writer_and_two_standbys() -> None:
    text = ("version: 1\ndatabases:\n  main: {engine_version: '17.6', instance_class: db.m6gd.large, deployment: multi-az-cluster, readers: 3}\n"
            "services:\n  web: {replicas: 4, pool: 20}\n")
    plan = plan_database(_topology(text), CATALOG, "main")
    assert plan.current is not None and plan.current.total is not None
    # rds_prices_2026-05-12.csv:100 db.m6gd.large,postgres,multi-az-cluster,0.5220000000 → 0.522 × 730 = 381.06
    # rds_prices_2026-05-12.csv:98  db.m6gd.large,postgres,single-az,0.1870000000        → 0.187 × 730 = 136.51 (the third reader)
    assert plan.current.total.usd_month == 517.57
    assert plan.current.total.text().startswith("writer and 2 readable standbys $381.06 (db.m6gd.large, Multi-AZ DB cluster) + read replica $136.51")
    # rds_prices_2026-05-12.csv:2 prices db.c6gd.medium only as a cluster: the read replica's month is unknown, not guessed
    c6gd = next(c for c in plan.candidates if c.instance_class.instance_class == "db.c6gd.medium")
    assert c6gd.total is not None and c6gd.total.usd_month is None
    assert c6gd.total.missing == "the catalogue has no Single-AZ price for db.c6gd.medium"
    assert c6gd.total.text().endswith("= unknown (the catalogue has no Single-AZ price for db.c6gd.medium)")


def test_aurora_bills_every_instance_at_the_cluster_rate() -> None:
    text = ("version: 1\nenvironments: {staging: {}}\ndatabases:\n  main: {engine: aurora-postgresql, engine_version: '16', "
            "instance_class: db.r6g.large, readers: 2}\nservices:\n  web: {replicas: 4, pool: 20}\n")
    plan = plan_database(_topology(text), CATALOG, "main")
    assert plan.current is not None and plan.current.total is not None
    # rds_prices_2026-05-12.csv:661 db.r6g.large,aurora-postgresql,aurora-standard,0.2600000000 → 0.26 × 730 = 189.80
    assert plan.current.total.text() == ("writer $189.80 (db.r6g.large, Aurora Standard) + "
                                         "2 readers × $189.80 (db.r6g.large, Aurora Standard) = $569.40/month")


def test_serverless_has_no_row_and_says_why() -> None:
    text = ("version: 1\ndatabases:\n  main: {engine: aurora-postgresql, engine_version: '16', instance_class: db.serverless, "
            "serverless: {min_acu: 1, max_acu: 8}}\nservices:\n  web: {replicas: 4, pool: 20}\n")
    plan = plan_database(_topology(text), CATALOG, "main")
    assert plan.current is None and plan.current_note == "Aurora Serverless v2 sizes by ACUs, not by class"


SUM = re.compile(r"^  (db\.\S+) \((first|now)\): (.*) = \$([\d,]+\.\d\d)/month$")
TERM = re.compile(r"^(?:(\d+) [a-z ]+s × |[a-z0-9 ]+ )\$([\d,]+\.\d\d) \(")


def _evaluates(text: str) -> None:
    """Assert every "price of the whole database" line adds up to the total it prints."""
    sums = [m for line in text.splitlines() if (m := SUM.match(line.removeprefix("  ")))]
    assert sums, text
    for match in sums:
        terms = [TERM.match(term) for term in match.group(3).split(" + ")]
        assert all(terms), match.group(0)
        total = sum(Fraction(t.group(1) or 1) * Fraction(t.group(2).replace(",", "")) for t in terms if t)
        assert total == Fraction(match.group(4).replace(",", "")), match.group(0)


@pytest.mark.parametrize("text", [MULTI_AZ, *(p.read_text() for p in sorted(EXAMPLES.glob("*.yaml")))])
def test_json_meets_its_schema_and_the_printed_sums_add_up(tmp_path: Path, text: str) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(text)
    for extra in ([], ["--burstable"], ["--no-burstable"]):
        code, out, err = run_cli(["plan", str(path), "--top", "3", "--format", "json", *extra])
        assert code == 0, err
        document = json.loads(out)
        jsonschema.validate(document, SCHEMA)
        for db in document["databases"]:
            for c in db["candidates"] + ([db["current"]] if db["current"] else []):
                price = c["database_price"]
                months = [line["usd_month"] for line in price["lines"]]
                assert price["usd_month"] == (None if None in months else pytest.approx(sum(months)))
        code, out, err = run_cli(["plan", str(path), "--top", "3", *extra])
        assert code == 0, err
        if "$" in out:
            _evaluates(out)


def test_markdown_lists_the_sums() -> None:
    code, out, err = run_cli(["plan", str(EXAMPLES / "pgbouncer-fleet.yaml"), "--format", "markdown", "--top", "2"])
    assert code == 0, err
    assert "\n- price of the whole database, per month:\n  - " in out and "| note |" in out


def test_report_marks_burstable_and_now_and_prices_the_whole_database(tmp_path: Path) -> None:
    text = MULTI_AZ.replace("db.m6g.large, deployment", "db.t4g.large, deployment")
    topology = _topology(text)
    report = compute_budget(topology, CATALOG)
    (view,) = build_context(report, CATALOG).classes
    assert view.current is not None and view.current.candidate.burstable
    assert not any(f.candidate.burstable for f in view.shortlist)  # prod: plan's choice
    assert view.burstable_note.endswith("left out: main serves prod; --burstable includes them")
    path = tmp_path / "shop.yaml"
    path.write_text(text)
    code, _, err = run_cli(["report", str(path), "-o", str(tmp_path / "r.html")])
    assert code == 0, err
    html = (tmp_path / "r.html").read_text()
    assert '<span class="badge state">now</span> <span class="badge" title="throttles when CPU credits run out">burstable</span>' in html
    # rds_prices_2026-05-12.csv: db.t4g.large multi-az-instance and db.r6g.large single-az (364): the "now" row's sum
    assert "+ 2 read replicas × $164.25 (db.r6g.large, Single-AZ) = $" in html


def test_bad_flags_exit_2() -> None:
    lines = refusal(["plan", str(EXAMPLES / "beanstalk-flask.yaml"), "--burstable=maybe"])
    assert any("--burstable" in line for line in lines), lines


def test_recommend_prices_a_resize_as_plan_prices_the_database() -> None:
    from planner.advice.options import monthly_instance_cost

    following = _topology(MULTI_AZ.replace(", reader_instance_class: db.r6g.large", ""))
    # rds_prices_2026-05-12.csv:85 and :84: the writer and standby 232.14, each read replica at Single-AZ 116.07
    assert monthly_instance_cost(following, CATALOG, "main", "db.m6g.large") == 464.28  # 232.14 + 2 × 116.07
    # replicas on a class of their own do not change with the writer's: only the writer and standby count
    assert monthly_instance_cost(_topology(MULTI_AZ), CATALOG, "main", "db.m6g.large") == 232.14
    assert monthly_instance_cost(following, CATALOG, "main", "db.m6g.unknown") is None
