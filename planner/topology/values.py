"""The vocabulary of topology validation: collect problems, check typed values, suggest fixes.

:class:`Checker` holds one file's problems and key lines and checks the values every part of the
schema uses (mappings, whole numbers, strings, choices, names and references to them); the
section checkers in :mod:`planner.topology.databases`, :mod:`planner.topology.services` and
:mod:`planner.topology.poolers` build on it. The module-level helpers read percentages and
numbers, and suggest the closest allowed name for a misspelt one.
"""

from __future__ import annotations

import difflib
import functools
import re
from fractions import Fraction
from typing import Any, Callable, Iterable, Sequence, TypeVar

from planner.errors import Problem
from planner.topology.parsed import ParsedFile, describe, join_path

T = TypeVar("T")

DIGITS = re.compile(r"\s*[0-9]+\s*")  # a whole number written as a string: "500"
_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_PERCENT = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*")
_INDEX = re.compile(r"\[[0-9]+\]$")


def suggest(value: str, options: Iterable[str], what: str = "allowed") -> str:
    """Return "did you mean 'x'?" for the closest option, or list the options (``what`` names them)."""
    options = list(options)
    close = closest(value, options)
    if close is not None:
        return f"did you mean {close!r}?"
    return f"{what}: " + ", ".join(options) if options else f"no {what} names"


def closest(value: str, options: Iterable[str], cutoff: float = 0.6, parts: bool = True) -> str | None:
    """Return the option most like ``value`` (a typo, another case), or None.

    ``cutoff`` is difflib's similarity ratio an option needs; with ``parts``, an option that
    ``value`` begins or is part of is taken too (``mem`` for ``memory_gib``).
    """
    options = list(options)
    close = difflib.get_close_matches(value, options, n=1, cutoff=cutoff)
    if not close:
        close = [o for o in options if o.lower() == value.lower()][:1]  # db_pool_size: DB_POOL_SIZE
    if not close and parts:
        close = [o for o in options if len(value) >= 3 and (o.startswith(value) or value in o)][:1]
    return close[0] if close else None


def leaf(path: str) -> str:
    """Return the last key of a key path: ``replicas`` for ``services.web.replicas``."""
    return _INDEX.sub("", path.rsplit(".", 1)[-1]) or path


def parent_path(path: str) -> str:
    """Return the key path that contains ``path`` ("" at the top)."""
    if _INDEX.search(path):
        return _INDEX.sub("", path)
    return path.rsplit(".", 1)[0] if "." in path else ""


@functools.lru_cache(maxsize=256)
def parse_percent(text: str) -> Fraction | None:
    """Return "25%" as Fraction(1, 4), or None if ``text`` is not a percentage."""
    match = _PERCENT.fullmatch(text)
    return Fraction(match.group(1)) / 100 if match else None


def to_fraction(value: int | float) -> Fraction:
    """Return a YAML/TOML/JSON number as the Fraction its text means."""
    # str() first: Fraction(0.2) is 3602879701896397/18014398509481984, Fraction("0.2") is 1/5
    return Fraction(str(value)) if isinstance(value, float) else Fraction(value)


