"""action/github_comment.py: the pull request's planner comment, against a local fake GitHub API.

The script runs as the Action runs it, ``python3 action/github_comment.py``, in a subprocess
whose environment points GITHUB_API_URL at the fake server (tests/ci/fake_github.py), with the
workflow and job a runner sets (GITHUB_WORKFLOW, GITHUB_JOB), so the default marker is this job's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.ci.fake_github import ACTIONS_BOT, REPOSITORY, FakeGitHub, Limit, operation

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "action" / "github_comment.py"
LEGACY = "<!-- planner diff -->"  # what planner diff --format markdown ends with, and the comment's marker before issue 21
MARKER = "<!-- planner diff: connection budget / planner -->"  # GITHUB_WORKFLOW / GITHUB_JOB of _run
PR = 7
COMMENTS = f"/repos/{REPOSITORY}/issues/{PR}/comments"
LIST = ("GET", COMMENTS)
USER = ("GET", "/user")


@pytest.fixture
def event(tmp_path: Path) -> Path:
    path = tmp_path / "event.json"
    path.write_text(json.dumps({"action": "synchronize", "number": PR, "pull_request": {"number": PR}}), encoding="utf-8")
    return path


def _diff(tmp_path: Path, name: str, text: str, changed: bool) -> tuple[Path, Path]:
    """Write a diff's Markdown (ending with the marker, as planner diff writes it) and its JSON."""
    md, js = tmp_path / f"{name}.md", tmp_path / f"{name}.json"
    md.write_text(f"### planner diff: **shop** is ok\n\n{text}\n\n{LEGACY}", encoding="utf-8")
    js.write_text(json.dumps({"changed": changed, "status": "ok"}), encoding="utf-8")
    return md, js


def _run(github: FakeGitHub, event: Path, *args: str, token: str = "t0ken", **env: str) -> subprocess.CompletedProcess[str]:
    outputs = event.parent / "github_output"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    environment.update(GITHUB_API_URL=github.url, GITHUB_REPOSITORY=REPOSITORY, GITHUB_EVENT_PATH=str(event),
                       GITHUB_TOKEN=token, GITHUB_OUTPUT=str(outputs), GITHUB_WORKFLOW="connection budget", GITHUB_JOB="planner")  # fmt: skip
    environment.update(env)
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=environment, timeout=120)


def _outputs(event: Path) -> dict[str, str]:
    path = event.parent / "github_output"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return dict(line.split("=", 1) for line in lines)


def _bodies(github: FakeGitHub) -> list[tuple[str, str]]:
    """Return (author, body) of the pull request's comments, oldest first."""
    return [(c["user"]["login"], c["body"]) for c in github.comments.get(PR, [])]


# --------------------------------------------------------------------------- update (the default behaviour)


def test_the_first_run_creates_the_comment_and_the_next_updates_it(github: FakeGitHub, event: Path, tmp_path: Path) -> None:
    github.add(PR, "LGTM")  # someone else's comment stays untouched
    md, js = _diff(tmp_path, "one", "- cluster/writer: demand 620 → 1,080 (+460)", changed=True)
    first = _run(github, event, str(md), "--mode", "always", "--diff-json", str(js))
    assert first.returncode == 0, first.stderr
    assert github.calls() == [USER, LIST, ("POST", COMMENTS)]
    posted = github.requests[-1]
    assert posted.authorization == "Bearer t0ken"
    assert posted.body is not None and posted.body["body"].count(MARKER) == 1 and posted.body["body"].rstrip().endswith(MARKER)
    assert LEGACY not in posted.body["body"]
    created = github.comments[PR][-1]
    assert created["user"]["login"] == ACTIONS_BOT
    assert first.stderr.strip() == f"planner: comment {created['id']} created on #{PR}: {created['html_url']}"
    assert _outputs(event)["comment-id"] == str(created["id"])

    md2, js2 = _diff(tmp_path, "two", "- cluster/writer: demand 620 → 1,500 (+880)", changed=True)
    github.requests.clear()
    second = _run(github, event, str(md2), "--mode", "always", "--diff-json", str(js2))
    assert second.returncode == 0, second.stderr
    assert github.calls() == [USER, LIST, ("PATCH", f"/repos/{REPOSITORY}/issues/comments/{created['id']}")]
    assert len(github.comments[PR]) == 2 and "+880" in github.comments[PR][-1]["body"]
    assert github.comments[PR][0]["body"] == "LGTM"
    assert f"comment {created['id']} updated" in second.stderr

    github.requests.clear()
    third = _run(github, event, str(md2), "--mode", "always", "--diff-json", str(js2))
    assert third.returncode == 0 and github.calls() == [USER, LIST], "same body: no PATCH"
    assert "unchanged" in third.stderr


