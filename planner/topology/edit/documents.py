"""The edited file as a document of one format: the shared part, TOML (tomlkit) and JSON (the standard library)."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping, MutableMapping
from difflib import SequenceMatcher
from typing import Any, Sequence

from planner.errors import InputError, Problem
from planner.topology.edit.lines import merge_lines
from planner.topology.values import is_int, is_number

MISSING: Any = object()  # a key the file does not write


class Document:
    """One file's values as its format's library holds them: edited in place, then rendered back."""

    def __init__(self, text: str, filename: str, *, copy_shared: bool = False) -> None:
        self.text = text
        self.filename = filename
        self.root: MutableMapping[str, Any] = {}
        self.copy_shared = copy_shared  # change a copy of a node shared through anchors, not the node
        self.shared_touched = False  # whether an edit reached a node shared through anchors
        # set when an edit had to work around YAML anchors: if the result does not read back, refuse with it
        self.refusal: Problem | None = None

    def cannot(self, path: str, message: str, hint: str) -> InputError:
        """Return the one-line refusal of an edit this file's structure does not allow."""
        return InputError(Problem(self.filename, path, message, hint=hint))

    # ---------------------------------------------------------------- what every format shares

    def is_map(self, value: Any) -> bool:
        """Return whether ``value`` is a mapping of this document."""
        return isinstance(value, Mapping)

    def set(self, parent: MutableMapping[str, Any], key: str, value: Any, order: Sequence[str], path: str) -> None:
        """Set ``parent[key]`` to a plain value, in the style of the value it replaces (new keys in ``order``)."""
        old = parent.get(key, MISSING)
        if old is not MISSING and type(value) is not bool and not isinstance(value, (dict, list)) and _same_scalar(old, value):
            return  # already says so: leave its text alone
        new = self.convert(value, old, inline=True)
        if old is MISSING:
            self.insert(parent, key, new, order)
        else:
            self.replace(parent, key, new)

    def set_list(self, parent: MutableMapping[str, Any], key: str, items: list[Any], order: Sequence[str], path: str) -> None:
        """Make ``parent[key]`` the list ``items``, changing only the items that differ."""
        old = parent.get(key, MISSING)
        if not isinstance(old, list):
            self.set(parent, key, items, order, path)
            return
        current = self.writable(parent, key, path)
        matcher = SequenceMatcher(None, [str(v) for v in current], [str(v) for v in items], autojunk=False)
        for tag, i1, i2, j1, j2 in reversed(matcher.get_opcodes()):
            if tag == "equal":
                continue
            for i in reversed(range(i1, i2)):
                self.remove_item(current, i)
            for offset, item in enumerate(items[j1:j2]):
                self.insert_item(current, i1 + offset, self.convert(item, MISSING, inline=True))

    def child_map(self, parent: MutableMapping[str, Any], key: str, path: str, *, inline: bool,
                  order: Sequence[str]) -> MutableMapping[str, Any]:
        """Return the mapping at ``parent[key]`` ready to be changed, made (empty) if the file has none there."""
        if self.is_map(parent.get(key)):
            return self.writable(parent, key, path)
        new = self.empty_map(inline=inline, top=parent is self.root)
        if key in parent:
            self.replace(parent, key, new)
        else:
            self.insert(parent, key, new, order)
        return parent[key]

    def new_entry(self, section: MutableMapping[str, Any], name: str, body: Mapping[str, Any], path: str) -> None:
        """Add an entry to a section, in the style of the entries already there."""
        self.insert(section, name, self.entry_value(section, body), ())

    def replace_entry(self, section: MutableMapping[str, Any], name: str, body: Mapping[str, Any], path: str) -> None:
        """Write an entry anew where it stands (its kind changed: none of its keys carry over)."""
        self.writable(section, name, path)  # refuses what anchors make impossible
        self.replace(section, name, self.entry_value(section, body))

    # ---------------------------------------------------------------- what each format does its way

    def writable(self, parent: MutableMapping[str, Any], key: str, path: str) -> Any:
        """Return ``parent[key]``, safe to change without changing anything else."""
        return parent[key]

    def delete(self, parent: MutableMapping[str, Any], key: str, path: str) -> None:
        """Remove ``key`` from ``parent`` if it is there."""
        if key in parent:
            del parent[key]

    def insert(self, parent: MutableMapping[str, Any], key: str, value: Any, order: Sequence[str]) -> None:
        """Add a new key, after the keys that come before it in ``order``."""
        parent[key] = value

    def replace(self, parent: MutableMapping[str, Any], key: str, value: Any) -> None:
        """Replace the value of an existing key, where it stands."""
        parent[key] = value

    def insert_item(self, items: list[Any], index: int, value: Any) -> None:
        """Insert an item into a list."""
        items.insert(index, value)

    def remove_item(self, items: list[Any], index: int) -> None:
        """Remove an item from a list."""
        del items[index]

    def empty_map(self, *, inline: bool, top: bool = False) -> Any:
        """Return a new, empty mapping (flow/inline style for nested values)."""
        return {}

    def convert(self, value: Any, old: Any, *, inline: bool) -> Any:
        """Return a plain value as this format's value, in the style of ``old`` (the value it replaces)."""
        return copy.deepcopy(value)

    def entry_value(self, section: MutableMapping[str, Any], body: Mapping[str, Any]) -> Any:
        """Return a new entry's value, in the style of its siblings."""
        return self.convert(dict(body), MISSING, inline=False)

    def render(self) -> list[str]:
        """Return the edited text, best candidate first (each is checked by reading it back)."""
        raise NotImplementedError


