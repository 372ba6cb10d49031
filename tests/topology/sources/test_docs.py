"""The sessions that README.md, docs/topology.md and docs/diff.md show for deployment sources are real output."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ...conftest import run_cli
from ...review.test_diff import _commit, _git, isolated_git, needs_git  # noqa: F401 - the fixture is used by name

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


@needs_git
def test_the_readme_diff_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_git: None) -> None:  # noqa: F811 - the fixture
    command = ("planner diff git:origin/main:shop.yaml shop.yaml --base-source kubernetes=rendered/base/ "
               "--head-source kubernetes=rendered/head/")
    shown = session("README.md", command)
    _git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "shop.yaml").write_text(TOPOLOGY)
    _commit(tmp_path, "base")
    _git(tmp_path, "update-ref", "refs/remotes/origin/main", "HEAD")
    rendered_twice(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli(command.split()[1:])
    assert code == 1
    assert out.splitlines()[: len(shown)] == shown


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


def test_the_readme_session_on_a_real_deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """README's Mattermost session: import, the exit 2 naming the pool, then the verdict once it is written."""
    text = (ROOT / "README.md").read_text()
    shown = text.split("On a real deployment, Mattermost's official Docker setup", 1)[1]
    blocks = [block.split("\n```", 1)[0] for block in shown.split("```console\n")[1:3]]
    case = ROOT / "tests" / "deployments" / "mattermost"
    for name in ("docker-compose.yml", "docker-compose.without-nginx.yml", "env.example"):
        shutil.copy(case / name, tmp_path / name)
    shutil.copy(case / "env.example", tmp_path / ".env")  # the install guide's `cp env.example .env`
    monkeypatch.chdir(tmp_path)
    first, second = blocks
    commands = [line[2:] for line in first.splitlines() if line.startswith("$ ")]
    code, out, err = run_cli(commands[0].split()[1:])
    assert code == 0 and out == ""
    assert err.splitlines() == first.split(f"$ {commands[0]}\n", 1)[1].split("\n$ ", 1)[0].splitlines()
    code, out, err = run_cli(commands[1].split()[1:])
    assert code == 2
    assert err.splitlines() == first.split(f"$ {commands[1]}\n", 1)[1].splitlines()
    topology = tmp_path / "mattermost.yaml"
    written = "pool: {driver: database-sql, size: {env: MM_SQLSETTINGS_MAXOPENCONNS, default: 300}}"
    assert f"as `{written}`" in shown.replace("\n", " ")
    topology.write_text(topology.read_text().replace("pool: VALUE", written))
    code, out, _ = run_cli(["check", "mattermost.yaml"])
    assert code == 1
    assert out.splitlines() == second.split("$ planner check mattermost.yaml\n", 1)[1].splitlines()
