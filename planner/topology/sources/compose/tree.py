"""Read a Compose file's YAML as Docker Compose v2 does, keeping the file and line of every value.

Compose reads YAML with Go's ``yaml.v3``, which types plain scalars by YAML 1.2's rules, not the
YAML 1.1 rules of PyYAML's safe loader: ``yes``, ``on`` and ``1:30`` stay text, ``010`` is the octal
8, ``1_000`` is 1000, and only ``true``/``false`` (and their capitalised forms) are booleans. An
environment value is then written as Go's ``fmt.Sprint`` writes it (``1.0`` becomes ``1``, ``1e6``
becomes ``1e+06``). :func:`read_tree` follows those rules, so that planner reads the same
environment Compose passes to the container.

Values are kept in a tree whose leaves know where they were written, so that a value can be
cited after override files, ``extends`` and ``include`` have moved it around: a :class:`Leaf` for
a scalar, an :class:`LMap` (a dict) for a mapping, an :class:`LSeq` (a list) for a sequence, each
with its :class:`Where`. Merge keys (``<<: *defaults``) are applied as YAML defines them (a key of
the mapping itself wins, then the first merged mapping that has it).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple, Union

import yaml

from planner.errors import Problem
from planner.topology.parsed import MAX_DEPTH, MAX_NODES
from planner.topology.sources.base import SourceFileError

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"
MERGE = "tag:yaml.org,2002:merge"


class Where(NamedTuple):
    """A file (as the topology names it) and a 1-based line."""

    file: str
    line: int | None


class Leaf:
    """A scalar and where it is written; ``unknown`` names the variables its interpolation needed
    that neither the project's ``.env`` nor a default sets (planner never reads the shell's)."""

    __slots__ = ("value", "where", "unknown")

    def __init__(self, value: Any, where: Where, unknown: tuple[str, ...] = ()) -> None:
        self.value = value
        self.where = where
        self.unknown = unknown

    def __repr__(self) -> str:
        return f"Leaf({self.value!r})"

    def __eq__(self, other: object) -> bool:  # Compose compares values, never where they are
        return isinstance(other, Leaf) and self.value == other.value and self.unknown == other.unknown

    def __hash__(self) -> int:
        return hash(self.value) if isinstance(self.value, (str, int, float, bool, type(None))) else 0


class LMap(dict):  # type: ignore[type-arg]
    """A mapping and the line of its key."""

    __slots__ = ("where",)

    def __init__(self, where: Where, *args: Any) -> None:
        super().__init__(*args)
        self.where = where


class LSeq(list):  # type: ignore[type-arg]
    """A sequence and the line of its key."""

    __slots__ = ("where",)

    def __init__(self, where: Where, items: Any = ()) -> None:
        super().__init__(items)
        self.where = where


Node = Union[Leaf, LMap, LSeq]


def plain(node: Any) -> Any:
    """Return the tree as plain Python values (for comparisons and messages)."""
    if isinstance(node, Leaf):
        return node.value
    if isinstance(node, dict):
        return {k: plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    return node


def copy(node: Any) -> Any:
    """Return a deep copy of a tree (leaves are shared: they are never changed in place)."""
    if isinstance(node, LMap):
        return LMap(node.where, {k: copy(v) for k, v in node.items()})
    if isinstance(node, LSeq):
        return LSeq(node.where, [copy(v) for v in node])
    return node


def where_of(node: Any, default: Where) -> Where:
    """Return where a node is written."""
    return getattr(node, "where", None) or default


# ---------------------------------------------------------------------------- Go's formatting


def go_string(value: Any) -> str:
    """Return ``value`` as Go's ``fmt.Sprint`` writes it: how Compose turns a YAML number or boolean
    of an ``environment`` mapping into the variable's text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    return str(value)