def _same_scalar(old: Any, new: Any) -> bool:
    """Return whether an existing scalar already holds ``new`` (an int is not a str, nor a bool an int)."""
    if isinstance(old, bool) or isinstance(new, bool):
        return False
    if isinstance(new, str):
        return isinstance(old, str) and str(old) == new
    if is_number(new) and is_number(old):
        return old == new and is_int(old) == is_int(new)
    return False


def ordered_position(keys: Sequence[str], key: str, order: Sequence[str]) -> int:
    """Return where ``key`` goes among ``keys``: after the last one that ``order`` puts before it."""
    if key not in order:
        return len(keys)
    rank = {k: i for i, k in enumerate(order)}
    mine = rank[key]
    position = None
    for i, existing in enumerate(keys):
        if existing in rank and rank[existing] < mine:
            position = i + 1
    if position is not None:
        return position
    return next((i for i, existing in enumerate(keys) if rank.get(existing, -1) > mine), len(keys))


class TomlDocument(Document):
    """TOML through tomlkit, which keeps comments, whitespace, table layout and string styles."""

    def __init__(self, text: str, filename: str, *, copy_shared: bool = False) -> None:
        super().__init__(text, filename)
        import tomlkit

        try:
            self.root = tomlkit.parse(text)
        except Exception as e:  # tomlkit's parse errors: a file it reads differently from planner
            raise self.cannot("", f"cannot edit this TOML file in place ({e})",
                              "apply the option by hand") from None

    def _inline_parent(self, parent: Any) -> bool:
        from tomlkit.items import InlineTable

        return isinstance(parent, InlineTable)

    def child_map(self, parent: MutableMapping[str, Any], key: str, path: str, *, inline: bool,
                  order: Sequence[str]) -> MutableMapping[str, Any]:
        return super().child_map(parent, key, path, inline=inline or self._inline_parent(parent), order=order)

    def empty_map(self, *, inline: bool, top: bool = False) -> Any:
        import tomlkit

        if inline:
            return tomlkit.inline_table()
        return tomlkit.table(is_super_table=top)  # a new section: `[poolers.x]` headers, no bare `[poolers]`

    def convert(self, value: Any, old: Any, *, inline: bool) -> Any:
        import tomlkit
        from tomlkit.items import String

        if isinstance(value, dict):
            table = tomlkit.inline_table() if inline else tomlkit.table()
            for k, v in value.items():
                table[k] = self.convert(v, MISSING, inline=True)
            return table
        if isinstance(value, (list, tuple)):
            array = tomlkit.array()
            array.extend(self.convert(v, MISSING, inline=True) for v in value)
            return array
        if isinstance(value, str):
            literal = isinstance(old, String) and old.as_string().startswith("'") and "'" not in value
            return tomlkit.string(value, literal=literal)
        return value

    def entry_value(self, section: MutableMapping[str, Any], body: Mapping[str, Any]) -> Any:
        from tomlkit.items import InlineTable

        siblings = [v for v in section.values() if self.is_map(v)]
        inline = self._inline_parent(section) or (bool(siblings) and all(isinstance(s, InlineTable) for s in siblings))
        return self.convert(dict(body), MISSING, inline=inline)

    def render(self) -> list[str]:
        import tomlkit

        return [tomlkit.dumps(self.root)]


class JsonDocument(Document):
    """JSON with the standard library: key order kept, written with the file's own indentation."""

    def __init__(self, text: str, filename: str, *, copy_shared: bool = False) -> None:
        super().__init__(text, filename)
        try:
            self.root = json.loads(text)
        except ValueError as e:
            raise self.cannot("", f"cannot edit this JSON file in place ({e})", "apply the option by hand") from None
        match = re.search(r"^([ \t]+)\S", text, re.MULTILINE)
        self.indent: str | int | None = (match.group(1) if "\t" in match.group(1) else len(match.group(1))) if match else None

    def insert(self, parent: MutableMapping[str, Any], key: str, value: Any, order: Sequence[str]) -> None:
        items = list(parent.items())
        items.insert(ordered_position([k for k, _ in items], key, order), (key, value))
        parent.clear()
        parent.update(items)

    def _dump(self, data: Any) -> str:
        return json.dumps(data, indent=self.indent, ensure_ascii=False) + "\n"

    def render(self) -> list[str]:
        edited = self._dump(self.root)
        merged = merge_lines(self.text, self._dump(json.loads(self.text)), edited)
        return [t for t in (merged, edited) if t is not None]
