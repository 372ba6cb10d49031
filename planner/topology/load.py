"""Load a topology file (spec §1): parse YAML/TOML/JSON, validate it, fill in the defaults.

:func:`load_topology` and :func:`parse_topology` return a :class:`~planner.model.Topology` or
raise :class:`~planner.errors.InputError` listing every problem in the file at once, each with
its key path, line and a hint. This module owns the public API and the top level of the file
(``version``, ``name``, ``environments``, and the order the sections are checked in); the rest
is split by what it owns:

- :mod:`planner.topology.parse`: reading the file, its format, its lines and limits
  (with :mod:`~planner.topology.read_yaml`, :mod:`~planner.topology.read_toml`, :mod:`~planner.topology.read_json`);
- :mod:`planner.topology.values`: collecting problems and checking typed values;
- :mod:`planner.topology.databases`, :mod:`planner.topology.services`,
  :mod:`planner.topology.poolers`: the schema of each section, each building on the one before.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from planner.errors import InputError, Problem
from planner.model import DEFAULT_ENVIRONMENT, Database, Environment, Topology
from planner.topology.parse import describe, detect_format, gc_paused, parse_text, read_text
from planner.topology.services import POOL_DRIVERS
from planner.topology.sources import needs_resolving
from planner.topology.values import is_int, is_number, to_fraction
from planner.topology.lint_ignores import LintIgnoreRules

if TYPE_CHECKING:
    from planner.topology.sources.base import SourceFiles, SourceOverrides

__all__ = ["POOL_DRIVERS", "TopologyError", "load_topology", "parse_topology"]

TOP_KEYS = ("version", "name", "databases", "environments", "services", "poolers", "waivers", "lints", "sources")
ENVIRONMENT_KEYS = ("scale", "database")
EXTENSION_PREFIX = "x-"  # top-level keys the planner ignores: a place for YAML anchors


class TopologyError(InputError):
    """The problems of a topology file, with what of it could still be read.

    ``partial`` holds the databases whose instance limits can be computed (their own problems, if
    any, touch nothing the budget reads); its services and poolers are empty. ``check`` looks
    their instance classes up in the catalogue, so a file's unknown class is reported together
    with its other problems instead of on the next run.
    """

    def __init__(self, problems: list[Problem], partial: Topology | None = None) -> None:
        super().__init__(list(problems))
        self.partial = partial


def load_topology(path: str | Path, overrides: SourceOverrides | None = None) -> Topology:
    """Read, parse and validate the topology file at ``path``.

    Raises :class:`InputError` naming the file, key path, line and fix of every problem found
    (a missing, binary, oversized or malformed file is one problem). ``overrides`` replace the
    paths its ``sources`` lists (``--source KIND=PATH``).
    """
    path = Path(path)
    text = read_text(path)
    return parse_topology(text, str(path), None, overrides=overrides)


def parse_topology(text: str, filename: str, fmt: str | None = None, files: SourceFiles | None = None,
                   overrides: SourceOverrides | None = None) -> Topology:
    """Parse and validate topology ``text``; ``fmt`` is "yaml", "toml", "json" or None (by suffix).

    ``filename`` names the file in problems and gives the default topology name (its stem).
    ``files`` reads the deployment files its ``sources`` name (default: from disk, relative to
    ``filename``'s folder, confined to its repository root); ``overrides`` replace some kinds' paths
    with files on disk, or lift that confinement (``--allow-outside-root``).
    """
    fmt = detect_format(filename, fmt, text)
    with gc_paused():
        parsed = parse_text(text, filename, fmt)
        if needs_resolving(parsed.data, overrides):  # the readers are imported only for a topology that needs them
            from planner.topology.sources.files import DiskFiles
            from planner.topology.sources.resolve import resolve_sources

            confined = overrides is None or not overrides.outside_root
            parsed = resolve_sources(parsed, filename, files or DiskFiles(Path(filename).parent, filename, confined=confined),
                                     overrides)
        return _Validator(filename, parsed).topology()


class _Validator(LintIgnoreRules):
    """Check parsed values against spec §1, collecting every problem, and build the model."""

    def topology(self) -> Topology:
        """Check the whole file and return its Topology, or raise InputError with every problem."""
        data = self.data
        self.check_keys({k: v for k, v in data.items() if not k.startswith(EXTENSION_PREFIX)}, "", TOP_KEYS)
        self.version(data)
        name = Path(self.file).stem
        if "name" in data:
            name = self.string(data["name"], "name", "name: shop") or name
        databases = self.databases(data)
        db_names = list(databases) if databases is not None else None
        environments = self.environments(data, db_names)
        env_names = list(environments) if environments is not None else None
        services = self.services(data, db_names, env_names)
        poolers = self.poolers(data, db_names, env_names, list(services) if services is not None else None)
        waivers = self.waivers(data, databases, list(poolers) if poolers is not None else None)
        lint_ignores = self.lint_ignores(data)
        if databases is not None and environments is not None and services is not None:
            self.check_service_databases(databases, environments, services)
            if poolers is not None:
                self.check_routes(databases, environments, services, poolers)
        if self.problems:
            raise TopologyError(sorted(self.problems, key=lambda p: p.line or 0), self.partial(name, databases, environments))
        assert databases is not None and environments is not None and services is not None
        return Topology(
            name=name,
            path=self.file,
            databases={k: v for k, v in databases.items() if v is not None},
            environments=environments,
            services={k: v for k, v in services.items() if v is not None},
            poolers={k: v for k, v in (poolers or {}).items() if v is not None},
            lines=self.lines,
            version=1,
            provenance=self.provenance,
            source_notes={k: tuple(v) for k, v in self.source_notes.items()},
            source_warnings=tuple(self.source_warnings),
            waivers=waivers,
            lint_ignores=lint_ignores,
        )

    def partial(self, name: str, databases: dict[str, Database | None] | None,
                environments: dict[str, Environment] | None) -> Topology:
        """Return what of a file with problems the budget can still read: its readable databases."""
        readable = {k: v for k, v in (databases or {}).items() if v is not None}
        for key, database in self.readable.items():
            readable.setdefault(key, database)
        for key in [k for k in readable if {f"databases.{k}", f"databases.{k}.instance_class"} & self.unresolved]:
            del readable[key]  # its `from:` failed, or its source cannot give its class: unknown, not missing
        return Topology(name=name, path=self.file, databases=readable,
                        environments=environments or {DEFAULT_ENVIRONMENT: Environment(DEFAULT_ENVIRONMENT)},
                        services={}, poolers={}, lines=self.lines, version=1)

    def version(self, data: dict[str, Any]) -> None:
        """Check ``version: 1``, the only version there is."""
        if "version" not in data:
            self.missing("version", "add `version: 1` at the top of the file")
            return
        value = data["version"]
        if is_int(value) and value == 1:
            return
        if is_int(value):
            self.add("version", f"unsupported version {value}: only version 1 exists", "set version: 1")
        else:
            self.add("version", f"version must be the integer 1, not {describe(value)}", "write version: 1")

    # ------------------------------------------------------------------ environments

    def environments(self, data: dict[str, Any], db_names: list[str] | None) -> dict[str, Environment] | None:
        """Check the ``environments`` section; without one, a topology has the single default environment."""
        default = {DEFAULT_ENVIRONMENT: Environment(DEFAULT_ENVIRONMENT)}
        section = self.section(data, "environments", "environments: {prod: {}, staging: {scale: 0.5}}", False)
        if section is None:
            return None if data.get("environments") is not None else default
        if not section:
            return default

        def environment(name: str, spec: Any, path: str) -> Environment:
            return self.environment(name, spec, path, db_names) or Environment(name)

        return self.named_items(section, "environments", "environment", environment)

    def environment(self, name: str, spec: Any, path: str, db_names: list[str] | None) -> Environment | None:
        """Check one environment: its scale and the database its services use by default."""
        spec = self.mapping(spec, path, f"{name}: {{scale: 0.5}}")
        if spec is None:
            return None
        self.check_keys(spec, path, ENVIRONMENT_KEYS)
        scale: Fraction | None = Fraction(1)
        if "scale" in spec:
            scale = self.scale(spec["scale"], f"{path}.scale")
        database = None
        if "database" in spec:
            database = self.reference(spec["database"], f"{path}.database", db_names, "database")
        if scale is None:
            return None
        return Environment(name, scale, database, line=self.lines.get(path))

    def scale(self, value: Any, path: str) -> Fraction | None:
        """Return an environment's scale, a number greater than 0."""
        if is_number(value) and math.isfinite(value) and value > 0:
            return to_fraction(value)
        if is_number(value) and math.isfinite(value):
            self.add(path, f"scale must be greater than 0, not {value}",
                     "remove the environment, or use e.g. scale: 0.25")
        else:
            hint = "write a number, not a percentage: scale: 0.5" if isinstance(value, str) else "write e.g. scale: 0.5"
            self.add(path, f"scale must be a number greater than 0, not {self.describe(path, value)}", hint)
        return None
