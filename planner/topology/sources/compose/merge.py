"""Compose's merge rules: how an override file, or a service that ``extends`` another, changes a service.

``docker compose -f a.yml -f b.yml`` (and a project's ``compose.override.yaml``) merges each file
into what the ones before it made; ``extends`` merges a service into a copy of the one it names.
Both follow compose-go's ``override`` package (https://docs.docker.com/reference/compose-file/merge/):

- mappings merge key by key, recursively; a scalar of the later file replaces the earlier one;
  a later ``null`` changes nothing;
- ``command``, ``entrypoint`` and ``healthcheck.test`` are replaced whole;
- ``environment`` (and ``labels``, ``sysctls``, ...) merge by variable, whether written as a
  mapping or a ``KEY=VALUE`` list; ``depends_on`` and ``networks`` by the service or network named;
- ``volumes`` merge by their target path, ``env_file`` by its path; ``ports``, ``profiles``,
  ``links`` and the other sequences are appended, each item once;
- a value tagged ``!reset`` removes what the earlier files said, ``!override`` replaces it.

To merge two forms of one key (a list and a mapping of ``environment``), each service is first put
in its canonical form (:func:`canonical`): ``environment`` a mapping, ``env_file`` a list of
``{path, required}``, ``depends_on`` a mapping of ``{condition, required}``, ``volumes`` mappings
with their ``target``, ``networks`` a mapping.
"""

from __future__ import annotations

from typing import Any, Callable

from planner.topology.sources.compose.tree import Leaf, LMap, LSeq, Where, go_string, where_of


class MergeError(Exception):
    """Two definitions Compose cannot merge (a mapping over a list), with where the later one is."""

    def __init__(self, message: str, where: Where) -> None:
        super().__init__(message)
        self.message = message
        self.where = where


# ---------------------------------------------------------------------------- canonical forms


def canonical(service: LMap, resolve: Callable[[str, Where], str], shared: dict[int, Any] | None = None) -> LMap:
    """Return ``service`` with the keys planner reads in their canonical form; relative paths
    (``env_file``, bind mounts) replaced by ``resolve(path, where)``: each file's paths are relative
    to its project's folder, so they are resolved before files from elsewhere are merged in.

    ``shared`` keeps the canonical form of a value several services share through a YAML alias
    (the same paths, resolved once)."""
    out = LMap(service.where, service)
    shared = {} if shared is None else shared
    for key, value in service.items():
        if key in ("environment", "env_file", "depends_on", "volumes") and id(value) in shared:
            out[key] = shared[id(value)][1]
            continue
        if key == "environment":
            out[key] = _environment(value)
        elif key == "env_file":
            out[key] = _env_files(value, resolve)
        elif key == "depends_on":
            out[key] = _depends_on(value)
        elif key == "volumes" and isinstance(value, list):
            out[key] = LSeq(value.where, [_volume(v, resolve) for v in value])
        elif key == "networks" and isinstance(value, list):
            out[key] = LMap(value.where, {_text(v): Leaf(None, where_of(v, value.where)) for v in value})
        elif key == "build" and isinstance(value, Leaf) and isinstance(value.value, str):
            out[key] = LMap(value.where, {"context": value})
        if key in ("environment", "env_file", "depends_on", "volumes"):
            shared[id(value)] = (value, out[key])  # the value itself kept: its id stays its own
    return out


def _text(node: Any) -> str:
    return go_string(node.value) if isinstance(node, Leaf) else str(node)


def _environment(value: Any) -> Any:
    """``KEY=VALUE`` items (or a bare ``KEY``, whose value the project's environment gives) as a mapping."""
    if not isinstance(value, LSeq):
        return value
    mapping = LMap(value.where)
    for item in value:
        if not isinstance(item, Leaf):
            continue
        text = _text(item)
        key, sep, rest = text.partition("=")
        mapping[key] = Leaf(rest if sep else None, item.where, item.unknown)
    return mapping


def _env_files(value: Any, resolve: Callable[[str, Where], str]) -> Any:
    """``env_file`` as a list of ``{path, required, format}``, each path resolved."""
    items = value if isinstance(value, LSeq) else LSeq(where_of(value, Where("", None)), [value])
    out = LSeq(items.where)
    for item in items:
        if isinstance(item, Leaf) and isinstance(item.value, str):
            entry = LMap(item.where, {"path": item, "required": Leaf(True, item.where)})
        elif isinstance(item, LMap) and isinstance(item.get("path"), Leaf):
            entry = LMap(item.where, item)
            entry.setdefault("required", Leaf(True, item.where))
        else:
            continue
        path = entry["path"]
        entry["path"] = Leaf(resolve(str(path.value), path.where), path.where, path.unknown)
        out.append(entry)
    return out


