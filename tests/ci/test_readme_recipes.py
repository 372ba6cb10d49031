"""The README's CI recipes name what exists: the Action's inputs, the hook's id, and commands that run."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from ..conftest import EXAMPLES, run_cli

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text()
CI_SECTION = README.split("## As a CI gate\n", 1)[1].split("\n## ", 1)[0]
ACTION_REF = "YOUR-ORG/planner@v0"
# where a reader must put where they host planner; each line naming it says it is a placeholder
PLACEHOLDER = "YOUR-ORG"
RECIPE_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / ".pre-commit-hooks.yaml", ROOT / "action.yml"]


def blocks(language: str) -> list[str]:
    """Return the fenced blocks of ``language`` in the README's CI section."""
    return re.findall(rf"```{language}\n(.*?)```", CI_SECTION, re.S)


def test_the_action_recipe_uses_only_inputs_the_action_declares() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    recipe = next(b for b in blocks("yaml") if f"uses: {ACTION_REF}" in b)
    written = set(re.findall(r"^\s+#?\s*([a-z-]+):", recipe.split(f"uses: {ACTION_REF}", 1)[1].split("with:", 1)[1], re.M))
    assert written and written <= set(action["inputs"]), written - set(action["inputs"])
    assert set(action["inputs"]) <= written  # every input is shown, commented or not
    for output in action["outputs"]:
        assert f"`{output}`" in CI_SECTION


def test_every_placeholder_is_marked_as_one() -> None:
    """`OWNER` read like a real name; `YOUR-ORG` is the only placeholder, and says so where it stands."""
    marked = 0
    for path in RECIPE_FILES:
        lines = path.read_text(encoding="utf-8").splitlines()
        assert not [n for n, line in enumerate(lines, 1) if "OWNER/" in line], f"{path.name}: an unmarked OWNER placeholder"
        for n, line in enumerate(lines):
            if PLACEHOLDER in line:
                assert "placeholder" in line or "placeholder" in lines[n - 1], f"{path.name}:{n + 1}: say {PLACEHOLDER} is a placeholder"
                marked += 1
    assert marked >= 8


def test_the_release_tags_are_the_ones_make_release_writes() -> None:
    """`@v0` is the major tag the release moves; pre-commit, which never updates a moving tag, names vX.Y.Z."""
    assert "v0` is the major release tag: `make release` tags each release `vX.Y.Z` and moves `vX`" in CI_SECTION
    recipe = yaml.safe_load(next(b for b in blocks("yaml") if "pre-commit-config" in b))
    assert re.fullmatch(r"v\d+\.\d+\.\d+", recipe["repos"][0]["rev"])


def test_the_pre_commit_recipe_names_the_hook() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    recipe = yaml.safe_load(next(b for b in blocks("yaml") if "pre-commit-config" in b))
    assert [h["id"] for h in recipe["repos"][0]["hooks"]] == [hooks[0]["id"]] == ["planner-check"]


@pytest.fixture
def infra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository root with an over-budget topology where the recipes expect one."""
    (tmp_path / "infra").mkdir()
    shutil.copy(EXAMPLES / "shared-instance.yaml", tmp_path / "infra" / "topology.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def recipe_commands(needle: str) -> list[list[str]]:
    """Return the `planner ...` commands of the CI section's lines that contain ``needle``."""
    lines = [line.split("- run: ", 1)[-1].split("- ", 1)[-1].split("#", 1)[0].strip()
             for block in blocks("yaml") + blocks("sh") for line in block.splitlines() if needle in line]
    return [line.split()[1:] for line in lines if line.startswith("planner ")]


def test_the_sarif_and_junit_recipes_write_their_files(infra: Path) -> None:
    (sarif,) = recipe_commands("--format sarif")
    code, _, err = run_cli(sarif)
    assert code == 1, err  # the example is over budget: the recipe uploads with if: always()
    log = json.loads((infra / "planner.sarif").read_text())
    assert log["version"] == "2.1.0" and log["runs"][0]["results"]
    (junit,) = recipe_commands("--format junit")
    code, _, err = run_cli([arg.replace("infra/*.yaml", "infra/topology.yaml") for arg in junit])
    assert code == 1, err
    assert int(ET.parse(infra / "planner-junit.xml").getroot().get("failures", "0")) > 0


def test_the_adoption_recipe_passes_today_and_fails_a_new_breach(infra: Path) -> None:
    write, check = recipe_commands("baseline")
    expand = lambda args: [a.replace("infra/*.yaml", "infra/topology.yaml") for a in args]  # noqa: E731 - the shell's glob
    assert run_cli(expand(write))[0] == 0
    assert run_cli(expand(check))[0] == 0
    topology = infra / "infra" / "topology.yaml"
    topology.write_text(topology.read_text().replace("name: shared-instance", "name: grown"))
    assert run_cli(expand(check))[0] == 1  # a topology the baseline does not know
