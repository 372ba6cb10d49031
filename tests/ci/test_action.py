"""action.yml, the composite GitHub Action: its inputs, and its shell steps run as a runner runs them.

A small runner here reads action.yml, fills in the ``${{ }}`` expressions of each step's ``env``
and ``working-directory`` (inputs, github.action_path, runner.temp, earlier steps' outputs), and runs
each ``run:`` script with ``bash --noprofile --norc -eo pipefail`` (GitHub's ``shell: bash``), with
GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, GITHUB_PATH and GITHUB_EVENT_PATH in a temporary directory and
GITHUB_API_URL pointing at a local fake GitHub API (tests/ci/fake_github.py). The repository is a
clone of a local bare "origin" with a base branch and a pull request's branch.

Two steps are not run: actions/setup-python (the test's Python stands in) and "Install planner"
(``pip install`` of this checkout with the lock, ~1 minute; tests/packaging/test_wheel.py installs
the same package into a clean virtualenv). planner comes from this virtualenv's bin instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.ci.fake_github import REPOSITORY, FakeGitHub

ROOT = Path(__file__).resolve().parents[2]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
STEPS = ACTION["runs"]["steps"]
BIN = Path(sys.executable).parent
EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")
PR = 12
MARKER = "<!-- planner diff: connection budget / planner -->"  # the default: GITHUB_WORKFLOW / GITHUB_JOB
BROKEN = "databases:\n  main:\n    instance_class: db.nope.large\n"  # no version, no services, an unknown class


@dataclass
class Run:
    """What a run of the action did: each step's exit code and output, the summary, the outputs."""

    codes: dict[str, int] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    summary: str = ""

    @property
    def failed(self) -> int:
        """Return the exit code the job ends with (that of the first failing step), 0 when none failed."""
        return next((code for code in self.codes.values() if code), 0)

    @property
    def log(self) -> str:
        return "\n".join(self.logs.values())


def _git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=_git_env())
    assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
    return result.stdout


def _git_env() -> dict[str, str]:
    return {**os.environ, "GIT_AUTHOR_NAME": "dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
            "GIT_COMMITTER_NAME": "dev", "GIT_COMMITTER_EMAIL": "dev@example.com"}  # fmt: skip


def _expand(value: object, context: dict[str, str]) -> str:
    """Fill in ``${{ name }}`` from ``context`` (a name it lacks is empty, as on GitHub)."""
    return EXPRESSION.sub(lambda m: context.get(m.group(1), ""), str(value))


def run_action(workspace: Path, temp: Path, github: FakeGitHub, inputs: dict[str, str], event: dict[str, object],
               base_ref: str = "") -> Run:  # fmt: skip
    """Run action.yml's shell steps in ``workspace`` as a GitHub runner would."""
    temp.mkdir(parents=True, exist_ok=True)
    context = {"github.action_path": str(ROOT), "runner.temp": str(temp), "github.token": "t0ken", "github.base_ref": base_ref}
    unknown = set(inputs) - set(ACTION["inputs"])
    assert not unknown, f"not inputs of action.yml: {unknown}"
    for name, spec in ACTION["inputs"].items():
        context[f"inputs.{name}"] = inputs.get(name, _expand(spec.get("default", ""), context))
    event_path = temp / "event.json"
    event_path.write_text(json.dumps(event), encoding="utf-8")
    summary = temp / "step_summary.md"
    summary.touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_", "PLANNER_", "VIRTUAL_ENV"))}
    env.update(_git_env())
    env.update(PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", GITHUB_STEP_SUMMARY=str(summary), GITHUB_PATH=str(temp / "path"),
               GITHUB_EVENT_PATH=str(event_path), GITHUB_REPOSITORY=REPOSITORY, GITHUB_API_URL=github.url,
               GITHUB_ACTION_PATH=str(ROOT), GITHUB_WORKSPACE=str(workspace), RUNNER_TEMP=str(temp), NO_COLOR="1",
               GITHUB_WORKFLOW="connection budget", GITHUB_JOB="planner")  # fmt: skip
    run = Run()
    for number, step in enumerate(STEPS):
        key = step.get("id", f"step{number}")
        if "uses" in step or key == "install":
            continue
        outputs = temp / f"output-{key}"
        outputs.write_text("", encoding="utf-8")
        script = temp / f"{key}.sh"
        script.write_text(step["run"], encoding="utf-8")
        step_env = {**env, **{k: _expand(v, context) for k, v in (step.get("env") or {}).items()}, "GITHUB_OUTPUT": str(outputs)}
        cwd = workspace / _expand(step.get("working-directory", "."), context)
        result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=cwd, env=step_env,
                                capture_output=True, text=True, timeout=300)  # fmt: skip
        run.codes[key], run.logs[key] = result.returncode, result.stdout + result.stderr
        run.outputs[key] = dict(line.split("=", 1) for line in outputs.read_text(encoding="utf-8").splitlines() if "=" in line)
        context.update({f"steps.{key}.outputs.{k}": v for k, v in run.outputs[key].items()})
        if result.returncode:
            break  # later steps have no `if: always()`: the runner skips them
    run.summary = summary.read_text(encoding="utf-8")
    return run


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def pull_request(tmp_path: Path) -> Path:
    """Return a clone whose main (on origin) has infra/topology.yaml within budget, checked out on a
    pull request's branch; origin/main is not fetched yet, as after actions/checkout of a pull request."""
    return _pull_request(tmp_path, (ROOT / "examples" / "lambda-proxy.yaml").read_text(encoding="utf-8"))


