"""Rebuild the catalogue from what AWS says: orderable classes, EC2 specs, on-demand prices.

Pure: the functions here map API shapes (``DescribeOrderableDBInstanceOptions``,
``DescribeInstanceTypes``, Pricing API price lists) to catalogue rows; :func:`refresh_catalog`
takes a gateway (:class:`planner.sources.aws.AwsGateway`, or a fake in tests) for the calls.

What a refresh keeps and what it changes, per engine it refreshes:

- a class AWS offers for the engine keeps its observed or published (``aws-doc``)
  DBInstanceClassMemory from the current catalogue; any other gets the fitted rule's estimate
  (:mod:`planner.estimate`) from the EC2 type's memory and vCPUs;
- a class the catalogue has but AWS no longer offers for the engine loses that engine, unless the
  class is retired (t2, m3, m4, r3, r4: people still run them);
- the price columns hold RDS for PostgreSQL's Single-AZ on-demand price (what the rest of the
  planner reads them as); Multi-AZ and Aurora prices are named in ``price_source``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from .catalog import catalog_csv
from .errors import ExternalError
from .estimate import estimate_dbicm, nominal_bytes
from .model import RDS_ENGINES, SOURCE_AWS_DOC, SOURCE_OBSERVED, EngineMemory, InstanceClass

if TYPE_CHECKING:
    from .catalog import Catalog

ENGINE_LABELS: dict[str, str] = {"postgres": "PostgreSQL", "aurora-postgresql": "Aurora PostgreSQL"}
SKIP_CLASSES = frozenset({"db.serverless"})  # Aurora Serverless v2: its memory follows the ACU range
DEPLOYMENTS = ("Single-AZ", "Multi-AZ")
HOURLY_UNITS = frozenset({"Hrs", "Hours", "hours", "Hour"})
KEPT_SOURCES = (SOURCE_OBSERVED, SOURCE_AWS_DOC)


@dataclass(frozen=True)
class ClassSpecs:
    """What a catalogue row says about a class besides its memory per engine."""

    family: str
    generation: int
    size: str
    arch: str
    burstable: bool
    vcpu: int
    memory_gib: str  # exact decimal text, e.g. "15.25"


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


def orderable_classes(options: Iterable[Mapping[str, Any]]) -> set[str]:
    """Return the instance classes of ``DescribeOrderableDBInstanceOptions`` entries (no db.serverless)."""
    names = {str(o.get("DBInstanceClass", "")) for o in options}
    return {n for n in names if n.startswith("db.") and n not in SKIP_CLASSES}


def parse_price_list(entries: Iterable[Any], database_engine: str, region: str | None = None) -> dict[str, dict[str, Decimal]]:
    """Return {instance class: {"Single-AZ"/"Multi-AZ": USD per hour}} from Pricing API ``PriceList`` entries.

    Each entry is a JSON string (or its parsed dict) with ``product.attributes`` and
    ``terms.OnDemand.*.priceDimensions.*.pricePerUnit.USD``. Aurora I/O-Optimized entries are left
    out (a different, dearer price for the same class); where several prices remain, the lowest wins.
    """
    prices: dict[str, dict[str, Decimal]] = {}
    for raw in entries:
        item = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
        attributes = (item.get("product") or {}).get("attributes") or {}
        instance_class = str(attributes.get("instanceType", ""))
        deployment = attributes.get("deploymentOption")
        if attributes.get("databaseEngine") != database_engine or deployment not in DEPLOYMENTS:
            continue
        if not instance_class.startswith("db.") or (region and attributes.get("regionCode", region) != region):
            continue
        if "IO Optimiz" in str(attributes.get("storage", "")) or "IOOptimized" in str(attributes.get("usagetype", "")):
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


def _usd(value: Decimal) -> str:
    return format(value.normalize(), "f")


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


def _price_columns(name: str, prices: Mapping[str, Mapping[str, Mapping[str, Decimal]]], region: str, today: str) -> tuple[str, str]:
    """Return (price_usd_hour, price_source) of a class from the refreshed prices."""
    postgres = prices.get("postgres", {}).get(name, {})
    aurora = prices.get("aurora-postgresql", {}).get(name, {})
    single = postgres.get("Single-AZ")
    notes = []
    if "Multi-AZ" in postgres:
        notes.append(f"Multi-AZ ${_usd(postgres['Multi-AZ'])}/hour")
    if "Single-AZ" in aurora:
        notes.append(f"Aurora PostgreSQL ${_usd(aurora['Single-AZ'])}/hour")
    if single is None and not notes:
        return "", ""
    head = f"AWS Pricing API, {region} on-demand" + (" Single-AZ postgres" if single is not None else "") + f", {today}"
    return ("" if single is None else _usd(single)), "; ".join([head, *notes])


def refresh_rows(current: "Catalog", engines: tuple[str, ...], orderable: Mapping[str, set[str]],
                 specs: Mapping[str, ClassSpecs], prices: Mapping[str, Mapping[str, Mapping[str, Decimal]]] | None,
                 region: str, today: str) -> tuple[list[list[str]], RefreshSummary]:  # fmt: skip
    """Return the refreshed catalogue's rows (in :data:`~planner.catalog.COLUMNS` order) and a summary."""
    summary = RefreshSummary(region, engines, orderable={e: len(orderable.get(e, ())) for e in engines})
    offered = set().union(*(orderable.get(e, set()) for e in engines))
    rows: list[tuple[tuple[Any, ...], list[str]]] = []
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
            elif name in orderable.get(engine, set()):
                if previous is not None and previous.source in KEPT_SOURCES:
                    memory[engine] = previous
                    summary.kept[engine] = summary.kept.get(engine, 0) + 1
                else:
                    dbicm, note = estimate_dbicm(engine, spec.family, spec.arch, spec.memory_gib, spec.vcpu)
                    memory[engine] = EngineMemory(dbicm, "estimated", note)
                    summary.estimated[engine] = summary.estimated.get(engine, 0) + 1
            elif previous is not None:
                if cls is not None and cls.retired:
                    memory[engine] = previous
                else:
                    summary.dropped.setdefault(engine, []).append(name)
        if not memory:
            continue
        price, price_source = _kept_price(cls)
        # The price column is RDS for PostgreSQL's: replace it where postgres prices were fetched for
        # the class; elsewhere keep it, and add the Aurora price to its source.
        if prices is not None and name in orderable.get("postgres", set()):
            price, price_source = _price_columns(name, prices, region, today)
        elif prices is not None and name in offered:
            aurora = prices.get("aurora-postgresql", {}).get(name, {}).get("Single-AZ")
            if aurora is not None:
                kept = [part for part in price_source.split("; ") if part and not part.startswith("Aurora PostgreSQL $")]
                price_source = "; ".join(kept + [f"Aurora PostgreSQL ${_usd(aurora)}/hour (AWS Pricing API, {region} "
                                                 f"on-demand, {today})"])  # fmt: skip
        row = [name, spec.family, str(spec.generation), spec.size, spec.arch, "true" if spec.burstable else "false",
               str(spec.vcpu), spec.memory_gib, "true" if cls is not None and cls.retired else "false", price, price_source]
        for engine in RDS_ENGINES:
            m = memory.get(engine)
            row += ["", "", ""] if m is None else [str(m.dbicm_bytes), m.source, m.note]
        rows.append(((spec.family, nominal_bytes(spec.memory_gib), spec.vcpu, name), row))
    rows.sort(key=lambda item: item[0])
    summary.classes = len(rows)
    if prices is not None:
        summary.priced = sum(1 for _, row in rows if "AWS Pricing API" in row[10])
    return [row for _, row in rows], summary


