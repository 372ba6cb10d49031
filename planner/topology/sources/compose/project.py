"""Load a Compose project as ``docker compose`` does: its files, ``.env``, overrides, extends, includes, profiles.

``sources: {compose: PATH}`` names a project folder (``docker compose`` run there), a Compose file,
or several files (``docker compose -f a.yml -f b.yml``). :func:`load_project` follows compose-go's
loader (https://docs.docker.com/compose/how-tos/multiple-compose-files/ and
https://docs.docker.com/reference/compose-file/):

1. a folder's Compose file is the first of ``compose.yaml``, ``compose.yml``, ``docker-compose.yml``,
   ``docker-compose.yaml`` there, and its override file the first of ``compose.override.yml``,
   ``compose.override.yaml``, ``docker-compose.override.yml``, ``docker-compose.override.yaml``;
   ``COMPOSE_FILE`` in the folder's ``.env`` replaces both;
2. the ``.env`` beside the first file is the project's environment: every value of every file is
   interpolated with it (:mod:`.interpolation`); planner reads no shell;
3. each file, document by document, is interpolated, its services put in canonical form (relative
   paths resolved against the project's folder), its ``extends`` applied (services of the same file
   or of another, recursively), its ``include``\\ s loaded as projects of their own, then merged into
   what the files before it made (:mod:`.merge`);
4. only services without ``profiles``, or with one of the active profiles (``--profile``, the
   topology's ``profiles``, else ``COMPOSE_PROFILES`` in the ``.env``), are active;
5. each active service's environment is its ``env_file``\\ s, in order, then its ``environment``;
   a bare ``KEY`` takes its value from the project's environment.

The output of ``docker compose config --format json`` is read as it is: resolved already, every
service in it active.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from planner.errors import Problem
from planner.topology.sources.base import OutsideRoot, SourceFileError, SourceFiles
from planner.topology.sources.compose import dotenv
from planner.topology.sources.compose.interpolation import InvalidTemplate, interpolate
from planner.topology.sources.compose.shell import ShellSyntaxError, split
from planner.topology.sources.compose.merge import MergeError, canonical, merge_service, merge_services, merge_value
from planner.topology.sources.compose.tree import Document, Leaf, LMap, LSeq, Where, copy, go_string, plain, read_tree, where_of

# https://docs.docker.com/compose/intro/compose-application-model/#the-compose-file (compose-go cli/options.go)
DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_FILES = ("compose.override.yml", "compose.override.yaml", "docker-compose.override.yml", "docker-compose.override.yaml")
FILE_SUFFIXES = (".yml", ".yaml", ".json")
DOTENV = ".env"


@dataclass(frozen=True)
class Profiles:
    """The profiles a topology or the command line activates, and where they were given (for problems)."""

    names: tuple[str, ...]
    file: str = "--profile"  # the topology, or the option
    key_path: str = ""
    line: int | None = None


@dataclass(frozen=True)
class Base:
    """Where a file's relative paths start: a folder, named by a file in it (``anchor``) and a path
    from that file's folder (``prefix``, normalized; "." for the folder itself)."""

    anchor: str
    prefix: str = "."


@dataclass
class EnvEntry:
    """One variable of a service's environment as Compose resolves it.

    ``value`` None: set from the shell that runs Compose (a bare ``KEY`` the ``.env`` does not set);
    ``unknown``: the variables its interpolation needed that nothing planner reads sets.
    """

    value: str | None
    where: Where
    field: str  # "environment.KEY" or the env_file's key
    unknown: tuple[str, ...] = ()


@dataclass
class Service:
    """An active service of the project, merged and canonical, with its resolved environment."""

    name: str
    spec: LMap
    environment: dict[str, EnvEntry] = field(default_factory=dict)
    env_unread: list[str] = field(default_factory=list)  # env_files planner may not read


@dataclass
class Project:
    """A loaded Compose project: its active services, those left out by profiles, and its files."""

    name: str
    files: list[str]  # the Compose files read, in order (includes and extends not listed)
    folder: Base
    services: dict[str, Service]
    inactive: dict[str, list[str]]  # service -> its profiles (none active)
    profiles: list[str]  # every profile a service names
    active_profiles: tuple[str, ...]
    resolved: bool = False  # read from `docker compose config` output
    outside: set[str] = field(default_factory=set)  # resolved paths outside their project's folder
    warnings: list[str] = field(default_factory=list)
    top: LMap | None = None  # the merged model: its top-level configs and secrets


