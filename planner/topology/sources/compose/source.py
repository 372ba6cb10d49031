"""The services of a loaded Compose project, as a topology's source: what each says, reduced to a ``Container``."""

from __future__ import annotations

import posixpath
from typing import Any, Iterator, Mapping

from planner.topology.sources.base import (
    Container,
    Fact,
    Found,
    Origin,
    OutsideRoot,
    RefError,
    Role,
    SourceFileError,
    SourceFiles,
    Unknown,
    Unplanned,
    Value,
)
from planner.topology.sources.apps.images import POSTGRES_DOC, postgres_setting, server_image, unplanned_engine
from planner.topology.sources.compose.merge import parse_volume
from planner.topology.sources.compose.project import EnvEntry, Project, Service
from planner.topology.sources.compose.shell import ShellSyntaxError, split
from planner.topology.sources.compose.tree import Leaf, LMap, LSeq, Where, go_string, where_of
from planner.topology.values import suggest

PREFIX = "compose/"
ONE_SHOT = "service_completed_successfully"  # a dependency others wait to finish: a job, not a server
_SHELL_UNKNOWN = ("is set by neither the project's .env nor a default (only the shell that runs Compose could set it; "
                  "planner does not read the shell)")


class ComposeSource:
    """The active services of one Compose project."""

    kind = "compose"

    def __init__(self, project: Project, files: SourceFiles) -> None:
        self.project = project
        self.files = files
        self.read: dict[str, str | OutsideRoot | None] = {}  # file name -> text (None: not there), for mounted files
        self.waited: dict[str, tuple[str, Where]] = {}  # one-shot service -> (who waits for it, where)
        for service in project.services.values():
            for other, condition in _depends_on(service.spec).items():
                if condition[0] == ONE_SHOT:
                    self.waited.setdefault(other, (service.name, condition[1]))

    # ------------------------------------------------------------------ the Source protocol

    def names(self, role: Role) -> list[str]:
        """Return ``compose/NAME`` for every active service (for a database, not those of an engine
        planner does not plan)."""
        unplanned = {u.ref for u in self.unplanned()} if role == "database" else set()
        return [PREFIX + name for name in self.project.services if PREFIX + name not in unplanned]

    def warnings(self) -> list[str]:
        """Return what the files hold that Compose accepts but planner cannot follow."""
        return list(self.project.warnings)

    def unplanned(self) -> list[Unplanned]:
        """Return the active services whose image is a database planner does not plan (MySQL, MariaDB,
        SQL Server, Oracle), in file order."""
        found = []
        for name, service in self.project.services.items():
            image = _text(service.spec.get("image"))
            engine = unplanned_engine(image) if image else None
            if engine is not None:
                where = where_of(service.spec.get("image"), service.spec.where)
                found.append(Unplanned(PREFIX + name, image, Origin(PREFIX + name, where.file, where.line, "image")))
        return found

    def hosts(self) -> dict[str, str]:
        """Return the names by which containers reach each active service on the project's networks:
        the service's name, ``container_name``, ``hostname`` and its networks' ``aliases``."""
        found: dict[str, str] = {}
        for name, service in self.project.services.items():
            spec = service.spec
            names = [name, _text(spec.get("container_name")), _text(spec.get("hostname"))]
            networks = spec.get("networks")
            if isinstance(networks, LMap):
                for network in networks.values():
                    if isinstance(network, LMap) and isinstance(network.get("aliases"), LSeq):
                        names += [_text(alias) for alias in network["aliases"]]
            for host in names:
                if host:
                    found.setdefault(host, PREFIX + name)
        return found

    def find(self, ref: str, role: Role) -> Found:
        """Return what the Compose service ``ref`` (``compose/NAME``) says about a ``role`` entry."""
        name = ref[len(PREFIX):]
        service = self.project.services.get(name)
        if service is None:
            raise self.missing(name)
        spec = service.spec
        origin = Origin(ref, spec.where.file, spec.where.line)
        container = self.container(service, ref)
        notes = self.notes(service, ref, container)
        depends = {other: condition for other, (condition, _) in _depends_on(spec).items()}
        if role == "database":
            engine = unplanned_engine(container.image or "")
            if engine is not None:
                raise RefError(f"{ref} runs {container.image}, a {engine} database, which planner does not plan",
                               "planner counts PostgreSQL connections: remove the entry, or point it at a PostgreSQL service")
            facts = self.database(service, ref, container)
            return Found(origin, facts, containers=(container,), notes=notes, depends_on=depends)
        facts = self.replicas(spec, ref, origin, notes)
        if role == "service":
            facts["max_surge"] = self.surge(spec, ref, origin)
            if name in self.waited:  # a job the others wait to finish: it runs while the project (re)starts
                waiter, where = self.waited[name]
                facts["scenarios"] = Fact(["rollout"], Origin(PREFIX + waiter, where.file, where.line,
                                                              f"depends_on.{name}.condition {ONE_SHOT}"))
        return Found(origin, facts, containers=(container,), notes=notes, depends_on=depends)

    def missing(self, name: str) -> RefError:
        """Return the error for a service that is not active: in an inactive profile, or not in the files."""
        profiles = self.project.inactive.get(name)
        if profiles is not None:
            return RefError(f"Compose service {name!r} has the profile {', '.join(profiles)}, which is not active",
                            f"activate it with profiles: [{profiles[0]}] in sources.compose, or --profile {profiles[0]}")
        return RefError(f"no Compose service {name!r}",
                        suggest(name, [*self.project.services, *self.project.inactive], "Compose services"))

    # ------------------------------------------------------------------ facts

    def replicas(self, spec: LMap, ref: str, origin: Origin, notes: list[str]) -> dict[str, Value]:
        """Return ``replicas``: ``deploy.replicas``, else ``scale``, else Compose's one container.

        A 0 counts as 1, with a note: the budget must hold once the service is scaled up."""
        deploy = spec.get("deploy") if isinstance(spec.get("deploy"), LMap) else LMap(spec.where)
        for leaf, field in ((deploy.get("replicas"), "deploy.replicas"), (spec.get("scale"), "scale")):
            if isinstance(leaf, Leaf) and leaf.value is not None:
                at = Origin(ref, leaf.where.file, leaf.where.line, field)
                count = _integer(leaf, at)
                if isinstance(count, Fact) and count.value == 0:
                    notes.append(f"{ref} {field} is 0: counted as 1 replica, so the budget holds when it is scaled up")
                    count = Fact(1, Origin(ref, at.file, at.line, f"{field} (0, counted as 1)"))
                return {"replicas": count}
        return {"replicas": Fact(1, Origin(ref, origin.file, origin.line, "(no deploy.replicas: 1 container)"))}

    def surge(self, spec: LMap, ref: str, origin: Origin) -> Value:
        """Return how many containers a rollout adds: ``parallelism`` when new ones start first, else 0."""
        deploy = spec.get("deploy") if isinstance(spec.get("deploy"), LMap) else LMap(spec.where)
        update = deploy.get("update_config")
        if isinstance(update, LMap) and _text(update.get("order")) == "start-first":
            at = Origin(ref, update.where.file, update.where.line, "deploy.update_config")
            parallelism = update.get("parallelism")
            return _integer(parallelism, at) if isinstance(parallelism, Leaf) else Fact(1, at)
        return Fact(0, Origin(ref, origin.file, origin.line, "(containers are replaced, stop-first)"))

    def database(self, service: Service, ref: str, container: Container) -> dict[str, Value]:
        """Return a PostgreSQL container's facts: self-managed, and max_connections from its command
        line or from the variable its image documents."""
        spec = service.spec
        image = spec.get("image")
        at = where_of(image, spec.where)
        facts: dict[str, Value] = {"engine": Fact("self-managed", Origin(ref, at.file, at.line, "image"))}
        argument = postgres_setting(container.command or (), "max_connections")
        if argument is not None:
            origin = container.command_origin or Origin(ref, at.file, at.line, "command")
            facts["parameters.max_connections"] = _count(argument[1], origin, f"max_connections on its command line ({POSTGRES_DOC})")
            return facts
        row = server_image(container.image)
        # the image's own variable (bitnami's POSTGRESQL_MAX_CONNECTIONS; the official image has none)
        variable = next((name for name in (row.variables if row else ()) if name in container.env), None)
        if variable is not None:
            value = container.env[variable]
            facts["parameters.max_connections"] = (value if isinstance(value, Unknown)
                                                   else _count(str(value.value), value.origin, variable))
        return facts

    def notes(self, service: Service, ref: str, container: Container) -> list[str]:
        """Return what a reviewer should know: a command planner could only partly read."""
        notes: list[str] = []
        for key in ("entrypoint", "command"):
            leaves = _leaves(service.spec.get(key))
            unknown = sorted({name for leaf in leaves for name in leaf.unknown})
            if unknown:
                notes.append(f"{ref} {key}: " + ", ".join(f"${{{n}}}" for n in unknown) + f" {_SHELL_UNKNOWN}: "
                             "its words keep the text as written")
        return notes

    # ------------------------------------------------------------------ the container

    def container(self, service: Service, ref: str) -> Container:
        """Return the service's container as the recogniser reads it."""
        spec = service.spec
        image = spec.get("image")
        entrypoint, entry_origin = self.words(spec, "entrypoint", ref)
        args, args_origin = self.words(spec, "command", ref)
        if entrypoint is not None and args is None:
            args = ()  # an entrypoint set clears the image's CMD
        env = {key: _env_value(entry, ref) for key, entry in service.environment.items()}
        return Container(service.name, _text(image) or None, entrypoint, args,
                         args_origin or entry_origin, env, tuple(service.env_unread),
                         self.cpus(spec, ref), MountedFiles(self, service, ref))

    def words(self, spec: LMap, key: str, ref: str) -> tuple[tuple[str, ...] | None, Origin | None]:
        """Return the words of ``command`` or ``entrypoint`` (a string split as Compose splits it)."""
        node = spec.get(key)
        if node is None or isinstance(node, Leaf) and node.value is None:
            return None, None
        where = where_of(node, spec.where)
        origin = Origin(ref, where.file, where.line, key)
        if isinstance(node, LSeq):
            return tuple(go_string(item.value) if isinstance(item, Leaf) else str(item) for item in node), origin
        text = go_string(node.value) if isinstance(node, Leaf) else ""
        try:
            return tuple(split(text)), origin
        except ShellSyntaxError:
            return (text,), origin  # Compose refuses it (problem reported at load); keep the text

    def cpus(self, spec: LMap, ref: str) -> Fact | Unknown | None:
        """Return the CPU limit: ``deploy.resources.limits.cpus``, else ``cpus``."""
        deploy = spec.get("deploy") if isinstance(spec.get("deploy"), LMap) else LMap(spec.where)
        resources = deploy.get("resources") if isinstance(deploy.get("resources"), LMap) else LMap(spec.where)
        limits = resources.get("limits") if isinstance(resources.get("limits"), LMap) else LMap(spec.where)
        for leaf, field in ((limits.get("cpus"), "deploy.resources.limits.cpus"), (spec.get("cpus"), "cpus")):
            if isinstance(leaf, Leaf) and leaf.value is not None:
                origin = Origin(ref, leaf.where.file, leaf.where.line, field)
                if leaf.unknown:
                    return Unknown(origin, f"is interpolated from ${{{leaf.unknown[0]}}}, which {_SHELL_UNKNOWN}")
                try:
                    number = float(leaf.value)
                except (TypeError, ValueError):
                    return Unknown(origin, "is not a number of CPUs")
                return Fact(int(number) if number.is_integer() else number, origin)
        return None

    def text_of(self, name: str) -> str | OutsideRoot | None:
        """Return the text of a file in the project (read once), None if it is not there, or why
        planner does not read it (it resolves outside the repository root)."""
        if name not in self.read:
            try:
                self.read[name] = self.files.read(name)
            except OutsideRoot as e:
                self.read[name] = e
            except SourceFileError:
                self.read[name] = None
        return self.read[name]


