"""Turn a topology file's text into plain Python values plus a key path -> line index.

This module knows file formats, not the topology schema: it reads bytes safely, parses YAML,
TOML or JSON, rejects duplicate keys, and records the 1-based line of every key path it sees
(``services.web.replicas``, ``services.web.environments[1]``). :mod:`planner.topology` validates
the values.

YAML is read from libyaml's event stream rather than from ``yaml.compose``: PyYAML's C composer
recurses once per nesting level and kills the interpreter (a segfault, not a RecursionError) on
100,000 nested ``[``, and its node tree costs more than the events. Walking the events
iteratively caps depth and alias expansion as we go, and gives every key its line.
"""

from __future__ import annotations

import gc
import json
import re
import stat
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import yaml
from yaml import events as ev
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from planner.errors import InputError, Problem

MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 2_000_000  # every node walked, aliases included
MAX_ALIAS_NODES = 200_000  # nodes re-walked through aliases ("billion laughs")

FORMATS: dict[str, str] = {".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".json": "json"}

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_YAML_TAG = "tag:yaml.org,2002:"
_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_NULL = "tag:yaml.org,2002:null"
_MAP_TAGS = (None, "!", "tag:yaml.org,2002:map")
_SEQ_TAGS = (None, "!", "tag:yaml.org,2002:seq")
_SCALAR_TAGS = {
    "tag:yaml.org,2002:" + t for t in ("str", "int", "float", "bool", "null", "timestamp", "binary")
}


@dataclass
class ParsedFile:
    """A file's values, the line of every key path, and non-fatal problems (duplicates, tags)."""

    data: dict[str, Any]
    lines: dict[str, int]
    problems: list[Problem] = field(default_factory=list)


class _Fatal(Exception):
    """Stop parsing: the file cannot be read any further."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def join_path(path: str, key: str) -> str:
    """Return the key path of ``key`` inside ``path`` (dot-joined; no dot at the top)."""
    return f"{path}.{key}" if path else key


# --------------------------------------------------------------------------- reading


def detect_format(filename: str, fmt: str | None) -> str:
    """Return "yaml", "toml" or "json" for ``fmt`` or, if None, for the filename's suffix."""
    if fmt is not None:
        if fmt.lower() in ("yaml", "toml", "json"):
            return fmt.lower()
        raise InputError(Problem(filename, "", f"unknown format {fmt!r}", hint="use yaml, toml or json"))
    suffix = Path(filename).suffix.lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    what = f"suffix {suffix!r}" if suffix else "no suffix"
    raise InputError(
        Problem(
            filename,
            "",
            f"cannot tell the file format: {what}",
            hint="name the file .yaml, .yml, .toml or .json",
        )
    )


def read_text(path: Path) -> str:
    """Read a topology file as UTF-8 text, refusing what is not one (raises InputError)."""
    name = str(path)

    def fail(message: str, hint: str | None = None, line: int | None = None) -> InputError:
        return InputError(Problem(name, "", message, line=line, hint=hint))

    try:
        st = path.stat()
    except FileNotFoundError:
        raise fail("file not found", "check the path") from None
    except OSError as e:
        raise fail(f"cannot read the file: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise fail("is a directory, not a topology file", "give the path of a .yaml, .toml or .json file")
    if not stat.S_ISREG(st.st_mode):
        raise fail("not a regular file", "give the path of a .yaml, .toml or .json file")
    if st.st_size > MAX_FILE_BYTES:
        raise fail(
            f"file is too large ({st.st_size / 2**20:.1f} MiB; the limit is {MAX_FILE_BYTES // 2**20} MiB)",
            "a topology is a few kilobytes: check that this is the right file",
        )
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise fail(f"cannot read the file: {e.strerror or e}") from None
    if len(data) > MAX_FILE_BYTES:
        raise fail(f"file is larger than {MAX_FILE_BYTES // 2**20} MiB")
    return decode_bytes(data, name)


def decode_bytes(data: bytes, filename: str) -> str:
    """Decode file bytes as UTF-8 (a BOM is allowed); binary or other encodings raise InputError."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(
            Problem(filename, "", "file is UTF-16, not UTF-8", hint="save the file as UTF-8")
        )
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise InputError(
            Problem(filename, "", "binary file (contains NUL bytes), not a topology", line=line,
                    hint="give the path of a .yaml, .toml or .json text file")
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise InputError(
            Problem(filename, "", f"not valid UTF-8: byte 0x{data[e.start]:02X} at column {column}",
                    line=line, hint="save the file as UTF-8")
        ) from None
    return text.removeprefix("\ufeff")


# --------------------------------------------------------------------------- dispatch


def parse_text(text: str, filename: str, fmt: str) -> ParsedFile:
    """Parse ``text`` in format ``fmt`` into a mapping and its key lines (raises InputError)."""
    if not text.strip():
        raise InputError(_empty(filename))
    try:
        with gc_paused():
            if fmt == "yaml":
                data, lines, problems = _parse_yaml(text, filename)
            elif fmt == "toml":
                data, lines, problems = _parse_toml(text, filename)
            else:
                data, lines, problems = _parse_json(text, filename)
    except _Fatal as e:
        raise InputError(e.problem) from None
    if data is None:
        raise InputError(_empty(filename))
    if not isinstance(data, dict):
        raise InputError(
            Problem(filename, "", f"the top level must be a mapping of keys, not {describe(data)}",
                    line=1, hint="start the file with `version: 1`, then databases and services")
        )
    return ParsedFile(data, lines, problems)


def _empty(filename: str) -> Problem:
    return Problem(filename, "", "file is empty",
                   hint="a topology needs at least `version: 1`, databases and services")


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


# --------------------------------------------------------------------------- YAML

_YAML_HINTS = (
    ("cannot start any token", "quote a value that starts with @ or `"),
    ("mapping values are not allowed", "check the indentation of this line, or quote a value "
                                       "that contains ': '"),
    ("could not find expected ':'", "each key needs `key: value`; check this line and the one before"),
    ("did not find expected key", "check the indentation: keys of one mapping line up"),
    ("did not find expected '-'", "check the indentation: items of one list line up"),
    ("found unexpected end of stream", "close the quote or bracket that is still open"),
)


def _yaml_syntax_problem(e: yaml.YAMLError, filename: str, text: str) -> Problem:
    if isinstance(e, yaml.MarkedYAMLError) and e.problem_mark is not None:
        mark = e.problem_mark
        what = e.problem or "syntax error"
        if e.context:
            what = f"{what}, {e.context}"
        lines = text.split("\n", mark.line + 1)
        if mark.line < len(lines) and lines[mark.line][mark.column:mark.column + 1] == "\t":
            hint: str | None = "indent with spaces: YAML does not allow tabs"
        else:
            hint = next((h for key, h in _YAML_HINTS if key in what), None)
        return Problem(filename, "", f"invalid YAML at column {mark.column + 1}: {what}",
                       line=mark.line + 1, hint=hint or f"fix the YAML syntax on line {mark.line + 1}")
    position = getattr(e, "position", None)
    reason = getattr(e, "reason", None)
    if isinstance(position, int) and reason:
        line = text.count("\n", 0, position) + 1
        character = getattr(e, "character", None)
        code = f" U+{character:04X}" if isinstance(character, int) else ""
        return Problem(filename, "", f"invalid YAML: character{code} is not allowed: {reason}",
                       line=line, hint="remove the control character")
    return Problem(filename, "", f"invalid YAML: {e}", hint="fix the YAML syntax")


class _Frame:
    """An open mapping or sequence while reading YAML events."""

    __slots__ = ("is_map", "path", "value", "line", "anchor", "first_entry", "first_node",
                 "key", "seen", "merges", "merge_items", "is_key")

    def __init__(self, is_map: bool, path: str, line: int, anchor: str | None,
                 first_entry: int, first_node: int, merge_items: bool = False) -> None:
        self.is_map = is_map
        self.path = path
        self.value: Any = {} if is_map else []
        self.line = line
        self.anchor = anchor
        self.first_entry = first_entry
        self.first_node = first_node
        self.key: Any = None  # mapping: the pending key (None: expecting a key)
        self.seen: dict[str, int] = {}  # mapping: explicit keys -> line
        self.merges: list[dict[str, Any]] = []  # mapping: values of `<<`
        self.merge_items = merge_items  # sequence: the value of `<<`; items are merged mappings
        self.is_key = False  # a list or mapping used as a mapping key: reported, then dropped


_MERGE = object()  # pending key: `<<`
_SKIP = object()  # pending key: an invalid key, drop its value


class _YamlReader:
    """Build plain values and key lines from libyaml events, iteratively and with limits."""

    def __init__(self, text: str, filename: str) -> None:
        self.text = text
        self.filename = filename
        self.entries: list[tuple[str, int]] = []
        self.problems: list[Problem] = []
        self.anchors: dict[str, tuple[Any, list[tuple[str, int]], int]] = {}
        self.nodes = 0
        self.alias_nodes = 0
        self.resolver = Resolver()
        self.constructor = SafeConstructor()
        self.plain_cache: dict[str, Any] = {}

    def fatal(self, line: int | None, message: str, hint: str) -> _Fatal:
        return _Fatal(Problem(self.filename, "", message, line=line, hint=hint))

    def read(self) -> Any:
        loader = None
        try:
            loader = _Loader(self.text)  # the pure-Python reader checks characters here
            return self._run(loader)
        except yaml.YAMLError as e:
            raise _Fatal(_yaml_syntax_problem(e, self.filename, self.text)) from None
        except RecursionError:  # not expected: we never recurse, but never a traceback
            raise self.fatal(None, "YAML nested too deeply", f"nest at most {MAX_DEPTH} levels") from None
        finally:
            if loader is not None:
                loader.dispose()

    def _run(self, loader: Any) -> Any:
        stack: list[_Frame] = []
        entries = self.entries
        root: Any = None
        documents = 0
        get_event = loader.get_event
        cache = self.plain_cache
        scalar_event = ev.ScalarEvent
        while True:
            event = get_event()
            cls = event.__class__
            if cls is scalar_event and stack and event.anchor is None and event.tag is None:
                # fast paths for the bulk of a file: a plain key, or a value under a plain key
                top = stack[-1]
                if top.is_map:
                    key = top.key
                    text = event.value
                    if key is None and text != "<<" and text not in top.seen:
                        line = event.start_mark.line + 1
                        top.seen[text] = line
                        top.key = text
                        entries.append((f"{top.path}.{text}" if top.path else text, line))
                        self.nodes += 1
                        continue
                    if key.__class__ is str:
                        if event.implicit[0]:
                            value = cache.get(text, _SKIP)
                            if value is _SKIP:
                                value = self._scalar(event, event.start_mark.line + 1,
                                                     f"{top.path}.{key}" if top.path else key)
                        else:
                            value = text
                        top.value[key] = value
                        top.key = None
                        self.nodes += 1
                        continue
            if cls is ev.ScalarEvent or cls is ev.AliasEvent:
                self.nodes += 1
                line = event.start_mark.line + 1
                parent = stack[-1] if stack else None
                if parent is not None and parent.is_map and parent.key is None:
                    self._key(parent, event, line)
                    continue
                path = self._child_path(parent, line)
                if cls is ev.ScalarEvent:
                    value = self._scalar(event, line, path)
                    if event.anchor is not None:
                        self.anchors[event.anchor] = (value, [], 1)
                else:
                    value = self._alias(event, path, line)
                if parent is None:
                    root = value
                else:
                    self._deliver(parent, value, line)
            elif cls is ev.MappingStartEvent or cls is ev.SequenceStartEvent:
                self.nodes += 1
                line = event.start_mark.line + 1
                if len(stack) >= MAX_DEPTH:
                    raise self.fatal(line, f"nested more than {MAX_DEPTH} levels deep",
                                     "a topology needs a handful of levels: check the structure")
                parent = stack[-1] if stack else None
                is_map = cls is ev.MappingStartEvent
                is_key = parent is not None and parent.is_map and parent.key is None
                if is_key:
                    parent.key = _SKIP  # drop the value that follows
                    self._problem(line, "a mapping key must be plain text, not a list or mapping",
                                  "write the key as a plain word", parent.path)
                    path = join_path(parent.path, "?")
                else:
                    path = self._child_path(parent, line)
                if event.tag not in (_MAP_TAGS if is_map else _SEQ_TAGS):
                    self._problem(line, f"unsupported YAML tag {_show_tag(event.tag)}", "remove the tag", path)
                merge_items = parent is not None and parent.is_map and parent.key is _MERGE and not is_map
                frame = _Frame(is_map, path, line, event.anchor, len(entries), self.nodes, merge_items)
                frame.is_key = is_key
                stack.append(frame)
            elif cls is ev.MappingEndEvent or cls is ev.SequenceEndEvent:
                frame = stack.pop()
                value = self._finish(frame)
                if frame.is_key:
                    continue
                if stack:
                    self._deliver(stack[-1], value, frame.line)
                else:
                    root = value
            elif cls is ev.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise self.fatal(event.start_mark.line + 1, "more than one YAML document in the file",
                                     "remove the `---` separator: one topology per file")
            elif cls is ev.StreamEndEvent:
                return root
            if self.nodes > MAX_NODES:
                raise self.fatal(None, f"too many nodes (more than {MAX_NODES:,})",
                                 "a topology has hundreds of keys, not millions: check the file")

    def _problem(self, line: int | None, message: str, hint: str, path: str = "") -> None:
        self.problems.append(Problem(self.filename, path, message, line=line, hint=hint))

    def _child_path(self, parent: _Frame | None, line: int) -> str:
        """Return the key path of a node starting now, and record a list item's line."""
        if parent is None:
            return ""
        if parent.is_map:
            key = parent.key
            if key is _MERGE:
                return parent.path
            if key is _SKIP:
                return join_path(parent.path, "?")
            return join_path(parent.path, key)
        if parent.merge_items:
            return parent.path
        path = f"{parent.path}[{len(parent.value)}]"
        self.entries.append((path, line))
        return path

    def _key(self, frame: _Frame, event: Any, line: int) -> None:
        if event.__class__ is ev.AliasEvent:
            value = self.anchors.get(event.anchor, (None,))[0]
            if not isinstance(value, str):
                frame.key = _SKIP
                self._problem(line, "a mapping key must be plain text, not an alias",
                              "write the key as a plain word", frame.path)
                return
            key = value
        else:
            key = event.value
            if event.anchor is not None:
                self.anchors[event.anchor] = (key, [], 1)
            if key == "<<" and event.tag is None and event.implicit[0]:
                if "<<" in frame.seen:
                    self._duplicate(frame, key, line)
                frame.seen["<<"] = line
                frame.key = _MERGE
                return
        if key in frame.seen:
            self._duplicate(frame, key, line)
        frame.seen[key] = line
        frame.key = key
        self.entries.append((join_path(frame.path, key), line))

    def _duplicate(self, frame: _Frame, key: str, line: int) -> None:
        first = frame.seen[key]
        self._problem(line, f"duplicate key {key!r} (first at line {first})",
                      "remove one of the two: YAML readers silently keep only the last",
                      join_path(frame.path, key))

    def _deliver(self, frame: _Frame, value: Any, line: int) -> None:
        if not frame.is_map:
            frame.value.append(value)
            return
        key = frame.key
        frame.key = None
        if key is _SKIP:
            return
        if key is _MERGE:
            self._merge(frame, value, line)
            return
        frame.value[key] = value

    def _merge(self, frame: _Frame, value: Any, line: int) -> None:
        """Collect the value of `<<`: a mapping or a list of mappings (the first listed wins)."""
        items = value if isinstance(value, list) else [value]
        if not all(isinstance(item, dict) for item in items):
            self._problem(line, "the merge key '<<' needs a mapping or a list of mappings",
                          "write `<<: *anchor` where &anchor names a mapping", join_path(frame.path, "<<"))
            return
        frame.merges.extend(items)

    def _finish(self, frame: _Frame) -> Any:
        value = frame.value
        if frame.merges:
            merged: dict[str, Any] = {}
            for item in reversed(frame.merges):
                merged.update(item)
            merged.update(value)
            value = merged
            # explicit keys win over merged ones, for their lines too
            self.entries.extend((join_path(frame.path, k), ln) for k, ln in frame.seen.items() if k != "<<")
        if frame.anchor is not None:
            cut = len(frame.path)
            relative = [(p[cut:], ln) for p, ln in self.entries[frame.first_entry:]]
            self.anchors[frame.anchor] = (value, relative, self.nodes - frame.first_node + 1)
        return value

    def _alias(self, event: Any, path: str, line: int) -> Any:
        anchored = self.anchors.get(event.anchor)
        if anchored is None:
            raise self.fatal(line, f"alias *{event.anchor} names no anchor defined before it",
                             f"define &{event.anchor} earlier in the file; an alias cannot refer "
                             "to the node that contains it")
        value, relative, count = anchored
        self.alias_nodes += count
        self.nodes += count - 1
        if self.alias_nodes > MAX_ALIAS_NODES:
            raise self.fatal(line, f"too many nodes (alias expansion?): aliases expand to more than "
                             f"{MAX_ALIAS_NODES:,} nodes", "use fewer, smaller aliases")
        if relative:
            self.entries.extend((path + rel, ln) for rel, ln in relative)
        return value

    def _scalar(self, event: Any, line: int, path: str) -> Any:
        """Return a scalar's value by its resolved tag: plain `16` is an int, `"16"` a str."""
        tag = event.tag
        value = event.value
        if tag is None:
            if not event.implicit[0]:
                return value
            cached = self.plain_cache.get(value, _SKIP)
            if cached is not _SKIP:
                return cached
            problems = len(self.problems)
            resolved = self._construct(self.resolver.resolve(ScalarNode, value, (True, False)), value, line, path)
            if len(self.problems) == problems:
                self.plain_cache[value] = resolved
            return resolved
        if tag == "!" or tag == _STR:
            return value
        if tag not in _SCALAR_TAGS:
            self._problem(line, f"unsupported YAML tag {_show_tag(tag)}", "remove the tag", path)
            return value
        return self._construct(tag, value, line, path)

    def _construct(self, tag: str, value: str, line: int, path: str) -> Any:
        if tag == _STR:
            return value
        if tag == _NULL:
            return None
        method = self.constructor.yaml_constructors.get(tag)
        if method is None:  # the resolver's `<<` and `=` in value position: plain text
            return value
        try:
            if tag == _INT and value.isdigit() and (value[0] != "0" or value == "0"):
                return int(value)
            return method(self.constructor, ScalarNode(tag, value))
        except (ValueError, yaml.YAMLError) as e:
            self._problem(line, f"cannot read {short_text(value)!r} as {_show_tag(tag)}: {e}",
                          "fix the value, or remove the tag", path)
            return value


def _show_tag(tag: str) -> str:
    return "!!" + tag[len(_YAML_TAG):] if tag.startswith(_YAML_TAG) else tag


def _parse_yaml(text: str, filename: str) -> tuple[Any, dict[str, int], list[Problem]]:
    reader = _YamlReader(text, filename)
    data = reader.read()
    return data, dict(reader.entries), reader.problems


# --------------------------------------------------------------------------- TOML and JSON


def _index_plain(data: Any, found: dict[str, int], filename: str) -> dict[str, int]:
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
            raise _Fatal(Problem(filename, "", f"too many nodes (more than {MAX_NODES:,})",
                                 hint="a topology has hundreds of keys, not millions: check the file"))
        if isinstance(value, dict):
            items: Any = ((join_path(path, k), v) for k, v in value.items())
        elif isinstance(value, list):
            items = ((f"{path}[{i}]", v) for i, v in enumerate(value))
        else:
            continue
        if depth > MAX_DEPTH:
            raise _Fatal(Problem(filename, path, f"nested more than {MAX_DEPTH} levels deep", line=line,
                                 hint="a topology needs a handful of levels: check the structure"))
        for child_path, child in items:
            child_line = found.get(child_path, line)
            lines[child_path] = child_line
            stack.append((child, child_path, child_line, depth + 1))
    return lines


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


def _parse_toml(text: str, filename: str) -> tuple[Any, dict[str, int], list[Problem]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        message = str(e)
        at = _TOML_ERROR_AT.search(message)
        line = int(at.group(1)) if at else None
        if at:
            message = f"{message[:at.start()]} at column {at.group(2)}"
        raise _Fatal(Problem(filename, "", f"invalid TOML: {message}", line=line,
                             hint="fix the TOML syntax" + (f" on line {line}" if line else ""))) from None
    except RecursionError:
        raise _Fatal(Problem(filename, "", "TOML nested too deeply",
                             hint=f"nest at most {MAX_DEPTH} levels")) from None
    except ValueError as e:  # e.g. an integer with thousands of digits
        raise _Fatal(Problem(filename, "", f"invalid TOML: {e}", hint="fix the value")) from None
    return data, _index_plain(data, _scan_toml(text), filename), []


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


def _parse_json(text: str, filename: str) -> tuple[Any, dict[str, int], list[Problem]]:
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
        raise _Fatal(Problem(filename, "", f"invalid JSON: {e} is not a JSON number", line=line,
                             hint="write a finite number")) from None
    except json.JSONDecodeError as e:
        hint = "fix the JSON syntax"
        if "property name" in e.msg or "Expecting value" in e.msg:
            hint += ": JSON allows no trailing commas, comments or single quotes"
        raise _Fatal(Problem(filename, "", f"invalid JSON at column {e.colno}: {e.msg}",
                             line=e.lineno, hint=hint)) from None
    except RecursionError:
        raise _Fatal(Problem(filename, "", "JSON nested too deeply",
                             hint=f"nest at most {MAX_DEPTH} levels")) from None
    except ValueError as e:  # e.g. an integer with thousands of digits
        raise _Fatal(Problem(filename, "", f"invalid JSON: {e}", hint="fix the value")) from None
    found, problems = _scan_json(text, filename)
    lines = _index_plain(data, found, filename)
    if duplicates and not problems:
        problems = [Problem(filename, "", f"duplicate key {duplicates[0]!r}", hint="remove one of the two")]
    return data, lines, problems

