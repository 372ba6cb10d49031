"""Plain-text and Markdown tables: the one place that pads and escapes cells."""

from __future__ import annotations

import re
from typing import Sequence

Cell = object


def _text(cell: Cell) -> str:
    if cell is None:
        return "-"
    if isinstance(cell, float):
        return f"{cell:g}"
    return str(cell)


_NUMBERISH = re.compile(r"-?\d[\d.,]*\*?")


def _numeric(cell: Cell) -> bool:
    """Numbers, and numbers with an estimate star ("832*"), align right."""
    if isinstance(cell, str):
        return bool(_NUMBERISH.fullmatch(cell)) or cell in ("-", "")
    return isinstance(cell, (int, float)) and not isinstance(cell, bool)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], indent: str = "") -> str:
    """Return an aligned table: numbers right-aligned, text left-aligned, two spaces apart."""
    cells = [[_text(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    right = [bool(rows) and all(_numeric(r[i]) or r[i] is None for r in rows) and any(not isinstance(r[i], str) or r[i] not in ('', '-') for r in rows) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)]
        return (indent + "  ".join(parts)).rstrip()

    return "\n".join([line(list(headers))] + [line(row) for row in cells])


def md_escape(text: str) -> str:
    """Escape text for a Markdown table cell: pipes, backslashes, HTML and line breaks."""
    replacements = {"\\": "\\\\", "|": "\\|", "<": "&lt;", ">": "&gt;", "&": "&amp;", "`": "\\`", "*": "\\*", "_": "\\_", "[": "\\[", "]": "\\]"}
    out = "".join(replacements.get(ch, ch) for ch in text)
    return " ".join(out.split())


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    """Return a GitHub-flavoured Markdown table; numeric columns are right-aligned."""
    right = [bool(rows) and all(_numeric(r[i]) or r[i] is None for r in rows) for i in range(len(headers))]
    head = "| " + " | ".join(md_escape(h) for h in headers) + " |"
    rule = "|" + "|".join("---:" if r else "---" for r in right) + "|"
    body = ["| " + " | ".join(md_escape(_text(c)) for c in row) + " |" for row in rows]
    return "\n".join([head, rule] + body)
