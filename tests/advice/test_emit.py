"""Emitted artefacts: a real PgBouncer accepts pgbouncer.ini and carries more clients than the server has slots."""

from __future__ import annotations

import threading
from typing import Iterator

import psycopg
import pytest

from planner.advice.emit import Connection, emit_parameters, emit_pgbouncer, emit_pools, emit_proxy
from planner.advice.recommend import Option, recommend
from planner.topology import parse_topology

from ..pgserver import PostgresServer, free_port, start_pgbouncer, start_postgres, wait_for_port

MAX_CONNECTIONS = 20
# 10 replicas × 4 processes × 5 = 200 connections wanted, 17 usable: PgBouncer must fit it.
TOPOLOGY = f"""
version: 1
databases:
  main: {{engine: self-managed, engine_version: "15", parameters: {{max_connections: {MAX_CONNECTIONS}}}}}
services:
  web: {{replicas: 10, max_surge: 0, processes: 4, pool: {{size: 5}}}}
"""


def pgbouncer_option() -> Option:
    topology = parse_topology(TOPOLOGY, "emit.yaml")
    (rec,) = recommend(topology, None)  # type: ignore[arg-type]
    return next(o for o in rec.options if o.kind == "pgbouncer")


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    yield from start_postgres({"max_connections": MAX_CONNECTIONS, "superuser_reserved_connections": 3})


def test_pgbouncer_ini_numbers_and_no_secret() -> None:
    option = pgbouncer_option()
    files = emit_pgbouncer(option)
    ini = files["pgbouncer.ini"]
    # alarm_at = floor(20 × 0.8) = 16 server connections for 2 replicas: 8 each
    assert "default_pool_size = 8" in ini and "max_db_connections = 8" in ini
    assert "pool_mode = transaction" in ini
    assert "max_client_conn = 110" in ini  # ceil(ceil(200 × 1.1) / 2)
    assert "password" not in ini.lower()
    assert "SCRAM-SHA-256$<iterations>" in files["userlist.txt"]


def test_real_pgbouncer_carries_more_clients_than_server_slots(server: PostgresServer) -> None:
    option = pgbouncer_option()
    port = free_port()
    connection = Connection(host="127.0.0.1", port=server.port, dbname="postgres", listen_addr="127.0.0.1", listen_port=port)
    files = emit_pgbouncer(option, connection)
    with psycopg.connect(server.dsn(), autocommit=True) as admin:
        admin.execute("CREATE ROLE app LOGIN PASSWORD 'secret'")
    # the emitted userlist, comments and all, with the test's own secret in place of the placeholder
    userlist = files["userlist.txt"].replace('"SCRAM-SHA-256$<iterations>:<salt>$<storedkey>:<serverkey>"', '"secret"')
    assert userlist.count('"secret"') == 1
    for _ in start_pgbouncer(files["pgbouncer.ini"], {"userlist.txt": userlist}):
        wait_for_port(port)
        clients = 2 * MAX_CONNECTIONS  # twice the server's slots, all open at once
        dsn = f"host=127.0.0.1 port={port} dbname=main user=app password=secret connect_timeout=10"
        opened = [psycopg.connect(dsn, autocommit=True) for _ in range(clients)]
        errors: list[BaseException] = []

        def query(conn: psycopg.Connection) -> None:
            try:
                conn.execute("SELECT pg_sleep(0.05)")
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=query, args=(c,)) for c in opened]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        with psycopg.connect(server.dsn(), autocommit=True) as admin:
            backends = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = 'app'").fetchone()
        for conn in opened:
            conn.close()
        assert errors == []
        assert len(opened) == clients
        assert backends is not None and backends[0] <= 8  # the server pool, not the clients


def test_proxy_and_parameter_and_pool_artefacts() -> None:
    topology = parse_topology(
        """
version: 1
databases:
  main: {instance_class: db.r6g.large, engine: aurora-postgresql, engine_version: "15"}
services:
  api: {lambda: {concurrency: 800}, pool: {driver: node-pg, size: 2}}
  web: {replicas: 4, processes: 2, pool: {driver: sqlalchemy, size: 5, max_overflow: 5}}
""",
        "l.yaml",
    )
    from planner.catalog import load_catalog

    (rec,) = recommend(topology, load_catalog())
    by_kind = {o.kind: o for o in rec.options}
    proxy = by_kind.get("rds-proxy") or by_kind["pool-everything"]
    files = emit_proxy(proxy)
    percent = next(p for p in proxy.topology.poolers.values() if p.kind == "rds-proxy").max_connections_percent
    assert f"MaxConnectionsPercent={percent}" in files["rds-proxy.sh"]
    assert f"max_connections_percent = {percent}" in files["rds-proxy.tf"]
    assert "db_cluster_identifier" in files["rds-proxy.tf"]
    assert '"password":"..."' in files["rds-proxy.sh"]  # a placeholder, never a value
    pools = emit_pools(by_kind["shrink-pools"])
    assert "API_DB_POOL_SIZE=" in pools["pools.env"] and "pool_size=" in pools["pools_sqlalchemy.py"]


def test_parameter_artefacts() -> None:
    topology = parse_topology(
        'version: 1\ndatabases:\n  main: {instance_class: db.m5.large, engine_version: "15"}\n'
        "services:\n  web: {replicas: 10, max_surge: 0, processes: 7, pool: {driver: rails, size: 10}}\n",
        "p.yaml",
    )
    from planner.catalog import load_catalog

    (rec,) = recommend(topology, load_catalog())
    option = next(o for o in rec.options if o.kind == "parameter")
    files = emit_parameters(option)
    value = option.details["max_connections"]
    assert f"ParameterValue={value},ApplyMethod=pending-reboot" in files["parameters.sh"]
    assert 'family = "postgres15"' in files["parameters.tf"] and f'value        = "{value}"' in files["parameters.tf"]
