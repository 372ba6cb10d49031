"""The commands that read AWS: ``catalog refresh``, ``import rds`` and ``observe``.

Registered on the app in :mod:`planner.cli`. boto3 is imported only inside these commands (through
:mod:`planner.adapters.aws`), so ``planner check`` never pays for it. Every AWS call honours
``--endpoint-url`` / ``AWS_ENDPOINT_URL``, ``--region`` and ``--profile``; failures to reach or
use AWS exit 3 with one line saying what to do.
"""

import contextlib
import json
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from planner.cli.app import HELP_OPTIONS, app, catalog_app
from planner.cli.common import CatalogOption, ObservationsOption, OutputOption, _emit
from planner.errors import InputError
from planner.model import RDS_ENGINES

RegionOption = Annotated[
    Optional[str],
    typer.Option("--region", help="AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region, else us-east-1)."),
]
EndpointOption = Annotated[
    Optional[str],
    typer.Option("--endpoint-url", envvar="AWS_ENDPOINT_URL", help="Send every AWS call to this URL (e.g. a local emulator)."),
]
ProfileOption = Annotated[Optional[str], typer.Option("--profile", help="AWS profile (default: AWS_PROFILE, else the default credential chain).")]

import_app = typer.Typer(help="Write parts of a topology from what is deployed.", no_args_is_help=True,
                         context_settings=HELP_OPTIONS)
app.add_typer(import_app, name="import")


def _gateway(region: Optional[str], endpoint_url: Optional[str], profile: Optional[str]) -> Any:
    from planner.adapters.aws import AwsGateway, AwsOptions

    return AwsGateway(AwsOptions(region=region, endpoint_url=endpoint_url or None, profile=profile))


def _note(text: str) -> None:
    print(f"planner: {text}", file=sys.stderr)


def _today() -> str:
    return datetime.now(timezone.utc).date().isoformat()


@catalog_app.command("refresh", short_help="Rebuild the catalogue from AWS's published data.")
def catalog_refresh(
    region: RegionOption = None,
    engine: Annotated[Optional[str], typer.Option("--engine", help="Refresh only this engine: postgres or aurora-postgresql (default: both).")] = None,
    output: OutputOption = None,
    no_prices: Annotated[bool, typer.Option("--no-prices", help="Keep the catalogue's prices instead of asking the AWS Pricing API.")] = False,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
    catalog: CatalogOption = None,
    observations: ObservationsOption = None,
) -> None:
    """Rebuild the instance-class catalogue from AWS: the classes RDS offers in the region, their
    vCPUs and memory from EC2, and on-demand prices from the AWS Pricing API.

    Observed and published DBInstanceClassMemory values of the current catalogue (--catalog, else
    the bundled one) are kept; every other class is estimated with the fitted rules. Nothing is
    written unless every call succeeds. Needs rds:DescribeOrderableDBInstanceOptions,
    ec2:DescribeInstanceTypes and pricing:GetProducts (not with --no-prices). Exit 3 when AWS
    cannot be reached or refuses.

    \b
    Examples:
      planner catalog refresh --region eu-west-1 -o catalog-eu-west-1.csv
      planner catalog refresh --engine aurora-postgresql --no-prices -o aurora.csv
      planner plan shop.yaml --catalog catalog-eu-west-1.csv
    """
    from planner.catalog import load_catalog
    from planner.catalog.refresh import refresh_catalog

    if engine is not None and engine not in RDS_ENGINES:
        raise InputError(f"--engine: unknown engine {engine!r} (choose postgres or aurora-postgresql)")
    current = load_catalog(catalog, observations)
    gateway = _gateway(region, endpoint_url, profile)
    with contextlib.ExitStack() as stack:
        bars: list[Any] = []

        def start(count: int) -> None:
            if not sys.stderr.isatty():  # elsewhere click prints just the label: a stray line before any error
                return
            bars.append(stack.enter_context(typer.progressbar(length=max(count, 1), label="instance classes",
                                                              file=sys.stderr)))  # fmt: skip

        text, summary = refresh_catalog(gateway, current, (engine,) if engine else RDS_ENGINES, _today(),
                                        prices=not no_prices, on_classes=start,
                                        progress=lambda n: bars[0].update(n) if bars else None)  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:  # the other commands must accept what we write
        probe = Path(scratch) / "catalog.csv"
        probe.write_text(text, encoding="utf-8")
        load_catalog(probe)
    _emit(text, output)
    lines = summary.lines()
    _note(f"catalogue {'written: ' + str(output) if output else 'refreshed'} ({'; '.join(lines)})")


