"""What every topology file reader shares: the parse result, the limits, key paths, value names.

The format readers (:mod:`planner.topology.read_yaml`, :mod:`planner.topology.read_toml`,
:mod:`planner.topology.read_json`) and the validator (:mod:`planner.topology`) build on this module;
it imports none of them. It owns:

- :class:`ParsedFile`, a file's values with the line of every key path, and
  :class:`StopParsing`, raised when a file cannot be read any further;
- the resource limits (size, depth, nodes, alias expansion) and the problems that report them;
- :func:`join_path`, the one spelling of a key path (``services.web.replicas``);
- :func:`describe` and :func:`short_text`, how a value is named in a message;
- :func:`gc_paused`, which makes building many small values 3-4x faster.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from planner.errors import Problem
from planner.model import Sourced

MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 2_000_000  # every node walked, aliases included
MAX_ALIAS_NODES = 200_000  # nodes re-walked through aliases ("billion laughs")

# what a format reader returns: the top-level value, key path -> line, non-fatal problems
ParseResult = tuple[Any, dict[str, int], list[Problem]]


@dataclass
class ParsedFile:
    """A file's values, the line of every key path, and non-fatal problems (duplicates, tags).

    ``provenance``, ``source_notes`` and ``unresolved`` are filled when the topology reads its deployment
    (:mod:`planner.topology.sources`): key path -> where its value came from, and entry path ->
    what its source object adds that is not a value.
    """

    data: dict[str, Any]
    lines: dict[str, int]
    problems: list[Problem] = field(default_factory=list)
    provenance: dict[str, Sourced] = field(default_factory=dict)
    source_notes: dict[str, list[str]] = field(default_factory=dict)
    # entries ("services.web") whose `from:` could not be read: their own problem is reported, and
    # what they then lack (a missing instance_class) is not, since fixing the reference fixes it
    unresolved: set[str] = field(default_factory=set)
    # what is wrong in the deployment's files but did not stop planner reading them (an autoscaler
    # whose target is in none of the files): check shows each as a warning
    source_warnings: list[str] = field(default_factory=list)


class StopParsing(Exception):
    """Stop parsing: the file cannot be read any further."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def join_path(path: str, key: str) -> str:
    """Return the key path of ``key`` inside ``path`` (dot-joined; no dot at the top)."""
    return f"{path}.{key}" if path else key


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building many small objects that hold no cycles (3-4x faster)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --------------------------------------------------------------------------- limits


def too_many_nodes(filename: str) -> StopParsing:
    """Return the stop for a file with more than :data:`MAX_NODES` nodes."""
    return StopParsing(Problem(filename, "", f"too many nodes (more than {MAX_NODES:,})",
                               hint="a topology has hundreds of keys, not millions: check the file"))


def too_deep(filename: str, line: int | None, path: str = "") -> StopParsing:
    """Return the stop for a value nested more than :data:`MAX_DEPTH` levels below ``path``."""
    return StopParsing(Problem(filename, path, f"nested more than {MAX_DEPTH} levels deep", line=line,
                               hint="a topology needs a handful of levels: check the structure"))


def parser_recursed(filename: str, language: str) -> StopParsing:
    """Return the stop for a RecursionError inside a ``language`` ("YAML", "TOML", "JSON") parser."""
    return StopParsing(Problem(filename, "", f"{language} nested too deeply",
                               hint=f"nest at most {MAX_DEPTH} levels"))


def invalid_value(filename: str, language: str, error: ValueError) -> StopParsing:
    """Return the stop for a value a ``language`` parser refused (an integer of 5,000 digits)."""
    return StopParsing(Problem(filename, "", f"invalid {language}: {error}", hint="fix the value"))


def index_lines(data: Any, found: dict[str, int], filename: str) -> dict[str, int]:
    """Walk parsed TOML/JSON values: enforce limits and give every key path a line.

    A path missing from ``found`` (the scanner's best effort) gets its parent's line.
    """
    lines: dict[str, int] = {}
    stack: list[tuple[Any, str, int, int]] = [(data, "", 1, 1)]
    nodes = 0
    while stack:
        value, path, line, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise too_many_nodes(filename)
        if isinstance(value, dict):
            items: Any = ((join_path(path, k), v) for k, v in value.items())
        elif isinstance(value, list):
            items = ((f"{path}[{i}]", v) for i, v in enumerate(value))
        else:
            continue
        if depth > MAX_DEPTH:
            raise too_deep(filename, line, path)
        for child_path, child in items:
            child_line = found.get(child_path, line)
            lines[child_path] = child_line
            stack.append((child, child_path, child_line, depth + 1))
    return lines


# --------------------------------------------------------------------------- messages


def short_text(text: str, limit: int = 40) -> str:
    """Return ``text`` cut to ``limit`` characters for a message."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(value: Any) -> str:
    """Name a value's type for a message: "a boolean (true)", "the string 'x'", "a list"."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {short_text(value)!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"
