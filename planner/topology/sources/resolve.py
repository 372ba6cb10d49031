"""Merge what the deployment says into a parsed topology, before it is validated.

A topology's ``sources:`` names manifests, plans and Compose files; an entry's ``from:`` names the
object that describes it; a value written ``{env: NAME, default: X}`` is read from that object's
environment. :func:`resolve_sources` replaces all of it with plain values, as if the user had typed
them, so the validator and the budget see an ordinary topology, and records where every value came
from (:attr:`ParsedFile.provenance`), which problems, ``explain`` and the report cite.

The rules, in the order a reader of the topology would expect them:

- a value the topology writes and the source also gives must agree; a different value is an input
  error naming both places (the topology would silently disagree with what is deployed);
- a value the source cannot give (known only after apply, kept in a Secret) is an input error
  unless the topology writes it;
- a reference that does not resolve is an input error with the names that do exist.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any, Callable

from planner.errors import InputError, Problem
from planner.model import Sourced
from planner.topology.parsed import ParsedFile, describe, join_path
from planner.topology.sources import FROM, needs_resolving
from planner.topology.sources.base import (
    KINDS,
    Fact,
    Found,
    Link,
    RefError,
    Role,
    Source,
    SourceFileError,
    SourceFiles,
    SourceOverrides,
    Unknown,
)
from planner.topology.sources.derive import derive_pooler, derive_service
from planner.topology.sources.files import DiskFiles, repository_root
from planner.topology.sources.redact import assignment, compared, is_number, is_secret, redact
from planner.topology.values import closest, parse_percent, suggest

SECTIONS: dict[str, Role] = {"databases": "database", "services": "service", "poolers": "pooler"}
CONTAINER = "container"
FILLER = "VALUE"  # the placeholder `planner import` writes where the user must write a value
ENV = "env"
DEFAULT = "default"
# Each kind's files, when `sources` names a folder.
SUFFIXES: dict[str, tuple[str, ...]] = {
    "kubernetes": (".yaml", ".yml", ".json"),
    "terraform": (".json",),
    "compose": (".yaml", ".yml"),
}
# How a reference says which kind of source it names (docs/topology.md, "Reading the deployment").
# (the Zalando operator's kind is `postgresql`, the one lower-case kind planner reads)
_KUBERNETES_REF = re.compile(r"(?:[a-z0-9]([-a-z0-9]*[a-z0-9])?/)?(?:[A-Z][A-Za-z0-9]*|postgresql)/[^/\s]+")
_TERRAFORM_REF = re.compile(r"(?:module\.[A-Za-z0-9_-]+(?:\[[^\]]+\])?\.)*(?:data\.)?[a-z][a-z0-9_]*\.[A-Za-z0-9_-]+(?:\[[^\]]+\])?")
_COMPOSE_REF = re.compile(r"compose/[^/\s]+")
EXAMPLES = {"kubernetes": "Deployment/web", "terraform": "aws_db_instance.main", "compose": "compose/web"}


def ref_kind(ref: str) -> str | None:
    """Return the kind of source a reference is written for, or None if it is none of them."""
    if _COMPOSE_REF.fullmatch(ref):
        return "compose"
    if _KUBERNETES_REF.fullmatch(ref):
        return "kubernetes"
    if _TERRAFORM_REF.fullmatch(ref):
        return "terraform"
    return None


def load_source(kind: str, files: SourceFiles, paths: list[str], profiles: Any = None) -> Source:
    """Index the ``kind`` source files ``paths`` (files or folders); raises SourceFileError.

    A Compose source is a project: a folder is its Compose and override files (never every YAML
    file under it), and ``profiles`` (a :class:`~planner.topology.sources.compose.Profiles`) choose
    its active services.
    """
    module = importlib.import_module(f"planner.topology.sources.{kind}")
    if kind == "compose":
        project: Source = module.load(files, paths, profiles)
        return project
    loader: Callable[[SourceFiles, list[str]], Source] = module.load
    listed = [f for path in paths for f in files.files(path, SUFFIXES[kind])]
    return loader(files, listed)


def resolve_sources(parsed: ParsedFile, filename: str, files: SourceFiles,
                    overrides: SourceOverrides | None = None) -> ParsedFile:
    """Return ``parsed`` with every ``from:`` and ``{env: ...}`` replaced by the value it names.

    Problems (bad sources, unresolved references, conflicts, unknown values) are added to the
    result's problems, so the validator reports them with its own in one run. ``overrides``
    replace the paths ``sources`` lists for some kinds with files on disk.
    """
    if not needs_resolving(parsed.data, overrides):
        return parsed
    resolver = _Resolver(parsed, filename, files, overrides or SourceOverrides())
    resolver.run()
    return parsed


class _Resolver:
    """One topology's resolution: its sources, indexed once, and the problems found."""

    def __init__(self, parsed: ParsedFile, filename: str, files: SourceFiles, overrides: SourceOverrides) -> None:
        self.overrides = overrides
        self.parsed = parsed
        self.data = parsed.data
        self.file = filename
        self.files = files
        self.sources: dict[str, Source] = {}
        self.broken: set[str] = set()  # kinds whose files had problems: their references are not re-reported
        self.froms: dict[str, str] = {}  # entry path -> the reference its values came from
        self.specs: dict[str, dict[str, Any]] = {}  # entry path -> its (changing) mapping
        self.container_reported: set[str] = set()  # `from` paths whose container choice was reported
        self.fillers: list[str] = []  # key paths that still hold planner import's placeholder

    # ------------------------------------------------------------------ reporting

    def add(self, path: str, message: str, hint: str | None = None) -> None:
        """Record a problem at ``path`` of the topology."""
        self.parsed.problems.append(Problem(self.file, path, message, self._line(path), hint))

    def line_of(self, path: str) -> int | None:
        """Return the line of ``path``, or of the nearest key above it."""
        return self._line(path)

    def _line(self, path: str) -> int | None:
        while path:
            line = self.parsed.lines.get(path)
            if line is not None:
                return line
            path = path.rsplit(".", 1)[0] if "." in path else ""
        return None

    # ------------------------------------------------------------------ the steps

    def run(self) -> None:
        """Read ``sources``, then resolve every entry of every section."""
        self.read_sources(self.data.pop("sources", None))
        links: list[tuple[str, str, Link]] = []
        for section, role in SECTIONS.items():
            entries = self.data.get(section)
            if not isinstance(entries, dict):
                continue
            for name, spec in entries.items():
                if isinstance(spec, dict):
                    links += self.entry(join_path(section, name), spec, role)
        for path, key, link in links:
            self.link(path, key, link)
        self.report_fillers()

    def report_fillers(self) -> None:
        """Refuse every placeholder ``planner import`` wrote that the deployment did not fill since.

        A placeholder whose key got a specific problem (the pool no framework shows) is reported by
        that problem alone; the others are named here. Either way nothing else is said of the key.
        """
        for path in self.fillers:
            if _holds(self.data, path):
                continue  # the deployment gives it now
            said = any(p.key_path == path or p.key_path.startswith(path + ".") for p in self.parsed.problems)
            if not said:
                self.add(path, f"{FILLER} is the placeholder planner import wrote: the deployment does not say it",
                         "replace it with the value (the comment planner import wrote on the entry says why)")
            self.parsed.unresolved.add(path)

    def read_sources(self, spec: Any) -> None:
        """Check the ``sources`` mapping and index each kind's files (or its ``--source`` override's)."""
        profiles = self.compose_profiles(spec)
        for kind, paths in self.overrides.paths.items():
            # the paths of the command line are trusted, not what their files name: each path's
            # repository is a root
            roots = tuple(repository_root(Path(p)) for p in paths)
            files = DiskFiles(Path("."), f"--source {kind}=", roots, confined=not self.overrides.outside_root)
            self.load(kind, files, list(paths), "", profiles)
        if spec is None:
            if self.overrides.profiles is not None and "compose" not in self.overrides.paths:
                self.add("", "--profile chooses Compose services, but the topology reads no Compose files",
                         "add sources: {compose: PATH}, or leave out --profile")
            return
        if not isinstance(spec, dict):
            self.add("sources", f"sources must be a mapping, not {describe(spec)}",
                     "write e.g. sources: {kubernetes: [deploy/rendered/], terraform: plan.json}")
            return
        if self.overrides.profiles is not None and "compose" not in spec and "compose" not in self.overrides.paths:
            self.add("sources", "--profile chooses Compose services, but the topology reads no Compose files",
                     "add compose: PATH to sources, or leave out --profile")
        for kind, value in spec.items():
            path = join_path("sources", kind)
            if kind not in KINDS:
                self.add(path, f"unknown source kind {kind!r}", suggest(kind, KINDS, "source kinds"))
                continue
            if kind == "compose" and isinstance(value, dict):
                value = value.get("path")  # {path, profiles}: checked by compose_profiles
                if value is None:
                    continue
            paths = [value] if isinstance(value, str) else value
            if not isinstance(paths, list) or not paths or not all(isinstance(p, str) and p.strip() for p in paths):
                self.add(path, f"{kind} must be a path or a list of paths, not {describe(value)}",
                         f"write e.g. {kind}: [{'deploy/rendered/' if kind == 'kubernetes' else 'plan.json'}]")
                continue
            if kind not in self.overrides.paths:
                self.load(kind, self.files, paths, path, profiles)

    def compose_profiles(self, spec: Any) -> Any:
        """Return the Compose profiles to activate: ``--profile``, else the topology's
        ``sources.compose.profiles``, else None (the project's ``COMPOSE_PROFILES``)."""
        compose = spec.get("compose") if isinstance(spec, dict) else None
        if not isinstance(compose, dict) and self.overrides.profiles is None:
            return None
        from planner.topology.sources.compose import Profiles  # only for a topology that reads Compose

        written = None
        if isinstance(compose, dict):
            key = "sources.compose"
            for extra in [k for k in compose if k not in ("path", "profiles")]:
                self.add(join_path(key, str(extra)), f"unknown key {extra!r}", suggest(str(extra), ["path", "profiles"], "keys"))
            if "path" not in compose:
                self.add(key, "compose: {...} needs path", "write compose: {path: ., profiles: [NAME]}")
            names = compose.get("profiles", [])
            names = [names] if isinstance(names, str) else names
            if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
                self.add(join_path(key, "profiles"), f"profiles must be a list of names, not {describe(names)}",
                         "write profiles: [NAME, ...]")
            elif "profiles" in compose:
                written = Profiles(tuple(names), self.file, join_path(key, "profiles"), self._line(join_path(key, "profiles")))
        if self.overrides.profiles is not None:
            return Profiles(self.overrides.profiles, "--profile")
        return written

    def load(self, kind: str, files: SourceFiles, paths: list[str], key: str, profiles: Any = None) -> None:
        """Index one kind's files; their problems join the topology's (``key``: the `sources` key that lists them)."""
        try:
            self.sources[kind] = load_source(kind, files, paths, profiles if kind == "compose" else None)
            self.parsed.source_warnings += self.sources[kind].warnings()
        except SourceFileError as e:
            self.broken.add(kind)
            for problem in e.problems:
                if key and problem.file == self.file and problem.line is None:  # a path of `sources` itself
                    problem = Problem(problem.file, key, problem.message, self._line(key), problem.hint)
                self.parsed.problems.append(problem)

    def entry(self, path: str, spec: dict[str, Any], role: Role) -> list[tuple[str, str, Link]]:
        """Resolve one database, service or pooler; return the links to resolve once all are known."""
        self.fillers += _remove_fillers(path, spec)
        ref = spec.pop(FROM, None)
        container = spec.pop(CONTAINER, None) if role != "database" else None
        if ref is None:
            if container is not None:
                self.add(join_path(path, CONTAINER), "container names whose environment to read, but there is no `from:`",
                         "add from: Deployment/NAME, or remove container")
            self.placeholders(path, spec, None, None)
            return []
        found = self.find(join_path(path, FROM), ref, role)
        if found is None:
            self.parsed.unresolved.add(path)
            self.placeholders(path, spec, None, None, reported=True)
            return []
        self.froms[path] = ref
        self.specs[path] = spec
        if found.notes:
            self.parsed.source_notes[path] = list(found.notes)
        self.parsed.provenance[path] = Sourced(ref, str(found.origin))
        links: list[tuple[str, str, Link]] = []
        fixed = role == "service" and "connections" in spec
        if fixed:  # a fixed number of connections in all: the workload's replicas and processes do not multiply it
            self.fillers = [f for f in self.fillers if not f.startswith(path + ".") or _leaf_key(f, path) not in _PER_PROCESS]
        for key, value in found.facts.items():
            if fixed and key.split(".", 1)[0] in _PER_PROCESS:
                continue
            if isinstance(value, Link):
                links.append((path, key, value))
            else:
                self.merge(path, spec, key, value)
        self.placeholders(path, spec, found, container)
        if role == "service":
            derive_service(self, path, spec, ref, found, container)
        elif role == "pooler":
            derive_pooler(self, path, spec, ref, found, container)
        return links

    def find(self, path: str, ref: Any, role: Role) -> Found | None:
        """Return what ``ref`` says, or report why it cannot be read."""
        if not isinstance(ref, str) or not ref.strip():
            self.add(path, f"from must name an object, not {describe(ref)}",
                     "write e.g. from: Deployment/web, from: aws_db_instance.main or from: compose/web")
            return None
        kind = ref_kind(ref)
        if kind is None:
            self.add(path, f"{ref!r} names no Kubernetes, Terraform or Compose object",
                     "write Kind/name or namespace/Kind/name (Deployment/web), a resource address "
                     "(aws_db_instance.main, module.db.aws_rds_cluster.this) or compose/SERVICE")
            return None
        source = self.sources.get(kind)
        if source is None:
            if kind not in self.broken:
                self.add(path, f"{ref!r} is a {kind.capitalize()} name, but sources lists no {kind} files",
                         f"add sources: {{{kind}: [PATH]}} at the top of the topology")
            return None
        try:
            return source.find(ref, role)
        except RefError as e:
            self.add(path, e.message, e.hint)
            return None

    # ------------------------------------------------------------------ values

    def merge(self, entry: str, spec: dict[str, Any], key: str, value: Fact | Unknown) -> None:
        """Put one source value at ``key`` of the entry, unless the topology already says it."""
        parts = key.split(".")
        node = spec
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):  # the topology wrote a scalar where the source has a mapping
                written = join_path(entry, ".".join(parts[: depth + 1]))
                self.conflict(written, child, key, value)
                return
            node = child
        full = join_path(entry, key)
        leaf = parts[-1]
        if leaf in node:
            written = node[leaf]
            if isinstance(value, Unknown):
                return  # the topology's own value stands where the source cannot give one
            if isinstance(written, dict) and not _is_placeholder(written) or not _same(written, value.value):
                self.conflict(full, written, key, value)
            else:
                self.parsed.provenance[full] = Sourced(_show(value.value), str(value.origin))
            return
        line = self._line(join_path(entry, FROM))
        if line is not None:  # a problem with the value points at the `from:` that brought it
            self.parsed.lines.setdefault(full, line)
        if isinstance(value, Unknown):
            self.add(full, f"{value.origin} {value.reason}", f"write {leaf} in the topology, or set it in the source")
            self.parsed.unresolved.add(full)  # its absence is this problem, not another one
            return
        node[leaf] = value.value
        self.parsed.provenance[full] = Sourced(_show(value.value), str(value.origin))

    def conflict(self, path: str, written: Any, key: str, value: Fact | Unknown) -> None:
        """Report a key the topology writes differently from its source (what is not a number where the
        topology writes one is not shown)."""
        said = "an unknown value" if isinstance(value, Unknown) else compared(written, value.value)
        self.add(path, f"the topology says {_show(written)}, but {value.origin} says {said} for {key}",
                 "remove the key from the topology to take the deployed value, or change the source")

    def link(self, entry: str, key: str, link: Link) -> None:
        """Resolve a source value naming another object to the database that comes from it."""
        matches = [path.split(".", 1)[1] for path, ref in self.froms.items() if path.startswith("databases.") and ref == link.ref]
        if not matches:
            self.add(join_path(entry, key), f"{link.origin} points at {link.ref}, which no database comes from",
                     f"add from: {link.ref} to the database it is, or write {key} in the topology")
            return
        self.merge(entry, self.specs[entry], key, Fact(matches[0], link.origin))

    # ------------------------------------------------------------------ {env: NAME}

    def placeholders(self, entry: str, spec: dict[str, Any], found: Found | None, container: Any,
                     reported: bool = False) -> None:
        """Replace every ``{env: NAME, default: X}`` in the entry with the object's environment value."""
        env: dict[str, Fact | Unknown] | None = None
        unread: list[str] = []
        chosen = False
        for path, holder, key, placeholder in list(_find_placeholders(entry, spec)):
            if not chosen:
                chosen = True
                env, unread = self.environment(entry, found, container, reported) or (None, [])
            if env is None:
                if found is None and not reported:
                    self.add(path, f"{{env: {_names(placeholder.get(ENV))}}} reads an environment, but the entry has no `from:`",
                             "add from: Deployment/NAME (or compose/NAME), or write the number")
                holder.pop(key)
                continue
            self.substitute(path, holder, key, placeholder, env, found, unread)

    def environment(self, entry: str, found: Found | None, container: Any,
                    reported: bool) -> tuple[dict[str, Fact | Unknown], list[str]] | None:
        """Return the environment of the entry's container and what else may set its variables
        (:attr:`Found.env_unread`), or None after reporting why there is none."""
        if found is None:
            return None
        if found.env is None:
            self.add(entry, f"{found.origin.what} has no environment to read {{env: ...}} values from",
                     "write the numbers in the topology")
            return None
        names = list(found.env)
        if container is None:
            if len(names) != 1:
                self.container_reported.add(join_path(entry, FROM))
                self.add(join_path(entry, FROM), f"{found.origin.what} has {len(names)} containers: " + ", ".join(names),
                         f"add container: {names[0] if names else 'NAME'} to say whose environment to read")
                return None
            container = names[0]
        elif container not in found.env:
            self.add(join_path(entry, CONTAINER), f"{found.origin.what} has no container {container!r}",
                     suggest(str(container), names, "containers"))
            return None
        return found.env[container], found.env_unread.get(container, [])

    def substitute(self, path: str, holder: dict[str, Any], key: str, placeholder: dict[str, Any],
                   env: dict[str, Fact | Unknown], found: Found | None, unread: list[str]) -> None:
        """Put the value of one ``{env: NAME}`` (or ``{env: [A, B]}``: the first that is set) at ``path``;
        ``unread`` may set what ``env`` lacks."""
        names = placeholder.get(ENV)
        names = [names] if isinstance(names, str) else names
        extra = [k for k in placeholder if k not in (ENV, DEFAULT)]
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names) or extra:
            self.add(path, "an environment value is written {env: NAME}, {env: [NAME, ...]} or with default: VALUE",
                     "e.g. size: {env: DB_POOL_SIZE, default: 5}, or size: {env: [DB_POOL, RAILS_MAX_THREADS], default: 5}")
            holder.pop(key)
            return
        shown = _names(names[0] if len(names) == 1 else names)
        what = found.origin.what if found else "the source"
        for name in names:
            value = env.get(name)
            if value is None and unread and found and DEFAULT not in placeholder and name == names[-1] \
                    and not any(env.get(n) is not None for n in names):  # planner cannot tell whether it is set
                value = Unknown(found.origin, f"does not list {name}, but {' or '.join(unread)} in its envFrom may set it, "
                                              "and planner cannot read that")
            if value is None:
                continue
            if isinstance(value, Unknown):
                self.add(path, f"{name}: {value.origin} {value.reason}", f"write the value in the topology instead of {{env: {shown}}}")
                holder.pop(key)
                return
            if is_secret(name) and not is_number(value.value):  # never put where a message could quote it
                self.add(path, f"{name} ({value.origin}) is not a number, and its name marks a secret: planner neither "
                         "uses nor shows its value", f"write the value in the topology instead of {{env: {shown}}}")
                holder.pop(key)
                return
            holder[key] = _typed(value.value)
            passed = f" ({', '.join(names[:names.index(name)])} not set)" if names.index(name) else ""
            self.parsed.provenance[path] = Sourced(_show(holder[key]), f"{assignment(name, value.value)}{passed} ← {value.origin}")
            return
        if DEFAULT in placeholder:
            holder[key] = placeholder[DEFAULT]
            self.parsed.provenance[path] = Sourced(_show(placeholder[DEFAULT]), f"default of {{env: {shown}}} (not set in {what})")
            return
        self.add(path, f"{' nor '.join(names) if len(names) > 1 else names[0]} is not set in {what}",
                 _did_you_mean(names, env) + f"set it in the source, or write {{env: {shown}, default: VALUE}} "
                                            "with the application's default")
        holder.pop(key)


