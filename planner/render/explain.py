"""``planner explain``: the arithmetic of a report written out, line by line."""

from __future__ import annotations

from ..budget import BudgetReport, InstanceBudget, PoolerBudget
from ..formula import substitute
from ..model import SOURCE_ESTIMATED, SOURCE_PARAMETER


def _max_connections_lines(instance: InstanceBudget) -> list[str]:
    mc = instance.max_connections
    lines = []
    if mc.source == SOURCE_PARAMETER:
        lines.append(f"  max_connections = {mc.value}  (set in the parameter group)")
        return lines
    if mc.memory is not None:
        tag = " (ESTIMATE)" if mc.source == SOURCE_ESTIMATED else ""
        lines.append(
            f"  DBInstanceClassMemory of {instance.instance_class} on {instance.engine} = {mc.memory.dbicm_bytes:,} bytes"
            f" [{mc.source}{tag}: {mc.memory.note}]"
        )
    variables = {"DBInstanceClassMemory": mc.memory.dbicm_bytes if mc.memory else 0, "DBInstanceVCPU": mc.vcpu or 0}
    lines.append(f"  max_connections = {mc.formula}")
    if mc.memory is not None:
        lines.append(f"                  = {substitute(mc.formula, variables)}")
    lines.append(f"                  = {mc.value}" + ("  (estimate)" if mc.source == SOURCE_ESTIMATED else ""))
    return lines


def explain_instance(instance: InstanceBudget) -> list[str]:
    """Return the lines that derive one instance's budget and each scenario's demand."""
    header = f"{instance.database} / {instance.role} ({instance.engine}, {instance.instance_class or 'no class'})"
    lines = [header, "-" * len(header)]
    lines += _max_connections_lines(instance)
    slots = " + ".join(f"{name} {value}" for name, value in instance.reserved_slots)
    lines.append(f"  reserved = {slots} = {instance.reserved}")
    lines.append(f"  usable = max_connections {instance.max_connections.value} − reserved {instance.reserved} = {instance.usable}")
    headroom = float(instance.headroom) * 100
    lines.append(
        f"  alarm_at = floor({instance.max_connections.value} × (1 − {headroom:g}%)) = {instance.alarm_at}"
    )
    if instance.role.startswith("reader") and instance.readers > 1:
        lines.append(f"  reader-endpoint demand is spread over {instance.readers} readers: each carries ceil(total ÷ {instance.readers})")
    for scenario, result in instance.scenarios.items():
        lines.append("")
        lines.append(f"  {scenario}:")
        for source in instance.demand_by_source:
            via = f" (via {source.via})" if source.via else ""
            lines.append(f"    {source.source}{via}: {source.working[scenario]}")
        demand = "unbounded" if result.demand is None else str(result.demand)
        compare = _comparison(result.demand, instance)
        lines.append(f"    demand = {demand} → {compare} → {result.status.upper()}")
    return lines


def _comparison(demand: int | None, instance: InstanceBudget) -> str:
    if demand is None:
        return "an unbounded pool has no limit"
    if demand > instance.usable:
        return f"{demand} > usable {instance.usable}"
    if demand > instance.alarm_at:
        return f"{demand} ≤ usable {instance.usable} but > alarm_at {instance.alarm_at}"
    return f"{demand} ≤ alarm_at {instance.alarm_at}"


def explain_pooler(pooler: PoolerBudget) -> list[str]:
    """Return the lines that derive a pooler's server pool and its client side."""
    header = f"pooler {pooler.pooler} ({pooler.kind} → {pooler.database})"
    lines = [header, "-" * len(header), f"  server connections = {pooler.server_working}"]
    if pooler.client_capacity is not None:
        lines.append(f"  client capacity = {pooler.client_working}")
    for scenario, result in pooler.scenarios.items():
        parts = " + ".join(
            f"{c.source} {'unbounded' if c.unbounded else c.demand[scenario]}" for c in pooler.clients
        ) or "no clients"
        demand = "unbounded" if result.demand is None else str(result.demand)
        lines.append(f"  {scenario}: clients {parts} = {demand} → {result.status.upper()}")
    return lines


def render_explain(report: BudgetReport, database: str | None = None) -> str:
    """Return the whole explanation, optionally for one database only."""
    lines: list[str] = [f"{report.topology.name} ({report.topology.path})", ""]
    for instance in report.instances:
        if database is None or instance.database == database:
            lines += explain_instance(instance) + [""]
    for pooler in report.poolers:
        if database is None or pooler.database == database:
            lines += explain_pooler(pooler) + [""]
    if report.warnings:
        lines += ["warnings:"] + [f"  - {w}" for w in report.warnings]
    return "\n".join(lines).rstrip() + "\n"
