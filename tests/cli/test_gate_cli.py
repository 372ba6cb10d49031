"""check's gate through the CLI: --write-baseline, --baseline and waivers, in every format (issue 14)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jsonschema
import pytest

from ..conftest import refusal, run_cli

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "schema" / "check.schema.json").read_text())
# db.t4g.micro on 16.4: usable 74. web's 10 replicas × sqlalchemy (5 + 10): peak 150, rollout 195; both over.
SHOP = """version: 1
databases:
  main: {instance_class: db.t4g.micro, engine_version: "16.4"}
services:
  web: {replicas: 10, pool: {driver: sqlalchemy}}
"""
TODAY = datetime.now(timezone.utc).date()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def write(text: str = SHOP) -> str:
    Path("shop.yaml").write_text(text)
    return "shop.yaml"


def waiver(expires: object, scenario: str = "", reason: str = "resize booked, OPS-123") -> str:
    scoped = f", scenario: {scenario}" if scenario else ""
    return f"waivers:\n  - {{database: main{scoped}, reason: '{reason}', expires: {expires}}}\n"


def test_an_estate_over_budget_adopts_the_gate_with_a_baseline_and_fails_when_a_service_grows() -> None:
    write()
    assert run_cli(["check", "shop.yaml"])[0] == 1
    code, out, err = run_cli(["check", "shop.yaml", "--write-baseline", "baseline.json"])
    assert code == 0, err
    assert err == "planner: baseline written: baseline.json (2 breaches recorded)\n"
    assert "gate: passes: 2 known from the baseline" in out.splitlines()
    code, out, _ = run_cli(["check", "shop.yaml", "--baseline", "baseline.json"])
    assert code == 0
    assert "  - known: main/writer rollout: demand 195 > usable 74: in the baseline baseline.json (over 195)" in out.splitlines()
    write(SHOP.replace("replicas: 10", "replicas: 11"))
    code, out, _ = run_cli(["check", "shop.yaml", "--baseline", "baseline.json"])
    assert code == 1
    assert "gate: fails: 2 breaches new or worse" in out.splitlines()
    assert ("  - FAILS: main/writer rollout: demand 210 > usable 74: worse than the baseline: over 195 then, over 210 now"
            in out.splitlines())


def test_a_new_topology_is_not_in_the_baseline(tmp_path: Path) -> None:
    write()
    assert run_cli(["check", "shop.yaml", "--write-baseline", "baseline.json"])[0] == 0
    Path("other.yaml").write_text(SHOP)
    code, out, _ = run_cli(["check", "shop.yaml", "other.yaml", "--baseline", "baseline.json"])
    assert code == 1
    assert "  - FAILS: main/writer peak: demand 150 > usable 74: new: not in the baseline baseline.json" in out.splitlines()


def test_a_waiver_passes_until_it_expires_and_then_fails_with_its_reason() -> None:
    write(SHOP + waiver(TODAY.isoformat()))
    code, out, _ = run_cli(["check", "shop.yaml"])
    assert code == 0
    assert out.splitlines()[0] == "shop (shop.yaml): OVER"  # the arithmetic is unchanged: only the gate passes
    assert f"  - waived: main/writer peak: demand 150 > usable 74: waived until {TODAY}: resize booked, OPS-123" in out.splitlines()
    yesterday = TODAY - timedelta(days=1)
    write(SHOP + waiver(yesterday.isoformat()))
    code, out, _ = run_cli(["check", "shop.yaml"])
    assert code == 1
    assert (f"  - FAILS: main/writer rollout: demand 195 > usable 74: waiver expired on {yesterday}: resize booked, OPS-123"
            in out.splitlines())


def test_every_format_shows_the_gate() -> None:
    yesterday = TODAY - timedelta(days=1)
    write(SHOP + waiver("2099-12-31", "rollout") + f"  - {{instance: main/writer, scenario: peak, reason: 'Black Friday', expires: {yesterday}}}\n"
          "  - {instance: main/writer, scenario: steady, reason: spare, expires: 2099-01-01}\n")
    code, out, _ = run_cli(["check", "shop.yaml", "--format", "json"])
    assert code == 1
    doc = json.loads(out)
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    assert doc["status"] == "over" and doc["gate"]["status"] == "fail"
    assert [(b["scenario"], b["outcome"], b["waiver"]["index"]) for b in doc["gate"]["breaches"]] == [
        ("peak", "fails", 1), ("rollout", "waived", 0)]
    assert doc["gate"]["unused_waivers"][0]["message"] == "waivers[2] (main/writer steady) covers no breach: remove it once the fix is deployed"

    code, out, _ = run_cli(["check", "shop.yaml", "--format", "markdown"])
    assert "**Gate:** fails: 1 expired waiver, 1 waived" in out.splitlines()
    assert "- **waived**: main/writer rollout: demand 195 &gt; usable 74: waived until 2099-12-31: resize booked, OPS-123" in out.splitlines()

    code, out, _ = run_cli(["check", "shop.yaml", "--format", "github"])
    lines = out.splitlines()
    assert lines[0].startswith("::error file=shop.yaml,line=3,title=main over budget::")
    assert (f"::error file=shop.yaml,line=8,title=waiver expired {yesterday}::waivers[1] expired on {yesterday} (Black Friday): "
            "main/writer peak fails again; fix it or renew the waiver with a new date") in lines
    assert ("::warning file=shop.yaml,line=9,title=planner%3A waiver-unused::waivers[2] (main/writer steady) covers no breach: "
            "remove it once the fix is deployed") in lines
    assert lines[-1] == "planner: shop is over (gate fails: 1 expired waiver, 1 waived)"

    code, out, _ = run_cli(["check", "shop.yaml", "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {(r["scenario"], r["gate"]) for r in rows} == {("steady", ""), ("peak", "fails"), ("rollout", "waived")}


def test_a_waived_breach_is_a_warning_annotation() -> None:
    write(SHOP + waiver("2099-12-31"))
    code, out, _ = run_cli(["check", "shop.yaml", "--format", "github"])
    assert code == 0
    first = out.splitlines()[0]
    assert first.startswith("::warning file=shop.yaml,line=3,title=main over budget::")
    assert first.endswith("(waived until 2099-12-31: resize booked, OPS-123)")


def test_without_waivers_or_a_baseline_the_outputs_say_nothing_of_a_gate() -> None:
    write()
    for fmt in ("text", "markdown", "github"):
        out = run_cli(["check", "shop.yaml", "--format", fmt])[1]
        assert "gate" not in out.lower(), fmt
    assert "gate" not in json.loads(run_cli(["check", "shop.yaml", "--format", "json"])[1])


@pytest.mark.parametrize("args, expected", [
    (["--baseline", "b.json", "--write-baseline", "c.json"],
     "--baseline and --write-baseline: give one (write the baseline once, then check against it)"),
    (["--baseline", "missing.json"], "missing.json: no such baseline file (write one with planner check ... --write-baseline missing.json)"),
])
def test_baseline_misuse_is_one_line(args: list[str], expected: str) -> None:
    write()
    assert refusal(["check", "shop.yaml", *args]) == [expected]
    assert not Path("c.json").exists()


def test_bad_waivers_are_refused_one_line_each() -> None:
    write(SHOP + "waivers:\n  - {instance: main/reader-1, reason: x, expires: '2026-02-30'}\n  - {pooler: bouncer, scenario: peek}\n")
    assert refusal(["check", "shop.yaml"]) == [
        "shop.yaml:7: waivers[0].instance: unknown instance 'main/reader-1' (did you mean 'main/writer'?)",
        "shop.yaml:7: waivers[0].expires: expires must be a date (YYYY-MM-DD), not the string '2026-02-30' (write e.g. expires: 2026-12-31)",
        "shop.yaml:8: waivers[1].pooler: unknown pooler 'bouncer' (the topology has no poolers: name an instance or a database)",
        "shop.yaml:8: waivers[1].scenario: unknown scenario 'peek' (did you mean 'peak'?)",
        "shop.yaml:8: waivers[1].reason: missing required key 'reason' (say why the breach is accepted and who follows it up, e.g. reason: 'resize booked, OPS-123')",
        "shop.yaml:8: waivers[1].expires: missing required key 'expires' (give the last day it holds, e.g. expires: 2026-12-31)",
    ]
