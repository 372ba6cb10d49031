"""Reading a CSV file for the catalogue with the standard ``csv`` module: every problem gets its line.

The one place where a catalogue or observations file is read. It keeps what the catalogue needs
and nothing a spreadsheet library would add: every cell as text, blank lines as rows (so that row
numbers stay with the file's lines), the line each record starts on (a quoted value may span
lines). A bad file gives one line per problem (file, line, column, fix), at most
:data:`MAX_PROBLEMS` of them, instead of a traceback. ``planner check`` reads the catalogue on
every run: the standard library keeps it from paying for pandas and numpy at start-up (issue 14).
"""

from __future__ import annotations

import csv
import difflib
import io
import math
from pathlib import Path

from planner.errors import InputError, Problem

MAX_PROBLEMS = 20  # report at most this many problems of one file
PACKAGED_CATALOG = ("data", "instance_classes.csv")
# planner/ itself: the wheel installs it as files, and a path costs no importlib.resources at every start-up
PACKAGE_DIR = Path(__file__).resolve().parent.parent


class CsvTable:
    """A CSV file read as stripped strings, column by column, with the line each data row starts on."""

    def __init__(self, label: str, data: dict[str, list[str]], starts: list[int], blank: set[int]) -> None:
        self.label = label
        self.data = data  # column -> stripped values, one per data row
        self.nrows = len(starts)
        self.blank = blank  # rows that are blank lines (or only commas and spaces)
        self._starts = starts  # data row -> the line it starts on; the header is line 1

    def line(self, row: int) -> int:
        """Return the line where data row ``row`` (0-based) starts; the header is line 1."""
        return self._starts[row]


def csv_records(label: str, text: str) -> list[tuple[int, list[str]]]:
    """Return (start line, fields) of each CSV record; a blank line is a record with no fields.

    Lenient the way spreadsheets write CSV: a quote inside an unquoted value is kept, text after a
    closing quote is joined to the value. Raises :class:`InputError` with the line for a value over
    the ``csv`` module's size limit (:func:`unclosed_quote` tells of the other file it cannot read).
    """
    records: list[tuple[int, list[str]]] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    try:
        for record in reader:
            records.append((start, record))
            start = reader.line_num + 1
    except csv.Error as exc:  # the only one the lenient reader raises: a value over the size limit
        raise InputError(Problem(label, "", f"not a valid CSV file: {exc}", line=start,
                                 hint="check the quotes: a value that opens one must close it"))  # fmt: skip
    return records


def unclosed_quote(text: str, line: int) -> bool:
    """Whether the record starting on ``line`` (the last one) opens a quote it never closes.

    The lenient reader takes an unclosed quote to run to the end of the file, silently swallowing
    every row after it. Only the last record can hold one, since an unclosed quote always reaches
    the end of the file, so only it is read again, following the lenient reader's rules.
    """
    tail = "".join(io.StringIO(text, newline="").readlines()[line - 1:])
    state = "start"  # of a value; "field": in an unquoted one; "quoted": in a quoted one; "quote": just after its quote
    for char in tail:
        if state == "quoted":
            if char == '"':
                state = "quote"  # closes the value, unless another quote follows (an escaped one)
        elif state == "quote" and char == '"':
            state = "quoted"
        elif char in ",\r\n":
            state = "start"
        elif state == "start" and char == '"':
            state = "quoted"
        else:
            state = "field"  # a quote in an unquoted value, or text after a closing one, is kept as text
    return state == "quoted"


def read_text(source: str | Path | None, kind: str) -> tuple[str, str]:
    """Return (label for messages, text) of a CSV file or of the packaged catalogue."""
    if source is None:
        resource = PACKAGE_DIR.joinpath(*PACKAGED_CATALOG)
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
    """Read a CSV file as strings and check its header; fill optional columns with their default.

    A row with fewer fields than the header reads the missing ones as empty; a row with more is an
    error (a comma that should have been quoted).
    """
    label, text = read_text(source, kind)
    if not text.strip():
        raise InputError(Problem(label, "", f"the {kind} file is empty",
                                 hint="the first line must be the header: " + ",".join(required)))  # fmt: skip
    records = csv_records(label, text)
    names = [h.strip() for h in records[0][1]]
    width = len(names)
    # A file's first broken line is its problem: everything after it is read wrong.
    for start, record in records[1:] if width else ():  # no header at all: the missing columns say it
        if len(record) > width:
            raise InputError(Problem(label, "", f"{len(record)} fields but the header has {width}", line=start,
                                     hint="quote values that contain commas, or remove the extra commas"))  # fmt: skip
    if unclosed_quote(text, records[-1][0]):
        raise InputError(Problem(label, "", "not a valid CSV file: a quoted value is never closed", line=records[-1][0],
                                 hint="check the quotes: a value that opens one must close it"))  # fmt: skip
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

    rows = [[value.strip() for value in record] for _, record in records[1:]]
    data: dict[str, list[str]] = {}
    for column in required + tuple(optional):
        if column in seen:
            index = names.index(column)
            data[column] = [row[index] if index < len(row) else "" for row in rows]
        else:
            data[column] = [optional[column]] * len(rows)
    blank = {i for i, row in enumerate(rows) if not any(row)}
    return CsvTable(label, data, [start for start, _ in records[1:]], blank)


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