def test_on_change_posts_nothing_when_nothing_changed(github: FakeGitHub, event: Path, tmp_path: Path) -> None:
    md, js = _diff(tmp_path, "same", "No change in connection demand.", changed=False)
    result = _run(github, event, str(md), "--mode", "on-change", "--diff-json", str(js))
    assert result.returncode == 0, result.stderr
    assert github.calls() == [USER, LIST] and PR not in github.comments
    assert "no comment" in result.stderr
    # --changed (a topology new in the pull request) posts though the JSON says nothing changed
    forced = _run(github, event, str(md), "--mode", "on-change", "--diff-json", str(js), "--changed")
    assert forced.returncode == 0 and [m for m, _ in github.calls()][-1] == "POST"


def test_on_change_updates_an_earlier_comment_when_the_change_is_gone(github: FakeGitHub, event: Path, tmp_path: Path) -> None:
    earlier = github.add(PR, f"### planner diff\n\n- +460\n\n{MARKER}", user=ACTIONS_BOT)
    md, js = _diff(tmp_path, "reverted", "No change in connection demand.", changed=False)
    result = _run(github, event, str(md), "--mode", "on-change", "--diff-json", str(js))
    assert result.returncode == 0, result.stderr
    assert [m for m, _ in github.calls()] == ["GET", "GET", "PATCH"] and len(github.comments[PR]) == 1
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
    ours = github.add(PR, f"old diff\n\n{MARKER}", user=ACTIONS_BOT)  # on page 3 of 3
    md, js = _diff(tmp_path, "paged", "- +5", changed=True)
    result = _run(github, event, str(md), "--mode", "always", "--diff-json", str(js))
    assert result.returncode == 0, result.stderr
    gets = [r.path for r in github.requests if r.method == "GET" and r.path != "/user"]
    assert len(gets) == 3 and "page=3" in gets[-1], gets
    assert github.calls()[-1] == ("PATCH", f"/repos/{REPOSITORY}/issues/comments/{ours['id']}")
    assert len(github.comments[PR]) == 6


# --------------------------------------------------------------------------- whose comments: the author rule


def test_a_comment_with_the_marker_by_someone_else_is_left_alone(github: FakeGitHub, event: Path, tmp_path: Path) -> None:
    """Anyone can paste the marker into a comment; only the token's own account's comments are updated."""
    pasted = github.add(PR, f"quoting the bot:\n\n{MARKER}", user="mallory")
    md, js = _diff(tmp_path, "x", "- +1", changed=True)
    result = _run(github, event, str(md), "--mode", "always", "--diff-json", str(js))
    assert result.returncode == 0, result.stderr
    assert github.calls() == [USER, LIST, ("POST", COMMENTS)]
    assert pasted["body"] == f"quoting the bot:\n\n{MARKER}" and len(github.comments[PR]) == 2
    assert "left alone: comments with the marker by mallory (only github-actions[bot]'s are changed)" in result.stderr


def test_a_personal_token_updates_its_users_comments_only(github: FakeGitHub, event: Path, tmp_path: Path) -> None:
    """GET /user names a personal token's account; the Actions bot's comments are then someone else's."""
    github.token_user = "octocat"
    bots = github.add(PR, f"by the workflow token\n\n{MARKER}", user=ACTIONS_BOT)
    mine = github.add(PR, f"by octocat's token\n\n{MARKER}", user="octocat")
    md, js = _diff(tmp_path, "x", "- +7", changed=True)
    result = _run(github, event, str(md), "--mode", "always", "--diff-json", str(js))
    assert result.returncode == 0, result.stderr
    assert github.calls()[-1] == ("PATCH", f"/repos/{REPOSITORY}/issues/comments/{mine['id']}")
    assert "+7" in mine["body"] and bots["body"].startswith("by the workflow token")
    # --author names the account outright (another GitHub App's token, which GET /user refuses too)
    github.requests.clear()
    named = _run(github, event, str(md), "--mode", "always", "--diff-json", str(js), "--author", ACTIONS_BOT)
    assert named.returncode == 0, named.stderr
    assert github.calls() == [LIST, ("PATCH", f"/repos/{REPOSITORY}/issues/comments/{bots['id']}")]


