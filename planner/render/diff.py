"""``planner diff`` output: readable tables, a pull-request comment, or JSON.

Every renderer reads a :class:`~planner.review.diff.BudgetDiff`; none computes a number. Numbers that
changed are written ``before → after``, unchanged ones once; ``-`` marks a side where the thing
does not exist. The Markdown escapes everything the topology's author wrote (names, paths,
warnings) with :func:`~planner.render.table.md_escape`.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import planner  # planner.__version__ is read on use: the metadata lookup costs every start-up
from planner.budget import BudgetReport, Finding, InstanceBudget
from planner.budget.demand import counted_in
from planner.budget.grouping import grouped
from planner.render.data import warnings_json
from planner.review.diff import ADDED, CHANGED, REMOVED, UNCHANGED, BudgetDiff, Delta, InstanceChange, PoolerChange, SourceChange
from planner.model import SOURCE_ESTIMATED
from planner.render.check import ESTIMATE_NOTE, STATUS_MARK
from planner.render.table import markdown_table, md_escape, text_table

NO_CHANGE = "no change in connection demand"
# Lets a bot (or a person) find the comment this command wrote among a pull request's comments.
COMMENT_MARKER = "<!-- planner diff -->"

Escape = Callable[[str], str]
StatusFormat = Callable[[str | None], str]


# --------------------------------------------------------------------------- cells


def _num(value: int | None, unbounded: bool = False) -> str:
    """Write a count with thousands separators; ``-`` where absent."""
    if unbounded:
        return "unbounded"
    return "-" if value is None else f"{value:,}"


def _pair(before: str, after: str) -> str:
    """Write ``before → after``, or the value once when it did not change."""
    return after if before == after else f"{before} → {after}"


def _values(d: Delta) -> str:
    return _pair(_num(d.before, d.unbounded_before), _num(d.after, d.unbounded_after))


def _signed(d: Delta) -> str:
    """Write the change of a number: ``+460``, ``-40``, ``0``, or what became of an unbounded pool."""
    if d.unbounded_after and not d.unbounded_before:
        return "unbounded"
    if d.unbounded_before and not d.unbounded_after:
        return "now bounded"
    value = d.delta or 0
    return f"{value:+,}" if value else "0"


def _with_delta(d: Delta) -> str:
    """Write ``620 → 1,080 (+460)``, or the value once when it did not change.

    A change to or from unbounded has no number to add: ``62 → unbounded`` says it all.
    """
    if not d.changed or d.unbounded_before or d.unbounded_after:
        return _values(d)
    return f"{_values(d)} ({_signed(d)})"


def _usable(change: InstanceChange) -> str:
    """Write usable before → after, with ``*`` on a side whose max_connections is an estimate."""
    def side(instance: InstanceBudget | None) -> str:
        if instance is None:
            return "-"
        star = "*" if instance.max_connections.source == SOURCE_ESTIMATED else ""
        return f"{instance.usable:,}{star}"

    return _pair(side(change.before), side(change.after))


def _estimated(diff: BudgetDiff) -> bool:
    return any(
        i is not None and i.max_connections.source == SOURCE_ESTIMATED
        for change in diff.instances for i in (change.before, change.after)
    )


def _text_status(status: str | None) -> str:
    if status is None:
        return "-"
    return status if status == "ok" else status.upper()


def _mark(status: str | None) -> str:
    return "-" if status is None else STATUS_MARK[status]


def _statuses(before: str | None, after: str | None, fmt: StatusFormat) -> str:
    return _pair(fmt(before), fmt(after))


def _plain(text: str) -> str:
    return text


def _json_status(status: str | None) -> str:
    return status or "-"


def _source_cell(change: SourceChange, scenario: str) -> str:
    """One source in one scenario: its demand where it is only on one side, else with the delta."""
    d = change.scenarios[scenario]
    if change.change == ADDED:
        return _num(d.after, d.unbounded_after)
    if change.change == REMOVED:
        return _num(d.before, d.unbounded_before)
    return _with_delta(d)


def _route(change: SourceChange) -> str:
    before = change.before.route if change.before else "-"
    after = change.after.route if change.after else "-"
    if change.change == ADDED:
        return after
    if change.change == REMOVED:
        return before
    return _pair(before, after)


def _changed_sources(diff: BudgetDiff) -> list[SourceChange]:
    """Return the sources that changed, the largest change first (then in topology order)."""
    order = {id(s): n for n, s in enumerate(diff.sources)}
    return sorted(diff.changed_sources, key=lambda s: (-s.size, order[id(s)]))


# --------------------------------------------------------------------------- what changed


def _instance_headlines(change: InstanceChange, status: StatusFormat, esc: Escape) -> list[str]:
    name = esc(change.name)
    before_class, after_class = change.instance_class
    scenario = change.largest_scenario()
    s = change.scenarios[scenario]
    if change.change == ADDED:
        return [f"{name} added ({esc(after_class or '-')}): {scenario} {_num(s.demand.after, s.demand.unbounded_after)}, {status(s.status_after)}"]
    if change.change == REMOVED:
        return [f"{name} removed (was {esc(before_class or '-')}, {scenario} {_num(s.demand.before, s.demand.unbounded_before)}, {status(s.status_before)})"]
    lines: list[str] = []
    if change.budget_changed:
        parts = []
        if before_class != after_class:
            parts.append(f"{esc(before_class or '-')} → {esc(after_class or '-')}")
        elif change.max_connections.changed:
            parts.append(f"max_connections {_with_delta(change.max_connections)}")
        parts.append(f"usable {_with_delta(change.usable)}")
        if change.alarm_at.changed:
            parts.append(f"alarm at {_with_delta(change.alarm_at)}")
        lines.append(f"{name}: {', '.join(parts)}")
    if s.changed:
        lines.append(f"{scenario} on {name}: {_with_delta(s.demand)}, {_statuses(s.status_before, s.status_after, status)}")
    return lines


def _pooler_headlines(change: PoolerChange, status: StatusFormat, esc: Escape) -> list[str]:
    name = esc(change.pooler)
    if change.change == ADDED:
        return [f"pooler {name} added ({change.kind} on {esc(change.database)}): {_num(change.server_connections.after)} server connections"]
    if change.change == REMOVED:
        return [f"pooler {name} removed (held {_num(change.server_connections.before)} server connections)"]
    lines: list[str] = []
    if change.server_connections.changed:
        lines.append(f"pooler {name} server connections: {_with_delta(change.server_connections)}")
    if change.client_capacity.changed:
        lines.append(f"pooler {name} client capacity: {_with_delta(change.client_capacity)}")
    scenario = change.largest_scenario()
    s = change.scenarios[scenario]
    if s.changed:
        lines.append(f"{scenario} on pooler {name} (client side): {_with_delta(s.client_demand)}, {_statuses(s.status_before, s.status_after, status)}")
    return lines


def what_changed(diff: BudgetDiff, status: StatusFormat = _text_status, esc: Escape = _plain) -> list[str]:
    """Return one line per deployed value that changed (read from ``sources``), per instance or
    pooler that changed (its largest change first), then a count of the sources that changed;
    empty when nothing did."""
    lines = [f"deployed: {esc(str(change))}" for change in diff.deployed]
    for instance in diff.instances:
        if instance.change != UNCHANGED:
            lines += _instance_headlines(instance, status, esc)
    for pooler in diff.poolers:
        if pooler.change != UNCHANGED:
            lines += _pooler_headlines(pooler, status, esc)
    for source in diff.changed_sources:
        if source.recounted and source.before is not None and source.after is not None:
            lines.append(f"{esc(source.source)} counts in {_counted(source.after.scenarios)} "
                         f"(was {_counted(source.before.scenarios)})")
    sources = diff.changed_sources
    if sources:
        counts = {kind: sum(1 for s in sources if s.change == kind) for kind in (ADDED, REMOVED, CHANGED)}
        lines.append("sources: " + ", ".join(f"{n} {kind}" for kind, n in counts.items() if n))
    return lines


# --------------------------------------------------------------------------- text


def _instance_rows(changes: list[InstanceChange], status: StatusFormat) -> list[list[object]]:
    rows: list[list[object]] = []
    for change in changes:
        before_class, after_class = change.instance_class
        first = True
        for scenario, s in change.scenarios.items():
            rows.append([
                change.name if first else "",
                _pair(before_class or "-", after_class or "-") if first else "",
                _usable(change) if first else "",
                _values(change.alarm_at) if first else "",
                scenario,
                _values(s.demand),
                _signed(s.demand),
                _pair(_num(s.headroom_before), _num(s.headroom_after)),
                _pair(_num(s.alarm_headroom_before), _num(s.alarm_headroom_after)),
                _statuses(s.status_before, s.status_after, status),
            ])
            first = False
    return rows


INSTANCE_HEADERS = ["INSTANCE", "CLASS", "USABLE", "ALARM_AT", "SCENARIO", "DEMAND", "Δ", "FREE", "TO_ALARM", "STATUS"]


def _pooler_rows(changes: tuple[PoolerChange, ...], status: StatusFormat) -> list[list[object]]:
    rows: list[list[object]] = []
    for change in changes:
        first = True
        for scenario, s in change.scenarios.items():
            rows.append([
                change.pooler if first else "",
                change.kind if first else "",
                change.change if first else "",
                _values(change.server_connections) if first else "",
                _values(change.client_capacity) if first else "",
                scenario,
                _values(s.client_demand),
                _signed(s.client_demand),
                _statuses(s.status_before, s.status_after, status),
            ])
            first = False
    return rows


def _counted(scenarios: tuple[str, ...] | None) -> str:
    return "every scenario" if scenarios is None else counted_in(scenarios)


def _source_name(change: SourceChange) -> str:
    """Return the source's name, with the scenarios it counts in when it does not count in all of them."""
    side = change.side
    if change.recounted and change.before is not None:
        return f"{change.source} ({_pair(_counted(change.before.scenarios), _counted(side.scenarios))})"
    return change.source + (f" ({counted_in(side.scenarios)})" if side.scenarios is not None else "")


