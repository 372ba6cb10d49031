"""The pre-commit hook ``planner-check`` (.pre-commit-hooks.yaml), run by the real pre-commit.

pre-commit clones this repository at a commit and pip-installs it into a virtualenv of its own.
The tests point a throwaway repository's .pre-commit-config.yaml at this checkout's HEAD (commit
a change to the hook before testing it) and share one PRE_COMMIT_HOME for the session, so that
virtualenv is built once (10-20 s: planner's own dependencies, what `planner check` needs, pinned in
the hook's additional_dependencies) and every later run reuses it. ``pre-commit try-repo`` would do
the same in one command, but it keeps its store in a temporary directory whatever PRE_COMMIT_HOME
says, so each call would build the virtualenv again.
PIP_CONSTRAINT=requirements.lock makes that install (and its isolated build of planner) take the
locked versions, as ``make test`` does.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / ".pre-commit-hooks.yaml"
PASSING = ROOT / "examples" / "lambda-proxy.yaml"
OVER = ROOT / "examples" / "shared-instance.yaml"  # main/writer (db.t3.micro) is over
HOOK_INPUTS = (".pre-commit-hooks.yaml", "pyproject.toml", "setup.py")  # the hook and how it installs
LOCK = ROOT / "requirements.lock"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def _hook() -> dict[str, object]:
    from pre_commit.clientlib import load_manifest

    hooks = {hook["id"]: hook for hook in load_manifest(str(MANIFEST))}
    return hooks["planner-check"]


# --------------------------------------------------------------------------- the manifest


def test_the_manifest_is_valid_and_runs_planner_check() -> None:
    hook = _hook()  # pre-commit's own schema: raises on an invalid manifest
    assert hook["entry"] == "planner check" and hook["language"] == "python"
    assert hook["pass_filenames"] is True and hook["require_serial"] is True


@pytest.mark.parametrize(
    ("path", "picked"),
    [
        ("topology.yaml", True),
        ("topology.yml", True),
        ("infra/topology.toml", True),
        ("infra/prod/topology-eu.json", True),
        ("planner.yaml", True),
        ("deploy/planner-shop.yml", True),
        ("mytopology.yaml", False),
        ("topology.yaml.bak", False),
        ("topology/values.yaml", False),
        ("docs/topology.md", False),
        ("planner/data/instance_classes.csv", False),
        (".github/workflows/planner.yml", False),
        ("infra/.github/topology.yaml", False),
    ],
)
def test_the_default_files_pick_topologies(path: str, picked: bool) -> None:
    hook = _hook()
    chosen = bool(re.search(str(hook["files"]), path)) and not re.search(str(hook["exclude"]), path)
    assert chosen is picked


def _pins() -> dict[str, str]:
    """Return the hook's additional_dependencies as {canonical name: exact version}; fail on any other form."""
    pins = {}
    for raw in _hook()["additional_dependencies"]:  # type: ignore[union-attr]
        requirement = Requirement(raw)
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", f"{raw}: pin it as name==version"
        pins[canonicalize_name(requirement.name)] = specifiers[0].version
    return pins


def test_the_hook_pins_the_locked_versions_of_what_check_needs() -> None:
    """additional_dependencies pin planner's own dependencies and everything they require, each at the
    version of requirements.lock: pre-commit installs the same environment on every machine."""
    from tests.cli.test_extras import PROJECT, _closure, _requirement_names

    locked = {canonicalize_name(Requirement(line).name): line.partition("==")[2].strip()
              for line in LOCK.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")}
    pins = _pins()
    assert set(pins) == _closure(_requirement_names(PROJECT["dependencies"])), "pin planner's dependencies and what they require"
    wrong = {name: (version, locked.get(name)) for name, version in pins.items() if locked.get(name) != version}
    assert not wrong, f"pins differ from requirements.lock (pin, lock): {wrong}"


# --------------------------------------------------------------------------- the real pre-commit


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=_env())


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PLANNER_CATALOG", "PLANNER_OBSERVATIONS")}
    env.update(GIT_AUTHOR_NAME="test", GIT_AUTHOR_EMAIL="test@example.com", GIT_COMMITTER_NAME="test",
               GIT_COMMITTER_EMAIL="test@example.com", PIP_CONSTRAINT=str(ROOT / "requirements.lock"),
               PIP_DISABLE_PIP_VERSION_CHECK="1", NO_COLOR="1")  # fmt: skip
    if "PRE_COMMIT_HOME" in _SESSION:
        env["PRE_COMMIT_HOME"] = _SESSION["PRE_COMMIT_HOME"]
    return env


