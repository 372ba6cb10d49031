"""Validate the ``poolers`` section of a topology and how services are routed through poolers.

:class:`PoolerRules` adds the pooler checks to the service ones: a PgBouncer, an RDS Proxy or a
Pgpool-II in front of one database, its settings (each kind has its own: :data:`KIND_KEYS`), and
its clients, each of which must really use that database through that endpoint and be routed
through at most one pooler per environment.
"""

from __future__ import annotations

from typing import Any

from planner.model import DEFAULT_ENVIRONMENT, Database, Environment, Pooler, Service
from planner.topology.parsed import join_path
from planner.topology.services import ENDPOINTS, ServiceRules, resolve_database

PGBOUNCER_KEYS = ("replicas", "pool_mode", "default_pool_size", "reserve_pool_size",
                  "max_db_connections", "pairs", "max_client_conn")
RDS_PROXY_KEYS = ("max_connections_percent",)
# Pgpool-II (spec v1.2): https://www.pgpool.net/docs/latest/en/html/runtime-config-connection.html
PGPOOL_KEYS = ("replicas", "num_init_children", "max_pool")
# kind -> (its own settings, how a message names it)
KIND_KEYS: dict[str, tuple[tuple[str, ...], str]] = {
    "pgbouncer": (PGBOUNCER_KEYS, "a PgBouncer"),
    "rds-proxy": (RDS_PROXY_KEYS, "an RDS Proxy"),
    "pgpool": (PGPOOL_KEYS, "a Pgpool-II"),
}
POOLER_KEYS = ("kind", "database", "clients", "endpoint", "environments",
               *dict.fromkeys(k for keys, _ in KIND_KEYS.values() for k in keys), "from")
POOLER_KINDS = tuple(KIND_KEYS)
POOL_MODES = ("session", "transaction", "statement")
# the least each whole-number setting may be
MINIMUMS = {"replicas": 1, "default_pool_size": 1, "reserve_pool_size": 0, "max_db_connections": 0, "pairs": 1,
            "max_client_conn": 1, "num_init_children": 1, "max_pool": 1}


