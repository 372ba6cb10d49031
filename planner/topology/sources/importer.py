"""Bootstrap a topology from what is deployed: ``planner import kubernetes|terraform|compose``.

A topology that reads its numbers from the deployment (``sources:`` and ``from:``) still has to
name every database, service and pooler. :func:`import_sources` lists what a source can describe
(:meth:`Source.names`) and turns each object into the smallest entry that reads it: ``{from: REF}``,
with ``container:`` when the workload has several, and ``{env: NAME}`` placeholders for the pool
settings the container's environment spells in well-known variables (``WEB_CONCURRENCY``,
``DB_POOL_SIZE``, ...), so the pool follows the deployment too. :func:`write_topology` writes those
entries into a new YAML file or merges them into the user's own, keeping its text, and proves the
result by reading it as ``check`` will (:func:`~planner.topology.load.parse_topology`).

What no manifest says is left to the user and said so: a pool's driver (a YAML comment on the
entry), an RDS Proxy's clients and a value known only after apply (entries written commented out,
with what to write). Nothing here invents a number.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planner.errors import InputError, Problem
from planner.topology.sources.base import Fact, Found, RefError, Role, Source, SourceFileError, SourceFiles, Unknown
from planner.topology.sources.files import DiskFiles
from planner.topology.sources.resolve import SECTIONS, load_source, ref_kind

if TYPE_CHECKING:
    from planner.model import Topology

# The top-level keys in the order a topology writes them: new sections go where a reader expects them.
ORDER = ("version", "name", "sources", "databases", "environments", "services", "poolers")
POOL_HINT = "pool: planner cannot read the pool from the deployment; write pool: {driver: ..., size: ...} (docs/topology.md#pools)"
DRIVER_HINT = "pool: size from {var}; add its driver: if it opens more than that (docs/topology.md#pools)"
# Variables that say a container talks to PostgreSQL: how the container of a workload is chosen.
_DATABASE_VARIABLE = re.compile(r"DATABASE_URL|DB_.*|PG.*|POSTGRES.*|DATABASE_.*")
# Well-known variables, each read by a framework or server as the setting the topology needs.
PROCESSES = ("WEB_CONCURRENCY",)  # gunicorn, puma, uvicorn on Heroku-style platforms: worker processes
THREADS = ("RAILS_MAX_THREADS",)  # puma and Active Record: threads, and the pool a Rails app sizes from them
POOL_SIZES = ("DB_POOL_SIZE", "DATABASE_POOL_SIZE", "SQLALCHEMY_POOL_SIZE")
OVERFLOWS = ("DB_MAX_OVERFLOW", "DATABASE_MAX_OVERFLOW", "SQLALCHEMY_MAX_OVERFLOW")
# Images that are a database or a pooler, not a PostgreSQL client (Compose and Kubernetes list every
# container as a workload): the last part of the image's repository, before its tag.
POSTGRES_IMAGES = re.compile(r"postgres(ql)?|postgis|timescaledb(-ha)?")
# Datastores and brokers are not: left out of the services with a note. (Web servers are not listed:
# charts and examples use nginx as the placeholder of the application's image.)
NOT_CLIENTS = re.compile(r"(redis|valkey|memcached|rabbitmq|kafka|zookeeper|elasticsearch|opensearch|mongo|mysql"
                         r"|mariadb|pgbouncer|postgres(ql)?|postgis|timescaledb)(-.*)?")
FILLER = "VALUE"  # what a commented-out entry shows where the user must write a value


@dataclass
class Entry:
    """One imported database, service or pooler, before it is named in the file.

    ``comment`` goes at the end of the entry's first line; ``missing`` (key path → why) makes the
    entry one the user completes: it is written commented out, with those keys to fill in.
    """

    section: str  # "databases", "services" or "poolers"
    ref: str
    names: list[str]  # preferred names, best first
    body: dict[str, Any]
    comment: str | None = None
    missing: dict[str, str] = field(default_factory=dict)
    unpooled: bool = False  # the user must write (part of) its pool


@dataclass
class Imported:
    """What one source gave: its paths as the topology writes them, the entries and what to tell the user."""

    kind: str
    paths: list[str]  # relative to the topology's folder
    entries: list[Entry]
    notes: list[str] = field(default_factory=list)


@dataclass
class Written:
    """The topology text to write, what changed in it, and the notes for stderr."""

    text: str
    added: dict[str, list[str]]  # section -> names written (live entries only)
    commented: list[str]  # "poolers.main" written commented out
    unpooled: list[str]  # services whose pool the user must write
    notes: list[str]


# ---------------------------------------------------------------------------- reading the source


def import_sources(kind: str, paths: list[str], files: SourceFiles, topology_folder: Path) -> Imported:
    """Read the ``kind`` files at ``paths`` (relative to where planner runs) and return an entry for every
    database, service and pooler they describe; the paths come back relative to ``topology_folder``.

    Raises :class:`InputError` for a path that does not exist, files that are not of that kind, or
    files that describe nothing a topology can use.
    """
    for path in paths:
        if not Path(path).exists():
            raise InputError(f"{path}: no such file or folder")
    try:
        source = load_source(kind, files, paths)
    except SourceFileError as e:
        raise InputError(list(e.problems)) from None
    imported = Imported(kind, [_relative(path, topology_folder) for path in paths], [])
    databases = _databases(source)
    for section, role in SECTIONS.items():
        for ref in source.names(role):
            if section == "databases" and ref not in databases:
                continue
            if section == "services" and ref in databases:
                continue  # a Compose postgres container is the database, not a client of it
            if section == "poolers" and kind != "terraform":
                continue  # every workload could be a PgBouncer: which one is, no manifest says
            entry = _entry(source, ref, role, section, imported.notes)
            if entry is not None:
                imported.entries.append(entry)
    if not imported.entries:
        why = "; ".join(imported.notes) if imported.notes else _WHAT[kind]
        raise InputError(f"{', '.join(paths)}: found no database, service or pooler to import ({why})")
    return imported


_WHAT = {
    "kubernetes": "planner reads Deployments, StatefulSets and ReplicaSets",
    "terraform": "planner reads aws_db_instance, aws_rds_cluster, aws_lambda_function, aws_ecs_service and aws_db_proxy",
    "compose": "planner reads the services of a Compose file",
}


def _relative(path: str, folder: Path) -> str:
    """Return ``path`` (from where planner runs) as the topology in ``folder`` names it; a folder ends in /."""
    relative = Path(os.path.relpath(Path(path).resolve(), folder.resolve())).as_posix()
    return relative + "/" if Path(path).is_dir() and not relative.endswith("/") else relative


def _databases(source: Source) -> list[str]:
    """Return the references that are databases: Terraform's RDS resources, Compose's postgres containers
    (the Compose reader reads any service as a database; its image says which one is)."""
    refs = source.names("database")
    if source.kind != "compose":
        return refs
    return [ref for ref in refs
            if any(POSTGRES_IMAGES.fullmatch(_repository(image)) for image in source.find(ref, "database").images)]


_WHERE_INSTEAD = {
    "pgbouncer": " (write it under poolers with kind: pgbouncer)",
    "postgres": " (a database: write it under databases with engine: self-managed)",
    "postgresql": " (a database: write it under databases with engine: self-managed)",
}


def _repository(image: str) -> str:
    """Return the last part of an image's repository: ``docker.io/bitnami/postgresql:16`` → ``postgresql``."""
    name = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return name.split(":", 1)[0].lower()


