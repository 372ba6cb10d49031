"""The reference data the catalogue is built from: classes, readings, where classes can run, prices.

Reads the files of a reference directory (``rds_instance_classes_reference.csv``,
``max_connections_calibration.csv``, ``rds_orderable_classes.csv``, the newest ``rds_prices_*.csv``)
into :class:`RefClass` objects and :class:`~planner.catalog.calibration.Reading` objects, checking
that they agree with each other. :mod:`planner.catalog.build` turns them into the catalogue.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from planner.catalog.calibration import Reading
from planner.catalog.columns import ClassSpecs
from planner.model import Price, VersionSupport

REFERENCE_CSV = "rds_instance_classes_reference.csv"
CALIBRATION_CSV = "max_connections_calibration.csv"
ORDERABLE_CSV = "rds_orderable_classes.csv"
PRICES_GLOB = "rds_prices_*.csv"

ENGINES = ("postgres", "aurora-postgresql")
READING_ENGINES = ("postgres", "aurora-postgresql", "mysql")
# Retired classes that RDS for PostgreSQL users still run; the reference's engines column no
# longer lists postgres for them.
RETIRED_FAMILIES = frozenset({"t2", "m3", "m4", "r3", "r4"})
SKIP_CLASSES = frozenset({"db.serverless"})
PRICE_DEPLOYMENTS = {  # the price list's deployment -> the planner's
    "single-az": "single-az", "multi-az-instance": "multi-az", "multi-az-cluster": "multi-az-cluster",
    "aurora-standard": "aurora-standard", "aurora-io-optimized": "aurora-io-optimized",
}  # fmt: skip
PRICE_SOURCES = {"postgres": "AWS price list feed rds-postgresql-ondemand.json",
                 "aurora-postgresql": "AWS price list feed rds-aurora-ondemand.json"}  # fmt: skip
FLAG_TEXT = {"true": True, "false": False, "unknown": None}



class BuildError(Exception):
    """Reference data the script cannot use (exit 2)."""



def read_csv(path: Path) -> list[tuple[int, dict[str, str]]]:
    """Return (line, row) pairs; line is the CSV line where the row starts."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BuildError(f"{path}: cannot read: {exc.strerror or exc}") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = []
    start = 2
    for row in reader:
        rows.append((start, row))
        start = reader.line_num + 1
    return rows


@dataclass
class RefClass:
    """A class of the reference list, as the catalogue will describe it."""

    instance_class: str
    specs: ClassSpecs
    engines: set[str]
    retired: bool
    orderable: dict[str, bool | None] = field(default_factory=dict)
    versions: dict[str, VersionSupport] = field(default_factory=dict)
    orderable_source: str = ""
    prices: dict[str, Price] = field(default_factory=dict)


def load_classes(reference_dir: Path) -> dict[str, RefClass]:
    """Return the classes of the reference list that run an RDS PostgreSQL engine (or are retired)."""
    classes: dict[str, RefClass] = {}
    for line, row in read_csv(reference_dir / REFERENCE_CSV):
        name = row["instance_class"]
        engines = {e for e in row["engines"].split(";") if e}
        retired = row["family"] in RETIRED_FAMILIES
        if name in SKIP_CLASSES or not (retired or engines & set(ENGINES)):
            continue
        if not row["vcpu"] or not row["memory_gib"]:
            continue  # db.x2m.*: no specs
        if name in classes:
            raise BuildError(f"{REFERENCE_CSV}:{line}: duplicate class {name}")
        if retired:
            engines |= {"postgres"}
        specs = ClassSpecs(row["family"], int(row["generation"]), row["size"], row["arch"], row["burstable"] == "true",
                           int(row["vcpu"]), row["memory_gib"])  # fmt: skip
        classes[name] = RefClass(name, specs, engines & set(ENGINES), retired)
    return classes


def load_readings(reference_dir: Path, classes: dict[str, RefClass], extra: tuple[Path, ...] = ()) -> list[Reading]:
    """Return every usable reading of the calibration files (serverless and unknown classes left out).

    ``extra``: more files of the same columns (the repository's ``data/calibration_extra.csv``).
    """
    readings: list[Reading] = []
    for path in (reference_dir / CALIBRATION_CSV, *extra):
        for line, row in read_csv(path):
            engine, name = row["engine"], row["instance_class"]
            if engine not in READING_ENGINES or name in SKIP_CLASSES:
                continue
            cls = classes.get(name)
            if cls is None:
                if engine == "mysql":
                    continue  # a MySQL-only class
                raise BuildError(f"{path.name}:{line}: {name} is not a class of the catalogue")
            spec = cls.specs
            if Fraction(row["nominal_memory_gib"]) != Fraction(spec.memory_gib) or int(row["vcpu"]) != spec.vcpu:
                raise BuildError(f"{path.name}:{line}: memory/vCPU of {name} differ from {REFERENCE_CSV}")
            target = "postgres" if engine == "mysql" else engine  # RDS for MySQL pins the RDS memory
            if target not in cls.engines:
                raise BuildError(f"{path.name}:{line}: {name} is not a {target} class of the catalogue")
            n = int(row["max_connections"])
            if n < 1:
                raise BuildError(f"{path.name}:{line}: max_connections {n} below 1")
            confidence = row["confidence"].split(" ")[0].strip('"') or "high"
            context = row.get("context", "")
            readings.append(Reading(target, name, spec.nominal, spec.vcpu, spec.platform, n,
                                    "mysql" if engine == "mysql" else "postgres", confidence, row["source_kind"],
                                    row["source_url"], f"{path.name}:{line}", context,
                                    row.get("engine_version") or version_of(context)))  # fmt: skip
    return readings


