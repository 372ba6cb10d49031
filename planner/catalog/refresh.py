"""Rebuild the catalogue from what AWS says: orderable classes, EC2 specs, on-demand prices.

Pure: the functions here map API shapes (``DescribeOrderableDBInstanceOptions``,
``DescribeInstanceTypes``, Pricing API price lists) to catalogue rows; :func:`refresh_catalog`
takes a gateway (:class:`planner.adapters.aws.AwsGateway`, or a fake in tests) for the calls.

What a refresh keeps and what it changes, per engine it refreshes:

- a class AWS offers for the engine keeps its observed or published (``aws-doc``)
  DBInstanceClassMemory from the current catalogue; any other gets the fitted rule's estimate
  (:mod:`planner.catalog.estimate`) from the EC2 type's memory and vCPUs;
- a class the catalogue has but AWS no longer offers for the engine loses that engine, unless the
  class is retired (t2, m3, m4, r3, r4: people still run them);
- where each class can be ordered (per deployment) and the engine versions it runs come from the
  orderable options of the refreshed engines;
- the prices of the refreshed engines are replaced by the Pricing API's, per deployment (Single-AZ,
  Multi-AZ instance, Multi-AZ DB cluster; Aurora Standard and I/O-Optimized), dated today.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from planner.catalog.columns import ClassSpecs, catalog_csv, row_of
from planner.catalog.estimate import estimate_memory, nominal_bytes
from planner.errors import ExternalError
from planner.model import (
    DEPLOYMENTS,
    RDS_ENGINES,
    SOURCE_AWS_DOC,
    SOURCE_OBSERVED,
    EngineMemory,
    InstanceClass,
    Price,
    VersionSupport,
)
from planner.reserves import parse_engine_version

if TYPE_CHECKING:
    from planner.catalog import Catalog

ENGINE_LABELS: dict[str, str] = {"postgres": "PostgreSQL", "aurora-postgresql": "Aurora PostgreSQL"}
SKIP_CLASSES = frozenset({"db.serverless"})  # Aurora Serverless v2: its memory follows the ACU range
HOURLY_UNITS = frozenset({"Hrs", "Hours", "hours", "Hour"})
KEPT_SOURCES = (SOURCE_OBSERVED, SOURCE_AWS_DOC)
API_SOURCE = "AWS DescribeOrderableDBInstanceOptions"


def ec2_type_of(instance_class: str) -> str:
    """Return the EC2 instance type an RDS class runs on: db.m6g.large -> m6g.large."""
    return instance_class[3:] if instance_class.startswith("db.") else instance_class


def split_class_name(instance_class: str) -> tuple[str, int, str]:
    """Return (family, generation, size) of a class name: db.r6gd.2xlarge -> ("r6gd", 6, "2xlarge")."""
    parts = instance_class.split(".")
    family = parts[1] if len(parts) > 1 else instance_class
    size = ".".join(parts[2:])
    digits = re.search(r"\d+", family)
    return family, int(digits.group()) if digits else 0, size


def gib_text(memory_mib: int) -> str:
    """Return a memory in MiB as exact GiB text: 8192 -> "8", 15616 -> "15.25"."""
    return format((Decimal(memory_mib) / Decimal(1024)).normalize(), "f")


def specs_from_ec2(instance_class: str, item: Mapping[str, Any]) -> ClassSpecs | None:
    """Return a class's specs from its ``DescribeInstanceTypes`` entry (None if vCPU or memory is missing)."""
    vcpu = (item.get("VCpuInfo") or {}).get("DefaultVCpus")
    memory = (item.get("MemoryInfo") or {}).get("SizeInMiB")
    if not isinstance(vcpu, int) or not isinstance(memory, int) or vcpu < 1 or memory < 1:
        return None
    architectures = (item.get("ProcessorInfo") or {}).get("SupportedArchitectures") or []
    family, generation, size = split_class_name(instance_class)
    return ClassSpecs(family, generation, size, "arm64" if "arm64" in architectures else "x86_64",
                      bool(item.get("BurstablePerformanceSupported", False)), vcpu, gib_text(memory))  # fmt: skip


