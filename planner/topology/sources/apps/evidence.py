"""Who is a client of the database: the evidence a container shows, or the reason it is left out (spec §6.2).

A deployment lists every container, and most are not PostgreSQL clients: caches, brokers, web
servers, the database itself. :func:`client_evidence` looks for what connects a container to the
database or to a pooler in front of it, and :func:`bystander` for what says it never connects:

- a URL naming a PostgreSQL server (``postgres://``, ``postgresql+psycopg2://``,
  ``jdbc:postgresql://``; a libpq ``host=`` string) in any variable: its host, looked up in the
  deployment's host names (:meth:`Source.hosts`), says which database or pooler it reaches;
- a ``*HOST*`` variable whose value is the host name of the database or a pooler;
- a variable only a PostgreSQL client has (``PGHOST``, ``DATABASE_URL`` from a Secret, ...);
- a ``depends_on``/``links`` on the database or a pooler;
- a framework recognised from its variables or programs (Django, Rails, Spring Boot), when nothing
  says it uses another database.

A container with none of these is not a client, and the importer lists it with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from planner.topology.sources.apps.frameworks import POSTGRES_URL
from planner.topology.sources.apps.images import parse_image, unplanned_engine
from planner.topology.sources.apps.recognise import Reading
from planner.topology.sources.base import Container, Fact, Found, Unknown
from planner.topology.sources.redact import shown

_URL = re.compile(r"(?:jdbc:)?[a-z][a-z0-9+.-]*://[^\s'\"]+", re.I)
_OTHER_ENGINES = re.compile(r"(?:jdbc:)?(?:mysql|mariadb|sqlserver|mssql|oracle|sqlite|mongodb(?:\+srv)?|redis|rediss|amqp|"
                            r"clickhouse|cockroachdb)[a-z0-9+]*:", re.I)
_OTHER_NAMES = re.compile(r"MYSQL|MARIADB|MONGO|REDIS|MSSQL|ORACLE|SQLITE|CLICKHOUSE|CASSANDRA|ELASTIC|INFLUX", re.I)
_LIBPQ_HOST = re.compile(r"(?:^|\s)host=([^\s]+)")
_HOST_VARIABLE = re.compile(r".*(?:HOST|HOSTNAME|SERVER|ADDR|ADDRESS)$")
# Variables only a PostgreSQL client sets, whatever their value (it may come from a Secret).
POSTGRES_VARIABLES = re.compile(r"PG(?:HOST|HOSTADDR|DATABASE|USER|PASSWORD|PORT|SERVICE|SSLMODE)|POSTGRES(?:QL)?_(?:HOST|URL|URI|DSN|DB|DATABASE|USER|PASSWORD|PORT)"
                                r"|.*_POSTGRES(?:QL)?_(?:HOST|URL|URI|DSN)|DATABASE_URL|.*_DATABASE_URL|DB_URL|.*SQL_ALCHEMY_CONN"
                                r"|SQLALCHEMY_DATABASE_UR[IL]|SPRING_DATASOURCE_URL|JDBC_DATABASE_URL|DB_HOST|DATABASE_HOST|.*_DB_HOST")
# Images that are datastores, brokers, proxies or web servers: never a client (spec §6.2).
NOT_CLIENTS = re.compile(
    r"(redis|valkey|keydb|dragonfly|memcached|rabbitmq|kafka|cp-kafka|zookeeper|cp-zookeeper|elasticsearch|opensearch|"
    r"mongo|mongodb|mysql|mariadb|percona|mssql|.*sql-server|oracle|clickhouse|clickhouse-server|cassandra|scylla|"
    r"nginx|nginx-unprivileged|traefik|haproxy|envoy|caddy|httpd|apache|varnish|squid|"
    r"minio|localstack|mailhog|mailpit|maildev|smtp|postfix|exim|memcache|nats|pulsar|etcd|consul|vault|"
    r"prometheus|alertmanager|grafana|loki|tempo|jaeger|otel-collector|opentelemetry-collector|zipkin|statsd|"
    r"snuba|symbolicator|relay|vroom|taskbroker|uptime-checker|seaweedfs|redpanda|kafka-ui|pgadmin4?|adminer)"
    r"(?:[-_].*)?")
# Names that say a database of another engine where the image table (apps.images) knows no image: a
# build of its own (shop/mysql-custom), MongoDB, CockroachDB, Db2. Named as such when left out.
OTHER_DATABASES = re.compile(r"(mysql|mariadb|percona(?:-server)?|mssql|mssql-server|sql-server|oracle(?:-database)?|"
                             r"oracle-free|db2|cockroach|mongo(?:db)?)(?:[-_].*)?")
# Variables that configure a database connection without saying which engine: evidence only when nothing
# in the container names another engine.
DATABASE_SETTINGS = re.compile(r"(?:.*_)?(?:DB|DATABASE)_(?:HOST|HOSTNAME|PORT|NAME|USER|USERNAME|PASSWORD|PASS|POOL\w*"
                               r"|URL|URI|DSN|SCHEMA|SSLMODE|MAX_OVERFLOW|CONN\w*)")


@dataclass(frozen=True)
class Evidence:
    """Why a container is a client: what it says, and which database or pooler (``target``) it reaches."""

    reason: str
    target: str | None  # the reference of the database or pooler object it names; None: not in the deployment


def image_name(image: str) -> str:
    """Return the last part of an image's repository: ``docker.io/bitnami/postgresql:16`` → ``postgresql``."""
    return parse_image(image).name


