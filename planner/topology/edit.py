"""Edit a topology file in place: change only the keys a changed topology needs, keep everything else.

``recommend --apply-to-topology`` and ``emit --apply-to-topology`` hand the user back *their* file with
an option applied. :func:`edit_topology` compares the topology read from the file with the changed
one (databases, environments, services, poolers: entries added, removed or changed, key by key) and
writes only those differences into the original text, with a library that keeps comments, key
order, quoting and flow/block style: ``ruamel.yaml`` (round-trip mode) for YAML, ``tomlkit`` for
TOML; JSON, which has no comments, keeps its key order and indentation. Values are written the way
the file already writes them where the change allows (``pool: 5`` stays an int, a pool mapping
keeps its ``driver``, ``replicas: {min, max}`` stays a mapping, ``headroom: 0.2`` stays a number);
new entries take the shape :func:`planner.topology.writer.topology_document` gives them, in the
style of their siblings.

The result is proven, not hoped for: it must read back (:func:`~planner.topology.parse_topology`)
as exactly the changed topology, or :class:`EditBug` is raised and nothing is written. A YAML node
shared through an anchor (an alias, a ``<<`` merge) is changed where it stands when that gives the
changed topology (every user of the anchor wanted the change), else copied where it changes, so its
other users keep their values; an edit the anchors make impossible is refused with one line (exit 2)
naming the key. Where ruamel lays out a line differently from the user (spacing inside braces, a
flow mapping over two lines, a ``...``), the lines the edit does not touch keep the user's text.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import io
import json
import re
from collections import Counter
from collections.abc import Mapping, MutableMapping
from difflib import SequenceMatcher
from fractions import Fraction
from typing import Any, Callable, Sequence, TypeVar

from planner.errors import InputError, Problem
from planner.model import DEFAULT_ENVIRONMENT, Database, Environment, Pool, Pooler, Service, Topology
from planner.topology.databases import DATABASE_KEYS, PARAMETER_KEYS, SERVERLESS_KEYS
from planner.topology.load import ENVIRONMENT_KEYS, TOP_KEYS, parse_topology
from planner.topology.parse import detect_format
from planner.topology.parsed import ParsedFile, join_path
from planner.topology.poolers import POOLER_KEYS
from planner.topology.services import CUSTOM_DRIVER, POOL_DRIVERS, POOL_KEYS, SERVICE_KEYS, THREADS, ServiceRules
from planner.topology.values import is_int, is_number
from planner.topology.writer import _number, _percent, topology_document

__all__ = ["EditBug", "edit_topology", "same_topology"]

T = TypeVar("T")

_MISSING: Any = object()  # a key the file does not write
_POOLER_FIELDS = ("database", "endpoint", "replicas", "pool_mode", "default_pool_size", "reserve_pool_size",
                  "max_db_connections", "pairs", "max_client_conn", "max_connections_percent")


class EditBug(RuntimeError):
    """The edited text does not read back as the topology asked for: a bug in this module, never the user's."""


def same_topology(a: Topology, b: Topology) -> bool:
    """Return whether two topologies are equal but for where things were written (path and lines)."""
    return _comparable(a) == _comparable(b)


def _comparable(topology: Topology) -> Topology:
    def strip(items: Mapping[str, Any]) -> dict[str, Any]:
        return {k: dataclasses.replace(v, line=None) for k, v in items.items()}

    return dataclasses.replace(
        topology, path="", lines={}, databases=strip(topology.databases), environments=strip(topology.environments),
        services=strip(topology.services), poolers=strip(topology.poolers),
    )


