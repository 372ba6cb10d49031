"""The pure side of the AWS commands: estimates, API shapes to rows and entries, merging, observed peaks."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from planner.catalog.refresh import (
    ClassSpecs,
    Offer,
    gib_text,
    offers_from_options,
    orderable_classes,
    parse_price_list,
    refresh_rows,
    specs_from_ec2,
    split_class_name,
)
from planner.live.rds_import import Imported, ImportedDatabase, ImportedProxy, database_from_cluster, database_from_instance, parameters_from_rds
from planner.live.merge import merge_json, merge_yaml, new_topology
from planner.budget import compute_budget
from planner.catalog import COLUMNS, catalog_csv, load_catalog
from planner.errors import InputError
from planner.catalog.estimate import estimate_memory, platform_of
from planner.model import VersionSupport
from planner.live.observe import (
    match_observed,
    observation,
    observations_document,
    observed_findings,
    peak_of,
    placement,
    read_observed,
)
from planner.topology import parse_topology

from ..conftest import run_cli
from ..catalog.test_aws_pricing import price_entry
from ..catalog.test_catalog import CATALOG_ROWS

CATALOG = load_catalog()


# --------------------------------------------------------------------------- estimates


def test_every_estimate_of_the_catalogue_is_reproduced() -> None:
    """catalog refresh estimates a class exactly as the build script did (planner/data/estimate_rules.csv)."""
    checked = 0
    for row in CATALOG_ROWS:
        for engine, column in (("postgres", "dbicm_postgres"), ("aurora-postgresql", "dbicm_aurora_postgresql")):
            if row[f"{column}_source"] != "estimated" or not row[f"{column}_note"].startswith("rule "):
                continue
            memory = estimate_memory(engine, row["family"], row["arch"], row["memory_gib"], int(row["vcpu"]))
            assert (memory.dbicm_bytes, memory.note) == (int(row[column]), row[f"{column}_note"]), row["instance_class"]
            checked += 1
    assert checked > 250


def test_platforms() -> None:
    assert [platform_of("t2", "x86_64"), platform_of("m6g", "arm64"), platform_of("r6i", "x86_64")] == [
        "xen", "graviton", "nitro-x86"]  # fmt: skip


# --------------------------------------------------------------------------- catalogue refresh


@pytest.mark.parametrize(
    ("name", "expected"),
    [("db.m6g.large", ("m6g", 6, "large")), ("db.r6gd.16xlarge", ("r6gd", 6, "16xlarge")),
     ("db.x2iedn.xlarge", ("x2iedn", 2, "xlarge")), ("db.t4g.micro", ("t4g", 4, "micro"))],
)  # fmt: skip
def test_split_class_name(name: str, expected: tuple[str, int, str]) -> None:
    assert split_class_name(name) == expected


def test_gib_text_is_exact() -> None:
    assert [gib_text(8192), gib_text(15616), gib_text(512), gib_text(3840)] == ["8", "15.25", "0.5", "3.75"]


def test_specs_from_ec2_shape() -> None:
    item = {"InstanceType": "t4g.medium", "BurstablePerformanceSupported": True, "VCpuInfo": {"DefaultVCpus": 2},
            "MemoryInfo": {"SizeInMiB": 4096}, "ProcessorInfo": {"SupportedArchitectures": ["arm64"]}}  # fmt: skip
    assert specs_from_ec2("db.t4g.medium", item) == ClassSpecs("t4g", 4, "medium", "arm64", True, 2, "4")
    assert specs_from_ec2("db.x.large", {"InstanceType": "x.large"}) is None


def test_orderable_classes_leave_out_serverless() -> None:
    options = [{"DBInstanceClass": "db.r6g.large", "EngineVersion": "16.4"}, {"DBInstanceClass": "db.r6g.large", "EngineVersion": "15.8"},
               {"DBInstanceClass": "db.serverless", "EngineVersion": "16.4"}]  # fmt: skip
    assert orderable_classes(options) == {"db.r6g.large"}


def test_offers_say_where_and_from_which_versions_a_class_runs() -> None:
    options = [
        {"DBInstanceClass": "db.m6gd.large", "EngineVersion": "16.4", "MultiAZCapable": True, "SupportsClusters": False},
        {"DBInstanceClass": "db.m6gd.large", "EngineVersion": "16.2", "MultiAZCapable": False, "SupportsClusters": True},
        {"DBInstanceClass": "db.m6gd.large", "EngineVersion": "15.10", "MultiAZCapable": True},
        {"DBInstanceClass": "db.t4g.micro", "EngineVersion": "17.6", "MultiAZCapable": False},
    ]
    offers = offers_from_options(options)
    assert offers["db.m6gd.large"] == Offer(True, True, VersionSupport(((15, 10), (16, 2))))
    assert offers["db.t4g.micro"] == Offer(False, False, VersionSupport(((17, 6),)))


def test_parse_price_list() -> None:
    entries = [
        price_entry("db.m6g.large", "0.1590000000"),
        price_entry("db.m6g.large", "0.3180000000", deployment="Multi-AZ"),
        price_entry("db.m6g.large", "0.1000000000", region="eu-west-1"),  # another region
        price_entry("db.m6g.large", "0.0000000000", deployment="Multi-AZ (readable standbys)"),
        price_entry("db.m6gd.large", "0.5220000000", deployment="Multi-AZ (readable standbys)"),
        price_entry("db.r6g.large", "0.2600000000", engine="Aurora PostgreSQL"),
        price_entry("db.r6g.large", "0.3380000000", engine="Aurora PostgreSQL", storage="Aurora IO Optimization Mode"),
        price_entry("db.t4g.micro", "0.0160000000", unit="Quantity"),
        json.loads(price_entry("db.t4g.small", "0.0320000000")),  # already parsed
    ]
    assert parse_price_list(entries, "postgres", "us-east-1") == {
        "db.m6g.large": {"single-az": Decimal("0.159"), "multi-az": Decimal("0.318")},
        "db.m6gd.large": {"multi-az-cluster": Decimal("0.522")},
        "db.t4g.small": {"single-az": Decimal("0.032")},
    }
    assert parse_price_list(entries, "aurora-postgresql", "us-east-1") == {
        "db.r6g.large": {"aurora-standard": Decimal("0.26"), "aurora-io-optimized": Decimal("0.338")}}


def _offers(names: set[str], cluster: bool = False) -> dict[str, Offer]:
    return {n: Offer(True, cluster, VersionSupport(((13, 4), (14, 5), (15, 2)))) for n in names}


def _refresh(engines, offers, specs, prices=None):
    rows, summary = refresh_rows(CATALOG, engines, offers, specs, prices, "eu-west-1", "2026-11-16")
    return {row[0]: dict(zip(COLUMNS, row)) for row in rows}, summary


def test_refresh_keeps_observed_estimates_the_rest_and_drops_what_is_gone() -> None:
    new = ClassSpecs("m9g", 9, "large", "arm64", False, 2, "8")
    m5 = ClassSpecs("m5", 5, "large", "x86_64", False, 2, "8")
    offers = {"postgres": _offers({"db.m5.large", "db.m9g.large", "db.m6g.large", "db.t2.micro"})}
    prices = {"postgres": {"db.m9g.large": {"single-az": Decimal("0.2"), "multi-az": Decimal("0.4")}}}
    rows, summary = _refresh(("postgres",), offers, {"db.m9g.large": new, "db.m5.large": m5}, prices)
    m5_before = CATALOG.dbicm("db.m5.large", "postgres")
    assert m5_before.source == "observed"
    assert (int(rows["db.m5.large"]["dbicm_postgres"]), rows["db.m5.large"]["dbicm_postgres_source"]) == (m5_before.dbicm_bytes, "observed")
    expected = estimate_memory("postgres", "m9g", "arm64", "8", 2)
    m9g = rows["db.m9g.large"]
    assert (int(m9g["dbicm_postgres"]), m9g["dbicm_postgres_note"]) == (expected.dbicm_bytes, expected.note)
    assert m9g["dbicm_postgres_error"] != ""  # the rule's uncertainty travels with the estimate
    assert (m9g["usd_hour_single_az"], m9g["usd_hour_multi_az"], m9g["usd_hour_multi_az_cluster"]) == ("0.2", "0.4", "")
    assert (m9g["price_region"], m9g["price_date"], m9g["price_source"]) == ("eu-west-1", "2026-11-16", "AWS Pricing API")
    assert (m9g["orderable_single_az"], m9g["orderable_multi_az"], m9g["orderable_multi_az_cluster"]) == ("true", "true", "false")
    assert m9g["postgres_versions"] == "13.4;14.5;15.2"
    assert m9g["orderable_source"].startswith("AWS DescribeOrderableDBInstanceOptions, eu-west-1, 2026-11-16 | ")
    assert rows["db.m5.large"]["usd_hour_single_az"] == ""  # orderable, but no price in this region: no stale price
    # not offered any more: postgres removed (the class keeps its aurora column); retired t2 kept, not orderable
    assert rows["db.r6g.large"]["dbicm_postgres"] == "" and rows["db.r6g.large"]["dbicm_aurora_postgresql"]
    assert rows["db.t2.small"]["dbicm_postgres_source"] == "observed"
    assert rows["db.t2.small"]["orderable_single_az"] == "false"
    assert "db.r6g.large" in summary.dropped["postgres"]
    assert summary.kept["postgres"] >= 2 and summary.estimated["postgres"] >= 1
    # the aurora columns were not refreshed, nor the Aurora prices
    assert rows["db.r6g.xlarge"]["dbicm_aurora_postgresql"] == str(CATALOG.dbicm("db.r6g.xlarge", "aurora-postgresql").dbicm_bytes)
    assert rows["db.r6g.xlarge"]["usd_hour_aurora_standard"] and rows["db.r6g.xlarge"]["aurora_price_date"] == "2026-05-12"


def test_refresh_keeps_a_cluster_only_class_so() -> None:
    rows, _ = _refresh(("postgres",), {"postgres": _offers({"db.c6gd.large"}, cluster=True)}, {})
    c6gd = rows["db.c6gd.large"]
    assert (c6gd["orderable_single_az"], c6gd["orderable_multi_az_cluster"]) == ("false", "true")


def test_refresh_skips_classes_nobody_describes_and_loads(tmp_path: Path) -> None:
    offers = {"aurora-postgresql": _offers({"db.r6g.large", "db.t4g.large", "db.zz9.large"})}
    rows, summary = _refresh(("aurora-postgresql",), offers, {})
    assert "db.zz9.large" not in rows and summary.skipped == ["db.zz9.large"]
    assert any("skipped" in line and "db.zz9.large" in line for line in summary.lines())
    assert summary.priced is None
    out = tmp_path / "catalog.csv"
    text = catalog_csv([[rows[n][c] for c in COLUMNS] for n in rows])
    out.write_text(text)
    assert text.splitlines()[0] == ",".join(COLUMNS)
    assert load_catalog(out).dbicm("db.t4g.large", "aurora-postgresql").source == "aws-doc"
    assert load_catalog(out).dbicm("db.r6g.large", "aurora-postgresql") == CATALOG.dbicm("db.r6g.large", "aurora-postgresql")


def test_a_refreshed_catalogue_reads_back_the_same(tmp_path: Path) -> None:
    offers = {"aurora-postgresql": _offers({"db.r6g.large"})}
    specs = {"db.r6g.large": ClassSpecs("r6g", 6, "large", "arm64", False, 2, "16")}
    prices = {"aurora-postgresql": {"db.r6g.large": {"aurora-standard": Decimal("0.26")}}}
    rows, _ = refresh_rows(CATALOG, ("aurora-postgresql",), offers, specs, prices, "us-east-1", "2026-11-16")
    out = tmp_path / "once.csv"
    out.write_text(catalog_csv(rows))
    again, summary = refresh_rows(load_catalog(out), ("aurora-postgresql",), offers, specs, prices, "us-east-1", "2026-11-17")
    r6g = dict(zip(COLUMNS, next(row for row in again if row[0] == "db.r6g.large")))
    assert r6g["orderable_source"].count("DescribeOrderableDBInstanceOptions") == 1  # the second refresh replaced the first
    # the RDS for PostgreSQL prices stay as they were; Aurora's are today's
    assert (r6g["usd_hour_single_az"], r6g["price_date"]) == ("0.225", "2026-05-12")
    assert (r6g["usd_hour_aurora_standard"], r6g["usd_hour_aurora_io_optimized"], r6g["aurora_price_date"]) == ("0.26", "", "2026-11-17")
    assert summary.priced == 1


# --------------------------------------------------------------------------- import: API shapes


def _param(name: str, value: str, source: str = "user") -> dict[str, object]:
    return {"ParameterName": name, "ParameterValue": value, "Source": source, "ApplyType": "static", "DataType": "integer",
            "IsModifiable": True, "ApplyMethod": "pending-reboot"}  # fmt: skip


def test_parameters_from_rds_keep_what_changes_the_budget() -> None:
    params = [
        _param("max_connections", "LEAST({DBInstanceClassMemory/9531392},5000)", "system"),
        _param("superuser_reserved_connections", "3", "engine-default"),
        _param("rds.rds_superuser_reserved_connections", "4"),
        _param("reserved_connections", "2"),
        _param("shared_buffers", "{DBInstanceClassMemory/32768}", "system"),
        {"ParameterName": "work_mem", "Source": "engine-default"},
    ]
    # 16 has no rds.rds_superuser_reserved_connections, 15 no reserved_connections: neither is imported
    assert parameters_from_rds(params, "16.4") == {"reserved_connections": 2}
    assert parameters_from_rds(params, "15.8") == {"rds.rds_superuser_reserved_connections": 4}
    rds_reserved = [_param("rds.rds_reserved_connections", "4", "engine-default")]
    assert parameters_from_rds(rds_reserved, "17.6") == {}  # the version's default adds nothing
    assert parameters_from_rds([_param("rds.rds_reserved_connections", "6", "system")], "17.6") == {"rds.rds_reserved_connections": 6}
    assert parameters_from_rds(rds_reserved, "15.8") == {}  # 15.8 predates the parameter
    old = [_param("max_connections", "{DBInstanceClassMemory/31457280}", "system")]  # an old family's default
    assert parameters_from_rds(old, "9.6.22") == {"max_connections": "{DBInstanceClassMemory/31457280}"}
    assert parameters_from_rds([_param("max_connections", "500")], "16") == {"max_connections": 500}


def _instance(ident: str, cls: str = "db.m6g.large", **extra: object) -> dict[str, object]:
    return {"DBInstanceIdentifier": ident, "DBInstanceClass": cls, "Engine": "postgres", "EngineVersion": "16.4",
            "DBParameterGroups": [{"DBParameterGroupName": "shop-pg16", "ParameterApplyStatus": "in-sync"}],
            "ReadReplicaDBInstanceIdentifiers": [], **extra}  # fmt: skip


def test_instance_with_replicas_of_another_class() -> None:
    notes: list[str] = []
    writer = _instance("shop", ReadReplicaDBInstanceIdentifiers=["shop-r1", "shop-r2"])
    replicas = [_instance("shop-r1", "db.m6g.xlarge"), _instance("shop-r2", "db.m6g.2xlarge")]
    db = database_from_instance("main", writer, replicas, {"max_connections": 900}, notes)
    assert db.entry() == {"engine": "postgres", "engine_version": "16.4", "instance_class": "db.m6g.large", "readers": 2,
                          "reader_instance_class": "db.m6g.xlarge", "parameters": {"max_connections": 900}}  # fmt: skip
    assert db.resources == ("shop", "shop-r1", "shop-r2")
    assert notes and "reader_instance_class" in notes[0]


def test_cluster_writer_and_readers() -> None:
    cluster = {"DBClusterIdentifier": "shop", "Engine": "aurora-postgresql", "EngineVersion": "16.4",
               "DBClusterMembers": [{"DBInstanceIdentifier": "shop-1", "IsClusterWriter": False},
                                    {"DBInstanceIdentifier": "shop-2", "IsClusterWriter": True}]}  # fmt: skip
    members = [_instance("shop-1", "db.r6g.large", Engine="aurora-postgresql"),
               _instance("shop-2", "db.r6g.xlarge", Engine="aurora-postgresql")]  # fmt: skip
    db = database_from_cluster("shop", cluster, members, {}, [])
    assert db is not None
    assert db.entry() == {"engine": "aurora-postgresql", "engine_version": "16.4", "instance_class": "db.r6g.xlarge",
                          "readers": 1, "reader_instance_class": "db.r6g.large"}  # fmt: skip
    assert db.origin == "Aurora cluster shop"


# --------------------------------------------------------------------------- import: writing the file

EXISTING = """\
# The shop's connection budget. Owned by the platform team.
version: 1
name: shop
databases:
  main:   # the old one
    instance_class: db.t3.medium
    headroom: 30%
  # reporting replica, not imported
  legacy:
    engine: self-managed
    parameters: {max_connections: 200}

