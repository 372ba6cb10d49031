"""Read Compose files (``docker-compose.yml``, ``compose.yaml``): replicas, surge, environment.

A topology entry names a Compose service as ``compose/NAME``. What it gives:

- a service or pooler: ``replicas`` from ``deploy.replicas`` (or the legacy ``scale``; default 1),
  ``max_surge`` 0, or ``deploy.update_config.parallelism`` (default 1) when its ``order`` is
  ``start-first`` (new containers start before the old stop), and its ``environment`` (a mapping
  or a ``KEY=VALUE`` list, after ``env_file``s) for ``{env: NAME}`` values;
- a database (a ``postgres`` container): ``engine: self-managed`` and ``parameters.max_connections``
  from ``-c max_connections=N`` in its ``command``.

Several files merge as ``docker compose -f a.yml -f b.yml`` does: a later file's keys win, and
environments merge key by key. ``${VAR:-default}`` takes its default; ``${VAR}`` without one is set
by the shell that runs Compose, so planner cannot know it and says so.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from planner.errors import Problem
from planner.topology.sources.base import Container, Fact, Found, Origin, RefError, Role, SourceFileError, SourceFiles, Unknown, Unplanned
from planner.topology.sources.yamldocs import Document, read_documents
from planner.topology.values import suggest

PREFIX = "compose/"
_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}")
_MAX_CONNECTIONS = re.compile(r"max_connections=([0-9]+)")


class ComposeSource:
    """The services of one or more Compose files, merged in order."""

    kind = "compose"

    def __init__(self, services: dict[str, tuple[dict[str, Any], Document, dict[str, Fact | Unknown]]]) -> None:
        self.services = services

    def names(self, role: Role) -> list[str]:
        """Return ``compose/NAME`` for every service."""
        return [PREFIX + name for name in self.services]

    def warnings(self) -> list[str]:
        """Return the files' warnings: none that this reader detects yet."""
        return []

    def unplanned(self) -> list[Unplanned]:
        """Return the databases of engines planner does not plan: none that this reader detects yet."""
        return []

    def hosts(self) -> dict[str, str]:
        """Return each service's name (and its ``container_name`` and ``hostname``) → ``compose/NAME``:
        on a Compose network a container reaches another by these."""
        found: dict[str, str] = {}
        for name, (spec, _, _) in self.services.items():
            for host in (name, spec.get("container_name"), spec.get("hostname")):
                if isinstance(host, str) and host:
                    found.setdefault(host, PREFIX + name)
        return found

    def find(self, ref: str, role: Role) -> Found:
        """Return what the Compose service ``ref`` (``compose/NAME``) says."""
        name = ref[len(PREFIX):]
        if name not in self.services:
            raise RefError(f"no Compose service {name!r}", suggest(name, list(self.services), "Compose services"))
        spec, doc, env = self.services[name]
        path = f"services.{name}"
        origin = Origin(ref, doc.file, doc.line(path))

        def at(field: str) -> Origin:
            return Origin(ref, doc.file, doc.line(f"{path}.{field}"), field)

        image = spec["image"] if isinstance(spec.get("image"), str) else None
        containers = (Container(name, image, env=env),)
        if role == "database":
            return Found(origin, self.database(spec, ref, at), containers=containers)
        facts: dict[str, Any] = {}
        deploy = spec.get("deploy") if isinstance(spec.get("deploy"), dict) else {}
        if "replicas" in deploy:
            facts["replicas"] = Fact(deploy["replicas"], at("deploy.replicas"))
        elif "scale" in spec:
            facts["replicas"] = Fact(spec["scale"], at("scale"))
        else:
            facts["replicas"] = Fact(1, Origin(ref, doc.file, origin.line, "(no deploy.replicas: 1 container)"))
        update = deploy.get("update_config") if isinstance(deploy.get("update_config"), dict) else {}
        if role == "service":
            if update.get("order") == "start-first":
                facts["max_surge"] = Fact(update.get("parallelism", 1), at("deploy.update_config"))
            else:
                facts["max_surge"] = Fact(0, Origin(ref, doc.file, origin.line, "(containers are replaced, stop-first)"))
        return Found(origin, facts, containers=containers, depends_on=_depends_on(spec))

    @staticmethod
    def database(spec: dict[str, Any], ref: str, at: Any) -> dict[str, Any]:
        """Return a PostgreSQL container's facts: self-managed, and max_connections from its command."""
        facts: dict[str, Any] = {"engine": Fact("self-managed", at("image"))}
        command = spec.get("command")
        words = shlex.split(command) if isinstance(command, str) else [str(w) for w in command or []]
        for word in words:
            match = _MAX_CONNECTIONS.fullmatch(word)
            if match:
                facts["parameters.max_connections"] = Fact(int(match.group(1)), at("command"))
        return facts


