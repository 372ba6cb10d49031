"""Bootstrap a topology from what is deployed: ``planner import kubernetes|terraform|compose``.

A topology that reads its numbers from the deployment (``sources:`` and ``from:``) still has to
name every database, service and pooler. :func:`import_sources` lists what a source describes and
sorts it the way spec §6 asks:

- databases: Terraform's RDS resources, PostgreSQL containers (a self-managed database);
- poolers: RDS Proxies, and PgBouncer or Pgpool-II containers, with the services that reach the
  database through them as their ``clients``;
- services: only containers with evidence of a PostgreSQL connection
  (:mod:`planner.topology.sources.apps.evidence`); every other container is left out, and listed
  once with the reason.

Each entry is the smallest one that reads it, ``{from: REF}`` (with ``container:`` when the workload
has several, ``database:`` when its evidence names one of several): its processes, threads and pool
are read from the deployment on every run, not copied. :func:`write_topology` writes the entries into
a new YAML file or merges them into the user's own, keeping its text, then reads the result as
``check`` will: every key that reading cannot fill (a pool no framework shows, one process per CPU of
the host, a value known only after apply, a proxy's clients) is written as the placeholder ``VALUE``
with the reason beside it, which ``check`` refuses (exit 2, naming the key) until the user replaces
it. Nothing here invents a number.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planner.errors import InputError, Problem
from planner.topology.sources.apps.evidence import (
    Evidence,
    bystander,
    choose_container,
    client_evidence,
    engine_name,
)
from planner.topology.sources.apps.images import is_postgres_image
from planner.topology.sources.apps.poolers import pooler_image, read_pooler
from planner.topology.sources.apps.recognise import read_container
from planner.topology.sources.base import Container, Found, RefError, Role, Source, SourceFileError, SourceFiles, Unknown
from planner.topology.sources.files import DiskFiles
from planner.topology.sources.resolve import SECTIONS, load_source, ref_kind

if TYPE_CHECKING:
    from planner.model import Topology

# The top-level keys in the order a topology writes them: new sections go where a reader expects them.
ORDER = ("version", "name", "sources", "databases", "environments", "services", "poolers")
FILLER = "VALUE"  # what import writes where the user must write a value; check refuses it
DECLARES_POOLERS = ("terraform", "kubernetes")  # the kinds whose names("pooler") are poolers, not any workload
NO_EVIDENCE = ("nothing shows it connects to PostgreSQL (no PostgreSQL URL or variable, no depends_on on the database "
               "or a pooler, no recognised framework): add it by hand if it does")


@dataclass
class Entry:
    """One imported database, service or pooler, before it is named in the file.

    ``placeholders`` maps the keys the user must write (``pool``, ``lambda.concurrency``) to why: they
    are written as :data:`FILLER`, with the reasons in a comment at the end of the entry's first line.
    """

    section: str  # "databases", "services" or "poolers"
    ref: str
    names: list[str]  # preferred names, best first
    body: dict[str, Any]
    placeholders: dict[str, str] = field(default_factory=dict)
    target: str | None = None  # the database or pooler reference a service's evidence names
    clients_of: list[str] = field(default_factory=list)  # a pooler's clients, as references


@dataclass
class Imported:
    """What one source gave: its paths as the topology writes them, the entries and what to tell the user."""

    kind: str
    paths: list[str]  # relative to the topology's folder
    entries: list[Entry]
    notes: list[str] = field(default_factory=list)
    profiles: tuple[str, ...] | None = None  # Compose profiles read with (written to sources.compose)
    given: list[str] = field(default_factory=list)  # the paths as the command line gave them
    outside_root: bool = False  # --allow-outside-root: the written topology is read as check would read it with it


@dataclass
class Written:
    """The topology text to write, what changed in it, and the notes for stderr."""

    text: str
    added: dict[str, list[str]]  # section -> names written
    placeholders: list[str]  # "services.web.pool": the VALUEs the user must replace
    notes: list[str]


# ---------------------------------------------------------------------------- reading the source


def import_sources(kind: str, paths: list[str], files: SourceFiles, topology_folder: Path,
                   profiles: tuple[str, ...] | None = None, outside_root: bool = False) -> Imported:
    """Read the ``kind`` files at ``paths`` (relative to where planner runs) and return an entry for every
    database, service and pooler they describe; the paths come back relative to ``topology_folder``.
    ``profiles`` (``--profile``) activate Compose services, and are written beside the paths;
    ``outside_root`` (``--allow-outside-root``) reads the written topology as check would with it.

    Raises :class:`InputError` for a path that does not exist or files that are not of that kind.
    """
    for path in paths:
        if not Path(path).exists():
            raise InputError(f"{path}: no such file or folder")
    chosen = None
    if profiles is not None:
        from planner.topology.sources.compose import Profiles

        chosen = Profiles(profiles, "--profile")
    try:
        source = load_source(kind, files, paths, chosen)
    except SourceFileError as e:
        raise InputError(list(e.problems)) from None
    imported = Imported(kind, [_relative(path, topology_folder) for path in paths], [], profiles=profiles, given=list(paths),
                        outside_root=outside_root)
    imported.notes.extend(source.warnings())
    unplanned = source.unplanned()
    imported.notes.extend(f"{u.ref}: left out: a {engine_name(u.engine)} database ({u.engine}: {u.origin}), an engine "
                          "planner does not plan (it plans PostgreSQL)" if engine_name(u.engine) != u.engine else
                          f"{u.ref}: left out: a {u.engine} database ({u.origin}), an engine planner does not plan "
                          "(it plans PostgreSQL)" for u in unplanned)
    databases = _databases(source)
    workloads = _workloads(source, set(databases) | {u.ref for u in unplanned}, imported.notes)
    poolers = [ref for ref, found in workloads.items() if _pooler_container(found) is not None]
    # readers that know a pooler by its kind (an aws_db_proxy, a CloudNativePG Pooler) list them; a Compose
    # service could be anything, so there the image says which are poolers
    declared = source.names("pooler") if kind in DECLARES_POOLERS else []
    targets = set(databases) | set(poolers) | set(declared)
    hosts = source.hosts()
    imported.entries = [_entry(source, ref, "database", "databases", imported.notes) for ref in databases]
    services = [entry for ref, found in workloads.items() if ref not in poolers
                for entry in [_service(ref, found, hosts, targets, imported.notes)] if entry is not None]
    imported.entries += services
    for ref in declared:
        entry = _entry(source, ref, "pooler", "poolers", imported.notes)
        entry.clients_of = [s.ref for s in services if s.target == ref]
        if entry.clients_of:
            entry.placeholders.pop("clients", None)
        imported.entries.append(entry)
    imported.entries += [_pooler(ref, workloads[ref], hosts, set(databases), services) for ref in poolers]
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
    """Return the references that are databases: Terraform's RDS resources, Compose's PostgreSQL containers
    (the Compose reader reads any service as a database; its image, by the table every reader shares,
    says which one is: bitnami/postgresql-repmgr as well as postgres)."""
    refs = source.names("database")
    if source.kind != "compose":
        return refs
    return [ref for ref in refs if any(is_postgres_image(image) for image in source.find(ref, "database").images)]


def _workloads(source: Source, databases: set[str], notes: list[str]) -> dict[str, Found]:
    """Return every object that may be a service or a pooler, read once, in the source's order."""
    found: dict[str, Found] = {}
    for ref in source.names("service"):
        if ref in databases:
            continue  # a Compose postgres container is the database, not a client of it
        try:
            found[ref] = source.find(ref, "service")
        except RefError as e:  # names() lists it, but it cannot be read as a service: say so and go on
            notes.append(f"{ref}: left out: {e.message}")
    return found