def _depends_on(value: Any) -> Any:
    """``depends_on`` as a mapping: a list means ``condition: service_started, required: true``."""
    if isinstance(value, LSeq):
        return LMap(value.where, {_text(item): LMap(where_of(item, value.where), {
            "condition": Leaf("service_started", where_of(item, value.where)),
            "required": Leaf(True, where_of(item, value.where))}) for item in value})
    if isinstance(value, LMap):
        out = LMap(value.where)
        for name, spec in value.items():
            entry = LMap(where_of(spec, value.where), spec if isinstance(spec, LMap) else {})
            entry.setdefault("condition", Leaf("service_started", entry.where))
            entry.setdefault("required", Leaf(True, entry.where))
            out[name] = entry
        return out
    return value


def parse_volume(spec: str) -> tuple[str, str, str]:
    """Return (type, source, target) of a short volume syntax ``SOURCE:TARGET[:MODE]``, as compose-go's
    ``format.ParseVolume``: a source starting with ``.``, ``/`` or ``~`` is a bind mount, another a
    named volume; a target alone is an anonymous volume."""
    if len(spec) <= 2:
        return "volume", "", spec
    parts: list[str] = []
    buffer = ""
    depth = 0
    for i, char in enumerate(spec):
        if char == "$" and spec[i + 1:i + 2] == "{":
            depth += 1
        elif char == "}" and depth:
            depth -= 1
        elif char == ":" and depth == 0 and not (len(buffer) == 1 and buffer.isalpha()):
            parts.append(buffer)
            buffer = ""
            continue
        buffer += char
    parts.append(buffer)
    source, target = ("", parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    kind = "bind" if source[:1] in (".", "/", "~") or source.startswith("\\\\") else "volume"
    return kind, source, _clean(target)


def _clean(target: str) -> str:
    """Return a container path as Go's ``path.Clean`` writes it (Compose cleans mount targets)."""
    import posixpath

    return posixpath.normpath(target).replace("//", "/") if target else target


def _volume(item: Any, resolve: Callable[[str, Where], str]) -> Any:
    """A volume as ``{type, source, target}``; a bind mount's source resolved."""
    if isinstance(item, Leaf) and isinstance(item.value, str):
        kind, source, target = parse_volume(item.value)
        entry = LMap(item.where, {"type": Leaf(kind, item.where), "target": Leaf(target, item.where),
                                  "_spec": item})
        if source:
            entry["source"] = Leaf(resolve(source, item.where) if kind == "bind" else source, item.where, item.unknown)
        return entry
    if isinstance(item, LMap):
        entry = LMap(item.where, item)
        target = item.get("target")
        if isinstance(target, Leaf) and isinstance(target.value, str):
            entry["target"] = Leaf(_clean(target.value), target.where)
        source = item.get("source")
        if isinstance(source, Leaf) and isinstance(source.value, str) and _value(item.get("type")) == "bind":
            entry["source"] = Leaf(resolve(source.value, source.where), source.where, source.unknown)
        return entry
    return item


def _value(node: Any) -> Any:
    return node.value if isinstance(node, Leaf) else None


# ---------------------------------------------------------------------------- merging


def merge_services(base: LMap, override: LMap) -> LMap:
    """Return the ``services`` mapping ``base`` with ``override``'s services merged in."""
    out = LMap(base.where, base)
    for name, spec in override.items():
        if name in out and isinstance(out[name], LMap) and isinstance(spec, LMap):
            out[name] = merge_service(out[name], spec)
        elif not (isinstance(spec, Leaf) and spec.value is None and name in out):
            out[name] = spec
    return out


def merge_service(base: LMap, override: LMap) -> LMap:
    """Return service ``base`` changed by ``override`` (an override file's, or the service that extends it)."""
    out = LMap(base.where, base)
    for key, value in override.items():
        if key not in out:
            out[key] = value
            continue
        rule = _RULES.get(key)
        out[key] = rule(out[key], value) if rule is not None else merge_value(out[key], value, key)
    return out


def merge_value(base: Any, override: Any, path: str) -> Any:
    """Merge two values of one key: mappings by key, sequences appended, else the override wins."""
    if isinstance(override, Leaf) and override.value is None:
        return base
    if isinstance(base, LMap):
        if not isinstance(override, LMap):
            raise MergeError(f"cannot override {path}: a mapping, and here {_kind(override)}", where_of(override, base.where))
        out = LMap(base.where, base)
        for key, value in override.items():
            out[key] = merge_value(out[key], value, f"{path}.{key}") if key in out else value
        return out
    if isinstance(base, LSeq):
        if not isinstance(override, LSeq):
            raise MergeError(f"cannot override {path}: a list, and here {_kind(override)}", where_of(override, base.where))
        return LSeq(base.where, [*base, *override])
    return override


def _kind(node: Any) -> str:
    return "a mapping" if isinstance(node, dict) else "a list" if isinstance(node, list) else "a single value"


def _replace(base: Any, override: Any) -> Any:
    return override


def _by_key(base: Any, override: Any) -> Any:
    """Mappings merged by key, the later value winning (``environment``, once canonical)."""
    if not isinstance(base, LMap) or not isinstance(override, LMap):
        return base if isinstance(override, Leaf) and override.value is None else override
    out = LMap(base.where, base)
    out.update(override)
    return out


def _unique(key: Callable[[Any], Any]) -> Callable[[Any, Any], Any]:
    """Sequences appended, a later item replacing an earlier one with the same key, in its place."""

    def merge(base: Any, override: Any) -> Any:
        if not isinstance(override, LSeq):
            return base
        items = [*base, *override] if isinstance(base, LSeq) else list(override)
        out = LSeq(where_of(base, override.where))
        index: dict[Any, int] = {}
        for item in items:
            k = key(item)
            if k in index:
                out[index[k]] = item
            else:
                index[k] = len(out)
                out.append(item)
        return out

    return merge


def _depends(base: Any, override: Any) -> Any:
    """``depends_on``: by service; the conditions of one service merged key by key."""
    if not isinstance(base, LMap) or not isinstance(override, LMap):
        return base if isinstance(override, Leaf) and override.value is None else override
    out = LMap(base.where, base)
    for name, spec in override.items():
        out[name] = _by_key(out[name], spec) if name in out else spec
    return out


def _networks(base: Any, override: Any) -> Any:
    """``networks``: by network; a network's settings merged (its ``aliases`` appended, each once)."""
    if not isinstance(base, LMap) or not isinstance(override, LMap):
        return base if isinstance(override, Leaf) and override.value is None else override
    out = LMap(base.where, base)
    for name, spec in override.items():
        old = out.get(name)
        if isinstance(old, LMap) and isinstance(spec, LMap):
            merged = LMap(old.where, old)
            for key, value in spec.items():
                merged[key] = (_unique(_text)(merged[key], value) if key == "aliases" and key in merged
                               else merge_value(merged[key], value, key) if key in merged else value)
            out[name] = merged
        elif not (isinstance(spec, Leaf) and spec.value is None and name in out):
            out[name] = spec
    return out


def _volume_target(item: Any) -> Any:
    return _value(item.get("target")) if isinstance(item, LMap) else _text(item)


def _env_file_path(item: Any) -> Any:
    return _value(item.get("path")) if isinstance(item, LMap) else _text(item)


def _key_of(item: Any) -> str:
    """The variable of a ``KEY=VALUE`` item: what makes two items one (compose-go's keyValueIndexer)."""
    return _text(item).split("=", 1)[0]


_RULES: dict[str, Callable[[Any, Any], Any]] = {
    "command": _replace,
    "entrypoint": _replace,
    "environment": _by_key,
    "labels": _by_key,
    "sysctls": _by_key,
    "annotations": _by_key,
    "depends_on": _depends,
    "networks": _networks,
    "volumes": _unique(_volume_target),
    "env_file": _unique(_env_file_path),
    "profiles": _unique(_text),
    "links": _unique(_text),
    "ports": _unique(_text),
    "expose": _unique(_text),
    "cap_add": _unique(_text),
    "cap_drop": _unique(_text),
    "dns": _unique(_text),
    "dns_search": _unique(_text),
    "dns_opt": _unique(_text),
    "tmpfs": _unique(_text),
    "extra_hosts": _unique(_text),
    "secrets": _unique(lambda item: _value(item.get("target")) or _value(item.get("source")) if isinstance(item, LMap) else _text(item)),
    "configs": _unique(lambda item: _value(item.get("target")) or _value(item.get("source")) if isinstance(item, LMap) else _text(item)),
}


def healthcheck_rule(base: Any, override: Any) -> Any:
    """``healthcheck``: merged as a mapping, its ``test`` replaced whole."""
    if isinstance(base, LMap) and isinstance(override, LMap) and "test" in override:
        rest = LMap(override.where, {k: v for k, v in override.items() if k != "test"})
        merged = merge_value(base, rest, "healthcheck")
        merged["test"] = override["test"]
        return merged
    return merge_value(base, override, "healthcheck")


_RULES["healthcheck"] = healthcheck_rule
