"""The gate: waivers and a baseline decide which breaches fail check (planner/budget/gate.py)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from planner.budget import compute_budget
from planner.budget.gate import Gate, baseline_document, breaches, judge, load_baseline
from planner.catalog import load_catalog
from planner.errors import InputError
from planner.topology import parse_topology

CATALOG = load_catalog()
TODAY = date(2026, 11, 30)
OVER = {"over"}

# db.t4g.micro on 16.4: max_connections 79, usable 74, alarm_at 63. The writer: web's 10 replicas × sqlalchemy
# (5 + 10) and the bouncer's 5 server connections: steady 55 (ok), peak 155 (over), rollout (10 + 3) × 15 + 5 =
# 200 (over). The reader: api's 2 × 15 = 30 at peak, 45 at rollout (ok). The bouncer's client side: jobs'
# 3 to 6 replicas × 5 against 20: steady 15 (ok), peak 30 (over), rollout (6 + 2) × 5 = 40 (over).
TOPOLOGY = """version: 1
databases:
  main: {instance_class: db.t4g.micro, engine_version: "16.4", readers: 1}
services:
  web: {replicas: 10, pool: {driver: sqlalchemy}}
  api: {replicas: 2, endpoint: reader, pool: {driver: sqlalchemy}}
  jobs: {replicas: {min: 3, max: 6}, pool: 5}
poolers:
  bouncer: {kind: pgbouncer, database: main, clients: [jobs], max_client_conn: 20, default_pool_size: 5}
