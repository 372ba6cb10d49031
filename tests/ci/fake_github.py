"""A stand-in for the GitHub REST API's issue comments, served by http.server on a free local port.

It keeps comments in memory, pages the comments list (``page_size`` per page, with a Link
header as GitHub sends it), records every request, and can be told to refuse with a status.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

REPOSITORY = "octo/shop"


@dataclass
class Recorded:
    method: str
    path: str
    body: dict[str, Any] | None
    authorization: str


@dataclass
class FakeGitHub:
    """The server's state: comments per issue, the requests seen, and an optional refusal."""

    url: str = ""
    page_size: int = 100
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    refuse: tuple[int, str] | None = None  # (status, message) for every request
    next_id: int = 1000

    def add(self, number: int, body: str, user: str = "someone") -> dict[str, Any]:
        """Add a comment to issue ``number`` as if someone had written it; return it."""
        self.next_id += 1
        comment = {"id": self.next_id, "body": body, "user": {"login": user},
                   "html_url": f"https://github.example/{REPOSITORY}/pull/{number}#issuecomment-{self.next_id}"}  # fmt: skip
        self.comments.setdefault(number, []).append(comment)
        return comment

    def calls(self) -> list[tuple[str, str]]:
        """Return (method, path without the query) of every request, in order."""
        return [(r.method, urlsplit(r.path).path) for r in self.requests]


def _handler(state: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep the test output quiet
            pass

        def _reply(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            state.requests.append(Recorded(method, self.path, body, self.headers.get("Authorization", "")))
            if state.refuse is not None:
                status, message = state.refuse
                self._reply(status, {"message": message, "documentation_url": "https://docs.github.com/rest"})
                return
            url = urlsplit(self.path)
            listed = re.fullmatch(rf"/repos/{REPOSITORY}/issues/(\d+)/comments", url.path)
            single = re.fullmatch(rf"/repos/{REPOSITORY}/issues/comments/(\d+)", url.path)
            if listed and method == "GET":
                number = int(listed.group(1))
                query = parse_qs(url.query)
                page = int(query.get("page", ["1"])[0])
                size = min(int(query.get("per_page", ["30"])[0]), state.page_size)
                everything = state.comments.get(number, [])
                chunk = everything[(page - 1) * size:page * size]
                headers = {}
                if page * size < len(everything):
                    base = f"{state.url}/repos/{REPOSITORY}/issues/{number}/comments?per_page={size}"
                    last = (len(everything) + size - 1) // size
                    headers["Link"] = f'<{base}&page={page + 1}>; rel="next", <{base}&page={last}>; rel="last"'
                self._reply(200, chunk, headers)
            elif listed and method == "POST":
                assert body is not None
                self._reply(201, state.add(int(listed.group(1)), body["body"], user="github-actions[bot]"))
            elif single and method == "PATCH":
                found = [c for cs in state.comments.values() for c in cs if c["id"] == int(single.group(1))]
                if not found:
                    self._reply(404, {"message": "Not Found"})
                    return
                assert body is not None
                found[0]["body"] = body["body"]
                self._reply(200, found[0])
            else:
                self._reply(404, {"message": "Not Found"})

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

    return Handler


def serve() -> tuple[FakeGitHub, ThreadingHTTPServer]:
    """Start the fake API on a free port of 127.0.0.1 in a daemon thread; return its state and server."""
    state = FakeGitHub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return state, server
