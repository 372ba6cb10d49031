"""Post the pull-request comment of ``planner diff`` (the GitHub Action's comment step).

Standard library only: the Action runs it with any Python. It reads the comment's Markdown from
BODY (``planner diff --format markdown`` output, several topologies' one after another) and writes
it to the pull request, ending with a marker that finds it again on the next push:
``<!-- planner diff: WORKFLOW / JOB -->`` by default (GITHUB_WORKFLOW and GITHUB_JOB), so two jobs
on one pull request keep a comment each; ``--marker TEXT`` writes ``<!-- planner diff: TEXT -->``.
Only comments written by the token's own account are ever changed (see ``author``); a comment
another account wrote stays as it is, whatever marker it carries. A comment of this account with
the marker of earlier versions, ``<!-- planner diff -->``, counts as this job's when none carries
the new marker, so upgrading keeps the comment a pull request already has.

--behavior (infracost's ``infracost comment github --behavior`` names):
  update          one comment, edited in place (the latest of this job's when there are several);
                  created when there is none
  new             a new comment on every run
  hide-and-new    a new comment; the earlier ones are minimized as outdated (GraphQL minimizeComment)
  delete-and-new  a new comment; the earlier ones are deleted
Every behaviour leaves the pull request alone when the latest comment of this job already says the
same (a re-run posts nothing twice).

--mode always     write on every run
--mode on-change  write only when a diff changed something (``changed`` of ``planner diff --format
                  json``, given with --diff-json, or --changed); when nothing changed and this job
                  has an earlier comment, the behaviour still runs, so the pull request stops
                  showing a change it no longer makes; without an earlier comment nothing is posted
--mode never      do nothing

Rate limits: a 403 or 429 that GitHub marks as a rate limit (for GraphQL also a 200 whose errors
say so) is retried, waiting as GitHub's documentation says (https://docs.github.com/en/rest/using-
the-rest-api/rate-limits-for-the-rest-api#exceeding-the-rate-limit and https://docs.github.com/en/
graphql/overview/rate-limits-and-query-limits-for-the-graphql-api#exceeding-the-rate-limit, read
2026-12): ``retry-after`` seconds when the header is there; else until ``x-ratelimit-reset`` (UTC
epoch seconds) when ``x-ratelimit-remaining`` is 0; else at least a minute; doubling the wait on each
further refusal of the same request, at most MAX_RETRIES times and --max-wait seconds in all. Each
wait is one line on stderr. Writes are a second apart, as the same pages ask.

Environment: GITHUB_TOKEN (or --token-env NAME), GITHUB_REPOSITORY (owner/name), GITHUB_EVENT_PATH
(the event's JSON: the pull request's number), GITHUB_API_URL (default https://api.github.com),
GITHUB_GRAPHQL_URL (default: derived from GITHUB_API_URL), GITHUB_WORKFLOW and GITHUB_JOB (the
default marker), GITHUB_OUTPUT (optional: comment-action, comment-id and comment-url are written to it).
Exit 0 when done (or nothing to do: not a pull request, never, no change), 1 when the GitHub API
refuses or cannot be reached, 2 for a usage error; either way one line on stderr says why.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

# What planner diff --format markdown ends with (planner/render/diff.py COMMENT_MARKER), and the only
# marker versions before issue 21 wrote: still recognised, so their comment is updated, not duplicated.
LEGACY_MARKER = "<!-- planner diff -->"
MODES = ("always", "on-change", "never")
BEHAVIORS = ("update", "new", "hide-and-new", "delete-and-new")
# The account a GITHUB_TOKEN writes as. The GITHUB_TOKEN is an installation access token of the GitHub
# Actions app (https://docs.github.com/en/actions/concepts/security/github_token); GET /user is not among
# the endpoints such a token may call (https://docs.github.com/en/rest/authentication/endpoints-available-
# for-github-app-installation-access-tokens: its "users" list has no GET /user), so GitHub answers 403;
# what an installation does "is attributed to the app" (https://docs.github.com/en/apps/creating-github-
# apps/authenticating-with-a-github-app/authenticating-as-a-github-app-installation), whose account is
# `<app slug>[bot]` (actions/create-github-app-token's README, "Configure git CLI for an app's bot user"),
# github-actions[bot] for the GitHub Actions app. All read 2026-12.
ACTIONS_BOT = "github-actions[bot]"
TIMEOUT = 30
# GitHub refuses bodies above 65,536 characters.
MAX_BODY = 65_000
MAX_RETRIES = 5
MAX_WAIT = 300  # seconds of rate-limit waiting in one run, by default: the comment must not hold the job for long
SECONDARY_WAIT = 60  # "wait for at least one minute before retrying" (the rate-limit page above)
GRAPHQL_IDS = 100  # GraphQL's `nodes(ids:)` takes at most 100 ids
WRITE_PAUSE = 1.0  # seconds between writes: "pause at least 1 second between mutative requests" (the pages above)


class Failure(Exception):
    """A reason to stop, said in one line; ``code`` is the exit code."""

    def __init__(self, message: str, code: int = 1, status: int | None = None, rate_limited: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.status = status  # the HTTP status GitHub refused with, if it did
        self.rate_limited = rate_limited


@dataclass
class Refusal:
    """An HTTP error answer: its status, reason, headers (lower-case names) and GitHub's message."""

    status: int
    reason: str
    headers: dict[str, str]
    message: str


