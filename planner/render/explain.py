"""``planner explain``: the arithmetic of a report written out, line by line."""

from __future__ import annotations

from planner.budget import BudgetReport, InstanceBudget, MaxConnections, PoolerBudget
from planner.budget.demand import counted_in
from planner.budget.grouping import acknowledged_summary, grouped
from planner.formula import substitute
from planner.model import RDS_ENGINES, SOURCE_ESTIMATED, SOURCE_PARAMETER, Topology
from planner.reserves import SOURCE_SET, parse_engine_version, version_note


def _max_connections_lines(instance: InstanceBudget, origin: str | None = None, written: bool = True) -> list[str]:
    mc = instance.max_connections
    lines = []
    if mc.source == SOURCE_PARAMETER:
        if origin:
            said = f"from {origin}"
        elif written or instance.engine in RDS_ENGINES:
            said = "set in the parameter group"
        else:  # a self-managed server that sets nothing runs with PostgreSQL's own default
            said = "PostgreSQL's default: nothing sets max_connections"
        lines.append(f"  max_connections = {mc.value}  ({said})")
        return lines
    if mc.memory is not None:
        tag = f" ({_range(mc) or 'ESTIMATE'})" if mc.source == SOURCE_ESTIMATED else ""
        if mc.memory.readings and mc.reading_range and mc.source != SOURCE_ESTIMATED:
            tag = f" (read {mc.memory.readings}: a real instance may read {mc.reading_range[0]}–{mc.reading_range[1]})"
        lines.append(
            f"  DBInstanceClassMemory of {instance.instance_class} on {instance.engine} = {mc.memory.dbicm_bytes:,} bytes"
            f" [{mc.source}{tag}: {mc.memory.note}]"
        )
    used = mc.memory.budget_bytes() if mc.memory else 0
    if mc.uses_low_end and mc.memory is not None:
        low, high = mc.memory.error_range or (0.0, 0.0)
        lines.append(f"  the estimate may be optimistic (its band reaches {high * 100:+.2f} %): the budget counts on the low end, "
                     f"DBInstanceClassMemory {mc.memory.dbicm_bytes:,} ÷ (1 + {high:g}) = {used:,} bytes")
    variables = {"DBInstanceClassMemory": used, "DBInstanceVCPU": mc.vcpu or 0}
    lines.append(f"  max_connections = {mc.formula}")
    if mc.memory is not None:
        lines.append(f"                  = {substitute(mc.formula, variables)}")
    estimate = f"  ({mc.estimate_text()})" if mc.source == SOURCE_ESTIMATED else ""
    if mc.uncapped is not None:
        lines.append(f"                  = {mc.uncapped}")
        lines.append(f"  max_connections = min({mc.uncapped}, {mc.value}) = {mc.value}{estimate}: {mc.cap_reason}")
        return lines
    lines.append(f"                  = {mc.value}{estimate}")
    return lines


def _range(mc: MaxConnections) -> str:
    """Return the band's error range as the explanation writes it."""
    if mc.memory is None or mc.memory.error_range is None:
        return ""
    low, high = mc.memory.error_range
    return f"leave-one-out error of comparable classes {low * 100:+.2f} % to {high * 100:+.2f} %"


def reserve_lines(instance: InstanceBudget) -> list[str]:
    """Return the reserve of an instance itemised: each parameter, who may use it, and ``usable``."""
    lines = []
    note = version_note(instance.engine, parse_engine_version(instance.engine_version)) if instance.engine_version else None
    if note:
        lines.append(f"  {note}")
    slots = " + ".join(f"{r.parameter} {r.value}" for r in instance.reserves)
    lines.append(f"  reserved = {slots} = {instance.reserved}" + ("  (estimate)" if instance.reserved_estimated else ""))
    for r in instance.reserves:
        origin = "set in the topology" if r.source == SOURCE_SET else "default"
        estimate = f"; ESTIMATE: {r.note}" if r.estimated else ""
        lines.append(f"    {r.parameter} {r.value} ({origin}{estimate}): for {r.holder}")
    m = instance.max_connections.value
    lines.append(f"  usable = max_connections {m} − reserved {instance.reserved} = {instance.usable}  (ordinary application roles)")
    if instance.engine in RDS_ENGINES and instance.master_usable != instance.usable:
        kept_values = [str(r.value) for r in instance.reserves if not r.master_user_may_use]
        kept = " + ".join(kept_values) if len(kept_values) == 1 else f"({' + '.join(kept_values)})"
        lines.append(f"    the master user (rds_superuser) may open {m} − {kept} = {instance.master_usable}: "
                     "do not count on it for applications")
    if instance.engine in RDS_ENGINES:
        lines.append("    RDS's own sessions (rdsadmin monitoring) hold a few ordinary slots too: keep them in the headroom")
    return lines


