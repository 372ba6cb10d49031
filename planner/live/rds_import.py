"""Turn deployed RDS instances, Aurora clusters and RDS Proxies into a topology's ``databases:`` and ``poolers:``.

Pure: the mapping from API shapes (``DescribeDBInstances``, ``DescribeDBClusters``,
``DescribeDBParameters``, ``DescribeDBProxies`` with their targets and target groups) to topology
entries. :func:`collect` takes a gateway (:class:`planner.adapters.aws.AwsGateway`) for the calls;
:mod:`planner.live.merge` writes the result into a file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from planner.errors import InputError
from planner.model import DEFAULT_DEPLOYMENT, DEFAULT_MAX_CONNECTIONS_FORMULA, RDS_ENGINES
from planner.reserves import RESERVE_PARAMETERS, default_reserves, parameter_problem, parse_engine_version

BUDGET_PARAMETERS: tuple[str, ...] = ("max_connections", *RESERVE_PARAMETERS)
DATABASE_KEYS = ("engine", "engine_version", "deployment", "instance_class", "reader_instance_class", "readers", "parameters")
PROXY_KEYS = ("kind", "database", "max_connections_percent")
PROXY_CARRIED = ("clients", "endpoint", "environments")  # the user's part of an imported proxy


@dataclass(frozen=True)
class ImportedDatabase:
    """One database as deployed: the writer, its readers, and the parameters that shape its budget."""

    name: str
    engine: str
    engine_version: str
    instance_class: str
    parameters: Mapping[str, int | str]
    readers: int = 0
    reader_instance_class: str | None = None
    origin: str = ""  # "RDS instance shop-db", "Aurora cluster shop"
    resources: tuple[str, ...] = ()  # instance and cluster identifiers, to match proxies' targets
    deployment: str = ""  # "" = the engine's default (single-az, aurora-standard)

    def entry(self) -> dict[str, Any]:
        """Return the topology entry (the keys import owns)."""
        out: dict[str, Any] = {"engine": self.engine, "engine_version": self.engine_version,
                               "instance_class": self.instance_class}  # fmt: skip
        if self.deployment and self.deployment != DEFAULT_DEPLOYMENT.get(self.engine):
            out["deployment"] = self.deployment
        if self.readers:
            out["readers"] = self.readers
            if self.reader_instance_class and self.reader_instance_class != self.instance_class:
                out["reader_instance_class"] = self.reader_instance_class
        if self.parameters:
            out["parameters"] = dict(self.parameters)
        return out


@dataclass(frozen=True)
class ImportedProxy:
    """An RDS Proxy in front of an imported database."""

    name: str
    database: str
    max_connections_percent: int = 100

    def entry(self) -> dict[str, Any]:
        """Return the pooler entry (the keys import owns)."""
        return {"kind": "rds-proxy", "database": self.database, "max_connections_percent": self.max_connections_percent}


@dataclass
class Imported:
    """What an import found, and what it wants the user to know."""

    databases: list[ImportedDatabase] = field(default_factory=list)
    proxies: list[ImportedProxy] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- API shapes -> entries


def _same(value: int | str, default: int | str) -> bool:
    return "".join(str(value).split()).lower() == "".join(str(default).split()).lower()


def parameters_from_rds(parameters: Iterable[Mapping[str, Any]], engine_version: str,
                        engine: str = "postgres") -> dict[str, int | str]:  # fmt: skip
    """Return the budget parameters of a parameter group: those set by the user, or differing from the defaults.

    ``parameters`` are ``DescribeDBParameters`` entries. A value AWS set (``Source`` system or
    engine-default) that equals the planner's default for that engine version is left out, so a
    default group adds nothing. A parameter the engine version does not have is left out too.
    """
    try:
        version = parse_engine_version(engine_version)
    except ValueError:
        version = parse_engine_version("16")
    defaults: dict[str, int | str] = {"max_connections": DEFAULT_MAX_CONNECTIONS_FORMULA}
    defaults.update({d.parameter: d.value for d in default_reserves(engine, version)})
    result: dict[str, int | str] = {}
    for item in parameters:
        name = item.get("ParameterName")
        value = item.get("ParameterValue")
        if name not in BUDGET_PARAMETERS or value is None or not str(value).strip():
            continue
        if parameter_problem(engine, version, name) is not None:
            continue
        text = str(value).strip()
        parsed: int | str = int(text) if text.isdigit() else text
        if item.get("Source", "user") == "user" or name not in defaults or not _same(parsed, defaults[name]):
            result[name] = parsed
    return {k: result[k] for k in BUDGET_PARAMETERS if k in result}


def _group(instance: Mapping[str, Any]) -> str | None:
    groups = instance.get("DBParameterGroups") or []
    return groups[0].get("DBParameterGroupName") if groups else None


_SIZES = ("nano", "micro", "small", "medium", "large", "xlarge")


def _size_rank(instance_class: str) -> tuple[float, str]:
    """Order classes by size within the name: db.r6g.large < db.r6g.xlarge < db.r6g.2xlarge."""
    size = instance_class.rsplit(".", 1)[-1]
    if size in _SIZES:
        return float(_SIZES.index(size)), instance_class
    digits = re.match(r"(\d+)xlarge$", size)
    return (len(_SIZES) - 1 + int(digits.group(1)) if digits else float("inf")), instance_class


def _reader_class(writer_class: str, classes: list[str], origin: str, notes: list[str]) -> str | None:
    """Return the readers' class: the smallest when they differ (the tightest budget), with a note."""
    if not classes:
        return None
    chosen = min(set(classes), key=_size_rank)
    if len(set(classes)) > 1:
        notes.append(f"{origin}: the readers run {', '.join(sorted(set(classes), key=_size_rank))}; the topology "
                     f"models them all as the smallest, {chosen}: check reader_instance_class")  # fmt: skip
    return chosen if chosen != writer_class else None