def load_project(files: SourceFiles, paths: list[str], profiles: Profiles | None = None) -> Project:
    """Load the Compose project ``paths`` name (a folder, a file, or files merged in order).

    Raises :class:`SourceFileError` with every problem found, each naming its file and line.
    """
    loader = _ProjectLoader(files, profiles)
    project = loader.load(paths)
    if loader.required - loader.known_required and not loader.problems:
        # a file read late (an include, an extends) requires a variable an earlier file defaults: again, knowing it
        loader = _ProjectLoader(files, profiles, loader.required)
        project = loader.load(paths)
    if loader.problems:
        raise SourceFileError(loader.problems)
    assert project is not None
    return project


def normalize(name: str) -> str:
    """Return a file's name with ``.`` and ``..`` folded (a ``git:REF:`` name is already)."""
    head = name.split("/", 1)[0]
    return name if ":" in head else posixpath.normpath(name)


class _ProjectLoader:
    """One project's loading: the files read, the environment, and the problems met."""

    def __init__(self, files: SourceFiles, profiles: Profiles | None, required: set[str] | None = None) -> None:
        self.files = files
        self.profiles = profiles
        # Variables some file requires (${X:?message}) that the .env does not set: Compose refuses to run
        # without them, so the shell sets them, and ${X:-default} elsewhere is that unknown value too.
        self.required: set[str] = set(required or ())
        self.known_required = set(self.required)
        self.problems: list[Problem] = []
        self.env: dict[str, dotenv.Variable] = {}
        self.outside: set[str] = set()
        self.cache: dict[tuple[str, int], LMap] = {}  # (file, id of env) -> its services, for extends
        self.warnings: list[str] = []
        self.resolved: dict[tuple[Base, str], str] = {}
        self.texts: dict[str, str] = {}

    def problem(self, where: Where | None, message: str, hint: str | None = None, file: str = "") -> None:
        self.problems.append(Problem(where.file if where else file, "", message, where.line if where else None, hint))

    # ------------------------------------------------------------------ which files

    def load(self, paths: list[str]) -> Project | None:
        config = self.locate(paths)
        if config is None:
            return None
        first = config[0]
        folder = Base(first)
        self.read_dotenv(folder, paths)
        if len(paths) == 1 and _is_folder(paths[0]) and "COMPOSE_FILE" in self.env:
            config = self.compose_file_variable(paths[0])
            if not config:
                return None
            first = config[0]
            folder = Base(first)
        try:
            text = self.read_compose(first)
            for file in config:  # what the project's own files require is known before any is interpolated
                self.read_compose(file)
        except SourceFileError as e:
            self.problems.extend(e.problems)
            return None
        self.known_required |= self.required
        if _looks_resolved(text):
            return self.load_resolved(first, text)
        name = self.project_name(config, first)
        self.env.setdefault("COMPOSE_PROJECT_NAME", dotenv.Variable(name, "", 0))
        model = LMap(Where(first, None))
        for file in config:
            for document in self.documents(file):
                model = self.merge(model, self.document(document, file, folder, self.lookup, [file]), document)
        return self.finish(name, config, folder, model)

    def locate(self, paths: list[str]) -> list[str] | None:
        """Return the Compose files ``paths`` name, a folder's being its Compose file and override file."""
        found: list[str] = []
        for path in paths:
            if not _is_folder(path):
                try:
                    found += self.files.files(path)
                except SourceFileError as e:
                    self.problems.extend(e.problems)
                continue
            main = self.first_of(path, DEFAULT_FILES)
            if main is None:
                try:  # listed only now: a folder is never walked when it has a Compose file
                    listed = self.files.files(path)
                except SourceFileError as e:
                    self.problems.extend(e.problems)
                    continue
                if len(listed) == 1 and normalize(listed[0]).endswith(posixpath.basename(path.rstrip("/"))):
                    found.append(listed[0])  # a Compose file without a .yml/.yaml name
                    continue
                self.problems.append(Problem(path, "", "no Compose file in this folder (planner looks for "
                                             + ", ".join(DEFAULT_FILES) + ")",
                                             hint="name the Compose file itself in sources.compose"))
                continue
            found.append(main)
            override = self.first_of(path, OVERRIDE_FILES)
            if override is not None:
                found.append(override)
        return found if found and not self.problems else None

    def first_of(self, folder: str, names: tuple[str, ...]) -> str | None:
        for name in names:
            try:
                return self.files.files(posixpath.join(folder, name))[0]
            except SourceFileError:
                continue
        return None

    def compose_file_variable(self, folder: str) -> list[str]:
        """Return the files ``COMPOSE_FILE`` in the folder's ``.env`` lists (``:``-separated, or by
        ``COMPOSE_PATH_SEPARATOR``), relative to the folder."""
        variable = self.env["COMPOSE_FILE"]
        separator = self.env.get("COMPOSE_PATH_SEPARATOR")
        names = [n for n in variable.value.split(separator.value if separator and separator.value else ":") if n]
        found: list[str] = []
        for name in names:
            try:
                found += self.files.files(name if posixpath.isabs(name) else posixpath.join(folder, name))
            except OutsideRoot as e:
                self.problems.append(e.at(variable.file, "COMPOSE_FILE", variable.line, name))
            except SourceFileError:
                self.problems.append(Problem(variable.file, "", f"COMPOSE_FILE names {name}, which is not there",
                                             variable.line, "fix COMPOSE_FILE in the .env"))
        return found

    def read_dotenv(self, folder: Base, paths: list[str]) -> None:
        """Read the project's ``.env`` (the folder's, or the one beside the first file) into the environment."""
        if len(paths) == 1 and _is_folder(paths[0]):
            try:
                name = self.files.files(posixpath.join(paths[0], DOTENV))[0]
            except SourceFileError:
                return
        else:
            name = self.files.beside(folder.anchor, DOTENV)
        self.env.update(self.read_env_file(name, lambda _: None, optional=True))

    def read_env_file(self, name: str, lookup: Any, optional: bool = False,
                      out: dict[str, dotenv.Variable] | None = None) -> dict[str, dotenv.Variable]:
        """Return the variables of the env file ``name`` (an absent optional one: none)."""
        out = {} if out is None else out
        try:
            text = self.files.read(name)
        except SourceFileError as e:
            # an optional file may be absent, not unreadable; one outside the root that is not there
            # either (the .env of an include that is itself refused) is absent
            absent = e.missing or (isinstance(e, OutsideRoot) and not os.path.lexists(os.path.expanduser(name)))
            if not optional or not absent:
                self.problems.extend(e.problems)
            return out
        try:
            dotenv.parse(text, name, out, lookup)
        except dotenv.DotenvError as e:
            self.problems.append(Problem(name, "", e.message, e.line, "fix the line as Compose's env file syntax has it"))
        return out

    def lookup(self, name: str) -> tuple[str, tuple[str, ...]] | None:
        variable = self.env.get(name)
        if variable is not None:
            return variable.value, variable.unknown
        if name in self.required:
            return "${" + name + "}", (name,)
        return None

    def read_compose(self, name: str) -> str:
        """Return a Compose file's text, noting the variables it requires (raises SourceFileError)."""
        if name not in self.texts:
            self.texts[name] = self.files.read(name)
            if "?" in self.texts[name]:
                self.required |= set(_REQUIRED.findall(self.texts[name]))
        return self.texts[name]

    def project_name(self, config: list[str], first: str) -> str:
        """Return the project's name: COMPOSE_PROJECT_NAME, the files' ``name:``, or the folder's name."""
        if "COMPOSE_PROJECT_NAME" in self.env and self.env["COMPOSE_PROJECT_NAME"].value:
            return self.env["COMPOSE_PROJECT_NAME"].value
        named = ""
        for file in config:
            match = re.search(r"^name:[ \t]*(.+?)[ \t]*(#.*)?$", self.read_text(file), re.M)
            if match:
                named = match.group(1).strip("'\"")
        if named:
            try:
                named = interpolate(named, self.lookup)[0]
            except InvalidTemplate:
                pass
        folder = posixpath.basename(posixpath.dirname(normalize(first) if ":" in first.split("/", 1)[0]
                                                       else os.path.abspath(first)))
        return _project_name(named) or _project_name(folder)

    def read_text(self, file: str) -> str:
        try:
            return self.read_compose(file)
        except SourceFileError:
            return ""

    def documents(self, file: str) -> list[Document]:
        try:
            return read_tree(self.read_compose(file), file)
        except SourceFileError as e:
            self.problems.extend(e.problems)
            return []

    # ------------------------------------------------------------------ one document

    def document(self, document: Document, file: str, base: Base, lookup: Any, chain: list[str]) -> LMap:
        """Return one document interpolated, canonical, its extends applied and its includes loaded."""
        tree = self.interpolate(document.tree, lookup, "")
        if not isinstance(tree, LMap):
            return LMap(document.tree.where)
        services = tree.get("services")
        if services is not None and not isinstance(services, LMap):
            self.problem(where_of(services, tree.where), "services must be a mapping", "write services: {NAME: {...}}")
            tree.pop("services")
            services = None
        if isinstance(services, LMap):
            shared: dict[int, Any] = {}
            for name, spec in list(services.items()):
                if isinstance(spec, Leaf) and spec.value is None:
                    services[name] = LMap(spec.where)
                elif not isinstance(spec, LMap):
                    self.problem(where_of(spec, services.where), f"services.{name} must be a mapping", "write its keys under it")
                    del services[name]
                else:
                    services[name] = canonical(spec, lambda path, where: self.resolve(base, path), shared)
            for name in list(services):
                services[name] = self.extend(services, name, file, base, lookup, [(file, name)], document)
        self.resolve_top(tree, base)
        include = tree.pop("include", None)
        if include is not None:
            self.include(tree, include, base, lookup, chain)
        return tree

    def interpolate(self, root: Any, lookup: Any, _path: str = "") -> Any:
        """Return ``root`` with every text value interpolated (``$$`` unescaped), keys as written.

        A mapping or list an alias shares (see :mod:`.tree`) is interpolated once, and stays shared.
        """
        done: dict[int, Any] = {}
        stack: list[str] = []

        def walk(node: Any) -> Any:
            kind = node.__class__
            if kind is Leaf:
                text = node.value
                if text.__class__ is not str or "$" not in text:
                    return node
                try:
                    value, unknown = interpolate(text, lookup)
                except InvalidTemplate as e:
                    where = "".join(k if k == "[]" else f".{k}" for k in stack).lstrip(".")
                    self.problem(node.where, f"{where}: invalid interpolation format {e}",
                                 "write $$ for a literal $ (Compose's rule)")
                    return node
                return Leaf(value, node.where, unknown) if value != text or unknown else node
            found = done.get(id(node))
            if found is not None:
                return found
            if kind is LMap:
                out: Any = LMap(node.where)
                for key, value in node.items():
                    stack.append(key)
                    out[key] = walk(value)
                    stack.pop()
            elif kind is LSeq:
                out = LSeq(node.where)
                stack.append("[]")
                out.extend(walk(value) for value in node)
                stack.pop()
            else:
                return node
            done[id(node)] = out
            return out

        return walk(root)

    def resolve_top(self, tree: LMap, base: Base) -> None:
        """Resolve the paths of file-based ``configs`` and ``secrets``, as the services' paths are."""
        for section in ("configs", "secrets"):
            definitions = tree.get(section)
            if not isinstance(definitions, LMap):
                continue
            definitions = tree[section] = LMap(definitions.where, definitions)
            for name, definition in definitions.items():
                path = definition.get("file") if isinstance(definition, LMap) else None
                if isinstance(path, Leaf) and isinstance(path.value, str):
                    definitions[name] = LMap(definition.where, definition)
                    definitions[name]["file"] = Leaf(self.resolve(base, path.value), path.where, path.unknown)

    def resolve(self, base: Base, path: str) -> str:
        """Return the file name of ``path`` written in a file whose paths start at ``base``; note it if
        it leaves the project (absolute, ``~``, or ``..`` above the project's folder)."""
        key = (base, path)
        if key not in self.resolved:
            self.resolved[key] = self._resolve(base, path)
        return self.resolved[key]

    def _resolve(self, base: Base, path: str) -> str:
        if path.startswith("~"):
            self.outside.add(path)
            return path
        joined = normalize(posixpath.join(base.prefix, path))
        name = self.files.beside(base.anchor, joined)
        if posixpath.isabs(path) or not _within(joined, base.prefix):
            self.outside.add(name)
        return name

    # ------------------------------------------------------------------ extends and include

    def extend(self, services: LMap, name: str, file: str, base: Base, lookup: Any,
               chain: list[tuple[str, str]], document: Document | None) -> LMap:
        """Return service ``name`` merged over the service its ``extends`` names (recursively)."""
        spec = services[name]
        extends = spec.get("extends")
        if extends is None:
            return spec
        where = where_of(extends, spec.where)
        if isinstance(extends, Leaf) and isinstance(extends.value, str):
            ref, other = extends.value, None
        elif isinstance(extends, LMap) and isinstance(extends.get("service"), Leaf):
            ref = str(extends["service"].value)
            other = extends["file"].value if isinstance(extends.get("file"), Leaf) else None
        else:
            self.problem(where, f"services.{name}.extends needs a service: extends: NAME or {{service: NAME, file: FILE}}")
            return _without(spec, "extends")
        if other is not None:
            target = self.files.beside(base.anchor, normalize(posixpath.join(base.prefix, str(other))))
            pool = self.extended_file(target, lookup, where)
            target_base = Base(target)
            if pool is None:
                return _without(spec, "extends")
        else:
            target, pool, target_base = file, services, base
        if (target, ref) in chain:
            cycle = " → ".join(n for _, n in [*chain, (target, ref)])
            self.problem(where, f"services.{name}.extends: circular extends ({cycle})", "break the cycle")
            return _without(spec, "extends")
        if ref not in pool:
            self.problem(where, f"services.{name}.extends: no service {ref!r} in {target}",
                         "name a service of that file" + (f" ({', '.join(pool)})" if pool else ""))
            return _without(spec, "extends")
        parent = self.extend(pool, ref, target, target_base, lookup, [*chain, (target, ref)], None)
        pool[ref] = parent
        parent = copy(parent)
        for reset in document.resets if document is not None else []:  # !reset in the extending service
            if reset[:2] == ("services", name) and len(reset) == 3:
                parent.pop(reset[2], None)
        try:
            return merge_service(parent, _without(spec, "extends"))
        except MergeError as e:
            self.problem(e.where, f"services.{name}: {e.message}")
            return _without(spec, "extends")

    def extended_file(self, target: str, lookup: Any, where: Where) -> LMap | None:
        """Return the services of a file an ``extends`` names (read once), their paths relative to it."""
        key = (target, id(lookup))
        if key not in self.cache:
            try:
                documents = read_tree(self.read_compose(target), target)
            except OutsideRoot as e:
                self.problems.append(e.at(where.file, "extends.file", where.line, target))
                return None
            except SourceFileError as e:
                self.problem(where, f"extends names {target}, which cannot be read: {e.problems[0].message}",
                             "check the file's path (relative to the project's folder)")
                return None
            merged = LMap(Where(target, None))
            for document in documents:
                tree = self.interpolate(document.tree, lookup, "")
                services = tree.get("services") if isinstance(tree, LMap) else None
                if isinstance(services, LMap):
                    for name, spec in services.items():
                        if isinstance(spec, LMap):
                            merged[name] = canonical(spec, lambda path, _where: self.resolve(Base(target), path))
            self.cache[key] = merged
        return self.cache[key]

    def include(self, tree: LMap, include: Any, base: Base, lookup: Any, chain: list[str]) -> None:
        """Load each ``include`` as a project of its own and add its services (a conflict is a problem)."""
        entries = include if isinstance(include, LSeq) else [include]
        for entry in entries:
            where = where_of(entry, tree.where)
            paths = entry if isinstance(entry, Leaf) else entry.get("path") if isinstance(entry, LMap) else None
            listed = [paths] if isinstance(paths, Leaf) else list(paths) if isinstance(paths, LSeq) else []
            if not listed or not all(isinstance(p, Leaf) and isinstance(p.value, str) for p in listed):
                self.problem(where, "include needs a path: include: [FILE] or include: [{path: FILE}]")
                continue
            names = [self.files.beside(base.anchor, normalize(posixpath.join(base.prefix, str(p.value)))) for p in listed]
            if names[0] in chain:
                self.problem(where, f"include cycle: {' → '.join([*chain, names[0]])}", "remove one of the includes")
                continue
            directory = entry.get("project_directory") if isinstance(entry, LMap) else None
            prefix = (normalize(posixpath.join(base.prefix, str(directory.value))) if isinstance(directory, Leaf)
                      else normalize(posixpath.join(base.prefix, posixpath.dirname(str(listed[0].value)) or ".")))
            own = Base(base.anchor, prefix)
            environment = self.include_environment(entry, own, base, lookup, where)

            def included(name: str, _env: dict[str, dotenv.Variable] = environment) -> tuple[str, tuple[str, ...]] | None:
                found = lookup(name)
                if found is not None:
                    return found
                variable = _env.get(name)
                return (variable.value, variable.unknown) if variable is not None else None

            model = LMap(where)
            for name in names:
                try:
                    documents = read_tree(self.read_compose(name), name)
                except OutsideRoot as e:
                    self.problems.append(e.at(where.file, "include", where.line, name))
                    documents = []
                except SourceFileError as e:
                    self.problem(where, f"include names {name}, which cannot be read: {e.problems[0].message}",
                                 "check the path (relative to the including file's project folder)")
                    documents = []
                for document in documents:
                    model = self.merge(model, self.document(document, name, own, included, [*chain, names[0]]), document)
            self.import_services(tree, model, where)

    def include_environment(self, entry: Any, own: Base, base: Base, lookup: Any, where: Where) -> dict[str, dotenv.Variable]:
        """Return the variables an included project adds: its ``env_file``\\ s, else its own folder's ``.env``."""
        env_files = entry.get("env_file") if isinstance(entry, LMap) else None
        out: dict[str, dotenv.Variable] = {}
        if env_files is None:
            self.read_env_file(self.files.beside(own.anchor, posixpath.join(own.prefix, DOTENV)), lookup, optional=True, out=out)
            return out
        for item in env_files if isinstance(env_files, LSeq) else [env_files]:
            if isinstance(item, Leaf):
                name = self.files.beside(base.anchor, normalize(posixpath.join(base.prefix, str(item.value))))
                try:
                    self.files.read(name)
                except OutsideRoot as e:
                    self.problems.append(e.at(item.where.file, "include.env_file", item.where.line, str(item.value)))
                    continue
                except SourceFileError as e:
                    if e.missing:
                        self.problem(item.where, f"include env_file {item.value}: no such file", "check the path")
                    else:
                        self.problems.extend(e.problems)
                    continue

                def known(key: str, _out: dict[str, dotenv.Variable] = out) -> tuple[str, tuple[str, ...]] | None:
                    return lookup(key) or ((_out[key].value, _out[key].unknown) if key in _out else None)

                self.read_env_file(name, known, out=out)
        return out

    def import_services(self, tree: LMap, model: LMap, where: Where) -> None:
        for section in ("services", "volumes", "networks", "secrets", "configs"):
            imported = model.get(section)
            if not isinstance(imported, LMap):
                continue
            mine = tree.get(section)
            if not isinstance(mine, LMap):
                mine = tree[section] = LMap(imported.where)
            for name, spec in imported.items():
                if name in mine and plain(mine[name]) != plain(spec):
                    self.problem(where, f"{section}.{name} conflicts with the one the include imports",
                                 "rename one of them, or remove it from one file")
                    continue
                mine[name] = spec

    # ------------------------------------------------------------------ merging files

    def merge(self, model: LMap, tree: LMap, document: Document) -> LMap:
        """Return ``model`` with one more document merged in (after its ``!reset``/``!override`` paths are dropped)."""
        for path in document.resets:
            _drop(model, path)
        out = LMap(model.where, model)
        for key, value in tree.items():
            if key not in out:
                out[key] = value
                continue
            try:
                if key == "services" and isinstance(out[key], LMap) and isinstance(value, LMap):
                    out[key] = merge_services(out[key], value)
                else:
                    out[key] = merge_value(out[key], value, key)
            except MergeError as e:
                self.problem(e.where, e.message)
        return out

    # ------------------------------------------------------------------ the project

    def finish(self, name: str, config: list[str], folder: Base, model: LMap) -> Project:
        services = model.get("services")
        if not isinstance(services, LMap):
            if not self.problems:  # an unreadable file says why itself
                self.problems.append(Problem(config[0], "", "not a Compose file: no `services` mapping",
                                             hint="list the Compose file itself in sources.compose"))
            services = LMap(model.where)
        every = sorted({str(p.value) for spec in services.values() if isinstance(spec, LMap)
                        for p in _list(spec.get("profiles"))})
        active = self.active_profiles(every)
        project = Project(name, config, folder, {}, {}, every, active, outside=self.outside, warnings=self.warnings, top=model)
        for service, spec in services.items():
            if not isinstance(spec, LMap):
                continue
            own = [str(p.value) for p in _list(spec.get("profiles"))]
            if own and "*" not in active and not set(own) & set(active):
                project.inactive[service] = own
            else:
                project.services[service] = Service(service, spec)
        for service in project.services.values():
            self.check(service, project)
            self.environment(service)
        return project

    def active_profiles(self, every: list[str]) -> tuple[str, ...]:
        """Return the active profiles: the given ones (each must be some service's), else COMPOSE_PROFILES."""
        if self.profiles is None:
            variable = self.env.get("COMPOSE_PROFILES")
            return tuple(p.strip() for p in variable.value.split(",") if p.strip()) if variable else ()
        for name in self.profiles.names:
            if name != "*" and name not in every:
                self.problems.append(Problem(self.profiles.file, self.profiles.key_path,
                                             f"no Compose service has the profile {name!r}", self.profiles.line,
                                             "the profiles are " + ", ".join(every) if every
                                             else "no service of the project has a profile"))
        return self.profiles.names

    def check(self, service: Service, project: Project) -> None:
        """Refuse what Compose refuses: a dependency that is not there, two different replica counts or CPU limits."""
        spec = service.spec
        depends = spec.get("depends_on")
        if isinstance(depends, LMap):
            for other, condition in depends.items():
                required = condition.get("required") if isinstance(condition, LMap) else None
                if other in project.services or (isinstance(required, Leaf) and required.value is False):
                    continue
                where = where_of(condition, depends.where)
                if other in project.inactive:
                    profiles = ", ".join(project.inactive[other])
                    self.problem(where, f"services.{service.name} depends on {other}, whose profile ({profiles}) is not active",
                                 f"activate it with --profile {project.inactive[other][0]} or profiles in sources.compose, "
                                 "or set required: false")
                else:
                    self.problem(where, f"services.{service.name} depends on {other}, which the project does not define",
                                 "fix the name")
        for first, second in ((("scale",), ("deploy", "replicas")), (("cpus",), ("deploy", "resources", "limits", "cpus"))):
            a, b = _at(spec, first), _at(spec, second)
            if isinstance(a, Leaf) and isinstance(b, Leaf) and _number(a.value) != _number(b.value):
                self.problem(b.where, f"services.{service.name}: {'.'.join(first)} is {go_string(a.value)} but "
                             f"{'.'.join(second)} is {go_string(b.value)}", "Compose refuses two different values: keep one")
        for key in ("entrypoint", "command"):
            node = spec.get(key)
            if isinstance(node, Leaf) and isinstance(node.value, str):
                try:
                    split(go_string(node.value))
                except ShellSyntaxError as e:  # compose-go: "'services[web].command' invalid command line string"
                    self.problem(node.where, f"services.{service.name}.{key}: invalid command line string ({e})",
                                 f"Compose refuses it: close the quote, or write {key} as a list of words")

    def environment(self, service: Service) -> None:
        """Resolve a service's environment: its env_files in order, then ``environment`` (Compose's order)."""
        spec = service.spec
        declared: dict[str, EnvEntry] = {}
        environment = spec.get("environment")
        if isinstance(environment, LMap):
            for key, value in environment.items():
                leaf = value if isinstance(value, Leaf) else Leaf(None, environment.where)
                text = None if leaf.value is None else go_string(leaf.value)
                unknown = leaf.unknown
                if text is None and key in self.env:  # a bare KEY: the project's environment gives it
                    text, unknown = self.env[key].value, self.env[key].unknown
                declared[key] = EnvEntry(text, leaf.where, f"environment.{key}", unknown)
        # compose-go reads the env files into one mapping that starts with the service's own values:
        # a file's ${VAR} is looked up in the project's environment, then `environment`, then that mapping
        values = {k: dotenv.Variable(v.value, v.where.file, v.where.line or 0, v.unknown)
                  for k, v in declared.items() if v.value is not None}
        resolved: dict[str, EnvEntry] = {}

        def known(key: str) -> tuple[str, tuple[str, ...]] | None:
            found = self.lookup(key)
            if found is not None:
                return found
            entry = declared.get(key)
            return (entry.value, entry.unknown) if entry is not None and entry.value is not None else None

        for item in _list(spec.get("env_file")):
            if not isinstance(item, LMap) or not isinstance(item.get("path"), Leaf):
                continue
            path = item["path"]
            name = str(path.value)
            required = not (isinstance(item.get("required"), Leaf) and item["required"].value is False)
            try:  # one outside the project's folder but in the repository is read, as Compose reads it
                text = self.files.read(name)
            except OutsideRoot as e:
                self.problems.append(e.at(path.where.file, f"services.{service.name}.env_file", path.where.line, name))
                continue
            except SourceFileError as e:
                if not e.missing:  # there, but a FIFO or binary: whether it is required or not
                    self.problems.extend(e.problems)
                elif required:
                    self.problem(path.where, f"services.{service.name}.env_file: {name} does not exist",
                                 "create it, fix the path (relative to the project's folder), or write "
                                 "{path: ..., required: false}")
                continue
            before = dict(values)
            try:
                dotenv.parse(text, name, values, known)
            except dotenv.DotenvError as e:
                self.problems.append(Problem(name, "", e.message, e.line, "fix the line as Compose's env file syntax has it"))
                continue
            for key, variable in values.items():
                if before.get(key) is not variable:
                    resolved[key] = EnvEntry(variable.value, Where(name, variable.line), key, variable.unknown)
        resolved.update(declared)  # environment wins, a bare unset KEY included
        service.environment = resolved

    # ------------------------------------------------------------------ docker compose config output

    def load_resolved(self, file: str, text: str) -> Project | None:
        """Read ``docker compose config --format json`` output: every service in it is active, its
        values final (``$$`` is a literal ``$``)."""
        documents = self.documents(file)
        if not documents:
            return None
        tree = _unescape(documents[0].tree)
        self.resolve_top(tree, Base(file))
        services = tree.get("services") if isinstance(tree.get("services"), LMap) else LMap(tree.where)
        name = tree["name"].value if isinstance(tree.get("name"), Leaf) else ""
        every = sorted({str(p.value) for spec in services.values() if isinstance(spec, LMap)
                        for p in _list(spec.get("profiles"))})
        if self.profiles is not None:
            self.active_profiles(every)
        project = Project(str(name), [file], Base(file), {}, {}, every, self.profiles.names if self.profiles else (),
                          resolved=True, outside=self.outside, top=tree)
        for service, spec in services.items():
            if isinstance(spec, LMap):
                spec = canonical(spec, lambda path, _where: self.resolve(Base(file), path))
                project.services[service] = Service(service, spec)
                self.environment(project.services[service])
        return project


