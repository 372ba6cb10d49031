"""The limits of one instance (spec §3): its max_connections on a class, and its reserved slots.

``max_connections`` is the parameter evaluated for the instance class, with DBInstanceClassMemory
from the catalogue (or, for Aurora Serverless v2, from the ACU range); the reserves are those of
the engine version (:mod:`planner.reserves`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from planner.errors import FormulaError, InputError, Problem
from planner.formula import evaluate_formula
from planner.model import (
    DEFAULT_MAX_CONNECTIONS_FORMULA,
    DEPLOYMENTS,
    RDS_ENGINES,
    SELF_MANAGED_MAX_CONNECTIONS,
    SERVERLESS_CLASS,
    SOURCE_AWS_DOC,
    SOURCE_ESTIMATED,
    SOURCE_PARAMETER,
    Database,
    EngineMemory,
    Topology,
)
from planner.reserves import Reserve, reserves_for

if TYPE_CHECKING:  # the arithmetic only needs the catalogue's interface, not its reader
    from planner.catalog import Catalog

# Aurora Serverless v2: DBInstanceClassMemory follows the maximum capacity, 2 GiB per ACU, less a
# reserve; 0.9383 × 2 GiB × max_acu − 200 MiB reproduces every value AWS published (1 to 128 ACU).
SERVERLESS_FRACTION = Fraction(9383, 10000)
SERVERLESS_RESERVE = 200 * 2**20
SERVERLESS_PUBLISHED_MAX_ACU = (1, 4, 8, 16, 32, 64, 128)
# With a minimum of 0 or 0.5 ACU, Aurora caps the default max_connections at 2000.
SERVERLESS_LOW_MIN_ACU = Fraction(1, 2)
SERVERLESS_LOW_MIN_CAP = 2000


@dataclass(frozen=True)
class MaxConnections:
    """The max_connections of one instance class under a database's parameters, and why."""

    value: int
    source: str  # parameter | observed | aws-doc | estimated
    formula: str  # the parameter as written (or the default formula), or the integer
    memory: EngineMemory | None  # DBInstanceClassMemory, where a formula used it
    vcpu: int | None = None
    default_value: int | None = None  # what the default parameter group would give
    # whether AWS offers the class for the database's engine, version and deployment (None: unknown),
    # and the deployments it is offered in
    deployable: bool | None = None
    offered_as: tuple[str, ...] = ()
    # where a rule of AWS's lowers the formula's value (Serverless v2 with a low minimum): the
    # formula's own value and the rule, so that explanations never show false arithmetic
    uncapped: int | None = None
    cap_reason: str = ""
    # Where DBInstanceClassMemory has a band: what a real instance may read (the formula over the
    # band), and the value at the catalogue's point when the budget counts on the band's low end
    # instead (the point may be optimistic: the band's top is above zero).
    reading_range: tuple[int, int] | None = None
    point: int | None = None

    @property
    def uses_low_end(self) -> bool:
        """Return whether the budget counts on the low end of the band, not the catalogue's point."""
        return self.point is not None and self.point != self.value

    def estimate_text(self) -> str:
        """Return "estimate" with its range where known.

        "estimate; a real instance may read 806–840; the catalogue's estimate is 819, the budget counts on
        806, the low end".
        """
        found = self.reading_range
        if found is None:
            return "estimate"
        text = f"estimate; a real instance may read {found[0]}–{found[1]}"
        if self.uses_low_end:
            text += f"; the catalogue's estimate is {self.point}, the budget counts on {self.value}, the low end"
        return text


