"""Reading a CSV file for the catalogue: pandas reads it as text, every problem gets its line.

The one place where pandas reads a file. A bad file gives one line per problem (file, line, column,
fix), at most :data:`MAX_PROBLEMS` of them, instead of a traceback.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
import warnings
from importlib import resources
from pathlib import Path

from planner.errors import InputError, Problem

MAX_PROBLEMS = 20  # report at most this many problems of one file
PACKAGED_CATALOG = ("data", "instance_classes.csv")


class CsvTable:
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
            self._starts = [start for start, _ in csv_records(self.text)]
        index = row + 1
        return self._starts[index] if index < len(self._starts) else index + 1


def csv_records(text: str) -> list[tuple[int, list[str]]]:
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


def read_text(source: str | Path | None, kind: str) -> tuple[str, str]:
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


def read_table(source: str | Path | None, kind: str, required: tuple[str, ...], optional: dict[str, str]) -> CsvTable:
    """Read a CSV file as strings and check its header; fill optional columns with their default."""
    import pandas as pd  # imported here: only commands that read a catalogue pay for it

    label, text = read_text(source, kind)
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
        found = csv_records(text)
        width = len(found[0][1]) if found else 0
        raise extra_fields(label, text, width, f"not a valid CSV file: {str(exc).strip()}") from None
    except (pd.errors.EmptyDataError, ValueError) as exc:
        raise InputError(Problem(label, "", f"not a valid CSV file: {exc}")) from None

    if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
        raise extra_fields(label, text, len(frame.columns))
    # The header as written (pandas renames a repeated "vcpu" to "vcpu.1").
    header = csv_records(text.split("\n", 1)[0])
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
    return CsvTable(label, text, data, len(frame), blank)


def extra_fields(label: str, text: str, width: int, fallback: str | None = None) -> InputError:
    """The error for a line with more fields than the header (found with the csv module)."""
    for start, record in csv_records(text):
        if width and len(record) > width:
            return InputError(Problem(label, "", f"{len(record)} fields but the header has {width}", line=start,
                                      hint="quote values that contain commas, or remove the extra commas"))  # fmt: skip
    return InputError(Problem(label, "", fallback or f"a line has more fields than the header ({width})",
                              hint="check quotes and the number of commas on that line"))  # fmt: skip


class Problems:
    """Collects the problems of one file, with a cap on how many are reported."""

    def __init__(self, table: CsvTable) -> None:
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


def parse_int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def parse_float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_bool(text: str) -> bool | None:
    return {"true": True, "false": False}.get(text.lower())



__all__ = ["MAX_PROBLEMS", "PACKAGED_CATALOG", "CsvTable", "Problems", "parse_bool", "parse_float", "parse_int", "read_table"]
