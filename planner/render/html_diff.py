"""The report's "change against a baseline": every instance, pooler and source, before and after."""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

from markupsafe import Markup

from planner.budget import BudgetReport, InstanceBudget, PoolerBudget, SourceDemand
from planner.render.charts_plan import change_chart
from planner.render.html_context import Chart, DiffView, NumberChange, SourceChange, SubjectChange

MAX_CHANGE_BARS = 25
Value = int | str | None
ABSENT = "—"


def _text(value: Value) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    return "unbounded" if value is None else value


def _number(label: str, before: Value, after: Value, present: tuple[bool, bool]) -> NumberChange:
    b = _text(before) if present[0] else ABSENT
    a = _text(after) if present[1] else ABSENT
    delta = after - before if isinstance(before, int) and isinstance(after, int) and all(present) else None
    return NumberChange(label, b, a, delta, b != a)


def _state(present: tuple[bool, bool], numbers: Sequence[NumberChange]) -> str:
    if not present[0]:
        return "new"
    if not present[1]:
        return "removed"
    return "changed" if any(n.changed for n in numbers) else "unchanged"


def _instance_numbers(i: InstanceBudget | None, scenarios: Sequence[str]) -> list[tuple[str, Value]]:
    if i is None:
        labels = ["instance_class", "max_connections", "reserved", "usable", "alarm_at", *(f"{s} demand" for s in scenarios), "status"]
        return [(label, None) for label in labels]
    rows: list[tuple[str, Value]] = [
        ("instance_class", i.instance_class or i.engine), ("max_connections", i.max_connections.value),
        ("reserved", i.reserved), ("usable", i.usable), ("alarm_at", i.alarm_at),
    ]
    rows += [(f"{s} demand", i.scenarios[s].demand if s in i.scenarios else "-") for s in scenarios]
    return rows + [("status", i.status)]


def _pooler_numbers(p: PoolerBudget | None, scenarios: Sequence[str]) -> list[tuple[str, Value]]:
    if p is None:
        labels = ["server connections", "client capacity", *(f"{s} client demand" for s in scenarios), "status"]
        return [(label, None) for label in labels]
    rows: list[tuple[str, Value]] = [
        ("server connections", p.server_connections),
        ("client capacity", p.client_capacity if p.client_capacity is not None else "not modelled"),
    ]
    rows += [(f"{s} client demand", p.scenarios[s].demand if s in p.scenarios else "-") for s in scenarios]
    return rows + [("status", p.status)]


def _subjects(
    before: Mapping[str, object], after: Mapping[str, object], scenarios: Sequence[str],
    numbers: Callable[[object, Sequence[str]], list[tuple[str, Value]]],
) -> tuple[SubjectChange, ...]:
    out: list[SubjectChange] = []
    for name in list(after) + [n for n in before if n not in after]:
        present = (name in before, name in after)
        rows = zip(numbers(before.get(name), scenarios), numbers(after.get(name), scenarios))
        changes = [_number(label, b, a, present) for (label, b), (_, a) in rows]
        out.append(SubjectChange(name, _state(present, changes), tuple(changes)))
    return tuple(out)


def _sources(report: BudgetReport) -> dict[tuple[str, str], SourceDemand]:
    """Return every source keyed by (where it lands, its name): instances, then poolers' clients."""
    found: dict[tuple[str, str], SourceDemand] = {}
    for instance in report.instances:
        for source in instance.demand_by_source:
            found[(instance.name, source.source)] = source
    for pooler in report.poolers:
        for source in pooler.clients:
            found[(f"{pooler.pooler} clients", source.source)] = source
    return found


def _worst(source: SourceDemand | None) -> int | None:
    if source is None:
        return 0
    return None if source.unbounded else max(source.demand.values(), default=0)


def _source_changes(before: BudgetReport, after: BudgetReport, scenarios: Sequence[str]) -> list[SourceChange]:
    old, new = _sources(before), _sources(after)
    out: list[SourceChange] = []
    for key in list(new) + [k for k in old if k not in new]:
        b, a = old.get(key), new.get(key)
        present = (b is not None, a is not None)
        cells = tuple(
            _number(
                scenario,
                None if b is None or b.unbounded_in(scenario) else b.demand.get(scenario, 0),
                None if a is None or a.unbounded_in(scenario) else a.demand.get(scenario, 0),
                present,
            )
            for scenario in scenarios
        )
        wb, wa = _worst(b), _worst(a)
        delta = None if wb is None or wa is None else wa - wb
        if delta is None and (b is not None and a is not None) and b.unbounded == a.unbounded:
            delta = 0  # unbounded on both sides: no change to show
        out.append(SourceChange(key[0], key[1], _state(present, cells), cells, delta))
    out.sort(key=lambda c: (c.delta is not None, -abs(c.delta or 0), c.state == "unchanged", c.where, c.source))
    return out


def build_diff(before: BudgetReport, after: BudgetReport, prefix: str) -> DiffView:
    """Return every number of ``after`` next to ``before``'s, and a chart of the change per source."""
    scenarios = list(after.scenarios)
    instances = _subjects(
        {i.name: i for i in before.instances}, {i.name: i for i in after.instances}, scenarios,
        _instance_numbers,  # type: ignore[arg-type]
    )
    poolers = _subjects(
        {p.pooler: p for p in before.poolers}, {p.pooler: p for p in after.poolers}, scenarios,
        _pooler_numbers,  # type: ignore[arg-type]
    )
    sources = _source_changes(before, after, scenarios)
    counts = {state: sum(1 for s in sources if s.state == state) for state in ("new", "removed", "changed", "unchanged")}
    moved = [s for s in sources if s.delta]
    shown = sorted(moved[:MAX_CHANGE_BARS], key=lambda s: -(s.delta or 0))
    rows = [(f"{s.source} ({s.where}){' new' if s.state == 'new' else ' removed' if s.state == 'removed' else ''}", s.delta or 0) for s in shown]
    svg = change_chart(rows, f"Change per source: {before.topology.name} → {after.topology.name}", prefix)
    chart = None
    if svg is not None:
        text = "; ".join(f"{label} {delta:+,}" for label, delta in rows)
        chart = Chart(
            Markup(svg), f"Change in worst-scenario demand per source: {text}.",
            "Change in each source's worst-scenario demand from the baseline (the largest changes; new and removed sources included).",
        )
    return DiffView(
        baseline=before.topology.name,
        baseline_path=before.topology.path,
        baseline_status=before.status,
        status=after.status,
        instances=instances,
        poolers=poolers,
        sources=tuple(sources),
        counts=counts,
        chart=chart,
        chart_omitted=max(0, len(moved) - MAX_CHANGE_BARS),
    )