def specs_from_catalog(cls: InstanceClass) -> ClassSpecs:
    """Return the specs the catalogue already has for a class (for classes EC2 does not describe)."""
    return ClassSpecs(cls.family, cls.generation, cls.size, cls.arch, cls.burstable, cls.vcpu, _number(cls.memory_gib))


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True)
class Offer:
    """What ``DescribeOrderableDBInstanceOptions`` says of one class under one engine."""

    multi_az: bool  # some option is MultiAZCapable
    cluster: bool  # some option SupportsClusters (a Multi-AZ DB cluster)
    versions: VersionSupport  # the first minor of each major offered


def offers_from_options(options: Iterable[Mapping[str, Any]]) -> dict[str, Offer]:
    """Return, per instance class (no db.serverless), what the orderable options offer."""
    found: dict[str, dict[str, Any]] = {}
    for option in options:
        name = str(option.get("DBInstanceClass", ""))
        if not name.startswith("db.") or name in SKIP_CLASSES:
            continue
        item = found.setdefault(name, {"multi_az": False, "cluster": False, "minimums": {}})
        item["multi_az"] |= bool(option.get("MultiAZCapable"))
        item["cluster"] |= bool(option.get("SupportsClusters"))
        try:
            version = parse_engine_version(str(option.get("EngineVersion", "")))
        except ValueError:
            continue
        minimums: dict[int, int] = item["minimums"]
        minor = version.minor if version.minor is not None else 0
        minimums[version.major] = min(minor, minimums.get(version.major, minor))
    return {name: Offer(i["multi_az"], i["cluster"], VersionSupport(tuple(sorted(i["minimums"].items()))))
            for name, i in found.items()}  # fmt: skip


def orderable_classes(options: Iterable[Mapping[str, Any]]) -> set[str]:
    """Return the instance classes of ``DescribeOrderableDBInstanceOptions`` entries (no db.serverless)."""
    return set(offers_from_options(options))


def _deployment_of(engine: str, attributes: Mapping[str, Any]) -> str | None:
    """Return the planner's deployment of a Pricing API product, or None if it is not an instance price we use."""
    label = re.sub(r"[^a-z]+", " ", str(attributes.get("deploymentOption", "")).lower()).strip()
    io_optimized = "IO Optimiz" in str(attributes.get("storage", "")) or "IOOptimized" in str(attributes.get("usagetype", ""))
    if engine == "aurora-postgresql":
        return None if label != "single az" else ("aurora-io-optimized" if io_optimized else "aurora-standard")
    if io_optimized:
        return None
    return {"single az": "single-az", "multi az": "multi-az", "multi az readable standbys": "multi-az-cluster"}.get(label)


def parse_price_list(entries: Iterable[Any], engine: str, region: str | None = None) -> dict[str, dict[str, Decimal]]:
    """Return {instance class: {deployment: USD per hour}} of ``engine`` from Pricing API ``PriceList`` entries.

    Each entry is a JSON string (or its parsed dict) with ``product.attributes`` and
    ``terms.OnDemand.*.priceDimensions.*.pricePerUnit.USD``. Deployments are the planner's:
    single-az, multi-az, multi-az-cluster; aurora-standard, aurora-io-optimized. Where several
    prices remain for one class and deployment, the lowest wins.
    """
    database_engine = ENGINE_LABELS[engine]
    prices: dict[str, dict[str, Decimal]] = {}
    for raw in entries:
        item = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
        attributes = (item.get("product") or {}).get("attributes") or {}
        instance_class = str(attributes.get("instanceType", ""))
        deployment = _deployment_of(engine, attributes)
        if attributes.get("databaseEngine") != database_engine or deployment is None:
            continue
        if not instance_class.startswith("db.") or (region and attributes.get("regionCode", region) != region):
            continue
        for term in ((item.get("terms") or {}).get("OnDemand") or {}).values():
            for dimension in (term.get("priceDimensions") or {}).values():
                if dimension.get("unit") not in HOURLY_UNITS:
                    continue
                try:
                    usd = Decimal(str((dimension.get("pricePerUnit") or {}).get("USD")))
                except InvalidOperation:
                    continue
                if usd > 0:
                    by_deployment = prices.setdefault(instance_class, {})
                    by_deployment[deployment] = min(usd, by_deployment.get(deployment, usd))
    return prices


