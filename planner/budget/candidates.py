"""Every instance class of a database's engine judged against its demand: fits, tight or over.

``planner plan`` keeps only the classes that fit; the report shows them all, so a reviewer sees
how far the current class is from the next one that fits. Each class is judged the way ``plan``
judges it (the same budget re-run), so the two never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from planner.budget.plan import Candidate, candidate_classes, candidate_order, judge_classes, judge_current
from planner.errors import InputError
from planner.model import RDS_ENGINES, SOURCE_ESTIMATED, Topology

if TYPE_CHECKING:
    from planner.catalog import Catalog

@dataclass(frozen=True)
class ClassFit:
    """One class against the database's worst scenario: ``fits`` (≤ alarm_at), ``tight`` (≤ usable), ``over``."""

    candidate: Candidate
    fit: str  # fits | tight | over (Candidate.fit)
    current: bool  # the class the database runs on today

    @property
    def name(self) -> str:
        return self.candidate.instance_class.instance_class

    @property
    def estimated(self) -> bool:
        return self.candidate.max_connections_source == SOURCE_ESTIMATED


def class_fits(topology: Topology, catalog: "Catalog", database: str, include_retired: bool = False) -> list[ClassFit]:
    """Return every class of ``database``'s engine, in ``plan``'s order, each judged against its demand.

    Only classes ``plan`` may propose (orderable for the database's engine, version and deployment;
    retired ones only with ``include_retired``), and the one the database runs on.
    """
    if database not in topology.databases:
        raise InputError(f"no database named {database!r}")
    db = topology.databases[database]
    if db.engine not in RDS_ENGINES:
        return []
    classes, _ = candidate_classes(topology, catalog, database, db.engine, include_retired=include_retired)
    others = [c for c in classes if c.instance_class != db.instance_class]
    judged = judge_classes(topology, catalog, database, db.engine, others)
    # today's class as the database runs it (its readers on their own class), as plan's "now" row
    current, _ = judge_current(topology, catalog, database, db.engine)
    if current is not None:
        judged.append(current)
    # plan's order (smallest memory, then cheapest): the first that fits is plan's first candidate
    judged.sort(key=candidate_order)
    return [ClassFit(c, c.fit, c is current) for c in judged]


def proposed(fits: Sequence[ClassFit], burstable_reason: str) -> list[ClassFit]:
    """Return the classes ``plan`` proposes among ``fits``: those that fit, burstable ones only when none is left out."""
    return [f for f in fits if f.fit == "fits" and not (burstable_reason and f.candidate.burstable)]
