"""A stand-in for the parts of GitHub's API the comment uses, served by http.server on a free local port.

REST: the authenticated user (GET /user), a pull request's issue comments (list, with pages and a
Link header as GitHub sends them; create; update; delete). GraphQL (POST /graphql): ``nodes(ids:)``
for comments' ``isMinimized``, and the ``minimizeComment`` mutation. It keeps comments in memory,
each with its author, records every request with the moment it arrived, and can be told to refuse:
every request with one status (``refuse``), or the next requests one by one with a rate-limit answer
and its headers (``limits``), as GitHub's rate-limit documentation describes them (REST and GraphQL).

As with the GITHUB_TOKEN, ``token_user`` None makes GET /user a 403 "Resource not accessible by
integration" and comments are created as github-actions[bot]; a login makes the token that user's.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

REPOSITORY = "octo/shop"
ACTIONS_BOT = "github-actions[bot]"


@dataclass
class Recorded:
    method: str
    path: str
    body: dict[str, Any] | None
    authorization: str
    at: float  # time.monotonic() on arrival


@dataclass
class Limit:
    """One rate-limit answer: its status, headers and message, to the next request (to ``path`` only, if set).

    GraphQL answers a rate limit with a 200 whose ``errors`` say it (``graphql``: that error's type).
    """

    status: int
    headers: dict[str, str]
    message: str = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
    path: str | None = None
    graphql: str | None = None

    def payload(self) -> dict[str, Any]:
        if self.graphql:
            return {"data": None, "errors": [{"type": self.graphql, "message": self.message}]}
        return {"message": self.message, "documentation_url": "https://docs.github.com/rest"}


@dataclass
class FakeGitHub:
    """The server's state: comments per issue, the requests seen, the token's user, and refusals."""

    url: str = ""
    page_size: int = 100
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    refuse: tuple[int, str] | None = None  # (status, message) for every request
    limits: list[Limit] = field(default_factory=list)  # answered to the next requests, one each, before anything else
    token_user: str | None = None  # None: an installation token, as the GITHUB_TOKEN
    next_id: int = 1000

    @property
    def writes_as(self) -> str:
        """Return the login the token's comments are written by."""
        return self.token_user or ACTIONS_BOT

    def add(self, number: int, body: str, user: str = "someone") -> dict[str, Any]:
        """Add a comment to issue ``number`` as if ``user`` had written it; return it."""
        self.next_id += 1
        comment = {"id": self.next_id, "node_id": f"IC_kwDO{self.next_id}", "body": body, "user": {"login": user},
                   "html_url": f"https://github.example/{REPOSITORY}/pull/{number}#issuecomment-{self.next_id}"}  # fmt: skip
        self.comments.setdefault(number, []).append(comment)
        return comment

    def find(self, comment_id: int | None = None, node_id: str | None = None) -> dict[str, Any] | None:
        """Return the comment with that id or node id, if any."""
        return next((c for cs in self.comments.values() for c in cs if c["id"] == comment_id or c["node_id"] == node_id), None)

    def calls(self) -> list[tuple[str, str]]:
        """Return (method, path without the query) of every request, in order."""
        return [(r.method, urlsplit(r.path).path) for r in self.requests]

    def graphql_calls(self) -> list[str]:
        """Return the operation of every GraphQL request (``nodes`` or ``minimizeComment``), in order."""
        return [operation(r.body) for r in self.requests if urlsplit(r.path).path == "/graphql"]


def operation(body: dict[str, Any] | None) -> str:
    """Return a GraphQL request's operation: ``nodes``, ``minimizeComment``, or the query itself."""
    query = str((body or {}).get("query", ""))
    return "minimizeComment" if "minimizeComment(" in query else "nodes" if "nodes(ids:" in query else query


def _handler(state: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep the test output quiet
            pass

        def _reply(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = b"" if payload is None else json.dumps(payload).encode("utf-8")
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            state.requests.append(Recorded(method, self.path, body, self.headers.get("Authorization", ""), time.monotonic()))
            limit = next((x for x in state.limits if x.path in (None, urlsplit(self.path).path)), None)
            if limit is not None:
                state.limits.remove(limit)
                self._reply(limit.status, limit.payload(), limit.headers)
                return
            if state.refuse is not None:
                status, message = state.refuse
                self._reply(status, {"message": message, "documentation_url": "https://docs.github.com/rest"})
                return
            url = urlsplit(self.path)
            listed = re.fullmatch(rf"/repos/{REPOSITORY}/issues/(\d+)/comments", url.path)
            single = re.fullmatch(rf"/repos/{REPOSITORY}/issues/comments/(\d+)", url.path)
            found = state.find(comment_id=int(single.group(1))) if single else None
            if url.path == "/user" and method == "GET":
                if state.token_user is None:
                    self._reply(403, {"message": "Resource not accessible by integration",
                                      "documentation_url": "https://docs.github.com/rest/users/users#get-the-authenticated-user"})  # fmt: skip
                else:
                    self._reply(200, {"login": state.token_user, "id": 1, "type": "User"})
            elif url.path == "/graphql" and method == "POST":
                self._graphql(body or {})
            elif listed and method == "GET":
                self._list(int(listed.group(1)), parse_qs(url.query))
            elif listed and method == "POST":
                assert body is not None
                self._reply(201, state.add(int(listed.group(1)), body["body"], user=state.writes_as))
            elif single and found is None:
                self._reply(404, {"message": "Not Found"})
            elif single and method == "PATCH":
                assert body is not None and found is not None
                found["body"] = body["body"]
                self._reply(200, found)
            elif single and method == "DELETE":
                for comments in state.comments.values():
                    if found in comments:
                        comments.remove(found)
                self._reply(204, None)
            else:
                self._reply(404, {"message": "Not Found"})

        def _list(self, number: int, query: dict[str, list[str]]) -> None:
            page = int(query.get("page", ["1"])[0])
            size = min(int(query.get("per_page", ["30"])[0]), state.page_size)
            everything = state.comments.get(number, [])
            # REST does not say whether a comment is minimized: GraphQL does
            chunk = [{k: v for k, v in c.items() if k not in ("minimized", "classifier", "can_minimize")} for c in everything[(page - 1) * size:page * size]]
            headers = {}
            if page * size < len(everything):
                base = f"{state.url}/repos/{REPOSITORY}/issues/{number}/comments?per_page={size}"
                last = (len(everything) + size - 1) // size
                headers["Link"] = f'<{base}&page={page + 1}>; rel="next", <{base}&page={last}>; rel="last"'
            self._reply(200, chunk, headers)

        def _graphql(self, body: dict[str, Any]) -> None:
            variables = body.get("variables") or {}
            asked = operation(body)
            if asked == "nodes":
                nodes = [state.find(node_id=i) for i in variables["ids"]]
                self._reply(200, {"data": {"nodes": [{"id": n["node_id"], "isMinimized": bool(n.get("minimized"))} if n else None
                                                     for n in nodes]}})  # fmt: skip
            elif asked == "minimizeComment":
                comment = state.find(node_id=variables.get("id"))
                if comment is None or variables.get("classifier") not in ("ABUSE", "DUPLICATE", "OFF_TOPIC", "OUTDATED", "RESOLVED", "SPAM"):
                    self._reply(200, {"data": None, "errors": [{"type": "NOT_FOUND", "message": f"cannot minimize {variables}"}]})
                    return
                if comment.get("can_minimize") is False:  # GitHub's answer when the viewer may not minimize it
                    self._reply(200, {"data": {"minimizeComment": None}, "errors": [
                        {"type": "FORBIDDEN", "message": f"{state.writes_as} does not have the correct permissions to execute `MinimizeComment`"}]})
                    return
                comment.update(minimized=True, classifier=variables["classifier"])
                self._reply(200, {"data": {"minimizeComment": {"minimizedComment": {"isMinimized": True}}}})
            else:
                self._reply(200, {"data": None, "errors": [{"message": f"the fake does not answer {asked[:60]!r}"}]})

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

        def do_DELETE(self) -> None:
            self._handle("DELETE")

    return Handler


def serve() -> tuple[FakeGitHub, ThreadingHTTPServer]:
    """Start the fake API on a free port of 127.0.0.1 in a daemon thread; return its state and server."""
    state = FakeGitHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return state, server
