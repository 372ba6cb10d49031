"""Databases and poolers that live in the cluster: what their workloads and operators' objects say.

A PostgreSQL server in the cluster is a ``self-managed`` database: a workload whose container runs a
known PostgreSQL image (:data:`~planner.topology.sources.apps.images.SERVER_IMAGES`, the table every
reader shares), a CloudNativePG ``Cluster`` or a Zalando ``postgresql``. A CloudNativePG ``Pooler``
is a PgBouncer pooler. Databases of engines planner does not plan (MySQL, MariaDB, SQL Server,
Oracle), and PostgreSQL objects of operators planner does not read, are listed by
:meth:`KubernetesSource.unplanned`, never dropped in silence.

What each operator does is data here, each row with the documentation it comes from; the functions
only apply it and the image's row. ``max_connections`` (and the reserved-slot parameters) of a server
come, in the order PostgreSQL lets them win, from its command line (``-c max_connections=N``,
``--max_connections=N``, ``-N N``), the image's variable of extra flags, a configuration file the
image reads (mounted from a ConfigMap), then the image's own variable (``POSTGRESQL_MAX_CONNECTIONS``)."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from planner.topology.sources.apps.images import POSTGRES, ServerImage, postgres_setting, server_image, tag_version
from planner.topology.sources.base import UNKNOWN_MARK, Container, Fact, Link, Origin, Unknown, Value
from planner.topology.sources.kubernetes.manifests import Manifest, dig, mapping
from planner.topology.sources.redact import assignment, is_number

if TYPE_CHECKING:
    from planner.topology.sources.kubernetes.source import KubernetesSource

PARAMETERS = ("max_connections", "superuser_reserved_connections", "reserved_connections")


@dataclass(frozen=True)
class Operator:
    """An operator's database object: its kind and API group, the engine it runs, and its documentation."""

    kind: str
    group: str
    engine: str
    name: str  # the operator, as its project calls it
    doc: str


# Objects of operators planner does not read: named by unplanned(), so that no database is dropped in silence.
UNREAD_OPERATORS: tuple[Operator, ...] = (
    Operator("PostgresCluster", "postgres-operator.crunchydata.com", POSTGRES, "Crunchy PGO",
             "https://access.crunchydata.com/documentation/postgres-operator/latest/references/crd"),
    Operator("SGCluster", "stackgres.io", POSTGRES, "StackGres", "https://stackgres.io/doc/latest/reference/crd/sgcluster/"),
    Operator("PerconaPGCluster", "pgv2.percona.com", POSTGRES, "Percona Operator for PostgreSQL",
             "https://docs.percona.com/percona-operator-for-postgresql/2.0/operator.html"),
    Operator("Postgres", "kubedb.com", POSTGRES, "KubeDB", "https://kubedb.com/docs/latest/guides/postgres/"),
    Operator("InnoDBCluster", "mysql.oracle.com", "mysql", "MySQL Operator for Kubernetes",
             "https://dev.mysql.com/doc/mysql-operator/en/"),
    Operator("PerconaXtraDBCluster", "pxc.percona.com", "mysql", "Percona Operator for MySQL (XtraDB Cluster)",
             "https://docs.percona.com/percona-operator-for-mysql/pxc/operator.html"),
    Operator("PerconaServerMySQL", "ps.percona.com", "mysql", "Percona Operator for MySQL",
             "https://docs.percona.com/percona-operator-for-mysql/ps/operator.html"),
    Operator("MySQLCluster", "moco.cybozu.com", "mysql", "MOCO", "https://cybozu-go.github.io/moco/crd_mysqlcluster_v1beta2.html"),
    Operator("MysqlCluster", "mysql.presslabs.org", "mysql", "Presslabs MySQL Operator",
             "https://github.com/bitpoke/mysql-operator"),
    Operator("VitessCluster", "planetscale.com", "mysql", "Vitess Operator", "https://vitess.io/docs/reference/vitess-operator/"),
    Operator("MySQL", "kubedb.com", "mysql", "KubeDB", "https://kubedb.com/docs/latest/guides/mysql/"),
    Operator("MariaDB", "k8s.mariadb.com", "mariadb", "mariadb-operator", "https://github.com/mariadb-operator/mariadb-operator"),
    Operator("MariaDB", "mariadb.mmontes.io", "mariadb", "mariadb-operator (before 0.0.25)",
             "https://github.com/mariadb-operator/mariadb-operator"),
    Operator("MariaDB", "kubedb.com", "mariadb", "KubeDB", "https://kubedb.com/docs/latest/guides/mariadb/"),
    Operator("SingleInstanceDatabase", "database.oracle.com", "oracle", "Oracle Database Operator",
             "https://github.com/oracle/oracle-database-operator"),
)