def _entry(source: Source, ref: str, role: Role, section: str, notes: list[str]) -> Entry | None:
    """Return the entry for one object, or None (with a note) when it is not one to import."""
    try:
        found = source.find(ref, role)
    except RefError as e:  # names() lists it, but it cannot be read as this role: say so and go on
        notes.append(f"{ref}: not imported: {e.message}")
        return None
    images = found.images
    if role == "service" and images and all(NOT_CLIENTS.fullmatch(_repository(i)) for i in images):
        notes.append(f"{ref}: not imported as a service: its image {images[0]} is not a PostgreSQL client"
                     + _WHERE_INSTEAD.get(_repository(images[0]).split("-")[0], ""))
        return None
    entry = Entry(section, ref, _names(ref), {"from": ref})
    entry.missing = {key: f"{value.origin.what} {value.reason}" for key, value in found.facts.items()
                     if isinstance(value, Unknown)}
    if role == "service":
        _service(entry, found, notes)
    elif role == "pooler":
        entry.missing.setdefault("clients", "list the services that connect through it")
    notes.extend(found.notes)
    return entry


# ---------------------------------------------------------------------------- services and their pools


def _service(entry: Entry, found: Found, notes: list[str]) -> None:
    """Choose the container whose environment to read, and write the pool settings it holds."""
    container, env = _container(entry.ref, found, notes)
    if env is not None and not any(_DATABASE_VARIABLE.fullmatch(v) for v in env) and not found.env_unread.get(container or ""):
        notes.append(f"{entry.ref}: its environment names no database variable (DATABASE_URL, DB_*, PG*, POSTGRES*): "
                     "remove its entry if it does not connect to PostgreSQL")
    if container is not None and found.env is not None and len(found.env) > 1:
        entry.body["container"] = container
    lambda_shape = any(key == "lambda" or key.startswith("lambda.") for key in found.facts)
    numbers = {name: int(value.value) for name, value in (env or {}).items()
               if isinstance(value, Fact) and isinstance(value.value, str) and value.value.strip().isdigit()}
    if not lambda_shape:  # a Lambda function has no processes or threads, only its concurrency
        for key, names in (("processes", PROCESSES), ("threads", THREADS)):
            var = next((n for n in names if numbers.get(n, 0) >= 1), None)
            if var is not None:
                entry.body[key] = {"env": var}
    pool = _pool(numbers, lambda_shape, entry.ref, notes)
    if pool:
        entry.body["pool"] = pool
    if "driver" not in pool:
        entry.unpooled = True
        entry.comment = DRIVER_HINT.format(var=pool["size"]["env"]) if pool else POOL_HINT


