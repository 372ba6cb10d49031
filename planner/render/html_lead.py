"""The report's first screen: the verdict, the one recommended change, the change against the baseline.

A reviewer opens the page to learn three things: is it over, what to do, and what this change did.
Everything else (charts, every class, breaking points, tables) stays below for whoever wants the why.
"""

from __future__ import annotations

from typing import Sequence

from planner.advice.options import Outcome, Recommendation
from planner.budget import BudgetReport
from planner.model import STATUS_RANK
from planner.render.html_context import Action, Lead, Verdict
from planner.render.recommend import cost_text, option_id

LEAD_VERDICTS = 3  # banners before the fold: more would push the action off the first screen
LEAD_CHANGES = 6  # summary lines against the baseline on the first screen


def _num(value: int | None) -> str:
    return "unbounded" if value is None else f"{value:,}"


def effect(before: Outcome, after: Outcome) -> str:
    """Return the worst demand before → after against the alarm line: 'rollout 17,462 → 63 vs alarm 64'."""
    same = before.worst_scenario == after.worst_scenario
    moved = f"{_num(before.worst_demand)} → {_num(after.worst_demand)}" if same else \
        f"{_num(before.worst_demand)} → {after.worst_scenario} {_num(after.worst_demand)}"
    alarm = f"{after.alarm_at:,}" if before.alarm_at == after.alarm_at else f"{before.alarm_at:,} → {after.alarm_at:,}"
    return f"{before.worst_scenario} {moved} vs alarm {alarm}"


def _severity(report: BudgetReport, database: str) -> tuple[int, bool, int]:
    """Rank a flagged database: over before warn, unbounded first, then by how far demand is past the alarm line."""
    instances = [i for i in report.instances if i.database == database]
    poolers = [p for p in report.poolers if p.database == database]
    rank = max(STATUS_RANK[x.status] for x in [*instances, *poolers])
    unbounded = any(i.worst_demand is None for i in instances)
    past = max((i.worst_demand - i.alarm_at for i in instances if i.worst_demand is not None), default=0)
    return rank, unbounded, past


def action(report: BudgetReport, recommendations: Sequence[Recommendation]) -> Action | None:
    """Return recommend's first option for the worst flagged database, or None when nothing is flagged."""
    if not recommendations:
        return None
    worst = max(recommendations, key=lambda r: _severity(report, r.database))
    others = tuple(r.database for r in recommendations if r is not worst)
    if not worst.options:
        return Action(worst.database, worst.problem, "", "", "", "", "", "", (), "", 0, others)
    first = worst.options[0]
    return Action(
        database=worst.database, problem=worst.problem, option_id=option_id(worst, 1), title=first.title,
        effect=effect(first.before, first.after), status_after=first.after.status, cost=cost_text(first),
        cost_note=first.cost_note if first.monthly_cost_delta else "", requires=first.requires,
        command=f"planner recommend {report.topology.path} --option {option_id(worst, 1)} --apply-to-topology NEW.yaml",
        alternatives=len(worst.options) - 1, other_databases=others,
    )


def lead(
    report: BudgetReport, verdicts: Sequence[Verdict], recommendations: Sequence[Recommendation],
    baseline: BudgetReport | None,
) -> Lead:
    """Return what the first screen shows."""
    # the worst banners first (a stable sort keeps page order among equals)
    ranked = sorted(verdicts, key=lambda v: -STATUS_RANK[v.status])
    shown = ranked[:LEAD_VERDICTS]
    folded = tuple(v for v in verdicts if v not in shown)
    changes: list[str] = []
    if baseline is not None:
        from planner.render.diff import NO_CHANGE, what_changed
        from planner.review.diff import diff_reports

        changes = what_changed(diff_reports(baseline, report)) or [NO_CHANGE]
    return Lead(
        verdicts=tuple(shown), folded=folded, action=action(report, recommendations),
        baseline=None if baseline is None else baseline.topology.name,
        changes=tuple(changes[:LEAD_CHANGES]), changes_more=max(0, len(changes) - LEAD_CHANGES),
    )
