"""``planner verify`` output: the plan, the server, each source's connections, the refusal against the prediction."""

from __future__ import annotations

import json
from typing import Any

from planner.adapters.server import classify_refusal, full_server_explanation
from planner.live.verify import VerifyReport, locate_prediction
from planner.render.table import text_table


def _prediction_text(report: VerifyReport) -> str:
    s, o = report.settings, report.outcome
    capacity = max(0, s.max_connections - report.role_reserved - o.others_before)
    head = f"{report.role} may hold {s.max_connections - report.role_reserved} (max_connections {s.max_connections} − reserved {report.role_reserved})"
    if o.others_before:
        head += f" − {o.others_before} already connected = {capacity}"
    predicted = report.predicted
    if predicted is None:
        return f"{head}; demand {report.plan.total} fits: none refused"
    where = locate_prediction(report)
    at = f" ({where[0]} #{where[1]})" if where else ""
    return f"{head}; demand {report.plan.total}: connection #{predicted}{at} refused"


def report_dict(report: VerifyReport) -> dict[str, Any]:
    """Return the ``verify --format json`` document."""
    plan, o, s = report.plan, report.outcome, report.settings
    instance = plan.instance
    result = instance.scenarios.get(plan.scenario)
    refused_at = {o.refused.source: o.refused.source_ordinal} if o.refused else {}
    return {
        "topology": plan.topology.name,
        "file": plan.topology.path,
        "database": instance.database,
        "role": instance.role,
        "scenario": plan.scenario,
        "target": report.target,
        "server": {
            "where": report.where, "version": s.server_version, "max_connections": s.max_connections,
            "reserved_slots": dict(s.reserved_slots), "usable": s.usable, "data_directory": report.data_directory,
            "binaries": None if report.binaries is None else report.binaries.as_dict(),
        },
        "plan": {
            "instance_class": instance.instance_class, "max_connections": instance.max_connections.value,
            "reserved": instance.reserved, "usable": instance.usable,
            "demand": result.demand if result else None, "status": result.status if result else None,
        },
        "scale": plan.scale,
        "connect_as": report.role,
        "role_reserved": report.role_reserved,
        "already_connected": o.others_before,
        "others_after": o.others_after,
        "sources": [
            {"source": p.source, "kind": p.kind, "planned": p.planned, "to_open": p.count, "opened": o.opened.get(p.source, 0),
             "refused_at": refused_at.get(p.source)}
            for p in plan.sources
        ],
        "total": plan.total,
        "refused": None if o.refused is None else {
            "ordinal": o.refused.ordinal, "source": o.refused.source, "source_ordinal": o.refused.source_ordinal, "message": o.refused.message,
            "sqlstate": o.refused.sqlstate, "kind": classify_refusal(o.refused.message).key, "meaning": o.refused.meaning,
        },
        "predicted_refused_ordinal": report.predicted,
        "prediction": _prediction_text(report),
        "result": "pass" if report.passed else "fail",
        "notes": list(report.notes),
    }


def render_json(report: VerifyReport) -> str:
    return json.dumps(report_dict(report), indent=2)


def render_text(report: VerifyReport) -> str:
    """Return the readable report: the plan, the server, each source, the refusal, the verdict."""
    plan, o, s = report.plan, report.outcome, report.settings
    instance = plan.instance
    result = instance.scenarios.get(plan.scenario)
    reserved = ", ".join(f"{n} {v}" for n, v in s.reserved_slots)
    lines = [
        f"verify {plan.topology.name} ({plan.topology.path}): {instance.name}, scenario {plan.scenario}",
        f"plan: {instance.instance_class or instance.engine}, max_connections {instance.max_connections.value}, reserved {instance.reserved}, "
        f"usable {instance.usable}; demand {result.demand if result else '-'} ({(result.status if result else '-').upper()})",
        f"server: {report.where}; max_connections {s.max_connections}, {reserved}",
    ]
    if report.binaries is not None:
        lines.append(f"  {binaries_text(report)}")
    lines += [f"  {note}" for note in report.notes]
    lines.append(f"connecting as {report.role} (not a superuser); {o.others_before} other sessions connected before the run")
    lines.append("")
    rows: list[list[object]] = []
    for p in plan.sources:
        opened = o.opened.get(p.source, 0)
        if o.refused and o.refused.source == p.source:
            what = f"refused at its #{o.refused.source_ordinal}"
        elif opened == p.count:
            what = "all open"
        else:
            what = "not attempted" if opened == 0 else f"{opened} of {p.count}"
        rows.append([p.source, "unbounded" if p.planned is None else p.planned, p.count, opened, what])
    headers = ["SOURCE", "PLANNED", "OPENED"] if plan.scale == 1 else ["SOURCE", "PLANNED", f"SCALED ÷{plan.scale}", "OPENED"]
    if plan.scale == 1:
        rows = [[r[0], r[1], r[3], r[4]] for r in rows]
    lines.append(text_table(headers + ["RESULT"], rows))
    lines.append("")
    if o.refused:
        lines.append(f"refused: connection #{o.refused.ordinal} ({o.refused.source} #{o.refused.source_ordinal}): {o.refused.message}")
        lines.append(f"  {full_server_explanation(o.refused.message)}")
    else:
        lines.append(f"refused: none ({sum(o.opened.values())} connections opened)")
    if o.refused and o.refused.ordinal < plan.total:
        lines.append(f"  (stopped at the first refusal: {plan.total - o.refused.ordinal} more of the scenario not attempted)")
    lines.append(f"predicted: {_prediction_text(report)}")
    predicted = report.predicted
    if report.passed:
        what = f"refused exactly connection #{predicted}" if predicted else "refused none"
        lines.append(f"PASS: the server {what}, as the plan predicts")
    else:
        got = f"#{o.refused.ordinal}" if o.refused else "none"
        want = f"#{predicted}" if predicted else "none"
        lines.append(f"FAIL: the server refused {got}; the plan predicts {want}")
        if o.others_after is not None and o.others_after != o.others_before:
            lines.append(f"  other sessions changed during the run: {o.others_before} before, {o.others_after} at the end")
    return "\n".join(lines)


def binaries_text(report: VerifyReport) -> str:
    """Return which server binaries ran and why those, for the text report."""
    b = report.binaries
    assert b is not None
    version = report.plan.instance.engine_version
    # chosen by version unless $PLANNER_PG_BINDIR chose (then the source says so)
    why = f", the closest here to engine_version {version}" if version and b.origin != "env" else ""
    return f"binaries: PostgreSQL {b.version}, {b.source} ({b.bindir}){why}"


__all__ = ["binaries_text", "render_json", "render_text", "report_dict"]
