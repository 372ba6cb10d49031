"""Issue 20, done when: on every example and every option recommend lists, applying it gives the status
it promised, and `emit --option` writes that option (its title in the artefact) wherever an artefact
implements its kind."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from planner.advice.emit import EMIT_KINDS
from tests.conftest import EXAMPLES, run_cli


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_every_option_does_what_it_says(example: str, tmp_path: Path) -> None:
    path = tmp_path / example
    shutil.copy(EXAMPLES / example, path)
    code, out, err = run_cli(["recommend", str(path), "--format", "json"])
    assert code == 0, err
    for rec in json.loads(out)["recommendations"]:
        for option in rec["options"]:
            ident = option["id"]
            applied = tmp_path / f"{ident.replace(':', '-')}.yaml"
            code, _, err = run_cli(["recommend", str(path), "--option", ident, "--apply-to-topology", str(applied)])
            assert code == 0, (ident, err)
            code, checked, err = run_cli(["check", str(applied), "--format", "json"])
            assert json.loads(checked)["status"] == option["after"]["status"], (ident, option["title"], err)
            kinds = [kind for kind, carried in EMIT_KINDS.items() if option["kind"] in carried]
            if kinds:
                code, files, err = run_cli(["emit", kinds[0], str(path), "--option", ident])
                assert code == 0, (ident, err)
                if kinds[0] != "pools":  # the pool files are in each driver's own syntax
                    assert option["title"] in files, (ident, option["title"])