def _container(ref: str, found: Found, notes: list[str]) -> tuple[str | None, dict[str, Fact | Unknown] | None]:
    """Return the container to read and its environment: the only one, or the one that names database
    variables; (None, None) with a note when no single container does."""
    if not found.env:
        return None, None
    if len(found.env) == 1:
        name = next(iter(found.env))
        return name, found.env[name]
    talking = [name for name, env in found.env.items() if any(_DATABASE_VARIABLE.fullmatch(v) for v in env)]
    if len(talking) == 1:
        variables = [v for v in found.env[talking[0]] if _DATABASE_VARIABLE.fullmatch(v)]
        notes.append(f"{ref}: container {talking[0]} chosen of {', '.join(found.env)} "
                     f"(its environment names {', '.join(variables[:3])})")
        return talking[0], found.env[talking[0]]
    which = "several" if talking else "none"
    notes.append(f"{ref}: {len(found.env)} containers ({', '.join(found.env)}) and {which} of them name database "
                 "variables: add container: NAME to the service to read {env: ...} values from it")
    return None, None


def _pool(numbers: dict[str, int], lambda_shape: bool, ref: str, notes: list[str]) -> dict[str, Any]:
    """Return the pool the environment spells, as ``{env: NAME}`` placeholders, or {} if it spells none."""
    size = next((n for n in POOL_SIZES if n in numbers), None)
    rails = None if lambda_shape else next((n for n in THREADS if numbers.get(n, 0) >= 1), None)
    if size is not None and numbers[size] < 1:
        notes.append(f"{ref}: {size} is {numbers[size]} (SQLAlchemy reads 0 as no limit): write its pool by hand")
        size = None
    pool: dict[str, Any] = {}
    if size == "SQLALCHEMY_POOL_SIZE":
        pool["driver"] = "sqlalchemy"
    elif rails is not None:
        pool["driver"] = "rails"  # Rails' database.yml sizes the pool from RAILS_MAX_THREADS
    if size is not None or rails is not None:
        pool["size"] = {"env": size or rails}
    overflow = next((n for n in OVERFLOWS if n in numbers), None)
    if overflow is not None and "size" in pool:
        pool["max_overflow"] = {"env": overflow}
    return pool