def database_from_instance(name: str, writer: Mapping[str, Any], replicas: list[Mapping[str, Any]],
                           parameters: dict[str, int | str], notes: list[str]) -> ImportedDatabase:  # fmt: skip
    """Return an RDS instance and its read replicas as one database."""
    origin = f"RDS instance {writer['DBInstanceIdentifier']}"
    classes = [r["DBInstanceClass"] for r in replicas]
    for replica in replicas:
        if _group(replica) != _group(writer):
            notes.append(f"{origin}: replica {replica['DBInstanceIdentifier']} uses parameter group "
                         f"{_group(replica)}, the writer {_group(writer)}: the topology has the writer's parameters")
    return ImportedDatabase(
        name=name, engine=writer["Engine"], engine_version=str(writer.get("EngineVersion") or "16"),
        instance_class=writer["DBInstanceClass"], parameters=parameters, readers=len(replicas),
        reader_instance_class=_reader_class(writer["DBInstanceClass"], classes, origin, notes), origin=origin,
        resources=(writer["DBInstanceIdentifier"], *(r["DBInstanceIdentifier"] for r in replicas)),
        deployment="multi-az" if writer.get("MultiAZ") else "single-az",
    )  # fmt: skip


def cluster_writer(cluster: Mapping[str, Any], members: list[Mapping[str, Any]]) -> tuple[Mapping[str, Any] | None, list[Mapping[str, Any]]]:
    """Return (writer instance, reader instances) of a cluster from its members' descriptions."""
    writer_ids = {m["DBInstanceIdentifier"] for m in cluster.get("DBClusterMembers", []) if m.get("IsClusterWriter")}
    writer = next((m for m in members if m["DBInstanceIdentifier"] in writer_ids), None)
    return writer, [m for m in members if m is not writer]