def explain_instance(instance: InstanceBudget, topology: Topology | None = None) -> list[str]:
    """Return the lines that derive one instance's budget and each scenario's demand.

    With ``topology``, a max_connections read from the deployment says where it came from.
    """
    header = f"{instance.database} / {instance.role} ({instance.engine}, {instance.instance_class or 'no class'})"
    lines = [header, "-" * len(header)]
    sourced = topology.provenance.get(f"databases.{instance.database}.parameters.max_connections") if topology else None
    database = topology.databases.get(instance.database) if topology else None
    written = database is None or "max_connections" in database.parameters
    lines += _max_connections_lines(instance, sourced.origin if sourced else None, written)
    lines += reserve_lines(instance)
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
            only = f" (counts in {counted_in(source.scenarios)})" if source.scenarios and source.counts_in(scenario) else ""
            lines.append(f"    {source.source}{via}{only}: {source.working[scenario]}")
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
    else:
        lines.append(f"  client capacity: {pooler.client_working}")
    for scenario, result in pooler.scenarios.items():
        parts = " + ".join(
            f"{c.source} {'unbounded' if c.unbounded_in(scenario) else c.demand[scenario]}"
            + ("" if c.counts_in(scenario) else f" (counts in {counted_in(c.scenarios or ())})") for c in pooler.clients
        ) or "no clients"
        demand = "unbounded" if result.demand is None else str(result.demand)
        why = ""
        if result.status != "ok":
            fate = "wait in Pgpool-II's queue" if pooler.client_overflow == "wait" else "are refused"
            why = f" (> client capacity {pooler.client_capacity}: the clients beyond it {fate})"
        lines.append(f"  {scenario}: clients {parts} = {demand} → {result.status.upper()}{why}")
    return lines


def provenance_lines(topology: Topology, entries: set[str] | None = None) -> list[str]:
    """Return where each value read from the deployment came from, entry by entry (none: no lines).

    ``entries`` limits the list to some entry paths ("databases.main", "services.web").
    """
    provenance = topology.provenance
    if not provenance:
        return []
    lines = ["read from the deployment:"]
    for entry, sourced in provenance.items():
        if entry.count(".") != 1 or (entries is not None and entry not in entries):
            continue
        lines.append(f"  {entry} ← {sourced.origin}")
        prefix = entry + "."
        lines += [f"    {path[len(prefix):]} {value.value} ← {value.origin}"
                  for path, value in provenance.items() if path.startswith(prefix)]
        lines += [f"    note: {note}" for note in topology.source_notes.get(entry, ())]
    return lines + [""] if len(lines) > 1 else []


def _entries_of(report: BudgetReport, database: str) -> set[str]:
    """Return the entry paths whose values reach ``database``: itself, its clients, its poolers."""
    entries = {f"databases.{database}"}
    for instance in report.instances:
        if instance.database == database:
            entries |= {f"services.{s.service}" for s in instance.demand_by_source if s.service}
            entries |= {f"poolers.{s.source}" for s in instance.demand_by_source if s.kind == "pooler"}
    return entries


def render_explain(report: BudgetReport, database: str | None = None) -> str:
    """Return the whole explanation, optionally for one database only."""
    lines: list[str] = [f"{report.topology.name} ({report.topology.path})", ""]
    lines += provenance_lines(report.topology, None if database is None else _entries_of(report, database))
    for instance in report.instances:
        if database is None or instance.database == database:
            lines += explain_instance(instance, report.topology) + [""]
    for pooler in report.poolers:
        if database is None or pooler.database == database:
            lines += explain_pooler(pooler) + [""]
    if report.warnings:
        lines += ["warnings:"] + [f"  - {w}" for w in grouped(report.warnings)]
    acknowledged = acknowledged_summary(report.acknowledged)
    if acknowledged:
        lines.append(acknowledged)
    return "\n".join(lines).rstrip() + "\n"
