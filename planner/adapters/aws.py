"""The AWS adapter: the only module that imports boto3 and botocore.

:class:`AwsGateway` builds clients the way the AWS CLI does (``--profile`` / ``AWS_PROFILE``, the
standard credential chain, ``--region`` / ``AWS_REGION`` / ``AWS_DEFAULT_REGION`` / the profile's
region, else us-east-1), honours ``--endpoint-url`` / ``AWS_ENDPOINT_URL`` for every service so the
planner runs against a local emulator, pages through every listing, and retries throttled pages
with exponential backoff on top of botocore's own retries. Every failure becomes one
:class:`~planner.errors.ExternalError` line (exit code 3) that says what to do; secrets never
appear in it. The modules that map API shapes (:mod:`planner.catalog.refresh`,
:mod:`planner.live.rds_import`, :mod:`planner.live.observe`) are pure and call the gateway's methods.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator

import boto3
import botocore.exceptions as bx
from botocore.config import Config

from planner.errors import ExternalError, InputError

DEFAULT_REGION = "us-east-1"
PRICING_REGION = "us-east-1"  # the Pricing API answers in us-east-1, eu-central-1 and ap-south-1 only
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 60
MAX_ATTEMPTS = 3  # botocore's attempts per request (connection errors, 5xx, throttling)
THROTTLE_ATTEMPTS = 6  # our own attempts per page when AWS still throttles after botocore's
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 20.0

THROTTLING_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded", "RequestThrottled",
    "RequestThrottledException", "TooManyRequestsException", "SlowDown", "PriorRequestNotComplete",
})  # fmt: skip
ACCESS_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError",
                          "UnauthorizedException"})  # fmt: skip
CREDENTIAL_CODES = frozenset({"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
                              "AuthFailure", "IncompleteSignature", "MissingAuthenticationToken",
                              "InvalidSignatureException"})  # fmt: skip
EXPIRED_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired"})
IAM_PREFIX = {"monitoring": "cloudwatch"}  # signing name -> IAM action prefix, where they differ
NO_CREDENTIALS = ("no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                  "or run aws configure / aws sso login")  # fmt: skip
UNREACHABLE_ERRORS = (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ReadTimeoutError,
                      bx.ConnectionClosedError, bx.HTTPClientError)  # fmt: skip

# Clients that replace the ones the gateway would build, by service name. Tests put a Stubber-backed
# Pricing client here: no emulator implements the Pricing API.
client_overrides: dict[str, Any] = {}


@dataclass(frozen=True)
class AwsOptions:
    """Where and as whom to call AWS; None means "as the AWS CLI would decide"."""

    region: str | None = None
    endpoint_url: str | None = None
    profile: str | None = None


def resolve_region(option: str | None, profile_region: str | None = None) -> str:
    """Return ``--region``, else AWS_REGION, else AWS_DEFAULT_REGION, else the profile's, else us-east-1."""
    for value in (option, os.environ.get("AWS_REGION"), os.environ.get("AWS_DEFAULT_REGION"), profile_region):
        if value and value.strip():
            return value.strip()
    return DEFAULT_REGION


