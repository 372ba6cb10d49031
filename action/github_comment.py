"""Post or update the one pull-request comment of ``planner diff`` (the GitHub Action's last step).

Standard library only: the Action runs it with any Python. It reads the comment's Markdown from
BODY (``planner diff --format markdown`` output, several topologies' one after another), finds the
comment an earlier run wrote by the marker ``<!-- planner diff -->`` (the Markdown diff ends with
it) among the pull request's comments, following the list's pages, and updates that comment in
place (PATCH) or, when there is none, creates it (POST). So a pull request has one planner
comment however often it is pushed to.

--mode always     post or update on every run
--mode on-change  post only when a diff changed something (``changed`` of ``planner diff
                  --format json``, given with --diff-json, or --changed); when nothing changed,
                  an earlier comment is updated to say so (it would otherwise show a change the
                  pull request no longer makes) and no new comment is created
--mode never      do nothing

Environment: GITHUB_TOKEN (or --token-env NAME), GITHUB_REPOSITORY (owner/name), GITHUB_EVENT_PATH
(the event's JSON: the pull request's number), GITHUB_API_URL (default https://api.github.com),
GITHUB_OUTPUT (optional: comment-id, comment-url and action are written to it).
Exit 0 when done (or nothing to do: not a pull request, never, no change), 1 when the GitHub API
refuses or cannot be reached, 2 for a usage error; either way one line on stderr says why.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

MARKER = "<!-- planner diff -->"  # planner/render/diff.py COMMENT_MARKER
MODES = ("always", "on-change", "never")
TIMEOUT = 30
# GitHub refuses bodies above 65,536 characters.
MAX_BODY = 65_000


class Failure(Exception):
    """A reason to stop, said in one line; ``code`` is the exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class GitHub:
    """The few REST calls the comment needs, on the repository's issue comments."""

    def __init__(self, api_url: str, repository: str, token: str) -> None:
        self.api_url = api_url.rstrip("/")
        self.repository = repository
        self.token = token

    def request(self, method: str, url: str, body: dict[str, Any] | None = None) -> tuple[Any, dict[str, str]]:
        """Send one request; return its decoded JSON (None when empty) and headers."""
        if not url.startswith(("http://", "https://")):
            url = f"{self.api_url}{url}"
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Accept": "application/vnd.github+json", "Authorization": f"Bearer {self.token}",
                   "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "planner-action"}  # fmt: skip
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        path = urllib.parse.urlsplit(url).path
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                raw = response.read()
                return (json.loads(raw) if raw.strip() else None), dict(response.headers)
        except urllib.error.HTTPError as exc:
            raise Failure(f"GitHub API {method} {path} failed: {exc.code} {exc.reason}{_explain(exc)}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Failure(f"GitHub API {method} {path} failed: cannot reach {self.api_url}: {reason}") from None
        except json.JSONDecodeError:
            raise Failure(f"GitHub API {method} {path} answered with something that is not JSON") from None

    def comments(self, number: int) -> list[dict[str, Any]]:
        """Return every comment of issue or pull request ``number``, following the Link header's pages."""
        url: str | None = f"/repos/{self.repository}/issues/{number}/comments?per_page=100"
        found: list[dict[str, Any]] = []
        seen: set[str] = set()
        while url and url not in seen:
            seen.add(url)
            page, headers = self.request("GET", url)
            if not isinstance(page, list):
                raise Failure(f"GitHub API GET /repos/{self.repository}/issues/{number}/comments answered with no list")
            found.extend(page)
            url = _next_page(headers)
        return found

    def create(self, number: int, body: str) -> dict[str, Any]:
        created, _ = self.request("POST", f"/repos/{self.repository}/issues/{number}/comments", {"body": body})
        return created

    def update(self, comment_id: int, body: str) -> dict[str, Any]:
        updated, _ = self.request("PATCH", f"/repos/{self.repository}/issues/comments/{comment_id}", {"body": body})
        return updated


def _explain(exc: urllib.error.HTTPError) -> str:
    """Return GitHub's message and, for the usual refusals, what to change in the workflow."""
    try:
        message = json.loads(exc.read() or b"{}").get("message", "")
    except (ValueError, AttributeError):
        message = ""
    hint = ""
    if exc.code in (401, 403, 404):
        hint = " (the token needs `permissions: pull-requests: write`; pull requests from forks get a read-only token)"
    return (f": {message}" if message else "") + hint


def _next_page(headers: dict[str, str]) -> str | None:
    """Return the rel="next" URL of a Link header, if any."""
    link = next((v for k, v in headers.items() if k.lower() == "link"), "")
    for part in link.split(","):
        match = re.match(r'\s*<([^>]+)>\s*;(.*)', part)
        if match and re.search(r'rel="?next"?', match.group(2)):
            return match.group(1)
    return None


def pull_request_number(event_path: str | None) -> int | None:
    """Return the pull request's number from the event's JSON, or None when the event is no pull request."""
    if not event_path:
        return None
    try:
        event = json.loads(Path(event_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise Failure(f"GITHUB_EVENT_PATH {event_path}: cannot read the event: {exc}", 2) from None
    for key in ("pull_request", "issue"):
        number = (event.get(key) or {}).get("number")
        if isinstance(number, int):
            return number
    return None


def comment_body(text: str) -> str:
    """Return the comment: the diffs' Markdown with the marker once, at the end, within GitHub's limit."""
    body = text.replace(MARKER, "").strip()
    if len(body) > MAX_BODY:
        body = body[:MAX_BODY].rsplit("\n", 1)[0] + "\n\n… (cut: the full diff is in the job summary)"
    return f"{body}\n\n{MARKER}\n"


def any_change(diff_json: list[Path]) -> bool:
    """Return whether any ``planner diff --format json`` document says something changed."""
    changed = False
    for path in diff_json:
        try:
            changed |= bool(json.loads(path.read_text(encoding="utf-8"))["changed"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise Failure(f"{path}: not a planner diff --format json document: {exc}", 2) from None
    return changed


def publish(github: GitHub, number: int, body: str, mode: str, changed: bool) -> tuple[str, dict[str, Any] | None]:
    """Create, update or leave the pull request's planner comment; return what was done and the comment."""
    existing = next((c for c in github.comments(number) if MARKER in (c.get("body") or "")), None)
    if mode == "on-change" and not changed and existing is None:
        return "none", None
    if existing is None:
        return "created", github.create(number, body)
    if existing.get("body") == body:
        return "unchanged", existing
    return "updated", github.update(int(existing["id"]), body)


def _output(values: dict[str, str]) -> None:
    path = os.environ.get("GITHUB_OUTPUT")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.writelines(f"{k}={v}\n" for k, v in values.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="github_comment.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("body", type=Path, help="the Markdown to post (planner diff --format markdown)")
    parser.add_argument("--mode", choices=MODES, default="on-change")
    parser.add_argument("--diff-json", type=Path, action="append", default=[], help="planner diff --format json output (repeatable)")
    parser.add_argument("--changed", action="store_true", help="count as changed whatever the JSON says (e.g. a new topology)")
    parser.add_argument("--token-env", default="GITHUB_TOKEN", help="the environment variable holding the token")
    args = parser.parse_args(argv)
    try:
        if args.mode == "never":
            print("planner: comment: never: no comment", file=sys.stderr)
            return 0
        number = pull_request_number(os.environ.get("GITHUB_EVENT_PATH"))
        if number is None:
            print("planner: comment: not a pull request event: no comment", file=sys.stderr)
            return 0
        token = os.environ.get(args.token_env, "")
        repository = os.environ.get("GITHUB_REPOSITORY", "")
        if not token:
            raise Failure(f"comment: {args.token_env} is empty: pass github-token (the default is the workflow's token)", 2)
        if "/" not in repository:
            raise Failure(f"comment: GITHUB_REPOSITORY is {repository!r}, not owner/name", 2)
        try:
            text = args.body.read_text(encoding="utf-8")
        except OSError as exc:
            raise Failure(f"comment: cannot read {args.body}: {exc.strerror}", 2) from None
        changed = args.changed or any_change(args.diff_json)
        github = GitHub(os.environ.get("GITHUB_API_URL") or "https://api.github.com", repository, token)
        action, comment = publish(github, number, comment_body(text), args.mode, changed)
    except Failure as exc:
        print(f"planner: {exc}", file=sys.stderr)
        return exc.code
    if comment is None:
        print(f"planner: comment: no change in connection demand: no comment on #{number}", file=sys.stderr)
        _output({"comment-action": action})
        return 0
    print(f"planner: comment {comment.get('id')} {action} on #{number}: {comment.get('html_url', '')}".rstrip(": "), file=sys.stderr)
    _output({"comment-action": action, "comment-id": str(comment.get("id", "")), "comment-url": str(comment.get("html_url", ""))})
    return 0


if __name__ == "__main__":
    sys.exit(main())
