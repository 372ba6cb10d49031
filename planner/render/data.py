"""The JSON contract of spec §5, built once and shared by every renderer that needs plain data."""

from __future__ import annotations

from typing import Any

import planner  # planner.__version__ is read on use: the metadata lookup costs every start-up
from planner.budget import BudgetReport, Finding, InstanceBudget, PoolerBudget, SourceDemand
from planner.budget.grouping import grouped
from planner.model import SOURCE_ESTIMATED
from planner.reserves import Reserve


def source_dict(source: SourceDemand, scenarios: tuple[str, ...]) -> dict[str, Any]:
    """Return one ``demand_by_source`` entry: the source, its kind and its demand per scenario."""
    entry: dict[str, Any] = {"source": source.source, "kind": source.kind}
    for scenario in scenarios:
        entry[scenario] = source.value(scenario)
    if source.unbounded:
        entry["unbounded"] = True
    if source.via:
        entry["via"] = source.via
    entry["endpoint"] = source.endpoint
    if source.scenarios is not None:
        entry["scenarios"] = list(source.scenarios)  # it counts only there: 0 in the others
    return entry


def reserve_dicts(reserves: "tuple[Reserve, ...]") -> list[dict[str, Any]]:
    """Return the ``reserved_detail`` entries: each reserve, who may use it, and whether it is estimated."""
    return [
        {
            "parameter": r.parameter,
            "value": r.value,
            "source": r.source,
            "holder": r.holder,
            "master_user_may_use": r.master_user_may_use,
            "estimated": r.estimated,
            **({"note": r.note} if r.note else {}),
        }
        for r in reserves
    ]


def instance_dict(instance: InstanceBudget) -> dict[str, Any]:
    """Return one entry of ``instances`` (spec §5), with a few documented extra keys."""
    mc = instance.max_connections
    return {
        "database": instance.database,
        "role": instance.role,
        "engine": instance.engine,
        "engine_version": instance.engine_version,
        "instance_class": instance.instance_class,
        "max_connections": mc.value,
        "reserved": instance.reserved,
        "usable": instance.usable,
        "alarm_at": instance.alarm_at,
        "max_connections_source": mc.source,
        "estimated": mc.source == SOURCE_ESTIMATED,
        "max_connections_range": list(mc.reading_range) if mc.reading_range else None,
        "max_connections_estimate": mc.point if mc.uses_low_end else None,
        "max_connections_formula": mc.formula,
        "dbinstanceclassmemory_bytes": mc.memory.dbicm_bytes if mc.memory else None,
        "reserved_slots": dict(instance.reserved_slots),
        "reserved_detail": reserve_dicts(instance.reserves),
        "reserved_estimated": instance.reserved_estimated,
        "master_user_usable": instance.master_usable,
        "headroom": float(instance.headroom),
        "status": instance.status,
        "scenarios": {
            name: {"demand": result.demand, "status": result.status, "unbounded": result.demand is None}
            for name, result in instance.scenarios.items()
        },
        "demand_by_source": [source_dict(s, tuple(instance.scenarios)) for s in instance.demand_by_source],
    }


def pooler_dict(pooler: PoolerBudget) -> dict[str, Any]:
    """Return one entry of ``poolers`` (spec §5)."""
    return {
        "pooler": pooler.pooler,
        "kind": pooler.kind,
        "database": pooler.database,
        "server_connections": pooler.server_connections,
        "client_capacity": pooler.client_capacity,
        "client_overflow": pooler.client_overflow,
        "status": pooler.status,
        "scenarios": {
            name: {"client_demand": result.demand, "status": result.status, "unbounded": result.demand is None}
            for name, result in pooler.scenarios.items()
        },
        "clients": [source_dict(s, tuple(pooler.scenarios)) for s in pooler.clients],
    }


def warnings_json(findings: tuple[Finding, ...]) -> tuple[list[str], list[dict[str, Any]]]:
    """Return the ``warnings`` strings (one per cause, :func:`grouped`) and the ``warning_details``: one
    per finding, where it points, its code and message, the index of its line in ``warnings``
    (``group``) and, for a lint that may fire for many services, its ``subject`` and own ``detail``."""
    lines: list[str] = []
    details: list[dict[str, Any]] = []
    for group in grouped(findings):
        for finding in group.findings:
            entry: dict[str, Any] = {"code": finding.code, "key_path": finding.key_path, "line": finding.line,
                                     "message": finding.message, "group": len(lines)}
            if finding.subject is not None:
                entry |= {"subject": finding.subject, "detail": finding.detail}
            details.append(entry)
        lines.append(str(group))
    return lines, details


def report_dict(report: BudgetReport) -> dict[str, Any]:
    """Return the whole ``check --format json`` document."""
    warnings, warning_details = warnings_json(report.warnings)
    return {
        "topology": report.topology.name,
        "file": report.topology.path,
        "status": report.status,
        "scenarios": list(report.scenarios),
        "instances": [instance_dict(i) for i in report.instances],
        "poolers": [pooler_dict(p) for p in report.poolers],
        "warnings": warnings,
        "warning_details": warning_details,
        "acknowledged_warnings": [
            {"code": f.code, "key_path": f.key_path, "line": f.line, "message": f.message, "reason": reason}
            for f, reason in report.acknowledged
        ],
        "planner_version": planner.__version__,
    } | provenance_dict(report)


def provenance_dict(report: BudgetReport) -> dict[str, Any]:
    """Return ``{"provenance": {key path: {value, from}}}`` for a topology that reads its deployment, else {}."""
    provenance = report.topology.provenance
    if not provenance:
        return {}
    return {"provenance": {path: {"value": s.value, "from": s.origin} for path, s in provenance.items()}}
