"""Fixtures of the CI tests: the fake GitHub API, started per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ci.fake_github import FakeGitHub, serve


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    """Serve the fake GitHub API on a free port for one test, and stop it afterwards."""
    state, server = serve()
    yield state
    server.shutdown()
    server.server_close()