class PoolerRules(ServiceRules):
    """Check the poolers a topology defines, and the routes of their clients."""

    def poolers(self, data: dict[str, Any], db_names: list[str] | None, env_names: list[str] | None,
                service_names: list[str] | None) -> dict[str, Pooler | None] | None:
        """Check the ``poolers`` section (optional); None if it is not a mapping."""
        section = self.section(data, "poolers", "poolers: {bouncer: {kind: pgbouncer, ...}}", False)
        if section is None:
            return None if data.get("poolers") is not None else {}
        return self.named_items(section, "poolers", "pooler", lambda name, spec, path: self.pooler(
            name, spec, path, db_names, env_names, service_names))

    def pooler(self, name: str, spec: Any, path: str, db_names: list[str] | None, env_names: list[str] | None,
               service_names: list[str] | None) -> Pooler | None:
        """Check one pooler: kind, database, clients and settings; None if anything is wrong."""
        spec = self.mapping(spec, path, f"{name}: {{kind: pgbouncer, database: main, clients: [web]}}")
        if spec is None:
            return None
        before = len(self.problems)
        self.check_keys(spec, path, POOLER_KEYS)
        kind = None
        if "kind" not in spec:
            self.missing(f"{path}.kind", "add kind: pgbouncer, kind: pgpool or kind: rds-proxy")
        else:
            kind = self.choice(spec["kind"], f"{path}.kind", POOLER_KINDS)
        if kind is not None:
            self.check_kind_keys(spec, path, kind)
        database = None
        if "database" not in spec:
            self.missing(f"{path}.database", "name the database it connects to, e.g. database: main")
        else:
            database = self.reference(spec["database"], f"{path}.database", db_names, "database")
        clients: tuple[str, ...] | None = None
        if "clients" not in spec:
            self.missing(f"{path}.clients", "list the services that connect through it, e.g. clients: [web]")
        else:
            clients = self.name_list(spec["clients"], f"{path}.clients", service_names, "service")
        options: dict[str, Any] = {}
        if "endpoint" in spec:
            options["endpoint"] = self.choice(spec["endpoint"], f"{path}.endpoint", ENDPOINTS)
        if "environments" in spec:
            options["environments"] = self.name_list(spec["environments"], f"{path}.environments",
                                                     env_names, "environment")
        for key, minimum in MINIMUMS.items():
            if key in spec:
                options[key] = self.integer(spec[key], f"{path}.{key}", minimum)
        if "pool_mode" in spec:
            options["pool_mode"] = self.choice(spec["pool_mode"], f"{path}.pool_mode", POOL_MODES)
        if "max_connections_percent" in spec:
            options["max_connections_percent"] = self.integer(spec["max_connections_percent"],
                                                              f"{path}.max_connections_percent", 1, 100)
        if len(self.problems) > before or kind is None or database is None or clients is None:
            return None
        return Pooler(name=name, kind=kind, database=database, clients=clients,  # type: ignore[arg-type]
                      line=self.lines.get(path), **options)

    def check_kind_keys(self, spec: dict[str, Any], path: str, kind: str) -> None:
        """Report settings that belong to another kind of pooler, naming the kinds that have them."""
        own = KIND_KEYS[kind][0]
        for key in spec:
            owners = [name for other, (keys, name) in KIND_KEYS.items() if other != kind and key in keys]
            if owners and key not in own:
                self.add(f"{path}.{key}", f"{key} is {' or '.join(owners)} setting, but this pooler is kind {kind}",
                         f"remove {key}, or change the kind")

    def check_routes(self, databases: dict[str, Database | None], environments: dict[str, Environment],
                     services: dict[str, Service | None], poolers: dict[str, Pooler | None]) -> None:
        """Check poolers against their targets and clients; no (service, env) may use two poolers."""
        claimed: dict[tuple[str, str], str] = {}
        for name, pooler in poolers.items():
            if pooler is None:
                continue
            path = join_path("poolers", name)
            db = databases.get(pooler.database)
            if db is not None and pooler.kind == "rds-proxy" and db.engine == "self-managed":
                self.add(f"{path}.database", f"RDS Proxy cannot front the self-managed database {db.name!r}",
                         "use kind: pgbouncer, or set the database's engine to postgres or aurora-postgresql")
            if pooler.endpoint == "reader":
                self.check_readers(f"{path}.endpoint", db)
            for i, client in enumerate(pooler.clients):
                self.check_client(pooler, services.get(client), f"{path}.clients[{i}]",
                                  environments, databases, claimed)

    def check_client(self, pooler: Pooler, service: Service | None, path: str,
                     environments: dict[str, Environment], databases: dict[str, Database | None],
                     claimed: dict[tuple[str, str], str]) -> None:
        """Check that one client uses the pooler's database and endpoint, through no other pooler."""
        if service is None:
            return
        if service.endpoint != pooler.endpoint:
            self.add(path, f"client {service.name!r} uses the {service.endpoint} endpoint but pooler "
                     f"{pooler.name!r} connects to the {pooler.endpoint}",
                     f"set endpoint: {service.endpoint} on the pooler, or route {service.name!r} elsewhere")
            return
        routed = [env for env in service.environments or environments
                  if (pooler.environments is None or env in pooler.environments)
                  and resolve_database(service, environments.get(env), databases) == pooler.database]
        if not routed:
            self.add(path, f"client {service.name!r} never uses database {pooler.database!r} in the "
                     f"environments of pooler {pooler.name!r}",
                     "remove it from clients, or check the service's database and environments")
        for env in routed:
            other = claimed.setdefault((service.name, env), pooler.name)
            if other != pooler.name:
                where = f" in environment {env!r}" if env != DEFAULT_ENVIRONMENT else ""
                self.add(path, f"service {service.name!r} is already a client of pooler {other!r}{where}: "
                         "a client routed through two poolers",
                         "remove it from one pooler, or give the poolers different environments")
                return

