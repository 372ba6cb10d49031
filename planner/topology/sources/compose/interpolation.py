"""Compose's variable interpolation (``${VAR}``, ``${VAR:-default}``, ``$$``), as compose-go does it.

Compose replaces variables in every value of a Compose file (and of an ``env_file``) with the
project's environment: the shell that runs it, then the project's ``.env``. planner reads no
shell: a variable the ``.env`` does not set is *unset* here, so a default applies
(``${VAR:-5}`` is 5), and a variable without one (``${VAR}``, ``$VAR``, ``${VAR:?message}``) is
*unknown*: what Compose puts there depends on a shell planner cannot see. Its text is kept as
written and its name returned, so that the value becomes an ``Unknown`` wherever a number depends
on it.

The syntax is compose-go's ``template`` package: ``$$`` is a literal ``$``; ``$VAR`` and ``${VAR}``;
``${VAR:-d}`` (unset or empty) and ``${VAR-d}`` (unset) give a default, ``${VAR:+r}`` and ``${VAR+r}``
a replacement, ``${VAR:?message}`` and ``${VAR?message}`` an error; defaults may hold variables
(``${A:-${B:-x}}``). A ``$`` followed by ``{`` and anything else is an invalid template, an error.
Source: https://docs.docker.com/reference/compose-file/interpolation/ and
compose-spec/compose-go ``template/template.go``.
"""

from __future__ import annotations

import re
from typing import Callable

# compose-go's DefaultPattern: $$, $NAME, ${NAME...}, or ${ followed by anything else (invalid)
_PATTERN = re.compile(
    r"\$(?:(?P<escaped>\$)|(?P<named>[_a-z][_a-z0-9]*)|\{(?:(?P<braced>[_a-z][_a-z0-9]*(?::?[-+?](.*))?)\}|(?P<invalid>)))",
    re.IGNORECASE,
)
_OPERATORS = (":?", "?", ":-", "-", ":+", "+")

# A variable's value and the unknown variables it was made of ((), mostly), or None when unset.
Lookup = Callable[[str], "tuple[str, tuple[str, ...]] | None"]


class InvalidTemplate(Exception):
    """A ``$`` Compose cannot read (``${ }``, ``${1}``): the fix is ``$$`` for a literal dollar."""


def interpolate(template: str, lookup: Lookup) -> tuple[str, tuple[str, ...]]:
    """Return ``template`` with its variables replaced, and the names of those planner cannot know.

    An unknown variable's expression is left as written (``${WORKERS}``). Raises
    :class:`InvalidTemplate`.
    """
    if "$" not in template:  # most values: no work
        return template, ()
    unknown: list[str] = []
    text = _substitute(template, lookup, unknown)
    return text, tuple(dict.fromkeys(unknown))


def _substitute(template: str, lookup: Lookup, unknown: list[str]) -> str:
    return _PATTERN.sub(lambda match: _replace(match.group(0), lookup, unknown), template)


def _replace(substring: str, lookup: Lookup, unknown: list[str]) -> str:
    """Replace one match, as compose-go's DefaultReplacementAppliedFunc: the operator is the first
    one in the whole match; the match is cut at its first balanced closing brace and the rest
    interpolated on its own."""
    operator = _first_operator(substring)
    closing = _closing_brace(substring)
    rest = ""
    if closing > -1:
        rest = substring[closing + 1:]
        substring = substring[: closing + 1]
    match = _PATTERN.match(substring)
    if match is None or match.group("invalid") is not None:
        raise InvalidTemplate(substring)
    if match.group("escaped"):
        return "$"
    name = match.group("named")
    if name:
        return _value(name, substring, lookup, unknown)
    substitution = match.group("braced")
    if operator is not None and operator in substitution:
        name, argument = substitution.split(operator, 1)
        value = _known(lookup(name), unknown)
        if operator in (":-", "-"):
            if value is None or operator == ":-" and value == "":
                value = _substitute(argument, lookup, unknown)
        elif operator in (":+", "+"):
            value = _substitute(argument, lookup, unknown) if value is not None and (operator == "+" or value != "") else (value or "")
        else:  # ":?" / "?": Compose refuses to run without it; only the shell could set it
            if value is None or operator == ":?" and value == "":
                unknown.append(name)
                value = substring
        return value + _substitute(rest, lookup, unknown)
    return _value(substitution, substring, lookup, unknown)


def _known(found: tuple[str, tuple[str, ...]] | None, unknown: list[str]) -> str | None:
    """Return a looked-up value's text, noting the unknown variables it was made of."""
    if found is None:
        return None
    unknown.extend(found[1])
    return found[0]


def _value(name: str, written: str, lookup: Lookup, unknown: list[str]) -> str:
    value = _known(lookup(name), unknown)
    if value is None:
        unknown.append(name)
        return written
    return value


def _first_operator(template: str) -> str | None:
    """Return the operator that occurs first in ``template`` (compose-go sorts them by position)."""
    found = [(template.find(op), i, op) for i, op in enumerate(_OPERATORS) if op in template]
    return min(found)[2] if found else None


def _closing_brace(text: str) -> int:
    """Return the index of the brace that closes the first one opened (compose-go's getFirstBraceClosingIndex:
    a ``{`` also skips the character after it)."""
    depth = 0
    at = 0
    while True:
        closing = text.find("}", at)
        if closing == -1:
            return -1
        opening = text.find("{", at, closing)
        if opening != -1:
            depth += 1
            at = opening + 2
            continue
        depth -= 1
        if depth == 0:
            return closing
        at = closing + 1