def _source_rows(diff: BudgetDiff) -> list[list[object]]:
    return [
        [_source_name(s), s.kind, s.change, _route(s)] + [_source_cell(s, sc) for sc in diff.scenarios]
        for s in _changed_sources(diff)
    ]


def _files(diff: BudgetDiff) -> tuple[str, str]:
    """Return how the header names each side: its file, and the deployment files it read instead of its sources."""
    base, head = (f"{r.topology.path} with {o}" if o else r.topology.path
                  for r, o in zip((diff.base, diff.head), diff.overrides))
    return base, head


def render_text(diff: BudgetDiff) -> str:
    """Return readable tables: the verdict, what changed, instances, poolers, sources, warnings."""
    base_path, head_path = _files(diff)
    verdict = _statuses(diff.base.status, diff.head.status, _text_status)
    lines = [f"{diff.head.topology.name} ({base_path} → {head_path}): {verdict}", ""]
    headlines = what_changed(diff)
    lines += ["what changed:"] + [f"  - {h}" for h in headlines] if headlines else [NO_CHANGE]
    lines += ["", text_table(INSTANCE_HEADERS, _instance_rows(list(diff.instances), _text_status))]
    if _estimated(diff):
        lines += ["", ESTIMATE_NOTE]
    if diff.poolers:
        lines += ["", text_table(
            ["POOLER", "KIND", "CHANGE", "SERVER_CONN", "CLIENT_CAP", "SCENARIO", "CLIENT_DEMAND", "Δ", "STATUS"],
            _pooler_rows(diff.poolers, _text_status),
        )]
    if diff.changed_sources:
        headers = ["SOURCE", "KIND", "CHANGE", "LANDS_ON"] + [s.upper() for s in diff.scenarios]
        lines += ["", "sources that changed:", text_table(headers, _source_rows(diff), indent="  ")]
    for title, findings in (("new warnings", diff.new_warnings), ("resolved warnings", diff.resolved_warnings)):
        if findings:
            lines += ["", f"{title}:"] + [f"  - {w}" for w in grouped(findings)]
    return "\n".join(lines)


