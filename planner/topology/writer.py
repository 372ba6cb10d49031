"""Write a :class:`Topology` back out as a topology file (YAML or JSON).

Used where the planner changes a topology for the user (``recommend --apply-to-topology``) and
by the round-trip tests: ``parse(dump(t))`` gives ``t`` back. Defaults are left out so the file
reads like one a person wrote.
"""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

from planner.model import DEFAULT_ENVIRONMENT, Database, Environment, Pool, Pooler, Service, Topology

# Defaults of the spec, left out of the written file.
_POOLER_DEFAULTS: dict[str, Any] = {
    "endpoint": "writer", "replicas": 1, "pool_mode": "transaction", "default_pool_size": 20,
    "reserve_pool_size": 0, "max_db_connections": 0, "pairs": 1, "max_client_conn": 100,
}
_DRIVER_DEFAULTS: dict[str, tuple[int | str | None, int]] = {
    "sqlalchemy": (5, 10), "django": ("threads", 0), "rails": (5, 0), "node-pg": (10, 0), "asyncpg": (10, 0),
    "psycopg-pool": (4, 0), "hikari": (10, 0), "per-thread": ("threads", 0),
}


def _number(value: Fraction) -> int | float:
    """Write a fraction as an int when whole, else as the float whose text parses back to it."""
    return int(value) if value.denominator == 1 else float(value)


def _percent(value: Fraction) -> str:
    """Write a fraction as "N%" (exact for the decimals people write)."""
    return f"{_number(value * 100)}%"


def _pool(pool: Pool, threads: int) -> Any:
    if pool.size is None:
        return "unbounded"
    if pool.min_size is not None:  # a pool that grows from min_size to max_size: written as such
        ranged: dict[str, Any] = {"driver": pool.driver, "min_size": pool.min_size, "max_size": pool.size}
        return {**ranged, "max_overflow": pool.max_overflow} if pool.max_overflow else ranged
    default = _DRIVER_DEFAULTS.get(pool.driver)
    if default is not None:
        size = threads if default[0] == "threads" else default[0]
        if (pool.size, pool.max_overflow) == (size, default[1]):
            return pool.driver
    out: dict[str, Any] = {} if pool.driver == "custom" else {"driver": pool.driver}
    out["size"] = pool.size
    if pool.max_overflow or default is not None:
        out["max_overflow"] = pool.max_overflow
    return out


def _database(db: Database) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if db.engine != "postgres":
        out["engine"] = db.engine
    out["engine_version"] = db.engine_version
    if db.deployment:
        out["deployment"] = db.deployment
    if db.instance_class:
        out["instance_class"] = db.instance_class
    if db.parameters:
        out["parameters"] = dict(db.parameters)
    if db.readers:
        out["readers"] = db.readers
    if db.reader_instance_class:
        out["reader_instance_class"] = db.reader_instance_class
    if db.headroom != Fraction(1, 5):
        out["headroom"] = _percent(db.headroom)
    if db.max_acu is not None:
        out["serverless"] = {"min_acu": _number(db.min_acu or Fraction(0)), "max_acu": _number(db.max_acu)}
    return out


def _environment(env: Environment) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if env.scale != 1:
        out["scale"] = _number(env.scale)
    if env.database:
        out["database"] = env.database
    return out


def _service(service: Service) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if service.database:
        out["database"] = service.database
    if service.endpoint != "writer":
        out["endpoint"] = service.endpoint
    if service.environments is not None:
        out["environments"] = list(service.environments)
    if service.scenarios is not None:
        out["scenarios"] = list(service.scenarios)
    if service.shape == "fixed":
        out["connections"] = service.connections
        return out
    if service.shape == "lambda":
        out["lambda"] = {} if service.lambda_concurrency is None else {"concurrency": service.lambda_concurrency}
        if service.pool is not None:
            out["pool"] = _pool(service.pool, 1)
        return out
    if service.replicas_min == service.replicas_max:
        out["replicas"] = service.replicas_min
    else:
        out["replicas"] = {"min": service.replicas_min, "max": service.replicas_max}
    if service.surge_count is not None:
        out["max_surge"] = service.surge_count
    elif service.surge_percent is not None and service.surge_percent != Fraction(1, 4):
        out["max_surge"] = _percent(service.surge_percent)
    if service.processes != 1:
        out["processes"] = service.processes
    if service.threads != 1:
        out["threads"] = service.threads
    if service.pool is not None:
        out["pool"] = _pool(service.pool, service.threads)
    return out


def _pooler(pooler: Pooler) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": pooler.kind, "database": pooler.database, "clients": list(pooler.clients)}
    if pooler.environments is not None:
        out["environments"] = list(pooler.environments)
    if pooler.kind == "rds-proxy":
        if pooler.endpoint != "writer":
            out["endpoint"] = pooler.endpoint
        out["max_connections_percent"] = pooler.max_connections_percent
        return out
    if pooler.kind == "pgpool":  # its settings are always written: they are the arithmetic
        if pooler.endpoint != "writer":
            out["endpoint"] = pooler.endpoint
        out.update(replicas=pooler.replicas, num_init_children=pooler.num_init_children, max_pool=pooler.max_pool)
        return out
    for key, default in _POOLER_DEFAULTS.items():
        value = getattr(pooler, key)
        if value != default or key in ("replicas", "default_pool_size", "max_client_conn"):
            out[key] = value
    return out


def topology_document(topology: Topology) -> dict[str, Any]:
    """Return the topology as the plain mapping a topology file holds."""
    doc: dict[str, Any] = {"version": topology.version, "name": topology.name}
    doc["databases"] = {name: _database(db) for name, db in topology.databases.items()}
    envs = topology.environments
    only_default = list(envs) == [DEFAULT_ENVIRONMENT] and not _environment(envs[DEFAULT_ENVIRONMENT])
    if not only_default:
        doc["environments"] = {name: _environment(env) for name, env in envs.items()}
    doc["services"] = {name: _service(s) for name, s in topology.services.items()}
    if topology.poolers:
        doc["poolers"] = {name: _pooler(p) for name, p in topology.poolers.items()}
    return doc


def dump_topology(topology: Topology, fmt: str = "yaml", header: str | None = None) -> str:
    """Return the topology as a YAML (default) or JSON file's text, with an optional comment header."""
    doc = topology_document(topology)
    if fmt == "json":
        return json.dumps(doc, indent=2) + "\n"
    import yaml  # only the writers need it at module level; keep `planner.topology.writer` light to import

    text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=100, allow_unicode=True)
    if header:
        text = "".join(f"# {line}\n" for line in header.splitlines()) + text
    return text
