"""What planner may show of a value it read from a deployment.

Problems, ``explain``, the JSON ``provenance`` and the comments ``planner import`` writes quote
values read from manifests, plans and env files, and all of them reach CI logs and pull-request
comments. So a value read from a variable whose name marks a secret (``*PASSWORD*``, ``*SECRET*``,
``*TOKEN*``, ``*KEY*``, ``*CREDENTIAL*``) is never shown, the password of a connection URL or a
libpq ``password=`` is replaced by ``***``, and a value that is not a number where a number was
expected is named by its variable and place, never by what it holds (it may be anything: a key
pasted in the wrong variable). Every message that quotes a read value goes through here.
"""

from __future__ import annotations

import re
from typing import Any

HIDDEN = "***"
SECRET_WORDS = ("PASSWORD", "PASSWD", "SECRET", "TOKEN", "KEY", "CREDENTIAL")
# scheme://user:password@host: the password is everything from the first ':' of the user part to '@'
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^@\s]*@")
# a libpq keyword/value connection string: password=x or password='x y'
_KEYWORD_PASSWORD = re.compile(r"(?i)(?P<head>\bpassword\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\s]*)")
_NUMBER = re.compile(r"\s*[-+]?(\d+(\.\d*)?|\.\d+)\s*%?\s*")


def is_secret(name: str) -> bool:
    """Return whether a variable's name marks its value a secret (``AWS_SECRET_ACCESS_KEY``, ``DB_PASSWORD``)."""
    upper = name.upper()
    return any(word in upper for word in SECRET_WORDS)


def is_number(value: Any) -> bool:
    """Return whether ``value`` is a number, or a text that spells one ("5", "2.5", "25%")."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return isinstance(value, str) and _NUMBER.fullmatch(value) is not None


def redact(text: str) -> str:
    """Return ``text`` with the password of every connection URL and libpq ``password=`` replaced by ``***``."""
    if "@" in text:
        text = _URL_PASSWORD.sub(lambda m: m.group("head") + HIDDEN + "@", text)
    if "=" in text:
        text = _KEYWORD_PASSWORD.sub(lambda m: m.group("head") + HIDDEN, text)
    return text


def shown(name: str, value: Any, quote: bool = True) -> str:
    """Return ``value``, read from the variable (or setting) ``name``, as a message may quote it:
    ``***`` for a secret's, a text with its passwords redacted (and quoted, unless ``quote`` is
    false), a number as it is."""
    if is_secret(name):
        return HIDDEN
    if isinstance(value, str):
        return repr(redact(value)) if quote else redact(value)
    return str(value)


def assignment(name: str, value: Any) -> str:
    """Return ``NAME = VALUE`` where a number was expected: the value only if it is one and ``name``
    is no secret's, else the name alone (what it holds is not shown)."""
    if is_number(value) and not is_secret(name):
        return f"{name} = {value!r}"
    return name


def compared(written: Any, given: Any) -> str:
    """Return a source's value as a message setting it beside the topology's ``written`` one may quote
    it: not at all where the topology writes a number and the source something else."""
    if is_number(written) and not is_number(given):
        return "a value that is not a number"
    return repr(redact(given)) if isinstance(given, str) else str(given)