def _did_you_mean(names: list[str], env: dict[str, Fact | Unknown]) -> str:
    """Return "did you mean DB_POOL_SIZE? Else " for names not set where the environment has a similar one.

    Only the names the container's environment really has are offered, never their values: a
    value may be a secret, and this line reaches CI logs.
    """
    others = [n for n in env if n not in names]
    # a typo, not a sibling: WORKER_PROCESSES is not a misspelt WORKER_THREADS (difflib's 0.6 says it is)
    guesses = [(name, close) for name in names if (close := closest(name, others, 0.8, parts=False)) is not None]
    if not guesses:
        return ""
    if len(names) == 1:
        return f"did you mean {guesses[0][1]}? Else "
    return "did you mean " + " or ".join(f"{close} for {name}" for name, close in guesses) + "? Else "


# what a long-running service multiplies its pool by: not read into one that writes a fixed `connections`
_PER_PROCESS = ("replicas", "max_surge", "processes", "threads", "pool")


def _leaf_key(path: str, entry: str) -> str:
    """Return the first key of ``path`` under the entry ``entry``: ``pool`` for ``services.web.pool.size``."""
    return path[len(entry) + 1:].split(".", 1)[0]


def _holds(data: dict[str, Any], path: str) -> bool:
    """Return whether ``data`` has a value at the dotted key path ``path``."""
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _remove_fillers(path: str, node: dict[str, Any]) -> list[str]:
    """Remove every :data:`FILLER` under ``node`` (a value, or a list holding one); return their key paths."""
    found: list[str] = []
    for key, value in list(node.items()):
        if value == FILLER or isinstance(value, list) and FILLER in value:
            del node[key]
            found.append(join_path(path, str(key)))
        elif isinstance(value, dict):  # an emptied mapping stays: `lambda: {}` still says the shape
            found += _remove_fillers(join_path(path, str(key)), value)
    return found


