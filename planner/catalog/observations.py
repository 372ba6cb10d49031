"""Users' own ``SHOW max_connections`` readings over the catalogue.

Each reading, on an instance that uses the default parameter group, pins that class and engine's
DBInstanceClassMemory (source ``observed``): the middle of the interval it allows, or, at the cap
(5000), only a lower bound. Several readings of one class: the lowest (the safe one) wins. A reading
may also add an engine to a class the catalogue lists without it: the instance it was read on is
proof that the class runs that engine.
"""

from __future__ import annotations

import dataclasses
import difflib

from planner.catalog.classes import close_classes, did_you_mean
from planner.catalog.csvfile import CsvTable, Problems, parse_int
from planner.catalog.memory import DBICM_DIVISOR, MAX_CONNECTIONS_CAP, dbicm_from_observation
from planner.model import RDS_ENGINES, SOURCE_OBSERVED, EngineMemory, InstanceClass

OBSERVATION_COLUMNS: tuple[str, ...] = ("engine", "instance_class", "max_connections")


def apply_observations(classes: dict[str, InstanceClass], table: CsvTable) -> dict[str, InstanceClass]:
    d = table.data
    problems = Problems(table)
    names = sorted(classes)
    best: dict[tuple[str, str], tuple[int, int, str]] = {}  # (class, engine) -> (n, row, source)
    blank = table.blank
    for i in range(table.nrows):
        if i in blank:
            continue
        bad = problems.count
        engine, name, text = d["engine"][i], d["instance_class"][i], d["max_connections"][i]
        if engine not in RDS_ENGINES:
            close = difflib.get_close_matches(engine.lower(), RDS_ENGINES, n=1, cutoff=0.5)
            hint = did_you_mean(close) if close else "observations are for postgres or aurora-postgresql"
            message = f"{engine!r} is not an RDS PostgreSQL engine" if engine else "missing value"
            problems.add(i, "engine", message, hint)
        if name not in classes:
            close = close_classes(name, names) if name else ()
            hint = did_you_mean(close) if close else "write a class of the catalogue, e.g. db.m6g.large"
            problems.add(i, "instance_class", f"unknown instance class {name!r}" if name else "missing value", hint)
        n = parse_int(text)
        if n is None:
            problems.add(i, "max_connections", f"{text!r} is not a whole number" if text else "missing value",
                         "write the value SHOW max_connections printed, e.g. 1705")  # fmt: skip
        elif n < 1:
            problems.add(i, "max_connections", f"{n} connections", "a default max_connections is at least 1")
        elif n > MAX_CONNECTIONS_CAP:
            problems.add(i, "max_connections", f"{n} is above the default formula's cap of {MAX_CONNECTIONS_CAP}",
                         "this instance uses a custom max_connections: "
                         "set parameters.max_connections in the topology instead")  # fmt: skip
        if problems.count > bad:
            continue
        key = (name, engine)
        if key not in best or n < best[key][0]:  # several readings: keep the lowest (the safe one)
            best[key] = (n, i, d["source"][i])  # type: ignore[assignment]
    problems.raise_if_any()

    result = dict(classes)
    for (name, engine), (n, row, source) in best.items():
        cls = result[name]
        note = f"user observation ({table.label}:{table.line(row)})"
        if source:
            note += f": {source}"
        if n < MAX_CONNECTIONS_CAP:
            memory = EngineMemory(dbicm_from_observation(n), SOURCE_OBSERVED, note)
        else:
            previous = cls.memory.get(engine)
            floor = MAX_CONNECTIONS_CAP * DBICM_DIVISOR
            dbicm = max(previous.dbicm_bytes if previous else 0, floor)
            note += f"; default capped at {MAX_CONNECTIONS_CAP}: DBInstanceClassMemory is a lower bound"
            if previous is not None and previous.dbicm_bytes > floor:
                kept = f"{previous.source}: {previous.note}" if previous.note else previous.source
                note += f" (value kept from {kept})"
            memory = EngineMemory(dbicm, SOURCE_OBSERVED, note)
        result[name] = dataclasses.replace(cls, memory={**cls.memory, engine: memory})
    return result



__all__ = ["OBSERVATION_COLUMNS", "apply_observations"]
