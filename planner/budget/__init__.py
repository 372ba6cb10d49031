"""The arithmetic: demand, budgets, their warnings, breaking points, candidate classes, ``plan``.

Pure: nothing here reads a file, prints or talks to anything. ``demand`` adds up what each source
opens per scenario, ``limits`` gives each instance its max_connections and reserves, ``instances``
puts them together into a :class:`BudgetReport`; ``lints`` reads a finished report and finds the
traps (it never feeds back into the numbers). :func:`compute_budget` is the two in sequence.
``breaking``, ``candidates`` and ``plan`` re-run the arithmetic on changed topologies and classes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Sequence

from planner.budget.demand import (
    SourceDemand,
    all_service_demands,
    ceil_scaled,
    resolve_database,
    service_demand,
    service_environments,
)
from planner.budget.instances import (
    BudgetReport,
    Finding,
    InstanceBudget,
    PoolerBudget,
    ScenarioResult,
    budget_report,
    pgbouncer_server_connections,
    pgpool_server_connections,
    scenario_status,
)
from planner.budget.limits import MaxConnections, max_connections_for
from planner.budget.lints import PRODUCTION_NAMES, find_traps
from planner.model import SCENARIOS, Topology

if TYPE_CHECKING:
    from planner.catalog import Catalog


def compute_budget(
    topology: Topology,
    catalog: "Catalog | None",
    scenarios: Sequence[str] = SCENARIOS,
    demands: Sequence[SourceDemand] | None = None,
) -> BudgetReport:
    """Compute every instance's and pooler's budget for ``scenarios`` (spec §2–3), with its warnings."""
    report = budget_report(topology, catalog, scenarios, demands)
    shown: list[Finding] = []
    acknowledged: list[tuple[Finding, str]] = []
    for finding in find_traps(report):
        ignore = next((i for i in topology.lint_ignores if i.covers(finding.code, finding.key_path)), None)
        if ignore is None:
            shown.append(finding)
        else:
            acknowledged.append((finding, ignore.reason))
    return replace(report, warnings=tuple(shown), acknowledged=tuple(acknowledged))


__all__ = [
    "PRODUCTION_NAMES",
    "BudgetReport",
    "Finding",
    "InstanceBudget",
    "MaxConnections",
    "PoolerBudget",
    "ScenarioResult",
    "SourceDemand",
    "all_service_demands",
    "budget_report",
    "ceil_scaled",
    "compute_budget",
    "max_connections_for",
    "pgbouncer_server_connections",
    "pgpool_server_connections",
    "resolve_database",
    "scenario_status",
    "service_demand",
    "service_environments",
]