_SESSION: dict[str, str] = {}


def _pre_commit(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pre_commit", *args, "--color", "never"], cwd=cwd, capture_output=True,
                          text=True, env=_env())  # fmt: skip


@pytest.fixture(scope="session")
def head() -> str:
    """Return this checkout's HEAD, the commit pre-commit installs; skip (outside CI) when the hook's
    definition or pyproject.toml has uncommitted changes, which pre-commit would not see."""
    if shutil.which("git") is None:
        _unavailable("git is not on PATH")
    rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    if rev.returncode != 0:
        _unavailable(f"{ROOT} is not a git checkout: {rev.stderr.strip()}")
    dirty = subprocess.run(["git", "status", "--porcelain", "--", *HOOK_INPUTS], cwd=ROOT, capture_output=True, text=True).stdout
    if dirty.strip() and not os.environ.get("CI"):
        pytest.skip(f"uncommitted changes to what the hook installs, which pre-commit does not see (commit them):\n{dirty}")
    return rev.stdout.strip()


@pytest.fixture(scope="session")
def pre_commit_home(head: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Return a PRE_COMMIT_HOME holding the hook's virtualenv, built once for the session."""
    home = tmp_path_factory.mktemp("pre-commit-home")
    _SESSION["PRE_COMMIT_HOME"] = str(home)
    repo = _repository(tmp_path_factory.mktemp("warm-up"), head)
    started = time.monotonic()
    result = _pre_commit(repo, "install-hooks")
    took = time.monotonic() - started
    if result.returncode != 0:
        _unavailable(f"pre-commit could not install the hook's environment: {(result.stdout + result.stderr).strip()[-1500:]}")
    print(f"\npre-commit built planner-check's virtualenv in {took:.1f} s", file=sys.stderr)
    return str(home)


def test_the_hooks_environment_is_the_pins_and_nothing_heavy(pre_commit_home: str) -> None:
    """The virtualenv pre-commit built holds planner and exactly the pinned distributions (besides the pip
    and setuptools virtualenv seeds): none of the report's, AWS's or PostgreSQL's libraries."""
    environments = sorted(Path(pre_commit_home).glob("repo*/py_env-*"))
    assert len(environments) == 1, environments
    python = environments[0] / "bin" / "python"
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True, env=_env())
    assert listed.returncode == 0, listed.stderr
    installed = {canonicalize_name(n): v for n, _, v in (line.partition("==") for line in listed.stdout.splitlines())}
    seeds = {"pip", "setuptools", "wheel"}
    assert "planner" in installed
    assert {n: v for n, v in installed.items() if n not in seeds | {"planner"}} == _pins()


def _repository(where: Path, head: str, hook_options: str = "") -> Path:
    """Return a new git repository whose .pre-commit-config.yaml uses planner-check at ``head``."""
    where.mkdir(parents=True, exist_ok=True)
    assert _git(where, "init", "--quiet").returncode == 0
    (where / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {ROOT.as_posix()}\n    rev: {head}\n    hooks:\n      - id: planner-check\n{hook_options}",
        encoding="utf-8",
    )
    return where