# ---------------------------------------------------------------------------- names


def _names(ref: str) -> list[str]:
    """Return the names an entry for ``ref`` may take, best first (see :func:`entry_name`)."""
    best = entry_name(ref)
    parts = ref.split("/")
    if ref_kind(ref) == "kubernetes" and len(parts) == 3:  # namespace/Kind/name: the namespace tells two of the same name apart
        longer = _sanitize(f"{parts[0]}-{best}")
    else:  # a Terraform address: its modules do
        modules = re.findall(r"module\.([A-Za-z0-9_-]+)", ref)
        longer = _sanitize("-".join([*modules, best])) if modules else best
    return [best] + ([longer] if longer != best else [])


def entry_name(ref: str) -> str:
    """Return the topology name for a reference: ``Deployment/shop-web`` → ``shop-web``,
    ``aws_db_instance.main`` → ``main``, ``module.orders.aws_ecs_service.this`` → ``orders``,
    ``aws_lambda_function.worker["emails"]`` → ``worker-emails``, ``compose/worker`` → ``worker``."""
    if ref_kind(ref) in ("kubernetes", "compose"):  # Kind/name, namespace/Kind/name, compose/NAME
        return _sanitize(ref.rsplit("/", 1)[1])
    steps = re.findall(r"([A-Za-z0-9_-]+)(?:\[([^\]]+)\])?", ref)
    name, index = steps[-1]
    modules = [(steps[i + 1][0], steps[i + 1][1]) for i, (word, _) in enumerate(steps[:-1]) if word == "module"]
    if name in ("this", "main", "default") and modules:
        # a module's only resource of its type: the module names it, or its for_each key
        name, module_index = modules[-1]
        if module_index.startswith('"') and not index:
            return _sanitize(module_index.strip('"'))
        index = index or module_index
    index = index.strip('"')
    if index and index != "0":  # count = var.enabled ? 1 : 0 gives [0] to a single resource
        name = f"{name}-{index}"
    return _sanitize(name)


def _sanitize(name: str) -> str:
    """Return ``name`` with what a topology name cannot hold (``A–Z a–z 0–9 _ . -``) replaced by ``-``."""
    cleaned = re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9_.-]", "-", name)).strip("-")
    return cleaned or "imported"


def _unique(names: list[str], taken: set[str]) -> str:
    """Return the first of ``names`` not in ``taken``, else the first with a number: ``web-2``."""
    for name in names:
        if name not in taken:
            return name
    number = 2
    while f"{names[0]}-{number}" in taken:
        number += 1
    return f"{names[0]}-{number}"


# ---------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class Options:
    """What the command line adds: the database the services use, or the one to create."""

    database: str | None = None  # --database
    instance_class: str | None = None  # --instance-class: create the database when there is none
    engine_version: str | None = None


