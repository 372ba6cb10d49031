"""Read JSON topology files with the standard library, and find their key lines by scanning.

:func:`parse_json` returns the values ``json`` reads (NaN and Infinity refused), the 1-based line
of every key and list item, and a problem for each duplicate key, which ``json`` would silently
drop.
"""

from __future__ import annotations

import json
import re
from typing import Any

from planner.errors import Problem
from planner.topology.parsed import (
    ParseResult,
    StopParsing,
    index_lines,
    invalid_value,
    join_path,
    parser_recursed,
)

_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\],:]|[^\s{}\[\],:"]+')


def _scan_json(text: str, filename: str) -> tuple[dict[str, int], list[Problem]]:
    """Find the line of every key and list item of valid JSON, and report duplicate keys."""
    found: dict[str, int] = {}
    problems: list[Problem] = []
    # frames: [is_object, path, expecting_key_or_item_index, current_key_path, seen_keys]
    stack: list[list[Any]] = []
    line = 1
    last = 0
    for token in _JSON_TOKEN.finditer(text):
        start = token.start()
        line += text.count("\n", last, start)
        last = start
        tok = token.group()
        first = tok[0]
        top = stack[-1] if stack else None
        if top is not None and top[0] and top[2] is True and first == '"':
            key = json.loads(tok) if "\\" in tok else tok[1:-1]
            path = join_path(top[1], key)
            seen = top[4]
            if key in seen:
                problems.append(Problem(filename, path, f"duplicate key {key!r} (first at line {seen[key]})",
                                        line=line, hint="remove one of the two"))
            else:
                seen[key] = line
            found[path] = line
            top[2] = False
            top[3] = path
            continue
        if first == ":":
            continue
        if first == ",":
            if top is not None:
                if top[0]:
                    top[2] = True
                else:
                    top[2] += 1
            continue
        if first in "}]":
            if stack:
                stack.pop()
            continue
        if top is None:
            path = ""
        elif top[0]:
            path = top[3]
        else:
            path = f"{top[1]}[{top[2]}]"
            found[path] = line
        if first == "{":
            stack.append([True, path, True, path, {}])
        elif first == "[":
            stack.append([False, path, 0, path, None])
    return found, problems


class _JSONConstant(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _JSONConstant(name)


def parse_json(text: str, filename: str) -> ParseResult:
    """Parse JSON ``text`` into its value, key path -> line and non-fatal problems."""
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(items)
        if len(result) != len(items):  # the scanner below finds the lines; here we only notice
            seen: set[str] = set()
            for key, _ in items:
                if key in seen:
                    duplicates.append(key)
                seen.add(key)
        return result

    try:
        data = json.loads(text, object_pairs_hook=pairs, parse_constant=_reject_constant)
    except _JSONConstant as e:
        line = text.count("\n", 0, max(text.find(str(e)), 0)) + 1
        raise StopParsing(Problem(filename, "", f"invalid JSON: {e} is not a JSON number", line=line,
                                  hint="write a finite number")) from None
    except json.JSONDecodeError as e:
        hint = "fix the JSON syntax"
        if "property name" in e.msg or "Expecting value" in e.msg:
            hint += ": JSON allows no trailing commas, comments or single quotes"
        raise StopParsing(Problem(filename, "", f"invalid JSON at column {e.colno}: {e.msg}",
                                  line=e.lineno, hint=hint)) from None
    except RecursionError:
        raise parser_recursed(filename, "JSON") from None
    except ValueError as e:  # e.g. an integer with thousands of digits
        raise invalid_value(filename, "JSON", e) from None
    found, problems = _scan_json(text, filename)
    lines = index_lines(data, found, filename)
    if duplicates and not problems:
        problems = [Problem(filename, "", f"duplicate key {duplicates[0]!r}", hint="remove one of the two")]
    return data, lines, problems