# CloudNativePG (https://cloudnative-pg.io/documentation/current/): a Cluster runs `instances` pods
# (default 1), one primary and standbys, behind the Services NAME-rw (primary), NAME-ro (standbys) and
# NAME-r (any: network.py names them); a Pooler runs `instances` PgBouncer pods (default 1) behind a Service of its own
# name, in `pgbouncer.poolMode` (default session), for the Cluster `cluster.name`, on `type` rw (default)
# or ro. Its `pgbouncer.parameters` are PgBouncer's own; those it does not set keep PgBouncer's
# defaults, which are the topology's (api/v1/pooler_types.go, pkg/management/pgbouncer/config).
CNPG_DOC = "https://cloudnative-pg.io/documentation/current/cloudnative-pg.v1/"
POOLER_PARAMETERS = ("default_pool_size", "reserve_pool_size", "max_client_conn", "max_db_connections")
POOLER_ENDPOINTS = {"rw": "writer", "ro": "reader"}
# The Zalando operator (https://postgres-operator.readthedocs.io/en/latest/reference/cluster_manifest/):
# `numberOfInstances` pods of Spilo behind the Services NAME (primary) and NAME-repl (replicas). Spilo sets
# max_connections from the memory it sees, 1 per 30 MB between 100 and 1000, unless the manifest sets
# it (https://github.com/zalando/spilo/blob/master/postgres-appliance/scripts/configure_spilo.py).


# ---------------------------------------------------------------------------- a PostgreSQL workload


def workload_facts(source: KubernetesSource, obj: Manifest, container: Container, row: ServerImage,
                   image_origin: Origin, notes: list[str]) -> dict[str, Value]:
    """Return what a workload running PostgreSQL says of its database: self-managed, its version and parameters."""
    facts: dict[str, Value] = {"engine": Fact("self-managed", image_origin)}
    version = tag_version(container.image or "", row)
    if version is not None:
        facts["engine_version"] = Fact(version, image_origin)
    for name in PARAMETERS:
        value = parameter(container, row, name)
        if value is not None:
            facts[f"parameters.{name}"] = value
    return facts


def parameter(container: Container, row: ServerImage, name: str) -> Fact | Unknown | None:
    """Return a server parameter as the container sets it: command line, flags variable, files, variable."""
    where = container.command_origin
    found = _from_words(container.command or (), name, container, where)
    if found is not None:
        return found
    for variable in row.flags:
        value = container.env.get(variable)
        if isinstance(value, Unknown):
            return Unknown(value.origin, f"sets {variable}, which may set {name}, but {value.reason}")
        if value is not None:
            found = _from_words((str(value.value),), name, container, value.origin)
            if found is not None:
                return found
    found = _from_files(container, _config_files(container, row), name)
    if found is not None:
        return found
    if name == "max_connections":
        for variable in row.variables:
            value = container.env.get(variable)
            if isinstance(value, Unknown):
                return Unknown(value.origin, f"sets {variable}, the image's {name}, but {value.reason}")
            if value is not None:
                return _number(str(value.value), value.origin, assignment(variable, value.value))
    return None


def _from_words(words: tuple[str, ...], name: str, container: Container, origin: Origin | None) -> Fact | Unknown | None:
    """Return the last setting of ``name`` on a postgres command line, as a number or why it is none."""
    found = postgres_setting(words, name)
    if found is None:
        return None
    shown, value = found
    where = origin or Origin(container.name, "", None)
    return _number(value, where, shown, container)