def go_float(value: float) -> str:
    """Return a float as Go's ``%v`` writes it: the shortest digits that read back, in ``%e`` form
    when the exponent is below -4 or at least 6 (``1e+06``, ``1.5e-05``, ``100000``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    sign, digits, exponent = Decimal(repr(abs(value))).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    exponent = int(exponent) + len(digits) - len(text)  # value = 0.text × 10^point
    point = len(text) + exponent
    prefix = "-" if value < 0 else ""
    if point - 1 < -4 or point - 1 >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        power = point - 1
        return f"{prefix}{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{text}"
    if point >= len(text):
        return f"{prefix}{text}{'0' * (point - len(text))}"
    return f"{prefix}{text[:point]}.{text[point:]}"


# ---------------------------------------------------------------------------- yaml.v3's scalar types

_NULLS = {"", "~", "null", "Null", "NULL"}
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_SPECIAL_FLOATS = {
    ".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan,
    ".inf": math.inf, ".Inf": math.inf, ".INF": math.inf,
    "+.inf": math.inf, "+.Inf": math.inf, "+.INF": math.inf,
    "-.inf": -math.inf, "-.Inf": -math.inf, "-.INF": -math.inf,
}
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INT_BASES = (("0x", 16, "0123456789abcdefABCDEF"), ("0o", 8, "01234567"), ("0b", 2, "01"))
_INT64 = (-(2**63), 2**63 - 1)


def _go_int(text: str) -> int | None:
    """Return Go's ``strconv.ParseInt(text, 0, 64)``, then ``ParseUint``, or None: a sign, then
    ``0x``/``0o``/``0b`` or a leading ``0`` (octal), or decimal digits."""
    sign, body = (-1, text[1:]) if text[:1] == "-" else (1, text[1:]) if text[:1] == "+" else (1, text)
    if not body:
        return None
    for prefix, base, allowed in _INT_BASES:
        if body[:2].lower() == prefix:
            digits = body[2:]
            break
    else:
        base, digits, allowed = (8, body[1:], "01234567") if len(body) > 1 and body[0] == "0" else (10, body, "0123456789")
    if not digits or any(c not in allowed for c in digits):
        return None
    value = sign * int(digits, base)
    if _INT64[0] <= value <= _INT64[1]:
        return value
    if text[:1] not in "+-" and value < 2**64:  # ParseUint: no sign
        return value
    return None


def scalar_value(text: str, tag: str) -> Any:
    """Return a plain scalar's value as yaml.v3 types it (``tag`` is what the resolver below gave)."""
    if tag == NULL:
        return None
    if tag == BOOL:
        return _BOOLS[text]
    if tag == FLOAT and text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    if tag in (INT, FLOAT):
        return _number(text)
    return text


def _number(text: str) -> Any:
    """Return a number yaml.v3 would read from ``text`` (its first character is a digit, a sign or a
    dot), or the text itself when it is none."""
    if text[0] == ".":
        if "_" in text:
            return text
        try:
            value = float(text)
        except ValueError:
            return text
        return value if math.isfinite(value) else text
    stripped = text.replace("_", "")
    number = _go_int(stripped)
    if number is not None:
        return number
    if _FLOAT.fullmatch(stripped):
        value = float(stripped)
        if math.isfinite(value):
            return value
    return text


class _Resolver(yaml.resolver.Resolver):
    """yaml.v3's implicit types: only these, for plain scalars."""

    yaml_implicit_resolvers: dict[str | None, list[tuple[str, Any]]] = {}


