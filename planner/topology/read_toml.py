"""Read TOML topology files with the standard library, and find their key lines by scanning.

:func:`parse_toml` returns the values ``tomllib`` reads, a best-effort 1-based line for every key
path (table headers, ``key =`` lines and inline tables; a path the scanner misses gets its
parent's line) and no non-fatal problems: ``tomllib`` itself rejects duplicate keys.
"""

from __future__ import annotations

import json
import re
import tomllib

from planner.errors import Problem
from planner.topology.parsed import (
    ParseResult,
    StopParsing,
    index_lines,
    invalid_value,
    join_path,
    parser_recursed,
)

_TOML_KEY = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_TOML_DOTTED = rf"{_TOML_KEY}(?:[ \t]*\.[ \t]*{_TOML_KEY})*"
_TOML_HEADER = re.compile(rf"^[ \t]*(\[\[?)[ \t]*({_TOML_DOTTED})[ \t]*\]")
_TOML_KEY_LINE = re.compile(rf"^[ \t]*({_TOML_DOTTED})[ \t]*=")
_TOML_INLINE = re.compile(rf"""({_TOML_DOTTED})[ \t]*=|"(?:[^"\\]|\\.)*"|'[^']*'|[{{}}\[\]]""")
_TOML_PART = re.compile(_TOML_KEY)
_TOML_ERROR_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def _toml_keys(dotted: str) -> list[str]:
    parts = []
    for part in _TOML_PART.findall(dotted):
        if part.startswith('"'):
            try:
                part = json.loads(part)
            except ValueError:
                part = part[1:-1]
        elif part.startswith("'"):
            part = part[1:-1]
        parts.append(part)
    return parts


def _scan_toml(text: str) -> dict[str, int]:
    """Best-effort lines for TOML key paths: table headers, `key =` lines and inline tables."""
    found: dict[str, int] = {}
    table = ""
    array_counts: dict[str, int] = {}
    in_multiline = False
    for number, raw in enumerate(text.splitlines(), 1):
        if in_multiline:
            if raw.count('"""') % 2 or raw.count("'''") % 2:
                in_multiline = False
            continue
        header = _TOML_HEADER.match(raw)
        if header:
            keys = _toml_keys(header.group(2))
            for end in range(1, len(keys)):  # `[services.web]` also opens `services`
                found.setdefault(".".join(keys[:end]), number)
            path = ".".join(keys)
            if header.group(1) == "[[":
                index = array_counts.get(path, 0)
                array_counts[path] = index + 1
                found.setdefault(path, number)
                path = f"{path}[{index}]"
            table = path
            found.setdefault(table, number)
            continue
        match = _TOML_KEY_LINE.match(raw)
        if not match:
            continue
        path = table
        for key in _toml_keys(match.group(1)):
            path = join_path(path, key)
            found.setdefault(path, number)
        rest = raw[match.end():]
        if rest.count('"""') % 2 or rest.count("'''") % 2:
            in_multiline = True
        elif "{" in rest:
            _scan_inline_table(rest, path, number, found)
    return found


def _scan_inline_table(rest: str, path: str, number: int, found: dict[str, int]) -> None:
    stack: list[str | None] = []
    current: str | None = path
    for token in _TOML_INLINE.finditer(rest):
        key, text = token.group(1), token.group(0)
        if key is not None:
            base = stack[-1] if stack else None
            if base is not None:
                current = base
                for part in _toml_keys(key):
                    current = join_path(current, part)
                    found.setdefault(current, number)
        elif text == "{":
            stack.append(current)
        elif text == "[":
            stack.append(None)  # tables inside arrays: their items keep the array's line
        elif text in "}]" and stack:
            stack.pop()


def parse_toml(text: str, filename: str) -> ParseResult:
    """Parse TOML ``text`` into its value, key path -> line and non-fatal problems."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        message = str(e)
        at = _TOML_ERROR_AT.search(message)
        line = int(at.group(1)) if at else None
        if at:
            message = f"{message[:at.start()]} at column {at.group(2)}"
        hint = "fix the TOML syntax" + (f" on line {line}" if line else "")
        raise StopParsing(Problem(filename, "", f"invalid TOML: {message}", line=line, hint=hint)) from None
    except RecursionError:
        raise parser_recursed(filename, "TOML") from None
    except ValueError as e:  # e.g. an integer with thousands of digits
        raise invalid_value(filename, "TOML", e) from None
    return data, index_lines(data, _scan_toml(text), filename), []
