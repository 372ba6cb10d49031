"""``make release`` (scripts/release.py) in a throwaway repository holding this checkout's files.

A release never leaves the machine (it prints the push and upload commands), so the whole of it runs
here: the preconditions it refuses, the build and the package index's checks, the tags it writes.
The suite's command is replaced (``RELEASE_TESTS``) by one that leaves a mark, or fails; the rest is
the real thing, with this virtualenv as the Makefile's (``VENV``): ``make release`` installs nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
URL = "https://github.com/example-org/planner"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "MAKEFLAGS", "MAKELEVEL")}
    env.update(GIT_AUTHOR_NAME="test", GIT_AUTHOR_EMAIL="test@example.com", GIT_COMMITTER_NAME="test",
               GIT_COMMITTER_EMAIL="test@example.com", NO_COLOR="1")  # fmt: skip
    return env


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env=_env())
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout.strip()


def _release(repo: Path, *options: str, tests: str = "true") -> subprocess.CompletedProcess[str]:
    """Run ``make release`` in ``repo`` with this virtualenv and ``tests`` as the suite's command."""
    return subprocess.run(["make", "--no-print-directory", "release", f"VENV={sys.prefix}", f"RELEASE_TESTS={tests}", *options],
                          cwd=repo, capture_output=True, text=True, env=_env())  # fmt: skip


def _refusal(result: subprocess.CompletedProcess[str]) -> str:
    """Return the one line a refused release printed, without its prefix."""
    assert result.returncode != 0, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("release: ")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0].removeprefix("release: ")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a repository on main whose one commit holds this checkout's files as they are now, its
    pyproject.toml naming the repository's URL as the first release requires."""
    repo = tmp_path_factory.mktemp("release") / "planner"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    with (repo / "pyproject.toml").open("a", encoding="utf-8") as pyproject:
        pyproject.write(f'\n[project.urls]\nSource = "{URL}"\n')
    _git(repo, "init", "--quiet", "--initial-branch=main")
    _git(repo, "add", "--all")
    _git(repo, "commit", "--quiet", "-m", "planner")
    return repo


@pytest.fixture
def repo(template: Path, tmp_path: Path) -> Path:
    """Return a fresh clone of the template, on main."""
    _git(tmp_path, "clone", "--quiet", str(template), "planner")
    return tmp_path / "planner"


def _bump(repo: Path, old: str, new: str) -> None:
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text(encoding="utf-8").replace(f'version = "{old}"', f'version = "{new}"'), encoding="utf-8")
    _git(repo, "commit", "--quiet", "--all", "-m", f"planner {new}")


def test_a_dry_run_tests_builds_and_checks_and_writes_no_tag(repo: Path, tmp_path: Path) -> None:
    mark = tmp_path / "suite-ran"
    result = _release(repo, "DRY_RUN=1", tests=f"touch {mark}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert mark.exists(), "the suite did not run"
    assert sorted(p.name for p in (repo / "dist").iterdir()) == ["planner-0.1.0-py3-none-any.whl", "planner-0.1.0.tar.gz"]
    assert "release: built and checked planner-0.1.0.tar.gz, planner-0.1.0-py3-none-any.whl" in result.stdout
    assert "would run: git tag --annotate v0.1.0 --message 'planner 0.1.0'" in result.stdout
    assert _git(repo, "tag", "--list") == ""
    assert _git(repo, "status", "--porcelain") == "", "the release changed the tree"


def test_a_release_tags_the_version_and_moves_the_major_tag(repo: Path, tmp_path: Path) -> None:
    first = _release(repo)
    assert first.returncode == 0, first.stdout + first.stderr
    head = _git(repo, "rev-parse", "HEAD")
    assert {tag: _git(repo, "rev-parse", f"{tag}^{{commit}}") for tag in _git(repo, "tag", "--list").split()} == {"v0": head, "v0.1.0": head}
    assert ("To publish, run:\n  git push origin main v0.1.0\n  git push --force origin v0    # the major tag moves\n"
            "  python -m twine upload dist/planner-0.1.0.tar.gz dist/planner-0.1.0-py3-none-any.whl\n") in first.stdout
    assert "git push" not in first.stderr and "upload" not in first.stderr

    _bump(repo, "0.1.0", "0.1.1")
    second = _release(repo)
    assert second.returncode == 0, second.stdout + second.stderr
    new_head = _git(repo, "rev-parse", "HEAD")
    assert _git(repo, "rev-parse", "v0^{commit}") == new_head != head
    assert _git(repo, "rev-parse", "v0.1.0^{commit}") == head and _git(repo, "rev-parse", "v0.1.1^{commit}") == new_head

    # pre-commit moves a config at v0.1.0 to v0.1.1, not to the moving tag v0 on the same commit
    consumer = tmp_path / "consumer"
    consumer.mkdir()
    _git(consumer, "init", "--quiet")
    config = consumer / ".pre-commit-config.yaml"
    config.write_text(f"repos:\n  - repo: {repo}\n    rev: v0.1.0\n    hooks:\n      - id: planner-check\n", encoding="utf-8")
    updated = subprocess.run([sys.executable, "-m", "pre_commit", "autoupdate", "--color", "never"], cwd=consumer,
                             capture_output=True, text=True, env=_env())  # fmt: skip
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert "rev: v0.1.1\n" in config.read_text(encoding="utf-8"), updated.stdout + config.read_text(encoding="utf-8")


def test_a_release_is_refused_while_the_tree_is_not_clean(repo: Path) -> None:
    with (repo / "README.md").open("a", encoding="utf-8") as readme:
        readme.write("\nan edit\n")
    assert _refusal(_release(repo)) == "the work tree is not clean: commit or remove README.md"
    _git(repo, "checkout", "README.md")
    (repo / "notes.txt").write_text("", encoding="utf-8")
    assert _refusal(_release(repo)) == "the work tree is not clean: commit or remove notes.txt"
    assert _git(repo, "tag", "--list") == "" and not (repo / "dist").exists()


def test_a_release_is_refused_off_main(repo: Path) -> None:
    _git(repo, "switch", "--quiet", "--create", "feature")
    assert _refusal(_release(repo)) == "on feature, not main: releases are tagged on main"
    _git(repo, "switch", "--quiet", "--detach", "HEAD")
    assert _refusal(_release(repo)) == "on a detached HEAD, not main: releases are tagged on main"


def test_a_release_is_refused_without_the_repositorys_url(repo: Path) -> None:
    pyproject = repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text(encoding="utf-8").replace(f'\n[project.urls]\nSource = "{URL}"\n', ""), encoding="utf-8")
    _git(repo, "commit", "--quiet", "--all", "-m", "no url")
    assert _refusal(_release(repo)).startswith("pyproject.toml: [project.urls] has no Source: add the repository's public URL")


def test_a_release_is_refused_for_a_version_already_released_or_older(repo: Path) -> None:
    _git(repo, "tag", "v0.1.0")
    assert _refusal(_release(repo)) == "v0.1.0 exists: raise project.version in pyproject.toml and commit"
    _git(repo, "tag", "v0.2.0")
    _bump(repo, "0.1.0", "0.1.5")
    assert _refusal(_release(repo)) == "v0.1.5 is older than the release v0.2.0: raise project.version in pyproject.toml"


def test_a_release_is_refused_when_the_suite_fails(repo: Path) -> None:
    assert _refusal(_release(repo, tests="false")) == "the suite failed (false)"
    assert _git(repo, "tag", "--list") == "" and not (repo / "dist").exists()
