"""Text for a person at a terminal: status words in colour, long lines wrapped to its width.

Only the text formats get this, only on a terminal (never in a pipe, a file or a machine format),
and never with ``NO_COLOR`` set (https://no-color.org) or ``TERM=dumb``. What is printed is otherwise
byte for byte the plain text, so a test, a CI log and ``> file`` see the same output.
"""

from __future__ import annotations

import os
import re
import shutil
import textwrap
from typing import TextIO

_RESET = "\033[0m"
_COLOURS = {"OVER": "\033[1;31m", "WARN": "\033[33m", "OK": "\033[32m", "ok": "\033[32m"}
# the status words as the tables and headlines print them: OVER and WARN anywhere as words, ok and OK
# where a status stands (end of a table row or of a headline), not inside prose
_STATUS = re.compile(r"\b(OVER|WARN)\b|(?<=: )(OK|ok)$|(?<= )(ok)(?= *$)|(?<=→ )(ok|OK)\b", re.M)
_BULLET = re.compile(r"^(\s*)([-*] )")


def is_terminal(stream: TextIO) -> bool:
    """Return whether ``stream`` is a terminal that may show colour."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        return False
    return tty and not os.environ.get("NO_COLOR") and os.environ.get("TERM", "") != "dumb"


def colour(text: str) -> str:
    """Return ``text`` with its status words in colour (ANSI: OVER red, WARN yellow, ok green)."""
    def paint(match: re.Match[str]) -> str:
        word = match.group(0)
        return f"{_COLOURS[word]}{word}{_RESET}"

    return _STATUS.sub(paint, text)


def wrap(text: str, width: int) -> str:
    """Return ``text`` with each line longer than ``width`` wrapped, a list item under its own text."""
    out: list[str] = []
    for line in text.splitlines():
        if len(line) <= width or not line.strip():
            out.append(line)
            continue
        bullet = _BULLET.match(line)
        indent = (bullet.group(1) + " " * len(bullet.group(2))) if bullet else re.match(r"\s*", line).group(0) + "  "  # type: ignore[union-attr]
        out += textwrap.wrap(line, width, subsequent_indent=indent, break_on_hyphens=False, break_long_words=False) or [line]
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def for_terminal(text: str, stream: TextIO) -> str:
    """Return ``text`` as ``stream`` should show it: unchanged unless it is a terminal."""
    if not is_terminal(stream):
        return text
    width = max(60, shutil.get_terminal_size((100, 24)).columns)
    # tables stay as they are (their columns line up only unwrapped); prose and list items wrap
    lines = text.split("\n")
    wrapped = [line if _is_table(line) else wrap(line, width) for line in lines]
    return colour("\n".join(wrapped))


def _is_table(line: str) -> bool:
    """Return whether ``line`` looks like a row of a text table (several runs of two or more spaces)."""
    return len(re.findall(r"\S  +\S", line)) >= 2 and not _BULLET.match(line)