def _pull_request(tmp_path: Path, base: str) -> Path:
    """Return the clone of ``pull_request`` with ``base`` as main's infra/topology.yaml."""
    if shutil.which("git") is None:
        if os.environ.get("CI"):
            pytest.fail("git is not on PATH")
        pytest.skip("git is not on PATH")
    seed = tmp_path / "seed"
    (seed / "infra").mkdir(parents=True)
    (seed / "infra" / "topology.yaml").write_text(base, encoding="utf-8")
    _git(seed, "init", "--quiet", "--initial-branch", "main")
    _git(seed, "add", ".")
    _git(seed, "commit", "--quiet", "-m", "base")
    _git(tmp_path, "clone", "--quiet", "--bare", str(seed), "origin.git")
    work = tmp_path / "work"
    _git(tmp_path, "clone", "--quiet", str(tmp_path / "origin.git"), "work")
    _git(work, "checkout", "--quiet", "-b", "feature")
    _git(work, "update-ref", "-d", "refs/remotes/origin/main")
    return work


def _commit(work: Path, path: str, text: str) -> None:
    (work / path).parent.mkdir(parents=True, exist_ok=True)
    (work / path).write_text(text, encoding="utf-8")
    _git(work, "add", path)
    _git(work, "commit", "--quiet", "-m", f"change {path}")


def _replicas(count: int) -> str:
    return (ROOT / "examples" / "lambda-proxy.yaml").read_text(encoding="utf-8").replace("replicas: 2\n", f"replicas: {count}\n")


PR_EVENT = {"action": "synchronize", "number": PR, "pull_request": {"number": PR}}


# --------------------------------------------------------------------------- the definition


def test_the_inputs_and_outputs() -> None:
    assert set(ACTION["inputs"]) == {"topologies", "fail-on", "annotations", "summary", "diff-base", "comment", "comment-behavior",
                                     "comment-marker", "comment-author", "github-token", "python-version",
                                     "working-directory"}  # fmt: skip
    assert ACTION["inputs"]["topologies"]["required"] is True
    assert ACTION["inputs"]["comment"]["default"] == "on-change"
    assert ACTION["inputs"]["comment-behavior"]["default"] == "update"
    assert ACTION["inputs"]["comment-marker"]["default"] == ACTION["inputs"]["comment-author"]["default"] == ""
    for name in ("update", "new", "hide-and-new", "delete-and-new"):
        assert name in ACTION["inputs"]["comment-behavior"]["description"]
    assert ACTION["inputs"]["diff-base"]["default"] == "${{ github.base_ref }}"
    assert ACTION["inputs"]["github-token"]["default"] == "${{ github.token }}"
    assert ACTION["runs"]["using"] == "composite"
    assert set(ACTION["outputs"]) == {"exit-code", "changed", "comment-url"}