@dataclass
class RefreshSummary:
    """What a refresh did, for the line it prints."""

    region: str
    engines: tuple[str, ...]
    classes: int = 0
    orderable: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)  # observed / aws-doc values kept
    estimated: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, list[str]] = field(default_factory=dict)  # no longer orderable
    skipped: list[str] = field(default_factory=list)  # orderable, but neither EC2 nor the catalogue knows them
    priced: int | None = None  # None: prices not refreshed

    def lines(self) -> list[str]:
        """Return the summary as lines for stderr."""
        out = [f"{self.classes} classes"]
        for engine in self.engines:
            dropped = self.dropped.get(engine, [])
            text = (f"{engine}: {self.orderable.get(engine, 0)} orderable in {self.region}, "
                    f"{self.kept.get(engine, 0)} observed/aws-doc values kept, {self.estimated.get(engine, 0)} estimated")
            if dropped:
                text += f", {len(dropped)} no longer offered removed ({_names(dropped)})"
            out.append(text)
        if self.skipped:
            out.append(f"{len(self.skipped)} skipped: unknown to EC2 and to the catalogue ({_names(self.skipped)})")
        out.append("prices: not refreshed (kept from the catalogue)" if self.priced is None
                   else f"prices: {self.priced} classes priced by the AWS Pricing API")  # fmt: skip
        return out


