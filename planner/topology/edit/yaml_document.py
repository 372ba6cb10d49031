"""A YAML topology file as ruamel.yaml's round-trip document: comments, anchors and flow style kept."""

from __future__ import annotations

import copy
import io
from collections import Counter
from collections.abc import Mapping, MutableMapping
from typing import Any, Sequence

from planner.errors import Problem
from planner.topology.edit.documents import MISSING, Document, ordered_position
from planner.topology.edit.lines import merge_lines


class YamlDocument(Document):
    """YAML through ruamel.yaml's round-trip mode: comments, order, quotes, flow style and anchors kept."""

    def __init__(self, text: str, filename: str, *, copy_shared: bool = False) -> None:
        super().__init__(text, filename, copy_shared=copy_shared)
        from ruamel.yaml.util import load_yaml_guess_indent

        try:
            _, indent, sequence_dash = load_yaml_guess_indent(text)
            self.yaml = self._yaml(indent or 2, sequence_dash or 0)
            self.root = self.yaml.load(text)
        except Exception as e:  # ruamel's many error classes: a file it reads differently from planner
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise self.cannot("", f"cannot edit this YAML file in place ({first})",
                              "apply the option by hand, or simplify the file's YAML") from None
        self._counts: Counter[int] | None = None
        self._pending: list[tuple[Any, Any, str]] = []  # comment lines waiting for an empty section to fill

    @staticmethod
    def _yaml(indent: int, dash: int) -> Any:
        from ruamel.yaml import YAML

        yaml = YAML(typ="rt")
        yaml.preserve_quotes = True
        yaml.width = 4096  # never fold a long line the user wrote on one line
        yaml.indent(mapping=indent, sequence=max(indent, dash + 2), offset=dash)
        return yaml

    # ---------------------------------------------------------------- anchors

    def _references(self) -> Counter[int]:
        """Return how many places refer to each mapping and list (more than one: shared by an anchor)."""
        if self._counts is None:
            counts: Counter[int] = Counter()
            seen = {id(self.root)}
            stack: list[Any] = [self.root]
            while stack:
                node = stack.pop()
                children = list(node.values()) if isinstance(node, dict) else list(node)
                if isinstance(node, dict):  # a `<<: *base` merge refers to base too
                    children += _merged_maps(node)
                for child in children:
                    if isinstance(child, (dict, list)):
                        counts[id(child)] += 1
                        if id(child) not in seen:
                            seen.add(id(child))
                            stack.append(child)
            self._counts = counts
        return self._counts

    def _shared(self, value: Any) -> bool:
        return isinstance(value, (dict, list)) and self._references()[id(value)] > 1

    def writable(self, parent: MutableMapping[str, Any], key: str, path: str) -> Any:
        value = parent[key]
        if self._shared(value):
            self.shared_touched = True
            if not self.copy_shared:
                return value
            # shared through an anchor (an alias, or a `<<` merge): change a copy of it here only
            value = copy.deepcopy(value)
            anchor = getattr(value, "anchor", None)
            if anchor is not None:
                anchor.value = None
                anchor.always_dump = False
            parent[key] = value
            self._counts = None
            self.refusal = Problem(
                self.filename, path, "is shared through a YAML anchor, and planner could not change it here alone",
                hint="write this entry out without the alias, or apply the option by hand")
        return value

    def delete(self, parent: MutableMapping[str, Any], key: str, path: str) -> None:
        if key not in parent:
            return
        if any(key in merged for merged in _merged_maps(parent)):
            raise self.cannot(path, "comes from a YAML merge (`<<: *anchor`), so it cannot be removed here",
                              "write this entry out without the merge key, or apply the option by hand")
        keys = list(parent)
        following = self._detach_following(parent, key)
        del parent[key]
        if following and keys.index(key) > 0:
            self._attach_following(parent, keys[keys.index(key) - 1], following)

    # ---------------------------------------------------------------- comments between entries
    #
    # ruamel keeps the comment lines that stand between two entries with the *first* one (after its
    # end-of-line comment). A key added after an entry would come after those lines, away from the
    # entry they describe: they move to the new key, so they still come right before what follows.

    @staticmethod
    def _last_nodes(container: Any, key: Any) -> list[tuple[Any, Any]]:
        """Return (container, key) down to the last scalar or flow node of ``container[key]``."""
        from ruamel.yaml.comments import CommentedMap, CommentedSeq

        chain = [(container, key)]
        value = container[key]
        while isinstance(value, (CommentedMap, CommentedSeq)) and len(value) and not value.fa.flow_style():
            if isinstance(value, CommentedMap) and _merged_maps(value):
                break  # its last key in the text is not its last key here
            last = list(value)[-1] if isinstance(value, CommentedMap) else len(value) - 1
            chain.append((value, last))
            value = value[last]
        return chain

    @staticmethod
    def _slot(node: Any) -> int:
        from ruamel.yaml.comments import CommentedMap

        return 2 if isinstance(node, CommentedMap) else 0  # where ruamel keeps the comment after a value

    def _detach_following(self, container: Any, key: Any) -> str:
        """Remove and return the comment lines after ``container[key]``'s end-of-line comment."""
        for i, (c, k, following) in enumerate(self._pending):
            if c is container and k == key:
                del self._pending[i]
                return following
        for node, k in reversed(self._last_nodes(container, key)):
            slots = node.ca.items.get(k)
            token = slots[self._slot(node)] if slots else None
            if token is None:
                continue
            head, _, following = token.value.partition("\n")
            if not following:
                return ""
            if head.strip():
                token.value = head + "\n"
            else:
                slots[self._slot(node)] = None
            return following
        return ""

    def _attach_following(self, container: Any, key: Any, following: str) -> None:
        """Put comment lines after ``container[key]`` (and after its end-of-line comment, if any)."""
        from ruamel.yaml.comments import CommentedMap, CommentedSeq
        from ruamel.yaml.error import CommentMark
        from ruamel.yaml.tokens import CommentToken

        value = container[key]
        if isinstance(value, (CommentedMap, CommentedSeq)) and not value and not value.fa.flow_style():
            # a new block section, still empty: its entries come later, and the lines go after them
            self._pending.append((container, key, following))
            return
        node, k = self._last_nodes(container, key)[-1]
        slots = node.ca.items.setdefault(k, [None, None, None, None])
        slot = self._slot(node)
        if slots[slot] is None:
            slots[slot] = CommentToken("\n" + following, CommentMark(0), None)
        else:
            slots[slot].value = slots[slot].value.rstrip("\n") + "\n" + following

    def insert_item(self, items: list[Any], index: int, value: Any) -> None:
        following = self._detach_following(items, index - 1) if index > 0 else ""
        items.insert(index, value)
        if following:
            self._attach_following(items, index, following)

    def remove_item(self, items: list[Any], index: int) -> None:
        following = self._detach_following(items, index)
        del items[index]
        if following and index > 0:
            self._attach_following(items, index - 1, following)

    def replace(self, parent: MutableMapping[str, Any], key: str, value: Any) -> None:
        old = parent[key]
        # the comment lines after a mapping or list it replaces (not one other keys still use) stay
        following = self._detach_following(parent, key) if isinstance(old, (dict, list)) and not self._shared(old) else ""
        parent[key] = value
        if following:
            self._attach_following(parent, key, following)

    # ---------------------------------------------------------------- values

    def insert(self, parent: MutableMapping[str, Any], key: str, value: Any, order: Sequence[str]) -> None:
        from ruamel.yaml.comments import CommentedMap

        if isinstance(parent, CommentedMap):
            if not parent and parent.fa.flow_style() is None:
                parent.fa.set_flow_style()  # `{}` written by the user: keep it on one line
            if not _merged_maps(parent):
                keys = list(parent)
                position = ordered_position(keys, key, order)
                following = self._detach_following(parent, keys[position - 1]) if position > 0 else ""
                parent.insert(position, key, value)
                if following:
                    self._attach_following(parent, key, following)
                return
        parent[key] = value

    def empty_map(self, *, inline: bool, top: bool = False) -> Any:
        from ruamel.yaml.comments import CommentedMap

        mapping = CommentedMap()
        if inline:
            mapping.fa.set_flow_style()
        else:
            mapping.fa.set_block_style()
        return mapping

    def convert(self, value: Any, old: Any, *, inline: bool) -> Any:
        from ruamel.yaml.comments import CommentedMap, CommentedSeq
        from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

        if isinstance(value, dict):
            mapping = CommentedMap()
            for k, v in value.items():
                mapping[k] = self.convert(v, MISSING, inline=True)
            mapping.fa.set_flow_style() if inline else mapping.fa.set_block_style()
            return mapping
        if isinstance(value, (list, tuple)):
            seq = CommentedSeq(self.convert(v, MISSING, inline=True) for v in value)
            block = isinstance(old, CommentedSeq) and old.fa.flow_style() is False
            seq.fa.set_block_style() if block else seq.fa.set_flow_style()
            return seq
        if isinstance(value, str):
            if isinstance(old, (DoubleQuotedScalarString, SingleQuotedScalarString)):
                return type(old)(value)  # quoted before: quoted the same way
            if not _plain_yaml_is_str(value):
                return DoubleQuotedScalarString(value)  # `on`, `16`, `9.4`: planner would not read them as text
            return value
        return value

    def entry_value(self, section: MutableMapping[str, Any], body: Mapping[str, Any]) -> Any:
        from ruamel.yaml.comments import CommentedMap

        siblings = [v for v in section.values() if isinstance(v, CommentedMap)]
        flow = bool(siblings) and all(s.fa.flow_style() for s in siblings)
        return self.convert(dict(body), MISSING, inline=flow)

    def _dump(self, data: Any) -> str:
        out = io.StringIO()
        self.yaml.dump(data, out)
        return out.getvalue()

    def render(self) -> list[str]:
        pending, self._pending = self._pending, []
        for container, key, following in pending:
            if key in container:
                self._attach_following(container, key, following)
        edited = self._dump(self.root)
        # ruamel writes some things its own way (spacing inside `{ }`, an unused anchor, `...`): its
        # rendering of the unchanged file tells which lines those are, so they keep the user's text
        base = self._dump(self.yaml.load(self.text))
        merged = merge_lines(self.text, base, edited)
        return [t for t in (merged, edited) if t is not None]


def _merged_maps(node: Any) -> list[Any]:
    """Return the mappings a ruamel mapping merges in with `<<` (ruamel has stored them two ways)."""
    from ruamel.yaml.comments import merge_attrib

    return [item[1] if isinstance(item, tuple) else item for item in getattr(node, merge_attrib, None) or []]


def _plain_yaml_is_str(text: str) -> bool:
    """Return whether planner's YAML reader (PyYAML, YAML 1.1) reads ``text`` unquoted as a string."""
    import yaml

    return yaml.resolver.Resolver().resolve(yaml.ScalarNode, text, (True, False)) == "tag:yaml.org,2002:str"
