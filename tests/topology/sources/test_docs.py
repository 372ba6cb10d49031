"""The sessions that docs/diff.md and the excerpts README.md and docs/topology.md show for deployment sources are real
output (README.md's console sessions: tests/docs/test_readme.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ...conftest import run_cli

ROOT = Path(__file__).parents[3]
RENDERED = Path(__file__).parent / "fixtures" / "kubernetes" / "e2e" / "rendered"

# the e2e shop as the documents show it: manifests rendered into deploy/rendered/, the default parameter group
TOPOLOGY = (RENDERED.parent / "shop.yaml").read_text().replace("[rendered/]", "[deploy/rendered/]").replace(
    ', parameters: {max_connections: 600}}', '}')


def session(doc: str, command: str) -> list[str]:
    """Return the lines a document shows after ``$ command``, up to its `...` or the end of the block."""
    text = (ROOT / doc).read_text()
    block = text.split(f"$ {command}\n", 1)[1].split("\n```", 1)[0]
    return block.split("\n...", 1)[0].splitlines()


def rendered_twice(folder: Path) -> None:
    """Render the shop for both refs: the head's HPA maximum raised from 10 to 30."""
    for side in ("base", "head"):
        shutil.copytree(RENDERED, folder / "rendered" / side)
    web = folder / "rendered" / "head" / "web.yaml"
    web.write_text(web.read_text().replace("  maxReplicas: 10\n", "  maxReplicas: 30\n"))


def test_the_diff_doc_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    command = ("planner diff infra/topology.yaml infra/topology.yaml \\\n"
               "    --base-source kubernetes=rendered/base/ --head-source kubernetes=rendered/head/")
    shown = session("docs/diff.md", command)
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "topology.yaml").write_text(TOPOLOGY)
    rendered_twice(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli(command.replace("\\\n", "").split()[1:])
    assert code == 1
    assert out.splitlines()[: len(shown)] == shown


@pytest.mark.parametrize("doc", ["README.md", "docs/topology.md"])
def test_the_explain_excerpts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, doc: str) -> None:
    text = (ROOT / doc).read_text()
    excerpt = text.split("```text\nread from the deployment:\n", 1)[1].split("```", 1)[0]
    shown = [line for line in excerpt.splitlines() if line.strip() != "..."]
    shutil.copytree(RENDERED, tmp_path / "deploy" / "rendered")
    (tmp_path / "shop.yaml").write_text(TOPOLOGY)
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(["explain", "shop.yaml"])
    assert code == 0, err
    lines = out.splitlines()
    assert "read from the deployment:" in lines
    missing = [line for line in shown if line not in lines]
    assert not missing, missing