def test_a_token_that_writes_as_another_account_than_assumed_says_so(github: FakeGitHub, event: Path, tmp_path: Path) -> None:
    github.token_user = "release-bot[bot]"
    md, js = _diff(tmp_path, "x", "- +1", changed=True)
    result = _run(github, event, str(md), "--mode", "always", "--diff-json", str(js), "--author", ACTIONS_BOT)
    assert result.returncode == 0, result.stderr
    assert "the token writes as release-bot[bot], not github-actions[bot]" in result.stderr
    assert "comment-author" in result.stderr


# --------------------------------------------------------------------------- the marker


def test_the_marker_of_earlier_versions_is_taken_over(github: FakeGitHub, event: Path, tmp_path: Path) -> None:
    """A pull request commented on before the marker named the job keeps one comment, now with the job's marker."""
    theirs = github.add(PR, f"someone's copy\n\n{LEGACY}", user="mallory")
    old = github.add(PR, f"### planner diff\n\n- +1\n\n{LEGACY}", user=ACTIONS_BOT)
    md, js = _diff(tmp_path, "x", "- +2", changed=True)
    result = _run(github, event, str(md), "--mode", "always", "--diff-json", str(js))
    assert result.returncode == 0, result.stderr
    assert github.calls()[-1] == ("PATCH", f"/repos/{REPOSITORY}/issues/comments/{old['id']}")
    assert old["body"].rstrip().endswith(MARKER) and LEGACY not in old["body"]
    assert theirs["body"].endswith(LEGACY) and len(github.comments[PR]) == 2


def test_two_jobs_on_one_pull_request_keep_a_comment_each(github: FakeGitHub, event: Path, tmp_path: Path) -> None:
    md, js = _diff(tmp_path, "x", "- +1", changed=True)
    for job in ("staging", "production", "staging"):
        result = _run(github, event, str(md), "--mode", "always", "--diff-json", str(js), GITHUB_JOB=job)
        assert result.returncode == 0, result.stderr
    markers = [body.rstrip().rsplit("\n", 1)[-1] for _, body in _bodies(github)]
    assert markers == ["<!-- planner diff: connection budget / staging -->", "<!-- planner diff: connection budget / production -->"]


@pytest.mark.parametrize(
    ("given", "written"),
    [
        ("prod", "<!-- planner diff: prod -->"),
        ("eu --> us\n<b>", "<!-- planner diff: eu - us b -->"),  # a "--" or ">" would end the HTML comment early
    ],
)
def test_marker_sets_the_text_of_the_marker(github: FakeGitHub, event: Path, tmp_path: Path, given: str, written: str) -> None:
    md, js = _diff(tmp_path, "x", "- +1", changed=True)
    result = _run(github, event, str(md), "--mode", "always", "--diff-json", str(js), "--marker", given)
    assert result.returncode == 0, result.stderr
    (author, body), = _bodies(github)
    assert body.rstrip().endswith(written) and body.count("<!--") == 1


# --------------------------------------------------------------------------- behaviours (infracost's names)


def test_new_posts_a_comment_on_every_run_with_something_new(github: FakeGitHub, event: Path, tmp_path: Path) -> None:
    for n in (1, 2, 2):
        md, js = _diff(tmp_path, f"run{n}", f"- +{n}", changed=True)
        result = _run(github, event, str(md), "--behavior", "new", "--mode", "always", "--diff-json", str(js))
        assert result.returncode == 0, result.stderr
    assert [("+1" in b, "+2" in b) for _, b in _bodies(github)] == [(True, False), (False, True)], "a re-run posts nothing twice"
    assert "unchanged" in result.stderr


def test_hide_and_new_minimizes_the_earlier_comments_as_outdated(github: FakeGitHub, event: Path, tmp_path: Path) -> None:
    hidden_before = github.add(PR, f"first\n\n{MARKER}", user=ACTIONS_BOT)
    hidden_before["minimized"] = True
    earlier = github.add(PR, f"second\n\n{MARKER}", user=ACTIONS_BOT)
    theirs = github.add(PR, f"pasted\n\n{MARKER}", user="mallory")
    md, js = _diff(tmp_path, "x", "- +3", changed=True)
    result = _run(github, event, str(md), "--behavior", "hide-and-new", "--mode", "always", "--diff-json", str(js))
    assert result.returncode == 0, result.stderr
    assert github.calls()[:3] == [USER, LIST, ("POST", COMMENTS)], "the new comment first: a refusal leaves the old ones shown"
    # one query for which are minimized already, one mutation for the comment that is not
    assert github.graphql_calls() == ["nodes", "minimizeComment"]
    mutation = github.requests[-1].body
    assert mutation is not None and mutation["variables"] == {"id": earlier["node_id"], "classifier": "OUTDATED"}
    assert earlier.get("classifier") == "OUTDATED" and "minimized" not in theirs
    assert len(github.comments[PR]) == 4 and "+3" in github.comments[PR][-1]["body"]
    assert "1 earlier comment(s) minimized as outdated (1 already were)" in result.stderr


