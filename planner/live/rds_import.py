"""Turn deployed RDS instances, Aurora clusters and RDS Proxies into a topology's ``databases:`` and ``poolers:``.

Pure: the mapping from API shapes (``DescribeDBInstances``, ``DescribeDBClusters``,
``DescribeDBParameters``, ``DescribeDBProxies`` with their targets and target groups) to topology
entries, and the merge into an existing file. :func:`collect` takes a gateway
(:class:`planner.adapters.aws.AwsGateway`) for the calls.

Merging keeps the user's text: the databases and proxies imported replace their own entries
(keeping keys AWS does not know, such as ``headroom`` or a proxy's ``clients``); every other line
of the file (services, environments, other databases, comments) is kept as written.
"""

from __future__ import annotations

import json
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


def _filler(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _blocks(lines: list[str], start: int, end: int, indent: int) -> list[tuple[str, int, int]]:
    """Return (key, first line, end) of each mapping entry at ``indent`` in ``lines[start:end]``.

    An entry ends where the next one starts, less the blank and comment lines before it.
    """
    heads = []
    for i in range(start, end):
        match = _KEY.match(lines[i].rstrip("\r\n"))
        if match and len(match["indent"]) == indent:
            heads.append((match["key"].strip("'\""), i))
    blocks = []
    for n, (key, i) in enumerate(heads):
        stop = heads[n + 1][1] if n + 1 < len(heads) else end
        while stop > i + 1 and _filler(lines[stop - 1]):
            stop -= 1
        blocks.append((key, i, stop))
    return blocks


def _render(name: str, body: Mapping[str, Any], indent: int, comment: str = "", prefix: str | None = None) -> list[str]:
    """Return an entry as YAML lines at ``indent``; with ``prefix`` ("  # "), commented out."""
    import yaml

    class Dumper(yaml.SafeDumper):  # block mappings, flow lists: `clients: [web]` as people write it
        pass

    Dumper.add_representer(list, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))
    text = yaml.dump({name: dict(body)}, Dumper=Dumper, sort_keys=False, default_flow_style=False, width=100,
                     allow_unicode=True)  # fmt: skip
    lines = text.splitlines()
    if prefix is None:
        if comment:
            lines[0] += f"  # {comment}"
        return [" " * indent + line + "\n" for line in lines]
    return [f"{prefix}{line}\n" for line in lines]


def _commented(entries: Mapping[str, Mapping[str, Any]], indent: int, section: bool) -> list[str]:
    """Return proxies without clients as commented-out entries, each after a line saying what to do."""
    out: list[str] = []
    for key, body in entries.items():
        note = f"RDS Proxy {key} (imported): list its clients (the services that connect through it), then uncomment"
        if section:
            out += [f"{' ' * indent}# {note}\n"] + _render(key, body, indent, prefix=" " * indent + "# ")
        else:
            out += [f"# {note}\n", "# poolers:\n"] + _render(key, body, indent, prefix="# " + " " * indent)
    return out