def rate_limit_wait(refusal: Refusal, previous: float, now: float) -> tuple[str, float] | None:
    """Return (which limit, seconds to wait) when ``refusal`` is a rate limit, None when it is not.

    ``previous`` is the wait before the last try of the same request (0 for the first refusal): a
    further refusal waits at least twice as long (exponential backoff).
    """
    if refusal.status not in (200, 403, 429):  # 200: a GraphQL answer whose errors are a rate limit
        return None
    headers = refusal.headers
    if _number(headers.get("retry-after")) is not None:
        return "secondary", max(float(_number(headers["retry-after"]) or 0), 2 * previous)
    reset = _number(headers.get("x-ratelimit-reset"))
    if headers.get("x-ratelimit-remaining") == "0" and reset is not None:
        # the reset is a moment, not a span: waiting past it is enough, whatever came before
        return "primary", max(reset - now, 0) + 1
    if refusal.status in (200, 429) or "secondary rate limit" in refusal.message.lower():
        return "secondary", max(SECONDARY_WAIT, 2 * previous)
    return None


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class GitHub:
    """The few REST and GraphQL calls the comment needs, with rate-limit retries."""

    def __init__(self, api_url: str, graphql_url: str, repository: str, token: str, max_wait: float,
                 sleep: Callable[[float], None] = time.sleep) -> None:  # fmt: skip
        self.api_url = api_url.rstrip("/")
        self.graphql_url = graphql_url
        self.repository = repository
        self.token = token
        self.max_wait = max_wait
        self.waited = 0.0
        self.sleep = sleep
        self.last_write: float | None = None

    def request(self, method: str, url: str, body: dict[str, Any] | None = None,
                write: bool | None = None) -> tuple[Any, dict[str, str]]:  # fmt: skip
        """Send one request, retrying on a rate limit; return its decoded JSON (None when empty) and headers.

        ``write`` (default: any method but GET) spaces the request WRITE_PAUSE after the previous write.
        """
        if not url.startswith(("http://", "https://")):
            url = f"{self.api_url}{url}"
        where = f"{method} {urllib.parse.urlsplit(url).path}"
        previous = 0.0
        for attempt in range(MAX_RETRIES + 1):
            if write if write is not None else method != "GET":
                if self.last_write is not None and time.monotonic() - self.last_write < WRITE_PAUSE:
                    self.sleep(WRITE_PAUSE - (time.monotonic() - self.last_write))
                self.last_write = time.monotonic()
            answer = self._send(method, url, body, where)
            if not isinstance(answer, Refusal) and url == self.graphql_url:
                answer = _graphql_rate_limit(answer) or answer
            if not isinstance(answer, Refusal):
                return answer
            limit = rate_limit_wait(answer, previous, time.time())
            if limit is None:
                raise Failure(f"GitHub API {where} failed: {answer.status} {answer.reason}{_explain(answer)}", status=answer.status)
            kind, wait = limit
            stop = ("it would wait more than --max-wait in all" if self.waited + wait > self.max_wait
                    else f"{MAX_RETRIES} retries" if attempt == MAX_RETRIES else "")  # fmt: skip
            if stop:
                raise Failure(f"GitHub API {where} failed: {answer.status} {answer.reason}: {kind} rate limit "
                              f"(the next try in {wait:.0f} s; stopped: {stop}, {self.waited:.0f} s waited)",
                              status=answer.status, rate_limited=True)  # fmt: skip
            print(f"planner: GitHub API {where}: {answer.status} {kind} rate limit: waiting {wait:.0f} s "
                  f"(retry {attempt + 1} of {MAX_RETRIES})", file=sys.stderr)  # fmt: skip
            self.sleep(wait)
            self.waited += wait
            previous = wait
        raise AssertionError("unreachable: the loop returns or raises")

    def _send(self, method: str, url: str, body: dict[str, Any] | None, where: str) -> tuple[Any, dict[str, str]] | Refusal:
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Accept": "application/vnd.github+json", "Authorization": f"Bearer {self.token}",
                   "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "planner-action"}  # fmt: skip
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                raw = response.read()
                return (json.loads(raw) if raw.strip() else None), {k.lower(): v for k, v in response.headers.items()}
        except urllib.error.HTTPError as exc:
            try:
                message = str(json.loads(exc.read() or b"{}").get("message", ""))
            except (ValueError, AttributeError):
                message = ""
            return Refusal(exc.code, exc.reason, {k.lower(): v for k, v in exc.headers.items()}, message)
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Failure(f"GitHub API {where} failed: cannot reach {self.api_url}: {reason}") from None
        except json.JSONDecodeError:
            raise Failure(f"GitHub API {where} answered with something that is not JSON") from None

    def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """Run one GraphQL query; return its ``data``, or fail with GraphQL's first error."""
        answer, _ = self.request("POST", self.graphql_url, {"query": query, "variables": variables}, write=query.startswith("mutation"))
        if not isinstance(answer, dict) or answer.get("errors") or not isinstance(answer.get("data"), dict):
            errors = answer.get("errors") if isinstance(answer, dict) else None
            message = errors[0].get("message", errors[0]) if isinstance(errors, list) and errors and isinstance(errors[0], dict) else answer
            raise Failure(f"GitHub GraphQL {query.split('(')[0].strip()} failed: {message}")
        return answer["data"]

    def author(self) -> str:
        """Return the login of the account the token writes as (see ACTIONS_BOT)."""
        try:
            user, _ = self.request("GET", "/user")
        except Failure as exc:
            if exc.status == 403 and not exc.rate_limited:
                return ACTIONS_BOT
            raise
        if not isinstance(user, dict) or not user.get("login"):
            raise Failure("GitHub API GET /user answered with no login")
        return str(user["login"])

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

    def delete(self, comment_id: int) -> None:
        self.request("DELETE", f"/repos/{self.repository}/issues/comments/{comment_id}")

    def minimized(self, node_ids: list[str]) -> set[str]:
        """Return which of the comments (GraphQL node ids) are minimized already."""
        query = "query Minimized($ids: [ID!]!) { nodes(ids: $ids) { ... on IssueComment { id isMinimized } } }"
        hidden: set[str] = set()
        for start in range(0, len(node_ids), GRAPHQL_IDS):
            data = self.graphql(query, {"ids": node_ids[start:start + GRAPHQL_IDS]})
            hidden |= {n["id"] for n in data.get("nodes") or [] if isinstance(n, dict) and n.get("isMinimized")}
        return hidden

    def minimize(self, node_id: str) -> None:
        """Minimize one comment as outdated (it stays, folded, with GitHub's "outdated" label)."""
        query = ("mutation Minimize($id: ID!, $classifier: ReportedContentClassifiers!) { "
                 "minimizeComment(input: {subjectId: $id, classifier: $classifier}) { minimizedComment { isMinimized } } }")  # fmt: skip
        self.graphql(query, {"id": node_id, "classifier": "OUTDATED"})