def edit_topology(original_text: str, filename: str, before: Topology, after: Topology) -> str:
    """Return ``original_text`` (the file ``before`` was read from) changed so that it reads as ``after``.

    Only the keys whose values differ are written; comments, key order, quoting and layout are kept.
    ``filename`` gives the format (by its suffix) and names the file in problems. Raises
    :class:`InputError` when the text does not hold ``before`` or when the file cannot be edited
    safely (one line: file, key path, what to do), and :class:`EditBug` when the edit does not read
    back as ``after`` (a bug: nothing should be written then).
    """
    fmt = detect_format(filename, None)
    if not same_topology(parse_topology(original_text, filename, fmt), before):
        raise InputError(Problem(filename, "", "the file no longer holds the topology planner read",
                                 hint="did it change while planner ran? run the command again"))
    if same_topology(before, after):
        return original_text
    kind = {"yaml": _YamlDocument, "toml": _TomlDocument, "json": _JsonDocument}[fmt]
    tried: list[str] = []
    refusal: Problem | None = None
    # YAML nodes shared through anchors are first changed where they stand (every user of an anchor
    # often wants the same change, and the anchor then stays); if that changes another user too,
    # they are copied where they change instead
    for copy_shared in (False, True):
        document = kind(original_text, filename, copy_shared=copy_shared)
        _Editor(document, before, after).run()
        for text in document.render():
            try:
                again = parse_topology(text, filename, fmt)
            except InputError as e:
                tried.append(f"does not parse: {e.lines()[0]}")
                continue
            if same_topology(again, after):
                return text
            tried.append("parses to another topology")
        refusal = document.refusal
        if not document.shared_touched:
            break  # nothing shared was changed: copying would write the same
    if refusal is not None:
        raise InputError(refusal)
    raise EditBug(f"editing {filename} in place went wrong ({'; '.join(tried)}): nothing was written; "
                  "please report this with the file")


# --------------------------------------------------------------------------- what to change


