"""Read multi-document YAML (rendered manifests, Compose files) into plain values with their lines.

Kubernetes manifests (``helm template`` and ``kustomize build`` output) and Compose files are YAML;
a source value must say which line it came from. :func:`read_documents` composes each document
with libyaml (PyYAML's C loader when present) and turns the node tree into dicts, lists and
scalars, recording the 1-based line of every key path (``spec.template.spec.containers[0].env[1].value``).

Scalars are typed as YAML 1.1 does (PyYAML's safe resolver), which is what ``kubectl`` and Compose
accept in practice; anything else the safe loader refuses (a Python tag) is a problem, never code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from planner.errors import Problem
from planner.topology.parsed import MAX_ALIAS_NODES, MAX_DEPTH, MAX_NODES
from planner.topology.sources.base import SourceFileError

try:  # libyaml: several times faster on large renders
    _BaseLoader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _BaseLoader = yaml.SafeLoader


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """The safe loader, remembering the tag of each plain scalar it has resolved.

    libyaml composes in C but asks PyYAML's resolver, in Python, for the tag of every scalar: a
    rendered chart repeats the same few thousand words (``name``, ``app``, ``"8080"``) tens of
    thousands of times, and a plain scalar's tag depends on its text alone (the safe resolver has no
    path resolvers), so each text is matched against the resolver's regular expressions once per file.
    Without path resolvers every other node takes its kind's default tag, and descending into a node
    has nothing to track.
    """

    def __init__(self, stream: str) -> None:
        if self.yaml_path_resolvers:  # pragma: no cover - someone registered one on PyYAML's safe loader
            raise RuntimeError("a YAML path resolver is registered: the sources' loader does not track paths")
        super().__init__(stream)
        self._plain_tags: dict[str, str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode:
            if not implicit[0]:
                return self.DEFAULT_SCALAR_TAG  # quoted: a string
            tag = self._plain_tags.get(value)
            if tag is None:
                tag = self._plain_tags[value] = super().resolve(kind, value, implicit)
            return tag
        return self.DEFAULT_MAPPING_TAG if kind is yaml.MappingNode else self.DEFAULT_SEQUENCE_TAG

    # libyaml calls these around every node (46,800 calls for 300 rendered workloads) only to track
    # path resolvers, which the safe loader has none of: a built-in that takes the same arguments and
    # does nothing costs a C call instead of a Python frame. Guarded by the test that adds a path
    # resolver to PyYAML's safe loader and expects this loader to refuse to start.
    descend_resolver = staticmethod(slice)  # slice(node, index): built, dropped
    ascend_resolver = staticmethod(tuple)  # tuple(): ()


@dataclass(frozen=True)
class Document:
    """One YAML document of a file: its value, its index in the file, and the line of every key path."""

    file: str
    index: int
    data: Any
    lines: dict[str, int]

    def line(self, path: str) -> int | None:
        """Return the line of ``path``, or of the nearest key above it."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""


_STR = "tag:yaml.org,2002:str"
# The keys flatten_mapping rewrites: `<<` merges (as Compose files use them) and `=` value keys.
_FLATTENED = ("tag:yaml.org,2002:merge", "tag:yaml.org,2002:value")


def read_documents(text: str, file: str) -> list[Document]:
    """Return every non-empty document of ``text``; malformed YAML raises :class:`SourceFileError` with its line."""
    loader = _Loader(text)
    documents: list[Document] = []
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                builder = _Builder(file)
                data = builder.build(node, "", 0)
                if data is not None:
                    documents.append(Document(file, index, data, builder.lines))
            index += 1
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else None
        raise SourceFileError([Problem(file, "", f"invalid YAML: {e.problem or e}", line=line,
                                       hint="fix the file, or render it again")]) from None
    except yaml.YAMLError as e:
        raise SourceFileError([Problem(file, "", f"invalid YAML: {e}", hint="fix the file")]) from None
    finally:
        loader.dispose()
    return documents


class _Builder:
    """Turn one composed node tree into values, recording lines and enforcing the limits."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[str, int] = {}
        self.nodes = 0
        self.constructor = yaml.constructor.SafeConstructor()
        # An alias names a node built before; building it again at its new path is what a "billion
        # laughs" file multiplies. Nodes built that way count against MAX_ALIAS_NODES, far below
        # MAX_NODES, so that ten nested aliases stop in milliseconds, not after 2 million nodes.
        self.seen: set[int] = set()  # ids of the mappings and sequences built
        self.again = 0  # > 0 while building a node a second time (through an alias)
        self.alias_nodes = 0

    def fail(self, node: yaml.Node, message: str, hint: str) -> SourceFileError:
        return SourceFileError([Problem(self.file, "", message, line=node.start_mark.line + 1, hint=hint)])

    def build(self, node: yaml.Node, path: str, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(node, f"more than {MAX_NODES:,} nodes", "point sources at the rendered manifests")
        if depth > MAX_DEPTH:
            raise self.fail(node, f"nested more than {MAX_DEPTH} levels deep", "check the file")
        if self.again:
            self.alias_nodes += 1
            if self.alias_nodes > MAX_ALIAS_NODES:
                raise self.fail(node, f"more than {MAX_ALIAS_NODES:,} nodes repeated through aliases (a \"billion laughs\" file?)",
                                "use fewer, smaller aliases, or point sources at the rendered manifests")
        if isinstance(node, yaml.ScalarNode):
            self.lines.setdefault(path, node.start_mark.line + 1)
            return self.scalar(node)
        key = id(node)
        if key not in self.seen:
            self.seen.add(key)
            return self.collection(node, path, depth)
        self.again += 1
        try:
            return self.collection(node, path, depth)
        finally:
            self.again -= 1

    def collection(self, node: yaml.Node, path: str, depth: int) -> Any:
        """Return a mapping's or a sequence's value, recording the line of every key path in it."""
        lines = self.lines
        lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            prefix = f"{path}." if path else ""
            for key_node, value_node in node.value:
                tag = key_node.tag
                if tag == _STR and isinstance(key_node, yaml.ScalarNode):
                    key = key_node.value  # nearly every key: a plain string
                elif tag in _FLATTENED:  # `<<: *defaults`, as Compose files use them: merge, then build it
                    self.constructor.flatten_mapping(node)
                    return self.collection(node, path, depth)
                else:
                    key = self.scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
                    if not isinstance(key, (str, int, float, bool)) or key is None:
                        raise self.fail(key_node, "a mapping key that is not a plain value", "use plain keys")
                child = f"{prefix}{key}"
                lines[child] = key_node.start_mark.line + 1
                result[key] = self.build(value_node, child, depth + 1)
            return result
        return [self.build(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(node.value)]

    def scalar(self, node: yaml.Node) -> Any:
        if node.tag == _STR and isinstance(node, yaml.ScalarNode):
            return node.value  # most of a manifest: the constructor would return it unchanged, slower
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as e:
            raise self.fail(node, f"cannot read a value: {e.problem}", "use plain YAML values") from None
