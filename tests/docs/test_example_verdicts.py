"""Each example topology says on its first lines what `planner check` says of it, and why; this keeps that true.

The verdict must state the real status and exit code, and for every instance its worst demand and the limit
it is judged against (usable when over, else the alarm line), and for every pooler its worst client demand
and the clients it accepts: the numbers that make the verdict, so a change that moves one shows here.
"""

from __future__ import annotations

import json
import re
import pytest

from ..conftest import EXAMPLES, VERDICT, run_cli

NUMBER = re.compile(r"\d[\d,]*")


def stated_numbers(why: str) -> set[int]:
    """Return the integers a verdict writes (with or without thousands separators)."""
    return {int(n.replace(",", "")) for n in NUMBER.findall(why.replace("#   ", " "))}


def deciding_numbers(doc: dict) -> set[int]:
    """Return the numbers that decide a check document's verdict: each instance's worst demand and its limit,
    each pooler's worst client demand and its client capacity (where it has one)."""
    numbers: set[int] = set()
    for instance in doc["instances"]:
        numbers.add(max(s["demand"] for s in instance["scenarios"].values()))
        numbers.add(instance["usable"] if instance["status"] == "over" else instance["alarm_at"])
    for pooler in doc["poolers"]:
        numbers.add(max(s["client_demand"] for s in pooler["scenarios"].values()))
        if pooler["client_capacity"] is not None:
            numbers.add(pooler["client_capacity"])
    return numbers


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_the_verdict_comment_is_what_check_says(name: str) -> None:
    text = (EXAMPLES / name).read_text()
    verdict = VERDICT.match(text)
    assert verdict, f"examples/{name} must start with '# planner check: STATUS (exit N): why'"
    code, out, err = run_cli(["check", str(EXAMPLES / name), "--format", "json"])
    doc = json.loads(out)
    assert (verdict["status"], int(verdict["code"])) == (doc["status"].upper(), code), err
    missing = deciding_numbers(doc) - stated_numbers(verdict["why"])
    assert not missing, f"examples/{name}: the verdict does not state {sorted(missing)}"
