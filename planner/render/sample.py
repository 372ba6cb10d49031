"""``planner inspect --sample`` output: held vs used per group and per planned source, leaks, advice as SQL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from planner.live.inspect import format_duration, quote_ident
from planner.live.sample import format_interval
from planner.render.inspect import termination_text
from planner.render.table import text_table

if TYPE_CHECKING:
    from planner.live.inspect import Advice
    from planner.live.sample import Samples
    from planner.live.usage import Leak, PlannedUse, Usage

BY_LABELS = {"application_name": "APPLICATION_NAME", "user": "USER", "client": "CLIENT"}
IN_USE = "in use = active + idle in transaction (either way the pool has handed the connection out)"


@dataclass(frozen=True)
class SampleReport:
    """Everything ``inspect --sample`` says about a window."""

    samples: "Samples"
    totals: dict[str, Any]
    tables: Sequence[tuple[tuple[str, ...], Sequence["Usage"]]]  # (grouping, usage of each group)
    leaks: Sequence["Leak"]
    advice: Sequence["Advice"]
    plan: Sequence["PlannedUse"] | None = None  # with --topology
    plan_label: str = ""  # main/writer of shop.yaml
    unknown: Sequence["Usage"] = ()
    terminated: dict[int, bool | str] | None = None


def _version(num: int) -> str:
    if not num:
        return "PostgreSQL ?"
    return f"PostgreSQL {num // 10000}.{num % 100}" if num >= 100000 else f"PostgreSQL {num // 10000}.{num // 100 % 100}.{num % 100}"


def _label(value: str, key: str) -> str:
    if value:
        return value
    return {"client": "(hidden)", "application_name": "(none)"}.get(key, "(none)")


def _triple(*values: float) -> str:
    return "/".join(f"{v:g}" for v in values)


def window_line(samples: "Samples") -> str:
    """Return how the window was sampled, in one line."""
    started = "" if samples.started is None else f", from {samples.started.isoformat(timespec='seconds').replace('+00:00', 'Z')}"
    taken = f"{samples.taken:,} samples every {format_interval(samples.window.every)} over {format_duration(samples.seconds)}"
    return (f"sampled: {taken}{started}, in one read-only session (pid {samples.self_pid}, role {samples.user or '?'}, "
            "one query per sample; this session left out)")  # fmt: skip


def render_text(report: SampleReport) -> str:
    """Return the readable report of a sampled window."""
    s = report.samples
    lines = [f"pg_stat_activity at {s.where}: {_version(s.version_num)}, max_connections {s.max_connections or '?'}"]
    stop = s.stop_sentence()
    if stop is not None:
        lines.append(f"PARTIAL: {stop}")
    lines.append(window_line(s))
    if s.missed:
        lines.append(f"  missed {s.missed} of {s.window.count:,} samples: {s.reason}")
    if not s.taken:
        return "\n".join(lines + ["no sample was taken"])
    t = report.totals
    lines += [IN_USE, "",
              f"client sessions: held {t['held_min']} to {t['held_max']} (median {t['held_median']:g}), in use at most "
              f"{t['busy_max']} at once (median {t['busy_median']:g}, p95 {t['busy_p95']})"]  # fmt: skip
    for by, usage in report.tables:
        heads = [BY_LABELS[k] for k in by]
        lines += ["", f"held vs used, by {' and '.join(k.replace('_', ' ') for k in by)}"]
        rows = [[*(_label(v, k) for v, k in zip(u.key, by)), *([] if by == ("client",) else [u.clients]),
                 _triple(u.held_min, u.held_median, u.held_max), _triple(u.active_median, u.active_p95, u.active_max),
                 f"{u.idle_median:g}", _triple(u.idle_in_transaction_median, u.idle_in_transaction_max),
                 format_duration(u.longest_idle_in_transaction) if u.longest_idle_in_transaction else "-"]
                for u in usage]  # fmt: skip
        heads += [*([] if by == ("client",) else ["CLIENTS"]), "HELD MIN/MED/MAX", "ACTIVE MED/P95/MAX", "IDLE MED",
                  "IN TX MED/MAX", "LONGEST IN TX"]  # fmt: skip
        lines.append(text_table(heads, rows, "  "))
    if t["hidden_max"]:
        lines += ["", f"hidden: up to {t['hidden_max']} sessions of other roles in one sample: role {s.user} may not see their state "
                  "or client, so whether they were in use is unknown (counted as held only); "
                  f"GRANT pg_read_all_stats TO {quote_ident(s.user)}; (or pg_monitor, which includes it) shows them"]  # fmt: skip
    if report.plan is not None:
        window = format_duration(s.seconds)
        lines += ["", f"plan vs use ({report.plan_label})"]
        lines += [f"  {p.sentence(window)}" for p in report.plan]
        unknown = ", ".join(f"{_label(u.key[0], 'application_name')} (held up to {u.held_max})" for u in report.unknown)
        lines.append(f"  unknown clients: {unknown or '-'}")
    lines += ["", f"leaks: {'none seen' if not report.leaks else len(report.leaks)}"]
    if not report.leaks:
        lines[-1] += (f" (no session idle in a transaction past {format_duration(s.idle_after)}; no group whose held connections "
                      "rose while its use did not)")  # fmt: skip
    lines += [f"  - {leak.text}" for leak in report.leaks]
    if report.advice:
        lines += ["", "advice (SQL printed, not run)" if report.terminated is None else "advice"]
        for item in report.advice:
            lines += [f"  -- {item.reason}", f"  {item.sql}"]
    if report.terminated is not None:
        done = [f"pid {pid} {termination_text(ok)}" for pid, ok in report.terminated.items()]
        lines += ["", f"terminated: {', '.join(done) or 'nothing to terminate'}"]
    elif any(a.kind == "terminate" for a in report.advice):
        lines.append("  (planner inspect --sample ... --terminate runs the pg_terminate_backend statements, after asking)")
    return "\n".join(lines)


def render_dict(report: SampleReport) -> dict[str, Any]:
    """Return the ``inspect --sample --format json`` document."""
    from planner.live.sample import samples_document

    s = report.samples
    head = samples_document(s)
    return {
        "server": head["server"], "window": {**head["window"], "seconds": s.seconds, "partial": s.partial},
        "idle_after_seconds": s.idle_after, "in_use": IN_USE, "totals": report.totals,
        "groups": {"_".join(by): [u.as_dict(by) for u in usage] for by, usage in report.tables},
        "plan": None if report.plan is None else {
            "instance": report.plan_label,
            "sources": [{"source": p.row.key, "kind": p.row.kind, "declared": p.declared, "planned": dict(p.row.planned),
                         "application_names": list(p.names), "held_median": p.held_median, "held_max": p.held_max,
                         "active_median": p.active_median, "active_p95": p.active_p95, "active_max": p.active_max,
                         "busy_p99": p.busy_p99} for p in report.plan],
            "unknown_clients": {u.key[0] or "(none)": u.held_max for u in report.unknown},
        },
        "leaks": [{"kind": leak.kind, "application_name": leak.application_name, "user": leak.user, "text": leak.text,
                   "pids": list(leak.pids), **(leak.details or {})} for leak in report.leaks],
        "advice": [{"kind": a.kind, "pid": a.pid, "sql": a.sql, "reason": a.reason} for a in report.advice],
        "terminated": None if report.terminated is None else {str(pid): ok for pid, ok in report.terminated.items()},
    }  # fmt: skip


__all__ = ["SampleReport", "render_dict", "render_text", "window_line"]
