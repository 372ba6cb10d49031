"""The AWS gateway through botocore's Stubber: the Pricing API (no emulator has it), paging, throttling, errors.

No request leaves the process: every client here is stubbed, with responses shaped like the real API's.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Iterator

import pytest

boto3 = pytest.importorskip("boto3")
from botocore.stub import Stubber  # noqa: E402

from planner.catalog.refresh import parse_price_list  # noqa: E402
from planner.errors import ExternalError  # noqa: E402
from planner.adapters import aws  # noqa: E402

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN"
FILTERS = [
    {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"},
    {"Type": "TERM_MATCH", "Field": "databaseEngine", "Value": "PostgreSQL"},
    {"Type": "TERM_MATCH", "Field": "productFamily", "Value": "Database Instance"},
]


def price_entry(instance_type: str, usd: str, *, engine: str = "PostgreSQL", deployment: str = "Single-AZ",
                region: str = "us-east-1", storage: str = "EBS Only", unit: str = "Hrs") -> str:  # fmt: skip
    """Return one Pricing API ``PriceList`` entry (a JSON string) shaped like AmazonRDS's."""
    sku = f"SKU{abs(hash((instance_type, engine, deployment, region, storage))) % 10**8:08d}"
    size = instance_type.split(".")[-1]
    usage = ("InstanceUsage" if deployment == "Single-AZ" else "Multi-AZUsage") + f":{instance_type}"
    if "IO Optimization" in storage:
        usage = f"InstanceUsageIOOptimized:{instance_type}"
    return json.dumps({
        "product": {
            "productFamily": "Database Instance",
            "attributes": {
                "engineCode": "14" if engine == "PostgreSQL" else "21", "instanceTypeFamily": instance_type.split(".")[1].upper(),
                "memory": "8 GiB", "vcpu": "2", "instanceType": instance_type, "usagetype": usage,
                "locationType": "AWS Region", "storage": storage, "normalizationSizeFactor": "4",
                "instanceFamily": "General purpose", "databaseEngine": engine, "regionCode": region,
                "servicecode": "AmazonRDS", "licenseModel": "No license required", "currentGeneration": "Yes",
                "location": "US East (N. Virginia)" if region == "us-east-1" else "EU (Ireland)",
                "deploymentOption": deployment, "servicename": "Amazon Relational Database Service",
                "operation": "CreateDBInstance:0014", "size": size,
            },
            "sku": sku,
        },
        "serviceCode": "AmazonRDS",
        "terms": {
            "OnDemand": {f"{sku}.JRTCKXETXF": {
                "priceDimensions": {f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                    "unit": unit, "endRange": "Inf", "appliesTo": [], "beginRange": "0",
                    "description": f"${usd} per RDS {instance_type} {deployment} instance hour (or partial hour) running {engine}",
                    "rateCode": f"{sku}.JRTCKXETXF.6YS6EN2CT7", "pricePerUnit": {"USD": usd},
                }},
                "sku": sku, "effectiveDate": "2026-11-01T00:00:00Z", "offerTermCode": "JRTCKXETXF", "termAttributes": {},
            }},
            "Reserved": {f"{sku}.HU7G6KETJZ": {
                "priceDimensions": {f"{sku}.HU7G6KETJZ.2TG2D8R56U": {
                    "unit": "Quantity", "description": "Upfront Fee", "pricePerUnit": {"USD": "1000"}, "appliesTo": [],
                    "rateCode": f"{sku}.HU7G6KETJZ.2TG2D8R56U",
                }},
                "sku": sku, "effectiveDate": "2026-11-01T00:00:00Z", "offerTermCode": "HU7G6KETJZ",
                "termAttributes": {"LeaseContractLength": "1yr", "OfferingClass": "standard", "PurchaseOption": "All Upfront"},
            }},
        },
        "version": "20261101000000", "publicationDate": "2026-11-01T00:00:00Z",
    })  # fmt: skip


def products_page(entries: list[str], next_token: str | None = None) -> dict[str, Any]:
    """Return a GetProducts response."""
    page: dict[str, Any] = {"FormatVersion": "aws_v1", "PriceList": entries}
    if next_token:
        page["NextToken"] = next_token
    return page


def products_params(next_token: str | None = None, filters: list[dict[str, str]] | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"ServiceCode": "AmazonRDS", "Filters": filters or FILTERS, "FormatVersion": "aws_v1",
                              "MaxResults": 100}  # fmt: skip
    if next_token:
        params["NextToken"] = next_token
    return params


