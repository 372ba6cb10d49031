"""The instance-class catalogue: RDS DB instance classes and their DBInstanceClassMemory per engine.

This is the one module where pandas reads a CSV. The packaged catalogue
(``planner/data/instance_classes.csv``, built by ``scripts/build_catalog.py``) is the default;
``load_catalog(path)`` reads a user's catalogue instead and validates every cell, so that a bad
file gives one line per problem (file, line, column, fix) instead of a traceback.

``observations=`` overlays what users read with ``SHOW max_connections`` on real instances that use
the default parameter group: each row pins that class+engine's DBInstanceClassMemory (source
``observed``). The default formula is ``LEAST({DBInstanceClassMemory/9531392},5000)``, so a value
``n < 5000`` pins DBInstanceClassMemory to ``[n × 9531392, (n+1) × 9531392)`` and we store the
middle of that interval; 5000 only says DBInstanceClassMemory is at least ``5000 × 9531392``.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import io
import math
import warnings
from importlib import resources
from pathlib import Path
from typing import Iterator

from planner.catalog.columns import (
    COLUMNS,
    ENGINE_COLUMNS,
    FLAGS,
    OPTIONAL_COLUMNS,
    ORDERABLE_COLUMNS,
    PRICE_COLUMNS,
    PROVENANCE_COLUMNS,
    REQUIRED_COLUMNS,
    VERSION_COLUMNS,
    catalog_csv,
    parse_error_range,
    parse_versions,
)
from planner.errors import InputError, Problem
from planner.model import (
    ENGINES,
    RDS_ENGINES,
    SOURCE_AWS_DOC,
    SOURCE_ESTIMATED,
    SOURCE_OBSERVED,
    EngineMemory,
    InstanceClass,
    Price,
    VersionSupport,
    engine_of_deployment,
)

DBICM_DIVISOR = 9531392  # bytes per connection in LEAST({DBInstanceClassMemory/9531392},5000)
MAX_CONNECTIONS_CAP = 5000

DBICM_SOURCES: tuple[str, ...] = (SOURCE_OBSERVED, SOURCE_AWS_DOC, SOURCE_ESTIMATED)
OBSERVATION_COLUMNS: tuple[str, ...] = ("engine", "instance_class", "max_connections")
MAX_PROBLEMS = 20  # report at most this many problems of one file

PACKAGED_CATALOG = ("data", "instance_classes.csv")


def dbicm_from_observation(max_connections: int) -> int:
    """Return the DBInstanceClassMemory we store for an observed default ``max_connections``.

    Below the cap, the middle of the interval the observation pins, so the default formula gives
    back exactly ``max_connections``. At the cap (5000) the observation is only a lower bound and
    this returns that bound, ``5000 × 9531392``.
    """
    if isinstance(max_connections, bool) or not isinstance(max_connections, int):
        raise TypeError(f"max_connections must be an int, not {type(max_connections).__name__}")
    if not 1 <= max_connections <= MAX_CONNECTIONS_CAP:
        raise ValueError(f"a default max_connections is between 1 and {MAX_CONNECTIONS_CAP}, not {max_connections}")
    if max_connections == MAX_CONNECTIONS_CAP:
        return MAX_CONNECTIONS_CAP * DBICM_DIVISOR
    return max_connections * DBICM_DIVISOR + DBICM_DIVISOR // 2


def default_max_connections(dbicm_bytes: int) -> int:
    """``LEAST({DBInstanceClassMemory/9531392},5000)`` with RDS's truncating division."""
    return min(dbicm_bytes // DBICM_DIVISOR, MAX_CONNECTIONS_CAP)


class CatalogLookupError(InputError):
    """An instance class or engine the catalogue does not know (an :class:`InputError`).

    Carries the pieces so that a caller that knows where the name was written (a topology file and
    line) can re-raise with that location.
    """

    def __init__(self, message: str, *, instance_class: str, engine: str | None = None,
                 suggestions: tuple[str, ...] = (), hint: str | None = None) -> None:  # fmt: skip
        self.instance_class = instance_class
        self.engine = engine
        self.suggestions = suggestions
        self.hint = hint
        self.detail = message
        super().__init__(f"{message} ({hint})" if hint else message)


def _did_you_mean(options: list[str] | tuple[str, ...]) -> str:
    return "did you mean " + " or ".join(options) + "?"


def _close_classes(name: str, names: list[str]) -> tuple[str, ...]:
    """Return the known class names closest to ``name`` (case and a missing ``db.`` forgiven)."""
    norm = name.strip().lower()
    if norm and not norm.startswith("db."):
        norm = "db." + norm
    if norm in names:
        return (norm,)
    return tuple(difflib.get_close_matches(norm, names, n=3, cutoff=0.6))


class Catalog:
    """The instance classes known to the planner, by name."""

    def __init__(self, classes: dict[str, InstanceClass], path: str) -> None:
        self._classes = dict(classes)
        self.path = path
        self._sorted = sorted(self._classes.values(), key=lambda c: (c.memory_gib, c.vcpu, c.instance_class))
        self._names = sorted(self._classes)

    def __len__(self) -> int:
        return len(self._classes)

    def __iter__(self) -> Iterator[InstanceClass]:
        return iter(self._sorted)

    def __contains__(self, instance_class: object) -> bool:
        return instance_class in self._classes

    def __repr__(self) -> str:
        return f"Catalog({len(self)} classes from {self.path!r})"

    def names(self) -> list[str]:
        """Return every class name, sorted alphabetically."""
        return list(self._names)

    def find(self, instance_class: str) -> InstanceClass | None:
        """Return the class called ``instance_class``, or None."""
        return self._classes.get(instance_class)

    def suggest(self, instance_class: str) -> tuple[str, ...]:
        """Return up to three known class names close to ``instance_class``."""
        return _close_classes(instance_class, self._names)

    def get(self, instance_class: str) -> InstanceClass:
        """Return the class called ``instance_class``; :class:`InputError` (did you mean) if unknown."""
        found = self._classes.get(instance_class)
        if found is not None:
            return found
        suggestions = self.suggest(instance_class)
        hint = _did_you_mean(suggestions) if suggestions else (
            "check the spelling (`planner catalog list` shows the classes), or describe the class in your "
            "own catalogue CSV and pass it with --catalog"
        )  # fmt: skip
        raise CatalogLookupError(
            f"unknown instance class {instance_class!r} (catalogue {self.path})",
            instance_class=instance_class,
            suggestions=suggestions,
            hint=hint,
        )

    def classes(self, engine: str | None = None, family: str | None = None) -> list[InstanceClass]:
        """Return the classes, sorted by memory, then vCPU, then name.

        ``engine`` keeps those that support it; ``family`` keeps one family or a comma-separated
        list of families ("m6g,r6g"). Unknown engines and families are an :class:`InputError`.
        """
        result = self._sorted
        if engine is not None:
            _check_engine(engine)
            result = [c for c in result if c.supports(engine)]
        if family is not None:
            wanted = [f.strip() for f in family.split(",") if f.strip()]
            known = sorted({c.family for c in self._sorted})
            problems = []
            for name in wanted:
                if name not in known:
                    close = difflib.get_close_matches(name.lower(), known, n=3, cutoff=0.6)
                    hint = _did_you_mean(close) if close else "families look like m6g, r6g, t4g"
                    problems.append(f"unknown instance family {name!r} in catalogue {self.path} ({hint})")
            if problems:
                raise InputError(problems)
            result = [c for c in result if c.family in wanted]
        return list(result)

    def dbicm(self, instance_class: str, engine: str) -> EngineMemory:
        """Return the DBInstanceClassMemory of ``instance_class`` under ``engine``.

        :class:`InputError` if the class is unknown or does not run ``engine`` (naming the engines
        it does support).
        """
        cls = self.get(instance_class)
        _check_engine(engine)
        memory = cls.memory.get(engine)
        if memory is not None:
            return memory
        supported = [e for e in RDS_ENGINES if cls.supports(e)]
        if engine not in RDS_ENGINES:
            message = f"engine {engine} has no DBInstanceClassMemory: it is not an RDS engine"
            hint = "DBInstanceClassMemory exists on postgres and aurora-postgresql only"
        else:
            message = f"{instance_class} is not available for {engine} (catalogue {self.path})"
            if supported:
                hint = (f"{instance_class} supports {' and '.join(supported)}; "
                        f"change the engine or pick a class that runs {engine}")  # fmt: skip
            else:
                hint = f"{instance_class} supports no RDS PostgreSQL engine; pick a class that runs {engine}"
        raise CatalogLookupError(message, instance_class=instance_class, engine=engine, hint=hint)


def _check_engine(engine: str) -> None:
    if engine in ENGINES:
        return
    close = difflib.get_close_matches(str(engine).lower(), ENGINES, n=2, cutoff=0.5)
    hint = _did_you_mean(close) if close else "engines: " + ", ".join(ENGINES)
    raise CatalogLookupError(f"unknown engine {engine!r}", instance_class="", engine=engine, hint=hint)


# --------------------------------------------------------------------------- reading CSV files


class _Table:
    """A CSV file read with pandas as strings, with exact line numbers on demand."""

    def __init__(self, label: str, text: str, data: dict[str, list[str]], nrows: int, blank: set[int]) -> None:
        self.label = label
        self.text = text
        self.data = data  # column -> stripped values, one per data row
        self.nrows = nrows
        self.blank = blank  # rows that are blank lines
        self._starts: list[int] | None = None

    def line(self, row: int) -> int:
        """Return the line where data row ``row`` (0-based) starts; the header is line 1."""
        if self._starts is None:
            self._starts = [start for start, _ in _records(self.text)]
        index = row + 1
        return self._starts[index] if index < len(self._starts) else index + 1


def _records(text: str) -> list[tuple[int, list[str]]]:
    """Return (start line, fields) of each CSV record, as far as the csv module can parse."""
    result: list[tuple[int, list[str]]] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    try:
        for record in reader:
            result.append((start, record))
            start = reader.line_num + 1
    except csv.Error:
        pass  # a NUL byte or a huge field: line numbers stop here, pandas reports the rest
    return result


def _read_text(source: str | Path | None, kind: str) -> tuple[str, str]:
    """Return (label for messages, text) of a CSV file or of the packaged catalogue."""
    if source is None:
        resource = resources.files("planner").joinpath(*PACKAGED_CATALOG)
        label = str(resource)
        try:
            raw = resource.read_bytes()
        except OSError as exc:
            raise InputError(Problem(label, "", f"cannot read the packaged catalogue: {exc.strerror or exc}",
                                     hint="reinstall the planner")) from None  # fmt: skip
    else:
        label = str(source)
        try:
            raw = Path(source).read_bytes()
        except FileNotFoundError:
            raise InputError(Problem(label, "", f"{kind} file not found", hint="check the path")) from None
        except IsADirectoryError:
            raise InputError(Problem(label, "", f"is a directory, not a {kind} CSV file")) from None
        except OSError as exc:
            raise InputError(Problem(label, "", f"cannot read the {kind} file: {exc.strerror or exc}")) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(Problem(label, "", "not UTF-8 text", line=line, hint="save the file as UTF-8 CSV")) from None
    return label, text


def _read_table(source: str | Path | None, kind: str, required: tuple[str, ...], optional: dict[str, str]) -> _Table:
    """Read a CSV file as strings and check its header; fill optional columns with their default."""
    import pandas as pd  # imported here: only commands that read a catalogue pay for it

    label, text = _read_text(source, kind)
    if not text.strip():
        raise InputError(Problem(label, "", f"the {kind} file is empty",
                                 hint="the first line must be the header: " + ",".join(required)))  # fmt: skip
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            frame = pd.read_csv(
                io.StringIO(text),
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=False,
                index_col=False,
            )
    except pd.errors.ParserError as exc:
        records = _records(text)
        width = len(records[0][1]) if records else 0
        raise _extra_fields(label, text, width, f"not a valid CSV file: {str(exc).strip()}") from None
    except (pd.errors.EmptyDataError, ValueError) as exc:
        raise InputError(Problem(label, "", f"not a valid CSV file: {exc}")) from None

    if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
        raise _extra_fields(label, text, len(frame.columns))
    # The header as written (pandas renames a repeated "vcpu" to "vcpu.1").
    header = _records(text.split("\n", 1)[0])
    names = [h.strip() for h in header[0][1]] if header else [str(c).strip() for c in frame.columns]
    if len(names) != len(frame.columns):
        names = [str(c).strip() for c in frame.columns]
    problems: list[Problem] = []
    seen: set[str] = set()
    for name in names:
        if name in seen:
            problems.append(Problem(label, name, "column appears twice in the header", line=1, hint="keep one of them"))
        seen.add(name)
    unknown = [n for n in names if n not in required and n not in optional]
    for column in required:
        if column not in names:
            close = difflib.get_close_matches(column, unknown, n=1, cutoff=0.6)
            hint = f"found {close[0]!r}: rename it to {column!r}" if close else f"add a {column!r} column to the header"
            problems.append(Problem(label, column, "missing column", line=1, hint=hint))
    if problems:
        raise InputError(problems)

    columns = dict(zip(names, frame.columns))  # header name -> pandas column
    data: dict[str, list[str]] = {}
    for column in required + tuple(optional):
        if column in columns:
            data[column] = [v.strip() for v in frame[columns[column]].tolist()]
        else:
            data[column] = [optional[column]] * len(frame)
    # skip_blank_lines=False keeps blank lines as rows, so that row numbers match CSV records.
    values = [frame[c].tolist() for c in frame.columns]
    blank = {i for i in range(len(frame)) if not any(col[i].strip() for col in values)}
    return _Table(label, text, data, len(frame), blank)


def _extra_fields(label: str, text: str, width: int, fallback: str | None = None) -> InputError:
    """The error for a line with more fields than the header (found with the csv module)."""
    for start, record in _records(text):
        if width and len(record) > width:
            return InputError(Problem(label, "", f"{len(record)} fields but the header has {width}", line=start,
                                      hint="quote values that contain commas, or remove the extra commas"))  # fmt: skip
    return InputError(Problem(label, "", fallback or f"a line has more fields than the header ({width})",
                              hint="check quotes and the number of commas on that line"))  # fmt: skip


class _Problems:
    """Collects the problems of one file, with a cap on how many are reported."""

    def __init__(self, table: _Table) -> None:
        self.table = table
        self.items: list[Problem] = []
        self.count = 0

    def add(self, row: int, column: str, message: str, hint: str | None = None) -> None:
        self.count += 1
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(Problem(self.table.label, column, message, line=self.table.line(row), hint=hint))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        problems: list[Problem | str] = list(self.items)
        if self.count > len(self.items):
            problems.append(f"{self.table.label}: ... and {self.count - len(self.items)} more problems")
        raise InputError(problems)


def _parse_int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _parse_float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _parse_bool(text: str) -> bool | None:
    return {"true": True, "false": False}.get(text.lower())


# --------------------------------------------------------------------------- catalogue


def _convert_catalog(table: _Table) -> dict[str, InstanceClass]:
    d = table.data
    problems = _Problems(table)
    classes: dict[str, InstanceClass] = {}
    first_line: dict[str, int] = {}
    engine_cols = [(e, d[c], d[c + "_source"], d[c + "_note"], d[c + "_error"], c) for e, c in ENGINE_COLUMNS.items()]
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
        generation = _parse_int(d["generation"][i])
        if generation is None or generation < 0:
            problems.add(i, "generation", f"{d['generation'][i]!r} is not a whole number",
                         "write the generation, e.g. 6")  # fmt: skip
        burstable = _parse_bool(d["burstable"][i])
        if burstable is None:
            problems.add(i, "burstable", f"{d['burstable'][i]!r} is not true or false", "write true or false")
        retired = _parse_bool(d["retired"][i] or "false")
        if retired is None:
            problems.add(i, "retired", f"{d['retired'][i]!r} is not true or false", "write true or false")
        vcpu = _parse_int(d["vcpu"][i])
        if vcpu is None:
            problems.add(i, "vcpu", f"{d['vcpu'][i]!r} is not a whole number", "write the vCPU count, e.g. 4")
        elif vcpu < 1:
            problems.add(i, "vcpu", f"{vcpu} vCPUs", "a class has at least 1 vCPU")
        memory = _parse_float(d["memory_gib"][i])
        if memory is None:
            problems.add(i, "memory_gib", f"{d['memory_gib'][i]!r} is not a number",
                         "write the memory in GiB, e.g. 16 or 15.25")  # fmt: skip
        elif memory <= 0:
            problems.add(i, "memory_gib", f"{'negative' if memory < 0 else 'zero'} memory ({d['memory_gib'][i]})",
                         "write the nominal memory in GiB, a positive number")  # fmt: skip
        prices = _prices(d, i, problems)
        orderable, versions = _orderability(d, i, problems)
        engines: dict[str, EngineMemory] = {}
        for engine, values, sources, notes, errors, column in engine_cols:
            text, source = values[i], sources[i]
            if not text:
                if source:
                    problems.add(i, column + "_source", f"{source!r} without a {column} value",
                                 f"fill {column} or empty {column}_source")  # fmt: skip
                continue
            dbicm = _parse_int(text)
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
                engines[engine] = EngineMemory(dbicm, source, notes[i], error)  # type: ignore[arg-type]
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


def _prices(d: dict[str, list[str]], i: int, problems: "_Problems") -> dict[str, Price]:
    """Read a row's price cells: USD per hour per deployment, with one region, date and source."""
    cells = {deployment: d[column][i] for deployment, column in PRICE_COLUMNS.items()}
    if d["price_usd_hour"][i] and not cells["single-az"]:
        cells["single-az"] = d["price_usd_hour"][i]  # the older format's column
    prices: dict[str, Price] = {}
    provenance: dict[str, tuple[str, ...]] = {}
    for deployment, text in cells.items():
        if not text:
            continue
        value = _parse_float(text)
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


def _orderability(d: dict[str, list[str]], i: int, problems: "_Problems") -> tuple[dict[str, bool | None], dict[str, VersionSupport]]:
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


# --------------------------------------------------------------------------- observations


def _apply_observations(classes: dict[str, InstanceClass], table: _Table) -> dict[str, InstanceClass]:
    d = table.data
    problems = _Problems(table)
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
            hint = _did_you_mean(close) if close else "observations are for postgres or aurora-postgresql"
            message = f"{engine!r} is not an RDS PostgreSQL engine" if engine else "missing value"
            problems.add(i, "engine", message, hint)
        if name not in classes:
            close = _close_classes(name, names) if name else ()
            hint = _did_you_mean(close) if close else "write a class of the catalogue, e.g. db.m6g.large"
            problems.add(i, "instance_class", f"unknown instance class {name!r}" if name else "missing value", hint)
        n = _parse_int(text)
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


# --------------------------------------------------------------------------- entry point


def load_catalog(path: str | Path | None = None, observations: str | Path | None = None) -> Catalog:
    """Read a catalogue CSV (None: the packaged one) and overlay the user's observations, if any.

    Raises :class:`InputError` naming the file, line, column and fix for anything invalid.
    An observation may also add an engine to a class the catalogue lists without it: the
    instance it was read on is proof that the class runs that engine.
    """
    table = _read_table(path, "catalogue", REQUIRED_COLUMNS, OPTIONAL_COLUMNS)
    classes = _convert_catalog(table)
    if observations is not None:
        obs = _read_table(observations, "observations", OBSERVATION_COLUMNS, {"source": ""})
        classes = _apply_observations(classes, obs)
    return Catalog(classes, table.label)


__all__ = [
    "COLUMNS",
    "DBICM_DIVISOR",
    "MAX_CONNECTIONS_CAP",
    "Catalog",
    "CatalogLookupError",
    "dbicm_from_observation",
    "default_max_connections",
    "load_catalog",
]