def database_from_cluster(name: str, cluster: Mapping[str, Any], members: list[Mapping[str, Any]],
                          parameters: dict[str, int | str], notes: list[str]) -> ImportedDatabase | None:  # fmt: skip
    """Return an Aurora (or Multi-AZ DB) cluster as one database: its writer and its readers."""
    origin = f"{'Aurora' if str(cluster.get('Engine', '')).startswith('aurora') else 'RDS Multi-AZ DB'} cluster " \
             f"{cluster['DBClusterIdentifier']}"
    writer, readers = cluster_writer(cluster, members)
    writer_class = (writer or {}).get("DBInstanceClass") or cluster.get("DBClusterInstanceClass")
    if not writer_class:
        notes.append(f"{origin}: no writer instance found: not imported")
        return None
    classes = [r["DBInstanceClass"] for r in readers]
    if str(cluster.get("Engine", "")).startswith("aurora"):
        deployment = "aurora-io-optimized" if cluster.get("StorageType") == "aurora-iopt1" else "aurora-standard"
    else:
        deployment = "multi-az-cluster"  # its two readable standbys are the readers
    return ImportedDatabase(
        name=name, engine=cluster["Engine"], engine_version=str(cluster.get("EngineVersion") or "16"),
        instance_class=writer_class, parameters=parameters, readers=len(readers),
        reader_instance_class=_reader_class(writer_class, classes, origin, notes), origin=origin,
        resources=(cluster["DBClusterIdentifier"], *(m["DBInstanceIdentifier"] for m in members)),
        deployment=deployment,
    )  # fmt: skip


def proxies_for(proxies: Iterable[Mapping[str, Any]], databases: list[ImportedDatabase]) -> list[ImportedProxy]:
    """Return the PostgreSQL RDS Proxies whose target is one of ``databases``, with MaxConnectionsPercent."""
    by_resource = {r: db.name for db in databases for r in db.resources}
    found: list[ImportedProxy] = []
    for proxy in proxies:
        if str(proxy.get("EngineFamily", "")).upper() != "POSTGRESQL":
            continue
        targets = [t.get("TrackedClusterId") or t.get("RdsResourceId") for t in proxy.get("Targets", [])]
        database = next((by_resource[t] for t in targets if t in by_resource), None)
        if database is None:
            continue
        groups = proxy.get("TargetGroups", [])
        group = next((g for g in groups if g.get("IsDefault")), groups[0] if groups else {})
        percent = (group.get("ConnectionPoolConfig") or {}).get("MaxConnectionsPercent", 100)
        found.append(ImportedProxy(proxy["DBProxyName"], database, int(percent)))
    return sorted(found, key=lambda p: p.name)


# --------------------------------------------------------------------------- asking AWS


def _is_arn(identifier: str) -> bool:
    return identifier.startswith("arn:")