def _graphql_rate_limit(answer: tuple[Any, dict[str, str]]) -> Refusal | None:
    """Return a GraphQL answer whose errors are a rate limit (GraphQL answers it with a 200) as a Refusal."""
    data, headers = answer
    errors = data.get("errors") if isinstance(data, dict) else None
    for error in errors if isinstance(errors, list) else []:
        message = str(error.get("message", "")) if isinstance(error, dict) else str(error)
        if isinstance(error, dict) and error.get("type") == "RATE_LIMITED" or "rate limit" in message.lower():
            return Refusal(200, "OK", headers, message)
    return None


def _explain(refusal: Refusal) -> str:
    """Return GitHub's message and, for the usual refusals, what to change in the workflow."""
    hint = ""
    if refusal.status in (401, 403, 404):
        hint = " (the token needs `permissions: pull-requests: write`; pull requests from forks get a read-only token)"
    return (f": {refusal.message}" if refusal.message else "") + hint


def _next_page(headers: dict[str, str]) -> str | None:
    """Return the rel="next" URL of a Link header, if any."""
    for part in headers.get("link", "").split(","):
        match = re.match(r'\s*<([^>]+)>\s*;(.*)', part)
        if match and re.search(r'rel="?next"?', match.group(2)):
            return match.group(1)
    return None


