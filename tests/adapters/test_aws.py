"""The AWS commands against a local moto server (a real HTTP endpoint, started here; never AWS).

One server for the module: it holds a PostgreSQL instance with a custom parameter group and a read
replica, an instance with an integer max_connections, an Aurora cluster, an RDS Proxy and
CloudWatch datapoints. The Pricing API, which moto does not emulate, is a Stubber-backed client.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import pytest

pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")
from botocore.stub import Stubber  # noqa: E402

from planner.catalog import load_catalog  # noqa: E402
from planner.adapters import aws  # noqa: E402

from ..conftest import run_cli  # noqa: E402
from ..catalog.test_aws_pricing import FILTERS, price_entry, products_page, products_params  # noqa: E402

FORMULA = "LEAST({DBInstanceClassMemory/9531392},1200)"
Q = 9531392
CATALOG = load_catalog()
SERVICES = "services:\n  # the storefront\n  web: {replicas: {min: 2, max: 6}, processes: 2, pool: sqlalchemy}\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start ``python -m moto.server`` on a free port of 127.0.0.1; stop it after the module."""
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT, env=env)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto server did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _client(url: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                        aws_secret_access_key="testing")  # fmt: skip


@pytest.fixture(scope="module")
def deployed(moto_url: str) -> dict[str, Any]:
    """Create what the tests import: instances, parameter groups, a replica, a cluster, a proxy, metrics."""
    rds, ec2, cloudwatch = (_client(moto_url, s) for s in ("rds", "ec2", "cloudwatch"))
    rds.create_db_parameter_group(DBParameterGroupName="shop-pg16", DBParameterGroupFamily="postgres16", Description="shop")
    rds.modify_db_parameter_group(DBParameterGroupName="shop-pg16", Parameters=[
        {"ParameterName": "max_connections", "ParameterValue": FORMULA, "ApplyMethod": "pending-reboot"},
        {"ParameterName": "superuser_reserved_connections", "ParameterValue": "4", "ApplyMethod": "pending-reboot"},
    ])  # fmt: skip
    rds.create_db_parameter_group(DBParameterGroupName="batch-pg15", DBParameterGroupFamily="postgres15", Description="batch")
    rds.modify_db_parameter_group(DBParameterGroupName="batch-pg15", Parameters=[
        {"ParameterName": "max_connections", "ParameterValue": "300", "ApplyMethod": "pending-reboot"}])
    common = {"MasterUsername": "shop", "MasterUserPassword": "not-a-real-password", "AllocatedStorage": 20}
    rds.create_db_instance(DBInstanceIdentifier="shop-db", DBInstanceClass="db.m6g.large", Engine="postgres",
                           EngineVersion="16.3", DBParameterGroupName="shop-pg16", **common)  # fmt: skip
    rds.create_db_instance_read_replica(DBInstanceIdentifier="shop-db-replica", SourceDBInstanceIdentifier="shop-db",
                                        DBInstanceClass="db.m6g.xlarge")  # fmt: skip
    rds.create_db_instance(DBInstanceIdentifier="batch-db", DBInstanceClass="db.t4g.medium", Engine="postgres",
                           EngineVersion="15.5", DBParameterGroupName="batch-pg15", **common)  # fmt: skip
    rds.create_db_cluster(DBClusterIdentifier="shop-aurora", Engine="aurora-postgresql", EngineVersion="16.1",
                          MasterUsername="shop", MasterUserPassword="not-a-real-password")  # fmt: skip
    for name in ("shop-aurora-1", "shop-aurora-2", "shop-aurora-3"):
        rds.create_db_instance(DBInstanceIdentifier=name, DBClusterIdentifier="shop-aurora", DBInstanceClass="db.r6g.large",
                               Engine="aurora-postgresql")  # fmt: skip
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
               for i, z in ((1, "a"), (2, "b"))]  # fmt: skip
    rds.create_db_proxy(DBProxyName="shop-proxy", EngineFamily="POSTGRESQL", RoleArn="arn:aws:iam::123456789012:role/proxy",
                        Auth=[{"AuthScheme": "SECRETS", "IAMAuth": "DISABLED",
                               "SecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop"}],
                        VpcSubnetIds=subnets)  # fmt: skip
    rds.register_db_proxy_targets(DBProxyName="shop-proxy", DBInstanceIdentifiers=["shop-db"])
    rds.modify_db_proxy_target_group(DBProxyName="shop-proxy", TargetGroupName="default",
                                     ConnectionPoolConfig={"MaxConnectionsPercent": 75})  # fmt: skip
    now = datetime.now(timezone.utc)
    readings = [(timedelta(hours=1), 40), (timedelta(hours=5), 95), (timedelta(hours=30), 60), (timedelta(days=20), 500)]
    cloudwatch.put_metric_data(Namespace="AWS/RDS", MetricData=[
        {"MetricName": "DatabaseConnections", "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "shop-db"}],
         "Timestamp": now - ago, "Value": value, "Unit": "Count"} for ago, value in readings])  # fmt: skip
    return {"peak_at": now - timedelta(hours=5)}


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, moto_url: str, deployed: dict[str, Any]) -> str:
    """Fake credentials, no profile files, no instance metadata, every call to the moto server."""
    empty = tmp_path / "empty-aws-config"
    empty.write_text("")
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_MAX_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)  # fmt: skip
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret-key")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    return moto_url