class MountedFiles(Mapping[str, "Fact | Unknown"]):
    """The files a service's container sees where the project mounts something, read only when looked up.

    ``files["/app/gunicorn.conf.py"]`` finds the mount whose target holds that path (the deepest
    one): a bind mount of a file or folder of the project gives the file's text (a :class:`Fact`),
    a mount of something planner cannot read (a path outside the project, a named volume, a
    secret) an :class:`Unknown`; a path no mount holds, or a file the folder does not have, is
    not in the mapping. Iterating lists every file under every mounted folder: look files up instead.
    """

    def __init__(self, source: ComposeSource, service: Service, ref: str) -> None:
        self.source = source
        self.ref = ref
        self.mounts = _mounts(source.project, service, ref)

    def mount(self, path: str) -> tuple[_Mount, str] | None:
        """Return the mount that holds ``path`` and the rest of the path below its target."""
        path = posixpath.normpath(path)
        best: tuple[_Mount, str] | None = None
        for mount in self.mounts:
            if path == mount.target or path.startswith(mount.target.rstrip("/") + "/"):
                if best is None or len(mount.target) > len(best[0].target):
                    best = (mount, path[len(mount.target):].lstrip("/"))
        return best

    def __getitem__(self, path: str) -> Fact | Unknown:
        found = self.mount(path)
        if found is None:
            raise KeyError(path)
        mount, rest = found
        if mount.unknown is not None:
            return Unknown(mount.origin, mount.unknown)
        if mount.content is not None:
            if rest:
                raise KeyError(path)
            return Fact(mount.content, mount.origin)
        assert mount.source is not None
        name = self.source.files.beside(mount.source + "/x", rest) if rest else mount.source
        text = self.source.text_of(name)
        if text is None:
            raise KeyError(path)
        if isinstance(text, OutsideRoot):  # a symlink in the project that leads out of the repository
            return Unknown(mount.origin, f"mounts {name}, which {text.reason}")
        return Fact(text, Origin(self.ref, name, None, mount.origin.field))

    def __iter__(self) -> Iterator[str]:
        for mount in self.mounts:
            if mount.source is None:
                yield mount.target
                continue
            if self.source.text_of(mount.source) is not None:
                yield mount.target
                continue
            try:
                listed = self.source.files.files(mount.source)
            except SourceFileError:
                continue
            prefix = mount.source.rstrip("/") + "/"
            for name in listed:
                rest = name[len(prefix):] if name.startswith(prefix) else posixpath.relpath(name, mount.source)
                yield posixpath.join(mount.target, rest)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, path: object) -> bool:
        try:
            self[str(path)]
        except KeyError:
            return False
        return True


