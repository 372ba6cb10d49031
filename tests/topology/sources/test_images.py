"""What planner knows of database images (planner.topology.sources.apps.images), for every reader.

One reading of an image reference, and one table of server images: the Compose and Kubernetes
readers, the importer and the evidence of clients all ask it, so an image one knows the others know.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from planner.topology.sources.apps.images import (
    is_postgres_image,
    parse_image,
    postgres_setting,
    server,
    server_image,
    tag_version,
    unplanned_engine,
)
from planner.topology.sources.base import Container


@pytest.mark.parametrize(("image", "parts"), [
    ("postgres:16", ("postgres", "16")),
    ("docker.io/library/postgres:16.4-alpine@sha256:abc", ("postgres", "16.4-alpine")),
    ("docker.io/bitnami/postgresql:16.4.0-debian-12-r0", ("bitnami/postgresql", "16.4.0-debian-12-r0")),
    ("registry.example.com:5000/team/app", ("team/app", "")),
    ("localhost/postgres", ("postgres", "")),
    ("ghcr.io/cloudnative-pg/postgresql:18.6-system-trixie", ("cloudnative-pg/postgresql", "18.6-system-trixie")),
])
def test_an_image_reference_is_read_once_for_every_reader(image: str, parts: tuple[str, str]) -> None:
    ref = parse_image(image)
    assert (ref.repository, ref.tag) == parts


@pytest.mark.parametrize(("image", "engine", "version"), [
    ("postgres:18.4", "postgres", "18.4"),
    ("postgres:16-bookworm", "postgres", "16"),
    ("postgres", "postgres", None),
    ("bitnami/postgresql:16.4.0-debian-12-r0", "postgres", "16.4"),
    ("bitnami/postgresql-repmgr:15", "postgres", "15"),
    ("postgis/postgis:16-3.4-alpine", "postgres", "16"),
    ("timescale/timescaledb:2.14.2-pg16", "postgres", "16"),
    ("timescale/timescaledb-ha:pg16.4-ts2.16.1", "postgres", "16.4"),
    ("pgvector/pgvector:0.7.0-pg16", "postgres", "16"),
    ("quay.io/sclorg/postgresql-16-c9s", "postgres", "16"),
    ("registry.redhat.io/rhel9/postgresql-15:latest", "postgres", "15"),
    ("quay.io/fedora/postgresql-16@sha256:06d566b4", "postgres", "16"),
    ("supabase/postgres:15.1.0.147", "postgres", "15"),
    ("index.docker.io/sourcegraph/postgresql-16-codeinsights:6.2.1106", "postgres", "16"),
    ("registry.example.com/team/postgres-13:2.0", "postgres", None),  # a build of its own: no version to read
    ("mysql:8.0", "mysql", None),
    ("percona/percona-xtradb-cluster:8.0", "mysql", None),
    ("bitnami/mariadb-galera:11", "mariadb", None),
    ("mcr.microsoft.com/mssql/server:2022-latest", "sqlserver", None),
    ("gvenzl/oracle-free:23", "oracle", None),
    # the union of what the Compose and Kubernetes readers each knew before they shared the table
    ("bitnamilegacy/postgresql:16.4.0", "postgres", "16.4"),
    ("docker.io/bitnami/postgresql-repmgr:16", "postgres", "16"),
    ("ankane/pgvector:v0.5.1", "postgres", None),
    ("linuxserver/mariadb:10.11", "mariadb", None),
    ("percona/percona-server:8.0", "mysql", None),
    ("mysql/mysql-server:8.0", "mysql", None),
    ("quay.io/fedora/mysql-80@sha256:4f242c1e", "mysql", None),
    ("quay.io/sclorg/mariadb-105-c9s", "mariadb", None),
    ("mcr.microsoft.com/azure-sql-edge:latest", "sqlserver", None),
])
def test_known_server_images_and_their_versions(image: str, engine: str, version: str | None) -> None:
    row = server_image(image)
    assert row is not None and row.engine == engine
    assert tag_version(image, row) == version


@pytest.mark.parametrize("image", [
    "prometheuscommunity/postgres-exporter:v0.15.0", "sourcegraph/postgres_exporter:6.2", "bitnami/pgbouncer:1.23",
    "ghcr.io/cloudnative-pg/pgbouncer:1.23", "dpage/pgadmin4", "redis:7", "registry.example.com/shop/web:1.0",
    "percona/percona-server-mongodb:7",
])
def test_images_that_are_no_database_server(image: str) -> None:
    assert server_image(image) is None


@pytest.mark.parametrize(("command", "args", "runs"), [
    (None, None, True),  # the image's own: its server
    (None, ("-c", "max_connections=200"), True),  # flags for the image's entrypoint
    (None, ("postgres", "-c", "max_connections=200"), True),
    (("docker-entrypoint.sh", "postgres"), (), True),
    (("sh", "-c", "exec docker-entrypoint.sh postgres -c max_connections=300"), (), True),
    (None, ("psql", "-h", "db"), False),  # the entrypoint runs the command given: a client
    (("/bin/sh",), ("-c", "pg_dumpall -h db > /backups/all.sql"), False),
    (("bash", "-c", ". /scripts/initialize-database.sh 127.0.0.1 5432 accounts-db"), (), False),
])
def test_a_postgres_image_runs_the_server_unless_its_command_runs_a_client(
        command: tuple[str, ...] | None, args: tuple[str, ...] | None, runs: bool) -> None:
    assert (server(Container("db", "postgres:16", command, args), long_running=True) is not None) is runs


def test_a_job_or_an_init_container_with_a_server_image_runs_its_client_tools() -> None:
    assert server(Container("db", "postgres:16"), long_running=False) is None
    assert server(Container("init", "postgres:16", one_shot=True), long_running=True) is None


def test_a_digest_is_kept_apart_from_the_tag_and_a_registry_port_is_no_tag() -> None:
    assert parse_image("registry.example.com:5000/Team/App:V1@sha256:abc") == parse_image("team/app:V1@sha256:abc")
    ref = parse_image("registry.example.com:5000/team/app@sha256:abc")
    assert (ref.repository, ref.tag, ref.digest, ref.name) == ("team/app", "", "sha256:abc", "app")
    assert parse_image("quay.io/fedora/mysql-80").name == "mysql-80"


@pytest.mark.parametrize(("image", "postgres", "engine"), [
    ("bitnami/postgresql-repmgr:16", True, None),
    ("quay.io/sclorg/postgresql-16-c9s", True, None),
    ("supabase/postgres:15.1.0.147", True, None),
    ("sourcegraph/postgresql-16:6.2", True, None),
    ("mysql:8.4", False, "mysql"),
    ("mcr.microsoft.com/mssql/server:2022-latest", False, "sqlserver"),
    ("bitnami/pgpool:4", False, None),
    ("redis:7", False, None),
    (None, False, None),
])
def test_postgres_and_the_engines_planner_does_not_plan_come_from_the_one_table(
        image: str | None, postgres: bool, engine: str | None) -> None:
    assert is_postgres_image(image) is postgres
    assert unplanned_engine(image) == engine


@pytest.mark.parametrize(("words", "found"), [
    (("postgres", "-c", "max_connections=200"), ("-c max_connections=200", "200")),
    (("postgres", "--max-connections=200"), ("--max-connections=200", "200")),
    (("postgres", "-N", "150", "-c", "max_connections=300"), ("-c max_connections=300", "300")),  # the last wins
    (("sh", "-c", "exec postgres -N 90"), ("-N 90", "90")),
    (("postgres", "-c", "shared_buffers=1GB"), None),
    (("postgres", "-N"), None),
])
def test_a_setting_on_the_postgres_command_line(words: tuple[str, ...], found: tuple[str, str] | None) -> None:
    assert postgres_setting(words, "max_connections") == found


def test_the_config_file_is_read_off_the_command_line_as_any_setting() -> None:
    assert postgres_setting(("postgres", "-c", "config_file=/etc/postgresql/postgresql.conf"), "config_file") == (
        "-c config_file=/etc/postgresql/postgresql.conf", "/etc/postgresql/postgresql.conf")


def test_check_of_a_plain_topology_never_imports_the_image_table() -> None:
    """The table and its readers load only when a deployment is read, not for every ``check``."""
    root = Path(__file__).parents[3]
    probe = ("import sys, runpy\n"
             f"sys.argv = ['planner', 'check', {str(root / 'examples' / 'pgbouncer-fleet.yaml')!r}]\n"
             "try:\n    runpy.run_module('planner', run_name='__main__')\nexcept SystemExit:\n    pass\n"
             "print('LOADED', sorted(m for m in sys.modules if m.startswith('planner.topology.sources.')), file=sys.stderr)\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=root)
    assert "LOADED []" in result.stderr, result.stderr
