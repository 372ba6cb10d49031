"""Compose's ``.env`` and ``env_file`` syntax, as compose-go's ``dotenv`` parser reads it.

One variable per statement: ``KEY=value``, ``KEY: value`` or ``export KEY=value``; a key alone on
its line takes the value the lookup gives it (and is skipped when there is none). Values:

- unquoted: up to the end of the line, a `` #`` starting a comment, trailing spaces trimmed;
  ``${VAR}`` interpolated;
- ``'single quoted'``: literal, and may span lines;
- ``"double quoted"``: ``\\n``, ``\\t``, ``\\"``, ``\\\\`` and ``\\$`` escapes, may span lines,
  then ``${VAR}`` interpolated.

Interpolation looks a name up with the caller's lookup first (the project's environment), then
among the variables read so far. Lines starting with ``#`` are comments. Source:
https://docs.docker.com/compose/how-tos/environment-variables/variable-interpolation/#env-file-syntax
and compose-spec/compose-go ``dotenv/parser.go``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from planner.topology.sources.compose.interpolation import InvalidTemplate, interpolate


@dataclass(frozen=True)
class Variable:
    """One variable read from an env file: its text, its line, and the unknown variables it was made of."""

    value: str
    file: str
    line: int
    unknown: tuple[str, ...] = ()


class DotenvError(Exception):
    """A statement compose-go refuses, with its line."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


Lookup = Callable[[str], "tuple[str, tuple[str, ...]] | None"]

_EXPORT = re.compile(r"export\s+")
_ESCAPE = re.compile(r"\\(?:[abcfnrtv$\"\\]|0[0-9]{0,3})")
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", '"': '"', "\\": "\\"}
_OCTAL = re.compile(r"[0-7]{3}")
_SPACE = "\t\v\f\r \x85\xa0"


def parse(text: str, file: str, out: dict[str, Variable], lookup: Lookup) -> None:
    """Read the env file ``text`` into ``out`` (variables already there may be replaced).

    Raises :class:`DotenvError`.
    """
    text = text.removeprefix("\ufeff")
    line = 1
    at = 0
    size = len(text)

    def known(name: str) -> tuple[str, tuple[str, ...]] | None:
        found = lookup(name)
        if found is not None:
            return found
        variable = out.get(name)
        return (variable.value, variable.unknown) if variable is not None else None

    while True:
        # the statement's start: skip blank space and comment lines
        while at < size and (text[at].isspace()):
            if text[at] == "\n":
                line += 1
            at += 1
        if at >= size:
            return
        if text[at] == "#":
            end = text.find("\n", at)
            if end == -1:
                return
            at = end
            continue
        start_line = line
        export = _EXPORT.match(text, at)
        if export:
            at = export.end()
        key, at, inherited = _key(text, at, line)
        if inherited:
            line += 1
            found = known(key)
            if found is not None:
                out[key] = Variable(found[0], file, start_line, found[1])
            continue
        value, at, line, unknown = _value(text, at, line, known)
        out[key] = Variable(value, file, start_line, unknown)


def _key(text: str, at: int, line: int) -> tuple[str, int, bool]:
    """Return the key at ``at``, where its value starts, and whether it has none (a key alone on its line)."""
    i = at
    while i < len(text):
        char = text[i]
        if char in _SPACE:
            i += 1
            continue
        if char in "=:\n":
            key = text[at:i].rstrip()
            if " " in key or "\t" in key:
                raise DotenvError(line, "key cannot contain a space")
            rest = i + 1
            while rest < len(text) and text[rest] in _SPACE:
                rest += 1
            return key, rest, char == "\n"
        if char in "_.-[]" or char.isalnum():
            i += 1
            continue
        statement = text[at:].split("\n", 1)[0]
        raise DotenvError(line, f"unexpected character {char!r} in variable name {statement!r}")
    key = text[at:].rstrip()
    if not key:
        raise DotenvError(line, "zero length string")
    return key, len(text), True  # the last line, without a newline: a key alone


def _value(text: str, at: int, line: int, lookup: Lookup) -> tuple[str, int, int, tuple[str, ...]]:
    """Return a value, where the next statement starts, the line there, and its unknown variables."""
    quote = text[at] if at < len(text) and text[at] in "'\"" else None
    if quote is None:
        end = text.find("\n", at)
        raw = text[at:] if end == -1 else text[at:end]
        raw = raw.split(" #", 1)[0].rstrip()
        value, unknown = _expand(raw, lookup, line)
        return value, len(text) if end == -1 else end + 1, line + 1, unknown
    chars: list[str] = []
    escaped = False
    i = at + 1
    start_line = line
    while i < len(text):
        char = text[i]
        if char == "\n":
            line += 1
        if char != quote:
            if not escaped and char == "\\":
                escaped = True
            else:
                if escaped:
                    escaped = False
                    chars.append("\\")
                chars.append(char)
            i += 1
            continue
        if escaped:  # an escaped quote
            escaped = False
            chars.append(char)
            i += 1
            continue
        value = "".join(chars)
        unknown: tuple[str, ...] = ()
        if quote == '"':
            value, unknown = _expand(_unescape(value), lookup, start_line)
        return value, i + 1, line, unknown
    statement = text[at:].split("\n", 1)[0]
    raise DotenvError(start_line, f"unterminated quoted value {statement}")


def _unescape(value: str) -> str:
    """Expand a double-quoted value's escapes; ``\\$`` becomes ``$$``, a literal dollar."""

    def replace(match: re.Match[str]) -> str:
        escape = match.group(0)
        if escape == "\\$":
            return "$$"
        if escape.startswith("\\0"):  # \0ddd, three octal digits; anything else stays as written
            digits = escape[2:]
            return chr(int(digits, 8)) if _OCTAL.fullmatch(digits) and int(digits, 8) < 256 else escape
        return _ESCAPES.get(escape[1], escape)

    return _ESCAPE.sub(replace, value)


def _expand(value: str, lookup: Lookup, line: int) -> tuple[str, tuple[str, ...]]:
    try:
        return interpolate(value, lookup)
    except InvalidTemplate as e:
        raise DotenvError(line, f"invalid interpolation format: {e} (write $$ for a literal $)") from None
