"""PostgreSQL, its poolers and other engines' databases that live in the cluster.

A workload running a PostgreSQL server image, a CloudNativePG Cluster and a Zalando ``postgresql``
are self-managed databases; a CloudNativePG Pooler is a PgBouncer; a MySQL workload is a database
planner does not plan, named by ``unplanned()``. The expected values are read off the fixtures by
hand (fixtures/kubernetes/README.md), and the budgets below are worked out from docs/topology.md.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from planner.topology import load_topology
from planner.topology.sources.base import UNKNOWN_MARK, Container, Fact, Link, Origin, Unknown, Unplanned
from planner.topology.sources.apps.images import server_image
from planner.topology.sources.kubernetes.databases import parameter

from ...conftest import run_cli
from .test_kubernetes import _in_fixtures, copied, FIXTURES, edit, facts, origins, ref_error, source  # noqa: F401 (the fixtures: run in the fixtures' folder, or a copy)


HERE = Origin("Deployment/db", "db.yaml", 9, "containers[db].command")


def run(image: str, command: tuple[str, ...] | None = None, args: tuple[str, ...] | None = None,
        env: dict[str, str] | None = None, files: dict[str, str] | None = None) -> Container:
    """Return a container as a reader would give it (the environment and files as facts)."""
    return Container("db", image, command, args, HERE, env={k: Fact(v, Origin("Deployment/db", "db.yaml", 20, f"env[{k}]"))
                                                           for k, v in (env or {}).items()},
                     files={k: Fact(v, Origin("ConfigMap/conf", "db.yaml", 30, "data.postgresql.conf"))
                            for k, v in (files or {}).items()})


@pytest.mark.parametrize(("words", "value", "shown"), [
    (("postgres", "-c", "max_connections=200"), 200, "-c max_connections=200"),
    (("postgres", "-cmax_connections=200"), 200, "-cmax_connections=200"),
    (("postgres", "--max_connections=200"), 200, "--max_connections=200"),
    (("postgres", "--max-connections=200"), 200, "--max-connections=200"),
    (("postgres", "-N", "150"), 150, "-N 150"),
    (("postgres", "-N150"), 150, "-N150"),
    (("postgres", "-c", "max_connections=100", "-c", "max_connections=300"), 300, "-c max_connections=300"),  # the last wins
    (("sh", "-c", "exec docker-entrypoint.sh postgres -c 'max_connections=250'"), 250, "-c max_connections=250"),
])
def test_max_connections_on_the_command_line(words: tuple[str, ...], value: int, shown: str) -> None:
    found = parameter(run("postgres:16", words, ()), server_image("postgres:16"), "max_connections")  # type: ignore[arg-type]
    assert isinstance(found, Fact) and found.value == value
    assert found.origin == Origin("Deployment/db", "db.yaml", 9, f"containers[db].command {shown}")


def test_max_connections_from_the_images_variable_and_its_configuration_files() -> None:
    bitnami = server_image("bitnami/postgresql:16")
    assert bitnami is not None
    from_variable = parameter(run("bitnami/postgresql:16", env={"POSTGRESQL_MAX_CONNECTIONS": "300"}), bitnami, "max_connections")
    assert from_variable == Fact(300, Origin("Deployment/db", "db.yaml", 20, "env[POSTGRESQL_MAX_CONNECTIONS] "
                                                                            "POSTGRESQL_MAX_CONNECTIONS = '300'"))
    # the image's extra flags, then the configuration it reads (conf.d after the main file), then its variable
    conf = {"/bitnami/postgresql/conf/postgresql.conf": "max_connections = 400\n",
            "/bitnami/postgresql/conf/conf.d/override.conf": "# tuned\nmax_connections = '500'   # for the workers\n"}
    from_files = parameter(run("bitnami/postgresql:16", env={"POSTGRESQL_MAX_CONNECTIONS": "300"}, files=conf),
                           bitnami, "max_connections")
    assert isinstance(from_files, Fact) and from_files.value == 500
    assert from_files.origin.field == ("data.postgresql.conf /bitnami/postgresql/conf/conf.d/override.conf: "
                                       "max_connections = '500'")
    flags = run("bitnami/postgresql:16", env={"POSTGRESQL_EXTRA_FLAGS": "-c max_connections=600"}, files=conf)
    assert parameter(flags, bitnami, "max_connections").value == 600  # type: ignore[union-attr]
    # the official image reads a configuration file only where -c config_file names it
    official = server_image("postgres:16")
    assert official is not None
    mounted = {"/etc/postgresql/postgresql.conf": "max_connections=700\nsuperuser_reserved_connections = 5\n"}
    assert parameter(run("postgres:16", files=mounted), official, "max_connections") is None
    named = run("postgres:16", None, ("-c", "config_file=/etc/postgresql/postgresql.conf"), files=mounted)
    assert parameter(named, official, "max_connections").value == 700  # type: ignore[union-attr]
    assert parameter(named, official, "superuser_reserved_connections").value == 5  # type: ignore[union-attr]


def test_a_setting_planner_cannot_read_is_unknown() -> None:
    official = server_image("postgres:16")
    assert official is not None
    secret = Unknown(Origin("Deployment/db", "db.yaml", 21, "env[MAX]"), "comes from Secret/db key 'max', which planner does not read")
    hidden = Container("db", "postgres:16", None, ("-c", f"max_connections={UNKNOWN_MARK}MAX{UNKNOWN_MARK}"), HERE, env={"MAX": secret})
    found = parameter(hidden, official, "max_connections")
    assert isinstance(found, Unknown)
    assert found.reason == "is set from $(MAX), which comes from Secret/db key 'max', which planner does not read"
    words = parameter(run("postgres:16", None, ("-c", "max_connections=lots")), official, "max_connections")
    assert isinstance(words, Unknown) and words.reason == "is not a number planner can read"
    assert "lots" not in str(words.origin)  # what is not a number where one was expected is not shown


# --------------------------------------------------------------------------- workloads that are databases


def test_postgresql_workloads_are_databases_and_their_clients_are_not() -> None:
    assert source("otel-demo").names("database") == ["Deployment/astronomy-db"]
    assert source("sourcegraph").names("database") == [
        "StatefulSet/codeinsights-db", "StatefulSet/codeintel-db", "StatefulSet/pgsql"]
    # built on the official image under names of their own: known by their data at /var/lib/postgresql/data
    assert source("bank-of-anthos").names("database") == ["StatefulSet/accounts-db", "StatefulSet/ledger-db"]
    # psql, pg_dumpall and a Job's scripts run from postgres images: clients, not servers
    assert source("backup-restore", "bank-of-anthos-init-db").names("database") == []
    assert "Deployment/astronomy-db" not in source("otel-demo").names("service")


def test_a_postgres_workload_gives_its_version_and_its_configuration() -> None:
    found = source("otel-demo").find("Deployment/astronomy-db", "database")
    assert facts(found) == {"engine": "self-managed", "engine_version": "18.4"}  # no max_connections: PostgreSQL's 100
    assert origins(found)["engine_version"] == ("Deployment/astronomy-db containers[astronomy-db].image postgres:18.4, "
                                                "otel-demo/component.yaml:922")
    assert [c.name for c in found.containers or ()] == ["astronomy-db"]
    src = source("sourcegraph")
    settings = {ref: (facts(src.find(ref, "database")), origins(src.find(ref, "database"))["parameters.max_connections"])
                for ref in src.names("database")}
    assert settings == {
        "StatefulSet/codeinsights-db": ({"engine": "self-managed", "engine_version": "16", "parameters.max_connections": 20},
                                        "ConfigMap/codeinsights-db-conf data.postgresql.conf /conf/postgresql.conf: "
                                        "max_connections = 20, sourcegraph/rendered.yaml:11"),
        "StatefulSet/codeintel-db": ({"engine": "self-managed", "engine_version": "16", "parameters.max_connections": 100},
                                     "ConfigMap/codeintel-db-conf data.postgresql.conf /conf/postgresql.conf: "
                                     "max_connections = 100, sourcegraph/rendered.yaml:775"),
        "StatefulSet/pgsql": ({"engine": "self-managed", "engine_version": "16", "parameters.max_connections": 100},
                              "ConfigMap/pgsql-conf data.postgresql.conf /conf/postgresql.conf: "
                              "max_connections = 100, sourcegraph/rendered.yaml:1599"),
    }


def test_max_connections_on_a_real_command_line(copied: Path) -> None:
    edit(copied / "otel-demo" / "component.yaml", "            - shared_preload_libraries=pg_stat_statements\n",
         "            - shared_preload_libraries=pg_stat_statements\n            - -c\n            - max_connections=250\n")
    found = source("otel-demo").find("Deployment/astronomy-db", "database")
    assert facts(found)["parameters.max_connections"] == 250
    assert origins(found)["parameters.max_connections"] == (
        "Deployment/astronomy-db containers[astronomy-db].command -c max_connections=250, otel-demo/component.yaml:924")


def test_a_postgres_workload_of_several_pods_is_one_server_with_a_note(copied: Path) -> None:
    edit(copied / "bank-of-anthos" / "ledger-db.yaml", "  replicas: 1\n", "  replicas: 3\n")
    found = source("bank-of-anthos").find("StatefulSet/ledger-db", "database")
    assert facts(found) == {"engine": "self-managed"}
    assert found.notes == [
        "StatefulSet/ledger-db runs 3 pods of us-central1-docker.pkg.dev/bank-of-anthos-ci/bank-of-anthos/ledger-db:v0.6.10@"
        "sha256:891cb7afe34f358ce7ed7002a1923b25e113b30bca44fecb10cc8b116d665a03: each is a server of its own unless "
        "something replicates them; planner plans one (write readers: N if the others are its standbys)"]


def test_a_workload_that_runs_no_database_is_refused_as_one() -> None:
    assert ref_error(source("backup-restore"), "CronJob/db-backup", "database") == (
        "CronJob/db-backup runs to completion, so it serves no database (name the workload that runs PostgreSQL, or write "
        "the database's keys (engine: self-managed, parameters: {max_connections: N}) without from:)")


# --------------------------------------------------------------------------- operators


def test_a_cloudnative_pg_cluster_is_a_primary_and_its_standbys() -> None:
    src = source("cnpg")
    assert src.names("database") == ["Cluster/cluster-example-full", "Cluster/cluster-example"]
    full = src.find("Cluster/cluster-example-full", "database")
    assert facts(full) == {"engine": "self-managed", "readers": 2, "engine_version": "18.6"}
    assert origins(full) == {
        "engine": "Cluster/cluster-example-full kind Cluster (CloudNativePG), cnpg/cluster-example-full.yaml:33",
        "readers": "Cluster/cluster-example-full spec.instances 3 (a primary and 2 standbys), cnpg/cluster-example-full.yaml:42",
        "engine_version": "Cluster/cluster-example-full spec.imageName, cnpg/cluster-example-full.yaml:38",
    }
    assert full.containers is None  # the operator makes the pods: no environment to read
    assert facts(src.find("Cluster/cluster-example", "database")) == {"engine": "self-managed", "readers": 2}


def test_cloudnative_pg_parameters_and_defaults(copied: Path) -> None:
    edit(copied / "cnpg" / "cluster-example.yaml", "  instances: 3\n", "  imageCatalogRef: {apiGroup: postgresql.cnpg.io, "
         "kind: ClusterImageCatalog, name: postgresql, major: 16}\n")
    edit(copied / "cnpg" / "cluster-example.yaml", "      number: 1\n", "      number: 1\n    parameters:\n"
         "      max_connections: \"400\"\n      superuser_reserved_connections: \"5\"\n")
    found = source("cnpg").find("Cluster/cluster-example", "database")
    assert facts(found) == {"engine": "self-managed", "readers": 0, "engine_version": "16", "parameters.max_connections": 400,
                            "parameters.superuser_reserved_connections": 5}
    assert origins(found)["readers"] == ("Cluster/cluster-example spec.instances (absent: CloudNativePG's default 1, a primary "
                                         "alone), cnpg/cluster-example.yaml:5")
    assert origins(found)["parameters.max_connections"] == ("Cluster/cluster-example spec.postgresql.parameters.max_connections, "
                                                            "cnpg/cluster-example.yaml:13")


def test_a_cloudnative_pg_pooler_is_a_pgbouncer_in_front_of_its_cluster() -> None:
    src = source("cnpg")
    assert src.names("pooler") == ["Pooler/pooler-example-rw"]
    found = src.find("Pooler/pooler-example-rw", "pooler")
    database = found.facts.pop("database")
    assert database == Link("Cluster/cluster-example", Origin("Pooler/pooler-example-rw", "cnpg/pooler-external.yaml", 7,
                                                              "spec.cluster.name"))
    assert facts(found) == {"kind": "pgbouncer", "replicas": 3, "pool_mode": "session", "default_pool_size": 10,
                            "max_client_conn": 1000, "endpoint": "writer"}
    assert origins(found)["default_pool_size"] == ("Pooler/pooler-example-rw spec.pgbouncer.parameters.default_pool_size, "
                                                   "cnpg/pooler-external.yaml:20")
    assert ref_error(src, "Pooler/pooler-example-rw", "service") == (
        "Pooler/pooler-example-rw is a pooler (postgresql.cnpg.io/v1), not a service (write it under poolers: with from: "
        "Pooler/pooler-example-rw)")
    assert ref_error(src, "Cluster/cluster-example", "pooler") == (
        "Cluster/cluster-example is a database (postgresql.cnpg.io/v1), not a pooler (write it under databases: with from: "
        "Cluster/cluster-example)")


def test_a_cloudnative_pg_pooler_on_the_replicas_and_its_defaults(copied: Path) -> None:
    (copied / "cnpg" / "pooler-external.yaml").write_text(
        "apiVersion: postgresql.cnpg.io/v1\nkind: Pooler\nmetadata:\n  name: pooler-example-ro\nspec:\n"
        "  cluster:\n    name: cluster-example\n  type: ro\n  pgbouncer:\n    parameters: {reserve_pool_size: \"5\"}\n")
    found = source("cnpg").find("Pooler/pooler-example-ro", "pooler")
    found.facts.pop("database")
    assert facts(found) == {"kind": "pgbouncer", "replicas": 1, "pool_mode": "session", "reserve_pool_size": 5,
                            "endpoint": "reader"}
    assert origins(found)["pool_mode"] == ("Pooler/pooler-example-ro spec.pgbouncer.poolMode (absent: CloudNativePG's "
                                           "default, session), cnpg/pooler-external.yaml:9")


def test_a_zalando_postgresql_is_a_primary_and_its_replicas() -> None:
    found = source("zalando").find("postgresql/acid-test-cluster", "database")
    assert facts(found) == {"engine": "self-managed", "readers": 1, "engine_version": "18", "parameters.max_connections": 10}
    assert origins(found)["readers"] == ("postgresql/acid-test-cluster spec.numberOfInstances 2 (a primary and 1 replica), "
                                         "zalando/complete-postgres-manifest.yaml:15")


def test_spilo_sets_max_connections_from_memory_unless_the_manifest_does(copied: Path) -> None:
    edit(copied / "zalando" / "complete-postgres-manifest.yaml", '      max_connections: "10"\n', "")
    found = source("zalando").find("postgresql/acid-test-cluster", "database")
    unknown = found.facts["parameters.max_connections"]
    assert isinstance(unknown, Unknown)
    assert str(unknown.origin) == "postgresql/acid-test-cluster spec.postgresql, zalando/complete-postgres-manifest.yaml:50"
    assert unknown.reason == ("sets no max_connections, so Spilo sets it from the memory the pod sees (1 per 30 MB, 100 to "
                              "1000; configure_spilo.py), which no manifest says")


# --------------------------------------------------------------------------- databases planner does not plan


def test_a_mysql_workload_is_named_as_unplanned_never_dropped() -> None:
    src = source("wordpress-mysql")
    assert src.unplanned() == [Unplanned("Deployment/wordpress-mysql", "mysql:8.0", Origin(
        "Deployment/wordpress-mysql", "wordpress-mysql/mysql-deployment.yaml", 48, "containers[mysql].image mysql:8.0"))]
    assert src.names("database") == []
    # still a workload: an import that lists services notes it is no PostgreSQL client
    assert src.names("service") == ["Deployment/wordpress-mysql", "Deployment/wordpress"]
    assert ref_error(src, "Deployment/wordpress-mysql", "database") == (
        "Deployment/wordpress-mysql runs mysql:8.0, a mysql server: planner plans PostgreSQL only (remove the entry; "
        "planner import lists such databases in a note)")


def test_operators_databases_planner_does_not_read_are_named(copied: Path) -> None:
    (copied / "operators.yaml").write_text(
        "apiVersion: mysql.oracle.com/v2\nkind: InnoDBCluster\nmetadata: {name: orders}\nspec: {instances: 3}\n---\n"
        "apiVersion: postgres-operator.crunchydata.com/v1beta1\nkind: PostgresCluster\nmetadata: {name: hippo}\nspec: {}\n")
    src = source("operators.yaml")
    assert [(u.ref, u.engine, str(u.origin)) for u in src.unplanned()] == [
        ("InnoDBCluster/orders", "mysql (InnoDBCluster of MySQL Operator for Kubernetes, which planner does not read; "
         "https://dev.mysql.com/doc/mysql-operator/en/)", "InnoDBCluster/orders, operators.yaml:1"),
        ("PostgresCluster/hippo", "postgres (PostgresCluster of Crunchy PGO, which planner does not read; "
         "https://access.crunchydata.com/documentation/postgres-operator/latest/references/crd)", "PostgresCluster/hippo, operators.yaml:6"),
    ]
    assert ref_error(src, "PostgresCluster/hippo", "database") == (
        "PostgresCluster/hippo is a postgres database of Crunchy PGO, which planner does not read (write the database's "
        "keys in the topology, without from: (https://access.crunchydata.com/documentation/postgres-operator/latest/references/crd))")


# --------------------------------------------------------------------------- through a topology


def test_a_topology_reads_a_cluster_and_its_pooler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(FIXTURES / "cnpg", tmp_path / "cnpg")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "app.yaml").write_text(
        "version: 1\nsources: {kubernetes: [cnpg/cluster-example.yaml, cnpg/pooler-external.yaml]}\n"
        "databases:\n  main: {from: Cluster/cluster-example}\n"
        "services:\n  web: {replicas: 10, pool: {driver: sqlalchemy}}\n"
        "poolers:\n  bouncer: {from: Pooler/pooler-example-rw, clients: [web]}\n")
    code, out, err = run_cli(["check", "app.yaml", "--format", "json"])
    assert code == 0, err
    report = json.loads(out)
    # self-managed, engine_version 16 (the default): max_connections 100, 3 reserved (superuser_reserved_connections),
    # alarm at 80; the pooler holds 3 pods x default_pool_size 10 = 30 server connections, whatever web opens
    writer = report["instances"][0]
    assert [(i["role"], i["max_connections"], i["reserved"], i["usable"], i["alarm_at"]) for i in report["instances"]] == [
        ("writer", 100, 3, 97, 80), ("reader-1", 100, 3, 97, 80), ("reader-2", 100, 3, 97, 80)]
    assert {name: s["demand"] for name, s in writer["scenarios"].items()} == {"steady": 30, "peak": 30, "rollout": 30}
    pooler = report["poolers"][0]
    assert (pooler["server_connections"], pooler["client_capacity"]) == (30, 3000)
    # web: 10 replicas x 1 process x (5 + 10) at peak; 13 (10 + 25% surge) at rollout
    assert {name: s["client_demand"] for name, s in pooler["scenarios"].items()} == {"steady": 50, "peak": 150, "rollout": 195}


def test_a_topology_reads_a_databases_configuration_file() -> None:
    topology = Path("sourcegraph-topology.yaml")
    topology.write_text("version: 1\nsources: {kubernetes: sourcegraph/}\n"
                        "databases:\n  insights: {from: StatefulSet/codeinsights-db}\n"
                        "services:\n  admin: {connections: 10}\n")
    try:
        loaded = load_topology(str(topology))
    finally:
        topology.unlink()
    insights = loaded.databases["insights"]
    assert (insights.engine, insights.engine_version, insights.parameters) == ("self-managed", "16", {"max_connections": 20})