def max_connections_for(database: Database, instance_class: str | None, catalog: "Catalog | None", topology: Topology,
                        class_key: str = "instance_class") -> MaxConnections:
    """Evaluate the ``max_connections`` parameter of ``database`` on ``instance_class``.

    ``class_key`` names the key the class came from (``reader_instance_class`` for readers of their
    own class), so that a problem with the class points at the line that wrote it.
    """
    key = f"databases.{database.name}"
    param = database.parameters.get("max_connections")
    if database.engine not in RDS_ENGINES:
        if param is None:
            return MaxConnections(SELF_MANAGED_MAX_CONNECTIONS, SOURCE_PARAMETER, str(SELF_MANAGED_MAX_CONNECTIONS), None)
        if isinstance(param, int) or str(param).strip().isdigit():
            return MaxConnections(int(param), SOURCE_PARAMETER, str(param), None)
        raise _problem(topology, f"{key}.parameters.max_connections", "a self-managed database has no DBInstanceClassMemory", "set max_connections to an integer")
    if instance_class is None:
        raise _problem(
            topology, f"{key}.instance_class", "instance_class is required to compute the budget",
            "set instance_class (e.g. db.m6g.large) or run `planner plan` to choose one",
        )
    offer: dict[str, Any] = {}
    if instance_class == SERVERLESS_CLASS:
        memory, vcpu = serverless_memory(database), 0
    else:
        if catalog is None:
            raise InputError("a catalogue is required for RDS engines")
        try:
            memory = catalog.dbicm(instance_class, database.engine)
            cls = catalog.get(instance_class)
        except InputError as exc:
            raise _problem(topology, f"{key}.{class_key}", str(exc).split("\n")[0], None) from exc
        vcpu = cls.vcpu
        offer = {"deployable": cls.deployable(database.engine, database.deployment_name, database.version),
                 "offered_as": tuple(d for d in DEPLOYMENTS[database.engine] if cls.deployable(database.engine, d, database.version))}
    # the memory the budget counts on: the low end of its band where the value may be optimistic
    variables = {"DBInstanceClassMemory": memory.budget_bytes(), "DBInstanceVCPU": vcpu}
    default_value = evaluate_formula(DEFAULT_MAX_CONNECTIONS_FORMULA, variables)
    if instance_class == SERVERLESS_CLASS and database.min_acu is not None and database.min_acu <= SERVERLESS_LOW_MIN_ACU:
        if default_value > SERVERLESS_LOW_MIN_CAP:
            offer["uncapped"] = default_value
            offer["cap_reason"] = (f"Aurora Serverless v2 caps the default at {SERVERLESS_LOW_MIN_CAP} when the minimum capacity "
                                   f"is 0 or 0.5 ACU (min_acu {float(database.min_acu):g})")  # fmt: skip
        default_value = min(default_value, SERVERLESS_LOW_MIN_CAP)
    if param is None:
        offer.update(_band(DEFAULT_MAX_CONNECTIONS_FORMULA, memory, vcpu, offer.get("uncapped"), database))
        return MaxConnections(default_value, memory.source, DEFAULT_MAX_CONNECTIONS_FORMULA, memory, vcpu, default_value, **offer)
    offer.pop("uncapped", None)
    offer.pop("cap_reason", None)  # the cap is the default parameter group's; a set parameter is what it says
    if isinstance(param, int) or str(param).strip().isdigit():
        return MaxConnections(int(param), SOURCE_PARAMETER, str(param), memory, vcpu, default_value, **offer)
    try:
        value = evaluate_formula(str(param), variables)
    except FormulaError as exc:
        raise _problem(topology, f"{key}.parameters.max_connections", str(exc), "fix the formula as RDS writes it") from exc
    if value < 1:
        raise _problem(
            topology, f"{key}.parameters.max_connections",
            f"evaluates to {value} on {instance_class}", "PostgreSQL needs max_connections ≥ 1",
        )
    offer.update(_band(str(param), memory, vcpu, None, database))
    return MaxConnections(value, memory.source, str(param), memory, vcpu, default_value, **offer)


def _band(formula: str, memory: EngineMemory, vcpu: int, uncapped: int | None, database: Database) -> dict[str, Any]:
    """Return the reading range of ``formula`` over the memory's band, and its value at the point where the budget uses the low end."""
    if memory.error_range is None:
        return {}

    def value(dbicm: int) -> int:
        found = evaluate_formula(formula, {"DBInstanceClassMemory": dbicm, "DBInstanceVCPU": vcpu})
        if uncapped is not None and database.min_acu is not None:
            found = min(found, SERVERLESS_LOW_MIN_CAP)
        return found

    return {"reading_range": memory.reading_range(value), "point": value(memory.dbicm_bytes)}


def instance_classes(database: Database) -> list[tuple[str | None, str]]:
    """Return the classes the budget evaluates for ``database``: (class, the key it came from).

    The writer's class, then the readers' when they run another one (their own key, so a problem
    points at it); a class the readers share with the writer is evaluated once.
    """
    classes: list[tuple[str | None, str]] = [(database.instance_class, "instance_class")]
    if database.readers and database.reader_instance_class and database.reader_instance_class != database.instance_class:
        classes.append((database.reader_instance_class, "reader_instance_class"))
    return classes


def limit_problems(topology: Topology, catalog: "Catalog | None") -> list[Problem]:
    """Return every problem the budget would meet on ``topology``'s instances, all at once.

    ``check`` runs it on a topology with problems of its own too (the databases that could be
    read), so that an unknown instance class is reported with them, not on the next run.
    """
    problems: list[Problem] = []
    for database in topology.databases.values():
        for instance_class, class_key in instance_classes(database):
            try:
                max_connections_for(database, instance_class, catalog, topology, class_key)
            except InputError as exc:
                problems.extend(p for p in exc.problems if isinstance(p, Problem) and p not in problems)
    return problems


def serverless_memory(database: Database) -> EngineMemory:
    """Return the DBInstanceClassMemory of an Aurora Serverless v2 instance at its maximum ACU."""
    max_acu = database.max_acu or Fraction(1)
    dbicm = math.floor(SERVERLESS_FRACTION * 2 * 2**30 * max_acu) - SERVERLESS_RESERVE
    published = max_acu in SERVERLESS_PUBLISHED_MAX_ACU
    rule = f"Aurora Serverless v2 at max {float(max_acu):g} ACU: 0.9383 × 2 GiB × max_acu − 200 MiB"
    note = f"{rule} (reproduces AWS's published table)" if published else f"{rule} (interpolated between AWS's published values)"
    return EngineMemory(dbicm, SOURCE_AWS_DOC if published else SOURCE_ESTIMATED, note)


def database_reserves(database: Database) -> tuple[Reserve, ...]:
    """Return the reserved slots of ``database``'s engine version (spec §3), with its overrides."""
    return reserves_for(database.engine, database.version, database.parameters)


def _problem(topology: Topology, key_path: str, message: str, hint: str | None) -> InputError:
    return InputError(Problem(topology.path, key_path, message, topology.line_of(key_path), hint))


__all__ = ["MaxConnections", "database_reserves", "instance_classes", "limit_problems", "max_connections_for", "serverless_memory"]