"""


def gate(waivers: str = "", baseline: str | None = None, failing: set[str] = OVER, text: str = TOPOLOGY,
         today: date = TODAY) -> Gate:
    report = compute_budget(parse_topology(text + waivers, "shop.yaml"), CATALOG)
    recorded = None
    if baseline is not None:
        path = Path(baseline)
        recorded = load_baseline(path)
    return judge(report, failing, today, recorded)


def outcomes(decided: Gate) -> dict[str, str]:
    return {j.breach.label: j.outcome for j in decided.judged}


def test_without_waivers_or_baseline_every_breach_fails_and_nothing_is_explained() -> None:
    decided = gate()
    assert outcomes(decided) == {"main/writer peak": "fails", "main/writer rollout": "fails",
                                 "pooler bouncer peak": "fails", "pooler bouncer rollout": "fails"}
    assert decided.failed and not decided.applies
    assert [j.breach.arithmetic() for j in decided.judged][:2] == ["demand 155 > usable 74", "demand 200 > usable 74"]


def test_an_instance_waiver_covers_its_scenario_only() -> None:
    decided = gate("waivers:\n  - {instance: main/writer, scenario: rollout, reason: 'resize booked, OPS-123', expires: 2026-12-31}\n")
    assert outcomes(decided)["main/writer rollout"] == "waived"
    assert outcomes(decided)["main/writer peak"] == "fails"
    waived = next(j for j in decided.judged if j.outcome == "waived")
    assert waived.why == "waived until 2026-12-31: resize booked, OPS-123"
    assert decided.summary() == "fails: 3 breaches new or worse, 1 waived"


def test_a_database_waiver_covers_every_instance_and_scenario_but_not_its_poolers() -> None:
    decided = gate("waivers:\n  - {database: main, reason: migration, expires: 2026-12-31}\n")
    assert outcomes(decided) == {"main/writer peak": "waived", "main/writer rollout": "waived",
                                 "pooler bouncer peak": "fails", "pooler bouncer rollout": "fails"}


def test_a_pooler_waiver_covers_the_pooler() -> None:
    decided = gate("waivers:\n  - {pooler: bouncer, reason: more replicas on Monday, expires: 2026-12-01}\n"
                   "  - {database: main, reason: migration, expires: 2026-12-31}\n")
    assert not decided.failed
    assert decided.summary() == "passes: 4 waived"


def test_a_waiver_holds_through_its_day_and_fails_with_its_reason_the_day_after() -> None:
    waiver = "waivers:\n  - {database: main, reason: 'Black Friday, approved by J. Doe', expires: 2026-11-30}\n"
    assert outcomes(gate(waiver))["main/writer peak"] == "waived"
    expired = gate(waiver, today=TODAY + timedelta(days=1))
    judged = next(j for j in expired.judged if j.breach.label == "main/writer peak")
    assert (judged.outcome, judged.why) == ("fails", "waiver expired on 2026-11-30: Black Friday, approved by J. Doe")
    assert expired.summary() == "fails: 2 breaches new or worse, 2 expired waivers"


def test_a_renewal_wins_over_the_waiver_it_renews() -> None:
    decided = gate("waivers:\n  - {database: main, reason: first, expires: 2026-01-01}\n"
                   "  - {database: main, reason: renewed, expires: 2027-01-01}\n")
    assert {j.why for j in decided.judged if j.breach.kind == "instance"} == {"waived until 2027-01-01: renewed"}
    assert [w.index for w in decided.unused_waivers] == [0]


def test_a_waiver_that_covers_no_breach_is_reported() -> None:
    decided = gate("waivers:\n  - {instance: main/reader-1, reason: reports, expires: 2026-12-31}\n")
    assert [w.label for w in decided.unused_waivers] == ["main/reader-1"]
    assert decided.applies


def test_fail_on_warn_makes_the_alarm_line_a_breach() -> None:
    text = TOPOLOGY.replace("replicas: 10", "replicas: 4")  # the writer: peak 65 > alarm_at 63, rollout 80 > usable 74
    assert [label for label in outcomes(gate(text=text)) if label.startswith("main")] == ["main/writer rollout"]
    warn = [b for b in breaches(compute_budget(parse_topology(text, "s.yaml"), CATALOG), {"over", "warn"})
            if b.subject == "main/writer"]
    assert [(b.scenario, b.status, b.demand, b.limit) for b in warn] == [("peak", "warn", 65, 63), ("rollout", "over", 80, 74)]
    assert warn[0].arithmetic() == "demand 65 > alarm_at 63"


def test_a_baseline_knows_todays_breaches_and_fails_new_and_worse_ones(tmp_path: Path) -> None:
    report = compute_budget(parse_topology(TOPOLOGY, "shop.yaml"), CATALOG)
    path = tmp_path / "baseline.json"
    path.write_text(baseline_document([report], TODAY))
    recorded = json.loads(path.read_text())
    assert recorded["written"] == "2026-11-30" and recorded["planner_baseline"] == 1
    assert recorded["topologies"]["shop"]["breaches"][0] == {"kind": "instance", "subject": "main/writer", "scenario": "peak",
                                                            "status": "over", "demand": 155, "limit": 74}
    same = gate(baseline=str(path))
    assert not same.failed and same.summary() == "passes: 4 known from the baseline"
    assert same.judged[0].why == f"in the baseline {path} (over 155)"
    grown = gate(baseline=str(path), text=TOPOLOGY.replace("replicas: 10", "replicas: 11"))
    assert outcomes(grown)["main/writer peak"] == "fails"
    assert next(j for j in grown.judged if j.breach.label == "main/writer peak").why == \
        "worse than the baseline: over 155 then, over 170 now"
    shrunk = gate(baseline=str(path), text=TOPOLOGY.replace("replicas: 10", "replicas: 9"))
    assert not shrunk.failed  # less demand than recorded: still known
    renamed = gate(baseline=str(path), text=TOPOLOGY.replace("version: 1\n", "version: 1\nname: other\n"))
    assert outcomes(renamed)["main/writer peak"] == "fails"  # a topology is recorded by its name


def test_a_warning_that_becomes_over_is_worse(tmp_path: Path) -> None:
    report = compute_budget(parse_topology(TOPOLOGY.replace("replicas: 10", "replicas: 3"), "shop.yaml"), CATALOG)
    path = tmp_path / "baseline.json"
    path.write_text(baseline_document([report], TODAY))  # the writer: peak 50 (ok), rollout 65 (warn)
    statuses = {b["scenario"]: b["status"] for b in json.loads(path.read_text())["topologies"]["shop"]["breaches"]
                if b["subject"] == "main/writer"}
    assert statuses == {"rollout": "warn"}
    decided = gate(baseline=str(path), text=TOPOLOGY.replace("replicas: 10", "replicas: 4"), failing={"over", "warn"})
    why = {j.breach.label: j.why for j in decided.judged}
    assert why["main/writer rollout"] == "worse than the baseline: warn 65 then, over 80 now"
    assert why["main/writer peak"] == f"new: not in the baseline {path}"


@pytest.mark.parametrize("content, expected", [
    (None, "{path}: no such baseline file (write one with planner check ... --write-baseline {path})"),
    ("{", "{path}:1: the baseline is not valid JSON (Expecting property name enclosed in double quotes); "
          "write it again with --write-baseline"),
    ('{"topologies": {}}', "{path}: not a planner baseline (format 1); write it with planner check ... --write-baseline {path}"),
    ('{"planner_baseline": 1, "topologies": {"shop": {"breaches": [{"kind": "instance"}]}}}',
     "{path}: topologies.shop.breaches: each breach needs kind, subject, scenario, status and demand; "
     "write the baseline again with --write-baseline"),
])
def test_a_bad_baseline_is_one_clear_line(tmp_path: Path, content: str | None, expected: str) -> None:
    path = tmp_path / "baseline.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError) as info:
        load_baseline(path)
    assert info.value.lines() == [expected.format(path=path)]
