"""``check --format sarif``: valid SARIF 2.1.0 (the OASIS schema) with the rules, levels and lines code scanning shows."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from planner.render.sarif_rules import LINT_RULES, sarif_rules

from ..conftest import EXAMPLES, refusal, run_cli
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


def test_over_budget_results_sit_on_the_line_that_decides_them(validator: jsonschema.Draft4Validator,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, log = sarif(validator, "examples/beanstalk-flask.yaml")
    assert code == 1
    found = [(r["ruleId"], r["level"], r["properties"].get("scenario"), place(r)) for r in results(log)]
    assert found == [  # api's replicas {min: 2, max: 6}: the maximum makes peak and rollout
        ("budget-over", "error", "peak", ("examples/beanstalk-flask.yaml", 17)),
        ("budget-over", "error", "rollout", ("examples/beanstalk-flask.yaml", 17)),
        ("burstable-production", "warning", None, ("examples/beanstalk-flask.yaml", 12)),
        ("old-formula", "warning", None, ("examples/beanstalk-flask.yaml", 14)),
    ]
    peak = results(log)[0]
    assert peak["properties"]["source"] == "api@default" and peak["properties"]["keyPath"] == "services.api.replicas.max"
    text = peak["message"]["text"]
    assert "[main/writer](1) (db.t2.small) is over in peak: demand 62 > usable 55" in text
    assert "api@default 60 (replicas 6 × processes 2 × per-thread pool 5 = 60)" in text
    assert "api@default opens the most (60); this line sets its replicas.max." in text
    # the database, linked from the message by its id
    assert [(place(r), r["id"]) for r in peak["relatedLocations"]] == [(("examples/beanstalk-flask.yaml", 9), 1)]


def test_warn_ok_and_several_topologies_in_one_run(validator: jsonschema.Draft4Validator, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name, text in (("over.yaml", OVER), ("warn.yaml", WARN), ("ok.yaml", OK)):
        Path(name).write_text(text)
    assert results(sarif(validator, "ok.yaml")[1]) == []  # an ok topology: a valid, empty log
    code, log = sarif(validator, "warn.yaml")
    assert code == 0
    assert {(r["ruleId"], r["level"], place(r)) for r in results(log)} == {("budget-warn", "warning", ("warn.yaml", 9))}
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
    # the client side is decided by its largest client, web's connections; the pooler is related
    assert {(r["ruleId"], r["level"], place(r)) for r in results(log)} == {("pooler-client-over", "error", ("p.yaml", 9))}
    assert "client demand 30 (web@default 30) > replicas 1 × max_client_conn 10 = 10" in results(log)[0]["message"]["text"]
    assert [place(r) for r in results(log)[0]["relatedLocations"]] == [("p.yaml", 11)]


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
    assert place(results(log)[0]) == ("infra%20dir/over.yaml", 9)


def test_hostile_name_stays_text(validator: jsonschema.Draft4Validator, tmp_path: Path) -> None:
    _, log = sarif(validator, str(write_hostile(tmp_path, HOSTILE + "\u0001")))
    assert results(log) and all(r["message"]["text"].startswith(HOSTILE + "\u0001: ") for r in results(log))


def test_baselined_and_waived_breaches_are_left_out_unless_asked_for(validator: jsonschema.Draft4Validator,
                                                                      tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # GitHub code scanning ignores SARIF suppressions: a suppressed result would stay an open alert
    monkeypatch.chdir(tmp_path)
    Path("over.yaml").write_text(OVER)
    assert run_cli(["check", "over.yaml", "--write-baseline", "base.json"])[0] == 0
    code, log = sarif(validator, "over.yaml", "--baseline", "base.json")
    assert (code, results(log)) == (0, [])
    code, log = sarif(validator, "over.yaml", "--baseline", "base.json", "--sarif-suppressions")
    assert code == 0
    assert [r["suppressions"][0]["kind"] for r in results(log)] == ["external"] * 3
    assert all("in the baseline base.json" in r["suppressions"][0]["justification"] for r in results(log))
    # a waiver covers peak only: rollout and steady still fail; with the flag every result says whether it is suppressed
    Path("waived.yaml").write_text(OVER + "waivers:\n  - {instance: main/writer, scenario: peak, reason: 'resize booked', "
                                   "expires: 2999-12-31}\n")
    code, log = sarif(validator, "waived.yaml")
    assert code == 1 and [r["properties"]["scenario"] for r in results(log)] == ["steady", "rollout"]
    code, log = sarif(validator, "waived.yaml", "--sarif-suppressions")
    assert [(r["properties"]["scenario"], [s["kind"] for s in r["suppressions"]]) for r in results(log)] == [
        ("steady", []), ("peak", ["inSource"]), ("rollout", [])]


def test_sarif_suppressions_needs_the_sarif_format(tmp_path: Path) -> None:
    (tmp_path / "over.yaml").write_text(OVER)
    assert refusal(["check", str(tmp_path / "over.yaml"), "--sarif-suppressions"]) == [
        "--sarif-suppressions: only the SARIF log has suppressions; add --format sarif (or --format "
        "sarif=planner.sarif), or drop the flag"]


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
    for rule in rules:  # the help is in the log (GitHub shows help.markdown): no page to look up
        assert rule["help"]["text"] and rule["help"]["markdown"].startswith(f"**{rule['shortDescription']['text']}**")
        assert "`" not in rule["help"]["text"] and "helpUri" not in rule
    assert "planner recommend" in rules[0]["help"]["markdown"] and "waivers" in rules[0]["help"]["markdown"]
    assert {r["helpUri"] for r in sarif_rules("https://example.org/planner")} == {"https://example.org/planner"}
