"""Fill a ``from:`` entry's processes, threads, pool and pooler settings from what its container runs.

The readers give what the deployment's own fields say (replicas, surge, the environment); this step
reads the container the way the software in it reads itself (:mod:`planner.topology.sources.apps`)
and puts the result into the entry, in the order of spec §6.1:

1. what the topology writes stands (a different reading is a note on the entry, so a reviewer
   sees that the deployment says otherwise);
2. else what the deployment states (a flag, a variable, a mounted configuration file);
3. else the documented default of the app server, framework or pooler image it shows, cited;
4. else nothing is guessed: a number the deployment holds but planner cannot read (a Secret, a
   configuration file inside the image, one process per CPU of the host, the workers a Python or
   Ruby application's own command forks) is an input error at its key, and a service whose pool no
   framework shows is an input error at ``pool`` (exit 2 naming the key to write). Only hand-written
   services keep v1's "one connection per thread".
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from planner.model import Sourced
from planner.topology.parsed import join_path
from planner.topology.sources.apps.recognise import POOL_DRIVER, PROCESSES, THREADS, Reading, program_language, read_container
from planner.topology.sources.base import Container, Fact, Found, Unknown
from planner.topology.sources.redact import compared, is_number, is_secret, redact

if TYPE_CHECKING:
    from planner.topology.sources.resolve import _Resolver

POOL = "pool"
FROM_KEY = "from"
_POOL_SIZE = re.compile(r".*POOL(?:_?(?:SIZE|MAX|MAX_SIZE|LIMIT))?|.*(?:MAX|SIZE)_?POOL.*|.*POOL_?SIZE.*")
SERVICE_KEYS = (PROCESSES, THREADS, POOL_DRIVER, "pool.size", "pool.max_overflow")
WRITE_POOL = ("write pool: {driver: DRIVER} (sqlalchemy, django, rails, hikari, node-pg, asyncpg, psycopg-pool, ...) "
              "with size: N where it differs from the driver's default, or pool: N for N connections per process "
              "(docs/topology.md#pools)")


def derive_service(resolver: _Resolver, path: str, spec: dict[str, Any], ref: str, found: Found, container: Any) -> None:
    """Fill a ``from:`` service's processes, threads and pool from its container (see the module docstring)."""
    if join_path(path, "connections") in resolver.fillers:
        return  # a fixed number of connections the user is to write: nothing to read
    if "connections" in spec or found.containers is None:
        if found.containers is None and "connections" not in spec and POOL not in spec and "lambda" in spec:
            _no_pool(resolver, path, ref, None, None)
        return
    chosen = _container(resolver, path, found, container)
    if chosen is None:
        return
    reading = read_container(ref, chosen)
    if reading.unparsed is not None:
        resolver.add(join_path(path, FROM_KEY), reading.unparsed, "fix the command in the deployment")
        resolver.parsed.unresolved.add(path)
        return
    lambda_shape = "lambda" in spec
    keys = [k for k in SERVICE_KEYS if not (lambda_shape and k in (PROCESSES, THREADS))]
    pool = spec.get(POOL)
    for key in keys:
        if key.startswith("pool.") and pool is not None and not isinstance(pool, dict):
            continue  # `pool: 5` or `pool: sqlalchemy`: the topology says the whole pool
        value = reading.values.get(key)
        kind = "read"
        if value is None:
            value, kind = reading.defaults.get(key), "default"
        if value is not None:
            _apply(resolver, path, spec, key, value, kind)
    if not lambda_shape:
        if PROCESSES not in spec and reading.get(PROCESSES) is None and reading.server is None and _forks(reading):
            _apply(resolver, path, spec, PROCESSES, Unknown(found.origin, _unknown_processes(chosen, reading)), "default")
        for key in (PROCESSES, THREADS):
            if key not in spec and reading.get(key) is None and join_path(path, key) not in resolver.parsed.unresolved:
                said = f"{reading.server.name} does not set it" if reading.server else "no app server recognised in its command"
                resolver.parsed.provenance.setdefault(join_path(path, key), Sourced(
                    "1", f"{said}: one {'process' if key == PROCESSES else 'thread'} (v1's default)", assumed=True))
    if POOL not in spec:
        single = len([c for c in found.containers if not c.one_shot]) == 1
        _no_pool(resolver, path, ref, chosen, reading, single)
    for note in reading.notes:
        resolver.parsed.source_notes.setdefault(path, []).append(note)


# Languages whose applications commonly fork worker processes, each with its own pool, from a command
# of their own (`airflow api-server`, `celery`-like daemons, `rails`-free Ruby servers): without an app
# server planner knows, their process count is not one by nature, as a JVM's, Node's or Go's is.
FORKING_LANGUAGES = ("python", "ruby")


def _forks(reading: Reading) -> bool:
    """Return whether the pool ``reading`` found belongs to a language whose programs may fork workers, and
    the command does not run the interpreter on a program itself (``python manage.py migrate``,
    ``python -m app``, ``ruby job.rb``: one process), but an application's own command or none."""
    framework = reading.framework
    if framework is None or not any(language in FORKING_LANGUAGES for language in framework.languages):
        return False
    return program_language(reading.programs) not in FORKING_LANGUAGES