class _Mount:
    """One mount of a service: its target, and what is there (a project path, a text, or why it is unknown)."""

    __slots__ = ("target", "source", "content", "unknown", "origin")

    def __init__(self, target: str, origin: Origin, source: str | None = None, content: str | None = None,
                 unknown: str | None = None) -> None:
        self.target = target
        self.origin = origin
        self.source = source
        self.content = content
        self.unknown = unknown


def _mounts(project: Project, service: Service, ref: str) -> list[_Mount]:
    """Return a service's mounts: ``volumes`` (bind mounts and named volumes), ``configs`` and ``secrets``."""
    spec = service.spec
    found: list[_Mount] = []
    for volume in spec.get("volumes") or ():
        if not isinstance(volume, LMap):
            continue
        target, kind = _text(volume.get("target")), _text(volume.get("type"))
        if not target:
            continue
        written = volume.get("_spec")
        shown = _text(written) if written is not None else f"{_text(volume.get('source'))}:{target}"
        origin = Origin(ref, volume.where.file, volume.where.line, f"volumes {shown}")
        source = volume.get("source")
        if kind == "bind" and isinstance(source, Leaf):
            name = str(source.value)
            if name in project.outside or source.unknown:
                found.append(_Mount(target, origin, unknown=f"mounts {name}, outside the project: planner does not read it"))
            else:
                found.append(_Mount(target, origin, source=name))
        elif kind in ("volume", "") and isinstance(source, Leaf) and source.value:
            found.append(_Mount(target, origin, unknown=f"is the named volume {source.value}, whose files planner cannot see"))
        elif kind == "tmpfs" or not source:
            continue
        else:
            found.append(_Mount(target, origin, unknown=f"is a {kind} mount, whose files planner cannot see"))
    top = project_top(project)
    for section, default in (("configs", "/{}"), ("secrets", "/run/secrets/{}")):
        for item in spec.get(section) or ():
            name = _text(item.get("source")) if isinstance(item, LMap) else _text(item)
            target = _text(item.get("target")) if isinstance(item, LMap) else ""
            if not name:
                continue
            target = target if target.startswith("/") else default.format(target or name)
            where = where_of(item, spec.where)
            origin = Origin(ref, where.file, where.line, f"{section} {name}")
            definition = top.get(section, {}).get(name)
            if section == "secrets" or not isinstance(definition, LMap):
                found.append(_Mount(target, origin, unknown=f"is the {section[:-1]} {name}, which planner does not read"))
            elif isinstance(definition.get("content"), Leaf):
                found.append(_Mount(target, origin, content=go_string(definition["content"].value)))
            elif isinstance(definition.get("file"), Leaf) and str(definition["file"].value) not in project.outside:
                found.append(_Mount(target, origin, source=str(definition["file"].value)))
            else:
                found.append(_Mount(target, origin, unknown=f"is the config {name}, which planner cannot read"))
    return found