def _entry(source: Source, ref: str, role: Role, section: str, notes: list[str]) -> Entry:
    """Return the entry for a database or an RDS Proxy, with a placeholder for what it cannot say."""
    found = source.find(ref, role)
    entry = Entry(section, ref, _names(ref), {"from": ref})
    entry.placeholders = {key: f"{value.origin.what} {value.reason}" for key, value in found.facts.items()
                          if isinstance(value, Unknown)}
    if role == "pooler":
        entry.placeholders.setdefault("clients", "no service's environment names it: list the services that connect through it")
    notes.extend(found.notes)
    return entry


# ---------------------------------------------------------------------------- services and poolers


def _running(found: Found) -> list[Container]:
    return [c for c in found.containers or () if not c.one_shot]


def _pooler_container(found: Found) -> Container | None:
    """Return the PgBouncer or Pgpool-II container of a workload, if it runs one."""
    return next((c for c in _running(found) if pooler_image(c.image) is not None), None)


def _service(ref: str, found: Found, hosts: dict[str, str], targets: set[str], notes: list[str]) -> Entry | None:
    """Return the service entry for a workload with evidence of a PostgreSQL connection, or None with a note."""
    if found.containers is None:
        notes.append(f"{ref}: left out: its environment cannot be read, so {NO_EVIDENCE}")
        return None
    running = _running(found)
    candidates = [c for c in running if bystander(c) is None]
    if not candidates:
        why = bystander(running[0]) if running else "it runs no container"
        notes.append(f"{ref}: left out: {why}")
        return None
    shown: list[tuple[Container, list[Evidence]]] = []
    for container in candidates:
        evidence = client_evidence(found, container, read_container(ref, container), hosts, targets)
        if evidence:
            shown.append((container, evidence))
    if not shown:
        notes.append(f"{ref}: left out: {NO_EVIDENCE}")
        return None
    chosen, evidence = shown[0]
    if len(shown) > 1:
        best, _ = choose_container([c for c, _ in shown])
        chosen, evidence = next(((c, e) for c, e in shown if c is best), shown[0])
        notes.append(f"{ref}: container {chosen.name} read of {', '.join(c.name for c, _ in shown)}, which all show "
                     "PostgreSQL use: add an entry with container: NAME for each other one that connects")
    notes.extend(found.notes)
    entry = Entry("services", ref, _names(ref), {"from": ref})
    if len(running) > 1:
        entry.body["container"] = chosen.name
    entry.target = evidence[0].target
    return entry


