"""The catalogue CSV format: its columns, how a class becomes a row, and how the newer cells read.

One row per instance class. Besides the class's specs and its DBInstanceClassMemory per engine
(value, source, note; the error range a real instance may show: for estimates the leave-one-out
band of the classes nearest to it, for a class read differently on two engine versions how far the
others are above the lowest, kept; and the readings it rests on, each with its engine version), a row says where the
class can be ordered (per deployment: ``true``, ``false`` or ``unknown``; the engine versions it runs,
as first minors per major) and its on-demand prices per deployment, with region, date and source.

:func:`row_of` is the one writer of a row and :func:`catalog_csv` the one writer of the file: the
build script and ``planner catalog refresh`` both use them, and :mod:`planner.catalog` reads it back.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable

from planner.catalog.estimate import GIB, platform_of
from planner.model import DEPLOYMENTS, EngineMemory, InstanceClass, Price, VersionSupport

ENGINE_COLUMNS: dict[str, str] = {"postgres": "dbicm_postgres", "aurora-postgresql": "dbicm_aurora_postgresql"}
# deployment -> column of its orderable flag; both Aurora storage configurations read one flag
ORDERABLE_COLUMNS: dict[str, str] = {
    "single-az": "orderable_single_az",
    "multi-az": "orderable_multi_az",
    "multi-az-cluster": "orderable_multi_az_cluster",
    "aurora-standard": "orderable_aurora",
    "aurora-io-optimized": "orderable_aurora",
}
VERSION_COLUMNS: dict[str, str] = {"postgres": "postgres_versions", "aurora-postgresql": "aurora_postgresql_versions"}
PRICE_COLUMNS: dict[str, str] = {d: "usd_hour_" + d.replace("-", "_") for names in DEPLOYMENTS.values() for d in names}

COLUMNS: tuple[str, ...] = (
    "instance_class", "family", "generation", "size", "arch", "burstable", "vcpu", "memory_gib", "retired",
    "dbicm_postgres", "dbicm_postgres_source", "dbicm_postgres_note", "dbicm_postgres_error",
    "dbicm_postgres_readings",
    "dbicm_aurora_postgresql", "dbicm_aurora_postgresql_source", "dbicm_aurora_postgresql_note",
    "dbicm_aurora_postgresql_error", "dbicm_aurora_postgresql_readings",
    "orderable_single_az", "orderable_multi_az", "orderable_multi_az_cluster", "orderable_aurora",
    "postgres_versions", "aurora_postgresql_versions", "orderable_source",
    *PRICE_COLUMNS.values(), "price_region", "price_date", "price_source",
    "aurora_price_region", "aurora_price_date", "aurora_price_source",
)  # fmt: skip
# Where each engine's prices come from: a row may hold prices read at different times.
PROVENANCE_COLUMNS: dict[str, tuple[str, str, str]] = {
    "postgres": ("price_region", "price_date", "price_source"),
    "aurora-postgresql": ("aurora_price_region", "aurora_price_date", "aurora_price_source"),
}
REQUIRED_COLUMNS: tuple[str, ...] = (
    "instance_class", "family", "generation", "size", "arch", "burstable", "vcpu", "memory_gib",
    "dbicm_postgres", "dbicm_postgres_source", "dbicm_aurora_postgresql", "dbicm_aurora_postgresql_source",
)  # fmt: skip
# Columns a user catalogue may leave out take "" (unknown), except retired. ``price_usd_hour`` is the
# older format's RDS for PostgreSQL Single-AZ price, still read.
LEGACY_COLUMNS: dict[str, str] = {"price_usd_hour": ""}
OPTIONAL_COLUMNS: dict[str, str] = {
    **{c: "" for c in COLUMNS if c not in REQUIRED_COLUMNS}, "retired": "false", **LEGACY_COLUMNS,
}
FLAGS: dict[str, bool | None] = {"true": True, "false": False, "unknown": None, "": None}
_VERSION_ITEM = re.compile(r"(\d+)\.(\d+)")


@dataclass(frozen=True)
class ClassSpecs:
    """What a catalogue row says about a class besides its memory, deployments and prices."""

    family: str
    generation: int
    size: str
    arch: str
    burstable: bool
    vcpu: int
    memory_gib: str  # exact decimal text, e.g. "15.25"

    @property
    def nominal(self) -> int:
        """Return the nominal memory in bytes."""
        return int(Fraction(self.memory_gib) * GIB)

    @property
    def platform(self) -> str:
        """Return the platform whose estimate rule applies (xen, nitro-x86, graviton)."""
        return platform_of(self.family, self.arch)


@functools.lru_cache(maxsize=256)  # a few dozen distinct cells over ~300 rows
def parse_versions(text: str) -> VersionSupport | None:
    """Read a versions cell ("13.4;14.5;15.0", "<13", ""); None if it is not in that form."""
    text = text.strip()
    if not text:
        return VersionSupport()
    if text.startswith("<"):
        return VersionSupport(below=int(text[1:])) if text[1:].isdigit() else None
    minimums = []
    for item in text.split(";"):
        match = _VERSION_ITEM.fullmatch(item.strip())
        if match is None:
            return None
        minimums.append((int(match[1]), int(match[2])))
    return VersionSupport(tuple(sorted(minimums)))


def parse_error_range(text: str) -> tuple[float, float] | None | str:
    """Read an error cell ("-1.68/+0.81", percent); None if empty; "bad" if malformed."""
    text = text.strip()
    if not text:
        return None
    parts = text.split("/")
    try:
        low, high = (round(float(p) / 100, 6) for p in parts)
    except ValueError:
        return "bad"
    if not -1 < low <= high:
        return "bad"
    return low, high


def error_text(error_range: tuple[float, float] | None) -> str:
    """Write an error range as the catalogue does: "-1.68/+0.81" (percent)."""
    if error_range is None:
        return ""
    low, high = error_range
    return f"{low * 100:+.2f}/{high * 100:+.2f}"


def _flag(value: bool | None) -> str:
    return {True: "true", False: "false", None: "unknown"}[value]


def _usd(value: float) -> str:
    return format(value, ".10f").rstrip("0").rstrip(".")


def row_of(cls: InstanceClass) -> list[str]:
    """Return the catalogue row of a class, in :data:`COLUMNS` order."""
    row = [cls.instance_class, cls.family, str(cls.generation), cls.size, cls.arch, "true" if cls.burstable else "false",
           str(cls.vcpu), _number(cls.memory_gib), "true" if cls.retired else "false"]  # fmt: skip
    for engine in ENGINE_COLUMNS:
        memory: EngineMemory | None = cls.memory.get(engine)
        row += ["", "", "", "", ""] if memory is None else [
            str(memory.dbicm_bytes), memory.source, memory.note, error_text(memory.error_range), memory.readings]
    # one cell per orderable column: the Aurora storage configurations share theirs
    flags = {column: cls.orderable.get(deployment) for deployment, column in ORDERABLE_COLUMNS.items()}
    row += [_flag(flags[column]) if cls.orderable else "" for column in dict.fromkeys(ORDERABLE_COLUMNS.values())]
    row += [cls.versions[e].text() if e in cls.versions else "" for e in VERSION_COLUMNS]
    row.append(cls.orderable_source)
    row += [_usd(cls.prices[d].usd_per_hour) if d in cls.prices else "" for d in PRICE_COLUMNS]
    for engine in PROVENANCE_COLUMNS:
        first: Price | None = next((cls.prices[d] for d in DEPLOYMENTS[engine] if d in cls.prices), None)
        row += [first.region, first.date, first.source] if first else ["", "", ""]
    return row


def _number(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def catalog_csv(rows: Iterable[list[str]]) -> str:
    """Return catalogue CSV text: the :data:`COLUMNS` header, then ``rows``, ``\\n`` line ends.

    The one writer of the format: the build script and ``catalog refresh`` both use it.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return out.getvalue()


__all__ = [
    "COLUMNS",
    "ClassSpecs",
    "ENGINE_COLUMNS",
    "OPTIONAL_COLUMNS",
    "ORDERABLE_COLUMNS",
    "PRICE_COLUMNS",
    "PROVENANCE_COLUMNS",
    "REQUIRED_COLUMNS",
    "VERSION_COLUMNS",
    "catalog_csv",
    "error_text",
    "parse_error_range",
    "parse_versions",
    "row_of",
]