def test_the_scripts_take_inputs_from_env_only() -> None:
    """An expression pasted into a script would let a branch or file name inject shell."""
    for step in STEPS:
        if "run" in step:
            assert step["shell"] == "bash"
            assert "${{" not in step["run"], f"{step['name']}: pass expressions through env"


def test_the_install_step_installs_this_repository_with_the_lock() -> None:
    install = next(s for s in STEPS if s.get("id") == "install")
    assert install["env"]["PIP_CONSTRAINT"] == "${{ github.action_path }}/requirements.lock"
    assert '--constraint "$ACTION_PATH/requirements.lock" "$ACTION_PATH"' in install["run"]
    assert (ROOT / "requirements.lock").is_file() and (ROOT / "pyproject.toml").is_file()
    assert (ROOT / "action" / "github_comment.py").is_file()  # what the comment step runs from the action's path


# --------------------------------------------------------------------------- runs


def test_a_pull_request_over_budget_annotates_summarises_comments_and_fails(pull_request: Path, github: FakeGitHub,
                                                                            tmp_path: Path) -> None:  # fmt: skip
    _commit(pull_request, "infra/topology.yaml", _replicas(200))
    inputs = {"topologies": "topology.yaml", "working-directory": "infra"}
    run = run_action(pull_request, tmp_path / "runner", github, inputs, PR_EVENT, base_ref="main")
    assert run.codes == {"check": 0, "diff": 0, "comment": 0, "step5": 1}, run.log
    assert run.outputs["check"]["exit-code"] == "1" and run.outputs["diff"]["changed"] == "true"
    assert "::error file=topology.yaml" in run.logs["check"] and "over budget" in run.logs["step5"]
    # the summary: check's Markdown verdict (written by --format github), then the diff
    assert run.summary.index("lambda-proxy") < run.summary.index("### planner diff")
    assert "base **git:origin/main:infra/topology.yaml** → head **topology.yaml**" in run.summary
    assert github.calls() == [("GET", "/user"), ("GET", f"/repos/{REPOSITORY}/issues/{PR}/comments"),
                              ("POST", f"/repos/{REPOSITORY}/issues/{PR}/comments")]  # fmt: skip
    body = github.comments[PR][0]["body"]
    assert body.count(MARKER) == 1 and "reports" in body and "OVER" in body.upper()
    first_id = github.comments[PR][0]["id"]

    # another push: the same comment is updated, not a second one posted
    _commit(pull_request, "infra/topology.yaml", _replicas(300))
    again = run_action(pull_request, tmp_path / "runner2", github, inputs, PR_EVENT, base_ref="main")
    assert again.failed == 1 and again.codes["comment"] == 0, again.log
    assert github.calls()[-1] == ("PATCH", f"/repos/{REPOSITORY}/issues/comments/{first_id}")
    assert len(github.comments[PR]) == 1


def test_no_change_passes_and_posts_nothing_on_change(pull_request: Path, github: FakeGitHub, tmp_path: Path) -> None:
    _commit(pull_request, "README.md", "unrelated\n")
    run = run_action(pull_request, tmp_path / "runner", github, {"topologies": "infra/topology.yaml"}, PR_EVENT, base_ref="main")
    assert run.failed == 0 and run.codes["step5"] == 0, run.log
    assert run.outputs["diff"]["changed"] == "false"
    assert github.calls() == [("GET", "/user"), ("GET", f"/repos/{REPOSITORY}/issues/{PR}/comments")] and PR not in github.comments
    assert "No change in connection demand." in run.summary


def test_globs_a_new_topology_and_the_plain_log(pull_request: Path, github: FakeGitHub, tmp_path: Path) -> None:
    _commit(pull_request, "infra/eu/topology-eu.yaml", (ROOT / "examples" / "pgbouncer-fleet.yaml").read_text(encoding="utf-8"))
    inputs = {"topologies": "infra/**/topology*.yaml\n", "annotations": "false", "comment": "always"}
    run = run_action(pull_request, tmp_path / "runner", github, inputs, PR_EVENT, base_ref="main")
    assert run.failed == 0, run.log
    assert "::error" not in run.logs["check"] and "INSTANCE" in run.logs["check"]  # the text report
    assert "### planner: 2 topologies, ✅ ok" in run.summary and "| pgbouncer-fleet | infra/eu/topology-eu.yaml |" in run.summary
    body = github.comments[PR][0]["body"]
    assert "**infra/eu/topology-eu.yaml** is new" in body and "### planner diff: **lambda-proxy**" in body