def _number(text: str, origin: Origin, shown: str, container: Container | None = None) -> Fact | Unknown:
    """Return a setting's value as an integer, or Unknown saying why it is none; ``shown`` (the
    setting as written) is added to the origin's field, unless it is not a number (which is not shown)."""
    if shown and is_number(text.strip().strip("'\"")) or UNKNOWN_MARK in text:
        origin = Origin(origin.what, origin.file, origin.line, f"{origin.field} {shown}" if origin.field else shown)
    marked = re.findall(f"{UNKNOWN_MARK}([^{UNKNOWN_MARK}]*){UNKNOWN_MARK}", text)
    if marked:
        value = container.env.get(marked[0]) if container else None
        why = value.reason if isinstance(value, Unknown) else "an envFrom planner cannot read may set it"
        return Unknown(origin, f"is set from $({marked[0]}), which {why}")
    text = text.strip().strip("'\"")
    if text.isdigit():
        return Fact(int(text), origin)
    return Unknown(origin, "is not a number planner can read")


def _config_files(container: Container, row: ServerImage) -> list[str]:
    """Return the configuration files the server reads that are mounted, in the order they apply."""
    paths = list(row.config)
    named = postgres_setting(container.command or (), "config_file")
    if named and named[1].strip("'\""):
        paths.insert(0, named[1].strip("'\""))
    files: list[str] = []
    for path in paths:
        folder = path if path.endswith("/") else posixpath.dirname(path) + "/"
        if folder in container.files:  # the folder itself is mounted from something planner cannot list
            files.append(folder)
        if path.endswith("/"):  # a folder of overrides: every .conf file in it, by name
            files += sorted(f for f in container.files if f.startswith(path) and f.endswith(".conf"))
        elif path in container.files:
            files.append(path)
    return files


_CONF_LINE = r"\s*([A-Za-z_.]+)\s*=?\s*('(?:[^']*)'|[^\s#]+)"  # a postgresql.conf setting (compiled on use)


def _from_files(container: Container, paths: list[str], name: str) -> Fact | Unknown | None:
    """Return the last setting of ``name`` in the configuration files ``paths`` (later files win)."""
    found: Fact | Unknown | None = None
    for path in paths:
        file = container.files[path]
        if isinstance(file, Unknown):
            found = Unknown(file.origin, f"is mounted at {path}, where the server reads its settings, and {file.reason}")
            continue
        for line in str(file.value).splitlines():
            match = re.match(_CONF_LINE, line)
            if match and match.group(1) == name:
                found = _number(match.group(2), file.origin, f"{path}: {line.split('#', 1)[0].strip()}")
    return found


# ---------------------------------------------------------------------------- operators' objects


def cnpg_cluster_facts(source: KubernetesSource, obj: Manifest, notes: list[str]) -> dict[str, Value]:
    """Return what a CloudNativePG Cluster says: self-managed, its standbys as readers, its parameters."""
    spec = obj.spec
    facts: dict[str, Value] = {"engine": Fact("self-managed", source.at(obj, "kind", "kind Cluster (CloudNativePG)"))}
    instances = spec.get("instances")
    if instances is None:
        facts["readers"] = Fact(0, source.at(obj, "spec", "spec.instances (absent: CloudNativePG's default 1, a primary alone)"))
    elif isinstance(instances, int) and not isinstance(instances, bool) and instances >= 1:
        facts["readers"] = Fact(instances - 1, source.at(obj, "spec.instances",
                                                         f"spec.instances {instances} (a primary and {instances - 1} standby{'' if instances == 2 else 's'})"))
    else:
        facts["readers"] = Unknown(source.at(obj, "spec.instances"), "is not a number of instances")
    image = spec.get("imageName")
    major = mapping(spec.get("imageCatalogRef")).get("major")
    if isinstance(image, str):
        row = server_image(image)
        version = tag_version(image, row) if row else None
        if version:
            facts["engine_version"] = Fact(version, source.at(obj, "spec.imageName"))
    elif major is not None:
        facts["engine_version"] = Fact(str(major), source.at(obj, "spec.imageCatalogRef.major"))
    facts.update(_cr_parameters(source, obj, "spec.postgresql.parameters"))
    if mapping(spec.get("replica")).get("enabled") is True:
        notes.append(f"{source.label(obj)} is a replica cluster (spec.replica.enabled): every instance is a standby "
                     "of another cluster, and takes no writes")
    return facts