def _names(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(sorted(names)[:limit])
    return shown + (f", … {len(names) - limit} more" if len(names) > limit else "")


def _orderability(cls: InstanceClass | None, engines: tuple[str, ...], offers: Mapping[str, Mapping[str, Offer]],
                  name: str, source: str) -> tuple[dict[str, bool | None], dict[str, VersionSupport], str]:  # fmt: skip
    """Return a class's deployments, versions and their source after a refresh of ``engines``."""
    orderable = dict(cls.orderable) if cls is not None else {}
    versions = dict(cls.versions) if cls is not None else {}
    for engine in engines:
        offer = offers.get(engine, {}).get(name)
        if offer is None:
            orderable.update({d: False for d in DEPLOYMENTS[engine]})
            versions.pop(engine, None)
            continue
        if engine == "postgres":
            # the API has no flag for a class offered only as a Multi-AZ DB cluster (db.c6gd):
            # a class the catalogue knows to be cluster-only stays so
            single = not (orderable.get("single-az") is False and offer.cluster)
            orderable.update({"single-az": single, "multi-az": offer.multi_az, "multi-az-cluster": offer.cluster})
        else:
            orderable.update({d: True for d in DEPLOYMENTS[engine]})
        versions[engine] = offer.versions
    previous = cls.orderable_source.split(" | ") if cls is not None and cls.orderable_source else []
    # another engine's flags came from the earlier sources; an earlier refresh is replaced by this one
    kept = [p for p in previous if not p.startswith(API_SOURCE)] if set(engines) != set(RDS_ENGINES) else []
    return orderable, versions, " | ".join([source, *kept])


def _refreshed_prices(cls: InstanceClass | None, engines: tuple[str, ...], name: str,
                      prices: Mapping[str, Mapping[str, Mapping[str, Decimal]]] | None, region: str,
                      today: str) -> dict[str, Price]:  # fmt: skip
    """Return a class's prices: those of the refreshed engines from the Pricing API, the others kept."""
    kept = dict(cls.prices) if cls is not None else {}
    if prices is None:
        return kept
    for engine in engines:
        for deployment in DEPLOYMENTS[engine]:
            kept.pop(deployment, None)
        for deployment, usd in prices.get(engine, {}).get(name, {}).items():
            kept[deployment] = Price(float(usd), deployment, region, today, "AWS Pricing API")
    return kept


def refresh_rows(current: "Catalog", engines: tuple[str, ...], offers: Mapping[str, Mapping[str, Offer]],
                 specs: Mapping[str, ClassSpecs], prices: Mapping[str, Mapping[str, Mapping[str, Decimal]]] | None,
                 region: str, today: str) -> tuple[list[list[str]], RefreshSummary]:  # fmt: skip
    """Return the refreshed catalogue's rows (in :data:`~planner.catalog.columns.COLUMNS` order) and a summary."""
    summary = RefreshSummary(region, engines, orderable={e: len(offers.get(e, ())) for e in engines})
    offered = set().union(*(set(offers.get(e, {})) for e in engines))
    source = f"{API_SOURCE}, {region}, {today}"
    found: list[tuple[tuple[Any, ...], InstanceClass]] = []
    for name in sorted(set(current.names()) | offered):
        cls = current.find(name)
        spec = specs.get(name) or (specs_from_catalog(cls) if cls is not None else None)
        if spec is None:
            summary.skipped.append(name)
            continue
        memory: dict[str, EngineMemory] = {}
        for engine in RDS_ENGINES:
            previous = cls.memory.get(engine) if cls is not None else None
            if engine not in engines:
                if previous is not None:
                    memory[engine] = previous
            elif name in offers.get(engine, {}):
                if previous is not None and previous.source in KEPT_SOURCES:
                    memory[engine] = previous
                    summary.kept[engine] = summary.kept.get(engine, 0) + 1
                else:
                    memory[engine] = estimate_memory(engine, spec.family, spec.arch, spec.memory_gib, spec.vcpu)
                    summary.estimated[engine] = summary.estimated.get(engine, 0) + 1
            elif previous is not None:
                if cls is not None and cls.retired:
                    memory[engine] = previous
                else:
                    summary.dropped.setdefault(engine, []).append(name)
        if not memory:
            continue
        orderable, versions, orderable_source = _orderability(cls, engines, offers, name, source)
        refreshed = InstanceClass(
            instance_class=name, family=spec.family, generation=spec.generation, size=spec.size, arch=spec.arch,
            burstable=spec.burstable, vcpu=spec.vcpu, memory_gib=float(Decimal(spec.memory_gib)),
            retired=cls is not None and cls.retired, memory=memory, orderable=orderable, versions=versions,
            orderable_source=orderable_source, prices=_refreshed_prices(cls, engines, name, prices, region, today),
        )  # fmt: skip
        found.append(((spec.family, nominal_bytes(spec.memory_gib), spec.vcpu, name), refreshed))
    found.sort(key=lambda item: item[0])
    summary.classes = len(found)
    if prices is not None:
        summary.priced = sum(1 for _, c in found if any(p.source == "AWS Pricing API" for p in c.prices.values()))
    return [row_of(c) for _, c in found], summary


def refresh_catalog(gateway: Any, current: "Catalog", engines: tuple[str, ...], today: str, *, prices: bool = True,
                    progress: Callable[[int], None] | None = None,
                    on_classes: Callable[[int], None] | None = None) -> tuple[str, RefreshSummary]:  # fmt: skip
    """Ask AWS (through ``gateway``) and return the refreshed catalogue's CSV text and a summary.

    ``on_classes(n)`` is called once the number of classes to look up is known, ``progress(k)``
    as each batch of ``k`` has been looked up (a progress bar).
    """
    offers = {engine: offers_from_options(gateway.orderable_options(engine)) for engine in engines}
    empty = [engine for engine, found in offers.items() if not found]
    if empty:  # refreshing from nothing would remove the engine from every class
        raise ExternalError(f"AWS lists no orderable {' or '.join(empty)} instance class in {gateway.region}: nothing "
                            "written (is the engine offered there? choose another --region or --engine)")  # fmt: skip
    names = sorted(set().union(*(set(found) for found in offers.values())))
    by_type = {ec2_type_of(name): name for name in names}
    if on_classes is not None:
        on_classes(len(names))
    specs: dict[str, ClassSpecs] = {}
    for ec2_type, item in gateway.instance_types(list(by_type), progress).items():
        name = by_type.get(ec2_type)
        found = specs_from_ec2(name, item) if name else None
        if name and found:
            specs[name] = found
    price_map = None
    if prices:
        price_map = {e: parse_price_list(gateway.price_list(ENGINE_LABELS[e], gateway.region), e, gateway.region)
                     for e in engines}  # fmt: skip
    rows, summary = refresh_rows(current, engines, offers, specs, price_map, gateway.region, today)
    return catalog_csv(rows), summary


__all__ = [
    "ENGINE_LABELS",
    "ClassSpecs",
    "RefreshSummary",
    "ec2_type_of",
    "gib_text",
    "Offer",
    "offers_from_options",
    "orderable_classes",
    "parse_price_list",
    "refresh_catalog",
    "refresh_rows",
    "specs_from_ec2",
    "split_class_name",
]
