"""``planner inspect`` output: the live budget, who holds the slots, stale sessions, plan vs actual, PgBouncer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from planner.adapters.server import reserve_holder
from planner.live.inspect import (
    bouncer_capacity,
    format_duration,
    groupings,
    live_budget,
    oldest_transaction,
    stale_idle_sessions,
    terminable,
)
from planner.model import SCENARIOS
from planner.render.table import text_table

if TYPE_CHECKING:
    from planner.adapters.pgbouncer import BouncerState
    from planner.adapters.server import Snapshot
    from planner.live.inspect import Advice, PlanComparison


def _session_dict(s: Any) -> dict[str, Any]:
    return {
        "pid": s.pid, "application_name": s.application_name, "user": s.user, "database": s.database, "client": s.client,
        "state": s.state, "superuser": s.superuser, "state_seconds": _round(s.state_seconds), "transaction_seconds": _round(s.xact_seconds),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def inspect_dict(
    snapshot: "Snapshot", idle_after: float, comparison: "PlanComparison | None", advice: "list[Advice]", terminated: dict[int, bool | str] | None
) -> dict[str, Any]:
    """Return the ``inspect --format json`` document for one server."""

    budget = live_budget(snapshot)
    s = snapshot.settings
    oldest = oldest_transaction(snapshot)
    you = snapshot.allowance()
    return {
        "server": {"where": snapshot.where, "version": s.server_version, "version_num": s.version_num, "user": snapshot.user,
                   "superuser": snapshot.superuser, "rds_superuser": snapshot.rds_superuser,
                   "pg_use_reserved_connections": snapshot.use_reserved, "pid": snapshot.self_pid, "read_only": True},
        "budget": {
            "max_connections": s.max_connections,
            "superuser_reserved_connections": s.superuser_reserved_connections,
            "rds.rds_reserved_connections": s.rds_reserved_connections,
            "rds.rds_superuser_reserved_connections": s.rds_superuser_reserved_connections,
            "reserved_connections": s.reserved_connections,
            # every reserve the server has, in planner's order, with who may open its slots
            "reserved_detail": [
                {"parameter": name, "value": value, "who": reserve_holder(name), "you_may_use": name in you.may_use}
                for name, value in s.reserved_slots
            ],
            "reserved": s.reserved, "usable": s.usable, "in_use": budget.in_use,
            "in_use_superuser": budget.in_use_superuser, "in_use_ordinary": budget.in_use - budget.in_use_superuser,
            "free": budget.free, "percent_used": budget.percent_used,
            "idle_in_transaction_session_timeout_ms": s.idle_in_transaction_session_timeout_ms,
        },
        "you": {
            "role": you.role, "superuser": you.superuser, "rds_superuser": you.rds_superuser,
            "pg_use_reserved_connections": you.use_reserved, "may_use": list(you.may_use),
            "must_leave_free": you.must_leave_free, "may_hold": you.may_hold, "free_now": you.free_now, "why": you.why,
        },
        "sessions": groupings(snapshot),
        "hidden_sessions": sum(1 for x in snapshot.clients if x.hidden),
        "idle_after_seconds": idle_after,
        "idle_in_transaction": [
            {**_session_dict(x), "terminable": terminable(x, snapshot.self_pid)} for x in stale_idle_sessions(snapshot, idle_after)
        ],
        "oldest_transaction": None if oldest is None else _session_dict(oldest),
        "plan": None if comparison is None else {
            "database": comparison.database, "role": comparison.role, "max_connections": comparison.max_connections,
            "usable": comparison.usable,
            "sources": [{"source": r.source, "kind": r.kind, **dict(r.planned), "actual": r.actual, "above_plan": r.above} for r in comparison.rows],
            "above_plan": [r.source for r in comparison.above],
            "unknown_clients": dict(comparison.unknown),
        },
        "advice": [{"kind": a.kind, "pid": a.pid, "sql": a.sql, "reason": a.reason} for a in advice],
        "terminated": None if terminated is None else {str(pid): ok for pid, ok in terminated.items()},
    }


def _counts_line(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in counts.items()) or "-"


def inspect_text(
    snapshot: "Snapshot", idle_after: float, comparison: "PlanComparison | None", advice: "list[Advice]", terminated: dict[int, bool | str] | None
) -> str:
    """Return the readable ``inspect`` report for one server."""

    s, budget, groups = snapshot.settings, live_budget(snapshot), groupings(snapshot)
    role = "superuser" if snapshot.superuser else "ordinary role"
    lines = [f"PostgreSQL {s.server_version} at {snapshot.where} (this session: pid {snapshot.self_pid}, {role}, read-only)", "", "budget"]
    rows: list[list[object]] = [["max_connections", s.max_connections]]
    # each reserve with who may open its slots (a value column 5 wide keeps the words in one column)
    rows += [[name, f"{value:<5} {reserve_holder(name)}"] for name, value in s.reserved_slots]
    ordinary = budget.in_use - budget.in_use_superuser
    rows += [
        ["usable by ordinary roles", s.usable],
        ["in use", f"{budget.in_use}  ({budget.percent_used}% of usable: {ordinary} ordinary, {budget.in_use_superuser} superuser; this session included)"],
        ["free for ordinary roles", budget.free],
    ]
    lines += [f"  {name:<40} {value}" for name, value in rows]
    you = snapshot.allowance()
    lines.append(f"  you (role {you.role}) may open {you.may_hold} in all, {you.free_now} more now: {you.why}")
    lines += ["", "who holds the slots (client sessions)", text_table(["APPLICATION_NAME", "SESSIONS"], list(groups["application_name"].items()), "  ")]
    for key in ("user", "database", "client", "state"):
        lines.append(f"  by {key}: {_counts_line(groups[key])}")
    lines.append(f"  every backend by type: {_counts_line(groups['backend_type'])}")
    hidden = sum(1 for x in snapshot.clients if x.hidden)
    if hidden:
        lines.append(f"  {hidden} sessions of other roles are hidden from {snapshot.user}: GRANT pg_read_all_stats TO {snapshot.user} to see their state")
    stale = stale_idle_sessions(snapshot, idle_after)
    lines += ["", f"idle in transaction for more than {format_duration(idle_after)}: {len(stale) or 'none'}"]
    if stale:
        table = [[x.pid, x.application_name or "(none)", x.user, x.database, x.client, format_duration(x.state_seconds), format_duration(x.xact_seconds)] for x in stale]
        lines.append(text_table(["PID", "APPLICATION", "USER", "DATABASE", "CLIENT", "IDLE", "TRANSACTION"], table, "  "))
    oldest = oldest_transaction(snapshot)
    if oldest is not None:
        lines.append(
            f"oldest transaction: pid {oldest.pid} ({oldest.application_name or 'no application_name'}, user {oldest.user}), "
            f"open {format_duration(oldest.xact_seconds)}, {oldest.state or 'state hidden'}"
        )
    if comparison is not None:
        lines += ["", f"plan vs actual ({comparison.database}/{comparison.role}: planned max_connections {comparison.max_connections}, "
                  f"usable {comparison.usable}; this server: {s.max_connections}, usable {s.usable})"]
        table = [[r.source, *[("unbounded" if r.planned[x] is None else r.planned[x]) for x in SCENARIOS if x in r.planned], r.actual,
                  "ABOVE PLAN" if r.above else "ok"] for r in comparison.rows]
        lines.append(text_table(["SOURCE", *[x.upper() for x in SCENARIOS], "ACTUAL", "STATUS"], table, "  "))
        lines.append(f"  unknown clients: {_counts_line(dict(comparison.unknown))}")
    if advice:
        lines += ["", "advice (SQL printed, not run)" if terminated is None else "advice"]
        for item in advice:
            lines += [f"  -- {item.reason}", f"  {item.sql}"]
    if terminated is not None:
        done = [f"pid {pid} {termination_text(ok)}" for pid, ok in terminated.items()]
        lines += ["", f"terminated: {', '.join(done) or 'nothing to terminate'}"]
    elif any(a.kind == "terminate" for a in advice):
        lines.append("  (planner inspect --terminate runs the pg_terminate_backend statements, after asking)")
    return "\n".join(lines)


def termination_text(outcome: bool | str) -> str:
    """Return what one pg_terminate_backend did: ended, left alone (no longer idle), or the server's refusal."""
    if isinstance(outcome, str):
        return f"not ended ({outcome})"
    return "ended" if outcome else "no longer idle (left alone)"