def is_number(value: Any) -> bool:
    """Return whether ``value`` is an int or float (a bool is neither)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# No count in a topology (replicas, processes, pool sizes, concurrency, connections) is this large;
# a bigger number is a typo, and refusing it keeps the arithmetic and the charts sane.
ABSURD_COUNT = 10_000_000


def is_int(value: Any) -> bool:
    """Return whether ``value`` is an int (a bool is not)."""
    return isinstance(value, int) and not isinstance(value, bool)


class Checker:
    """Collect every problem of one parsed file, and check the values every section uses."""

    def __init__(self, filename: str, parsed: ParsedFile) -> None:
        self.file = filename
        self.data = parsed.data
        self.lines = parsed.lines
        self.problems: list[Problem] = list(parsed.problems)
        self.provenance = parsed.provenance
        self.source_notes = parsed.source_notes
        self.source_warnings = parsed.source_warnings
        self.unresolved = parsed.unresolved

    # ------------------------------------------------------------------ reporting

    def line_of(self, path: str) -> int | None:
        """Return the line of ``path``, or of the nearest key that contains it."""
        while path:
            line = self.lines.get(path)
            if line is not None:
                return line
            path = parent_path(path)
        return None

    def add(self, path: str, message: str, hint: str | None = None) -> None:
        """Record a problem at ``path`` (its line looked up) with a hint on how to fix it.

        A value read from the deployment names where it came from, since the fix is there. An
        entry whose ``from:`` could not be read has that problem already; what it then lacks is not
        reported again.
        """
        if self.unresolved and any(path == e or path.startswith(e + ".") for e in self.unresolved):
            return
        if self.provenance:
            origin = self.origin_of(path)
            if origin:
                message = f"{message} (from {origin})"
        self.problems.append(Problem(self.file, path, message, self.line_of(path), hint))

    def origin_of(self, path: str) -> str | None:
        """Return where the value at ``path`` (or the first value under it) came from, if a source gave it."""
        if path.count(".") < 2:  # a whole entry or section: its problem is not one value's
            return None
        sourced = self.provenance.get(path)
        if sourced is None:
            prefix = path + "."
            sourced = next((o for p, o in self.provenance.items() if p.startswith(prefix)), None)
        return None if sourced is None else sourced.origin

    def describe(self, path: str, value: Any) -> str:
        """Name ``value`` for a message about the key ``path``, as :func:`describe` does, except a text
        a source gave, which is not quoted: it is not what the key expects, and may be anything
        (a secret in the wrong variable); the message names where it came from instead."""
        if isinstance(value, str) and self.origin_of(path) is not None:
            return "the text read from the deployment"
        return describe(value)

    def missing(self, path: str, hint: str) -> None:
        """Record that the required key ``path`` is missing."""
        self.add(path, f"missing required key {leaf(path)!r}", hint)

    def check_keys(self, mapping: dict[str, Any], path: str, allowed: Sequence[str]) -> None:
        """Report every key of ``mapping`` that is not ``allowed``, with the closest allowed one."""
        for key in mapping:
            if key not in allowed:
                self.add(join_path(path, key), f"unknown key {key!r}", suggest(key, allowed, "allowed keys"))

    # ------------------------------------------------------------------ typed values

    def mapping(self, value: Any, path: str, example: str, *, null_ok: bool = True) -> dict[str, Any] | None:
        """Return ``value`` if it is a mapping (null: an empty one, if ``null_ok``), else report it."""
        if isinstance(value, dict):
            return value
        if value is None and null_ok:
            return {}
        self.add(path, f"{leaf(path)} must be a mapping, not {describe(value)}", f"write e.g. {example}")
        return None

    def integer(self, value: Any, path: str, minimum: int = 0, maximum: int | None = None) -> int | None:
        """Return ``value`` if it is a whole number within the bounds, else report it with a fix."""
        if value.__class__ is int and value >= minimum and value <= (ABSURD_COUNT if maximum is None else maximum):
            return value  # the common case, first: a 10,000-service file has 60,000 of these
        key = leaf(path)
        if is_int(value) and maximum is None and value > ABSURD_COUNT:
            self.add(path, f"{key} {value:,} is beyond any real deployment (the limit is {ABSURD_COUNT:,})",
                     f"check the number; {key} counts replicas, processes, connections or clients")
            return None
        if is_int(value):
            bounds = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
            hint = f"use a whole number {bounds}" if maximum is not None else f"use a whole number of {bounds}"
            if minimum == -1:
                hint += " (-1 means unbounded)"
            self.add(path, f"{key} must be {bounds}, not {value}", hint)
            return None
        example = f"{key}: {max(minimum, 1) if maximum is None else maximum}"
        if isinstance(value, float) and value.is_integer():
            hint = f"write {int(value)} without the decimal point"
        elif isinstance(value, float):
            hint = f"use a whole number, e.g. {example}"
        elif isinstance(value, str) and DIGITS.fullmatch(value) and len(value) < 20:
            hint = f"remove the quotes: {key}: {value.strip()}"
        else:
            hint = f"write a number, e.g. {example}"
        self.add(path, f"{key} must be a whole number, not {self.describe(path, value)}", hint)
        return None

    def string(self, value: Any, path: str, example: str) -> str | None:
        """Return ``value`` if it is a non-empty string, else report it."""
        if isinstance(value, str) and value.strip():
            return value
        what = "empty" if isinstance(value, str) else f"not {describe(value)}"
        self.add(path, f"{leaf(path)} must be a non-empty string, {what}", f"write e.g. {example}")
        return None

    def choice(self, value: Any, path: str, options: Sequence[str]) -> str | None:
        """Return ``value`` if it is one of ``options``, else report it with the closest one."""
        if isinstance(value, str) and value in options:
            return value
        listed = " | ".join(options)
        if isinstance(value, str):
            self.add(path, f"unknown {leaf(path)} {value!r}", suggest(value, options, "use one of"))
        else:
            self.add(path, f"{leaf(path)} must be one of {listed}, not {describe(value)}",
                     f"write e.g. {leaf(path)}: {options[0]}")
        return None

    def name(self, name: str, path: str, what: str) -> bool:
        """Return whether ``name`` is a valid name for a ``what`` (database, service, ...), reporting it if not."""
        if _NAME.fullmatch(name) and not (what == "service" and "@" in name):
            return True
        if not name:
            self.add(path, f"empty {what} name", f"name the {what} with letters, digits, '_', '.' or '-'")
            return False
        fixed = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or what
        if "@" in name and what == "service":
            message = f"service name {name!r} contains '@', which separates service and environment in reports"
        else:
            message = f"invalid {what} name {name!r}"
        self.add(path, message, f"use letters, digits, '_', '.' and '-' only, e.g. {fixed!r}")
        return False

    def reference(self, value: Any, path: str, known: Sequence[str] | None, what: str) -> str | None:
        """Check a string naming a defined database/environment/service (None: names unknown)."""
        if isinstance(value, str) and value.strip():
            name: str | None = value
        else:
            example = known[0] if known else "main"
            name = self.string(value, path, example if path.endswith("]") else f"{leaf(path)}: {example}")
        if name is None or known is None:
            return name
        if name not in known:
            self.add(path, f"unknown {what} {name!r}", suggest(name, known, f"defined {what}s"))
            return None
        return name

    def name_list(self, value: Any, path: str, known: Sequence[str] | None, what: str) -> tuple[str, ...] | None:
        """Check a non-empty list of distinct references to defined ``what``s (None: names unknown)."""
        if not isinstance(value, list):
            example = f"[{value}]" if isinstance(value, str) else "[prod, staging]"
            self.add(path, f"{leaf(path)} must be a list of {what} names, not {describe(value)}",
                     f"write e.g. {leaf(path)}: {example}")
            return None
        if not value:
            self.add(path, f"{leaf(path)} is empty", f"list at least one {what}, or remove the key")
            return None
        names: list[str] = []
        ok = True
        for i, item in enumerate(value):
            item_path = f"{path}[{i}]"
            name = self.reference(item, item_path, known, what)
            if name is None:
                ok = False
            elif name in names:
                self.add(item_path, f"{what} {name!r} is listed twice", "remove the second one")
                ok = False
            else:
                names.append(name)
        return tuple(names) if ok else None

    # ------------------------------------------------------------------ sections

    def section(self, data: dict[str, Any], key: str, example: str, required: bool) -> dict[str, Any] | None:
        """Return a top-level mapping of named items, reporting a missing or empty one."""
        if key not in data:
            if required:
                self.missing(key, f"add a `{key}:` section, e.g. {example}")
            return None
        value = self.mapping(data[key], key, example)
        if value is not None and not value and required:
            self.add(key, f"{key} is empty", f"define at least one, e.g. {example}")
            return None
        return value

    def named_items(self, section: dict[str, Any], key: str, what: str,
                    check: Callable[[str, Any, str], T]) -> dict[str, T]:
        """Check each item of a top-level section: its name, then ``check(name, spec, path)``."""
        result: dict[str, T] = {}
        for name, spec in section.items():
            path = join_path(key, name)
            self.name(name, path, what)
            result[name] = check(name, spec, path)
        return result
