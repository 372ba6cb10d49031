"""``planner recommend`` output: ranked options per flagged database, with their numbers."""

from __future__ import annotations

import json
from typing import Any, Sequence

from planner.budget import Finding
from planner.model import Topology
from planner.advice.recommend import Option, Outcome, Recommendation
from planner.render.table import markdown_table, md_escape, text_table


def _demand(outcome: Outcome) -> str:
    return "unbounded" if outcome.worst_demand is None else str(outcome.worst_demand)


def cost_text(option: Option) -> str:
    """Return the option's monthly cost: '+$21.90/month', '$0.00/month', or 'unknown'."""
    if option.monthly_cost_delta is None:
        return "unknown"
    sign = "+" if option.monthly_cost_delta > 0 else ""
    return f"{sign}${option.monthly_cost_delta:,.2f}/month"


def option_id(rec: Recommendation, rank: int) -> str:
    """Return the id users pass to ``--option``: ``DATABASE:RANK`` (1 = best)."""
    return f"{rec.database}:{rank}"


def _warnings_text(warnings: Sequence[Finding]) -> list[str]:
    return ["", "warnings:"] + [f"  - {w}" for w in warnings] if warnings else []


def render_text(topology: Topology, recs: Sequence[Recommendation], warnings: Sequence[Finding] = ()) -> str:
    """Return each flagged database's options, best first, with what each requires, and the lints."""
    if not recs:
        return "\n".join([f"{topology.name}: every instance and pooler is within budget; nothing to recommend"] + _warnings_text(warnings))
    out = [f"{topology.name} ({topology.path})"]
    for rec in recs:
        out += ["", rec.problem]
        if not rec.options:
            out.append("  no single option fits on its own; see the notes")
        rows = [
            [option_id(rec, n), o.kind, o.after.usable, o.after.alarm_at, f"{_demand(o.after)} ({o.after.worst_scenario})", o.after.headroom, cost_text(o)]
            for n, o in enumerate(rec.options, 1)
        ]
        if rows:
            out.append(text_table(["OPTION", "KIND", "USABLE", "ALARM_AT", "WORST DEMAND", "HEADROOM", "COST"], rows, indent="  "))
        for n, option in enumerate(rec.options, 1):
            out += ["", f"  [{option_id(rec, n)}] {option.title}"]
            out += [f"      - {r}" for r in option.requires]
            if option.cost_note and option.monthly_cost_delta:
                out.append(f"      cost: {option.cost_note}")
        out += [f"  note: {n}" for n in rec.notes]
    out += _warnings_text(warnings)
    out += ["", "Apply one: planner recommend TOPOLOGY --option DATABASE:RANK --apply-to-topology NEW.yaml"]
    return "\n".join(out)


def _option_dict(rec: Recommendation, rank: int, option: Option) -> dict[str, Any]:
    def outcome(o: Outcome) -> dict[str, Any]:
        return {"usable": o.usable, "alarm_at": o.alarm_at, "worst_scenario": o.worst_scenario,
                "worst_demand": o.worst_demand, "headroom": o.headroom, "status": o.status}

    return {
        "id": option_id(rec, rank), "rank": rank, "kind": option.kind, "title": option.title, "fits": option.fits,
        "before": outcome(option.before), "after": outcome(option.after),
        "monthly_cost_delta_usd": option.monthly_cost_delta, "cost_source": option.cost_note,
        "requires": list(option.requires), "details": dict(option.details),
    }


def render_json(topology: Topology, recs: Sequence[Recommendation], warnings: Sequence[Finding] = ()) -> str:
    """Return the recommendations (and the lints) as JSON."""
    doc = {
        "warnings": [str(w) for w in warnings],
        "topology": topology.name,
        "file": topology.path,
        "recommendations": [
            {"database": r.database, "problem": r.problem, "notes": list(r.notes),
             "options": [_option_dict(r, n, o) for n, o in enumerate(r.options, 1)]}
            for r in recs
        ],
    }
    return json.dumps(doc, indent=2, default=str)


def render_markdown(topology: Topology, recs: Sequence[Recommendation], warnings: Sequence[Finding] = ()) -> str:
    """Return the recommendations (and the lints) as Markdown for a pull request or design review."""
    out = [f"### planner recommend: **{md_escape(topology.name)}**"]
    lints = ["", "**Warnings**", ""] + [f"- {md_escape(str(w))}" for w in warnings] if warnings else []
    if not recs:
        return "\n".join(out + ["", "Every instance and pooler is within budget."] + lints)
    for rec in recs:
        out += ["", md_escape(rec.problem), ""]
        rows = [
            [n, md_escape(o.title), o.after.usable, f"{_demand(o.after)} ({o.after.worst_scenario})", o.after.headroom, cost_text(o)]
            for n, o in enumerate(rec.options, 1)
        ]
        out.append(markdown_table(["rank", "option", "usable", "worst demand", "headroom", "cost"], rows) if rows else "_no single option fits_")
        for n, option in enumerate(rec.options, 1):
            out += ["", f"<details><summary>{n}. {md_escape(option.title)}</summary>", ""]
            out += [f"- {md_escape(r)}" for r in option.requires]
            if option.cost_note:
                out.append(f"- cost: {md_escape(option.cost_note)}")
            out += ["", "</details>"]
    return "\n".join(out + lints)
