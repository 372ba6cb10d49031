"""action/github_comment.py: one pull-request comment per pull request, against a local fake GitHub API.

The script runs as the Action runs it, ``python3 action/github_comment.py``, in a subprocess
whose environment points GITHUB_API_URL at the fake server (tests/ci/fake_github.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ci.fake_github import REPOSITORY, FakeGitHub

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "action" / "github_comment.py"
MARKER = "<!-- planner diff -->"
PR = 7


@pytest.fixture
def event(tmp_path: Path) -> Path:
    path = tmp_path / "event.json"
    path.write_text(json.dumps({"action": "synchronize", "number": PR, "pull_request": {"number": PR}}), encoding="utf-8")
    return path


def _diff(tmp_path: Path, name: str, text: str, changed: bool) -> tuple[Path, Path]:
    """Write a diff's Markdown (ending with the marker, as planner diff writes it) and its JSON."""
    md, js = tmp_path / f"{name}.md", tmp_path / f"{name}.json"
    md.write_text(f"### planner diff: **shop** is ok\n\n{text}\n\n{MARKER}", encoding="utf-8")
    js.write_text(json.dumps({"changed": changed, "status": "ok"}), encoding="utf-8")
    return md, js


def _run(github: FakeGitHub, event: Path, *args: str, token: str = "t0ken", **env: str) -> subprocess.CompletedProcess[str]:
    outputs = event.parent / "github_output"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    environment.update(GITHUB_API_URL=github.url, GITHUB_REPOSITORY=REPOSITORY, GITHUB_EVENT_PATH=str(event),
                       GITHUB_TOKEN=token, GITHUB_OUTPUT=str(outputs), **env)  # fmt: skip
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=environment, timeout=60)


def _outputs(event: Path) -> dict[str, str]:
    path = event.parent / "github_output"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return dict(line.split("=", 1) for line in lines)


def test_the_first_run_creates_the_comment_and_the_next_updates_it(github: FakeGitHub, event: Path, tmp_path: Path) -> None:
    github.add(PR, "LGTM")  # someone else's comment stays untouched
    md, js = _diff(tmp_path, "one", "- cluster/writer: demand 620 → 1,080 (+460)", changed=True)
    first = _run(github, event, str(md), "--mode", "always", "--diff-json", str(js))
    assert first.returncode == 0, first.stderr
    assert github.calls() == [("GET", f"/repos/{REPOSITORY}/issues/{PR}/comments"), ("POST", f"/repos/{REPOSITORY}/issues/{PR}/comments")]
    posted = github.requests[-1]
    assert posted.authorization == "Bearer t0ken"
    assert posted.body is not None and posted.body["body"].count(MARKER) == 1 and posted.body["body"].rstrip().endswith(MARKER)
    created = github.comments[PR][-1]
    assert first.stderr.strip() == f"planner: comment {created['id']} created on #{PR}: {created['html_url']}"
    assert _outputs(event)["comment-id"] == str(created["id"])

    md2, js2 = _diff(tmp_path, "two", "- cluster/writer: demand 620 → 1,500 (+880)", changed=True)
    github.requests.clear()
    second = _run(github, event, str(md2), "--mode", "always", "--diff-json", str(js2))
    assert second.returncode == 0, second.stderr
    assert github.calls() == [("GET", f"/repos/{REPOSITORY}/issues/{PR}/comments"),
                              ("PATCH", f"/repos/{REPOSITORY}/issues/comments/{created['id']}")]  # fmt: skip
    assert len(github.comments[PR]) == 2 and "+880" in github.comments[PR][-1]["body"]
    assert github.comments[PR][0]["body"] == "LGTM"
    assert f"comment {created['id']} updated" in second.stderr

    github.requests.clear()
    third = _run(github, event, str(md2), "--mode", "always", "--diff-json", str(js2))
    assert third.returncode == 0 and github.calls() == [("GET", f"/repos/{REPOSITORY}/issues/{PR}/comments")], "same body: no PATCH"
    assert "unchanged" in third.stderr


def test_on_change_posts_nothing_when_nothing_changed(github: FakeGitHub, event: Path, tmp_path: Path) -> None:
    md, js = _diff(tmp_path, "same", "No change in connection demand.", changed=False)
    result = _run(github, event, str(md), "--mode", "on-change", "--diff-json", str(js))
    assert result.returncode == 0, result.stderr
    assert [m for m, _ in github.calls()] == ["GET"] and PR not in github.comments
    assert "no comment" in result.stderr
    # --changed (a topology new in the pull request) posts though the JSON says nothing changed
    forced = _run(github, event, str(md), "--mode", "on-change", "--diff-json", str(js), "--changed")
    assert forced.returncode == 0 and [m for m, _ in github.calls()][-1] == "POST"