def zalando_facts(source: KubernetesSource, obj: Manifest) -> dict[str, Value]:
    """Return what a Zalando operator ``postgresql`` says: self-managed, replicas as readers, version, parameters."""
    spec = obj.spec
    facts: dict[str, Value] = {"engine": Fact("self-managed", source.at(obj, "kind", "kind postgresql (Zalando operator)"))}
    count = spec.get("numberOfInstances")
    if isinstance(count, int) and not isinstance(count, bool) and count >= 1:
        facts["readers"] = Fact(count - 1, source.at(obj, "spec.numberOfInstances",
                                                     f"spec.numberOfInstances {count} (a primary and {count - 1} replica{'' if count == 2 else 's'})"))
    else:
        facts["readers"] = Unknown(source.at(obj, "spec.numberOfInstances" if count is not None else "spec"),
                                   "has no spec.numberOfInstances the operator can run" if count is None else
                                   "is not a number of instances")
    version = dig(spec, "postgresql.version")
    if version is not None:
        facts["engine_version"] = Fact(str(version), source.at(obj, "spec.postgresql.version"))
    facts.update(_cr_parameters(source, obj, "spec.postgresql.parameters"))
    if "parameters.max_connections" not in facts:
        facts["parameters.max_connections"] = Unknown(
            source.at(obj, "spec.postgresql" if "postgresql" in spec else "spec"),
            "sets no max_connections, so Spilo sets it from the memory the pod sees (1 per 30 MB, 100 to 1000; "
            "configure_spilo.py), which no manifest says")
    return facts


def _cr_parameters(source: KubernetesSource, obj: Manifest, path: str) -> dict[str, Value]:
    """Return the connection parameters an operator's object sets for PostgreSQL (strings, as its CRD types them)."""
    parameters = mapping(dig(obj.data, path))
    facts: dict[str, Value] = {}
    for name in PARAMETERS:
        if name in parameters:
            facts[f"parameters.{name}"] = _number(str(parameters[name]), source.at(obj, f"{path}.{name}"), "")
    return facts


def cnpg_pooler_facts(source: KubernetesSource, obj: Manifest, cluster: Manifest | None, notes: list[str]) -> dict[str, Value]:
    """Return what a CloudNativePG Pooler says: a PgBouncer, its instances, pool mode, parameters and Cluster."""
    spec = obj.spec
    pgbouncer = mapping(spec.get("pgbouncer"))
    facts: dict[str, Value] = {"kind": Fact("pgbouncer", source.at(obj, "kind", "kind Pooler (CloudNativePG's PgBouncer)"))}
    instances = spec.get("instances")
    if instances is None:
        facts["replicas"] = Fact(1, source.at(obj, "spec", "spec.instances (absent: CloudNativePG's default, 1)"))
    else:
        facts["replicas"] = Fact(instances, source.at(obj, "spec.instances"))
    mode = pgbouncer.get("poolMode")
    facts["pool_mode"] = (Fact(mode, source.at(obj, "spec.pgbouncer.poolMode")) if mode is not None else
                          Fact("session", source.at(obj, "spec.pgbouncer" if pgbouncer else "spec",
                                                    "spec.pgbouncer.poolMode (absent: CloudNativePG's default, session)")))
    parameters = mapping(pgbouncer.get("parameters"))
    for name in POOLER_PARAMETERS:
        if name in parameters:
            facts[name] = _number(str(parameters[name]), source.at(obj, f"spec.pgbouncer.parameters.{name}"), "")
    name = mapping(spec.get("cluster")).get("name")
    target = source.label(cluster) if cluster is not None else f"Cluster/{name}"
    facts["database"] = Link(target, source.at(obj, "spec.cluster.name"))
    kind = spec.get("type", "rw")
    if kind in POOLER_ENDPOINTS:
        facts["endpoint"] = Fact(POOLER_ENDPOINTS[kind], source.at(obj, "spec.type" if "type" in spec else "spec",
                                                                 None if "type" in spec else "spec.type (absent: CloudNativePG's default, rw)"))
    else:
        notes.append(f"{source.label(obj)} has spec.type {kind!r}: it spreads its connections over every instance of "
                     f"{target}, primary included; planner counts them on the endpoint the topology gives it (writer by default)")
    return facts
