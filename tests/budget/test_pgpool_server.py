"""The Pgpool-II arithmetic against a real Pgpool-II (Debian's pgpool2) in front of a real PostgreSQL.

planner counts a Pgpool-II fleet at ``replicas × num_init_children × max_pool`` server connections and
calls its client side ``warn``, not ``over``, above ``replicas × num_init_children`` (spec §2, v1.2).
Both come from Pgpool-II's documentation; these tests hold them against the program itself: each
child caches up to ``max_pool`` backend connections (one per user/database pair it served, the
oldest dropped), and a client beyond ``num_init_children`` waits for a child instead of being
refused.
"""

from __future__ import annotations

import threading
import time
from typing import Iterator

import psycopg
import pytest

from planner.budget import pgpool_server_connections
from planner.model import Pooler

from ..pgserver import PostgresServer, start_pgpool, start_postgres

CHILDREN = 3
MAX_POOL = 2
USERS = ("app1", "app2", "app3")
DATABASE = "shop"  # Pgpool-II never caches connections to the postgres, template0/1 or regression databases


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    for server in start_postgres({"max_connections": 40}):
        with psycopg.connect(server.dsn(), autocommit=True) as admin:
            for user in USERS:
                admin.execute(f"CREATE ROLE {user} LOGIN")
            admin.execute(f"CREATE DATABASE {DATABASE}")
        yield server


def _backends(server: PostgresServer) -> dict[str, int]:
    """Return the sessions each application role holds on the server (Pgpool-II's backend connections)."""
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        rows = admin.execute("SELECT usename, count(*) FROM pg_stat_activity WHERE usename LIKE 'app%' GROUP BY 1").fetchall()
    return {str(user): int(count) for user, count in rows}


def _connect_all(port: int, user: str) -> list[psycopg.Connection]:
    """Open as many clients as there are children, all at once: each child serves exactly one of them."""
    return [psycopg.connect(f"host=127.0.0.1 port={port} dbname={DATABASE} user={user}", connect_timeout=10)
            for _ in range(CHILDREN)]


def test_backend_connections_reach_and_never_pass_num_init_children_times_max_pool(server: PostgresServer) -> None:
    planned, _ = pgpool_server_connections(Pooler("pool", "pgpool", "main", (), num_init_children=CHILDREN, max_pool=MAX_POOL))
    assert planned == 6  # 1 replica × 3 children × max_pool 2
    for port in start_pgpool(server.port, {"num_init_children": CHILDREN, "max_pool": MAX_POOL}):
        seen = []
        for user in (*USERS, "app1"):
            clients = _connect_all(port, user)
            seen.append(sum(_backends(server).values()))
            for client in clients:
                client.close()
        # one pair: each child holds one connection (3); a second pair fills max_pool (6); a third
        # and a fourth replace the oldest pair in every child, so it stays at 6
        assert seen == [3, 6, 6, 6]
        time.sleep(0.3)  # closed clients leave their backends cached: still 6, in two pairs
        after = _backends(server)
        assert sum(after.values()) == planned and len(after) == MAX_POOL


def test_a_client_beyond_num_init_children_waits_and_is_not_refused(server: PostgresServer) -> None:
    for port in start_pgpool(server.port, {"num_init_children": CHILDREN, "max_pool": MAX_POOL}):
        held = _connect_all(port, "app1")
        extra: list[object] = []

        def connect() -> None:
            try:
                extra.append(psycopg.connect(f"host=127.0.0.1 port={port} dbname={DATABASE} user=app1", connect_timeout=20))
            except psycopg.Error as exc:  # a refusal would land here
                extra.append(exc)

        waiter = threading.Thread(target=connect)
        waiter.start()
        time.sleep(2)
        assert waiter.is_alive() and extra == []  # no error: the fourth client waits for a child
        held.pop().close()
        waiter.join(timeout=20)
        assert len(extra) == 1 and isinstance(extra[0], psycopg.Connection), extra
        for client in [*held, *extra]:
            client.close()  # type: ignore[union-attr]
