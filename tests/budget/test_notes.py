"""Issue 20 item 7: quiet when nothing is wrong. Warnings that only say how a number was counted (an
estimate, a PgBouncer fleet's pools) fold into one line in text and Markdown unless --verbose; JSON,
SARIF and JUnit keep every one."""

from __future__ import annotations

import json

from tests.conftest import EXAMPLES, run_cli

FLEET = str(EXAMPLES / "pgbouncer-fleet.yaml")


def test_notes_fold_into_one_line_and_verbose_lists_them() -> None:
    code, out, _ = run_cli(["check", FLEET])
    assert code == 0
    assert "poolers.bouncer.replicas" not in out
    assert out.rstrip().endswith("1 note (pgbouncer-replicas): planner check --verbose shows it")
    _, verbose, _ = run_cli(["check", FLEET, "--verbose"])
    assert "poolers.bouncer.replicas: replicas 3 × pairs 1 × (default_pool_size 40 + reserve_pool_size 5) = 135" in verbose
    assert "--verbose shows" not in verbose
    _, markdown, _ = run_cli(["check", FLEET, "--format", "markdown"])
    assert "1 note (pgbouncer-replicas)" in markdown


def test_machine_formats_keep_every_warning() -> None:
    _, out, _ = run_cli(["check", FLEET, "--format", "json"])
    assert "pgbouncer-replicas" in [d["code"] for d in json.loads(out)["warning_details"]]
    _, sarif, _ = run_cli(["check", FLEET, "--format", "sarif"])
    assert "pgbouncer-replicas" in sarif