def bouncer_dict(state: "BouncerState", budget: dict[str, Any] | None) -> dict[str, Any]:
    """Return the ``pgbouncer`` part of the ``inspect --format json`` document."""
    servers = sum(p.servers for p in state.pools)
    keys = ("pool_mode", "max_client_conn", "default_pool_size", "reserve_pool_size", "max_db_connections", "max_user_connections")
    return {
        "where": state.where, "version": state.version,
        "pools": [
            {"database": p.database, "user": p.user, "cl_active": p.cl_active, "cl_waiting": p.cl_waiting, "sv_active": p.sv_active,
             "sv_idle": p.sv_idle, "sv_used": p.sv_used, "sv_tested": p.sv_tested, "sv_login": p.sv_login, "servers": p.servers,
             "maxwait_seconds": p.maxwait_seconds, "pool_mode": p.pool_mode}
            for p in state.pools
        ],
        "databases": [{k: v for k, v in db.items()} for db in state.databases],
        "config": {k: state.config.get(k) for k in keys},
        "clients_active": sum(p.cl_active for p in state.pools),
        "clients_waiting": sum(p.cl_waiting for p in state.pools),
        "server_connections": servers,
        "server_capacity": bouncer_capacity(state),
        "budget": budget,
    }


def bouncer_text(state: "BouncerState", budget: dict[str, Any] | None) -> str:
    """Return the readable PgBouncer report: pools, server connections against the budget."""

    doc = bouncer_dict(state, budget)
    lines = [f"{state.version} at {state.where}"]
    rows = [[p["database"], p["user"], p["cl_active"], p["cl_waiting"], p["sv_active"], p["sv_idle"], p["sv_used"] + p["sv_tested"] + p["sv_login"],
             p["servers"], f"{p['maxwait_seconds']:g}s", p["pool_mode"]] for p in doc["pools"]]
    lines.append(text_table(["DATABASE", "USER", "CL_ACTIVE", "CL_WAITING", "SV_ACTIVE", "SV_IDLE", "SV_OTHER", "SERVERS", "MAXWAIT", "MODE"], rows, "  "))
    lines.append(f"clients: {doc['clients_active']} active, {doc['clients_waiting']} waiting for a server connection")
    lines.append(f"server connections: {doc['server_connections']} now, at most {doc['server_capacity']} (pools × (pool_size + reserve_pool), capped by max_db_connections)")
    if budget is not None:
        share = f"{doc['server_connections']} of usable {budget['usable']} ({budget['source']}: {budget['where']})"
        lines.append(f"against the budget: {share}")
        if doc["server_capacity"] > budget["usable"]:
            lines.append(f"  warning: PgBouncer alone may open {doc['server_capacity']} server connections, more than the {budget['usable']} usable")
    return "\n".join(lines)


__all__ = ["bouncer_dict", "bouncer_text", "inspect_dict", "inspect_text", "termination_text"]