def test_the_hook_passes_a_topology_within_budget_then_refuses_one_over(pre_commit_home: str, head: str, tmp_path: Path) -> None:
    repo = _repository(tmp_path / "repo", head)
    shutil.copy(PASSING, repo / "topology.yaml")
    _git(repo, "add", ".")
    started = time.monotonic()
    ok = _pre_commit(repo, "run", "planner-check", "--all-files")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert re.search(r"planner check \(connection budgets\)\.+Passed", ok.stdout), ok.stdout
    assert time.monotonic() - started < 60, "the hook's virtualenv was built again instead of reused"

    shutil.copy(OVER, repo / "topology.yaml")
    _git(repo, "add", ".")
    over = _pre_commit(repo, "run", "planner-check", "--all-files")
    assert over.returncode == 1, over.stdout + over.stderr
    assert "Failed" in over.stdout and "exit code: 1" in over.stdout
    assert re.search(r"main/writer\s+db\.t3\.micro .*OVER", over.stdout), over.stdout

    (repo / "topology.yaml").write_text("databases:\n  main:\n    instance_class: db.nope.large\n", encoding="utf-8")
    _git(repo, "add", ".")
    invalid = _pre_commit(repo, "run", "planner-check", "--all-files")
    assert invalid.returncode == 1 and "exit code: 2" in invalid.stdout, invalid.stdout
    assert "topology.yaml" in invalid.stdout and "Traceback" not in invalid.stdout


def test_the_hook_refuses_a_commit_over_budget(pre_commit_home: str, head: str, tmp_path: Path) -> None:
    repo = _repository(tmp_path / "repo", head)
    installed = _pre_commit(repo, "install")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    (repo / "infra").mkdir()
    shutil.copy(OVER, repo / "infra" / "topology-prod.yaml")
    (repo / "notes.yaml").write_text("not: a topology\n", encoding="utf-8")  # not picked by files:
    _git(repo, "add", ".")
    refused = _git(repo, "commit", "-m", "over budget")
    assert refused.returncode != 0, refused.stdout + refused.stderr
    assert "main/writer" in refused.stdout + refused.stderr
    assert _git(repo, "rev-parse", "--verify", "HEAD").returncode != 0, "the commit was made"

    shutil.copy(PASSING, repo / "infra" / "topology-prod.yaml")
    _git(repo, "add", ".")
    accepted = _git(repo, "commit", "-m", "within budget")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr


def test_files_in_the_config_narrows_the_hook(pre_commit_home: str, head: str, tmp_path: Path) -> None:
    repo = _repository(tmp_path / "repo", head, hook_options="        files: ^infra/.*\\.yaml$\n")
    shutil.copy(OVER, repo / "topology.yaml")  # over, but outside infra/
    (repo / "infra").mkdir()
    shutil.copy(PASSING, repo / "infra" / "shop.yaml")  # a name the default would not pick
    _git(repo, "add", ".")
    result = _pre_commit(repo, "run", "planner-check", "--all-files", "--verbose")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "lambda-proxy" in result.stdout and "shared-instance" not in result.stdout, result.stdout


def test_try_repo_runs_the_hook_on_a_throwaway_repository(head: str, tmp_path: Path) -> None:
    """`pre-commit try-repo`, as a user tries the hook before adding it to a config: one call, which
    builds its own virtualenv (its store is temporary whatever PRE_COMMIT_HOME says)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    assert _git(repo, "init", "--quiet").returncode == 0
    shutil.copy(OVER, repo / "topology.yaml")
    _git(repo, "add", ".")
    started = time.monotonic()
    tried = _pre_commit(repo, "try-repo", str(ROOT), "planner-check", "--ref", head, "--all-files")
    print(f"\npre-commit try-repo took {time.monotonic() - started:.1f} s", file=sys.stderr)
    if tried.returncode not in (0, 1) or "planner check (connection budgets)" not in tried.stdout:
        _unavailable(f"pre-commit try-repo could not run the hook: {(tried.stdout + tried.stderr).strip()[-1500:]}")
    assert tried.returncode == 1, tried.stdout + tried.stderr
    assert re.search(r"planner check \(connection budgets\)\.+Failed", tried.stdout), tried.stdout
    assert re.search(r"main/writer\s+db\.t3\.micro .*OVER", tried.stdout), tried.stdout