def graphql_url(api_url: str) -> str:
    """Return GitHub's GraphQL endpoint for a REST API URL (github.com's, or GHES's /api/v3 → /api/graphql)."""
    api_url = api_url.rstrip("/")
    return api_url[: -len("/v3")] + "/graphql" if api_url.endswith("/api/v3") else f"{api_url}/graphql"


def marker(text: str | None, workflow: str | None, job: str | None) -> str:
    """Return the HTML comment that finds this job's comment: ``text``, or the workflow and job by default."""
    if text is None:
        if not workflow and not job:
            return LEGACY_MARKER  # not in a workflow run: nothing to tell jobs apart by
        text = f"{workflow or '?'} / {job or '?'}"
    # an HTML comment ends at the first "--": keep the text inside it, on one line
    text = re.sub(r"-{2,}", "-", re.sub(r"[\s<>]+", " ", text)).strip()
    if not text:
        raise Failure("comment: --marker is empty once '<', '>', '--' and blanks are left out", 2)
    return f"<!-- planner diff: {text} -->"


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


def comment_body(text: str, mark: str) -> str:
    """Return the comment: the diffs' Markdown with the marker once, at the end, within GitHub's limit."""
    body = text.replace(LEGACY_MARKER, "").replace(mark, "").strip()
    if len(body) > MAX_BODY:
        body = body[:MAX_BODY].rsplit("\n", 1)[0] + "\n\n… (cut: the full diff is in the job summary)"
    return f"{body}\n\n{mark}\n"