def _config() -> Config:
    attempts = os.environ.get("AWS_MAX_ATTEMPTS", "")
    return Config(
        retries={"mode": os.environ.get("AWS_RETRY_MODE") or "standard",
                 "max_attempts": int(attempts) if attempts.isdigit() and int(attempts) > 0 else MAX_ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        user_agent_extra="planner",
    )  # fmt: skip


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class AwsGateway:
    """Calls to RDS, EC2, the Pricing API and CloudWatch, each turned into plain dicts or one error line."""

    def __init__(self, options: AwsOptions, *, sleep: Callable[[float], None] = time.sleep,
                 throttle_attempts: int = THROTTLE_ATTEMPTS) -> None:  # fmt: skip
        self.options = options
        self._sleep = sleep
        self._throttle_attempts = max(1, throttle_attempts)
        self._session: Any = None
        self._clients: dict[tuple[str, str], Any] = {}
        self.region = resolve_region(options.region, self._profile_region())

    # ------------------------------------------------------------------ clients and calls

    def _profile_region(self) -> str | None:
        return self.session().region_name

    def session(self) -> Any:
        """Return the boto3 session (profile and credentials resolved as the AWS CLI does)."""
        if self._session is None:
            try:
                self._session = boto3.Session(profile_name=self.options.profile or None)
            except bx.ProfileNotFound as exc:
                name = self.options.profile or os.environ.get("AWS_PROFILE", "")
                raise ExternalError(f"AWS profile {name!r} not found: check --profile / AWS_PROFILE, "
                                    "or create it with aws configure --profile NAME") from exc  # fmt: skip
        return self._session

    def client(self, service: str, region: str | None = None) -> Any:
        """Return a client for ``service`` (from :data:`client_overrides` if a test put one there)."""
        if service in client_overrides:
            return client_overrides[service]
        region = region or self.region
        key = (service, region)
        if key not in self._clients:
            endpoint = self.options.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
            try:
                self._clients[key] = self.session().client(service, region_name=region, endpoint_url=endpoint,
                                                           config=_config())  # fmt: skip
            except ValueError as exc:  # botocore's "Invalid endpoint: ...": a bad flag, exit 2
                raise InputError(f"--endpoint-url: {endpoint!r} is not a URL ({exc}): write e.g. http://127.0.0.1:5000") from exc
        return self._clients[key]

    def call(self, client: Any, method: str, *, missing: dict[str, str] | None = None, **kwargs: Any) -> dict[str, Any]:
        """Call ``client.method(**kwargs)``; retry throttling; raise ExternalError with one line otherwise.

        ``missing`` maps error codes that mean "no such thing" to what was looked for
        ("DB instance 'shop'"), for a message that names it.
        """
        for attempt in range(1, self._throttle_attempts + 1):
            try:
                return getattr(client, method)(**kwargs)
            except bx.ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", ""))
                if code in THROTTLING_CODES and attempt < self._throttle_attempts:
                    delay = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
                    self._sleep(delay * (0.5 + random.random() / 2))
                    continue
                error = self._error(exc, client, method, missing or {})
                error.aws_code = code  # type: ignore[attr-defined]  # for callers that tolerate one code
                raise error from exc
            except bx.BotoCoreError as exc:
                raise self._error(exc, client, method, {}) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def pages(self, client: Any, method: str, token: str = "Marker", out_token: str | None = None, *,
              missing: dict[str, str] | None = None, **kwargs: Any) -> Iterator[dict[str, Any]]:  # fmt: skip
        """Yield every page of a listing, passing the previous page's token back in."""
        seen: set[str] = set()
        next_token: str | None = None
        while True:
            args = dict(kwargs)
            if next_token:
                args[token] = next_token
            page = self.call(client, method, missing=missing, **args)
            yield page
            next_token = page.get(out_token or token) or None
            if not next_token or next_token in seen:
                return
            seen.add(next_token)

    def _action(self, client: Any, method: str) -> str:
        meta = getattr(client, "meta", None)
        try:
            operation = meta.method_to_api_mapping[method]  # type: ignore[union-attr]
            prefix = meta.service_model.signing_name  # type: ignore[union-attr]
        except (AttributeError, KeyError):
            return method
        return f"{IAM_PREFIX.get(prefix, prefix)}:{operation}"

    def _endpoint(self, client: Any) -> str:
        return str(getattr(getattr(client, "meta", None), "endpoint_url", "") or "the AWS endpoint")

    def _error(self, exc: Exception, client: Any, method: str, missing: dict[str, str]) -> ExternalError:
        action = self._action(client, method)
        if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError)):
            return ExternalError(NO_CREDENTIALS)
        if isinstance(exc, bx.ProfileNotFound):
            return ExternalError(f"AWS profile not found ({exc}): check --profile / AWS_PROFILE")
        if isinstance(exc, (bx.TokenRetrievalError, bx.UnauthorizedSSOTokenError, bx.SSOTokenLoadError)):
            return ExternalError("the AWS SSO session has expired or is missing: run aws sso login")
        if isinstance(exc, bx.CredentialRetrievalError):
            return ExternalError(f"cannot get AWS credentials ({self._scrub(str(exc))}): check the profile, "
                                 "or run aws configure / aws sso login")  # fmt: skip
        if isinstance(exc, UNREACHABLE_ERRORS):
            endpoint = getattr(exc, "kwargs", {}).get("endpoint_url") or self._endpoint(client)
            return ExternalError(f"cannot reach {endpoint}: check the network or --endpoint-url")
        if isinstance(exc, bx.ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "") or "")
            message = self._scrub(" ".join(str(error.get("Message", "") or "").split()))
            if code in missing:
                return ExternalError(f"no {missing[code]} in {self.region} ({code}): check the identifier, "
                                     "--region and the account of the credentials")  # fmt: skip
            if code in ACCESS_CODES:
                return ExternalError(f"the credentials lack {action} ({code}): grant it to the IAM user or role "
                                     "(the README lists every permission planner needs)")  # fmt: skip
            if code in CREDENTIAL_CODES:
                return ExternalError(f"AWS rejected the credentials ({code}): check AWS_PROFILE or "
                                     "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run aws configure / aws sso login")
            if code in EXPIRED_CODES:
                return ExternalError(f"the AWS credentials have expired ({code}): refresh them "
                                     "(aws sso login) and run again")  # fmt: skip
            if code in THROTTLING_CODES:
                return ExternalError(f"AWS kept throttling {action} ({code}) after {self._throttle_attempts} "
                                     "attempts: run again later")  # fmt: skip
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = f"HTTP {code}" if code.isdigit() else code or f"HTTP {status}"
            detail = code + (f": {message}" if message and not message.startswith("<") else "")  # no HTML pages
            hint = ""
            if action.startswith("pricing:") and (self.options.endpoint_url or os.environ.get("AWS_ENDPOINT_URL")):
                hint = ": emulators rarely implement the Pricing API, add --no-prices"
            return ExternalError(f"AWS refused {action} ({detail[:300]}){hint}")
        return ExternalError(f"AWS {action} failed: {self._scrub(' '.join(str(exc).split()))[:300]}")

    def _scrub(self, text: str) -> str:
        """Return ``text`` without the secret key or session token, should a message ever echo them."""
        try:
            credentials = self.session().get_credentials()
            frozen = credentials.get_frozen_credentials() if credentials is not None else None
        except Exception:  # resolving credentials failed: nothing to hide, nothing to learn
            return text
        for secret in (getattr(frozen, "secret_key", None), getattr(frozen, "token", None)):
            if secret:
                text = text.replace(secret, "***")
        return text

    # ------------------------------------------------------------------ catalogue refresh

    def orderable_options(self, engine: str) -> list[dict[str, Any]]:
        """Return every DescribeOrderableDBInstanceOptions entry of ``engine`` in the region."""
        rds = self.client("rds")
        options: list[dict[str, Any]] = []
        for page in self.pages(rds, "describe_orderable_db_instance_options", Engine=engine, MaxRecords=100):
            options.extend(page.get("OrderableDBInstanceOptions", []))
        return options

    def instance_types(self, names: Iterable[str], progress: Callable[[int], None] | None = None) -> dict[str, dict[str, Any]]:
        """Return DescribeInstanceTypes entries by EC2 type name; names EC2 does not know are left out."""
        ec2 = self.client("ec2")
        found: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(sorted(set(names)), 100):
            # a filter, unlike InstanceTypes=[...], does not fail the whole call on one unknown name
            for page in self.pages(ec2, "describe_instance_types", "NextToken", MaxResults=100,
                                   Filters=[{"Name": "instance-type", "Values": chunk}]):  # fmt: skip
                for item in page.get("InstanceTypes", []):
                    found[str(item.get("InstanceType"))] = item
            if progress is not None:
                progress(len(chunk))
        return found

    def price_list(self, database_engine: str, region: str) -> list[Any]:
        """Return the AmazonRDS price-list entries of ``database_engine`` ("PostgreSQL") in ``region``."""
        pricing = self.client("pricing", PRICING_REGION)
        filters = [{"Type": "TERM_MATCH", "Field": field, "Value": value} for field, value in (
            ("regionCode", region), ("databaseEngine", database_engine), ("productFamily", "Database Instance"))]
        entries: list[Any] = []
        for page in self.pages(pricing, "get_products", "NextToken", ServiceCode="AmazonRDS", Filters=filters,
                               FormatVersion="aws_v1", MaxResults=100):  # fmt: skip
            entries.extend(page.get("PriceList", []))
        return entries

    # ------------------------------------------------------------------ import

    def db_instances(self, identifier: str | None = None, cluster: str | None = None) -> list[dict[str, Any]]:
        """Return one DB instance, a cluster's instances, or every DB instance in the region."""
        rds = self.client("rds")
        args: dict[str, Any] = {}
        if identifier:
            args["DBInstanceIdentifier"] = identifier
        if cluster:
            args["Filters"] = [{"Name": "db-cluster-id", "Values": [cluster]}]
        missing = dict.fromkeys(("DBInstanceNotFound", "DBInstanceNotFoundFault"), f"DB instance {identifier!r}")
        found: list[dict[str, Any]] = []
        for page in self.pages(rds, "describe_db_instances", missing=missing, MaxRecords=100, **args):
            found.extend(page.get("DBInstances", []))
        if identifier and not found:  # an emulator may answer with an empty list instead
            raise ExternalError(f"no DB instance {identifier!r} in {self.region}: check the identifier, --region "
                                "and the account of the credentials")  # fmt: skip
        return found

    def db_clusters(self, identifier: str | None = None) -> list[dict[str, Any]]:
        """Return one DB cluster, or every DB cluster in the region."""
        rds = self.client("rds")
        args = {"DBClusterIdentifier": identifier} if identifier else {}
        missing = dict.fromkeys(("DBClusterNotFoundFault", "DBClusterNotFound"), f"DB cluster {identifier!r}")
        found: list[dict[str, Any]] = []
        for page in self.pages(rds, "describe_db_clusters", missing=missing, MaxRecords=100, **args):
            found.extend(page.get("DBClusters", []))
        return found

    def parameters(self, group: str, cluster: bool = False) -> list[dict[str, Any]]:
        """Return every parameter of a DB (or DB cluster) parameter group; [] for a default group AWS cannot show."""
        rds = self.client("rds")
        method = "describe_db_cluster_parameters" if cluster else "describe_db_parameters"
        key = "DBClusterParameterGroupName" if cluster else "DBParameterGroupName"
        found: list[dict[str, Any]] = []
        try:
            for page in self.pages(rds, method, MaxRecords=100, **{key: group}):
                found.extend(page.get("Parameters", []))
        except ExternalError as exc:
            # A default group holds only AWS's defaults, which are the planner's: nothing is lost.
            if group.startswith("default.") and getattr(exc, "aws_code", "").endswith("NotFound"):
                return []
            raise
        return found

    def proxies(self) -> list[dict[str, Any]]:
        """Return every RDS Proxy with its targets and target groups (keys ``Targets``, ``TargetGroups``)."""
        rds = self.client("rds")
        found: list[dict[str, Any]] = []
        for page in self.pages(rds, "describe_db_proxies", MaxRecords=100):
            found.extend(page.get("DBProxies", []))
        for proxy in found:
            name = proxy["DBProxyName"]
            proxy["TargetGroups"] = [g for page in self.pages(rds, "describe_db_proxy_target_groups", DBProxyName=name,
                                                              MaxRecords=100) for g in page.get("TargetGroups", [])]
            proxy["Targets"] = [t for page in self.pages(rds, "describe_db_proxy_targets", DBProxyName=name,
                                                         MaxRecords=100) for t in page.get("Targets", [])]
        return found

    # ------------------------------------------------------------------ observe

    def connection_maxima(self, instance: str, start: datetime, end: datetime,
                          period: int = 300) -> list[tuple[datetime, float]]:  # fmt: skip
        """Return (timestamp, Maximum of DatabaseConnections) per ``period`` seconds for one DB instance."""
        return self.metric_series("DatabaseConnections", "DBInstanceIdentifier", instance, "Maximum", start, end, period)

    def metric_series(self, metric: str, dimension: str, value: str, statistic: str, start: datetime, end: datetime,
                      period: int) -> list[tuple[datetime, float]]:  # fmt: skip
        """Return (timestamp, ``statistic`` of AWS/RDS ``metric``) per ``period`` seconds for one dimension value."""
        cloudwatch = self.client("cloudwatch")
        query = {"Id": "series", "ReturnData": True, "MetricStat": {"Period": period, "Stat": statistic, "Metric": {
            "Namespace": "AWS/RDS", "MetricName": metric, "Dimensions": [{"Name": dimension, "Value": value}]}}}  # fmt: skip
        points: list[tuple[datetime, float]] = []
        for page in self.pages(cloudwatch, "get_metric_data", "NextToken", MetricDataQueries=[query],
                               StartTime=start, EndTime=end, ScanBy="TimestampAscending"):  # fmt: skip
            for result in page.get("MetricDataResults", []):
                points.extend(zip(result.get("Timestamps", []), result.get("Values", [])))
        return points


__all__ = ["AwsGateway", "AwsOptions", "client_overrides", "resolve_region"]