def collect(gateway: Any, *, instance: str | None = None, cluster: str | None = None, everything: bool = False,
            name: str | None = None) -> Imported:  # fmt: skip
    """Ask AWS (through ``gateway``) for one instance, one cluster, or everything in the region."""
    result = Imported()
    notes = result.notes
    groups: dict[tuple[str, bool], list[dict[str, Any]]] = {}

    def params(group: str | None, version: str, is_cluster: bool = False, engine: str = "postgres") -> dict[str, int | str]:
        if not group:
            return {}
        if (group, is_cluster) not in groups:
            groups[(group, is_cluster)] = gateway.parameters(group, cluster=is_cluster)
        return parameters_from_rds(groups[(group, is_cluster)], version, engine)

    def add_cluster(item: Mapping[str, Any], members: list[Mapping[str, Any]], db_name: str) -> None:
        version = str(item.get("EngineVersion") or "16")
        writer, _ = cluster_writer(item, members)
        engine = str(item.get("Engine") or "aurora-postgresql")
        merged = {**params(item.get("DBClusterParameterGroup"), version, True, engine),
                  **params(_group(writer or {}), version, engine=engine)}
        db = database_from_cluster(db_name, item, members, merged, notes)
        if db is not None:
            result.databases.append(db)

    def add_instance(writer: Mapping[str, Any], replicas: list[Mapping[str, Any]], db_name: str) -> None:
        version = str(writer.get("EngineVersion") or "16")
        result.databases.append(database_from_instance(db_name, writer, replicas, params(_group(writer), version), notes))

    def check_engine(item: Mapping[str, Any], what: str) -> None:
        if item.get("Engine") not in RDS_ENGINES:
            raise InputError(f"{what} runs {item.get('Engine')}: the planner knows postgres and aurora-postgresql")

    if instance:
        found = gateway.db_instances(identifier=instance)[0]
        check_engine(found, f"DB instance {instance!r}")
        source = found.get("ReadReplicaSourceDBInstanceIdentifier")
        if found.get("DBClusterIdentifier"):
            cluster = found["DBClusterIdentifier"]
            notes.append(f"{instance} is a member of cluster {cluster}: imported the cluster")
        elif source and not _is_arn(source):
            notes.append(f"{instance} is a read replica of {source}: imported {source} with its replicas")
            found = gateway.db_instances(identifier=source)[0]
        if not cluster:
            ids = found.get("ReadReplicaDBInstanceIdentifiers") or []
            replicas = [gateway.db_instances(identifier=r)[0] for r in ids if not _is_arn(r)]
            if len(replicas) < len(ids):
                notes.append(f"{found['DBInstanceIdentifier']}: {len(ids) - len(replicas)} cross-region replica(s) "
                             "not counted as readers (import them in their region)")  # fmt: skip
            add_instance(found, replicas, name or found["DBInstanceIdentifier"])
    if cluster:
        item = gateway.db_clusters(cluster)[0]
        check_engine(item, f"DB cluster {cluster!r}")
        add_cluster(item, gateway.db_instances(cluster=cluster), name or cluster)
    if everything:
        instances = gateway.db_instances()
        clusters = gateway.db_clusters()
        by_id = {i["DBInstanceIdentifier"]: i for i in instances}
        for item in sorted(clusters, key=lambda c: c["DBClusterIdentifier"]):
            if item.get("Engine") not in RDS_ENGINES:
                notes.append(f"skipped cluster {item['DBClusterIdentifier']} ({item.get('Engine')})")
                continue
            add_cluster(item, [i for i in instances if i.get("DBClusterIdentifier") == item["DBClusterIdentifier"]],
                        item["DBClusterIdentifier"])  # fmt: skip
        for ident, item in sorted(by_id.items()):
            if item.get("DBClusterIdentifier") or item.get("ReadReplicaSourceDBInstanceIdentifier") in by_id:
                continue
            if item.get("Engine") not in RDS_ENGINES:
                notes.append(f"skipped instance {ident} ({item.get('Engine')})")
                continue
            replicas = [by_id[r] for r in item.get("ReadReplicaDBInstanceIdentifiers") or [] if r in by_id]
            add_instance(item, replicas, ident)
        if not result.databases:
            notes.append(f"no PostgreSQL or Aurora PostgreSQL database in {gateway.region}")
    if result.databases:
        result.proxies = proxies_for(gateway.proxies(), result.databases)
    for db in result.databases:
        if db.instance_class == "db.serverless":
            notes.append(f"{db.origin}: db.serverless (Aurora Serverless v2) is not in the catalogue: its "
                         "max_connections follows the maximum ACU; set parameters.max_connections to the value "
                         "SHOW max_connections prints")  # fmt: skip
    return result


# --------------------------------------------------------------------------- writing the topology

_KEY = re.compile(r"""^(?P<indent> *)(?P<key>"[^"\n]*"|'[^'\n]*'|[A-Za-z0-9_.$@/][^:#\n]*?)[ \t]*:(?:[ \t]+(?P<rest>.*)|)$""")


__all__ = ["DATABASE_KEYS", "PROXY_CARRIED", "Imported", "ImportedDatabase", "ImportedProxy", "collect", "database_from_cluster",
           "database_from_instance", "parameters_from_rds", "proxies_for"]
