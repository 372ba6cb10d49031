"""The instance-class catalogue: RDS DB instance classes and their DBInstanceClassMemory per engine.

The packaged catalogue
(``planner/data/instance_classes.csv``, built by ``scripts/build_catalog.py``) is the default;
``load_catalog(path)`` reads a user's catalogue instead and validates every cell
(:mod:`planner.catalog.csvfile`); ``observations=`` overlays the user's own readings
(:mod:`planner.catalog.observations`).
"""

from __future__ import annotations

from pathlib import Path

from planner.catalog.classes import Catalog, CatalogLookupError
from planner.catalog.columns import (
    ENGINE_COLUMNS,
    FLAGS,
    OPTIONAL_COLUMNS,
    ORDERABLE_COLUMNS,
    PRICE_COLUMNS,
    PROVENANCE_COLUMNS,
    REQUIRED_COLUMNS,
    VERSION_COLUMNS,
    parse_error_range,
    parse_versions,
)
from planner.catalog.csvfile import CsvTable, Problems, parse_bool, parse_float, parse_int, read_table
from planner.catalog.memory import DBICM_DIVISOR, MAX_CONNECTIONS_CAP, dbicm_from_observation, default_max_connections
from planner.catalog.observations import OBSERVATION_COLUMNS, apply_observations
from planner.errors import InputError, Problem
from planner.model import (
    SOURCE_AWS_DOC,
    SOURCE_ESTIMATED,
    SOURCE_OBSERVED,
    EngineMemory,
    InstanceClass,
    Price,
    VersionSupport,
    engine_of_deployment,
)

DBICM_SOURCES: tuple[str, ...] = (SOURCE_OBSERVED, SOURCE_AWS_DOC, SOURCE_ESTIMATED)


def convert_catalog(table: CsvTable) -> dict[str, InstanceClass]:
    d = table.data
    problems = Problems(table)
    classes: dict[str, InstanceClass] = {}
    first_line: dict[str, int] = {}
    engine_cols = [(e, d[c], d[c + "_source"], d[c + "_note"], d[c + "_error"], d[c + "_readings"], c)
                   for e, c in ENGINE_COLUMNS.items()]  # fmt: skip
    blank = table.blank
    for i in range(table.nrows):
        if i in blank:
            continue
        bad = problems.count
        name = d["instance_class"][i]
        if not name:
            problems.add(i, "instance_class", "missing value", "every row names a class, e.g. db.m6g.large")
        elif not name.startswith("db.") or " " in name:
            problems.add(i, "instance_class", f"{name!r} is not an RDS instance class name",
                         "class names look like db.m6g.large")  # fmt: skip
        elif name in first_line:
            problems.add(i, "instance_class", f"duplicate class {name} (first on line {table.line(first_line[name])})",
                         "keep one row per class")  # fmt: skip
        generation = parse_int(d["generation"][i])
        if generation is None or generation < 0:
            problems.add(i, "generation", f"{d['generation'][i]!r} is not a whole number",
                         "write the generation, e.g. 6")  # fmt: skip
        burstable = parse_bool(d["burstable"][i])
        if burstable is None:
            problems.add(i, "burstable", f"{d['burstable'][i]!r} is not true or false", "write true or false")
        retired = parse_bool(d["retired"][i] or "false")
        if retired is None:
            problems.add(i, "retired", f"{d['retired'][i]!r} is not true or false", "write true or false")
        vcpu = parse_int(d["vcpu"][i])
        if vcpu is None:
            problems.add(i, "vcpu", f"{d['vcpu'][i]!r} is not a whole number", "write the vCPU count, e.g. 4")
        elif vcpu < 1:
            problems.add(i, "vcpu", f"{vcpu} vCPUs", "a class has at least 1 vCPU")
        memory = parse_float(d["memory_gib"][i])
        if memory is None:
            problems.add(i, "memory_gib", f"{d['memory_gib'][i]!r} is not a number",
                         "write the memory in GiB, e.g. 16 or 15.25")  # fmt: skip
        elif memory <= 0:
            problems.add(i, "memory_gib", f"{'negative' if memory < 0 else 'zero'} memory ({d['memory_gib'][i]})",
                         "write the nominal memory in GiB, a positive number")  # fmt: skip
        prices = _prices(d, i, problems)
        orderable, versions = _orderability(d, i, problems)
        engines: dict[str, EngineMemory] = {}
        for engine, values, sources, notes, errors, read, column in engine_cols:
            text, source = values[i], sources[i]
            if not text:
                if source:
                    problems.add(i, column + "_source", f"{source!r} without a {column} value",
                                 f"fill {column} or empty {column}_source")  # fmt: skip
                continue
            dbicm = parse_int(text)
            if dbicm is None or dbicm < 0:
                problems.add(i, column, f"{text!r} is not a whole number of bytes",
                             "write DBInstanceClassMemory in bytes, "
                             f"or leave it empty if the class does not run {engine}")  # fmt: skip
            if source not in DBICM_SOURCES:
                problems.add(i, column + "_source", f"{source!r} is not a source" if source else "missing value",
                             "write " + ", ".join(DBICM_SOURCES))  # fmt: skip
            error = parse_error_range(errors[i])
            if error == "bad":
                problems.add(i, column + "_error", f"{errors[i]!r} is not an error range",
                             "write the low and high error in percent, e.g. -1.5/+0.8, or leave it empty")  # fmt: skip
            if dbicm is not None and dbicm >= 0 and source in DBICM_SOURCES and error != "bad":
                engines[engine] = EngineMemory(dbicm, source, notes[i], error, read[i])  # type: ignore[arg-type]
        if name and name not in first_line:
            first_line[name] = i
        if problems.count > bad:
            continue
        classes[name] = InstanceClass(
            instance_class=name,
            family=d["family"][i],
            generation=generation,  # type: ignore[arg-type]
            size=d["size"][i],
            arch=d["arch"][i],
            burstable=burstable,  # type: ignore[arg-type]
            vcpu=vcpu,  # type: ignore[arg-type]
            memory_gib=memory,  # type: ignore[arg-type]
            retired=retired,  # type: ignore[arg-type]
            memory=engines,
            orderable=orderable,
            versions=versions,
            orderable_source=d["orderable_source"][i],
            prices=prices,
        )
    problems.raise_if_any()
    if not classes:
        raise InputError(Problem(table.label, "", "the catalogue has no classes",
                                 hint="add one row per class under the header"))  # fmt: skip
    return classes