def write_topology(existing: str | None, filename: str, imported: Imported, options: Options, header: str) -> Written:
    """Return the topology ``filename`` with ``imported`` written in: ``existing`` (its text, or None for
    a new file starting with ``header`` as comments) keeps every line the import does not add to.

    Entries already in the file (by ``from:`` or by name) are left as written; entries the user must
    complete are appended commented out. The text is proven by reading it as ``check`` would, with
    the sources read from ``filename``'s folder. Raises :class:`InputError` when it cannot be (one
    line per problem).
    """
    from planner.topology.edit.yaml_document import YamlDocument

    if existing is None:
        existing = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines()) + "version: 1\n"
    document = YamlDocument(existing, filename)
    root = document.root
    if not isinstance(root, dict):
        raise InputError(Problem(filename, "", "cannot merge into a YAML file whose top level is not a mapping",
                                 hint="write to a new file with -o"))
    written = Written("", {}, [], [], list(imported.notes))
    live = [e for e in imported.entries if not e.missing]
    waiting = [e for e in imported.entries if e.missing]
    named = _place(root, live + waiting, written)
    live = [e for e in live if e.ref in named]
    waiting = [e for e in waiting if e.ref in named and not _listed(existing, e.ref)]
    _add_sources(document, imported)
    database = _database(document, root, options, [named[e.ref] for e in live if e.section == "databases"], written)
    for entry in live:
        if entry.section == "services" and database is not None:
            keys = list(entry.body)
            at = 2 if "container" in keys else 1  # after from (and container): which object, then which database
            entry.body = dict([*entry.body.items()][:at] + [("database", database)] + [*entry.body.items()][at:])
        _add_entry(document, root, entry, named[entry.ref], written)
    block = _waiting_block(waiting, named, written)
    texts = [text + block for text in document.render()]
    written.text = _proven(texts, filename)
    return written


def _listed(text: str, ref: str) -> bool:
    """Return whether the file already names ``ref`` (an entry written commented out by an earlier import)."""
    return f"from: {_flow(ref)}" in text


def _add_sources(document: Any, imported: Imported) -> None:
    """Add the source's paths to ``sources.KIND``, keeping the ones listed (the same path once)."""
    sources = document.child_map(document.root, "sources", "sources", inline=False, order=ORDER)
    current = sources.get(imported.kind)
    listed = [current] if isinstance(current, str) else list(current) if isinstance(current, list) else []
    known = {os.path.normpath(str(p)) for p in listed}
    paths = listed + [p for p in imported.paths if os.path.normpath(p) not in known]
    if isinstance(current, str) and len(paths) == 1:
        return  # `kubernetes: rendered/` as the user wrote it
    document.set_list(sources, imported.kind, paths, (), f"sources.{imported.kind}")


def _place(root: Any, entries: list[Entry], written: Written) -> dict[str, str]:
    """Return ref → the name each entry gets; entries the file already has are left out (with a note
    when an entry of that name is written by hand)."""
    named: dict[str, str] = {}
    taken = {s: set(root[s]) if isinstance(root.get(s), dict) else set() for s in SECTIONS}
    for entry in entries:
        section = root.get(entry.section) if isinstance(root.get(entry.section), dict) else {}
        if any(isinstance(spec, dict) and spec.get("from") == entry.ref for spec in section.values()):
            continue  # imported before: nothing to add
        spec = section.get(entry.names[0])
        if isinstance(spec, dict) and "from" not in spec:
            written.notes.append(f"{entry.section}.{entry.names[0]} exists: left as written "
                                 f"(add from: {entry.ref} to it to read it from the deployment)")
            continue
        name = _unique(entry.names, taken[entry.section])
        taken[entry.section].add(name)
        named[entry.ref] = name
    return named


