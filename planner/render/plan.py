"""``planner plan`` output: candidate classes per database, best first."""

from __future__ import annotations

import json
from typing import Any, Sequence

from planner.model import DEPLOYMENT_LABELS, SOURCE_ESTIMATED, Topology
from planner.budget.plan import BURSTABLE_NOTE, Candidate, DatabasePlan, burstable_left_out
from planner.budget.pricing import DatabasePrice
from planner.render.table import markdown_table, md_escape, text_table

HEADERS = ["CLASS", "VCPU", "MEMORY_GIB", "MAX_CONN", "USABLE", "ALARM_AT", "WORST", "HEADROOM", "USD/MONTH", "NOTE"]
NO_PRICES = "prices: none known for these classes (planner catalog refresh reads current ones)"


def shown(plan: DatabasePlan, top: int) -> list[Candidate]:
    """Return the rows of a database's table: the best ``top`` candidates, and the database as it runs today.

    Today's row takes the place of its class among the candidates, else it comes last, so the user
    compares it with the proposals even when it does not fit or is not among the best ``top``.
    """
    rows = list(plan.candidates[:top])
    current = plan.current
    if current is not None:
        names = [c.instance_class.instance_class for c in rows]
        if current.instance_class.instance_class in names:
            rows[names.index(current.instance_class.instance_class)] = current
        else:
            rows.append(current)
    return rows


def price_note(plans: Sequence[DatabasePlan], top: int) -> str:
    """Name where the prices shown come from: each price's source, region, deployment and date."""
    lines = [line for p in plans for c in shown(p, top) if c.total is not None for line in c.total.lines]
    # one entry per price list: "…, us-east-1 on-demand Multi-AZ instance and Single-AZ, 2026-05-12"
    labels: dict[tuple[str, str, str], list[str]] = {}
    for price in sorted({line.price for line in lines if line.price is not None}, key=lambda p: p.describe()):
        named = labels.setdefault((price.source, price.region, price.date), [])
        label = DEPLOYMENT_LABELS.get(price.deployment, price.deployment)
        if label not in named:
            named.append(label)
    sources = sorted(f"{src}, {region} on-demand {' and '.join(named)}, {date}" for (src, region, date), named in labels.items())
    unpriced = sum(1 for p in plans for c in shown(p, top) if c.total is None or c.total.usd_month is None)
    if not sources:
        return NO_PRICES
    note = ("prices: " + "; ".join(sources) + " (hourly × 730, on-demand instance hours only; "
            "USD/MONTH is the whole database: writer, standby or standbys, readers)")
    if any(p.deployment == "multi-az-cluster" for p in plans):
        note += "; a Multi-AZ DB cluster's price is AWS's listed rate for the deployment (its writer and two standbys)"
    if unpriced:
        note += f"; {unpriced} shown without a price: not all of it is known (nothing is guessed)"
    return note


def _fitting(plan: DatabasePlan) -> int:
    """Return how many classes fit, burstable ones left out included."""
    return len(plan.candidates) + plan.burstable_left_out


def _heading(plan: DatabasePlan) -> str:
    """Return what a database's candidates were chosen for: engine, version, deployment, what was left out."""
    what = f"{plan.engine} {plan.engine_version}, {DEPLOYMENT_LABELS.get(plan.deployment, plan.deployment)}".rstrip(", ")
    left = f"; {plan.not_deployable} not orderable that way left out" if plan.not_deployable else ""
    return f"{what}, now {plan.current_class or 'none'}): {_fitting(plan)} of {plan.considered} classes fit{left}"


def _note(c: Candidate, plan: DatabasePlan) -> str:
    """Return a row's NOTE: "now" (with its fit when it does not fit), "burstable", why today's class is not orderable."""
    notes = []
    if c is plan.current:
        notes.append("now" if c.fits else f"now ({c.fit})")
    if c.burstable:
        notes.append("burstable")
    if c is plan.current and plan.current_note:
        notes.append(plan.current_note)
    return "; ".join(notes)


def _row(c: Candidate, plan: DatabasePlan) -> list[object]:
    star = "*" if c.max_connections_source == SOURCE_ESTIMATED else ""
    worst = "unbounded" if c.worst_demand is None else f"{c.worst_demand} ({c.worst_scenario})"
    total = c.total.usd_month if c.total is not None else None
    return [
        c.instance_class.instance_class, c.instance_class.vcpu, c.instance_class.memory_gib,
        f"{c.max_connections}{star}", c.usable, c.alarm_at, worst, c.headroom,
        None if total is None else f"{total:.2f}", _note(c, plan),
    ]


def _miss(plan: DatabasePlan) -> str:
    """Say why nothing fits, with how far the roomiest class is from the demand."""
    largest = plan.largest
    if plan.burstable_left_out:
        return f"only burstable classes fit, {plan.burstable_reason}"
    if largest is None:
        return f"no {plan.engine} classes in the catalogue match the filters"
    if largest.worst_demand is None:
        return "no class fits: an unbounded pool has no limit; bound the pool first"
    if plan.proxies:
        return _proxy_miss(plan, largest)
    return (
        f"no {plan.engine} class fits: worst demand {largest.worst_demand} ({largest.worst_scenario}) exceeds the alarm line "
        f"{largest.alarm_at} of the roomiest class {largest.instance_class.instance_class} "
        f"(the default formula caps max_connections at 5000); put a pooler in front (PgBouncer or RDS Proxy) or shrink pools"
    )