def _pooler(ref: str, found: Found, hosts: dict[str, str], databases: set[str], services: list[Entry]) -> Entry:
    """Return the pooler entry for a PgBouncer or Pgpool-II workload, with the services whose evidence names it."""
    entry = Entry("poolers", ref, _names(ref), {"from": ref})
    container = _pooler_container(found)
    running = _running(found)
    if container is not None and len(running) > 1:
        entry.body["container"] = container.name
    entry.clients_of = [s.ref for s in services if s.target == ref]
    reading = read_pooler(container) if container is not None else None
    backends = [hosts.get(host) or hosts.get(host.split(".", 1)[0]) for host in (reading.backend_hosts if reading else [])]
    entry.target = next((b for b in backends if b in databases), None)
    if not entry.clients_of:
        entry.placeholders["clients"] = "no service's environment names this pooler: list the services that connect through it"
    return entry


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

    Entries already in the file (by ``from:`` or by name) are left as written. The text is read as
    ``check`` would read it, with the sources read from ``filename``'s folder: every key of an
    imported entry that the deployment cannot fill becomes a :data:`FILLER` placeholder with the
    reason in a comment, and the text is read again. Raises :class:`InputError` for any other
    problem (one line per problem), and when the files describe nothing a topology can use (unless
    --instance-class gives the database of what they describe but leave out, each with its reason).
    """
    if not imported.entries and (options.instance_class is None or not imported.notes):
        why = "; ".join(imported.notes) if imported.notes else _WHAT[imported.kind]
        raise InputError(f"{', '.join(imported.given)}: found no database, service or pooler to import ({why})")
    draft = _write(existing, filename, imported, options, header)
    waiting = set(_fillers(existing or "", filename))  # placeholders an earlier import wrote: still the user's to replace
    problems = [p for p in _problems(draft.text, filename, not imported.outside_root) if p.key_path not in waiting]
    no_service = any(p.key_path == "services" for p in problems)
    if no_service:  # databases without services yet: written; check asks for the services until they are imported
        waiting.add("services")
        problems = [p for p in problems if p.key_path != "services"]
    if problems:
        entries = {f"{e.section}.{name}": e for e, name in draft.names}
        others: list[Problem] = []
        for problem in problems:
            entry, key = _entry_key(problem.key_path, entries)
            if entry is None or key in ("from", "container", ""):
                others.append(problem)
            else:
                entry.placeholders.setdefault(key, problem.message)
        if others:
            raise InputError(others)
        draft = _write(existing, filename, imported, options, header)
        left = [p for p in _problems(draft.text, filename, not imported.outside_root) if p.key_path not in draft.written.placeholders
                and p.key_path not in waiting]
        if left:
            raise InputError(left)
    if no_service:
        draft.written.notes.append(_no_service(imported))
    return draft.written


def _no_service(imported: Imported) -> str:
    """Return the note for a topology written without services."""
    left = [note for note in imported.notes if ": left out: " in note]
    why = (f"none of the {len(left)} objects left out shows it connects to PostgreSQL" if left
           else "the files describe none")
    return (f"no service: {why}; import them from their own files (planner import kubernetes|compose ... -o this file) "
            "or write them, then run planner check")


@dataclass
class _Draft:
    """One rendering of the topology: the text, what it added, and each imported entry's name."""

    written: Written
    names: list[tuple[Entry, str]]  # each imported entry written, with its name

    @property
    def text(self) -> str:
        return self.written.text