_READ_ON = re.compile(r"PostgreSQL (\d+(?:\.\d+)?(?:-\d+)?)\b|\((all versions)\)")


def version_of(context: str) -> str:
    """Return the engine version a reading's context names ("RDS for PostgreSQL 16.3" -> "16.3"), else ""."""
    found = _READ_ON.search(context)
    if found is None:
        return ""
    return found.group(1) or found.group(2)


def version_support(text: str) -> VersionSupport:
    """Turn an AWS docs cell ("All PostgreSQL 15 versions, PostgreSQL 14.5 and higher 14 versions, …") into first minors."""
    text = text.strip()
    below = re.search(r"[Ll]ower than PostgreSQL (\d+)", text)
    if below:
        return VersionSupport(below=int(below.group(1)))
    only = re.search(r"only for Aurora PostgreSQL ((?:\d+(?:,? and |, )?)+) versions", text)
    if only:
        return VersionSupport(below=max(int(n) for n in re.findall(r"\d+", only.group(1))) + 1)
    text = re.sub(r"higher \d+ versions", "higher", text)  # "14.5 and higher 14 versions"
    minimums: dict[int, int] = {}

    def note(major: int, minor: int) -> None:
        minimums[major] = min(minor, minimums.get(major, minor))

    for group in re.findall(r"[Aa]ll PostgreSQL ((?:\d+(?:,? and |, | )?)+)versions", text):
        for major in re.findall(r"\d+", group):
            note(int(major), 0)
    for major, minor, third in re.findall(r"\b(\d+)\.(\d+)(?:\.(\d+))?", text):
        if int(major) < 10:  # 9.6.22: the minor is the third part
            note(int(major), int(third or 0))
        else:
            note(int(major), int(minor))
    return VersionSupport(tuple(sorted(minimums.items())))


def load_orderable(reference_dir: Path, classes: dict[str, RefClass]) -> None:
    """Fill each class's deployments, engine versions and their source from the orderable list."""
    for line, row in read_csv(reference_dir / ORDERABLE_CSV):
        cls = classes.get(row["instance_class"])
        engine = row["engine"]
        if cls is None or engine not in cls.engines:
            continue
        flags = {}
        for column in ("single_instance", "multi_az_instance", "multi_az_cluster"):
            if row[column] not in FLAG_TEXT:
                raise BuildError(f"{ORDERABLE_CSV}:{line}: {column} {row[column]!r} is not true, false or unknown")
            flags[column] = FLAG_TEXT[row[column]]
        if engine == "postgres":
            cls.orderable.update({"single-az": flags["single_instance"], "multi-az": flags["multi_az_instance"],
                                  "multi-az-cluster": flags["multi_az_cluster"]})  # fmt: skip
        else:
            cls.orderable.update({"aurora-standard": flags["single_instance"], "aurora-io-optimized": flags["single_instance"]})
        support = version_support(row["min_engine_version"]) if row["min_engine_version"] != "unknown" else VersionSupport()
        if support != VersionSupport():
            cls.versions[engine] = support
        sources = [s.strip() for s in row["source_url"].split(" | ")]
        cls.orderable_source = " | ".join(dict.fromkeys(cls.orderable_source.split(" | ") + sources if cls.orderable_source else sources))
    for cls in classes.values():  # a class the list does not mention: nothing known
        for engine, deployments in (("postgres", ("single-az", "multi-az", "multi-az-cluster")),
                                    ("aurora-postgresql", ("aurora-standard", "aurora-io-optimized"))):  # fmt: skip
            if engine in cls.engines and cls.orderable:
                for deployment in deployments:
                    cls.orderable.setdefault(deployment, None)


def load_prices(reference_dir: Path, classes: dict[str, RefClass]) -> str:
    """Fill each class's prices from the newest price list; return its file name."""
    lists = sorted(reference_dir.glob(PRICES_GLOB))
    if not lists:
        raise BuildError(f"{reference_dir}: no {PRICES_GLOB}")
    path = lists[-1]
    for line, row in read_csv(path):
        cls = classes.get(row["instance_class"])
        deployment = PRICE_DEPLOYMENTS.get(row["deployment"])
        if deployment is None:
            raise BuildError(f"{path.name}:{line}: unknown deployment {row['deployment']!r}")
        if cls is None:
            continue
        try:
            usd = float(row["usd_per_hour"])
        except ValueError:
            raise BuildError(f"{path.name}:{line}: price {row['usd_per_hour']!r} is not a number") from None
        if usd <= 0:
            raise BuildError(f"{path.name}:{line}: price {usd} is not positive")
        commit = re.search(r"github\.com/([^/]+/[^/]+)/blob/([0-9a-f]{8})", row["source_url"])
        source = PRICE_SOURCES[row["engine"]] + (f" (github.com/{commit.group(1)}@{commit.group(2)})" if commit else "")
        cls.prices[deployment] = Price(usd, deployment, row["region"], row["price_date"], source)
    return path.name


__all__ = [
    "BuildError",
    "RefClass",
    "load_classes",
    "load_orderable",
    "load_prices",
    "load_readings",
    "read_csv",
    "version_of",
    "version_support",
]