ENGINE_NAMES = (("aurora-mysql", "Aurora MySQL"), ("mysql", "MySQL"), ("mariadb", "MariaDB"), ("percona", "MySQL (Percona)"),
                ("sqlserver", "SQL Server"), ("mssql", "SQL Server"), ("sql-server", "SQL Server"), ("oracle", "Oracle"),
                ("db2", "Db2"), ("mongo", "MongoDB"), ("cockroach", "CockroachDB"))


def engine_name(engine: str) -> str:
    """Return an engine as people write it, from an RDS engine or an image name: ``mysql`` → ``MySQL``,
    ``sqlserver-ee`` → ``SQL Server``, ``quay.io/fedora/mysql-80`` → ``MySQL``; else ``engine`` itself."""
    last = engine.rsplit("/", 1)[-1].lower()
    return next((shown for prefix, shown in ENGINE_NAMES if last.startswith(prefix)), engine)


def bystander(container: Container) -> str | None:
    """Return why a container is never a client (its image is a datastore, broker, proxy or web server), or None."""
    if not container.image:
        return None
    name = image_name(container.image)
    stem = OTHER_DATABASES.fullmatch(name)
    engine = unplanned_engine(container.image) or (stem.group(1) if stem else None)
    if engine:  # spec §6.5: a database planner does not plan is named, never dropped in silence
        return f"its image {container.image} is a {engine_name(engine)} database, an engine planner does not plan (it plans PostgreSQL)"
    if NOT_CLIENTS.fullmatch(name):
        return f"its image {container.image} is a datastore, broker, proxy or web server, not a PostgreSQL client"
    return None