def _database(document: Any, root: Any, options: Options, imported: list[str], written: Written) -> str | None:
    """Make sure the services have a database (the file's, an imported one, or the one --instance-class
    describes); return the name to write as the imported services' ``database``, if they need one."""
    databases = (list(root["databases"]) if isinstance(root.get("databases"), dict) else []) + imported
    if not databases:
        if options.instance_class is None:
            raise InputError("the topology has no database and the deployment describes none: give --instance-class CLASS "
                             "(and --engine-version), or import the databases first with planner import terraform "
                             "or planner import rds")
        body: dict[str, Any] = {"instance_class": options.instance_class}
        if options.engine_version is not None:
            body["engine_version"] = options.engine_version
        name = options.database or "main"
        section = document.child_map(root, "databases", "databases", inline=False, order=ORDER)
        document.new_entry(section, name, body, f"databases.{name}")
        written.added.setdefault("databases", []).append(name)
        return None
    if options.instance_class is not None:
        written.notes.append(f"--instance-class {options.instance_class} not used: the topology has its databases "
                             f"({', '.join(databases)})")
    if options.database is not None and options.database not in databases:
        raise InputError(f"--database {options.database}: the topology has no such database (it has {', '.join(databases)})")
    if len(databases) == 1:
        return None  # a service with no `database` uses the only one
    if options.database is None and "environments" not in root:
        raise InputError(f"the topology has {len(databases)} databases ({', '.join(databases)}): name the one the imported "
                         "services use with --database NAME (then set database: on those that use another)")
    return options.database


def _add_entry(document: Any, root: Any, entry: Entry, name: str, written: Written) -> None:
    """Write one entry into its section (made if the file has none), with its comment."""
    section = document.child_map(root, entry.section, entry.section, inline=False, order=ORDER)
    document.new_entry(section, name, entry.body, f"{entry.section}.{name}")
    if entry.comment:  # two spaces after the key, as a person writes it (ruamel lines up with the comment before)
        section.yaml_add_eol_comment(entry.comment, name, column=document.yaml.map_indent + len(name) + 3)
    written.added.setdefault(entry.section, []).append(name)
    if entry.unpooled:
        written.unpooled.append(name)


def _waiting_block(entries: list[Entry], named: dict[str, str], written: Written) -> str:
    """Return the entries the user must complete as commented-out YAML, each saying what to write."""
    if not entries:
        return ""
    lines = ["", f"# Imported, but the deployment does not say everything: write each {FILLER}, then uncomment the entry",
             "# (into the section of that name if the file has one)."]
    for section in SECTIONS:
        mine = [e for e in entries if e.section == section]
        if mine:
            lines.append(f"# {section}:")
        for entry in mine:
            name = named[entry.ref]
            body = dict(entry.body)
            for key in entry.missing:
                _put(body, key, [FILLER] if key == "clients" else FILLER)
            why = "; ".join(f"{key}: {reason}" for key, reason in entry.missing.items())
            lines.append(f"#   {name}: {_flow(body)}  # {why}")
            written.commented.append(f"{section}.{name}")
    return "\n".join(lines) + "\n"


def _put(body: dict[str, Any], key: str, value: Any) -> None:
    """Set a dotted key path (``lambda.concurrency``) in a nested mapping."""
    *parents, leaf = key.split(".")
    for part in parents:
        body = body.setdefault(part, {})
    body[leaf] = value


def _flow(value: Any) -> str:
    """Return ``value`` as one line of flow YAML, as a topology writes short entries."""
    import yaml

    return str(yaml.safe_dump(value, default_flow_style=True, width=2**16, sort_keys=False)).strip().removesuffix("\n...").strip()


class _FolderToBe(DiskFiles):
    """Source files relative to a topology whose folder may not exist yet (``-o deploy/shop.yaml``):
    ``deploy/../rendered`` is read as ``rendered``, as it will be once the folder is made."""

    def _path(self, path: str) -> Path:
        return Path(os.path.normpath(super()._path(path)))


def read_written(text: str, filename: str) -> "Topology":
    """Return the topology ``text`` will be once written to ``filename``, its sources read from there
    (the folder need not exist yet); raises :class:`InputError` as ``check`` would."""
    from planner.topology.load import parse_topology

    return parse_topology(text, filename, "yaml", files=_FolderToBe(Path(filename).parent, filename))


def _proven(texts: list[str], filename: str) -> str:
    """Return the first text that reads as a valid topology; else raise the first one's problems."""
    first: InputError | None = None
    for text in texts:
        try:
            read_written(text, filename)
        except InputError as e:
            first = first or e
            continue
        return text
    assert first is not None
    raise first
