"""``planner diff`` of a topology that reads its deployment: sources at a git revision, or rendered per branch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ..conftest import run_cli
from .test_diff import _commit, _git, isolated_git, needs_git  # noqa: F401 - the fixture is used by name

FIXTURES = Path(__file__).parents[1] / "topology" / "sources" / "fixtures" / "compose"
TOPOLOGY = """version: 1
sources:
  compose: ../stack/docker-stack.yml
databases:
  main: {from: compose/db}
services:
  result: {from: compose/result, database: main, processes: 4, pool: {driver: node-pg, size: {env: PG_POOL_MAX}}}
"""
REPLICAS = "      replicas: 2\n      update_config:\n        parallelism: 2\n        delay: 10s\n      restart_policy:\n        condition: on-failure\n\n  worker"


def _scale_result(stack: Path, replicas: int) -> None:
    """Set the result service's deploy.replicas in a copy of the voting-app stack."""
    text = stack.read_text()
    assert REPLICAS in text
    stack.write_text(text.replace(REPLICAS, REPLICAS.replace("replicas: 2", f"replicas: {replicas}"), 1))


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_git: None) -> Path:  # noqa: F811
    """A repository whose infra/topology.yaml reads stack/docker-stack.yml, committed once."""
    root = tmp_path / "repo"
    (root / "infra").mkdir(parents=True)
    shutil.copytree(FIXTURES, root / "stack")
    (root / "infra" / "topology.yaml").write_text(TOPOLOGY)
    _git(root, "init", "-q", "-b", "main")
    _commit(root, "the stack and its topology")
    monkeypatch.chdir(root)
    return root


@needs_git
def test_a_pull_request_that_scales_a_service_shows_the_deployed_change(repo: Path) -> None:
    _scale_result(repo / "stack" / "docker-stack.yml", 3)  # the PR: 3 result replicas, no topology edit
    code, out, err = run_cli(["diff", "git:HEAD:infra/topology.yaml", "infra/topology.yaml"])
    assert code == 1, err  # 3 × 4 × 10 = 120 > usable 117
    lines = out.splitlines()
    assert lines[0] == "topology (git:HEAD:infra/topology.yaml → infra/topology.yaml): ok → OVER"
    assert lines[2] == "what changed:"
    assert lines[3] == ("  - deployed: services.result.replicas 2 → 3 "
                        "(compose/result deploy.replicas, infra/../stack/docker-stack.yml:44)")
    assert lines[4] == "  - rollout on main/writer: 80 → 120 (+40), ok → OVER"
    assert "HEAD is over budget" in err


@needs_git
def test_base_reads_its_sources_at_the_revision(repo: Path) -> None:
    _scale_result(repo / "stack" / "docker-stack.yml", 3)
    _commit(repo, "scale result")
    code, out, err = run_cli(["diff", "git:HEAD~1:infra/topology.yaml", "git:HEAD:infra/topology.yaml", "--format", "json"])
    assert code == 1, err
    doc = json.loads(out)
    assert doc["deployed"] == [{"key_path": "services.result.replicas", "before": "2", "after": "3",
                                "from": "compose/result deploy.replicas, git:HEAD:stack/docker-stack.yml:44"}]
    assert doc["summary"][0].startswith("deployed: services.result.replicas 2 → 3")


@needs_git
def test_a_source_missing_at_the_revision_names_it(repo: Path) -> None:
    _git(repo, "rm", "-q", "--cached", "stack/docker-stack.yml")  # gone from the commit, still on disk
    _git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", "drop the stack")
    code, out, err = run_cli(["diff", "git:HEAD:infra/topology.yaml", "infra/topology.yaml"])
    assert (code, out) == (2, "")
    assert err.splitlines() == ["planner: git:HEAD:infra/topology.yaml:3: sources.compose: ../stack/docker-stack.yml: "
                                "not in HEAD (stack/docker-stack.yml) (list the revision's files with "
                                "`git ls-tree -r --name-only HEAD`)"]