def stubbed(service: str, region: str = "us-east-1") -> tuple[Any, Stubber]:
    session = boto3.Session(aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key=SECRET, aws_session_token=TOKEN,
                            region_name=region)  # fmt: skip
    client = session.client(service, region_name=region)
    return client, Stubber(client)


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[aws.AwsGateway]:
    """A gateway whose credentials hold a known secret (to check it is never printed), that never sleeps."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    sleeps: list[float] = []
    gw = aws.AwsGateway(aws.AwsOptions(region="us-east-1"), sleep=sleeps.append)
    gw.sleeps = sleeps  # type: ignore[attr-defined]
    yield gw


def test_price_list_pages_through_next_token(gateway: aws.AwsGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    client, stub = stubbed("pricing")
    first = [price_entry("db.m6g.large", "0.1590000000"), price_entry("db.m6g.large", "0.3180000000", deployment="Multi-AZ")]
    second = [price_entry("db.r6g.large", "0.2250000000")]
    stub.add_response("get_products", products_page(first, "eyJwYWdlIjogMn0="), products_params())
    stub.add_response("get_products", products_page(second), products_params("eyJwYWdlIjogMn0="))
    monkeypatch.setitem(aws.client_overrides, "pricing", client)
    with stub:
        entries = gateway.price_list("PostgreSQL", "us-east-1")
    stub.assert_no_pending_responses()
    prices = parse_price_list(entries, "postgres", "us-east-1")
    assert prices == {
        "db.m6g.large": {"single-az": Decimal("0.159"), "multi-az": Decimal("0.318")},
        "db.r6g.large": {"single-az": Decimal("0.225")},
    }


def test_pricing_client_is_in_us_east_1_whatever_the_region(gateway: aws.AwsGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    gw = aws.AwsGateway(aws.AwsOptions(region="eu-west-1"))
    assert gw.region == "eu-west-1" and gw.client("rds").meta.region_name == "eu-west-1"
    built = []
    real = gw.client

    def spy(service: str, region: str | None = None) -> Any:
        client = real(service, region)
        built.append(client.meta.region_name)
        stub = Stubber(client)
        stub.add_response("get_products", products_page([]), products_params(filters=[
            {**FILTERS[0], "Value": "eu-west-1"}, *FILTERS[1:]]))
        stub.activate()
        return client

    monkeypatch.setattr(gw, "client", spy)
    assert gw.price_list("PostgreSQL", "eu-west-1") == []
    assert built == ["us-east-1"]


def test_throttled_page_is_retried_with_backoff(gateway: aws.AwsGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    client, stub = stubbed("pricing")
    stub.add_client_error("get_products", "ThrottlingException", "Rate exceeded", 400, expected_params=products_params())
    stub.add_client_error("get_products", "ThrottlingException", "Rate exceeded", 400, expected_params=products_params())
    stub.add_response("get_products", products_page([price_entry("db.t4g.micro", "0.0160000000")]), products_params())
    monkeypatch.setitem(aws.client_overrides, "pricing", client)
    with stub:
        entries = gateway.price_list("PostgreSQL", "us-east-1")
    assert len(entries) == 1
    sleeps = gateway.sleeps  # type: ignore[attr-defined]
    assert len(sleeps) == 2 and sleeps[1] > sleeps[0] / 2 > 0  # exponential, with jitter


def test_throttling_that_never_stops_exits_3(gateway: aws.AwsGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    client, stub = stubbed("pricing")
    for _ in range(aws.THROTTLE_ATTEMPTS):
        stub.add_client_error("get_products", "Throttling", "Rate exceeded", 400)
    monkeypatch.setitem(aws.client_overrides, "pricing", client)
    with stub, pytest.raises(ExternalError) as caught:
        gateway.price_list("PostgreSQL", "us-east-1")
    assert caught.value.exit_code == 3
    assert "kept throttling pricing:GetProducts" in str(caught.value)


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        ("AccessDeniedException", "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: pricing:GetProducts",
         "the credentials lack pricing:GetProducts (AccessDeniedException): grant it"),
        ("UnrecognizedClientException", "The security token included in the request is invalid.", "AWS rejected the credentials"),
        ("ExpiredTokenException", "The security token included in the request is expired", "have expired"),
        ("InternalErrorException", f"echo of {SECRET} and {TOKEN}", "AWS refused pricing:GetProducts (InternalErrorException: echo of ***"),
    ],
)
def test_errors_are_one_line_without_secrets(gateway: aws.AwsGateway, monkeypatch: pytest.MonkeyPatch,
                                             code: str, message: str, expected: str) -> None:  # fmt: skip
    client, stub = stubbed("pricing")
    stub.add_client_error("get_products", code, message, 400)
    monkeypatch.setitem(aws.client_overrides, "pricing", client)
    with stub, pytest.raises(ExternalError) as caught:
        gateway.price_list("PostgreSQL", "us-east-1")
    text = str(caught.value)
    assert expected in text and "\n" not in text
    assert SECRET not in text and TOKEN not in text


def test_access_denied_on_rds_names_the_permission(gateway: aws.AwsGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    client, stub = stubbed("rds")
    stub.add_client_error("describe_orderable_db_instance_options", "AccessDenied",
                          "not authorized to perform rds:DescribeOrderableDBInstanceOptions", 403)  # fmt: skip
    monkeypatch.setitem(aws.client_overrides, "rds", client)
    with stub, pytest.raises(ExternalError, match=r"lack rds:DescribeOrderableDBInstanceOptions \(AccessDenied\): grant it"):
        gateway.orderable_options("postgres")


def test_cloudwatch_permission_uses_the_iam_prefix(gateway: aws.AwsGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import datetime, timezone

    client, stub = stubbed("cloudwatch")
    stub.add_client_error("get_metric_data", "AccessDenied", "no", 403)
    monkeypatch.setitem(aws.client_overrides, "cloudwatch", client)
    now = datetime(2026, 11, 16, tzinfo=timezone.utc)
    with stub, pytest.raises(ExternalError, match=r"lack cloudwatch:GetMetricData"):
        gateway.connection_maxima("shop-db", now, now)


def test_proxies_with_targets_and_target_groups_are_paged(gateway: aws.AwsGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """RDS Proxy listings through Stubber too, shaped like the real API (moto covers them in test_aws)."""
    client, stub = stubbed("rds")
    proxy = {"DBProxyName": "shop-proxy", "EngineFamily": "POSTGRESQL", "Status": "available"}
    stub.add_response("describe_db_proxies", {"DBProxies": [proxy], "Marker": "m1"}, {"MaxRecords": 100})
    stub.add_response("describe_db_proxies", {"DBProxies": [{**proxy, "DBProxyName": "mysql-proxy", "EngineFamily": "MYSQL"}]},
                      {"MaxRecords": 100, "Marker": "m1"})  # fmt: skip
    for name in ("shop-proxy", "mysql-proxy"):
        stub.add_response("describe_db_proxy_target_groups", {"TargetGroups": [{
            "DBProxyName": name, "TargetGroupName": "default", "IsDefault": True, "Status": "available",
            "ConnectionPoolConfig": {"MaxConnectionsPercent": 60, "MaxIdleConnectionsPercent": 30}}]},
            {"DBProxyName": name, "MaxRecords": 100})  # fmt: skip
        stub.add_response("describe_db_proxy_targets", {"Targets": [{"RdsResourceId": "shop-db", "Port": 5432,
                          "Type": "RDS_INSTANCE", "Role": "READ_WRITE"}]}, {"DBProxyName": name, "MaxRecords": 100})  # fmt: skip
    monkeypatch.setitem(aws.client_overrides, "rds", client)
    with stub:
        proxies = gateway.proxies()
    assert [p["DBProxyName"] for p in proxies] == ["shop-proxy", "mysql-proxy"]
    from planner.live.rds_import import ImportedDatabase, proxies_for

    db = ImportedDatabase("main", "postgres", "16.4", "db.m6g.large", {}, resources=("shop-db",))
    assert [(p.name, p.database, p.max_connections_percent) for p in proxies_for(proxies, [db])] == [("shop-proxy", "main", 60)]


def test_region_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    assert aws.resolve_region(None) == "us-east-1"
    assert aws.resolve_region(None, "ap-south-1") == "ap-south-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    assert aws.resolve_region(None, "ap-south-1") == "eu-central-1"
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    assert aws.resolve_region(None) == "eu-west-3"
    assert aws.resolve_region("us-west-2") == "us-west-2"


def test_unknown_profile_exits_3(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    with pytest.raises(ExternalError, match="AWS profile 'nope' not found"):
        aws.AwsGateway(aws.AwsOptions(profile="nope"))


def test_an_endpoint_that_is_not_a_url_is_a_usage_error(gateway: aws.AwsGateway) -> None:
    from ..conftest import run_cli

    code, out, err = run_cli(["observe", "shop-db", "--endpoint-url", "not a url"])
    assert code == 2 and out == "" and "--endpoint-url: 'not a url' is not a URL" in err
