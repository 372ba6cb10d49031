"""Issue 20 item 7: a topology acknowledges a warning it has read (`lints: {ignore: [...], reason}` at the
top or per service): it is counted in one line with its reason, not listed; the status and exit code
never change; a code that does not exist, or an acknowledgement without a reason, is exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from planner.model import LINT_CODES
from planner.render.sarif_rules import LINT_RULES
from tests.conftest import refusal, run_cli

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "schema" / "check.schema.json").read_text())

TOPOLOGY = """\
version: 1
name: shop
lints: {ignore: [estimated], reason: "SHOW max_connections is in the launch runbook"}
databases:
  main: {engine: postgres, engine_version: "16.4", instance_class: db.m6g.large}
services:
  web:
    replicas: 4
    processes: 2
    pool: sqlalchemy
    lints: {ignore: [pool-above-concurrency], reason: "OPS-42: the pool serves a thread pool of 15"}
  api: {replicas: 2, pool: sqlalchemy}
"""


def write(tmp_path: Path, text: str = TOPOLOGY) -> str:
    path = tmp_path / "shop.yaml"
    path.write_text(text)
    return str(path)


def test_acknowledged_warnings_are_counted_in_one_line_with_their_reasons(tmp_path: Path) -> None:
    code, out, err = run_cli(["check", write(tmp_path)])
    assert code == 0, err
    warnings = out.split("warnings:", 1)[1].split("\n\n", 1)[0]
    # api's pool is above its thread too, and only web acknowledged it
    assert "services.api.pool: sqlalchemy pool of 15" in warnings and "services.web.pool" not in warnings
    assert "estimated" not in warnings and "is an estimate" not in warnings
    (line,) = [line for line in out.splitlines() if "acknowledged warning" in line]
    assert line == ("2 acknowledged warnings (lints): estimated (main): SHOW max_connections is in the launch runbook; "
                    "pool-above-concurrency (web): OPS-42: the pool serves a thread pool of 15")
    assert "* estimated:" in out  # the table's footnote still labels the estimate


def test_json_keeps_them_apart_and_the_status_is_the_arithmetics(tmp_path: Path) -> None:
    path = write(tmp_path)
    _, out, _ = run_cli(["check", path, "--format", "json"])
    document = json.loads(out)
    jsonschema.validate(document, SCHEMA)
    assert [(a["code"], a["key_path"], a["reason"]) for a in document["acknowledged_warnings"]] == [
        ("estimated", "databases.main.instance_class", "SHOW max_connections is in the launch runbook"),
        ("pool-above-concurrency", "services.web.pool", "OPS-42: the pool serves a thread pool of 15")]
    assert [d["code"] for d in document["warning_details"]] == ["pool-above-concurrency"]
    without = "".join(line for line in TOPOLOGY.splitlines(keepends=True) if "lints:" not in line)
    _, plain, _ = run_cli(["check", write(tmp_path, without), "--format", "json"])
    assert json.loads(plain)["status"] == document["status"]


def test_unknown_codes_and_missing_reasons_are_refused(tmp_path: Path) -> None:
    text = TOPOLOGY.replace("ignore: [estimated], reason: \"SHOW max_connections is in the launch runbook\"",
                            "ignore: [estimate]").replace("[pool-above-concurrency]", "[pool-above-concurency]")
    lines = refusal(["check", write(tmp_path, text)])
    assert any(":3: lints.ignore[0]: unknown warning code 'estimate' (did you mean" in line for line in lines), lines
    assert any(":3: lints.reason: an acknowledgement needs a reason" in line for line in lines), lines
    assert any("services.web.lints.ignore[0]: unknown warning code 'pool-above-concurency'" in line
               and "pool-above-concurrency" in line for line in lines), lines


def test_every_code_a_lint_gives_can_be_acknowledged() -> None:
    assert set(LINT_CODES) == set(LINT_RULES)