environments:
  prod: {}
services:
  # the storefront: gunicorn, 4 workers
  web:
    database: main
    replicas: {min: 2, max: 4}
    processes: 4
    pool: sqlalchemy   # 5 + 10 overflow
  cron:
    database: legacy
    connections: 2
poolers:
  proxy:
    kind: rds-proxy
    database: main
    clients: [web]
    max_connections_percent: 100
"""


def _imported() -> Imported:
    db = ImportedDatabase("main", "postgres", "16.4", "db.m6g.large", {"max_connections": "LEAST({DBInstanceClassMemory/9531392},1200)"},
                          readers=1, origin="RDS instance shop")  # fmt: skip
    return Imported([db], [ImportedProxy("proxy", "main", 60), ImportedProxy("new-proxy", "main", 40)])


def test_merge_yaml_keeps_the_users_part() -> None:
    imported = _imported()
    merged = merge_yaml(EXISTING, imported, {"main": "imported from RDS instance shop"})
    for line in EXISTING.splitlines():
        if "main:" in line or "db.t3.medium" in line or "max_connections_percent: 100" in line:
            continue
        assert line in merged.splitlines(), line  # every other line, comments included, is kept
    doc = yaml.safe_load(merged)
    assert doc["databases"]["main"] == {"engine": "postgres", "engine_version": "16.4", "instance_class": "db.m6g.large",
                                        "readers": 1, "parameters": {"max_connections": "LEAST({DBInstanceClassMemory/9531392},1200)"},
                                        "headroom": "30%"}  # fmt: skip
    assert doc["poolers"]["proxy"] == {"kind": "rds-proxy", "database": "main", "clients": ["web"], "max_connections_percent": 60}
    assert "new-proxy" not in doc["poolers"]  # no clients yet: written commented out
    assert "  # new-proxy:" in merged and any("new-proxy" in n for n in imported.notes)
    topology = parse_topology(merged, "shop.yaml")
    assert topology.databases["main"].headroom == Fraction(3, 10)
    # importing again changes nothing
    assert merge_yaml(merged, _imported(), {"main": "imported from RDS instance shop"}) == merged


def test_merge_yaml_flow_sections_and_missing_sections() -> None:
    text = "version: 1\ndatabases: {main: {instance_class: db.t3.micro, headroom: 10%}}\nservices: {ops: {connections: 1}}\n"
    imported = _imported()
    merged = merge_yaml(text, imported, {})
    doc = yaml.safe_load(merged)
    assert doc["databases"]["main"]["instance_class"] == "db.m6g.large" and doc["databases"]["main"]["headroom"] == "10%"
    assert "services: {ops: {connections: 1}}" in merged
    assert "poolers" not in doc and "# poolers:" in merged and "#   proxy:" in merged
    parse_topology(merged, "t.yaml")


def test_merge_refuses_what_it_cannot_merge() -> None:
    with pytest.raises(InputError, match="not valid YAML"):
        merge_yaml("databases: [unclosed\n", _imported(), {})
    with pytest.raises(InputError, match="top level is not a mapping"):
        merge_yaml("- a\n- b\n", _imported(), {})
    with pytest.raises(InputError, match="not valid JSON"):
        merge_json("{", _imported())


def test_merge_json_and_new_topology() -> None:
    imported = _imported()
    merged = json.loads(merge_json(json.dumps(yaml.safe_load(EXISTING)), imported))
    assert merged["databases"]["main"]["headroom"] == "30%" and merged["databases"]["legacy"]["engine"] == "self-managed"
    assert merged["poolers"]["proxy"]["max_connections_percent"] == 60 and "new-proxy" not in merged["poolers"]
    assert any("new-proxy is not written" in n for n in imported.notes)
    text = new_topology(_imported(), {"main": "imported"}, "Imported by a test.\nAdd services.")
    assert text.startswith("# Imported by a test.\n# Add services.\nversion: 1\n")
    parse_topology(text + "services:\n  ops: {connections: 1}\n", "new.yaml")


# --------------------------------------------------------------------------- observed peaks

NOW = datetime(2026, 11, 16, 9, 0, tzinfo=timezone.utc)


def test_peak_of_and_placement() -> None:
    points = [(NOW - timedelta(minutes=5 * k), v) for k, v in enumerate([40.0, 95.0, 60.0, 95.0])]
    assert peak_of(points) == (95, NOW - timedelta(minutes=15))
    assert peak_of([]) is None
    assert placement({"DBInstanceIdentifier": "shop"}) == ("shop", "writer")
    assert placement({"DBInstanceIdentifier": "shop-r", "ReadReplicaSourceDBInstanceIdentifier": "shop"}) == ("shop", "reader")
    cluster = {"DBClusterMembers": [{"DBInstanceIdentifier": "a-1", "IsClusterWriter": True}]}
    assert placement({"DBInstanceIdentifier": "a-1", "DBClusterIdentifier": "a"}, cluster) == ("a", "writer")
    assert placement({"DBInstanceIdentifier": "a-2", "DBClusterIdentifier": "a"}, cluster) == ("a", "reader")


TOPOLOGY = """\
version: 1
databases:
  main: {instance_class: db.m6g.large, readers: 1}