_Resolver.add_implicit_resolver(NULL, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_Resolver.add_implicit_resolver(BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Resolver.add_implicit_resolver(MERGE, re.compile(r"^<<$"), ["<"])
_Resolver.add_implicit_resolver(FLOAT, re.compile(r"^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"), list("-+."))
_Resolver.add_implicit_resolver(INT, re.compile(r"^[-+0-9.].*$", re.S), list("-+0123456789."))


class _Loader(_Base):  # type: ignore[misc, valid-type]
    """libyaml's parser and composer with yaml.v3's scalar types."""

    yaml_implicit_resolvers = _Resolver.yaml_implicit_resolvers


# ---------------------------------------------------------------------------- reading a file


@dataclass
class Document:
    """One YAML document of a Compose file, and the key paths it tags ``!reset`` or ``!override``
    (what the files before it said there is dropped before this document is merged in)."""

    tree: LMap
    resets: list[tuple[str, ...]]


RESET = "!reset"
OVERRIDE = "!override"


def read_tree(text: str, file: str) -> list[Document]:
    """Return each document of a Compose file as a located tree (Compose merges them in order).

    Raises :class:`SourceFileError`: invalid YAML, a duplicate key, a key that is not text, a
    top level that is not a mapping, or a file beyond planner's limits, each with its line.
    """
    loader = _Loader(text)
    documents: list[Document] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            builder = _Builder(file)
            built = builder.build(node)
            if isinstance(built, Leaf) and built.value is None:
                continue  # an empty document
            if not isinstance(built, LMap):
                raise SourceFileError([Problem(file, "", "the top level of a Compose file must be a mapping",
                                               line=node.start_mark.line + 1, hint="write services: at the top level")])
            documents.append(Document(built, builder.resets))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise SourceFileError([Problem(file, "", f"invalid YAML: {e.problem or e}",
                                       line=mark.line + 1 if mark is not None else None,
                                       hint="fix the file as docker compose config would ask")]) from None
    except yaml.YAMLError as e:
        raise SourceFileError([Problem(file, "", f"invalid YAML: {e}", hint="fix the file")]) from None
    finally:
        loader.dispose()
    return documents


_SCALAR_TAGS = frozenset((STR, INT, FLOAT, BOOL, NULL, MERGE))
_MappingNode, _SequenceNode, _ScalarNode = yaml.MappingNode, yaml.SequenceNode, yaml.ScalarNode


class _Builder:
    """Turn one composed node tree into located values, enforcing planner's limits.

    A mapping or sequence an alias names again (``<<: *defaults`` in every service) is built once and
    shared: nothing changes a tree in place afterwards. Its nodes count at each use, so that a
    "billion laughs" file stops at the limit; the key path is kept on a stack, for the ``!reset`` and
    ``!override`` tags (a node holding one is built again at each use, at its own path).
    """

    def __init__(self, file: str) -> None:
        self.file = file
        self.nodes = 0
        self.path: list[str] = []
        self.resets: list[tuple[str, ...]] = []
        self.built: dict[int, tuple[Node, int]] = {}  # id of a mapping or sequence node -> (its value, its size)

    def fail(self, node: yaml.Node, message: str, hint: str) -> SourceFileError:
        return SourceFileError([Problem(self.file, "", message, line=node.start_mark.line + 1, hint=hint)])

    def build(self, node: yaml.Node, _unused: tuple[str, ...] = ()) -> Node | None:
        """Return the value of ``node``; None for a value tagged ``!reset``."""
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(node, f"more than {MAX_NODES:,} nodes (aliases included)", "use fewer, smaller aliases")
        if len(self.path) > MAX_DEPTH:
            raise self.fail(node, f"nested more than {MAX_DEPTH} levels deep", "check the file")
        tag = node.tag
        if tag in (RESET, OVERRIDE):
            self.resets.append(tuple(self.path))
            if tag == RESET:
                return None
        cls = node.__class__
        if cls is _ScalarNode:
            if tag == STR:
                return Leaf(node.value, Where(self.file, node.start_mark.line + 1))
            if tag == OVERRIDE:  # its type is the one the value would have without the tag
                tag = _Resolver().resolve(yaml.ScalarNode, node.value, (True, False)) if not node.style else STR
            elif tag not in _SCALAR_TAGS:
                raise self.fail(node, f"cannot read a value tagged {tag}", "use plain YAML values")
            return Leaf(scalar_value(node.value, tag), Where(self.file, node.start_mark.line + 1))
        cached = self.built.get(id(node))
        if cached is not None:
            self.nodes += cached[1]
            return cached[0]
        before, resets = self.nodes, len(self.resets)
        value: Node
        if cls is _MappingNode or isinstance(node, yaml.MappingNode):
            value = self.mapping(node)
        else:
            value = LSeq(Where(self.file, node.start_mark.line + 1))
            path = self.path
            for i, item in enumerate(node.value):
                path.append(str(i))
                built = self.build(item)
                path.pop()
                if built is not None:
                    value.append(built)
        if len(self.resets) == resets:
            self.built[id(node)] = (value, self.nodes - before)
        return value

    def mapping(self, node: yaml.MappingNode) -> LMap:
        result = LMap(Where(self.file, node.start_mark.line + 1))
        merged: list[yaml.Node] = []
        own: dict[str, tuple[int, yaml.Node]] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE:
                merged.append(value_node)
                continue
            key = self.key(key_node)
            if key in own:
                raise self.fail(key_node, f"mapping key {key!r} already defined at line {own[key][0]}",
                                "remove one of them: Compose refuses a duplicate key")
            own[key] = (key_node.start_mark.line + 1, value_node)
        for value_node in merged:  # `<<: *a` or `<<: [*a, *b]`: the first merged mapping wins
            sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for source in reversed(sources):
                built = self.build(source)
                if not isinstance(built, LMap):
                    raise self.fail(source, "a merge key (<<) takes a mapping or a list of mappings", "merge a mapping")
                result.update(built)
        path = self.path
        for key, (line, value_node) in own.items():
            path.append(key)
            shared = id(value_node) in self.built
            value = self.build(value_node)
            path.pop()
            if value is None:
                result.pop(key, None)  # `!reset`: nor from a merged mapping
                continue
            if value.__class__ is not Leaf and not shared:
                value.where = Where(self.file, line)  # a block's line is its key's
            result[key] = value
        return result

    def key(self, node: yaml.Node) -> str:
        if node.__class__ is not _ScalarNode:
            raise self.fail(node, "a mapping key that is not a plain value", "use plain keys")
        if node.tag == STR:
            return str(node.value)
        value = scalar_value(node.value, node.tag)
        if not isinstance(value, str):
            raise self.fail(node, f"non-string key {node.value!r}", "quote the key: Compose reads only text keys")
        return value