def _unknown_processes(container: Container, reading: Reading) -> str:
    """Return why the process count of a Python or Ruby container without a known app server is unknown."""
    assert reading.framework is not None
    command = " ".join(" ".join(container.command or ()).split())  # a shell script's lines, as one line
    runs = f"its command ({command[:80]}{'…' if len(command) > 80 else ''}) starts no app server planner knows" if command         else "it runs its image's own command, which the deployment does not show"
    return (f"{runs}: how many processes it runs, each with its own {reading.framework.name} pool, is not in the "
            "deployment (gunicorn, uvicorn, uWSGI, Puma, Celery and the like are read from their flags)")


def derive_pooler(resolver: _Resolver, path: str, spec: dict[str, Any], ref: str, found: Found, container: Any) -> None:
    """Fill a ``from:`` pooler's kind and settings from its PgBouncer or Pgpool-II container."""
    if not found.containers:
        return
    from planner.topology.sources.apps.poolers import read_pooler

    named = found.container(container) if isinstance(container, str) else None
    candidates = [named] if named else [c for c in found.containers if not c.one_shot]
    for candidate in candidates:
        reading = read_pooler(candidate)
        if reading is None:
            continue
        kind = Fact(reading.kind, found.origin)
        if "kind" in spec and spec["kind"] != reading.kind:
            resolver.add(join_path(path, "kind"), f"the topology says {spec['kind']!r}, but {found.origin.what} runs "
                         f"{candidate.image} ({reading.kind})", "remove kind to take the deployed one, or point from: at the pooler")
            return
        _apply(resolver, path, spec, "kind", kind, "read")
        for key, value in reading.values.items():
            _apply(resolver, path, spec, key, value, "read")
        for key, default in reading.defaults.items():
            _apply(resolver, path, spec, key, default, "default")
        for note in reading.notes:
            resolver.parsed.source_notes.setdefault(path, []).append(note)
        return


def _container(resolver: _Resolver, path: str, found: Found, container: Any) -> Container | None:
    """Return the container whose process the service is: the one named, the only one, or the one that
    talks to a database; None (with a problem, once) when the workload has several and none stands out."""
    if isinstance(container, str):
        return found.container(container)  # an unknown name is reported by the environment step
    running = [c for c in found.containers or () if not c.one_shot]
    if len(running) == 1:
        return running[0]
    from planner.topology.sources.apps.evidence import choose_container  # only for workloads of several containers

    chosen, _ = choose_container(running)
    if chosen is not None:
        return chosen
    if join_path(path, "from") not in resolver.container_reported:
        names = ", ".join(c.name for c in running)
        resolver.add(join_path(path, "from"), f"{found.origin.what} has {len(running)} containers ({names}) and none stands out "
                     "as the one that opens PostgreSQL connections",
                     f"add container: {running[0].name if running else 'NAME'} to say which one")
    return None


def _apply(resolver: _Resolver, path: str, spec: dict[str, Any], key: str, value: Fact | Unknown, kind: str) -> None:
    """Put one reading at ``key`` of the entry, unless the topology says it (then note a disagreement)."""
    parts = key.split(".")
    node = spec
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            return  # the topology wrote `pool: 5`: it says the whole pool
        node = child
    full = join_path(path, key)
    leaf = parts[-1]
    if leaf in node:
        written = node[leaf]
        if isinstance(value, Fact) and kind == "read" and written != value.value and not isinstance(written, dict):
            resolver.parsed.source_notes.setdefault(path, []).append(
                f"{key}: the topology says {written!r}, but {value.origin} says {compared(written, value.value)}")
        return
    if isinstance(value, Unknown):
        line = resolver.line_of(join_path(path, "from"))
        if line is not None:
            resolver.parsed.lines.setdefault(full, line)
        resolver.add(full, f"{value.origin} {value.reason}", f"write {key} in the topology")
        resolver.parsed.unresolved.add(full)
        if not node:
            _prune(spec, parts)
        return
    node[leaf] = value.value
    resolver.parsed.provenance[full] = Sourced(repr(redact(value.value)) if isinstance(value.value, str) else str(value.value),
                                               str(value.origin))


def _prune(spec: dict[str, Any], parts: list[str]) -> None:
    """Remove the empty mappings a failed reading left on its way to ``parts``."""
    for depth in range(len(parts) - 1, 0, -1):
        node = spec
        for part in parts[:depth - 1]:
            node = node.get(part, {})
        key = parts[depth - 1]
        if node.get(key) == {}:
            del node[key]


def _no_pool(resolver: _Resolver, path: str, ref: str, container: Container | None, reading: Reading | None,
             single: bool = True) -> None:
    """Report a service read from the deployment whose pool nothing shows (spec §6.1: no silent default)."""
    seen = "its environment is not known"
    if container is not None:
        runs = f", which runs {reading.server.name}" if reading and reading.server else ""
        image = f" (image {container.image}{runs})" if container.image else runs
        where = "its environment" if single else f"container {container.name}"
        seen = f"no framework or driver recognised in {where}{image}"
        pooled = [f"{name}={value.value}" if is_number(value.value) and not is_secret(name) else name
                  for name, value in container.env.items() if _POOL_SIZE.fullmatch(name.upper()) and isinstance(value, Fact)]
        if pooled:
            seen += f"; {', '.join(pooled[:3])} may size its pool"
    line = resolver.line_of(join_path(path, "from"))
    full = join_path(path, POOL)
    if line is not None:
        resolver.parsed.lines.setdefault(full, line)
    resolver.add(full, f"planner cannot tell how many connections {ref} opens per process: {seen}", WRITE_POOL)
    resolver.parsed.unresolved.add(full)
