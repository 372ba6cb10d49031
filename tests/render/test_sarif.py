"""``check --format sarif``: valid SARIF 2.1.0 (the OASIS schema) with the rules, levels and lines code scanning shows."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from planner.render.sarif import LINT_RULES, sarif_rules

from ..conftest import EXAMPLES, run_cli
from .test_escaping import HOSTILE, write_hostile

SCHEMAS = Path(__file__).parent / "schemas"
ROOT = Path(__file__).parents[2]
E2E = ROOT / "tests/topology/sources/fixtures/kubernetes/e2e"
TOPOLOGIES = sorted(EXAMPLES.glob("*.yaml")) + sorted((ROOT / "tests/examples").glob("*.yaml"))

OVER = """\
version: 1
name: over
databases:
  main:
    engine: self-managed
    parameters: {max_connections: 50}
services:
  web:
    connections: 60
"""
WARN = OVER.replace("name: over", "name: warn").replace("connections: 60", "connections: 45")
OK = OVER.replace("name: over", "name: fine").replace("connections: 60", "connections: 10")


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    schema = json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"  # the validator must match the draft
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)


def sarif(validator: jsonschema.Draft4Validator, *args: str) -> tuple[int, dict[str, Any]]:
    """Run ``planner check ARGS --format sarif``; validate the log against the schema; return (code, log)."""
    code, out, err = run_cli(["check", *args, "--format", "sarif"])
    assert code in (0, 1), err
    log = json.loads(out)
    validator.validate(log)
    return code, log


def results(log: dict[str, Any]) -> list[dict[str, Any]]:
    (run,) = log["runs"]
    return run["results"]


def place(result: dict[str, Any]) -> tuple[str, int]:
    """Return (uri, line) of a result's first location, or of a related location."""
    location = (result["locations"][0] if "locations" in result else result)["physicalLocation"]
    return location["artifactLocation"]["uri"], location["region"]["startLine"]