def _write(existing: str | None, filename: str, imported: Imported, options: Options, header: str) -> _Draft:
    """Return the topology with the imported entries (and their placeholders) written in."""
    from planner.topology.edit.yaml_document import YamlDocument

    if existing is None:
        existing = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines()) + "version: 1\n"
    document = YamlDocument(existing, filename)
    root = document.root
    if not isinstance(root, dict):
        raise InputError(Problem(filename, "", "cannot merge into a YAML file whose top level is not a mapping",
                                 hint="write to a new file with -o"))
    written = Written("", {}, [], list(imported.notes))
    named = _place(root, imported.entries, written)
    entries = [e for e in imported.entries if e.ref in named]
    _add_sources(document, imported)
    databases = {e.ref: named[e.ref] for e in entries if e.section == "databases"}
    untargeted = any(e.section == "services" and e.target not in databases for e in entries)
    database = _database(document, root, options, list(databases.values()), written, untargeted)
    poolers = {e.ref: e for e in imported.entries if e.section == "poolers"}
    for entry in entries:
        body = dict(entry.body)
        if entry.section == "services":
            used = databases.get(entry.target or "") or database
            if entry.target in poolers:  # through a pooler: its database, if the pooler says one
                used = _pooler_database(poolers[entry.target], databases) or database
            if used is not None and (len(databases) > 1 or database is not None):
                body["database"] = used
        elif entry.section == "poolers":
            used = _pooler_database(entry, databases) or (next(iter(databases.values())) if len(databases) == 1 else None)
            if used is not None and "database" not in body:
                body["database"] = used
            if entry.clients_of:
                body["clients"] = [named[ref] for ref in entry.clients_of if ref in named] or [FILLER]
        for key in entry.placeholders:
            _put(body, key, [FILLER] if key == "clients" else FILLER)
            written.placeholders.append(f"{entry.section}.{named[entry.ref]}.{key}")
        _add_entry(document, root, entry, body, named[entry.ref], written)
    written.text = _proven(document.render(), filename, not imported.outside_root)
    return _Draft(written, [(e, named[e.ref]) for e in entries])


def _pooler_database(pooler: Entry, databases: dict[str, str]) -> str | None:
    """Return the name of the database entry a pooler's backend host is, if it is one of ``databases``."""
    return databases.get(pooler.target or "")


def _fillers(text: str, filename: str) -> list[str]:
    """Return the key paths of the placeholders a topology's text holds."""
    from planner.topology.sources.resolve import FILLER as HELD, _remove_fillers

    if HELD not in text:
        return []
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    found: list[str] = []
    for section in SECTIONS:
        entries = data.get(section) if isinstance(data, dict) else None
        for name, spec in (entries.items() if isinstance(entries, dict) else []):
            if isinstance(spec, dict):
                found += _remove_fillers(f"{section}.{name}", spec)
    return found