def _kept_price(cls: InstanceClass | None) -> tuple[str, str]:
    if cls is None or cls.price_usd_hour is None:
        return "", cls.price_source if cls is not None else ""
    return _number(cls.price_usd_hour), cls.price_source


def refresh_catalog(gateway: Any, current: "Catalog", engines: tuple[str, ...], today: str, *, prices: bool = True,
                    progress: Callable[[int], None] | None = None,
                    on_classes: Callable[[int], None] | None = None) -> tuple[str, RefreshSummary]:  # fmt: skip
    """Ask AWS (through ``gateway``) and return the refreshed catalogue's CSV text and a summary.

    ``on_classes(n)`` is called once the number of classes to look up is known, ``progress(k)``
    as each batch of ``k`` has been looked up (a progress bar).
    """
    orderable = {engine: orderable_classes(gateway.orderable_options(engine)) for engine in engines}
    empty = [engine for engine, names in orderable.items() if not names]
    if empty:  # refreshing from nothing would remove the engine from every class
        raise ExternalError(f"AWS lists no orderable {' or '.join(empty)} instance class in {gateway.region}: nothing "
                            "written (is the engine offered there? choose another --region or --engine)")  # fmt: skip
    names = sorted(set().union(*orderable.values()))
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
        price_map = {e: parse_price_list(gateway.price_list(ENGINE_LABELS[e], gateway.region), ENGINE_LABELS[e],
                                         gateway.region) for e in engines}  # fmt: skip
    rows, summary = refresh_rows(current, engines, orderable, specs, price_map, gateway.region, today)
    return catalog_csv(rows), summary


__all__ = [
    "ENGINE_LABELS",
    "ClassSpecs",
    "RefreshSummary",
    "ec2_type_of",
    "gib_text",
    "orderable_classes",
    "parse_price_list",
    "refresh_catalog",
    "refresh_rows",
    "specs_from_ec2",
    "split_class_name",
]