@pytest.mark.parametrize("topology", TOPOLOGIES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_example_is_valid_sarif(validator: jsonschema.Draft4Validator, topology: Path) -> None:
    code, log = sarif(validator, str(topology))
    assert code == run_cli(["check", str(topology)])[0]
    (run,) = log["runs"]
    assert run["tool"]["driver"]["name"] == "planner"
    for result in run["results"]:
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"] == "%SRCROOT%"


def test_over_budget_results_point_at_the_database(validator: jsonschema.Draft4Validator,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, log = sarif(validator, "examples/beanstalk-flask.yaml")
    assert code == 1
    found = [(r["ruleId"], r["level"], r["properties"].get("scenario"), place(r)) for r in results(log)]
    assert found == [
        ("budget-over", "error", "peak", ("examples/beanstalk-flask.yaml", 9)),
        ("budget-over", "error", "rollout", ("examples/beanstalk-flask.yaml", 9)),
        ("burstable-production", "warning", None, ("examples/beanstalk-flask.yaml", 12)),
        ("old-formula", "warning", None, ("examples/beanstalk-flask.yaml", 14)),
    ]
    peak = results(log)[0]
    assert "main/writer (db.t2.small) is over in peak: demand 62 > usable 55" in peak["message"]["text"]
    assert "api@default 60 (replicas 6 × processes 2 × per-thread pool 5 = 60)" in peak["message"]["text"]
    assert [place(r) for r in peak["relatedLocations"]] == [("examples/beanstalk-flask.yaml", 16)]  # the service


def test_warn_ok_and_several_topologies_in_one_run(validator: jsonschema.Draft4Validator, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name, text in (("over.yaml", OVER), ("warn.yaml", WARN), ("ok.yaml", OK)):
        Path(name).write_text(text)
    assert results(sarif(validator, "ok.yaml")[1]) == []  # an ok topology: a valid, empty log
    code, log = sarif(validator, "warn.yaml")
    assert code == 0
    assert {(r["ruleId"], r["level"], place(r)) for r in results(log)} == {("budget-warn", "warning", ("warn.yaml", 4))}
    assert "demand 45 > alarm_at 40" in results(log)[0]["message"]["text"]
    code, log = sarif(validator, "over.yaml", "warn.yaml", "ok.yaml")
    assert code == 1
    by_file = {(place(r)[0], r["ruleId"]) for r in results(log)}
    assert by_file == {("over.yaml", "budget-over"), ("warn.yaml", "budget-warn")}
    assert len(results(log)) == 6  # three scenarios each
    fingerprints = [r["partialFingerprints"]["plannerFinding/v1"] for r in results(log)]
    assert len(set(fingerprints)) == 6
    assert fingerprints == [r["partialFingerprints"]["plannerFinding/v1"] for r in results(sarif(validator, "over.yaml", "warn.yaml")[1])]


def test_pooler_client_over(validator: jsonschema.Draft4Validator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("p.yaml").write_text(OK.replace("connections: 10", "connections: 30") + """\
poolers:
  bouncer: {kind: pgbouncer, database: main, clients: [web], max_client_conn: 10, default_pool_size: 5}
""")
    code, log = sarif(validator, "p.yaml")
    assert code == 1
    assert {(r["ruleId"], r["level"], place(r)) for r in results(log)} == {("pooler-client-over", "error", ("p.yaml", 11))}
    assert "client demand 30 (web@default 30) > replicas 1 × max_client_conn 10 = 10" in results(log)[0]["message"]["text"]


def test_value_read_from_a_manifest_points_at_its_line(validator: jsonschema.Draft4Validator, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(E2E, tmp_path / "e2e")
    monkeypatch.chdir(tmp_path / "e2e")
    # within budget as the fixture stands; its SQLAlchemy pools (5 + 10, 2 + 0) are above their 1 thread
    assert [r["ruleId"] for r in results(sarif(validator, "shop.yaml")[1])] == ["pool-above-concurrency"] * 2
    Path("tight.yaml").write_text(Path("shop.yaml").read_text().replace("max_connections: 600", "max_connections: 300"))
    code, log = sarif(validator, "tight.yaml")
    assert code == 1
    over = [r for r in results(log) if r["ruleId"] == "budget-over"]
    assert [r["properties"]["scenario"] for r in over] == ["peak", "rollout"]
    for result in over:
        # the HPA's maxReplicas is what to change: rendered/web.yaml:131; the topology's database is related
        assert place(result) == ("rendered/web.yaml", 131)
        assert ("tight.yaml", 5) in [place(r) for r in result["relatedLocations"]]
        assert "replicas.max 10 is read from HorizontalPodAutoscaler/shop-web spec.maxReplicas" in result["message"]["text"]


def test_uris_are_relative_to_the_current_directory(validator: jsonschema.Draft4Validator, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "infra dir").mkdir()
    (tmp_path / "infra dir" / "over.yaml").write_text(OVER)
    monkeypatch.chdir(tmp_path)
    _, log = sarif(validator, str(tmp_path / "infra dir" / "over.yaml"))  # an absolute path in
    assert place(results(log)[0]) == ("infra%20dir/over.yaml", 4)


def test_hostile_name_stays_text(validator: jsonschema.Draft4Validator, tmp_path: Path) -> None:
    _, log = sarif(validator, str(write_hostile(tmp_path, HOSTILE + "\u0001")))
    assert results(log) and all(r["message"]["text"].startswith(HOSTILE + "\u0001: ") for r in results(log))


def test_baseline_suppresses_known_breaches(validator: jsonschema.Draft4Validator, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("over.yaml").write_text(OVER)
    assert run_cli(["check", "over.yaml", "--write-baseline", "base.json"])[0] == 0
    code, log = sarif(validator, "over.yaml", "--baseline", "base.json")
    assert code == 0
    assert [r["suppressions"][0]["kind"] for r in results(log)] == ["external"] * 3


def test_a_rule_per_documented_warning_code() -> None:
    docs = (ROOT / "docs/topology.md").read_text(encoding="utf-8")
    section = docs.split("## Warnings", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([a-z0-9-]+)` \|", section, re.MULTILINE)
    assert documented and set(documented) <= set(LINT_RULES)
    rules = sarif_rules()
    ids = [rule["id"] for rule in rules]
    assert ids[:3] == ["budget-over", "budget-warn", "pooler-client-over"] and len(ids) == len(set(ids))
    assert {r["id"]: r["defaultConfiguration"]["level"] for r in rules[:3]} == {
        "budget-over": "error", "budget-warn": "warning", "pooler-client-over": "error"}
    assert all(rule["helpUri"].split("#")[1] for rule in rules)