def project_top(project: Project) -> dict[str, Any]:
    """Return the project's top-level ``configs`` and ``secrets`` definitions."""
    top = project.top if project.top is not None else {}
    return {section: dict(top.get(section) or {}) for section in ("configs", "secrets")}


# ---------------------------------------------------------------------------- helpers


def _text(node: Any) -> str:
    return go_string(node.value) if isinstance(node, Leaf) and node.value is not None else ""


def _leaves(node: Any) -> list[Leaf]:
    if isinstance(node, Leaf):
        return [node]
    if isinstance(node, list):
        return [item for item in node if isinstance(item, Leaf)]
    return []


def _depends_on(spec: LMap) -> dict[str, tuple[str, Where]]:
    """Return the services ``spec`` waits for, with the condition and where it is written: ``depends_on``
    (short or long syntax), then ``links``, ``network_mode: service:X`` and ``volumes_from`` (started)."""
    found: dict[str, tuple[str, Where]] = {}
    depends = spec.get("depends_on")
    if isinstance(depends, LMap):
        for name, entry in depends.items():
            condition = entry.get("condition") if isinstance(entry, LMap) else None
            found[name] = (_text(condition) or "service_started", where_of(condition, where_of(entry, depends.where)))
    for link in spec.get("links") or ():
        name = _text(link).split(":", 1)[0]
        if name:
            found.setdefault(name, ("service_started", where_of(link, spec.where)))
    mode = spec.get("network_mode")
    if _text(mode).startswith("service:"):
        found.setdefault(_text(mode)[len("service:"):], ("service_started", where_of(mode, spec.where)))
    for item in spec.get("volumes_from") or ():
        text = _text(item)
        if text and not text.startswith("container:"):
            found.setdefault(text.split(":", 1)[0], ("service_started", where_of(item, spec.where)))
    return found