def test_on_change_updates_an_earlier_comment_when_the_change_is_gone(github: FakeGitHub, event: Path, tmp_path: Path) -> None:
    earlier = github.add(PR, f"### planner diff\n\n- +460\n\n{MARKER}", user="github-actions[bot]")
    md, js = _diff(tmp_path, "reverted", "No change in connection demand.", changed=False)
    result = _run(github, event, str(md), "--mode", "on-change", "--diff-json", str(js))
    assert result.returncode == 0, result.stderr
    assert [m for m, _ in github.calls()] == ["GET", "PATCH"] and len(github.comments[PR]) == 1
    assert "No change" in earlier["body"]


def test_never_and_events_without_a_pull_request_call_nothing(github: FakeGitHub, event: Path, tmp_path: Path) -> None:
    md, js = _diff(tmp_path, "x", "- +1", changed=True)
    assert _run(github, event, str(md), "--mode", "never").returncode == 0
    event.write_text(json.dumps({"ref": "refs/heads/main", "commits": []}), encoding="utf-8")  # a push
    push = _run(github, event, str(md), "--mode", "always", "--diff-json", str(js))
    assert push.returncode == 0 and "not a pull request" in push.stderr
    assert github.requests == []


def test_the_comments_list_is_followed_across_pages(github: FakeGitHub, event: Path, tmp_path: Path) -> None:
    github.page_size = 2
    for n in range(5):
        github.add(PR, f"comment {n}")
    ours = github.add(PR, f"old diff\n\n{MARKER}", user="github-actions[bot]")  # on page 3 of 3
    md, js = _diff(tmp_path, "paged", "- +5", changed=True)
    result = _run(github, event, str(md), "--mode", "always", "--diff-json", str(js))
    assert result.returncode == 0, result.stderr
    gets = [r.path for r in github.requests if r.method == "GET"]
    assert len(gets) == 3 and "page=3" in gets[-1], gets
    assert github.calls()[-1] == ("PATCH", f"/repos/{REPOSITORY}/issues/comments/{ours['id']}")
    assert len(github.comments[PR]) == 6


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        (403, "Resource not accessible by integration", "403 Forbidden: Resource not accessible by integration (the token needs"),
        (500, "boom", "500 Internal Server Error: boom"),
    ],
)
def test_an_api_refusal_is_one_line_and_a_failure(github: FakeGitHub, event: Path, tmp_path: Path, status: int,
                                                  message: str, expected: str) -> None:  # fmt: skip
    github.refuse = (status, message)
    md, js = _diff(tmp_path, "x", "- +1", changed=True)
    result = _run(github, event, str(md), "--mode", "always", "--diff-json", str(js))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(f"planner: GitHub API GET /repos/{REPOSITORY}/issues/{PR}/comments failed: ") and expected in lines[0]
    assert "t0ken" not in result.stderr


def test_an_unreachable_api_is_one_line_and_a_failure(event: Path, tmp_path: Path, github: FakeGitHub) -> None:
    md, js = _diff(tmp_path, "x", "- +1", changed=True)
    closed = FakeGitHub(url="http://127.0.0.1:9")  # the discard port: nothing listens
    result = _run(closed, event, str(md), "--mode", "always", "--diff-json", str(js))
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "cannot reach http://127.0.0.1:9" in result.stderr


def test_usage_errors_are_one_line_and_exit_2(github: FakeGitHub, event: Path, tmp_path: Path) -> None:
    md, js = _diff(tmp_path, "x", "- +1", changed=True)
    no_token = _run(github, event, str(md), "--mode", "always", token="")
    assert no_token.returncode == 2 and "GITHUB_TOKEN is empty" in no_token.stderr
    (tmp_path / "bad.json").write_text("{}", encoding="utf-8")
    bad = _run(github, event, str(md), "--mode", "on-change", "--diff-json", str(tmp_path / "bad.json"))
    assert bad.returncode == 2 and "not a planner diff --format json document" in bad.stderr
    missing = _run(github, event, str(tmp_path / "nope.md"), "--mode", "always")
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    assert github.requests == []


def test_a_long_diff_is_cut_below_githubs_limit(github: FakeGitHub, event: Path, tmp_path: Path) -> None:
    md, js = _diff(tmp_path, "long", "\n".join(f"| row {n} | {'x' * 80} |" for n in range(2000)), changed=True)
    result = _run(github, event, str(md), "--mode", "always", "--diff-json", str(js))
    assert result.returncode == 0, result.stderr
    body = github.comments[PR][-1]["body"]
    assert len(body) <= 65_536 and body.rstrip().endswith(MARKER) and "cut" in body
