"""``planner plan`` output: candidate classes per database, best first."""

from __future__ import annotations

import json
from typing import Any, Sequence

from ..model import SOURCE_ESTIMATED, Topology, price_for
from ..plan import Candidate, DatabasePlan
from .table import markdown_table, md_escape, text_table

HEADERS = ["CLASS", "VCPU", "MEMORY_GIB", "MAX_CONN", "USABLE", "ALARM_AT", "WORST", "HEADROOM", "USD/MONTH"]
NO_PRICES = "prices: none known for these classes (planner catalog refresh reads current ones)"


def price_note(plans: Sequence[DatabasePlan], top: int) -> str:
    """Name where the prices shown come from: the catalogue's own price_source of those classes."""
    sources = sorted({
        c.instance_class.price_source for p in plans for c in p.candidates[:top]
        if price_for(c.instance_class, c.engine) is not None and c.instance_class.price_source
    })
    if not sources:
        return NO_PRICES
    return "prices: " + "; ".join(sources) + " (hourly, on-demand; none shown for Aurora: billed differently)"


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
        current = plan.current_class or "none"
        out += ["", f"{plan.database} ({plan.engine}, now {current}): {len(plan.candidates)} of {plan.considered} classes fit"]
        if plan.candidates:
            out.append(text_table(HEADERS, [_row(c) for c in plan.candidates[:top]], indent="  "))
        else:
            out.append("  " + _miss(plan))
    if any(c.max_connections_source == SOURCE_ESTIMATED for p in plans for c in p.candidates[:top]):
        out += ["", "* estimated: DBInstanceClassMemory for this class is estimated, not observed"]
    out += ["", price_note(plans, top)]
    return "\n".join(out)


def _candidate_dict(c: Candidate) -> dict[str, Any]:
    cls = c.instance_class
    return {
        "instance_class": cls.instance_class, "family": cls.family, "arch": cls.arch, "vcpu": cls.vcpu,
        "memory_gib": cls.memory_gib, "max_connections": c.max_connections,
        "max_connections_source": c.max_connections_source, "estimated": c.max_connections_source == SOURCE_ESTIMATED,
        "usable": c.usable, "alarm_at": c.alarm_at, "worst_scenario": c.worst_scenario, "worst_demand": c.worst_demand,
        "headroom": c.headroom, "price_usd_hour": price_for(cls, c.engine), "price_usd_month": c.monthly_usd,
    }


def render_json(topology: Topology, plans: Sequence[DatabasePlan], top: int) -> str:
    """Return the plan as JSON: per database, the best ``top`` candidates."""
    doc = {
        "topology": topology.name,
        "file": topology.path,
        "price_source": price_note(plans, top),
        "databases": [
            {
                "database": p.database, "engine": p.engine, "current_class": p.current_class,
                "considered": p.considered, "fitting": len(p.candidates),
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
        out += ["", f"**{md_escape(plan.database)}** ({plan.engine}, now {md_escape(plan.current_class or 'none')})", ""]
        if plan.candidates:
            out.append(markdown_table([h.lower() for h in HEADERS], [_row(c) for c in plan.candidates[:top]]))
        else:
            out.append(md_escape(_miss(plan)))
    out += ["", md_escape(price_note(plans, top))]
    return "\n".join(out)