# ---------------------------------------------------------------------------- helpers


_REQUIRED = re.compile(r"(?<!\$)\$\{([_A-Za-z][_A-Za-z0-9]*):?\?")  # ${X:?message}, ${X?message} (not $${X?})


def _is_folder(path: str) -> bool:
    """Return whether a source path names a project folder rather than a Compose file (by its suffix:
    a folder is never listed recursively, however large the project)."""
    return posixpath.splitext(path.rstrip("/"))[1].lower() not in FILE_SUFFIXES or path.endswith("/")


def _looks_resolved(text: str) -> bool:
    """Return whether ``text`` is ``docker compose config --format json`` output: JSON whose services
    all spell ``command`` and ``entrypoint`` (as that output always does, null included)."""
    if not text.lstrip().startswith("{"):
        return False
    import json

    try:
        data = json.loads(text)
    except ValueError:
        return False
    services = data.get("services") if isinstance(data, dict) else None
    return (isinstance(data.get("name"), str) and isinstance(services, dict)
            and all(isinstance(s, dict) and "command" in s and "entrypoint" in s for s in services.values()))


def _unescape(node: Any) -> Any:
    if isinstance(node, Leaf):
        return Leaf(node.value.replace("$$", "$"), node.where) if isinstance(node.value, str) and "$$" in node.value else node
    if isinstance(node, LMap):
        return LMap(node.where, {k: _unescape(v) for k, v in node.items()})
    if isinstance(node, LSeq):
        return LSeq(node.where, [_unescape(v) for v in node])
    return node