# --------------------------------------------------------------------------- markdown


def _details(summary: str, body: list[str]) -> list[str]:
    return ["", f"<details><summary>{summary}</summary>", "", *body, "", "</details>"]


def _summary_rows(diff: BudgetDiff) -> tuple[list[list[object]], int]:
    """Return one row per instance worth a reviewer's look, and how many instances were left out.

    An instance is worth a look when it changed or HEAD has it above its alarm line; when none
    is, every instance is shown, so the comment still states where the topology stands.
    """
    shown = [c for c in diff.instances if c.change != UNCHANGED or c.status_after in ("warn", "over")] or list(diff.instances)
    rows: list[list[object]] = []
    for change in shown:
        before_class, after_class = change.instance_class
        scenario = change.largest_scenario()
        s = change.scenarios[scenario]
        rows.append([
            change.name, _pair(before_class or "-", after_class or "-"), _usable(change), scenario,
            _values(s.demand), _signed(s.demand), _pair(_num(s.headroom_before), _num(s.headroom_after)),
            _statuses(s.status_before, s.status_after, _mark),
        ])
    return rows, len(diff.instances) - len(shown)


def _markdown_findings(findings: tuple[Finding, ...]) -> list[str]:
    return [f"- {md_escape(str(w))}" for w in grouped(findings)]


