"""The budget's `usable` against a real PostgreSQL: an ordinary role gets exactly that many slots.

This is the arithmetic of spec §3 (usable = max_connections − reserved) checked where it
matters: the connection after the last usable one is refused with PostgreSQL's own message.
"""

from __future__ import annotations

from typing import Iterator

import psycopg
import pytest

from planner.budget import compute_budget
from planner.model import Database, Environment, Service, Topology

from ..pgserver import PostgresServer, start_postgres

pytestmark = pytest.mark.server

MAX_CONNECTIONS = 12
SUPERUSER_RESERVED = 3


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    yield from start_postgres({"max_connections": MAX_CONNECTIONS, "superuser_reserved_connections": SUPERUSER_RESERVED})


def planned_usable(parameters: dict[str, int], version: int) -> int:
    db = Database("main", engine="self-managed", engine_version=str(version), parameters=parameters)
    topology = Topology(
        "t", "t.yaml", {"main": db}, {"default": Environment("default")}, {"a": Service("a", shape="fixed", connections=1)}
    )
    return compute_budget(topology, None).instances[0].usable


def open_until_refused(server: PostgresServer, user: str) -> tuple[int, str]:
    """Open connections as ``user`` until the server refuses one; return the count and the message."""
    opened: list[psycopg.Connection] = []
    try:
        for _ in range(MAX_CONNECTIONS + 5):
            try:
                opened.append(psycopg.connect(server.dsn(user), autocommit=True))
            except psycopg.OperationalError as exc:
                return len(opened), str(exc)
        return len(opened), ""
    finally:
        for conn in opened:
            conn.close()


def test_ordinary_role_gets_exactly_usable_slots(server: PostgresServer) -> None:
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        admin.execute("CREATE ROLE app LOGIN")
        # the admin session itself holds one slot: it is a superuser, so it takes a reserved one
        # only once the ordinary ones are gone; close it first to measure the whole budget
    usable = planned_usable({"max_connections": MAX_CONNECTIONS, "superuser_reserved_connections": SUPERUSER_RESERVED}, server.version())
    count, message = open_until_refused(server, "app")
    assert usable == MAX_CONNECTIONS - SUPERUSER_RESERVED
    assert count == usable
    assert "remaining connection slots are reserved" in message