services:
  web: {replicas: {min: 2, max: 6}, pool: 10}
  reports: {endpoint: reader, connections: 5}
"""


def _observations(tmp_path: Path, *peaks) -> Path:
    path = tmp_path / "observed.json"
    path.write_text(json.dumps(observations_document(peaks)))
    return path


def test_observed_peak_above_steady_demand_is_flagged(tmp_path: Path) -> None:
    report = compute_budget(parse_topology(TOPOLOGY, "shop.yaml"), CATALOG)
    writer = observation("shop-db", "main", "writer", [(NOW, 95.0)], 14, "us-east-1", NOW)
    reader = observation("shop-db-r", "main", "reader", [(NOW, 3.0)], 14, "us-east-1", NOW)
    stray = observation("other-db", "other-db", "writer", [(NOW, 1.0)], 14, "us-east-1", NOW)
    peaks = read_observed(_observations(tmp_path, writer, reader, stray))
    matched, unmatched = match_observed(report, peaks)
    assert matched[("main", "writer")].peak == 95 and matched[("main", "reader-1")].peak == 3
    assert [p.instance for p in unmatched] == ["other-db"]
    findings = observed_findings(report, matched, unmatched, "observed.json")
    assert [f.code for f in findings] == ["observed-above-plan", "observed-unmatched"]
    assert str(findings[0]) == ("databases.main: the plan's steady demand 20 on main/writer is below the 95 connections "
                                "CloudWatch saw on 2026-11-16 (shop-db): a source is missing from the topology")  # fmt: skip
    assert findings[0].line == 3


def test_check_observed_in_every_format(tmp_path: Path) -> None:
    topology = tmp_path / "shop.yaml"
    topology.write_text(TOPOLOGY)
    observed = _observations(tmp_path, observation("shop-db", "main", "writer", [(NOW, 95.0)], 14, "us-east-1", NOW))
    code, out, _ = run_cli(["check", str(topology), "--observed", str(observed)])
    assert code == 0
    assert "OBSERVED_PEAK" in out and "95 (2026-11-16)" in out
    assert "below the 95 connections CloudWatch saw on 2026-11-16" in out
    code, out, _ = run_cli(["check", str(topology), "--observed", str(observed), "--format", "json"])
    instances = json.loads(out)["instances"]
    assert [i["observed_peak"] for i in instances] == [95, None]
    assert instances[0]["observed_peak_at"] == "2026-11-16T09:00:00Z"
    code, out, _ = run_cli(["check", str(topology), "--observed", str(observed), "--format", "markdown"])
    assert "| observed peak |" in out and "95 (2026-11-16)" in out
    code, out, _ = run_cli(["check", str(topology), "--observed", str(observed), "--format", "github"])
    assert "observed-above-plan" in out
    code, out, _ = run_cli(["check", str(topology), "--observed", str(observed), "--fail-on", "warn"])
    assert code == 0  # warnings do not change an instance's status; ok stays ok


@pytest.mark.parametrize(
    ("content", "fragment"),
    [("{", "not JSON"), ('{"observations": [{"peak": 3}]}', "needs an instance"),
     ('{"observations": [{"instance": "a", "peak": "lots"}]}', "is not a number of connections"),
     ('{"observations": [{"instance": "a", "role": "primary"}]}', "is not a role"), ("[]", "missing list")],
)  # fmt: skip
def test_bad_observations_file_exits_2(tmp_path: Path, content: str, fragment: str) -> None:
    topology = tmp_path / "shop.yaml"
    topology.write_text(TOPOLOGY)
    observed = tmp_path / "observed.json"
    observed.write_text(content)
    code, out, err = run_cli(["check", str(topology), "--observed", str(observed)])
    assert code == 2 and out == "" and fragment in err and "Traceback" not in err
    code, _, err = run_cli(["check", str(topology), "--observed", str(tmp_path / "none.json")])
    assert code == 2 and "observations file not found" in err


def test_observations_document_keeps_other_instances() -> None:
    first = observations_document([observation("a", "a", "writer", [(NOW, 5.0)], 14, "us-east-1", NOW)])
    second = observations_document([observation("b", "b", "writer", [], 14, "us-east-1", NOW),
                                    observation("a", "a", "writer", [(NOW, 7.0)], 14, "us-east-1", NOW)], first)  # fmt: skip
    assert [(o["instance"], o["peak"]) for o in second["observations"]] == [("b", None), ("a", 7)]

