"""Validate the ``databases`` section of a topology: engine, instance class, parameters, headroom.

:class:`DatabaseRules` adds the database checks to :class:`~planner.topology.values.Checker`;
services and poolers build on it, since they name databases and may need their readers.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

from planner.errors import FormulaError
from planner.model import DEPLOYMENTS, ENGINES, MULTI_AZ_CLUSTER_READERS, SERVERLESS_CLASS, Database
from planner.reserves import RESERVE_PARAMETERS, parameter_problem, parse_engine_version
from planner.topology.parsed import ParsedFile, describe, join_path, short_text
from planner.topology.values import DIGITS, Checker, is_int, is_number, leaf, parse_percent, to_fraction

DEFAULT_HEADROOM = Fraction(1, 5)
DATABASE_KEYS = ("engine", "engine_version", "instance_class", "parameters", "readers",
                 "reader_instance_class", "headroom", "serverless", "deployment", "from")
SERVERLESS_KEYS = ("min_acu", "max_acu")
MAX_ACU = 256
PARAMETER_KEYS = ("max_connections", *RESERVE_PARAMETERS)
# The keys the budget reads to find an instance's max_connections: a database with a problem in
# none of them can still be checked against the catalogue (see DatabaseRules.readable).
LIMIT_KEYS = ("engine", "instance_class", "reader_instance_class", "parameters.max_connections", "serverless")
_VERSION = re.compile(r"[0-9]+(?:\.[0-9A-Za-z-]+)*")  # "16", "15.4", "11.22-rds.20240418"


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


class DatabaseRules(Checker):
    """Check the databases a topology defines, and what other sections ask of them."""

    def __init__(self, filename: str, parsed: ParsedFile) -> None:
        super().__init__(filename, parsed)
        # Databases with problems whose instance limits can still be computed: `check` looks
        # their classes up in the catalogue, so that every problem of a file is reported at once.
        self.readable: dict[str, Database] = {}

    def databases(self, data: dict[str, Any]) -> dict[str, Database | None] | None:
        """Check the ``databases`` section (required); None if it is missing or not a mapping."""
        section = self.section(data, "databases", "databases: {main: {instance_class: db.m6g.large}}", True)
        if section is None:
            return None
        return self.named_items(section, "databases", "database", self.database)

    def database(self, name: str, spec: Any, path: str) -> Database | None:
        """Check one database; None if anything in it is wrong."""
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
        deployment = self.deployment(spec, path, engine)
        default_readers = MULTI_AZ_CLUSTER_READERS if deployment == "multi-az-cluster" else 0
        readers = self.integer(spec["readers"], f"{path}.readers") if "readers" in spec else default_readers
        if deployment == "multi-az-cluster":
            self.cluster_readers(path, readers, instance_class, reader_class)
        headroom = self.headroom(spec["headroom"], f"{path}.headroom") if "headroom" in spec else DEFAULT_HEADROOM
        parameters = self.parameters(spec.get("parameters"), f"{path}.parameters", engine, version)
        acu = self.serverless(spec, path, engine, instance_class, reader_class)
        if self.max_connections_rule(engine, parameters, f"{path}.parameters.max_connections"):
            parameters.pop("max_connections")
        if len(self.problems) > before or readers is None or headroom is None:
            if self.limits_readable(path, spec, before):
                self.readable[name] = Database(
                    name=name, engine=engine, engine_version=version or "16", instance_class=instance_class,
                    parameters=parameters, readers=readers or 0, reader_instance_class=reader_class,
                    line=self.lines.get(path), min_acu=acu[0], max_acu=acu[1], deployment=deployment or "")
            return None
        return Database(name=name, engine=engine, engine_version=version or "16", instance_class=instance_class,
                        parameters=parameters, readers=readers, reader_instance_class=reader_class,
                        headroom=headroom, line=self.lines.get(path), min_acu=acu[0], max_acu=acu[1],
                        deployment=deployment or "")

    def max_connections_rule(self, engine: str, parameters: dict[str, int | str], path: str) -> bool:
        """Report a max_connections formula on a self-managed database: it has no DBInstanceClassMemory."""
        value = parameters.get("max_connections")
        if engine != "self-managed" or not isinstance(value, str) or DIGITS.fullmatch(value):
            return False
        self.add(path, "a self-managed database has no DBInstanceClassMemory for a formula",
                 "set max_connections to the integer the server runs with (SHOW max_connections)")
        return True

    def limits_readable(self, path: str, spec: dict[str, Any], before: int) -> bool:
        """Return whether the problems since ``before`` leave this database's limits computable.

        None may touch a key of :data:`LIMIT_KEYS`; and a missing instance_class next to an unknown
        key is most likely that key misspelt, which is reported already.
        """
        blocking = (path, join_path(path, "parameters"), *(join_path(path, key) for key in LIMIT_KEYS))
        below = tuple(f"{key}." for key in blocking[2:])
        for problem in self.problems[before:]:
            if problem.key_path in blocking or problem.key_path.startswith(below):
                return False
            if "instance_class" not in spec and problem.message.startswith("unknown key"):
                return False
        return True

    def deployment(self, spec: dict[str, Any], path: str, engine: str) -> str | None:
        """Return the deployment (extension of spec §1) if one is written: one of the engine's."""
        if "deployment" not in spec:
            return None  # the engine's default (Database.deployment_name); a written file stays as written
        key = f"{path}.deployment"
        if engine not in DEPLOYMENTS:
            self.add(key, "a self-managed database has no RDS deployment", "remove deployment, or set engine: postgres")
            return None
        value = spec["deployment"]
        if value in DEPLOYMENTS[engine]:
            return str(value)
        other = next((e for e, names in DEPLOYMENTS.items() if value in names), None)
        hint = (f"{value} is an {other} deployment; set engine: {other}, or use one of: {', '.join(DEPLOYMENTS[engine])}"
                if other else f"use one of: {', '.join(DEPLOYMENTS[engine])}")  # fmt: skip
        self.add(key, f"deployment must be one of {', '.join(DEPLOYMENTS[engine])} for {engine}, not {describe(value)}", hint)
        return None

    def cluster_readers(self, path: str, readers: int | None, writer: str | None, reader_class: str | None) -> None:
        """Check a Multi-AZ DB cluster's readers: its two readable standbys (more with read replicas), the writer's class."""
        if readers is not None and readers < MULTI_AZ_CLUSTER_READERS:
            self.add(f"{path}.readers", f"a Multi-AZ DB cluster has {MULTI_AZ_CLUSTER_READERS} readable standbys, not {readers}",
                     f"remove readers (it is {MULTI_AZ_CLUSTER_READERS}), or set deployment: multi-az")
        if reader_class is not None and writer is not None and reader_class != writer:
            self.add(f"{path}.reader_instance_class", "the standbys of a Multi-AZ DB cluster run the writer's class",
                     "remove reader_instance_class")

    def serverless(self, spec: dict[str, Any], path: str, engine: str, *classes: str | None) -> tuple[Fraction | None, Fraction | None]:
        """Return the Aurora Serverless v2 ACU range (extension): needed exactly when a class is db.serverless."""
        key = f"{path}.serverless"
        uses = SERVERLESS_CLASS in classes
        if "serverless" not in spec:
            if uses:
                self.add(f"{path}.instance_class", "db.serverless needs its capacity range",
                         f"add serverless: {{min_acu: 0.5, max_acu: 16}} to databases.{leaf(path)}")
            return None, None
        if not uses:
            self.add(key, "serverless is only for instance_class: db.serverless", "remove it, or set instance_class: db.serverless")
            return None, None
        if engine != "aurora-postgresql":
            self.add(f"{path}.engine", "db.serverless is Aurora Serverless v2: it needs engine: aurora-postgresql",
                     "set engine: aurora-postgresql")
            return None, None
        acu_spec = self.mapping(spec["serverless"], key, "serverless: {min_acu: 0.5, max_acu: 16}")
        if acu_spec is None:
            return None, None
        self.check_keys(acu_spec, key, SERVERLESS_KEYS)
        values: list[Fraction | None] = []
        for name in SERVERLESS_KEYS:
            value = acu_spec.get(name)
            acu = to_fraction(value) if is_number(value) and math.isfinite(value) else None
            if acu is None or acu < 0 or acu > MAX_ACU or (acu * 2).denominator != 1:
                self.add(join_path(key, name), f"{name} must be a number of ACUs in steps of 0.5 from 0 to {MAX_ACU}, not {self.describe(join_path(key, name), value)}",
                         f"write e.g. {name}: {'0.5' if name == 'min_acu' else '16'}")
                acu = None
            values.append(acu)
        low, high = values
        if low is not None and high is not None and (high < 1 or low > high):
            self.add(join_path(key, "max_acu"), f"max_acu {float(high):g} must be at least 1 and at least min_acu {float(low):g}",
                     "raise max_acu")
            return None, None
        return low, high

    def engine_version(self, value: Any, path: str) -> str | None:
        """Return an engine version as text ("16", "15.4"); a YAML number is read back as text."""
        if isinstance(value, float) and math.isfinite(value) and value >= 10 and not value.is_integer():
            # `engine_version: 16.10` reaches us as the number 16.1, and the minor decides the reserves
            self.add(path, f"engine_version {value:g} is a number, so 16.10 and 16.1 look the same",
                     f'quote the version: engine_version: "{value:g}" (or the minor you run, e.g. "16.10")')
            return None
        if is_number(value) and not (isinstance(value, float) and not math.isfinite(value)):
            value = str(value)  # `engine_version: 9.4` is a YAML float; the version is "9.4"
        if isinstance(value, str) and _VERSION.fullmatch(value.strip()):
            return value.strip()
        self.add(path, f"engine_version must be a version such as \"16\" or \"15.4\", not {describe(value)}",
                 'write the major version first, e.g. engine_version: "16"')
        return None

    def instance_class(self, spec: dict[str, Any], path: str) -> str | None:
        """Return the RDS instance class at ``path`` if the key is given (None if not, or wrong)."""
        key = leaf(path)
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
        """Return a headroom ("20%" or 0.2) as a fraction in [0, 1)."""
        result: Fraction | None = None
        if isinstance(value, str):
            result = parse_percent(value)
        elif is_number(value) and math.isfinite(value):
            result = to_fraction(value)
            if result >= 1:
                hint = f"write {value}% for {value} percent" if result < 100 else "write e.g. headroom: 20%"
                self.add(path, f"headroom must be below 1 (a fraction of max_connections), not {value}", hint)
                return None
        if result is None:
            self.add(path, f"headroom must be a percentage such as \"20%\" or a fraction in [0, 1), "
                     f"not {self.describe(path, value)}", "write e.g. headroom: 20%")
            return None
        if not 0 <= result < 1:
            self.add(path, f"headroom must be at least 0% and below 100%, not {value}",
                     "write e.g. headroom: 20%")
            return None
        return result

    def parameters(self, value: Any, path: str, engine: str, version: str | None) -> dict[str, int | str]:
        """Return the known parameters that are valid for this engine and version."""
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
        if version is None:
            return result
        parsed = parse_engine_version(version)
        for key in RESERVE_PARAMETERS:
            problem = parameter_problem(engine, parsed, key) if key in flat else None
            if problem is not None:
                self.add(join_path(path, key), *problem)
                result.pop(key, None)
        return result

    def max_connections(self, value: Any, path: str) -> int | str | None:
        """Return max_connections: a whole number, or an RDS formula that parses."""
        if isinstance(value, str) and DIGITS.fullmatch(value):
            if len(value.strip()) > 9:
                self.add(path, f"max_connections {short_text(value.strip())} is far beyond what PostgreSQL allows",
                         "use the number the parameter group really sets")
                return None
            value = int(value)
        if is_int(value):
            return self.integer(value, path, minimum=1)
        if not isinstance(value, str):
            self.add(path, f"max_connections must be an integer or an RDS formula, not {self.describe(path, value)}",
                     'write e.g. max_connections: 500 or "LEAST({DBInstanceClassMemory/9531392},5000)"')
            return None
        error = _formula_error(value)
        if error is not None:
            shown = "read from the deployment" if self.origin_of(path) else repr(value)  # anything but a number: not quoted
            self.add(path, f"invalid max_connections formula {shown}: {error}",
                     "write it as RDS does, e.g. LEAST({DBInstanceClassMemory/9531392},5000), or an integer")
            return None
        return value

    def check_readers(self, path: str, database: Database | None) -> None:
        """Report an ``endpoint: reader`` (at ``path``) on a database that has no readers."""
        if database is not None and database.readers == 0:
            self.add(path, f"endpoint is reader but database {database.name!r} has no readers",
                     f"set databases.{database.name}.readers, or use endpoint: writer")