def test_delete_and_new_deletes_the_earlier_comments(github: FakeGitHub, event: Path, tmp_path: Path) -> None:
    ours = [github.add(PR, f"run {n}\n\n{MARKER}", user=ACTIONS_BOT) for n in range(2)]
    other_job = github.add(PR, "other job\n\n<!-- planner diff: connection budget / staging -->", user=ACTIONS_BOT)
    theirs = github.add(PR, f"pasted\n\n{MARKER}", user="mallory")
    md, js = _diff(tmp_path, "x", "- +4", changed=True)
    result = _run(github, event, str(md), "--behavior", "delete-and-new", "--mode", "always", "--diff-json", str(js))
    assert result.returncode == 0, result.stderr
    assert github.calls()[2:] == [("POST", COMMENTS)] + [("DELETE", f"/repos/{REPOSITORY}/issues/comments/{c['id']}") for c in ours]
    assert [c["id"] for c in github.comments[PR]][:2] == [other_job["id"], theirs["id"]]
    assert len(github.comments[PR]) == 3 and "+4" in github.comments[PR][-1]["body"]


@pytest.mark.parametrize("behavior", ["new", "hide-and-new", "delete-and-new"])
def test_on_change_without_an_earlier_comment_posts_nothing_whatever_the_behavior(github: FakeGitHub, event: Path,
                                                                                  tmp_path: Path, behavior: str) -> None:  # fmt: skip
    md, js = _diff(tmp_path, "same", "No change in connection demand.", changed=False)
    result = _run(github, event, str(md), "--behavior", behavior, "--diff-json", str(js))
    assert result.returncode == 0 and github.calls() == [USER, LIST] and PR not in github.comments, result.stderr


# --------------------------------------------------------------------------- rate limits


def test_a_secondary_rate_limit_waits_retry_after_then_longer(github: FakeGitHub, event: Path, tmp_path: Path) -> None:
    github.limits = [Limit(403, {"retry-after": "1"}), Limit(429, {"retry-after": "1"})]
    md, js = _diff(tmp_path, "x", "- +1", changed=True)
    result = _run(github, event, str(md), "--mode", "always", "--diff-json", str(js))
    assert result.returncode == 0, result.stderr
    assert github.calls() == [USER, USER, USER, LIST, ("POST", COMMENTS)]
    first, second, third = (r.at for r in github.requests[:3])
    assert second - first >= 0.95 and third - second >= 1.95, "retry-after, then twice as long"
    waits = [line for line in result.stderr.splitlines() if "rate limit: waiting" in line]
    assert waits == ["planner: GitHub API GET /user: 403 secondary rate limit: waiting 1 s (retry 1 of 5)",
                     "planner: GitHub API GET /user: 429 secondary rate limit: waiting 2 s (retry 2 of 5)"]  # fmt: skip
    assert "created on #7 (after 3 s of rate-limit waits)" in result.stderr
    assert "permissions" not in result.stderr


def test_a_primary_rate_limit_waits_until_the_reset(github: FakeGitHub, event: Path, tmp_path: Path) -> None:
    reset = int(time.time()) + 2
    github.limits = [Limit(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}, "API rate limit exceeded")]
    github.add(PR, f"old\n\n{MARKER}", user=ACTIONS_BOT)
    md, js = _diff(tmp_path, "x", "- +1", changed=True)
    result = _run(github, event, str(md), "--mode", "always", "--diff-json", str(js))
    assert result.returncode == 0, result.stderr
    assert time.time() >= reset, "not retried before the reset"
    assert "403 primary rate limit: waiting" in result.stderr and github.calls()[-1][0] == "PATCH"