def render_markdown(diff: BudgetDiff) -> str:
    """Return a pull-request comment: the verdict, a short summary table, details folded."""
    base_path, head_path = _files(diff)
    head_status, base_status = diff.head.status, diff.base.status
    was = "" if head_status == base_status else f" (was {STATUS_MARK[base_status]})"
    out = [
        f"### planner diff: **{md_escape(diff.head.topology.name)}** is {STATUS_MARK[head_status]}{was}",
        "",
        f"base **{md_escape(base_path)}** → head **{md_escape(head_path)}**",
        "",
    ]
    headlines = what_changed(diff, _mark, md_escape)
    out += [f"- {h}" for h in headlines] if headlines else [f"{NO_CHANGE[0].upper()}{NO_CHANGE[1:]}."]
    rows, left_out = _summary_rows(diff)
    out += ["", markdown_table(["instance", "class", "usable", "scenario", "demand", "Δ", "free", "status"], rows)]
    if left_out:
        out += ["", f"{left_out} other instance{'s' if left_out != 1 else ''} unchanged and within the alarm line."]
    if _estimated(diff):
        out += ["", md_escape(ESTIMATE_NOTE)]
    flagged_poolers = [p for p in diff.poolers if p.change != UNCHANGED or p.status_after == "over"]
    if flagged_poolers:
        prows = []
        for p in flagged_poolers:
            scenario = p.largest_scenario()
            s = p.scenarios[scenario]
            prows.append([
                p.pooler, p.kind, _values(p.server_connections), _values(p.client_capacity), scenario,
                _values(s.client_demand), _signed(s.client_demand), _statuses(s.status_before, s.status_after, _mark),
            ])
        out += ["", markdown_table(
            ["pooler", "kind", "server connections", "client capacity", "scenario", "client demand", "Δ", "client status"], prows,
        )]

    sources = _changed_sources(diff)
    if sources:
        table = markdown_table(["source", "kind", "change", "lands on", *diff.scenarios], _source_rows(diff))
        out += _details(f"Sources that changed ({len(sources)})", [table])
    if diff.poolers:
        table = markdown_table(
            ["pooler", "kind", "change", "server connections", "client capacity", "scenario", "client demand", "Δ", "status"],
            _pooler_rows(diff.poolers, _mark),
        )
        out += _details(f"Poolers: client side ({len(diff.poolers)})", [table])
    headers = ["instance", "class", "usable", "alarm at", "scenario", "demand", "Δ", "free", "to alarm", "status"]
    out += _details("Every instance and scenario", [markdown_table(headers, _instance_rows(list(diff.instances), _mark))])
    if diff.new_warnings:
        out += _details(f"Warnings new in HEAD ({len(diff.new_warnings)})", _markdown_findings(diff.new_warnings))
    if diff.resolved_warnings:
        out += _details(f"Warnings resolved ({len(diff.resolved_warnings)})", _markdown_findings(diff.resolved_warnings))
    out += ["", COMMENT_MARKER]
    return "\n".join(out)


# --------------------------------------------------------------------------- json


def _delta_dict(d: Delta) -> dict[str, Any]:
    return {
        "before": d.before,
        "after": d.after,
        "delta": d.delta,
        "unbounded_before": d.unbounded_before,
        "unbounded_after": d.unbounded_after,
    }


def _side_dict(report: BudgetReport, overrides: str) -> dict[str, Any]:
    side = {"file": report.topology.path, "topology": report.topology.name, "status": report.status}
    if overrides:
        side["sources"] = overrides
    return side