def test_manifests_rendered_per_branch_compare_with_one_topology(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(FIXTURES, tmp_path / "rendered" / "base")
    shutil.copytree(FIXTURES, tmp_path / "rendered" / "head")
    _scale_result(tmp_path / "rendered" / "head" / "docker-stack.yml", 3)
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "topology.yaml").write_text(TOPOLOGY)
    code, out, err = run_cli(["diff", "infra/topology.yaml", "infra/topology.yaml", "--format", "markdown",
                              "--base-source", "compose=rendered/base/docker-stack.yml",
                              "--head-source", "compose=rendered/head/docker-stack.yml"])
    assert code == 1, err
    assert ("base **infra/topology.yaml with compose=rendered/base/docker-stack.yml** → head **infra/topology.yaml "
            "with compose=rendered/head/docker-stack.yml**") in out.splitlines()
    assert ("- deployed: services.result.replicas 2 → 3 (compose/result deploy.replicas, "
            "rendered/head/docker-stack.yml:44)") in out.splitlines()
    code, out, _ = run_cli(["diff", "infra/topology.yaml", "infra/topology.yaml", "--format", "json",
                            "--base-source", "compose=rendered/base/docker-stack.yml",
                            "--head-source", "compose=rendered/head/docker-stack.yml"])
    sides = json.loads(out)
    assert (sides["base"]["file"], sides["base"]["sources"]) == ("infra/topology.yaml", "compose=rendered/base/docker-stack.yml")
    assert sides["head"]["sources"] == "compose=rendered/head/docker-stack.yml"
    # the same paths on both sides: nothing changed
    code, out, err = run_cli(["diff", "infra/topology.yaml", "infra/topology.yaml",
                              "--base-source", "compose=rendered/base/docker-stack.yml",
                              "--head-source", "compose=rendered/base/docker-stack.yml"])
    assert code == 0 and "deployed:" not in out


def test_check_takes_a_source_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(FIXTURES, tmp_path / "stack")
    shutil.copytree(FIXTURES, tmp_path / "rendered")
    _scale_result(tmp_path / "rendered" / "docker-stack.yml", 3)
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "topology.yaml").write_text(TOPOLOGY)
    subprocess.run(["git", "init", "-q"], check=True, capture_output=True)  # ../stack is in the repository
    assert run_cli(["check", "infra/topology.yaml"])[0] == 0
    assert run_cli(["check", "infra/topology.yaml", "--source", "compose=rendered/docker-stack.yml"])[0] == 1


@pytest.mark.parametrize("value", ["helm=charts/", "compose", "compose="])
def test_a_bad_source_option_is_one_line(tmp_path: Path, value: str) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(TOPOLOGY)
    code, out, err = run_cli(["check", str(path), "--source", value])
    assert (code, out) == (2, "")
    assert err.splitlines() == [f"planner: --source {value}: write --source KIND=PATH with KIND one of kubernetes, "
                                "terraform, compose (e.g. --source kubernetes=rendered/head/)"]


K8S_TOPOLOGY = """version: 1
sources: {kubernetes: [../k/]}
databases:
  main: {instance_class: db.m6g.large}
services:
  web: {from: Deployment/web, pool: 5}
"""
MANIFEST = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 2\n  template:\n"
            "    spec:\n      containers: [{name: web, image: shop/web:1}]\n")


@needs_git
@pytest.mark.parametrize(("name", "make", "expected"), [
    # 17 MiB of one repeated line: git stores it small; planner must not ask git for its bytes
    ("big.yaml", lambda path: path.write_bytes(b"# padding\n" * (17 * 2**20 // 10 + 1)),
     "git:HEAD:k/big.yaml: file is too large (17.0 MiB; the limit is 16 MiB)"),
    (os.fsdecode(b"caf\xe9.yaml"), lambda path: path.write_text(MANIFEST.replace("web", "cafe")),
     "git:HEAD:k/caf\\xe9.yaml: file name is not valid UTF-8 or holds a control character"),
    ("two\nlines.yaml", lambda path: path.write_text(MANIFEST.replace("web", "two")),
     "git:HEAD:k/two\\x0alines.yaml: file name is not valid UTF-8 or holds a control character"),
])
def test_a_hostile_file_in_a_source_folder_at_the_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          isolated_git: None, name: str, make: Any, expected: str) -> None:  # noqa: F811
    root = tmp_path / "repo"
    (root / "infra").mkdir(parents=True)
    (root / "k").mkdir()
    (root / "k" / "web.yaml").write_text(MANIFEST)
    make(root / "k" / name)
    (root / "infra" / "topology.yaml").write_text(K8S_TOPOLOGY)
    _git(root, "init", "-q", "-b", "main")
    _commit(root, "manifests")
    monkeypatch.chdir(root)
    code, out, err = run_cli(["diff", "git:HEAD:infra/topology.yaml", "infra/topology.yaml", "-o", str(tmp_path / "out.txt")])
    assert (code, out) == (2, ""), err
    lines = err.splitlines()
    assert len(lines) == 2 and "Traceback" not in err, err  # the file on disk is refused too, on its own line
    assert any(line.startswith(f"planner: {expected}") for line in lines), err
    assert not (tmp_path / "out.txt").exists()