@import_app.command("rds", short_help="Write databases (and RDS Proxies) from the RDS API.")
def import_rds(
    db_instance_identifier: Annotated[Optional[str], typer.Option("--db-instance-identifier", help="An RDS for PostgreSQL instance (with its read replicas).")] = None,
    db_cluster_identifier: Annotated[Optional[str], typer.Option("--db-cluster-identifier", help="An Aurora PostgreSQL (or Multi-AZ DB) cluster.")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Every PostgreSQL instance and cluster in the region.")] = False,
    name: Annotated[Optional[str], typer.Option("--name", help="The database's name in the topology (default: the identifier).")] = None,
    region: RegionOption = None,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Topology file to write or merge into (default: print a new one).")
    ] = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Write a topology's databases (and RDS Proxies as poolers) from what is deployed: class,
    engine version, readers, and the max_connections and reserved-slot parameters of its parameter group.

    With -o FILE that exists, only the imported databases and proxies are rewritten: services,
    environments, other entries and comments stay as written. Services are yours to add. Needs
    rds:DescribeDBInstances, rds:DescribeDBClusters, rds:DescribeDBParameters,
    rds:DescribeDBClusterParameters, rds:DescribeDBProxies, rds:DescribeDBProxyTargets and
    rds:DescribeDBProxyTargetGroups. Exit 3 when AWS cannot be reached or refuses.

    \b
    Examples:
      planner import rds --db-instance-identifier shop-db -o shop.yaml
      planner import rds --db-cluster-identifier shop-aurora --name main -o shop.yaml
      planner import rds --all --region eu-west-1
    """
    from planner.live.merge import merge_json, merge_yaml, new_topology
    from planner.live.rds_import import collect

    chosen = [flag for flag, on in (("--db-instance-identifier", db_instance_identifier), ("--db-cluster-identifier",
              db_cluster_identifier), ("--all", everything)) if on]  # fmt: skip
    if len(chosen) != 1:
        raise InputError("choose one of --db-instance-identifier ID, --db-cluster-identifier ID or --all"
                         + (f" (got {' and '.join(chosen)})" if chosen else ""))  # fmt: skip
    if name is not None and everything:
        raise InputError("--name names one database: use it with --db-instance-identifier or --db-cluster-identifier")
    if output is not None and output.suffix.lower() == ".toml":
        raise InputError(f"{output}: planner import writes YAML or JSON topologies, not TOML (use a .yaml file)")
    existing = None
    if output is not None and output.exists():
        try:
            existing = output.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{output}: cannot read the topology to merge into ({exc})") from exc
    gateway = _gateway(region, endpoint_url, profile)
    imported = collect(gateway, instance=db_instance_identifier, cluster=db_cluster_identifier,
                       everything=everything, name=name)  # fmt: skip
    today = _today()
    origins = {db.name: f"imported from {db.origin}, {gateway.region}, {today}" for db in imported.databases}
    origins.update({p.name: f"imported from RDS Proxy {p.name}, {gateway.region}, {today}" for p in imported.proxies})
    if output is not None and output.suffix.lower() == ".json":
        text = merge_json(existing or "", imported)
    elif existing is not None:
        text = merge_yaml(existing, imported, origins)
    else:
        header = (f"Imported by planner import rds from AWS {gateway.region} on {today}.\n"
                  "Services are yours to write: add a services: section (docs/topology.md), then run planner check.")
        text = new_topology(imported, origins, header)
    _emit(text, output)
    for note in imported.notes:
        _note(note)
    names = ", ".join(db.name for db in imported.databases) or "none"
    proxies = f" and {len(imported.proxies)} RDS Prox{'y' if len(imported.proxies) == 1 else 'ies'}" if imported.proxies else ""
    _note(f"imported {len(imported.databases)} database(s) ({names}){proxies}" + (f" into {output}" if output else ""))


@app.command(short_help="Read the peak of CloudWatch DatabaseConnections.")
def observe(
    instances: Annotated[Optional[list[str]], typer.Argument(metavar="ID...", help="DB instance identifiers (writers or replicas).", show_default=False)] = None,
    proxies: Annotated[Optional[list[str]], typer.Option("--proxy", metavar="NAME", help="An RDS Proxy to observe too (DatabaseConnections and ClientConnections); repeat for several.", show_default=False)] = None,
    days: Annotated[int, typer.Option("--days", min=1, max=455, help="How many days back to look: CloudWatch keeps 1-minute maxima 15 days, "
                                      "5-minute 63, 1-hour 455; the finest it still keeps is read. A trend needs 14 days or more.")] = 42,
    database: Annotated[Optional[str], typer.Option("--database", "-d", help="The topology's name for the database (default: as planner import rds names it).")] = None,
    topology: Annotated[Optional[Path], typer.Option("--topology", help="Check the database name against this topology.")] = None,
    region: RegionOption = None,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Observations file to write (entries of other instances in it are kept).")
    ] = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Read CloudWatch DatabaseConnections (the maxima over the window, at the finest period CloudWatch
    still keeps for it) of DB instances, for check --observed and report --observed: the peak next
    to the plan, a warning when the plan's steady demand is below what was actually seen, and how
    the peak moves (daily peaks, trend, the day it reaches the alarm line).

    Needs cloudwatch:GetMetricData, rds:DescribeDBInstances and rds:DescribeDBClusters. Exit 3
    when AWS cannot be reached or refuses.

    \b
    Examples:
      planner observe shop-db --days 14 -o observed.json
      planner observe shop-db --proxy shop-proxy -o observed.json
      planner observe shop-db shop-db-replica --database main --topology shop.yaml -o observed.json
      planner check shop.yaml --observed observed.json
    """
    from planner.live.history import align_down, finest_period
    from planner.live.observe import PROXY_METRICS, observation, observations_document, placement, proxy_observation

    instances, proxies = instances or [], proxies or []
    if not instances and not proxies:
        raise InputError("observe: name a DB instance (planner observe shop-db) or an RDS Proxy (--proxy shop-proxy)")

    known: list[str] | None = None
    if topology is not None:
        from planner.topology import load_topology

        known = list(load_topology(topology).databases)
        if database is not None and database not in known:
            raise InputError(f"--database: no database named {database!r} in {topology} (choose from {', '.join(known)})")
    existing: dict[str, Any] | None = None
    if output is not None and output.exists():
        try:
            existing = json.loads(output.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{output}: not an observations file ({exc}); choose another -o") from exc
    gateway = _gateway(region, endpoint_url, profile)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    # one window for every instance and proxy: the finest period CloudWatch keeps that far back
    period = finest_period(days)
    start, end = align_down(now - timedelta(days=days), period), align_down(now, period)
    peaks = []
    for ident in instances:
        described = gateway.db_instances(identifier=ident)[0]
        cluster = gateway.db_clusters(described["DBClusterIdentifier"])[0] if described.get("DBClusterIdentifier") else None
        name, role = placement(described, cluster)
        if database is not None:
            name = database
        elif known is not None and name not in known:
            if len(known) != 1:
                raise InputError(f"{ident}: {topology} has no database {name!r}: name it with --database (one of {', '.join(known)})")
            name = known[0]
        points = gateway.connection_maxima(ident, start, end, period)
        peaks.append(observation(ident, name, role, points, days, gateway.region, now, period))
    observed_proxies = []
    for name in proxies:
        sums = {metric: gateway.metric_series(metric, "ProxyName", name, "Sum", start, end, period) for metric in PROXY_METRICS}
        observed_proxies.append(proxy_observation(name, sums, days, gateway.region, now, period))
    _emit(json.dumps(observations_document(peaks, existing, observed_proxies), indent=2), output)
    for proxy in observed_proxies:
        held, clients = proxy.peak("DatabaseConnections"), proxy.peak("ClientConnections")
        _note(f"RDS Proxy {proxy.proxy}: database connections up to {held if held is not None else 'none seen'}, client connections "
              f"up to {clients if clients is not None else 'none seen'} ({proxy.statistic}, {days} days)")  # fmt: skip
    for peak in peaks:  # once written: a run that fails says only why (one line)
        if peak.peak is None:
            _note(f"{peak.instance}: no DatabaseConnections datapoint in the last {days} days (is the instance running?)")
        else:
            gaps = f", {len(peak.series.values) - peak.datapoints:,} periods without data" if peak.series and peak.series.datapoints < len(peak.series.values) else ""
            _note(f"{peak.instance} ({peak.database}, {peak.role}): peak {peak.peak} connections at {peak.peak_at} "
                  f"(largest {period // 60}-minute maximum of {peak.datapoints:,} over {days} days{gaps})")  # fmt: skip
            ended = peak.ended()
            if ended:
                _note(f"{peak.instance}: no DatabaseConnections datapoint after {ended}: was it stopped, renamed or deleted?")