def _prices(d: dict[str, list[str]], i: int, problems: "Problems") -> dict[str, Price]:
    """Read a row's price cells: USD per hour per deployment, with one region, date and source."""
    cells = {deployment: d[column][i] for deployment, column in PRICE_COLUMNS.items()}
    if d["price_usd_hour"][i] and not cells["single-az"]:
        cells["single-az"] = d["price_usd_hour"][i]  # the older format's column
    prices: dict[str, Price] = {}
    provenance: dict[str, tuple[str, ...]] = {}
    for deployment, text in cells.items():
        if not text:
            continue
        value = parse_float(text)
        column = PRICE_COLUMNS[deployment] if d[PRICE_COLUMNS[deployment]][i] else "price_usd_hour"
        if value is None or value <= 0:
            problems.add(i, column, f"{text!r} is not a price", "write USD per hour, e.g. 0.178, or leave it empty")
            continue
        engine = engine_of_deployment(deployment)
        if engine not in provenance:
            provenance[engine] = tuple(d[c][i] for c in PROVENANCE_COLUMNS[engine])
        region, date, source = provenance[engine]
        prices[deployment] = Price(value, deployment, region or "region not given", date or "undated",
                                   source or "source not given")  # fmt: skip
    return prices


def _orderability(d: dict[str, list[str]], i: int, problems: "Problems") -> tuple[dict[str, bool | None], dict[str, VersionSupport]]:
    """Read where a row's class can be ordered (per deployment) and the engine versions it runs."""
    orderable: dict[str, bool | None] = {}
    if any(d[column][i] for column in set(ORDERABLE_COLUMNS.values())):
        for deployment, column in ORDERABLE_COLUMNS.items():
            text = d[column][i].lower()
            if text not in FLAGS:
                problems.add(i, column, f"{d[column][i]!r} is not true, false or unknown", "write true, false or unknown")
                continue
            orderable[deployment] = FLAGS[text]
    versions: dict[str, VersionSupport] = {}
    for engine, column in VERSION_COLUMNS.items():
        support = parse_versions(d[column][i])
        if support is None:
            problems.add(i, column, f"{d[column][i]!r} is not a list of versions",
                         'write first minors per major, e.g. "13.4;14.5;15.0", or "<13", or leave it empty')  # fmt: skip
        elif support != VersionSupport():
            versions[engine] = support
    return orderable, versions



def load_catalog(path: str | Path | None = None, observations: str | Path | None = None) -> Catalog:
    """Read a catalogue CSV (None: the packaged one) and overlay the user's observations, if any.

    Raises :class:`InputError` naming the file, line, column and fix for anything invalid.
    An observation may also add an engine to a class the catalogue lists without it: the
    instance it was read on is proof that the class runs that engine.
    """
    table = read_table(path, "catalogue", REQUIRED_COLUMNS, OPTIONAL_COLUMNS)
    classes = convert_catalog(table)
    if observations is not None:
        obs = read_table(observations, "observations", OBSERVATION_COLUMNS, {"source": ""})
        classes = apply_observations(classes, obs)
    return Catalog(classes, table.label)



__all__ = [
    "DBICM_DIVISOR",
    "MAX_CONNECTIONS_CAP",
    "Catalog",
    "CatalogLookupError",
    "dbicm_from_observation",
    "default_max_connections",
    "load_catalog",
]