def _default(instance_class: str, engine: str = "postgres") -> int:
    """Return the DBInstanceClassMemory a budget counts on (an estimate's low end where it may be optimistic)."""
    return CATALOG.dbicm(instance_class, engine).budget_bytes()


def _check_json(topology: Path, *args: str) -> dict[str, Any]:
    code, out, err = run_cli(["check", str(topology), "--format", "json", *args])
    assert code in (0, 1), err
    return json.loads(out)


# --------------------------------------------------------------------------- import rds


def test_import_instance_with_formula_and_replica_gives_the_right_budget(aws_env: str, tmp_path: Path) -> None:
    topology = tmp_path / "shop.yaml"
    code, out, err = run_cli(["import", "rds", "--db-instance-identifier", "shop-db", "-o", str(topology)])
    assert code == 0, err
    assert out == "" and "imported 1 database(s) (shop-db) and 1 RDS Proxy" in err
    text = topology.read_text()
    assert "max_connections: LEAST({DBInstanceClassMemory/9531392},1200)" in text and "readers: 1" in text
    topology.write_text(text + SERVICES)  # services are the user's to write
    doc = _check_json(topology)
    writer, reader = doc["instances"]
    expected_writer = min(_default("db.m6g.large") // Q, 1200)
    expected_reader = min(_default("db.m6g.xlarge") // Q, 1200)
    assert (writer["role"], writer["instance_class"], writer["max_connections"]) == ("writer", "db.m6g.large", expected_writer)
    assert (reader["role"], reader["instance_class"], reader["max_connections"]) == ("reader-1", "db.m6g.xlarge", expected_reader)
    assert writer["max_connections_formula"] == FORMULA
    assert writer["reserved"] == 4 + 2 and writer["usable"] == expected_writer - 6
    # steady: 2 replicas × 2 processes × 5; peak: 6 × 2 × (5 + 10)
    assert (writer["scenarios"]["steady"]["demand"], writer["scenarios"]["peak"]["demand"]) == (20, 180)


def test_import_integer_max_connections_and_a_replica_by_its_own_id(aws_env: str) -> None:
    code, out, err = run_cli(["import", "rds", "--db-instance-identifier", "batch-db"])
    assert code == 0, err
    assert "max_connections: 300" in out and "engine_version: '15.5'" in out and "readers" not in out
    code, out, err = run_cli(["import", "rds", "--db-instance-identifier", "shop-db-replica", "--name", "main"])
    assert code == 0 and "main:" in out and "is a read replica of shop-db" in err


def test_import_aurora_cluster(aws_env: str, tmp_path: Path) -> None:
    topology = tmp_path / "aurora.yaml"
    code, _, err = run_cli(["import", "rds", "--db-cluster-identifier", "shop-aurora", "-o", str(topology)])
    assert code == 0, err
    topology.write_text(topology.read_text() + SERVICES)
    doc = _check_json(topology)
    assert [(i["role"], i["engine"], i["instance_class"]) for i in doc["instances"]] == [
        ("writer", "aurora-postgresql", "db.r6g.large"), ("reader-1", "aurora-postgresql", "db.r6g.large"),
        ("reader-2", "aurora-postgresql", "db.r6g.large")]  # fmt: skip
    assert doc["instances"][0]["max_connections"] == min(_default("db.r6g.large", "aurora-postgresql") // Q, 5000)


def test_import_merges_into_a_topology_and_keeps_the_users_part(aws_env: str, tmp_path: Path) -> None:
    topology = tmp_path / "shop.yaml"
    original = (
        "# shop: owned by the platform team\nversion: 1\ndatabases:\n  main:\n    instance_class: db.t3.micro\n"
        "    headroom: 30%\n  legacy: {engine: self-managed}\n" + SERVICES
        + "  cron:\n    database: legacy   # nightly export\n    connections: 2\n"
        "poolers:\n  shop-proxy:\n    kind: rds-proxy\n    database: main\n    clients: [web]\n"
    )  # fmt: skip
    topology.write_text(original.replace("  web: {", "  web: {database: main, "))
    code, _, err = run_cli(["import", "rds", "--db-instance-identifier", "shop-db", "--name", "main", "-o", str(topology)])
    assert code == 0, err
    text = topology.read_text()
    for kept in ("# shop: owned by the platform team", "  # the storefront", "    database: legacy   # nightly export",
                 "  legacy: {engine: self-managed}", "    headroom: 30%", "    clients: [web]"):
        assert kept in text.splitlines(), kept  # fmt: skip
    doc = _check_json(topology)
    writer = doc["instances"][0]
    assert (writer["database"], writer["instance_class"], writer["headroom"]) == ("main", "db.m6g.large", 0.3)
    proxy = doc["poolers"][0]
    assert proxy["server_connections"] == writer["max_connections"] * 75 // 100
    run_cli(["import", "rds", "--db-instance-identifier", "shop-db", "--name", "main", "-o", str(topology)])
    assert topology.read_text() == text  # importing again changes nothing


def test_import_all(aws_env: str) -> None:
    code, out, err = run_cli(["import", "rds", "--all"])
    assert code == 0, err
    for name in ("batch-db:", "shop-aurora:", "shop-db:"):
        assert f"\n  {name}" in out
    assert "shop-db-replica:" not in out and "# RDS Proxy shop-proxy (imported)" in out
    code, _, err = run_cli(["import", "rds", "--all", "--db-instance-identifier", "shop-db"])
    assert code == 2 and "choose one of" in err


def test_import_unknown_instance_exits_3(aws_env: str, tmp_path: Path) -> None:
    target = tmp_path / "never.yaml"
    code, out, err = run_cli(["import", "rds", "--db-instance-identifier", "nope", "-o", str(target)])
    assert code == 3 and out == ""
    assert err.strip().splitlines() == [err.strip()] and "no DB instance 'nope' in us-east-1" in err
    assert not target.exists()


# --------------------------------------------------------------------------- observe


def test_observe_reads_the_peak_and_check_shows_it(aws_env: str, tmp_path: Path, deployed: dict[str, Any]) -> None:
    observed = tmp_path / "observed.json"
    code, out, err = run_cli(["observe", "shop-db", "shop-db-replica", "--days", "14", "-o", str(observed)])
    assert code == 0, err
    doc = json.loads(observed.read_text())
    writer, reader = doc["observations"]
    assert (writer["instance"], writer["database"], writer["role"], writer["peak"]) == ("shop-db", "shop-db", "writer", 95)
    # CloudWatch (and moto) report the start of the period (1 minute over 14 days) that holds the datapoint
    seen = datetime.fromisoformat(writer["peak_at"].replace("Z", "+00:00"))
    assert timedelta(0) <= deployed["peak_at"] - seen < timedelta(seconds=300)
    assert (reader["database"], reader["role"], reader["peak"]) == ("shop-db", "reader", None)
    assert "peak 95 connections" in err and "no DatabaseConnections datapoint" in err
    code, _, _ = run_cli(["observe", "shop-db", "--days", "30", "-o", str(observed)])  # 500, 20 days ago
    assert [o["peak"] for o in json.loads(observed.read_text())["observations"]] == [None, 500]
    run_cli(["observe", "shop-db", "--days", "14", "-o", str(observed)])

    topology = tmp_path / "shop.yaml"
    assert run_cli(["import", "rds", "--db-instance-identifier", "shop-db", "-o", str(topology)])[0] == 0
    topology.write_text(topology.read_text() + SERVICES)
    report = _check_json(topology, "--observed", str(observed))
    assert report["instances"][0]["observed_peak"] == 95
    day = seen.strftime("%Y-%m-%d")
    assert any(f"the plan's steady demand 20 on shop-db/writer is below the 95 connections CloudWatch saw on {day}" in w
               for w in report["warnings"])  # fmt: skip


def test_observe_with_a_topology_names_its_database(aws_env: str, tmp_path: Path) -> None:
    topology = tmp_path / "shop.yaml"
    topology.write_text("version: 1\ndatabases:\n  main: {instance_class: db.m6g.large}\n" + SERVICES)
    code, out, err = run_cli(["observe", "shop-db", "--topology", str(topology)])
    assert code == 0, err and json.loads(out)["observations"][0]["database"] == "main"
    code, _, err = run_cli(["observe", "shop-db", "--topology", str(topology), "--database", "mian"])
    assert code == 2 and "no database named 'mian'" in err


# --------------------------------------------------------------------------- catalog refresh


def _stub_pricing(monkeypatch: pytest.MonkeyPatch, pages: list[list[str]] | None, error: str | None = None) -> Stubber:
    client = boto3.client("pricing", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    stub = Stubber(client)
    filters = [FILTERS[0], {**FILTERS[1], "Value": "Aurora PostgreSQL"}, FILTERS[2]]
    if error:
        stub.add_client_error("get_products", error, "User is not authorized to perform: pricing:GetProducts", 400)
    for n, entries in enumerate(pages or []):
        token = f"token-{n + 1}" if n + 1 < len(pages or []) else None
        stub.add_response("get_products", products_page(entries, token), products_params(f"token-{n}" if n else None, filters))
    stub.activate()
    monkeypatch.setitem(aws.client_overrides, "pricing", client)
    return stub


def test_catalog_refresh_against_moto(aws_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    aurora = "Aurora PostgreSQL"
    stub = _stub_pricing(monkeypatch, [
        [price_entry("db.r6g.large", "0.2600000000", engine=aurora), price_entry("db.r6i.large", "0.2900000000", engine=aurora)],
        [price_entry("db.r6g.large", "0.3380000000", engine=aurora, storage="Aurora IO Optimization Mode")],
    ])  # fmt: skip
    out = tmp_path / "catalog.csv"
    code, stdout, err = run_cli(["catalog", "refresh", "--engine", "aurora-postgresql", "-o", str(out)])
    assert code == 0, err
    stub.assert_no_pending_responses()
    assert stdout == "" and f"catalogue written: {out}" in err and "aurora-postgresql: 41 orderable in us-east-1" in err
    rows = {row["instance_class"]: row for row in csv.DictReader(out.open())}
    kept = CATALOG.dbicm("db.t4g.large", "aurora-postgresql")
    assert (int(rows["db.t4g.large"]["dbicm_aurora_postgresql"]), rows["db.t4g.large"]["dbicm_aurora_postgresql_source"]) == (
        kept.dbicm_bytes, "aws-doc")  # fmt: skip
    assert rows["db.r6g.large"]["dbicm_aurora_postgresql"] == str(_default("db.r6g.large", "aurora-postgresql"))
    r6g = rows["db.r6g.large"]
    assert (r6g["usd_hour_single_az"], r6g["price_date"]) == ("0.225", "2026-05-12")  # RDS for PostgreSQL's: not refreshed
    today = datetime.now(timezone.utc).date().isoformat()
    assert (r6g["usd_hour_aurora_standard"], r6g["aurora_price_source"], r6g["aurora_price_date"]) == ("0.26", "AWS Pricing API", today)
    assert r6g["orderable_aurora"] == "true" and r6g["orderable_source"].startswith("AWS DescribeOrderableDBInstanceOptions, us-east-1")
    assert rows["db.r6gd.large"]["dbicm_aurora_postgresql"] == ""  # moto does not offer it for Aurora
    assert rows["db.m5.large"]["dbicm_postgres_source"] == "observed"  # postgres was not refreshed
    # the other commands accept it
    code, listing, err = run_cli(["catalog", "list", "--catalog", str(out), "--engine", "aurora-postgresql", "--format", "json"])
    assert code == 0, err and "db.r6i.large" in {r["instance_class"] for r in json.loads(listing)}
    topology = tmp_path / "aurora.yaml"
    topology.write_text("version: 1\ndatabases:\n  main: {engine: aurora-postgresql, instance_class: db.r6i.large}\n" + SERVICES)
    assert run_cli(["check", str(topology), "--catalog", str(out)])[0] == 0


def test_catalog_refresh_writes_nothing_on_failure(aws_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "catalog.csv"
    _stub_pricing(monkeypatch, None, error="AccessDeniedException")
    code, stdout, err = run_cli(["catalog", "refresh", "--engine", "aurora-postgresql", "-o", str(out)])
    assert code == 3 and not out.exists()
    assert "the credentials lack pricing:GetProducts (AccessDeniedException): grant it" in err
    # moto offers no postgres class: refreshing from nothing would empty the engine, so it refuses
    code, _, err = run_cli(["catalog", "refresh", "--no-prices", "-o", str(out)])
    assert code == 3 and not out.exists() and "lists no orderable postgres instance class in us-east-1" in err


def test_catalog_refresh_without_prices(aws_env: str, tmp_path: Path) -> None:
    code, out, err = run_cli(["catalog", "refresh", "--engine", "aurora-postgresql", "--no-prices"])
    assert code == 0, err
    assert out.startswith("instance_class,family,") and "prices: not refreshed" in err


# --------------------------------------------------------------------------- failures: exit 3, one line


COMMANDS = [
    ["catalog", "refresh", "--engine", "aurora-postgresql", "--no-prices"],
    ["import", "rds", "--db-instance-identifier", "shop-db"],
    ["observe", "shop-db"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_missing_credentials_exit_3_with_one_line(aws_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  command: list[str]) -> None:  # fmt: skip
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    target = tmp_path / "out.file"
    code, out, err = run_cli([*command, "-o", str(target)])
    assert code == 3 and out == "" and not target.exists()
    assert err.strip() == ("planner: no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                           "or run aws configure / aws sso login")  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_unreachable_endpoint_exits_3_quickly_with_one_line(aws_env: str, tmp_path: Path, command: list[str]) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    target = tmp_path / "out.file"
    started = time.monotonic()
    code, out, err = run_cli([*command, "--endpoint-url", url, "-o", str(target)])
    assert code == 3 and out == "" and not target.exists()
    assert time.monotonic() - started < 20
    assert err.strip().splitlines() == [f"planner: cannot reach {url}/: check the network or --endpoint-url"]
    assert "testing-secret-key" not in err