def any_change(diff_json: list[Path]) -> bool:
    """Return whether any ``planner diff --format json`` document says something changed."""
    changed = False
    for path in diff_json:
        try:
            changed |= bool(json.loads(path.read_text(encoding="utf-8"))["changed"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise Failure(f"{path}: not a planner diff --format json document: {exc}", 2) from None
    return changed


def earlier_comments(comments: list[dict[str, Any]], author: str, mark: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Return this job's earlier comments (oldest first) and the logins of others' comments with its marker.

    A comment is this job's when ``author`` wrote it and it carries ``mark``; when none does, the
    author's comments with the marker of earlier versions are.
    """
    def by(c: dict[str, Any]) -> str:
        return str((c.get("user") or {}).get("login", ""))

    marked = [c for c in comments if mark in (c.get("body") or "")]
    own = [c for c in marked if by(c) == author]
    if not own and mark != LEGACY_MARKER:
        own = [c for c in comments if by(c) == author and LEGACY_MARKER in (c.get("body") or "")]
    return own, sorted({by(c) for c in marked if by(c) != author})


def publish(github: GitHub, number: int, body: str, mode: str, behavior: str, changed: bool, author: str,
            mark: str) -> tuple[str, dict[str, Any] | None]:  # fmt: skip
    """Write the pull request's planner comment as ``behavior`` says; return what was done and the comment."""
    earlier, others = earlier_comments(github.comments(number), author, mark)
    if others:
        print(f"planner: comment: left alone: comments with the marker by {', '.join(others)} (only {author}'s are changed)",
              file=sys.stderr)  # fmt: skip
    if mode == "on-change" and not changed and not earlier:
        return "none", None
    latest = earlier[-1] if earlier else None
    if latest is not None and latest.get("body") == body:
        return "unchanged", latest
    if behavior == "update":
        if latest is not None:
            return "updated", github.update(int(latest["id"]), body)
        return "created", _create(github, number, body, author)
    # a new comment first: if GitHub refuses it, the earlier ones still say something
    created = _create(github, number, body, author)
    if behavior == "hide-and-new":
        hidden = github.minimized([str(c["node_id"]) for c in earlier])
        shown = [str(c["node_id"]) for c in earlier if c["node_id"] not in hidden]
        for node_id in shown:
            github.minimize(node_id)
        print(f"planner: comment: {len(shown)} earlier comment(s) minimized as outdated ({len(hidden)} already were)", file=sys.stderr)
    elif behavior == "delete-and-new":
        for comment in earlier:
            github.delete(int(comment["id"]))
        print(f"planner: comment: {len(earlier)} earlier comment(s) deleted", file=sys.stderr)
    return "created", created


def _create(github: GitHub, number: int, body: str, author: str) -> dict[str, Any]:
    created = github.create(number, body)
    wrote_as = str((created.get("user") or {}).get("login", author))
    if wrote_as != author:
        # another GitHub App's token: GET /user refused it as it refuses the GITHUB_TOKEN
        print(f"planner: comment: the token writes as {wrote_as}, not {author}: the next run will not find this comment "
              f"unless the author is set to {wrote_as} (--author, the Action's comment-author)", file=sys.stderr)  # fmt: skip
    return created


def _output(values: dict[str, str]) -> None:
    path = os.environ.get("GITHUB_OUTPUT")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.writelines(f"{k}={v}\n" for k, v in values.items())


def main(argv: list[str] | None = None) -> int:
    """Run the comment step; return the exit code."""
    parser = argparse.ArgumentParser(prog="github_comment.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("body", type=Path, help="the Markdown to post (planner diff --format markdown)")
    parser.add_argument("--mode", choices=MODES, default="on-change")
    parser.add_argument("--behavior", choices=BEHAVIORS, default="update")
    parser.add_argument("--marker", help="the text of the marker: <!-- planner diff: TEXT --> (default: the workflow and job)")
    parser.add_argument("--author", help="the login whose comments are this job's (default: the token's account)")
    parser.add_argument("--diff-json", type=Path, action="append", default=[], help="planner diff --format json output (repeatable)")
    parser.add_argument("--changed", action="store_true", help="count as changed whatever the JSON says (e.g. a new topology)")
    parser.add_argument("--token-env", default="GITHUB_TOKEN", help="the environment variable holding the token")
    parser.add_argument("--max-wait", type=float, default=MAX_WAIT, help=f"seconds to wait for rate limits in all (default {MAX_WAIT})")
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
        mark = marker(args.marker or None, os.environ.get("GITHUB_WORKFLOW"), os.environ.get("GITHUB_JOB"))
        try:
            text = args.body.read_text(encoding="utf-8")
        except OSError as exc:
            raise Failure(f"comment: cannot read {args.body}: {exc.strerror}", 2) from None
        changed = args.changed or any_change(args.diff_json)
        api_url = os.environ.get("GITHUB_API_URL") or "https://api.github.com"
        github = GitHub(api_url, os.environ.get("GITHUB_GRAPHQL_URL") or graphql_url(api_url), repository, token, args.max_wait)
        author = args.author or github.author()
        action, comment = publish(github, number, comment_body(text, mark), args.mode, args.behavior, changed, author, mark)
    except Failure as exc:
        print(f"planner: {exc}", file=sys.stderr)
        return exc.code
    waited = f" (after {github.waited:.0f} s of rate-limit waits)" if github.waited else ""
    if comment is None:
        print(f"planner: comment: no change in connection demand: no comment on #{number}{waited}", file=sys.stderr)
        _output({"comment-action": action})
        return 0
    url = comment.get("html_url", "")
    print(f"planner: comment {comment.get('id')} {action} on #{number}{waited}" + (f": {url}" if url else ""), file=sys.stderr)
    _output({"comment-action": action, "comment-id": str(comment.get("id", "")), "comment-url": str(url)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