def _instance_dict(change: InstanceChange) -> dict[str, Any]:
    before_class, after_class = change.instance_class
    return {
        "database": change.database,
        "role": change.role,
        "change": change.change,
        "instance_class_before": before_class,
        "instance_class_after": after_class,
        "max_connections_before": change.max_connections.before,
        "max_connections_after": change.max_connections.after,
        "usable_before": change.usable.before,
        "usable_after": change.usable.after,
        "alarm_at_before": change.alarm_at.before,
        "alarm_at_after": change.alarm_at.after,
        "status_before": change.status_before,
        "status_after": change.status_after,
        "largest_change": change.largest_scenario(),
        "scenarios": {
            name: {
                **_delta_dict(s.demand),
                "status_before": s.status_before,
                "status_after": s.status_after,
                "headroom_before": s.headroom_before,
                "headroom_after": s.headroom_after,
                "alarm_headroom_before": s.alarm_headroom_before,
                "alarm_headroom_after": s.alarm_headroom_after,
            }
            for name, s in change.scenarios.items()
        },
    }


def _source_dict(change: SourceChange) -> dict[str, Any]:
    side = change.side
    entry: dict[str, Any] = {"source": change.source, "kind": side.kind, "database": side.database}
    if side.role is not None:
        entry["role"] = side.role
    entry["endpoint"] = side.endpoint
    if side.via is not None:
        entry["via"] = side.via
    entry.update({
        "change": change.change,
        "route_before": change.before.route if change.before else None,
        "route_after": change.after.route if change.after else None,
        "scenarios": {name: _delta_dict(d) for name, d in change.scenarios.items()},
    })
    if any(side is not None and side.scenarios is not None for side in (change.before, change.after)):
        # the scenarios it counts in (null: every one), where either side limits them
        entry["counts_in_before"] = None if change.before is None or change.before.scenarios is None else list(change.before.scenarios)
        entry["counts_in_after"] = None if change.after is None or change.after.scenarios is None else list(change.after.scenarios)
    return entry


def _pooler_dict(change: PoolerChange) -> dict[str, Any]:
    return {
        "pooler": change.pooler,
        "kind": change.kind,
        "database": change.database,
        "change": change.change,
        "server_connections_before": change.server_connections.before,
        "server_connections_after": change.server_connections.after,
        "client_capacity_before": change.client_capacity.before,
        "client_capacity_after": change.client_capacity.after,
        "status_before": change.status_before,
        "status_after": change.status_after,
        "scenarios": {
            name: {**_delta_dict(s.client_demand), "status_before": s.status_before, "status_after": s.status_after}
            for name, s in change.scenarios.items()
        },
    }


def diff_dict(diff: BudgetDiff) -> dict[str, Any]:
    """Return the ``diff --format json`` document.

    ``instances`` and ``poolers`` list every one of either side; ``sources`` only those that
    were added, removed or changed (``unchanged_sources`` counts the rest). Demands are numbers,
    or null where absent or unbounded (``unbounded_before``/``unbounded_after`` tell which).
    Warnings are strings as in ``check``'s ``warnings``, with ``*_warning_details`` beside them.
    """
    new_warnings, new_details = warnings_json(diff.new_warnings)
    resolved_warnings, resolved_details = warnings_json(diff.resolved_warnings)
    return {
        "base": _side_dict(diff.base, diff.overrides[0]),
        "head": _side_dict(diff.head, diff.overrides[1]),
        "status": diff.status,
        "changed": diff.changed,
        "scenarios": list(diff.scenarios),
        "summary": what_changed(diff, _json_status),
        "instances": [_instance_dict(c) for c in diff.instances],
        "deployed": [{"key_path": c.key_path, "before": c.before, "after": c.after, "from": c.origin} for c in diff.deployed],
        "sources": [_source_dict(c) for c in diff.changed_sources],
        "unchanged_sources": len(diff.sources) - len(diff.changed_sources),
        "poolers": [_pooler_dict(c) for c in diff.poolers],
        "new_warnings": new_warnings,
        "resolved_warnings": resolved_warnings,
        "new_warning_details": new_details,
        "resolved_warning_details": resolved_details,
        "planner_version": planner.__version__,
    }


def render_json(diff: BudgetDiff) -> str:
    """Return the ``diff --format json`` document, indented."""
    return json.dumps(diff_dict(diff), indent=2)