def _project_name(text: str) -> str:
    """Return a project name as Compose normalizes it: lower case, ``a-z 0-9 _ -``, not starting with ``_``/``-``."""
    return "".join(re.findall(r"[a-z0-9_-]", text.lower())).lstrip("_-")


def _within(path: str, root: str) -> bool:
    """Return whether the normalized relative ``path`` is inside the folder ``root`` (both from one folder)."""
    if posixpath.isabs(path):
        return False
    if root == ".":
        return path != ".." and not path.startswith("../")
    return path == root or path.startswith(root + "/")


def _list(node: Any) -> list[Any]:
    return list(node) if isinstance(node, LSeq) else []


def _at(node: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(node, LMap):
            return None
        node = node.get(key)
    return node


def _number(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _without(spec: LMap, key: str) -> LMap:
    return LMap(spec.where, {k: v for k, v in spec.items() if k != key})


def _drop(model: LMap, path: tuple[str, ...]) -> None:
    """Remove the key at ``path`` from ``model`` (a ``!reset``/``!override`` of a later document),
    copying the mappings on the way: one an alias shares with another service stays as it was."""
    node: Any = model
    for key in path[:-1]:
        child = node.get(key) if isinstance(node, LMap) else None
        if not isinstance(child, LMap):
            return
        node[key] = LMap(child.where, child)
        node = node[key]
    if isinstance(node, LMap):
        node.pop(path[-1], None)