def test_a_push_checks_without_diff_or_comment(pull_request: Path, github: FakeGitHub, tmp_path: Path) -> None:
    push = {"ref": "refs/heads/main", "commits": []}
    run = run_action(pull_request, tmp_path / "runner", github, {"topologies": "infra/*.yaml", "summary": "false"}, push)
    assert run.failed == 0, run.log
    assert "no diff" in run.logs["diff"] and github.requests == [] and run.summary == ""


def test_fail_on_warn_and_never_comment(pull_request: Path, github: FakeGitHub, tmp_path: Path) -> None:
    warn = next(n for n in range(100, 200, 5) if _status(pull_request, _replicas(n)) == "warn")
    _commit(pull_request, "infra/topology.yaml", _replicas(warn))
    inputs = {"topologies": "infra/topology.yaml", "comment": "never"}
    passing = run_action(pull_request, tmp_path / "r1", github, inputs, PR_EVENT, base_ref="main")
    assert passing.failed == 0 and "::warning" in passing.logs["check"], passing.log
    failing = run_action(pull_request, tmp_path / "r2", github, {**inputs, "fail-on": "warn"}, PR_EVENT, base_ref="main")
    assert failing.failed == 1 and failing.outputs["check"]["exit-code"] == "1", failing.log
    assert github.requests == []


def _status(work: Path, text: str) -> str:
    probe = work.parent / "probe.yaml"
    probe.write_text(text, encoding="utf-8")
    out = subprocess.run([str(BIN / "planner"), "check", str(probe), "--format", "json"], capture_output=True, text=True).stdout
    return json.loads(out)["status"]


@pytest.mark.parametrize("topologies", ["nothing/*.yaml", "infra/topology.yaml nothing/**/*.toml"])
def test_a_pattern_matching_nothing_fails_with_an_annotation(pull_request: Path, github: FakeGitHub, tmp_path: Path,
                                                             topologies: str) -> None:  # fmt: skip
    run = run_action(pull_request, tmp_path / "runner", github, {"topologies": topologies}, PR_EVENT, base_ref="main")
    assert run.codes == {"check": 2}, run.log
    assert re.search(r"::error title=planner::topologies: 'nothing/\S+' matches no file", run.logs["check"])


def test_an_invalid_topology_fails_with_exit_2_and_no_diff(pull_request: Path, github: FakeGitHub, tmp_path: Path) -> None:
    _commit(pull_request, "infra/topology.yaml", "databases:\n  main:\n    instance_class: db.nope.large\n")
    run = run_action(pull_request, tmp_path / "runner", github, {"topologies": "infra/topology.yaml"}, PR_EVENT, base_ref="main")
    assert run.outputs["check"]["exit-code"] == "2" and run.failed == 2, run.log
    assert "no diff" in run.logs["diff"] and github.requests == []


def test_a_refused_comment_warns_and_leaves_the_verdict_to_check(pull_request: Path, github: FakeGitHub, tmp_path: Path) -> None:
    _commit(pull_request, "infra/topology.yaml", _replicas(3))
    github.refuse = (403, "Resource not accessible by integration")
    run = run_action(pull_request, tmp_path / "runner", github, {"topologies": "infra/topology.yaml"}, PR_EVENT, base_ref="main")
    assert run.codes == {"check": 0, "diff": 0, "comment": 0, "step5": 0}, run.log
    assert "planner: GitHub API GET" in run.logs["comment"] and "403 Forbidden" in run.logs["comment"]
    assert "::warning title=planner::the pull request comment was not written" in run.logs["comment"]


# --------------------------------------------------------------------------- a base that cannot be compared