def _proxy_miss(plan: DatabasePlan, largest: "Candidate") -> str:
    """Say that an RDS Proxy's share, a fixed fraction of any class, leaves the rest too little on every
    class, and which setting changes that: the proxy's percentage, not the class or another pooler."""
    assert largest.worst_demand is not None
    mc = largest.max_connections
    share = sum(mc * percent // 100 for _, percent in plan.proxies)
    direct = largest.worst_demand - share  # what the other clients open on that class
    room = max(0, largest.alarm_at - direct)
    percent = room * 100 // mc
    names = ", ".join(f"{name} ({p} %)" for name, p in plan.proxies)
    return (
        f"no {plan.engine} class fits while RDS Proxy {names} takes that share of max_connections: the share grows "
        f"with every class, so a bigger one never leaves the other clients room (on the roomiest, "
        f"{largest.instance_class.instance_class}, they open {direct} beside the proxy's {share} against an alarm line "
        f"of {largest.alarm_at}); lower max_connections_percent (at most {percent} % there; planner recommend "
        "computes it for today's class)"
    )


def _sums(plan: DatabasePlan) -> list[str]:
    """Return how the month of the whole database adds up, on the first candidate and on today's class."""
    now = plan.current
    # the first candidate's sum, unless it is today's database, readers and all
    rows: list[tuple[Candidate | None, str]] = [
        (c, " (first)") for c in plan.candidates[:1]
        if not (now and now.total and c.total and c.total.text() == now.total.text())
    ]
    if now is not None:
        rows.append((now, " (now)"))
    elif plan.current_class:
        rows.append((None, f"{plan.current_class} (now): no row: {plan.current_note}"))
    out = ["price of the whole database, per month:"] if rows else []
    for c, label in rows:
        if c is None:
            out.append(f"  {label}")
        elif c.total is not None:
            out.append(f"  {c.instance_class.instance_class}{label}: {c.total.text()}")
    return out


def _footnotes(plans: Sequence[DatabasePlan], top: int) -> list[str]:
    """Return the lines under the tables: what "burstable" means, when a row or a left-out class is one."""
    if any(c.burstable for p in plans for c in shown(p, top)) or any(p.burstable_left_out for p in plans):
        return ["", BURSTABLE_NOTE]
    return []


def _database_lines(plan: DatabasePlan, top: int) -> tuple[list[list[object]], list[str]]:
    """Return a database's table rows and the lines that follow it (miss, burstable, sums)."""
    rows = [_row(c, plan) for c in shown(plan, top)]
    left_out = burstable_left_out(plan.burstable_left_out, plan.burstable_reason)
    # with no candidates, _miss already says that only burstable classes fit
    lines = ([left_out] if left_out else []) if plan.candidates else [_miss(plan)]
    return rows, lines + _sums(plan)


def render_text(topology: Topology, plans: Sequence[DatabasePlan], top: int) -> str:
    """Return one table of candidates per database, with today's class, and the month of the whole database."""
    out: list[str] = [f"{topology.name} ({topology.path})"]
    for plan in plans:
        out += ["", f"{plan.database} ({_heading(plan)}"]
        rows, lines = _database_lines(plan, top)
        if rows:
            out.append(text_table(HEADERS, rows, indent="  "))
        out += ["  " + line for line in lines]
    out += estimate_notes([c for p in plans for c in shown(p, top)])
    out += _footnotes(plans, top)
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
        "burstable": c.burstable, "fit": c.fit, "database_price": _price_dict(c.total),
    }


def _price_dict(total: DatabasePrice | None) -> dict[str, Any] | None:
    """Return the month of the whole database and its lines; unknown parts are null with why."""
    if total is None:
        return None
    return {
        "usd_month": total.usd_month, "adds_up": total.text(), "unknown": total.missing or None,
        "lines": [
            {"what": line.what, "count": line.count, "instance_class": line.instance_class, "deployment": line.deployment,
             "usd_hour": line.price.usd_per_hour if line.price else None, "usd_month_each": line.each_usd_month,
             "usd_month": line.usd_month, "source": line.price.describe() if line.price else None,
             "unknown": line.missing or None}
            for line in total.lines
        ],
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
    """Return the plan as JSON (docs/schema/plan.schema.json): per database, the best ``top`` candidates and today's class."""
    doc = {
        "topology": topology.name,
        "file": topology.path,
        "price_source": price_note(plans, top),
        "burstable_note": BURSTABLE_NOTE,
        "databases": [
            {
                "database": p.database, "engine": p.engine, "engine_version": p.engine_version,
                "deployment": p.deployment, "current_class": p.current_class,
                "considered": p.considered, "fitting": _fitting(p), "not_deployable": p.not_deployable,
                "burstable": {"proposed": not p.burstable_reason, "left_out": p.burstable_left_out,
                              "reason": p.burstable_reason or None},
                "candidates": [_candidate_dict(c) for c in p.candidates[:top]],
                "current": _candidate_dict(p.current) if p.current is not None else None,
                "current_note": p.current_note or None,
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
        rows, lines = _database_lines(plan, top)
        if rows:
            out += [markdown_table([h.lower() for h in HEADERS], rows), ""]
        # one list item per line; the sums' own indented lines nest under "price of the whole database"
        out += [("  - " if line.startswith("  ") else "- ") + md_escape(line) for line in lines]
    out += [md_escape(line) for line in estimate_notes([c for p in plans for c in shown(p, top)])]
    out += [md_escape(line) for line in _footnotes(plans, top)]
    out += ["", md_escape(price_note(plans, top))]
    return "\n".join(out)