def _find_placeholders(path: str, node: Any) -> list[tuple[str, dict[str, Any], str, dict[str, Any]]]:
    """Return (key path, holder, key, placeholder) for every ``{env: ...}`` mapping under ``node``."""
    found: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            child = join_path(path, str(key))
            if _is_placeholder(value):
                found.append((child, node, key, value))
            elif isinstance(value, dict):
                found += _find_placeholders(child, value)
    return found


def _names(value: Any) -> str:
    """Return an ``{env: ...}`` name or list of names as the topology writes it: ``POOL``, ``[DB_POOL, MAX_THREADS]``."""
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _is_placeholder(value: Any) -> bool:
    return isinstance(value, dict) and ENV in value


def _typed(text: Any) -> Any:
    """Return an environment string as the number it spells ("10" → 10), else unchanged."""
    if isinstance(text, str) and text.strip().isdigit():
        return int(text.strip())
    return text


def _same(written: Any, given: Any) -> bool:
    """Return whether a topology value and a source value mean the same ("25%" and "25 %")."""
    if written == given:
        return True
    if isinstance(written, str) and isinstance(given, str):
        a, b = parse_percent(written), parse_percent(given)
        return a is not None and a == b
    return False


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    return repr(redact(value)) if isinstance(value, str) else str(value)



__all__ = ["InputError", "needs_resolving", "ref_kind", "resolve_sources"]