def test_a_graphql_rate_limit_answered_with_200_is_waited_out_and_writes_are_a_second_apart(github: FakeGitHub, event: Path,
                                                                                               tmp_path: Path) -> None:  # fmt: skip
    reset = int(time.time()) + 1
    github.limits = [Limit(200, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}, "API rate limit exceeded for installation",
                           path="/graphql", graphql="RATE_LIMITED")]  # fmt: skip
    earlier = [github.add(PR, f"run {n}\n\n{MARKER}", user=ACTIONS_BOT) for n in range(2)]
    md, js = _diff(tmp_path, "x", "- +1", changed=True)
    result = _run(github, event, str(md), "--behavior", "hide-and-new", "--mode", "always", "--diff-json", str(js))
    assert result.returncode == 0, result.stderr
    assert github.graphql_calls() == ["nodes", "nodes", "minimizeComment", "minimizeComment"]
    assert "POST /graphql: 200 primary rate limit: waiting" in result.stderr
    assert all(c.get("classifier") == "OUTDATED" for c in earlier)
    writes = [r.at for r in github.requests if r.method == "POST" and operation(r.body) != "nodes"]
    assert len(writes) == 3 and all(b - a >= 0.95 for a, b in zip(writes, writes[1:])), "a second between writes"


@pytest.mark.parametrize(
    ("limits", "stopped"),
    [
        # no header: GitHub's documentation says wait at least a minute, more than --max-wait allows
        ([Limit(403, {})], "next try in 60 s; stopped: it would wait more than --max-wait in all, 0 s waited"),
        ([Limit(429, {"retry-after": "2"})] * 3, "next try in 4 s; stopped: it would wait more than --max-wait in all, 2 s waited"),
    ],
)
def test_rate_limit_waits_are_bounded_and_the_failure_is_one_line(github: FakeGitHub, event: Path, tmp_path: Path,
                                                                  limits: list[Limit], stopped: str) -> None:  # fmt: skip
    github.limits = list(limits)
    md, js = _diff(tmp_path, "x", "- +1", changed=True)
    result = _run(github, event, str(md), "--mode", "always", "--diff-json", str(js), "--max-wait", "5")
    assert result.returncode == 1
    failure = result.stderr.strip().splitlines()[-1]
    assert failure.startswith("planner: GitHub API GET /user failed: ") and "secondary rate limit" in failure, result.stderr
    assert stopped in failure
    assert "permissions" not in result.stderr and "Traceback" not in result.stderr
    assert github.comments == {}


# --------------------------------------------------------------------------- refusals and usage


@pytest.mark.parametrize(
    ("status", "message", "where", "expected"),
    [
        # GET /user's 403 is the installation token's; the list's 403 is a token without access
        (403, "Resource not accessible by integration", COMMENTS,
         "403 Forbidden: Resource not accessible by integration (the token needs"),
        (500, "boom", "/user", "500 Internal Server Error: boom"),
    ],
)
def test_an_api_refusal_is_one_line_and_a_failure(github: FakeGitHub, event: Path, tmp_path: Path, status: int,
                                                  message: str, where: str, expected: str) -> None:  # fmt: skip
    github.refuse = (status, message)
    md, js = _diff(tmp_path, "x", "- +1", changed=True)
    result = _run(github, event, str(md), "--mode", "always", "--diff-json", str(js))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith(f"planner: GitHub API GET {where} failed: ") and expected in lines[0]
    assert "t0ken" not in result.stderr


def test_graphql_errors_are_one_line_and_a_failure(github: FakeGitHub, event: Path, tmp_path: Path) -> None:
    github.add(PR, f"old\n\n{MARKER}", user=ACTIONS_BOT)["can_minimize"] = False  # GraphQL answers with an error
    md, js = _diff(tmp_path, "x", "- +1", changed=True)
    result = _run(github, event, str(md), "--behavior", "hide-and-new", "--mode", "always", "--diff-json", str(js))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("planner: GitHub GraphQL mutation Minimize failed: github-actions[bot] does not have")


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
    empty_marker = _run(github, event, str(md), "--mode", "always", "--marker", "<>")
    assert empty_marker.returncode == 2 and "--marker is empty" in empty_marker.stderr
    assert github.requests == []


def test_a_long_diff_is_cut_below_githubs_limit(github: FakeGitHub, event: Path, tmp_path: Path) -> None:
    md, js = _diff(tmp_path, "long", "\n".join(f"| row {n} | {'x' * 80} |" for n in range(2000)), changed=True)
    result = _run(github, event, str(md), "--mode", "always", "--diff-json", str(js))
    assert result.returncode == 0, result.stderr
    body = github.comments[PR][-1]["body"]
    assert len(body) <= 65_536 and body.rstrip().endswith(MARKER) and "cut" in body