def client_evidence(found: Found, container: Container, reading: Reading | None, hosts: dict[str, str],
                    targets: set[str]) -> list[Evidence]:
    """Return what says ``container`` of ``found`` opens PostgreSQL connections, best first.

    ``hosts`` maps the deployment's host names to its objects; ``targets`` are the references of the
    databases and poolers a client may reach.
    """
    evidence: list[Evidence] = []
    other_engine = False
    for name, value in container.env.items():
        if isinstance(value, Unknown):
            if POSTGRES_VARIABLES.fullmatch(name):
                evidence.append(Evidence(f"{name} (its value {value.reason})", None))
            continue
        text = str(value.value)
        for url in _URL.findall(text):
            if POSTGRES_URL.match(url):
                host = _url_host(url)
                target = _target(host, hosts, targets)
                where = f"host {host!r}" + (f" ({target})" if target else "")
                evidence.append(Evidence(f"{name} is a PostgreSQL URL naming {where}", target))
            elif _OTHER_ENGINES.match(url):
                other_engine = other_engine or name in ("DATABASE_URL", "DB_URL") or "DATABASE" in name or "DB_" in name
        libpq = _LIBPQ_HOST.search(text)
        if libpq and "dbname=" in text:
            host = libpq.group(1)
            evidence.append(Evidence(f"{name} is a libpq connection string naming host {host!r}", _target(host, hosts, targets)))
        elif _HOST_VARIABLE.fullmatch(name) and text.strip():
            target = _target(text.strip(), hosts, targets)
            if target is not None:
                evidence.append(Evidence(f"{name} = {shown(name, text.strip())} names {target}", target))
            elif POSTGRES_VARIABLES.fullmatch(name):
                evidence.append(Evidence(f"{name} = {shown(name, text.strip())} (a PostgreSQL host outside the deployment)", None))
    for dependency in found.depends_on:
        ref = _dependency_ref(dependency, hosts, targets)
        if ref is not None:
            evidence.append(Evidence(f"depends on {ref}", ref))
    if not evidence and not other_engine:
        settings = [name for name, value in container.env.items() if DATABASE_SETTINGS.fullmatch(name)
                    and not _OTHER_NAMES.search(name) and not _file_path(value)]
        if settings:
            evidence.append(Evidence(f"its environment sets {', '.join(settings[:3])} (database settings), and nothing "
                                     "in it names another database engine", None))
    if reading is not None and reading.framework is not None and not other_engine and not evidence:
        driver = reading.values.get("pool.driver")
        why = driver.origin.what if isinstance(driver, Fact) else reading.framework.name
        evidence.append(Evidence(f"runs {reading.framework.name} ({why}), and nothing names another database", None))
    return sorted(evidence, key=lambda e: e.target is None)


def _file_path(value: Fact | Unknown) -> bool:
    """Return whether a value is a file's path (``/data/taskbroker.sqlite``): a SQLite database, not a server."""
    return isinstance(value, Fact) and str(value.value).startswith(("/", "./", "file:", "sqlite:"))


def _url_host(url: str) -> str:
    """Return the host of a database URL (``jdbc:postgresql://db:5432/x`` → ``db``)."""
    try:
        return urlsplit(re.sub(r"^jdbc:", "", url)).hostname or ""
    except ValueError:
        return ""


def _target(host: str, hosts: dict[str, str], targets: set[str]) -> str | None:
    """Return the database or pooler reference a host name reaches, if it is one of ``targets``."""
    ref = hosts.get(host) or hosts.get(host.split(".", 1)[0]) if host else None
    return ref if ref in targets else None


def _dependency_ref(dependency: str, hosts: dict[str, str], targets: set[str]) -> str | None:
    """Return the database or pooler a dependency (a service name or reference) is."""
    if dependency in targets:
        return dependency
    return _target(dependency, hosts, targets)


def choose_container(containers: list[Container]) -> tuple[Container | None, str]:
    """Return the one container of a workload that shows PostgreSQL use (a PostgreSQL URL or variable, a
    recognised framework), with what shows it; (None, "") when none or several do."""
    from planner.topology.sources.apps.recognise import read_container

    talking: list[tuple[Container, str]] = []
    empty = Found(origin=None, containers=())  # type: ignore[arg-type]
    for container in containers:
        if bystander(container):
            continue
        found = client_evidence(empty, container, read_container("", container), {}, set())
        if found:
            talking.append((container, found[0].reason))
    if len(talking) == 1:
        return talking[0]
    return None, ""