def test_a_broken_base_is_said_and_the_fixed_head_passes(tmp_path: Path, github: FakeGitHub) -> None:
    """The pull request that repairs an invalid topology is not blocked by the base it repairs."""
    work = _pull_request(tmp_path, BROKEN)
    _commit(work, "infra/topology.yaml", _replicas(2))
    run = run_action(work, tmp_path / "runner", github, {"topologies": "infra/topology.yaml"}, PR_EVENT, base_ref="main")
    assert run.codes == {"check": 0, "diff": 0, "comment": 0, "step5": 0}, run.log
    assert run.outputs["check"]["exit-code"] == "0" and run.outputs["diff"]["changed"] == "true"
    why = ("The base's topology is invalid: git:origin/main:infra/topology.yaml: version: missing required key 'version' "
           "(add `version: 1` at the top of the file) (and 1 more in the log); nothing to compare, planner check on the head decides.")  # fmt: skip
    assert f"### planner diff: **infra/topology.yaml**\n\n{why}" in run.summary
    (comment,) = github.comments[PR]
    assert why in comment["body"] and comment["body"].rstrip().endswith(MARKER)
    # the log keeps every line planner wrote about the base
    assert "git:origin/main:infra/topology.yaml: services: missing required key 'services'" in run.logs["diff"]


def test_a_broken_head_fails_whatever_the_base(tmp_path: Path, github: FakeGitHub) -> None:
    work = _pull_request(tmp_path, BROKEN)
    _commit(work, "infra/topology.yaml", BROKEN.replace("db.nope.large", "db.nope.xlarge"))
    run = run_action(work, tmp_path / "runner", github, {"topologies": "infra/topology.yaml"}, PR_EVENT, base_ref="main")
    assert run.outputs["check"]["exit-code"] == "2" and run.failed == 2, run.log
    assert "no diff" in run.logs["diff"] and github.requests == []


def test_a_base_branch_that_cannot_be_fetched_is_said_and_check_decides(pull_request: Path, github: FakeGitHub,
                                                                        tmp_path: Path) -> None:  # fmt: skip
    _commit(pull_request, "infra/topology.yaml", _replicas(200))
    inputs = {"topologies": "infra/topology.yaml", "diff-base": "release/2026"}
    run = run_action(pull_request, tmp_path / "runner", github, inputs, PR_EVENT, base_ref="main")
    assert run.codes == {"check": 0, "diff": 0, "comment": 0, "step5": 1}, run.log  # over budget: check's verdict
    assert re.search(r"### planner diff: \*\*origin/release/2026\*\*\n\nThe base branch cannot be fetched: fatal: .+; "
                     r"nothing to compare, planner check on the head decides\.", run.summary), run.summary  # fmt: skip
    assert "cannot be fetched" in github.comments[PR][0]["body"]


def test_the_comment_inputs_reach_the_script(pull_request: Path, github: FakeGitHub, tmp_path: Path) -> None:
    _commit(pull_request, "infra/topology.yaml", _replicas(3))
    inputs = {"topologies": "infra/topology.yaml", "comment": "always", "comment-behavior": "delete-and-new", "comment-marker": "eu"}
    first = run_action(pull_request, tmp_path / "r1", github, inputs, PR_EVENT, base_ref="main")
    assert first.failed == 0, first.log
    (earlier,) = github.comments[PR]
    assert earlier["body"].rstrip().endswith("<!-- planner diff: eu -->")
    _commit(pull_request, "infra/topology.yaml", _replicas(4))
    second = run_action(pull_request, tmp_path / "r2", github, inputs, PR_EVENT, base_ref="main")
    assert second.failed == 0, second.log
    (latest,) = github.comments[PR]
    assert latest["id"] != earlier["id"] and ("DELETE", f"/repos/{REPOSITORY}/issues/comments/{earlier['id']}") in github.calls()
    # comment-author names the account whose comments are the job's: none of the bot's is then
    author = run_action(pull_request, tmp_path / "r3", github, {**inputs, "comment-author": "octocat"}, PR_EVENT, base_ref="main")
    assert author.failed == 0 and len(github.comments[PR]) == 2 and "not octocat" in author.logs["comment"], author.log
