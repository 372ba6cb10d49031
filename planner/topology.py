"""Load a topology file (spec §1): parse YAML/TOML/JSON, validate it, fill in the defaults.

:func:`load_topology` and :func:`parse_topology` return a :class:`~planner.model.Topology` or
raise :class:`~planner.errors.InputError` listing every problem in the file at once, each with
its key path, line and a hint. File formats, line numbers and resource limits live in
:mod:`planner.topology_parse`; this module owns the schema.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable, Sequence

from planner.errors import FormulaError, InputError, Problem
from planner.model import DEFAULT_ENVIRONMENT, ENGINES, Database, Environment, Pool, Pooler, Service, Topology
from planner.topology_parse import (
    ParsedFile,
    describe,
    detect_format,
    gc_paused,
    join_path,
    parse_text,
    read_text,
    short_text,
)

__all__ = ["POOL_DRIVERS", "load_topology", "parse_topology"]

THREADS = "threads"
# driver -> (size, max_overflow) per process (spec §1); size "threads" = the service's threads,
# None = unbounded.
POOL_DRIVERS: dict[str, tuple[int | None | str, int]] = {
    "sqlalchemy": (5, 10),
    "django": (THREADS, 0),
    "rails": (5, 0),
    "node-pg": (10, 0),
    "asyncpg": (10, 0),
    "psycopg-pool": (4, 0),
    "hikari": (10, 0),
    "per-thread": (THREADS, 0),
    "unbounded": (None, 0),
}
DEFAULT_SURGE = Fraction(1, 4)
DEFAULT_HEADROOM = Fraction(1, 5)
CUSTOM_DRIVER = "custom"  # a pool given by its numbers alone

TOP_KEYS = ("version", "name", "databases", "environments", "services", "poolers")
DATABASE_KEYS = ("engine", "engine_version", "instance_class", "parameters", "readers",
                 "reader_instance_class", "headroom")
PARAMETER_KEYS = ("max_connections", "superuser_reserved_connections",
                  "rds.rds_superuser_reserved_connections", "reserved_connections")
ENVIRONMENT_KEYS = ("scale", "database")
LONG_RUNNING_KEYS = ("replicas", "max_surge", "processes", "threads")
SERVICE_KEYS = ("database", "endpoint", "environments", *LONG_RUNNING_KEYS, "pool", "lambda", "connections")
POOL_KEYS = ("driver", "size", "max_overflow")
PGBOUNCER_KEYS = ("replicas", "pool_mode", "default_pool_size", "reserve_pool_size",
                  "max_db_connections", "pairs", "max_client_conn")
RDS_PROXY_KEYS = ("max_connections_percent",)
POOLER_KEYS = ("kind", "database", "clients", "endpoint", "environments", *PGBOUNCER_KEYS, *RDS_PROXY_KEYS)
POOLER_KINDS = ("pgbouncer", "rds-proxy")
POOL_MODES = ("session", "transaction", "statement")
ENDPOINTS = ("writer", "reader")
EXTENSION_PREFIX = "x-"  # top-level keys the planner ignores: a place for YAML anchors

_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_PERCENT = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*")
_DIGITS = re.compile(r"\s*[0-9]+\s*")
_VERSION = re.compile(r"[0-9]+(?:\.[0-9A-Za-z-]+)*")  # "16", "15.4", "11.22-rds.20240418"
_INDEX = re.compile(r"\[[0-9]+\]$")


def load_topology(path: str | Path) -> Topology:
    """Read, parse and validate the topology file at ``path``.

    Raises :class:`InputError` naming the file, key path, line and fix of every problem found
    (a missing, binary, oversized or malformed file is one problem).
    """
    path = Path(path)
    text = read_text(path)
    return parse_topology(text, str(path), None)


def parse_topology(text: str, filename: str, fmt: str | None = None) -> Topology:
    """Parse and validate topology ``text``; ``fmt`` is "yaml", "toml", "json" or None (by suffix).

    ``filename`` names the file in problems and gives the default topology name (its stem).
    """
    fmt = detect_format(filename, fmt)
    with gc_paused():
        parsed = parse_text(text, filename, fmt)
        return _Validator(filename, parsed).topology()


def _suggest(value: str, options: Iterable[str], what: str = "allowed") -> str:
    options = list(options)
    close = difflib.get_close_matches(value, options, n=1, cutoff=0.6)
    if not close:
        close = [o for o in options if len(value) >= 3 and (o.startswith(value) or value in o)][:1]
    if close:
        return f"did you mean {close[0]!r}?"
    return f"{what}: " + ", ".join(options) if options else f"no {what} names"


def _leaf(path: str) -> str:
    return _INDEX.sub("", path.rsplit(".", 1)[-1]) or path


def _parent(path: str) -> str:
    if _INDEX.search(path):
        return _INDEX.sub("", path)
    return path.rsplit(".", 1)[0] if "." in path else ""


@functools.lru_cache(maxsize=256)
def _percent(text: str) -> Fraction | None:
    """Return "25%" as Fraction(1, 4), or None if ``text`` is not a percentage."""
    match = _PERCENT.fullmatch(text)
    return Fraction(match.group(1)) / 100 if match else None


def _fraction(value: int | float) -> Fraction:
    # str() first: Fraction(0.2) is 3602879701896397/18014398509481984, Fraction("0.2") is 1/5
    return Fraction(str(value)) if isinstance(value, float) else Fraction(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _formula_error(text: str) -> str | None:
    """Return what is wrong with an RDS formula, or None if it parses."""
    try:
        from planner.formula import parse_formula
    except ModuleNotFoundError as e:  # formula.py not there yet: the budget will evaluate it
        if e.name == "planner.formula":
            return None
        raise
    try:
        parse_formula(text)
    except FormulaError as e:
        return f"{e.detail} at position {e.position}"
    return None


class _Validator:
    """Check parsed values against spec §1, collecting every problem, and build the model."""

    def __init__(self, filename: str, parsed: ParsedFile) -> None:
        self.file = filename
        self.data = parsed.data
        self.lines = parsed.lines
        self.problems: list[Problem] = list(parsed.problems)

    # ------------------------------------------------------------------ reporting

    def line_of(self, path: str) -> int | None:
        while path:
            line = self.lines.get(path)
            if line is not None:
                return line
            path = _parent(path)
        return None

    def add(self, path: str, message: str, hint: str | None = None) -> None:
        self.problems.append(Problem(self.file, path, message, self.line_of(path), hint))

    def missing(self, path: str, hint: str) -> None:
        self.add(path, f"missing required key {_leaf(path)!r}", hint)

    def check_keys(self, mapping: dict[str, Any], path: str, allowed: Sequence[str]) -> None:
        for key in mapping:
            if key not in allowed:
                self.add(join_path(path, key), f"unknown key {key!r}", _suggest(key, allowed, "allowed keys"))

    # ------------------------------------------------------------------ typed values

    def mapping(self, value: Any, path: str, example: str, *, null_ok: bool = True) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        if value is None and null_ok:
            return {}
        self.add(path, f"{_leaf(path)} must be a mapping, not {describe(value)}", f"write e.g. {example}")
        return None

    def integer(self, value: Any, path: str, minimum: int = 0, maximum: int | None = None) -> int | None:
        if value.__class__ is int and value >= minimum and (maximum is None or value <= maximum):
            return value  # the common case, first: a 10,000-service file has 60,000 of these
        key = _leaf(path)
        if isinstance(value, int) and not isinstance(value, bool):
            bounds = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
            hint = f"use a whole number {bounds}" if maximum is not None else f"use a whole number of {bounds}"
            if minimum == -1:
                hint += " (-1 means unbounded)"
            self.add(path, f"{key} must be {bounds}, not {value}", hint)
            return None
        example = f"{key}: {max(minimum, 1) if maximum is None else maximum}"
        if isinstance(value, float) and value.is_integer():
            hint = f"write {int(value)} without the decimal point"
        elif isinstance(value, float):
            hint = f"use a whole number, e.g. {example}"
        elif isinstance(value, str) and _DIGITS.fullmatch(value) and len(value) < 20:
            hint = f"remove the quotes: {key}: {value.strip()}"
        else:
            hint = f"write a number, e.g. {example}"
        self.add(path, f"{key} must be a whole number, not {describe(value)}", hint)
        return None

    def string(self, value: Any, path: str, example: str) -> str | None:
        if isinstance(value, str) and value.strip():
            return value
        what = "empty" if isinstance(value, str) else f"not {describe(value)}"
        self.add(path, f"{_leaf(path)} must be a non-empty string, {what}", f"write e.g. {example}")
        return None

    def choice(self, value: Any, path: str, options: Sequence[str]) -> str | None:
        if isinstance(value, str) and value in options:
            return value
        listed = " | ".join(options)
        if isinstance(value, str):
            self.add(path, f"unknown {_leaf(path)} {value!r}", _suggest(value, options, "use one of"))
        else:
            self.add(path, f"{_leaf(path)} must be one of {listed}, not {describe(value)}",
                     f"write e.g. {_leaf(path)}: {options[0]}")
        return None

    def name(self, name: str, path: str, what: str) -> bool:
        if _NAME.fullmatch(name) and not (what == "service" and "@" in name):
            return True
        if not name:
            self.add(path, f"empty {what} name", f"name the {what} with letters, digits, '_', '.' or '-'")
            return False
        fixed = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or what
        if "@" in name and what == "service":
            message = f"service name {name!r} contains '@', which separates service and environment in reports"
        else:
            message = f"invalid {what} name {name!r}"
        self.add(path, message, f"use letters, digits, '_', '.' and '-' only, e.g. {fixed!r}")
        return False

    def reference(self, value: Any, path: str, known: Sequence[str] | None, what: str) -> str | None:
        """Check a string naming a defined database/environment/service (None: names unknown)."""
        if isinstance(value, str) and value.strip():
            name: str | None = value
        else:
            example = known[0] if known else "main"
            name = self.string(value, path, example if path.endswith("]") else f"{_leaf(path)}: {example}")
        if name is None or known is None:
            return name
        if name not in known:
            self.add(path, f"unknown {what} {name!r}", _suggest(name, known, f"defined {what}s"))
            return None
        return name

    def name_list(self, value: Any, path: str, known: Sequence[str] | None, what: str) -> tuple[str, ...] | None:
        if not isinstance(value, list):
            example = f"[{value}]" if isinstance(value, str) else "[prod, staging]"
            self.add(path, f"{_leaf(path)} must be a list of {what} names, not {describe(value)}",
                     f"write e.g. {_leaf(path)}: {example}")
            return None
        if not value:
            self.add(path, f"{_leaf(path)} is empty", f"list at least one {what}, or remove the key")
            return None
        names: list[str] = []
        ok = True
        for i, item in enumerate(value):
            item_path = f"{path}[{i}]"
            name = self.reference(item, item_path, known, what)
            if name is None:
                ok = False
            elif name in names:
                self.add(item_path, f"{what} {name!r} is listed twice", "remove the second one")
                ok = False
            else:
                names.append(name)
        return tuple(names) if ok else None


    # ------------------------------------------------------------------ the file

    def topology(self) -> Topology:
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
        if databases is not None and environments is not None and services is not None:
            self.check_service_databases(databases, environments, services)
            if poolers is not None:
                self.check_routes(databases, environments, services, poolers)
        if self.problems:
            raise InputError(sorted(self.problems, key=lambda p: p.line or 0))
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
        )

    def version(self, data: dict[str, Any]) -> None:
        if "version" not in data:
            self.missing("version", "add `version: 1` at the top of the file")
            return
        value = data["version"]
        if isinstance(value, int) and not isinstance(value, bool) and value == 1:
            return
        if isinstance(value, int) and not isinstance(value, bool):
            self.add("version", f"unsupported version {value}: only version 1 exists", "set version: 1")
        else:
            self.add("version", f"version must be the integer 1, not {describe(value)}", "write version: 1")

    def section(self, data: dict[str, Any], key: str, example: str, required: bool) -> dict[str, Any] | None:
        """Return a top-level mapping of named items, reporting a missing or empty one."""
        if key not in data:
            if required:
                self.missing(key, f"add a `{key}:` section, e.g. {example}")
            return None
        value = self.mapping(data[key], key, example)
        if value is not None and not value and required:
            self.add(key, f"{key} is empty", f"define at least one, e.g. {example}")
            return None
        return value

    # ------------------------------------------------------------------ databases

    def databases(self, data: dict[str, Any]) -> dict[str, Database | None] | None:
        section = self.section(data, "databases", "databases: {main: {instance_class: db.m6g.large}}", True)
        if section is None:
            return None
        result: dict[str, Database | None] = {}
        for name, spec in section.items():
            path = join_path("databases", name)
            self.name(name, path, "database")
            result[name] = self.database(name, spec, path)
        return result

    def database(self, name: str, spec: Any, path: str) -> Database | None:
        spec = self.mapping(spec, path, "main: {engine: postgres, instance_class: db.m6g.large}")
        if spec is None:
            return None
        before = len(self.problems)
        self.check_keys(spec, path, DATABASE_KEYS)
        engine = "postgres"
        if "engine" in spec:
            engine = self.choice(spec["engine"], f"{path}.engine", ENGINES) or engine
        version = self.engine_version(spec.get("engine_version", "16"), f"{path}.engine_version")
        instance_class = self.instance_class(spec, f"{path}.instance_class")
        reader_class = self.instance_class(spec, f"{path}.reader_instance_class")
        readers = self.integer(spec["readers"], f"{path}.readers") if "readers" in spec else 0
        headroom = self.headroom(spec["headroom"], f"{path}.headroom") if "headroom" in spec else DEFAULT_HEADROOM
        parameters = self.parameters(spec.get("parameters"), f"{path}.parameters", engine, version)
        if len(self.problems) > before or readers is None or headroom is None:
            return None
        return Database(name=name, engine=engine, engine_version=version or "16", instance_class=instance_class,
                        parameters=parameters, readers=readers, reader_instance_class=reader_class,
                        headroom=headroom, line=self.lines.get(path))

    def engine_version(self, value: Any, path: str) -> str | None:
        if _is_number(value) and not (isinstance(value, float) and not math.isfinite(value)):
            value = str(value)  # `engine_version: 9.4` is a YAML float; the version is "9.4"
        if isinstance(value, str) and _VERSION.fullmatch(value.strip()):
            return value.strip()
        self.add(path, f"engine_version must be a version such as \"16\" or \"15.4\", not {describe(value)}",
                 'write the major version first, e.g. engine_version: "16"')
        return None

    def instance_class(self, spec: dict[str, Any], path: str) -> str | None:
        key = _leaf(path)
        if key not in spec:
            return None
        value = spec[key]
        if isinstance(value, str) and value.startswith("db.") and len(value) > 3:
            return value
        self.add(path, f"{key} must be an RDS instance class such as db.m6g.large, not {describe(value)}",
                 f"write e.g. {key}: db.m6g.large" + (" (RDS classes start with 'db.')"
                                                      if isinstance(value, str) else ""))
        return None

    def headroom(self, value: Any, path: str) -> Fraction | None:
        result: Fraction | None = None
        if isinstance(value, str):
            result = _percent(value)
        elif _is_number(value) and math.isfinite(value):
            result = _fraction(value)
            if result >= 1:
                hint = f"write {value}% for {value} percent" if result < 100 else "write e.g. headroom: 20%"
                self.add(path, f"headroom must be below 1 (a fraction of max_connections), not {value}", hint)
                return None
        if result is None:
            self.add(path, f"headroom must be a percentage such as \"20%\" or a fraction in [0, 1), "
                     f"not {describe(value)}", "write e.g. headroom: 20%")
            return None
        if not 0 <= result < 1:
            self.add(path, f"headroom must be at least 0% and below 100%, not {value}",
                     "write e.g. headroom: 20%")
            return None
        return result

    def parameters(self, value: Any, path: str, engine: str, version: str | None) -> dict[str, int | str]:
        spec = self.mapping(value, path, "parameters: {max_connections: 500}")
        if not spec:
            return {}
        flat: dict[str, Any] = {}
        for key, item in spec.items():
            # TOML reads `rds.rds_superuser_reserved_connections = 2` as a nested table
            if isinstance(item, dict) and key == "rds":
                flat.update({f"{key}.{k}": v for k, v in item.items()})
            else:
                flat[key] = item
        self.check_keys(flat, path, PARAMETER_KEYS)
        result: dict[str, int | str] = {}
        for key in PARAMETER_KEYS:
            if key not in flat:
                continue
            key_path = join_path(path, key)
            if key == "max_connections":
                checked: int | str | None = self.max_connections(flat[key], key_path)
            else:
                checked = self.integer(flat[key], key_path)
            if checked is not None:
                result[key] = checked
        major = int(version.split(".")[0]) if version else None
        if result.get("reserved_connections") and major is not None and major < 16:
            self.add(join_path(path, "reserved_connections"),
                     f"reserved_connections does not exist before PostgreSQL 16 (engine_version is {version})",
                     'remove it or set engine_version: "16"')
        if "rds.rds_superuser_reserved_connections" in flat and engine == "self-managed":
            self.add(join_path(path, "rds.rds_superuser_reserved_connections"),
                     "rds.rds_superuser_reserved_connections exists only on RDS and Aurora, "
                     "not on a self-managed database",
                     "remove it, or set the engine to postgres or aurora-postgresql")
        return result

    def max_connections(self, value: Any, path: str) -> int | str | None:
        if isinstance(value, str) and _DIGITS.fullmatch(value):
            if len(value.strip()) > 9:
                self.add(path, f"max_connections {short_text(value.strip())} is far beyond what PostgreSQL allows",
                         "use the number the parameter group really sets")
                return None
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return self.integer(value, path, minimum=1)
        if not isinstance(value, str):
            self.add(path, f"max_connections must be an integer or an RDS formula, not {describe(value)}",
                     'write e.g. max_connections: 500 or "LEAST({DBInstanceClassMemory/9531392},5000)"')
            return None
        error = _formula_error(value)
        if error is not None:
            self.add(path, f"invalid max_connections formula {value!r}: {error}",
                     "write it as RDS does, e.g. LEAST({DBInstanceClassMemory/9531392},5000), or an integer")
            return None
        return value

    # ------------------------------------------------------------------ environments

    def environments(self, data: dict[str, Any], db_names: list[str] | None) -> dict[str, Environment] | None:
        default = {DEFAULT_ENVIRONMENT: Environment(DEFAULT_ENVIRONMENT)}
        section = self.section(data, "environments", "environments: {prod: {}, staging: {scale: 0.5}}", False)
        if section is None:
            return None if data.get("environments") is not None else default
        if not section:
            return default
        result: dict[str, Environment] = {}
        for name, spec in section.items():
            path = join_path("environments", name)
            self.name(name, path, "environment")
            env = self.environment(name, spec, path, db_names)
            result[name] = env or Environment(name)
        return result

    def environment(self, name: str, spec: Any, path: str, db_names: list[str] | None) -> Environment | None:
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
        if _is_number(value) and math.isfinite(value) and value > 0:
            return _fraction(value)
        if _is_number(value) and math.isfinite(value):
            self.add(path, f"scale must be greater than 0, not {value}",
                     "remove the environment, or use e.g. scale: 0.25")
        else:
            hint = "write a number, not a percentage: scale: 0.5" if isinstance(value, str) else "write e.g. scale: 0.5"
            self.add(path, f"scale must be a number greater than 0, not {describe(value)}", hint)
        return None

    # ------------------------------------------------------------------ services

    def services(self, data: dict[str, Any], db_names: list[str] | None,
                 env_names: list[str] | None) -> dict[str, Service | None] | None:
        section = self.section(data, "services", "services: {web: {replicas: 2}}", True)
        if section is None:
            return None
        result: dict[str, Service | None] = {}
        for name, spec in section.items():
            path = join_path("services", name)
            self.name(name, path, "service")
            result[name] = self.service(name, spec, path, db_names, env_names)
        return result

    def service(self, name: str, spec: Any, path: str, db_names: list[str] | None,
                env_names: list[str] | None) -> Service | None:
        spec = self.mapping(spec, path, f"{name}: {{replicas: 2}}")
        if spec is None:
            return None
        before = len(self.problems)
        self.check_keys(spec, path, SERVICE_KEYS)
        shape = self.shape(spec, path)
        common: dict[str, Any] = {"name": name, "line": self.lines.get(path)}
        if "database" in spec:
            common["database"] = self.reference(spec["database"], f"{path}.database", db_names, "database")
        if "endpoint" in spec:
            common["endpoint"] = self.choice(spec["endpoint"], f"{path}.endpoint", ENDPOINTS)
        if "environments" in spec:
            common["environments"] = self.name_list(spec["environments"], f"{path}.environments",
                                                    env_names, "environment")
        if shape == "fixed":
            connections = self.integer(spec["connections"], f"{path}.connections")
            built: Service | None = Service(shape="fixed", connections=connections or 0, **common)
        elif shape == "lambda":
            built = self.lambda_service(spec, path, common)
        else:
            built = self.long_running(spec, path, common)
        return built if len(self.problems) == before else None

    def shape(self, spec: dict[str, Any], path: str) -> str:
        """Return the service's shape, reporting keys of two shapes in one service."""
        long_running = [k for k in LONG_RUNNING_KEYS if k in spec]
        if "connections" in spec:
            others = long_running + [k for k in ("lambda", "pool") if k in spec]
            if others == ["pool"]:
                self.add(f"{path}.pool", "a service with fixed `connections` has no pool",
                         "remove pool, or replace connections with replicas/processes and a pool")
            elif others:
                self.add(path, "mixes service shapes: 'connections' (fixed) with "
                         + ", ".join(repr(k) for k in others),
                         "a service is long-running with replicas/processes/threads, a lambda, or fixed "
                         "connections: keep one shape, or split it into two services")
            return "fixed"
        if "lambda" in spec:
            if long_running:
                self.add(path, "mixes service shapes: 'lambda' with " + ", ".join(repr(k) for k in long_running),
                         "a Lambda function has no replicas, processes or threads: remove them, "
                         "or split it into two services")
            return "lambda"
        return "long-running"

    def lambda_service(self, spec: dict[str, Any], path: str, common: dict[str, Any]) -> Service | None:
        lam = self.mapping(spec["lambda"], f"{path}.lambda", "lambda: {concurrency: 100}")
        concurrency = None
        if lam:
            self.check_keys(lam, f"{path}.lambda", ("concurrency",))
            if "concurrency" in lam:
                concurrency = self.integer(lam["concurrency"], f"{path}.lambda.concurrency", minimum=1)
        pool = self.pool(spec["pool"], f"{path}.pool", 1) if "pool" in spec else Pool("per-thread", 1, 0)
        return Service(shape="lambda", lambda_concurrency=concurrency, pool=pool, **common)

    def long_running(self, spec: dict[str, Any], path: str, common: dict[str, Any]) -> Service | None:
        replicas = self.replicas(spec["replicas"], f"{path}.replicas") if "replicas" in spec else (1, 1)
        surge: tuple[Fraction | None, int | None] | None = (DEFAULT_SURGE, None)
        if "max_surge" in spec:
            surge = self.max_surge(spec["max_surge"], f"{path}.max_surge")
        processes = self.integer(spec["processes"], f"{path}.processes", 1) if "processes" in spec else 1
        threads = self.integer(spec["threads"], f"{path}.threads", 1) if "threads" in spec else 1
        pool = Pool("per-thread", threads or 1, 0)
        if "pool" in spec:
            pool = self.pool(spec["pool"], f"{path}.pool", threads or 1)
        if replicas is None or surge is None or processes is None or threads is None:
            return None
        return Service(shape="long-running", replicas_min=replicas[0], replicas_max=replicas[1],
                       surge_percent=surge[0], surge_count=surge[1], processes=processes, threads=threads,
                       pool=pool, **common)

    def replicas(self, value: Any, path: str) -> tuple[int, int] | None:
        if isinstance(value, dict):
            self.check_keys(value, path, ("min", "max"))
            bounds = []
            for key in ("min", "max"):
                if key not in value:
                    self.missing(f"{path}.{key}", "give both, e.g. replicas: {min: 2, max: 6}, or an integer")
                    bounds.append(None)
                else:
                    bounds.append(self.integer(value[key], f"{path}.{key}", 1))
            low, high = bounds
            if low is None or high is None:
                return None
            if low > high:
                self.add(path, f"replicas min {low} is greater than max {high}",
                         f"swap them: replicas: {{min: {high}, max: {low}}}")
                return None
            return low, high
        if isinstance(value, int) and not isinstance(value, bool):
            count = self.integer(value, path, 1)
            return None if count is None else (count, count)
        self.integer(value, path, 1)  # reports the wrong type with the usual hints
        return None

    def max_surge(self, value: Any, path: str) -> tuple[Fraction | None, int | None] | None:
        if isinstance(value, str):
            fraction = _percent(value)
            if fraction is not None:
                return fraction, None
        elif isinstance(value, int) and not isinstance(value, bool):
            count = self.integer(value, path)
            return None if count is None else (None, count)
        self.add(path, f"max_surge must be a percentage such as \"25%\" or a whole number of replicas, "
                 f"not {describe(value)}", "write e.g. max_surge: 25% or max_surge: 1")
        return None

    def pool(self, value: Any, path: str, threads: int) -> Pool | None:
        if isinstance(value, str):
            driver = self.driver(value, path)
            return None if driver is None else _pool_from(driver, None, None, threads)
        if isinstance(value, int) and not isinstance(value, bool):
            size = self.integer(value, path, 1)
            return None if size is None else Pool(CUSTOM_DRIVER, size, 0)
        if not isinstance(value, dict):
            self.add(path, f"pool must be a driver name, a size or a mapping, not {describe(value)}",
                     "write e.g. pool: sqlalchemy, pool: 5 or pool: {driver: sqlalchemy, size: 5, max_overflow: 10}")
            return None
        self.check_keys(value, path, POOL_KEYS)
        driver = self.driver(value["driver"], f"{path}.driver") if "driver" in value else None
        size = self.integer(value["size"], f"{path}.size", 1) if "size" in value else None
        overflow = self.integer(value["max_overflow"], f"{path}.max_overflow", -1) if "max_overflow" in value else None
        if driver == "unbounded" and (size is not None or overflow not in (None, -1)):
            self.add(path, "an unbounded pool takes no size or max_overflow",
                     "remove them, or name the driver whose limits the service really has")
            return None
        if "driver" not in value and "size" not in value and overflow != -1:
            self.add(path, "pool needs a driver or a size", "write e.g. pool: {driver: sqlalchemy} or pool: {size: 5}")
            return None
        if ("driver" in value and driver is None) or ("size" in value and size is None) or (
                "max_overflow" in value and overflow is None):
            return None
        return _pool_from(driver or CUSTOM_DRIVER, size, overflow, threads)

    def driver(self, value: Any, path: str) -> str | None:
        if isinstance(value, str) and value in POOL_DRIVERS:
            return value
        if isinstance(value, str):
            self.add(path, f"unknown pool driver {value!r}", _suggest(value, POOL_DRIVERS, "known drivers")
                     + "; or give the numbers, e.g. pool: {size: 5, max_overflow: 0}")
        else:
            self.add(path, f"pool driver must be a name, not {describe(value)}", "write e.g. driver: sqlalchemy")
        return None

    def check_service_databases(self, databases: dict[str, Database | None],
                                environments: dict[str, Environment], services: dict[str, Service | None]) -> None:
        """Report services whose database cannot be resolved, or a reader endpoint without readers."""
        for name, service in services.items():
            if service is None:
                continue
            path = join_path("services", name)
            unresolved = []
            targets = set()
            for env in service.environments or environments:
                target = _resolve(service, environments.get(env), databases)
                if target is None:
                    unresolved.append(env)
                else:
                    targets.add(target)
            if unresolved:
                listed = ("environment " if len(unresolved) == 1 else "environments ") + ", ".join(
                    repr(e) for e in unresolved)
                self.add(path, f"cannot tell which database service {name!r} uses in {listed}",
                         f"set services.{name}.database, or `database:` on environment {unresolved[0]!r}")
            for target in sorted(targets):
                db = databases.get(target)
                if service.endpoint == "reader" and db is not None and db.readers == 0:
                    self.add(f"{path}.endpoint", f"endpoint is reader but database {target!r} has no readers",
                             f"set databases.{target}.readers, or use endpoint: writer")

    # ------------------------------------------------------------------ poolers

    def poolers(self, data: dict[str, Any], db_names: list[str] | None, env_names: list[str] | None,
                service_names: list[str] | None) -> dict[str, Pooler | None] | None:
        section = self.section(data, "poolers", "poolers: {bouncer: {kind: pgbouncer, ...}}", False)
        if section is None:
            return None if data.get("poolers") is not None else {}
        result: dict[str, Pooler | None] = {}
        for name, spec in section.items():
            path = join_path("poolers", name)
            self.name(name, path, "pooler")
            result[name] = self.pooler(name, spec, path, db_names, env_names, service_names)
        return result

    def pooler(self, name: str, spec: Any, path: str, db_names: list[str] | None, env_names: list[str] | None,
               service_names: list[str] | None) -> Pooler | None:
        spec = self.mapping(spec, path, f"{name}: {{kind: pgbouncer, database: main, clients: [web]}}")
        if spec is None:
            return None
        before = len(self.problems)
        self.check_keys(spec, path, POOLER_KEYS)
        kind = None
        if "kind" not in spec:
            self.missing(f"{path}.kind", "add kind: pgbouncer or kind: rds-proxy")
        else:
            kind = self.choice(spec["kind"], f"{path}.kind", POOLER_KINDS)
        if kind is not None:
            self.check_kind_keys(spec, path, kind)
        database = None
        if "database" not in spec:
            self.missing(f"{path}.database", "name the database it connects to, e.g. database: main")
        else:
            database = self.reference(spec["database"], f"{path}.database", db_names, "database")
        clients: tuple[str, ...] | None = None
        if "clients" not in spec:
            self.missing(f"{path}.clients", "list the services that connect through it, e.g. clients: [web]")
        else:
            clients = self.name_list(spec["clients"], f"{path}.clients", service_names, "service")
        options: dict[str, Any] = {}
        if "endpoint" in spec:
            options["endpoint"] = self.choice(spec["endpoint"], f"{path}.endpoint", ENDPOINTS)
        if "environments" in spec:
            options["environments"] = self.name_list(spec["environments"], f"{path}.environments",
                                                     env_names, "environment")
        minimums = {"replicas": 1, "default_pool_size": 1, "reserve_pool_size": 0, "max_db_connections": 0,
                    "pairs": 1, "max_client_conn": 1}
        for key, minimum in minimums.items():
            if key in spec:
                options[key] = self.integer(spec[key], f"{path}.{key}", minimum)
        if "pool_mode" in spec:
            options["pool_mode"] = self.choice(spec["pool_mode"], f"{path}.pool_mode", POOL_MODES)
        if "max_connections_percent" in spec:
            options["max_connections_percent"] = self.integer(spec["max_connections_percent"],
                                                              f"{path}.max_connections_percent", 1, 100)
        if len(self.problems) > before or kind is None or database is None or clients is None:
            return None
        return Pooler(name=name, kind=kind, database=database, clients=clients,  # type: ignore[arg-type]
                      line=self.lines.get(path), **options)

    def check_kind_keys(self, spec: dict[str, Any], path: str, kind: str) -> None:
        wrong, owner = (RDS_PROXY_KEYS, "an RDS Proxy") if kind == "pgbouncer" else (PGBOUNCER_KEYS, "a PgBouncer")
        for key in wrong:
            if key in spec:
                self.add(f"{path}.{key}", f"{key} is {owner} setting, but this pooler is kind {kind}",
                         f"remove {key}, or change the kind")

    def check_routes(self, databases: dict[str, Database | None], environments: dict[str, Environment],
                     services: dict[str, Service | None], poolers: dict[str, Pooler | None]) -> None:
        """Check poolers against their targets and clients; no (service, env) may use two poolers."""
        claimed: dict[tuple[str, str], str] = {}
        for name, pooler in poolers.items():
            if pooler is None:
                continue
            path = join_path("poolers", name)
            db = databases.get(pooler.database)
            if db is not None and pooler.kind == "rds-proxy" and db.engine == "self-managed":
                self.add(f"{path}.database", f"RDS Proxy cannot front the self-managed database {db.name!r}",
                         "use kind: pgbouncer, or set the database's engine to postgres or aurora-postgresql")
            if db is not None and pooler.endpoint == "reader" and db.readers == 0:
                self.add(f"{path}.endpoint", f"endpoint is reader but database {db.name!r} has no readers",
                         f"set databases.{db.name}.readers, or use endpoint: writer")
            for i, client in enumerate(pooler.clients):
                self.check_client(pooler, services.get(client), f"{path}.clients[{i}]",
                                  environments, databases, claimed)

    def check_client(self, pooler: Pooler, service: Service | None, path: str,
                     environments: dict[str, Environment], databases: dict[str, Database | None],
                     claimed: dict[tuple[str, str], str]) -> None:
        if service is None:
            return
        if service.endpoint != pooler.endpoint:
            self.add(path, f"client {service.name!r} uses the {service.endpoint} endpoint but pooler "
                     f"{pooler.name!r} connects to the {pooler.endpoint}",
                     f"set endpoint: {service.endpoint} on the pooler, or route {service.name!r} elsewhere")
            return
        routed = [env for env in service.environments or environments
                  if (pooler.environments is None or env in pooler.environments)
                  and _resolve(service, environments.get(env), databases) == pooler.database]
        if not routed:
            self.add(path, f"client {service.name!r} never uses database {pooler.database!r} in the "
                     f"environments of pooler {pooler.name!r}",
                     "remove it from clients, or check the service's database and environments")
        for env in routed:
            other = claimed.setdefault((service.name, env), pooler.name)
            if other != pooler.name:
                where = f" in environment {env!r}" if env != DEFAULT_ENVIRONMENT else ""
                self.add(path, f"service {service.name!r} is already a client of pooler {other!r}{where}: "
                         "a client routed through two poolers",
                         "remove it from one pooler, or give the poolers different environments")
                return


def _resolve(service: Service, env: Environment | None, databases: dict[str, Database | None]) -> str | None:
    """Return the database a service uses in an environment (spec §2), or None."""
    if service.database:
        return service.database
    if env is not None and env.database:
        return env.database
    if len(databases) == 1:
        return next(iter(databases))
    return None


def _pool_from(driver: str, size: int | None, overflow: int | None, threads: int) -> Pool:
    """Build a pool from a driver's defaults and explicit numbers (max_overflow -1: unbounded)."""
    default_size, default_overflow = POOL_DRIVERS.get(driver, (None, 0))
    if overflow == -1 or (driver == "unbounded"):
        return Pool(driver, None, 0)
    if default_size == THREADS:
        default_size = threads
    chosen = size if size is not None else default_size
    return Pool(driver, chosen if isinstance(chosen, int) else None,
                overflow if overflow is not None else default_overflow)