class _Editor:
    """Walk the differences between two topologies and write each into the document."""

    def __init__(self, document: "_Document", before: Topology, after: Topology) -> None:
        self.doc = document
        self.before = before
        self.after = after

    @functools.cached_property
    def rendered(self) -> dict[str, Any]:
        """Return the changed topology in the writer's shape: the form of new entries."""
        return topology_document(self.after)

    def run(self) -> None:
        """Write every difference: top-level keys, then each section."""
        root = self.doc.root
        if self.before.name != self.after.name:
            self.doc.set(root, "name", self.after.name, TOP_KEYS, "name")
        if self.before.version != self.after.version:
            self.doc.set(root, "version", self.after.version, TOP_KEYS, "version")
        self.section("databases", self.before.databases, self.after.databases, self.database)
        self.section("environments", self._file_environments(self.before), self._file_environments(self.after),
                     self.environment)
        self.section("services", self.before.services, self.after.services, self.service)
        self.section("poolers", self.before.poolers, self.after.poolers, self.pooler)

    @staticmethod
    def _file_environments(topology: Topology) -> Mapping[str, Environment]:
        """Return the environments a file writes: none when there is only the implicit default one."""
        envs = topology.environments
        if list(envs) == [DEFAULT_ENVIRONMENT] and envs[DEFAULT_ENVIRONMENT] == Environment(
                DEFAULT_ENVIRONMENT, line=envs[DEFAULT_ENVIRONMENT].line):
            return {}
        return envs

    def section(self, key: str, old: Mapping[str, T], new: Mapping[str, T],
                edit: Callable[[str, MutableMapping[str, Any], str, T, T], None]) -> None:
        """Remove, change and add the entries of one top-level section."""
        if {k: _unlined(v) for k, v in old.items()} == {k: _unlined(v) for k, v in new.items()}:
            return
        doc = self.doc
        section = doc.child_map(doc.root, key, key, inline=False, order=TOP_KEYS)
        for name in old:
            if name not in new:
                doc.delete(section, name, join_path(key, name))
        for name, item in new.items():
            path = join_path(key, name)
            if name not in old:
                doc.new_entry(section, name, self.rendered[key][name], path)
            elif _unlined(old[name]) != _unlined(item):
                edit(path, section, name, old[name], item)

    def entry(self, section: MutableMapping[str, Any], name: str, path: str) -> MutableMapping[str, Any]:
        """Return the writable mapping of one entry (a null entry becomes an empty mapping)."""
        return self.doc.child_map(section, name, path, inline=True, order=())

    # ------------------------------------------------------------------ databases

    def database(self, path: str, section: MutableMapping[str, Any], name: str, b: Database, a: Database) -> None:
        """Write the keys of one database that changed."""
        doc = self.doc
        entry = self.entry(section, name, path)

        def put(key: str, value: Any) -> None:
            if value is None or value == "":
                doc.delete(entry, key, join_path(path, key))
            else:
                doc.set(entry, key, value, DATABASE_KEYS, join_path(path, key))

        for field in ("engine", "engine_version", "instance_class", "deployment", "readers", "reader_instance_class"):
            if getattr(b, field) != getattr(a, field):
                put(field, getattr(a, field))
        if b.headroom != a.headroom:
            old = entry.get("headroom")
            put("headroom", _number(a.headroom) if is_number(old) else _percent(a.headroom))
        if dict(b.parameters) != dict(a.parameters):
            self.parameters(join_path(path, "parameters"), entry, b.parameters, a.parameters)
        if (b.min_acu, b.max_acu) != (a.min_acu, a.max_acu):
            if a.max_acu is None:
                doc.delete(entry, "serverless", join_path(path, "serverless"))
            else:
                acu = doc.child_map(entry, "serverless", join_path(path, "serverless"), inline=True, order=DATABASE_KEYS)
                for key, value in zip(SERVERLESS_KEYS, (a.min_acu or Fraction(0), a.max_acu)):
                    doc.set(acu, key, _number(value), SERVERLESS_KEYS, join_path(path, f"serverless.{key}"))

    def parameters(self, path: str, entry: MutableMapping[str, Any], old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        """Write changed parameters, into a nested ``rds`` table where the file has one (TOML's dotted keys)."""
        doc = self.doc
        params = doc.child_map(entry, "parameters", path, inline=True, order=DATABASE_KEYS)
        for key in [*new, *(k for k in old if k not in new)]:
            if old.get(key) == new.get(key):
                continue
            target, leaf = params, key
            head, _, rest = key.partition(".")
            if rest and key not in params and doc.is_map(params.get(head)):
                target, leaf = doc.child_map(params, head, join_path(path, head), inline=True, order=()), rest
            if key in new:
                doc.set(target, leaf, new[key], PARAMETER_KEYS, join_path(path, key))
            else:
                doc.delete(target, leaf, join_path(path, key))

    # ------------------------------------------------------------------ environments

    def environment(self, path: str, section: MutableMapping[str, Any], name: str, b: Environment, a: Environment) -> None:
        """Write the keys of one environment that changed."""
        entry = self.entry(section, name, path)
        if b.scale != a.scale:
            self.doc.set(entry, "scale", _number(a.scale), ENVIRONMENT_KEYS, join_path(path, "scale"))
        if b.database != a.database:
            if a.database is None:
                self.doc.delete(entry, "database", join_path(path, "database"))
            else:
                self.doc.set(entry, "database", a.database, ENVIRONMENT_KEYS, join_path(path, "database"))

    # ------------------------------------------------------------------ services

    def service(self, path: str, section: MutableMapping[str, Any], name: str, b: Service, a: Service) -> None:
        """Write the keys of one service that changed, in the shape the file gives them."""
        doc = self.doc
        if b.shape != a.shape:  # another kind of service altogether: its keys do not carry over
            doc.replace_entry(section, name, self.rendered["services"][name], path)
            return
        entry = self.entry(section, name, path)

        def put(key: str, value: Any) -> None:
            doc.set(entry, key, value, SERVICE_KEYS, join_path(path, key))

        if b.database != a.database:
            if a.database:
                put("database", a.database)
            else:
                doc.delete(entry, "database", join_path(path, "database"))
        if b.endpoint != a.endpoint:
            put("endpoint", a.endpoint)
        if b.environments != a.environments:
            if a.environments is None:
                doc.delete(entry, "environments", join_path(path, "environments"))
            else:
                doc.set_list(entry, "environments", list(a.environments), SERVICE_KEYS, join_path(path, "environments"))
        if a.shape == "fixed":
            if b.connections != a.connections:
                put("connections", a.connections)
            return
        if a.shape == "lambda":
            if b.lambda_concurrency != a.lambda_concurrency:
                lam = doc.child_map(entry, "lambda", join_path(path, "lambda"), inline=True, order=SERVICE_KEYS)
                if a.lambda_concurrency is None:
                    doc.delete(lam, "concurrency", join_path(path, "lambda.concurrency"))
                else:
                    doc.set(lam, "concurrency", a.lambda_concurrency, ("concurrency",), join_path(path, "lambda.concurrency"))
            self.pool(name, entry, a.pool, 1)
            return
        if (b.replicas_min, b.replicas_max) != (a.replicas_min, a.replicas_max):
            self.replicas(join_path(path, "replicas"), entry, a)
        if (b.surge_percent, b.surge_count) != (a.surge_percent, a.surge_count):
            put("max_surge", a.surge_count if a.surge_count is not None else _percent(a.surge_percent or Fraction(0)))
        if b.processes != a.processes:
            put("processes", a.processes)
        if b.threads != a.threads:
            put("threads", a.threads)
        self.pool(name, entry, a.pool, a.threads)

    def replicas(self, path: str, entry: MutableMapping[str, Any], a: Service) -> None:
        """Write replicas as the file does: a ``{min, max}`` mapping stays one; an integer while min = max."""
        doc = self.doc
        if doc.is_map(entry.get("replicas")):
            bounds = doc.child_map(entry, "replicas", path, inline=True, order=SERVICE_KEYS)
            doc.set(bounds, "min", a.replicas_min, ("min", "max"), f"{path}.min")
            doc.set(bounds, "max", a.replicas_max, ("min", "max"), f"{path}.max")
        elif a.replicas_min == a.replicas_max:
            doc.set(entry, "replicas", a.replicas_min, SERVICE_KEYS, path)
        else:
            doc.set(entry, "replicas", {"min": a.replicas_min, "max": a.replicas_max}, SERVICE_KEYS, path)

    def pool(self, name: str, entry: MutableMapping[str, Any], pool: Pool | None, threads: int) -> None:
        """Write a pool that differs from what the file's ``pool`` key gives, in the file's form.

        The candidates, from the closest to the file to the plainest, are each read back with the
        reader's own pool rules; the first that gives ``pool`` is written.
        """
        old = entry.get("pool", _MISSING)
        if pool is None or _pool_of(old, threads) == pool:
            return
        doc = self.doc
        path = join_path(join_path("services", name), "pool")
        if doc.is_map(old):  # keep the mapping, its other keys and its comments: change what differs
            plain = _plain(old)
            for candidate in _mapping_candidates(plain, pool):
                if _pool_of(candidate, threads) == pool:
                    mapping = doc.child_map(entry, "pool", path, inline=True, order=SERVICE_KEYS)
                    for key in [k for k in plain if k not in candidate]:
                        doc.delete(mapping, key, f"{path}.{key}")
                    for key, value in candidate.items():
                        doc.set(mapping, key, value, POOL_KEYS, f"{path}.{key}")
                    return
        # none reads back (a pool shape this module does not know): the writer's, and the check will tell
        chosen = next((c for c in _pool_candidates(pool, threads) if _pool_of(c, threads) == pool),
                      self.rendered["services"][name].get("pool"))
        doc.set(entry, "pool", chosen, SERVICE_KEYS, path)

    # ------------------------------------------------------------------ poolers

    def pooler(self, path: str, section: MutableMapping[str, Any], name: str, b: Pooler, a: Pooler) -> None:
        """Write the keys of one pooler that changed."""
        doc = self.doc
        if b.kind != a.kind:  # PgBouncer and RDS Proxy have different keys
            doc.replace_entry(section, name, self.rendered["poolers"][name], path)
            return
        entry = self.entry(section, name, path)
        for field in _POOLER_FIELDS:
            if getattr(b, field) != getattr(a, field):
                doc.set(entry, field, getattr(a, field), POOLER_KEYS, join_path(path, field))
        if b.clients != a.clients:
            doc.set_list(entry, "clients", list(a.clients), POOLER_KEYS, join_path(path, "clients"))
        if b.environments != a.environments:
            if a.environments is None:
                doc.delete(entry, "environments", join_path(path, "environments"))
            else:
                doc.set_list(entry, "environments", list(a.environments), POOLER_KEYS, join_path(path, "environments"))


def _unlined(item: Any) -> Any:
    return dataclasses.replace(item, line=None)


def _driver_defaults(driver: str, threads: int) -> tuple[int | None, int]:
    """Return the (size, max_overflow) a driver gives a process with ``threads`` threads (size None: none)."""
    size, overflow = POOL_DRIVERS.get(driver, (None, 0))
    return (threads if size == THREADS else size if isinstance(size, int) else None), overflow


def _plain(value: Any) -> Any:
    """Return a document value as plain Python (ruamel's and tomlkit's types subclass the built-in ones)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return value


def _pool_of(value: Any, threads: int) -> Pool | None:
    """Return the pool a ``pool`` value gives, by the reader's own rules, or None if it is not a valid one."""
    if value is _MISSING:
        return Pool("per-thread", threads, 0)
    rules = ServiceRules("", ParsedFile({}, {}))
    pool = rules.pool(_plain(value), "pool", threads)
    return None if rules.problems else pool


def _mapping_candidates(old: dict[str, Any], pool: Pool) -> list[dict[str, Any]]:
    """Return ways to change a ``pool`` mapping into ``pool``, keeping its keys where they still apply."""
    base = {k: v for k, v in old.items() if k != "driver"}
    if pool.driver != CUSTOM_DRIVER:
        base = {"driver": pool.driver, **base} if "driver" not in old else {**old, "driver": pool.driver}
    if pool.size is None:  # unbounded: no size; max_overflow -1 unless the driver says so
        bounded = {k: v for k, v in base.items() if k == "driver"}
        return [bounded if pool.driver == "unbounded" else {**bounded, "max_overflow": -1}]
    minimum = getattr(pool, "min_size", None)  # a pool that grows from min_size to its cap
    cap = "max_size" if "max_size" in base or minimum is not None else "size"
    shaped = {k: v for k, v in base.items() if k != ("size" if cap == "max_size" else "max_size")}
    shaped[cap] = pool.size
    if minimum is not None:
        shaped["min_size"] = minimum
    elif "min_size" in shaped:
        shaped["min_size"] = pool.size  # a fixed pool written as a range: min_size = max_size
    kept = dict(shaped)
    if "max_overflow" in kept:
        kept["max_overflow"] = pool.max_overflow
    return [kept, {**shaped, "max_overflow": pool.max_overflow}, {k: v for k, v in kept.items() if k != "min_size"}]


def _pool_candidates(pool: Pool, threads: int) -> list[Any]:
    """Return new ``pool`` values, simplest first: a size alone, a driver name, a mapping."""
    if pool.size is None:
        return ["unbounded", {"max_overflow": -1}, {"driver": pool.driver, "max_overflow": -1}]
    out: list[Any] = [pool.size, pool.driver]
    mapping: dict[str, Any] = {} if pool.driver == CUSTOM_DRIVER else {"driver": pool.driver}
    minimum = getattr(pool, "min_size", None)
    mapping.update({"min_size": minimum, "max_size": pool.size} if minimum is not None else {"size": pool.size})
    if pool.max_overflow or _driver_defaults(pool.driver, threads)[1]:
        mapping["max_overflow"] = pool.max_overflow
    return out + [mapping, {**mapping, "max_overflow": pool.max_overflow}]


# --------------------------------------------------------------------------- the formats


class _Document:
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
        old = parent.get(key, _MISSING)
        if old is not _MISSING and type(value) is not bool and not isinstance(value, (dict, list)) and _same_scalar(old, value):
            return  # already says so: leave its text alone
        new = self.convert(value, old, inline=True)
        if old is _MISSING:
            self.insert(parent, key, new, order)
        else:
            self.replace(parent, key, new)

    def set_list(self, parent: MutableMapping[str, Any], key: str, items: list[Any], order: Sequence[str], path: str) -> None:
        """Make ``parent[key]`` the list ``items``, changing only the items that differ."""
        old = parent.get(key, _MISSING)
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
                self.insert_item(current, i1 + offset, self.convert(item, _MISSING, inline=True))

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
        return self.convert(dict(body), _MISSING, inline=False)

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


def _ordered_position(keys: Sequence[str], key: str, order: Sequence[str]) -> int:
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


# --------------------------------------------------------------------------- YAML


class _YamlDocument(_Document):
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
                position = _ordered_position(keys, key, order)
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
                mapping[k] = self.convert(v, _MISSING, inline=True)
            mapping.fa.set_flow_style() if inline else mapping.fa.set_block_style()
            return mapping
        if isinstance(value, (list, tuple)):
            seq = CommentedSeq(self.convert(v, _MISSING, inline=True) for v in value)
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
        return self.convert(dict(body), _MISSING, inline=flow)

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
        merged = _merge_lines(self.text, base, edited)
        return [t for t in (merged, edited) if t is not None]


def _merged_maps(node: Any) -> list[Any]:
    """Return the mappings a ruamel mapping merges in with `<<` (ruamel has stored them two ways)."""
    from ruamel.yaml.comments import merge_attrib

    return [item[1] if isinstance(item, tuple) else item for item in getattr(node, merge_attrib, None) or []]


def _plain_yaml_is_str(text: str) -> bool:
    """Return whether planner's YAML reader (PyYAML, YAML 1.1) reads ``text`` unquoted as a string."""
    import yaml

    return yaml.resolver.Resolver().resolve(yaml.ScalarNode, text, (True, False)) == "tag:yaml.org,2002:str"


# --------------------------------------------------------------------------- TOML


class _TomlDocument(_Document):
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
                table[k] = self.convert(v, _MISSING, inline=True)
            return table
        if isinstance(value, (list, tuple)):
            array = tomlkit.array()
            array.extend(self.convert(v, _MISSING, inline=True) for v in value)
            return array
        if isinstance(value, str):
            literal = isinstance(old, String) and old.as_string().startswith("'") and "'" not in value
            return tomlkit.string(value, literal=literal)
        return value

    def entry_value(self, section: MutableMapping[str, Any], body: Mapping[str, Any]) -> Any:
        from tomlkit.items import InlineTable

        siblings = [v for v in section.values() if self.is_map(v)]
        inline = self._inline_parent(section) or (bool(siblings) and all(isinstance(s, InlineTable) for s in siblings))
        return self.convert(dict(body), _MISSING, inline=inline)

    def render(self) -> list[str]:
        import tomlkit

        return [tomlkit.dumps(self.root)]


# --------------------------------------------------------------------------- JSON


class _JsonDocument(_Document):
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
        items.insert(_ordered_position([k for k, _ in items], key, order), (key, value))
        parent.clear()
        parent.update(items)

    def _dump(self, data: Any) -> str:
        return json.dumps(data, indent=self.indent, ensure_ascii=False) + "\n"

    def render(self) -> list[str]:
        edited = self._dump(self.root)
        merged = _merge_lines(self.text, self._dump(json.loads(self.text)), edited)
        return [t for t in (merged, edited) if t is not None]


# --------------------------------------------------------------------------- keeping the user's lines


def _leading(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _line_up(original: list[str], base: list[str]) -> list[tuple[str, int, int, int, int]]:
    """Return the blocks of two texts (lines with whitespace removed): equal, or laid out differently.

    Within what :class:`SequenceMatcher` sees as one differing block, lines whose joined text is the
    same (a flow mapping the library writes on one line, the user over two) become blocks of their
    own, so the rest of the block (an anchor the library dropped) stays apart from them.
    """
    blocks: list[tuple[str, int, int, int, int]] = []
    for tag, o1, o2, b1, b2 in SequenceMatcher(None, original, base, autojunk=False).get_opcodes():
        if tag == "equal":
            blocks.append((tag, o1, o2, b1, b2))
            continue
        i, j = o1, b1
        while i < o2 and j < b2:
            group = _joined(original, i, o2, base[j])
            if group is not None:
                blocks.append(("equal" if group == i + 1 else "joined", i, group, j, j + 1))
                i, j = group, j + 1
                continue
            group = _joined(base, j, b2, original[i])
            if group is None:
                break
            blocks.append(("equal" if group == j + 1 else "joined", i, i + 1, j, group))
            i, j = i + 1, group
        if i < o2 or j < b2:
            blocks.append(("replace", i, o2, j, b2))
    return blocks


def _joined(lines: list[str], start: int, stop: int, target: str) -> int | None:
    """Return the end of the lines from ``start`` whose joined text is ``target``, or None."""
    text = ""
    for k in range(start, stop):
        text += lines[k]
        if text == target:
            return k + 1
        if not target.startswith(text):
            return None
    return None


def _merge_lines(original: str, base: str, edited: str) -> str | None:
    """Apply the change ``base`` → ``edited`` to ``original``, which differs from ``base`` in layout only.

    ``base`` and ``edited`` are the library's renderings of the file before and after the edit. Where
    the library renders the file exactly (the usual case) this is ``edited``. Otherwise the lines the
    edit does not touch keep the user's text; a changed line the library lays out differently (a flow
    mapping over two lines) is replaced whole; new lines take the user's indentation. Returns None
    when the two cannot be lined up (the caller then uses ``edited`` as it is).
    """
    if original == base:
        return edited
    o_lines = (original if original.endswith("\n") else original + "\n").splitlines(keepends=True)
    b_lines = base.splitlines(keepends=True)
    e_lines = edited.splitlines(keepends=True)

    def squash(line: str) -> str:
        return "".join(line.split())

    odd: list[tuple[int, int]] = []  # base spans the library lays out differently from the original
    at: dict[int, list[int]] = {}  # base boundary -> the original boundaries it may stand for
    indents: dict[str, str] = {}
    for tag, o1, o2, b1, b2 in _line_up([squash(x) for x in o_lines], [squash(x) for x in b_lines]):
        if tag == "equal":
            for k in range(b2 - b1 + 1):
                at.setdefault(b1 + k, []).append(o1 + k)
            for k in range(b2 - b1):
                b_lead, o_lead = _leading(b_lines[b1 + k]), _leading(o_lines[o1 + k])
                if b_lines[b1 + k].strip() and indents.setdefault(b_lead, o_lead) != o_lead:
                    return None  # the file indents one level in two ways: leave the layout to the library
        else:
            odd.append((b1, b2))
            at.setdefault(b1, []).append(o1)
            at.setdefault(b2, []).append(o2)
    identity = all(k == v for k, v in indents.items())
    # the edit's hunks, each widened over the layout differences it touches, merged where they meet
    spans: list[list[int]] = []
    for tag, b1, b2, e1, e2 in SequenceMatcher(None, b_lines, e_lines, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        lo, hi = b1, b2
        for x1, x2 in odd:
            if x1 < x2 and ((x1 < hi and lo < x2) if hi > lo else x1 < lo < x2):
                lo, hi = min(lo, x1), max(hi, x2)
        span = [lo, hi, e1 - (b1 - lo), e2 + (hi - b2)]
        if spans and lo <= spans[-1][1] and (lo < spans[-1][1] or hi > lo):
            previous = spans.pop()
            span = [previous[0], hi, previous[2], span[3]]
        spans.append(span)
    newline = "\r\n" if o_lines[0].endswith("\r\n") else "\n"
    out: list[str] = []
    position = 0
    for lo, hi, e1, e2 in spans:
        if lo not in at or hi not in at:
            return None
        # lines only the original has (a `...`, a dropped anchor) stay outside what is replaced
        start = min(at[lo]) if lo == hi else max(at[lo])
        end = min(at[hi])
        if start < position or end < start:
            return None
        out += o_lines[position:start]
        for line in e_lines[e1:e2]:
            lead = _leading(line)
            if line.strip() and lead not in indents and not identity:
                return None
            out.append(indents.get(lead, lead) + line[len(lead):].rstrip("\r\n") + newline)
        position = end
    out += o_lines[position:]
    return "".join(out)
