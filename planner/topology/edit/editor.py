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

import dataclasses
import functools
from collections.abc import Mapping, MutableMapping
from fractions import Fraction
from typing import Any, Callable, TypeVar

from planner.errors import InputError, Problem
from planner.model import DEFAULT_ENVIRONMENT, Database, Environment, Pool, Pooler, Service, Topology
from planner.topology.databases import DATABASE_KEYS, PARAMETER_KEYS, SERVERLESS_KEYS
from planner.topology.edit.documents import MISSING, Document, JsonDocument, TomlDocument
from planner.topology.edit.yaml_document import YamlDocument
from planner.topology.load import ENVIRONMENT_KEYS, TOP_KEYS, parse_topology
from planner.topology.parse import detect_format
from planner.topology.parsed import ParsedFile, join_path
from planner.topology.poolers import POOLER_KEYS
from planner.topology.services import CUSTOM_DRIVER, POOL_DRIVERS, POOL_KEYS, SERVICE_KEYS, THREADS, ServiceRules
from planner.topology.sources.base import SourceOverrides
from planner.topology.values import is_number
from planner.topology.writer import _number, _percent, topology_document

T = TypeVar("T")




_POOLER_FIELDS = ("database", "endpoint", "replicas", "pool_mode", "default_pool_size", "reserve_pool_size",
                  "max_db_connections", "pairs", "max_client_conn", "max_connections_percent", "num_init_children", "max_pool")


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


def sourced_changes(before: Topology, after: Topology) -> list[Problem]:
    """Return a problem for every value ``after`` changes that ``before`` read from the deployment.

    planner edits the topology, never a manifest or a plan: a change to the HPA's maximum or to a
    ``{env: DB_POOL_SIZE}`` belongs in the file it came from, and writing it into the topology
    would be a conflict with that source the next time the topology is read.
    """
    problems = []
    for path, sourced in before.provenance.items():
        if path.count(".") < 2:  # an entry's own `from:`, not a value
            continue
        was, now = _model_value(before, path), _model_value(after, path)
        if was != now:
            problems.append(Problem(before.path, path, f"{_shown(was)} → {_shown(now)}: the value comes from "
                                    f"{sourced.origin}, and planner does not edit deployment files", before.line_of(path),
                                    hint="change it there and run planner check again, or choose an option that "
                                         "changes what the topology itself writes"))
    return problems


# key paths whose model field is not named as the key is
_FIELD_NAMES = {"replicas.min": "replicas_min", "replicas.max": "replicas_max", "lambda.concurrency": "lambda_concurrency",
                   "serverless.min": "min_acu", "serverless.max": "max_acu"}


def _model_value(topology: Topology, path: str) -> Any:
    """Return the value a topology key path (``services.web.pool.size``) has in the model, or None."""
    section, name, key = path.split(".", 2)
    entry = getattr(topology, section, {}).get(name)
    if entry is None:
        return None
    if key == "replicas" and isinstance(entry, Service):
        return entry.replicas_min if entry.replicas_min == entry.replicas_max else (entry.replicas_min, entry.replicas_max)
    if key == "max_surge" and isinstance(entry, Service):
        return entry.surge_count if entry.surge_count is not None else _percent(entry.surge_percent or Fraction(0))
    head, _, rest = key.partition(".")
    if head == "parameters" and isinstance(entry, Database):
        return entry.parameters.get(rest)
    if head == "pool" and rest and isinstance(entry, Service):
        return getattr(entry.pool, rest, None)
    return getattr(entry, _FIELD_NAMES.get(key, key.replace(".", "_")), None)


def _shown(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, tuple):
        return "{min: %s, max: %s}" % value
    return str(value)


def edit_topology(original_text: str, filename: str, before: Topology, after: Topology,
                  overrides: SourceOverrides | None = None) -> str:
    """Return ``original_text`` (the file ``before`` was read from) changed so that it reads as ``after``.

    Only the keys whose values differ are written; comments, key order, quoting and layout are kept.
    ``filename`` gives the format (by its suffix) and names the file in problems. Raises
    :class:`InputError` when the text does not hold ``before`` or when the file cannot be edited
    safely (one line: file, key path, what to do), and :class:`EditBug` when the edit does not read
    back as ``after`` (a bug: nothing should be written then). A topology that reads ``sources`` is
    read with the same ``overrides`` (``--source``), and a change to a value it read from them is
    refused (:func:`sourced_changes`).
    """
    fmt = detect_format(filename, None)
    if not same_topology(parse_topology(original_text, filename, fmt, overrides=overrides), before):
        raise InputError(Problem(filename, "", "the file no longer holds the topology planner read",
                                 hint="did it change while planner ran? run the command again"))
    if same_topology(before, after):
        return original_text
    refused = sourced_changes(before, after)
    if refused:
        raise InputError(list(refused))
    kind = {"yaml": YamlDocument, "toml": TomlDocument, "json": JsonDocument}[fmt]
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
                again = parse_topology(text, filename, fmt, overrides=overrides)
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


class _Editor:
    """Walk the differences between two topologies and write each into the document."""

    def __init__(self, document: "Document", before: Topology, after: Topology) -> None:
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
        if b.scenarios != a.scenarios:
            if a.scenarios is None:
                doc.delete(entry, "scenarios", join_path(path, "scenarios"))
            else:
                doc.set_list(entry, "scenarios", list(a.scenarios), SERVICE_KEYS, join_path(path, "scenarios"))
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
        old = entry.get("pool", MISSING)
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
        if b.kind != a.kind:  # PgBouncer, RDS Proxy and Pgpool-II have different keys
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
    if value is MISSING:
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