def _env_value(entry: EnvEntry, ref: str) -> Fact | Unknown:
    origin = Origin(ref, entry.where.file, entry.where.line, entry.field)
    if entry.value is None:
        return Unknown(origin, "takes its value from the shell that runs Compose (the project's .env does not set it), "
                               "which planner does not read")
    if entry.unknown:
        names = ", ".join(f"${{{n}}}" for n in entry.unknown)
        return Unknown(origin, f"is interpolated from {names}, which {_SHELL_UNKNOWN}")
    return Fact(entry.value, origin)


def _integer(leaf: Any, origin: Origin) -> Fact | Unknown:
    """Return a count Compose reads as an integer (``replicas``, ``parallelism``), interpolated or not."""
    if isinstance(leaf, Leaf) and leaf.unknown:
        return Unknown(origin, f"is interpolated from ${{{leaf.unknown[0]}}}, which {_SHELL_UNKNOWN}")
    value = leaf.value if isinstance(leaf, Leaf) else leaf
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    return Fact(value, origin)


def _count(text: str, origin: Origin, what: str) -> Fact | Unknown:
    if "${" in text or "$" in text and not text.strip().isdigit():
        return Unknown(origin, f"gives {what} as something planner cannot read as a number")
    return Fact(int(text) if text.strip().isdigit() else text, origin)
