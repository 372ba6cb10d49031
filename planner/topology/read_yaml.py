"""Read YAML topology files from libyaml's event stream, with key lines and resource limits.

:func:`parse_yaml` returns plain Python values, the 1-based line of every key path and the
non-fatal problems (duplicate keys, unsupported tags, invalid keys); a file that cannot be read
further raises :class:`~planner.topology.parsed.StopParsing`.

YAML is read from libyaml's event stream rather than from ``yaml.compose``: PyYAML's C composer
recurses once per nesting level and kills the interpreter (a segfault, not a RecursionError) on
100,000 nested ``[``, and its node tree costs more than the events. Walking the events
iteratively caps depth and alias expansion as we go, and gives every key its line.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml import events as ev
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from planner.errors import Problem
from planner.topology.parsed import (
    MAX_ALIAS_NODES,
    MAX_DEPTH,
    MAX_NODES,
    ParseResult,
    StopParsing,
    join_path,
    parser_recursed,
    short_text,
    too_deep,
    too_many_nodes,
)

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


def _is_depth_limit(e: yaml.YAMLError) -> bool:
    """Return whether PyYAML itself refused the document for being nested too deeply."""
    return "nesting depth" in str(getattr(e, "problem", "") or "")


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

    def fatal(self, line: int | None, message: str, hint: str) -> StopParsing:
        """Return the stop for a problem that ends reading the file."""
        return StopParsing(Problem(self.filename, "", message, line=line, hint=hint))

    def read(self) -> Any:
        """Return the document's value; syntax errors and limits raise StopParsing."""
        loader = None
        try:
            loader = _Loader(self.text)  # the pure-Python reader checks characters here
            return self._run(loader)
        except yaml.YAMLError as e:
            if _is_depth_limit(e):
                # PyYAML 6.0.4+ stops at 1000 open flow levels while scanning ahead, before our own
                # (lower) depth limit sees the events: the same problem, reported in our words.
                mark = getattr(e, "problem_mark", None)
                raise too_deep(self.filename, mark.line + 1 if mark is not None else None) from None
            raise StopParsing(_yaml_syntax_problem(e, self.filename, self.text)) from None
        except RecursionError:  # not expected: we never recurse, but never a traceback
            raise parser_recursed(self.filename, "YAML") from None
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
                    raise too_deep(self.filename, line)
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
                    # fatal: reading on would report the tagged value again as a wrong type
                    raise StopParsing(Problem(self.filename, path, f"unsupported YAML tag {_show_tag(event.tag)}",
                                              line=line, hint="remove the tag"))
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
                raise too_many_nodes(self.filename)

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


def parse_yaml(text: str, filename: str) -> ParseResult:
    """Parse YAML ``text`` into its value, key path -> line and non-fatal problems."""
    reader = _YamlReader(text, filename)
    data = reader.read()
    return data, dict(reader.entries), reader.problems