def _bodies(imported: Imported, doc: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Return (databases, active poolers, poolers without clients) as entries merged with the file's."""
    old_dbs = doc.get("databases") if isinstance(doc.get("databases"), dict) else {}
    old_poolers = doc.get("poolers") if isinstance(doc.get("poolers"), dict) else {}
    databases = {}
    for db in imported.databases:
        old = old_dbs.get(db.name) if isinstance(old_dbs.get(db.name), dict) else {}
        databases[db.name] = {**db.entry(), **{k: v for k, v in old.items() if k not in DATABASE_KEYS}}
    active, waiting = {}, {}
    for proxy in imported.proxies:
        old = old_poolers.get(proxy.name) if isinstance(old_poolers.get(proxy.name), dict) else {}
        body = {**proxy.entry(), **{k: old[k] for k in PROXY_CARRIED if k in old}}
        if body.get("clients"):
            active[proxy.name] = {k: body[k] for k in ("kind", "database", "clients", "endpoint", "environments",
                                                       "max_connections_percent") if k in body}  # fmt: skip
        else:
            waiting[proxy.name] = {"kind": "rds-proxy", "database": proxy.database, "clients": [],
                                   "max_connections_percent": proxy.max_connections_percent}
    return databases, active, waiting


def merge_yaml(text: str, imported: Imported, origins: Mapping[str, str]) -> str:
    """Return ``text`` (a YAML topology) with the imported databases and proxies written into it."""
    import yaml

    try:
        doc = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise InputError(f"cannot merge into a file that is not valid YAML ({str(exc).splitlines()[0]}): fix it, "
                         "or write to a new file with -o") from exc  # fmt: skip
    doc = doc or {}
    if not isinstance(doc, dict):
        raise InputError("cannot merge into a YAML file whose top level is not a mapping: write to a new file with -o")
    databases, active, waiting = _bodies(imported, doc)
    for name in waiting:
        imported.notes.append(f"RDS Proxy {name} is written commented out under poolers: list its clients "
                              "(the services that connect through it), then uncomment it")  # fmt: skip
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    top = {key: (i, stop) for key, i, stop in _blocks(lines, 0, len(lines), 0)}
    edits: list[tuple[int, int, list[str]]] = []
    appended: list[str] = []
    for section, entries, extra in (("databases", databases, {}), ("poolers", active, waiting)):
        extra = {k: v for k, v in extra.items() if f"# RDS Proxy {k} (imported)" not in text}
        if not entries and not extra:
            continue
        if section not in top:
            if entries:
                appended += [f"{section}:\n"]
                for key, body in entries.items():
                    appended += _render(key, body, 2, origins.get(key, ""))
            appended += _commented(extra, 2, bool(entries))
            continue
        start, stop = top[section]
        match = _KEY.match(lines[start].rstrip("\r\n"))
        rest = (match["rest"] or "") if match else ""
        if rest and not rest.lstrip().startswith("#"):  # a flow mapping: rewrite the section in block style
            current = dict(doc.get(section) or {})
            current.update(entries)
            new = [f"{section}:\n"] + [line for key, body in current.items()
                                       for line in _render(key, body, 2, origins.get(key, ""))]  # fmt: skip
            edits.append((start, stop, new + _commented(extra, 2, True)))
            continue
        children = [i for i in range(start + 1, stop) if not _filler(lines[i])]
        indent = len(lines[children[0]]) - len(lines[children[0]].lstrip(" ")) if children else 2
        blocks = _blocks(lines, start + 1, stop, indent)
        for key, first, end in blocks:
            if key in entries:
                edits.append((first, end, _render(key, entries.pop(key), indent, origins.get(key, ""))))
        at = blocks[-1][2] if blocks else start + 1
        new = [line for key, body in entries.items() for line in _render(key, body, indent, origins.get(key, ""))]
        new += _commented(extra, indent, True)
        if new:
            edits.append((at, at, new))
    for first, end, new in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        lines[first:end] = new
    if appended:
        if lines and lines[-1].strip():
            lines.append("\n")
        lines += appended
    return "".join(lines)


def merge_json(text: str, imported: Imported) -> str:
    """Return ``text`` (a JSON topology) with the imported databases and proxies written into it."""
    try:
        doc = json.loads(text) if text.strip() else {"version": 1}
    except json.JSONDecodeError as exc:
        raise InputError(f"cannot merge into a file that is not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    if not isinstance(doc, dict):
        raise InputError("cannot merge into a JSON file whose top level is not an object")
    databases, active, waiting = _bodies(imported, doc)
    for name in waiting:
        imported.notes.append(f"RDS Proxy {name} is not written: add poolers.{name} with kind rds-proxy, "
                              f"database {waiting[name]['database']}, its clients and max_connections_percent "
                              f"{waiting[name]['max_connections_percent']}")  # fmt: skip
    doc.setdefault("version", 1)
    doc["databases"] = {**(doc.get("databases") or {}), **databases}
    if active:
        doc["poolers"] = {**(doc.get("poolers") or {}), **active}
    return json.dumps(doc, indent=2) + "\n"


def new_topology(imported: Imported, origins: Mapping[str, str], header: str) -> str:
    """Return a new YAML topology holding the imported databases and proxies (and no services yet)."""
    lines = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return merge_yaml(lines + "version: 1\n", imported, origins)


__all__ = ["Imported", "ImportedDatabase", "ImportedProxy", "collect", "database_from_cluster", "database_from_instance",
           "merge_json", "merge_yaml", "new_topology", "parameters_from_rds", "proxies_for"]
