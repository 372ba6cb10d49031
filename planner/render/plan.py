"""``planner plan`` output: candidate classes per database, best first."""

from __future__ import annotations

import json
from typing import Any, Sequence

from planner.model import DEPLOYMENT_LABELS, SOURCE_ESTIMATED, Topology
from planner.budget.plan import Candidate, DatabasePlan
from planner.render.table import markdown_table, md_escape, text_table

HEADERS = ["CLASS", "VCPU", "MEMORY_GIB", "MAX_CONN", "USABLE", "ALARM_AT", "WORST", "HEADROOM", "USD/MONTH"]
NO_PRICES = "prices: none known for these classes (planner catalog refresh reads current ones)"


def price_note(plans: Sequence[DatabasePlan], top: int) -> str:
    """Name where the prices shown come from: each price's source, region, deployment and date."""
    sources = sorted({c.price.describe() for p in plans for c in p.candidates[:top] if c.price is not None})
    unpriced = sum(1 for p in plans for c in p.candidates[:top] if c.price is None)
    if not sources:
        return NO_PRICES
    note = "prices: " + "; ".join(sources) + " (hourly × 730, on-demand instance hours only)"
    if any(p.deployment == "multi-az-cluster" for p in plans):
        note += "; a Multi-AZ DB cluster's price is AWS's listed rate for the deployment (its writer and two standbys)"
    if unpriced:
        note += f"; {unpriced} shown without a price: none known (nothing is guessed)"
    return note


def _heading(plan: DatabasePlan) -> str:
    """Return what a database's candidates were chosen for: engine, version, deployment, what was left out."""
    what = f"{plan.engine} {plan.engine_version}, {DEPLOYMENT_LABELS.get(plan.deployment, plan.deployment)}".rstrip(", ")
    left = f"; {plan.not_deployable} not orderable that way left out" if plan.not_deployable else ""
    return f"{what}, now {plan.current_class or 'none'}): {len(plan.candidates)} of {plan.considered} classes fit{left}"


def _row(c: Candidate) -> list[object]:
    star = "*" if c.max_connections_source == SOURCE_ESTIMATED else ""
    worst = "unbounded" if c.worst_demand is None else f"{c.worst_demand} ({c.worst_scenario})"
    return [
        c.instance_class.instance_class, c.instance_class.vcpu, c.instance_class.memory_gib,
        f"{c.max_connections}{star}", c.usable, c.alarm_at, worst, c.headroom, c.monthly_usd,
    ]


def _miss(plan: DatabasePlan) -> str:
    """Say why nothing fits, with how far the roomiest class is from the demand."""
    largest = plan.largest
    if largest is None:
        return f"no {plan.engine} classes in the catalogue match the filters"
    if largest.worst_demand is None:
        return "no class fits: an unbounded pool has no limit; bound the pool first"
    return (
        f"no {plan.engine} class fits: worst demand {largest.worst_demand} ({largest.worst_scenario}) exceeds the alarm line "
        f"{largest.alarm_at} of the roomiest class {largest.instance_class.instance_class} "
        f"(the default formula caps max_connections at 5000); put a pooler in front (PgBouncer or RDS Proxy) or shrink pools"
    )


def render_text(topology: Topology, plans: Sequence[DatabasePlan], top: int) -> str:
    """Return one table of candidates per database."""
    out: list[str] = [f"{topology.name} ({topology.path})"]
    for plan in plans:
        out += ["", f"{plan.database} ({_heading(plan)}"]
        if plan.candidates:
            out.append(text_table(HEADERS, [_row(c) for c in plan.candidates[:top]], indent="  "))
        else:
            out.append("  " + _miss(plan))
    out += estimate_notes([c for p in plans for c in p.candidates[:top]])
    out += ["", price_note(plans, top)]
    return "\n".join(out)


def _candidate_dict(c: Candidate) -> dict[str, Any]:
    cls = c.instance_class
    return {
        "instance_class": cls.instance_class, "family": cls.family, "arch": cls.arch, "vcpu": cls.vcpu,
        "memory_gib": cls.memory_gib, "max_connections": c.max_connections,
        "max_connections_source": c.max_connections_source, "estimated": c.max_connections_source == SOURCE_ESTIMATED,
        "usable": c.usable, "alarm_at": c.alarm_at, "worst_scenario": c.worst_scenario, "worst_demand": c.worst_demand,
        "headroom": c.headroom, "max_connections_range": _range(c), "max_connections_estimate": c.point,
        "price_usd_hour": c.price.usd_per_hour if c.price else None, "price_usd_month": c.monthly_usd,
        "price_source": c.price.describe() if c.price else None,
    }


def _range(c: Candidate) -> list[int] | None:
    """Return the readings an estimated max_connections is consistent with (the band of comparable classes)."""
    if c.max_connections_source != SOURCE_ESTIMATED or c.reading_range is None:
        return None
    return list(c.reading_range)


def estimate_notes(candidates: Sequence[Candidate]) -> list[str]:
    """Return the footnote for starred (estimated) rows: the rules' error ranges, as connections."""
    estimated = [c for c in candidates if c.max_connections_source == SOURCE_ESTIMATED]
    if not estimated:
        return []
    ranges = ", ".join(f"{c.instance_class.instance_class} {low}–{high}" for c in estimated if (r := _range(c)) for low, high in [r])
    text = "* estimated: DBInstanceClassMemory for this class is estimated, not read off an instance"
    text += (f"; a real instance may read (leave-one-out range of comparable classes): {ranges}" if ranges else "")
    if any(c.point is not None for c in estimated):
        text += "; MAX_CONN is the low end where the estimate may be optimistic"
    return ["", text]


def render_json(topology: Topology, plans: Sequence[DatabasePlan], top: int) -> str:
    """Return the plan as JSON: per database, the best ``top`` candidates."""
    doc = {
        "topology": topology.name,
        "file": topology.path,
        "price_source": price_note(plans, top),
        "databases": [
            {
                "database": p.database, "engine": p.engine, "engine_version": p.engine_version,
                "deployment": p.deployment, "current_class": p.current_class,
                "considered": p.considered, "fitting": len(p.candidates), "not_deployable": p.not_deployable,
                "candidates": [_candidate_dict(c) for c in p.candidates[:top]],
                "note": None if p.candidates else _miss(p),
            }
            for p in plans
        ],
    }
    return json.dumps(doc, indent=2)


def render_markdown(topology: Topology, plans: Sequence[DatabasePlan], top: int) -> str:
    """Return the plan as Markdown tables for a pull request or a design doc."""
    out = [f"### planner plan: `{md_escape(topology.name)}`"]
    for plan in plans:
        out += ["", f"**{md_escape(plan.database)}** ({md_escape(_heading(plan))}", ""]
        if plan.candidates:
            out.append(markdown_table([h.lower() for h in HEADERS], [_row(c) for c in plan.candidates[:top]]))
        else:
            out.append(md_escape(_miss(plan)))
    out += [md_escape(line) for line in estimate_notes([c for p in plans for c in p.candidates[:top]])]
    out += ["", md_escape(price_note(plans, top))]
    return "\n".join(out)