def _problems(text: str, filename: str, confined: bool) -> list[Problem]:
    """Return what ``check`` would refuse in ``text`` (empty if it reads)."""
    try:
        read_written(text, filename, confined)
    except InputError as e:
        return [p for p in e.problems if isinstance(p, Problem)]
    return []


def _entry_key(path: str, entries: dict[str, Entry]) -> tuple[Entry | None, str]:
    """Return the imported entry a problem's key path is in, and the key inside it."""
    for prefix, entry in entries.items():
        if path == prefix:
            return entry, ""
        if path.startswith(prefix + "."):
            return entry, path[len(prefix) + 1:]
    return None, ""


def _add_sources(document: Any, imported: Imported) -> None:
    """Add the source's paths to ``sources.KIND``, keeping the ones listed (the same path once)."""
    sources = document.child_map(document.root, "sources", "sources", inline=False, order=ORDER)
    current = sources.get(imported.kind)
    written = None
    if isinstance(current, dict):  # compose: {path, profiles}
        written = current.get("profiles")
        current = current.get("path")
    listed = [current] if isinstance(current, str) else list(current) if isinstance(current, list) else []
    known = {os.path.normpath(str(p)) for p in listed}
    paths = listed + [p for p in imported.paths if os.path.normpath(p) not in known]
    profiles = list(imported.profiles) if imported.profiles is not None else written
    if profiles is not None:  # the services --profile activated must be active when check reads them
        body = {"path": paths[0] if len(paths) == 1 else paths, "profiles": list(profiles)}
        document.set(sources, imported.kind, body, (), f"sources.{imported.kind}")
        return
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


def _database(document: Any, root: Any, options: Options, imported: list[str], written: Written,
              needed: bool = True) -> str | None:
    """Make sure the services have a database (the file's, an imported one, or the one --instance-class
    describes); return the name to write as the imported services' ``database``, if they need one
    (``needed``: some imported service's evidence names none of the databases)."""
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
    if options.database is None and "environments" not in root and needed:
        raise InputError(f"the topology has {len(databases)} databases ({', '.join(databases)}): name the one the imported "
                         "services use with --database NAME (then set database: on those that use another)")
    return options.database


def _add_entry(document: Any, root: Any, entry: Entry, body: dict[str, Any], name: str, written: Written) -> None:
    """Write one entry into its section (made if the file has none), with why each placeholder is there."""
    section = document.child_map(root, entry.section, entry.section, inline=False, order=ORDER)
    document.new_entry(section, name, body, f"{entry.section}.{name}")
    if entry.placeholders:  # two spaces after the key, as a person writes it (ruamel lines up with the comment before)
        comment = f"write each {FILLER}: " + "; ".join(f"{key}: {why}" for key, why in entry.placeholders.items())
        comment = " ".join(comment.split())  # a reason that quotes a file's lines must not end the comment
        section.yaml_add_eol_comment(comment, name, column=document.yaml.map_indent + len(name) + 3)
    written.added.setdefault(entry.section, []).append(name)


def _put(body: dict[str, Any], key: str, value: Any) -> None:
    """Set a dotted key path (``lambda.concurrency``) in a nested mapping."""
    *parents, leaf = key.split(".")
    for part in parents:
        body = body.setdefault(part, {})
    body[leaf] = value


class _FolderToBe(DiskFiles):
    """Source files relative to a topology whose folder may not exist yet (``-o deploy/shop.yaml``):
    ``deploy/../rendered`` is read as ``rendered``, as it will be once the folder is made."""

    def _path(self, path: str) -> Path:
        return Path(os.path.normpath(super()._path(path)))


def read_written(text: str, filename: str, confined: bool = True) -> "Topology":
    """Return the topology ``text`` will be once written to ``filename``, its sources read from there
    (the folder need not exist yet); raises :class:`InputError` as ``check`` would (``confined``: without
    ``--allow-outside-root``)."""
    from planner.topology.load import parse_topology

    return parse_topology(text, filename, "yaml", files=_FolderToBe(Path(filename).parent, filename, confined=confined))


def _proven(texts: list[str], filename: str, confined: bool) -> str:
    """Return the first rendering that reads as well as the other (the user's own text where it can be kept)."""
    counts = [len(_problems(text, filename, confined)) for text in texts]
    return texts[counts.index(min(counts))]