def _depends_on(spec: dict[str, Any]) -> dict[str, str]:
    """Return the services a service waits for (``depends_on``, short or long form, and ``links``), with the condition."""
    found: dict[str, str] = {}
    depends = spec.get("depends_on")
    if isinstance(depends, list):
        found.update({str(name): "service_started" for name in depends})
    elif isinstance(depends, dict):
        for name, how in depends.items():
            condition = how.get("condition") if isinstance(how, dict) else None
            found[str(name)] = str(condition or "service_started")
    for link in spec.get("links") or []:
        found.setdefault(str(link).split(":", 1)[0], "service_started")
    return found


def load(files: SourceFiles, paths: list[str]) -> ComposeSource:
    """Read and merge the Compose files ``paths``; raises :class:`SourceFileError`."""
    merged: dict[str, tuple[dict[str, Any], Document, dict[str, Fact | Unknown]]] = {}
    problems: list[Problem] = []
    for path in paths:
        for doc in read_documents(files.read(path), path):
            services = doc.data.get("services") if isinstance(doc.data, dict) else None
            if not isinstance(services, dict):
                problems.append(Problem(path, "", "not a Compose file: no `services` mapping",
                                        hint="list the Compose file itself in sources.compose"))
                continue
            for name, spec in services.items():
                if not isinstance(spec, dict):
                    spec = {}
                old_spec, _, old_env = merged.get(str(name), ({}, doc, {}))
                env = {**old_env, **_environment(files, path, doc, str(name), spec, problems)}
                merged[str(name)] = (_merge(old_spec, spec), doc, env)
    if problems:
        raise SourceFileError(problems)
    return ComposeSource(merged)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge two service definitions as Compose does for mappings: the override's keys win."""
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merge(result[key], value)
        else:
            result[key] = value
    return result


def _environment(files: SourceFiles, path: str, doc: Document, name: str, spec: dict[str, Any],
                 problems: list[Problem]) -> dict[str, Fact | Unknown]:
    """Return a service's environment: its env_files, then its `environment`, each value with its origin."""
    ref = PREFIX + name
    env: dict[str, Fact | Unknown] = {}
    env_files = spec.get("env_file", [])
    for item in [env_files] if isinstance(env_files, (str, dict)) else env_files:
        env_path = item.get("path") if isinstance(item, dict) else item
        if not isinstance(env_path, str):
            continue
        try:
            full = files.beside(path, env_path)
            text = files.read(full)
        except SourceFileError:
            if isinstance(item, dict) and item.get("required") is False:
                continue
            problems.append(Problem(path, f"services.{name}.env_file", f"cannot read {env_path}",
                                    line=doc.line(f"services.{name}.env_file"), hint="check the path (relative to the Compose file)"))
            continue
        for number, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, _, value = line.partition("=")
                env[key.strip()] = _value(value.strip().strip("'\""), Origin(ref, full, number, key.strip()))
    environment = spec.get("environment", {})
    field = f"services.{name}.environment"
    if isinstance(environment, dict):
        for key, value in environment.items():
            origin = Origin(ref, path, doc.line(f"{field}.{key}"), f"environment.{key}")
            env[str(key)] = _unset(origin) if value is None else _value(str(value), origin)
    elif isinstance(environment, list):
        for i, item in enumerate(environment):
            key, sep, value = str(item).partition("=")
            origin = Origin(ref, path, doc.line(f"{field}[{i}]"), f"environment.{key}")
            env[key] = _value(value, origin) if sep else _unset(origin)
    return env


def _unset(origin: Origin) -> Unknown:
    return Unknown(origin, "takes its value from the shell that runs Compose, which planner cannot see")


def _value(text: str, origin: Origin) -> Fact | Unknown:
    """Return an environment value with Compose's ``${VAR:-default}`` interpolation applied where it can be."""
    unknown: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group(2) is None:
            unknown.append(match.group(1))
            return match.group(0)
        return match.group(3)

    value = _INTERPOLATION.sub(replace, text)
    if unknown:
        return Unknown(origin, f"is interpolated from ${{{unknown[0]}}}, set by the shell that runs Compose")
    return Fact(value, origin)
