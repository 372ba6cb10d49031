"""``planner check`` output: a text table, a Markdown comment, or GitHub workflow annotations.

Each ``render_*`` function renders one topology's report; ``render_*_many`` render several (``planner
check a.yaml b.yaml``) with one verdict over all of them, the worst. One report through a ``_many``
function is exactly the single-topology output, so ``check`` can always call them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Mapping, Sequence

import planner  # planner.__version__ is read on use: the metadata lookup costs every start-up
from planner.budget import BudgetReport, InstanceBudget, PoolerBudget, SourceDemand
from planner.budget.instances import worst_scenario
from planner.budget.demand import counted_in
from planner.budget.grouping import acknowledged_summary, grouped, notes_summary
from planner.model import SOURCE_ESTIMATED, worst_status
from planner.render.data import report_dict
from planner.render.gate import eased_note, gate_dict, gate_markdown, gate_text, outcome_of, unused_message
from planner.render.table import markdown_table, md_escape, text_table

if TYPE_CHECKING:
    from planner.budget.gate import Gate
    from planner.live.observe import ObservedPeak

STATUS_MARK = {"ok": "✅ ok", "warn": "⚠️ warn", "over": "❌ over"}
ESTIMATE_NOTE = "* estimated: DBInstanceClassMemory for this class is estimated from its nominal memory, not observed"


def estimate_note(instances: "Sequence[InstanceBudget]") -> str:
    """Return the footnote for starred max_connections, with what each estimate may really read."""
    ranges = []
    for i in instances:
        mc = i.max_connections
        found = mc.reading_range if mc.source == SOURCE_ESTIMATED else None
        text = f"{i.instance_class} {found[0]}–{found[1]}" if found else None
        if text and mc.uses_low_end:
            text += f" (counted as {mc.value}, the low end)"
        if text and text not in ranges:
            ranges.append(text)
    return ESTIMATE_NOTE + (f"; a real instance may read (leave-one-out range of comparable classes): {', '.join(ranges)}"
                            if ranges else "")  # fmt: skip


def _class_label(instance: InstanceBudget) -> str:
    """Return what runs the instance, for a sentence: its class, or "self-managed" (which has none)."""
    if instance.instance_class:
        return instance.instance_class
    return "self-managed" if instance.engine == "self-managed" else "no instance class"


def _max_label(instance: InstanceBudget) -> str:
    star = "*" if instance.max_connections.source == SOURCE_ESTIMATED else ""
    return f"{instance.max_connections.value}{star}"


def _demand(value: int | None) -> str:
    return "unbounded" if value is None else str(value)


def _top_sources(instance: InstanceBudget, scenario: str, count: int = 3) -> str:
    sources = sorted(instance.demand_by_source, key=lambda s: (not s.unbounded_in(scenario), -s.demand[scenario]))
    parts = [f"{s.source} {_demand(s.value(scenario))}" for s in sources[:count]]
    more = len(sources) - count
    return ", ".join(parts) + (f", … {more} more" if more > 0 else "")


def _observed(observed: "Mapping[tuple[str, str], ObservedPeak] | None", instance: InstanceBudget) -> str:
    """Return the instance's observed peak (``planner check --observed``) as a cell: "95 (2026-11-02)", or "-"."""
    peak = (observed or {}).get((instance.database, instance.role))
    if peak is None or peak.peak is None:
        return "-"
    return f"{peak.peak} ({peak.date})" if peak.date else str(peak.peak)


def trend_lines(report: BudgetReport, observed: "Mapping[tuple[str, str], ObservedPeak] | None") -> list[str]:
    """Return one line per observed series: how its peak moves and when it reaches the lines (an estimate)."""
    if not observed:
        return []
    from planner.live.observe import observed_series

    return [f"{instance.name} ({peak.instance}, {peak.basis()}): {peak.trend.sentence()}"
            for instance, peak in observed_series(report, observed) if peak.trend is not None]


def trend_dict(peak: "ObservedPeak") -> dict[str, object] | None:
    """Return the trend of ``peak``'s series for JSON (None without a series)."""
    trend = peak.trend
    if trend is None:
        return None
    slope = trend.slope
    return {
        "days": trend.days, "first_day": trend.first_day, "last_day": trend.last_day,
        "p95": trend.p95, "p99": trend.p99, "percentiles_of": trend.quantiles_of, "gaps": trend.gaps,
        "missing_days": trend.missing_days,
        "slope_per_day": None if slope is None else {"estimate": slope.per_day, "low": slope.low, "high": slope.high,
                                                     "confidence": slope.confidence, "significant": slope.significant},
        "level": None if slope is None else slope.level,
        "reaches": [{"line": r.line, "value": r.value, "days": r.days, "earliest": r.earliest, "latest": r.latest} for r in trend.reaches],
        "summary": trend.sentence(),
    }  # fmt: skip


def render_text(report: BudgetReport, observed: "Mapping[tuple[str, str], ObservedPeak] | None" = None,
                gate: Gate | None = None) -> str:
    """Return the readable table: per instance and scenario, usable, alarm line, demand, status; then the
    gate's decision when a waiver or a baseline took part."""
    rows: list[list[object]] = []
    for instance in report.instances:
        first = True
        for scenario, result in instance.scenarios.items():
            free = None if result.demand is None else instance.usable - result.demand
            rows.append([
                instance.name if first else "",
                (instance.instance_class or "-") if first else "",
                _max_label(instance) if first else "",
                instance.reserved if first else "",
                instance.usable,
                instance.alarm_at,
                scenario,
                _demand(result.demand),
                "-" if free is None else free,
                result.status.upper() if result.status != "ok" else "ok",
            ] + ([(_observed(observed, instance) if first else "")] if observed is not None else []))
            first = False
    lines = [f"{report.topology.name} ({report.topology.path}): {report.status.upper()}", ""]
    lines.append(text_table(
        ["INSTANCE", "CLASS", "MAX_CONN", "RESERVED", "USABLE", "ALARM_AT", "SCENARIO", "DEMAND", "FREE", "STATUS"]
        + (["OBSERVED_PEAK"] if observed is not None else []), rows
    ))
    if any(i.max_connections.source == SOURCE_ESTIMATED for i in report.instances):
        lines += ["", estimate_note(report.instances)]
    if report.poolers:
        lines += ["", _pooler_text(report.poolers)]
    limited = limited_sources(report)
    if limited:
        lines += ["", f"counted only in some scenarios: {limited}"]
    flagged = [i for i in report.instances if i.status != "ok"]
    if flagged:
        lines.append("")
        for instance in flagged:
            worst = worst_scenario(instance.scenarios)
            lines.append(f"largest sources on {instance.name} ({worst}): {_top_sources(instance, worst)}")
    trends = trend_lines(report, observed)
    if trends:
        lines += ["", "observed trend:"] + [f"  - {line}" for line in trends]
    if report.warnings:
        lines += ["", "warnings:"] + [f"  - {w}" for w in grouped(report.warnings)]
    for summary in (notes_summary(report.notes), acknowledged_summary(report.acknowledged)):
        if summary:
            lines += ["", summary]
    lines += gate_text(gate)
    return "\n".join(lines)


def pooler_breach(pooler: PoolerBudget) -> str:
    """Return what a pooler does with clients beyond its client capacity: "refuses clients" (PgBouncer),
    "makes clients wait" (Pgpool-II, whose children take one client each and queue the rest)."""
    return "makes clients wait" if pooler.client_overflow == "wait" else "refuses clients"


def limited_sources(report: BudgetReport) -> str:
    """Return the sources that count only in some scenarios, with those scenarios ("" when there are none).

    A one-shot job counts only while deploys run, a cron job not in steady state: saying so beside the
    totals keeps a 0 in steady from reading as "not counted at all".
    """
    seen: dict[str, tuple[str, ...]] = {}
    everywhere = [s for i in report.instances for s in i.demand_by_source] + [c for p in report.poolers for c in p.clients]
    for source in everywhere:
        if source.scenarios is not None:
            seen.setdefault(source.source, source.scenarios)
    return ", ".join(f"{name} ({counted_in(scenarios)})" for name, scenarios in seen.items())


def _pooler_text(poolers: tuple[PoolerBudget, ...]) -> str:
    rows: list[list[object]] = []
    for pooler in poolers:
        first = True
        for scenario, result in pooler.scenarios.items():
            rows.append([
                pooler.pooler if first else "",
                pooler.kind if first else "",
                pooler.server_connections if first else "",
                pooler.client_capacity,
                scenario,
                _demand(result.demand),
                result.status.upper() if result.status != "ok" else "ok",
            ])
            first = False
    return text_table(["POOLER", "KIND", "SERVER_CONN", "CLIENT_CAP", "SCENARIO", "CLIENT_DEMAND", "STATUS"], rows)


# Above this many sources the document is for machines: Python's JSON encoder is several times
# faster without indentation (the C encoder is used only then), which keeps large checks fast.
PRETTY_JSON_MAX_SOURCES = 2000


def render_json(report: BudgetReport, observed: "Mapping[tuple[str, str], ObservedPeak] | None" = None,
                gate: Gate | None = None) -> str:
    """Return the spec §5 JSON document (indented unless it is large); ``observed_peak`` per instance with --observed,
    ``gate`` when a waiver or a baseline took part."""
    sources = sum(len(i.demand_by_source) for i in report.instances)
    doc = _with_gate(report_dict(report), gate)
    if observed is not None:
        for entry, instance in zip(doc["instances"], report.instances):
            peak = observed.get((instance.database, instance.role))
            entry["observed_peak"] = None if peak is None else peak.peak
            entry["observed_peak_at"] = None if peak is None else peak.peak_at
            entry["observed_trend"] = None if peak is None else trend_dict(peak)
    return json.dumps(doc, indent=2 if sources <= PRETTY_JSON_MAX_SOURCES else None)


def render_markdown(report: BudgetReport, observed: "Mapping[tuple[str, str], ObservedPeak] | None" = None,
                    gate: Gate | None = None) -> str:
    """Return a pull-request comment: verdict, a summary table, the gate's decision, details folded."""
    scenarios = list(report.scenarios)
    rows: list[list[object]] = []
    for instance in report.instances:
        cells: list[object] = [
            instance.name, instance.instance_class or "-", _max_label(instance), instance.usable, instance.alarm_at,
        ]
        cells += [f"{_demand(instance.scenarios[s].demand)} {STATUS_MARK[instance.scenarios[s].status]}" for s in scenarios]
        rows.append(cells + ([_observed(observed, instance)] if observed is not None else []))
    out = [
        f"### planner: `{md_escape(report.topology.name)}` is {STATUS_MARK[report.status]}",
        "",
        markdown_table(["instance", "class", "max_connections", "usable", "alarm at"] + scenarios
                       + (["observed peak"] if observed is not None else []), rows),
    ]
    if any(i.max_connections.source == SOURCE_ESTIMATED for i in report.instances):
        out += ["", md_escape(estimate_note(report.instances))]
    if report.poolers:
        prow = [
            [p.pooler, p.kind, p.server_connections, p.client_capacity]
            + [f"{_demand(p.scenarios[s].demand)} {STATUS_MARK[p.scenarios[s].status]}" for s in scenarios]
            for p in report.poolers
        ]
        out += ["", markdown_table(["pooler", "kind", "server connections", "client capacity"] + scenarios, prow)]
    limited = limited_sources(report)
    if limited:
        out += ["", md_escape(f"counted only in some scenarios: {limited}")]
    trends = trend_lines(report, observed)
    if trends:
        out += ["", "**Observed trend**", ""] + [f"- {md_escape(line)}" for line in trends]
    if report.warnings:
        out += ["", "**Warnings**", ""] + [f"- {md_escape(str(w))}" for w in grouped(report.warnings)]
    for summary in (notes_summary(report.notes), acknowledged_summary(report.acknowledged)):
        if summary:
            out += ["", md_escape(summary)]
    out += gate_markdown(gate)
    for instance in report.instances:
        srows = [
            [s.source + (f" (via {s.via})" if s.via else "") + (f" ({counted_in(s.scenarios)})" if s.scenarios else "")]
            + [("unbounded" if s.unbounded_in(sc) else s.demand[sc]) for sc in scenarios]
            for s in instance.demand_by_source
        ]
        out += [
            "",
            f"<details><summary>Demand by source on {md_escape(instance.name)}</summary>",
            "",
            markdown_table(["source"] + scenarios, srows) if srows else "_no sources_",
            "",
            "</details>",
        ]
    return "\n".join(out)


CSV_COLUMNS = ("topology", "database", "role", "instance_class", "scenario", "source", "kind", "via", "demand",
               "instance_demand", "usable", "alarm_at", "status", "estimated", "gate")


def csv_cell(value: object) -> str:
    """Return a spreadsheet-safe cell: text that a spreadsheet would run as a formula is quoted.

    A cell starting with =, +, -, @, a tab or a carriage return is a formula to Excel and
    LibreOffice (CSV injection); a leading apostrophe makes it text. Numbers stay numbers.
    """
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def render_csv(report: BudgetReport, gate: Gate | None = None) -> str:
    """Return one row per instance, scenario and source, for spreadsheets; ``gate`` is the scenario's outcome
    when it is a breach (fails, waived or known), else empty."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for instance in report.instances:
        estimated = instance.max_connections.source == SOURCE_ESTIMATED
        for scenario, result in instance.scenarios.items():
            for source in instance.demand_by_source:
                row = (report.topology.name, instance.database, instance.role, instance.instance_class, scenario, source.source,
                       source.kind, source.via, source.value(scenario), result.demand,
                       instance.usable, instance.alarm_at, result.status, "yes" if estimated else "no",
                       outcome_of(gate, "instance", instance.name, scenario))
                writer.writerow([csv_cell(v) for v in row])
    return out.getvalue()


# --------------------------------------------------------------------------- where a finding points
# shared by the formats that point at files: github, sarif, junit


def breaking_sources(instance: InstanceBudget, scenario: str, count: int = 3) -> list[SourceDemand]:
    """Return the sources that make the difference in ``scenario``: of the ``count`` largest, those
    unbounded or carrying at least 10 % of the instance's demand."""
    total = instance.scenarios[scenario].demand or 0
    largest = sorted(instance.demand_by_source, key=lambda s: (not s.unbounded_in(scenario), -s.demand[scenario]))[:count]
    return [s for s in largest if s.unbounded_in(scenario) or s.demand[scenario] * 10 >= total]


def gh_escape_data(text: str) -> str:
    """Escape a workflow-command message (GitHub's rules: %, CR, LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def gh_escape_property(text: str) -> str:
    """Escape a workflow-command property value (also ':' and ',')."""
    return gh_escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _annotation(level: str, file: str, line: int | None, title: str, message: str) -> str:
    props = [f"file={gh_escape_property(file)}"]
    if line is not None:
        props.append(f"line={line}")
    props.append(f"title={gh_escape_property(title)}")
    return f"::{level} {','.join(props)}::{gh_escape_data(message)}"


def render_github(report: BudgetReport, gate: Gate | None = None) -> str:
    """Return GitHub workflow annotations pointing at the offending database, service or pooler.

    A breach the gate lets pass (waived, or known from the baseline) is a warning that says why;
    an expired waiver is an error at its own line, a waiver that covers nothing a warning there.
    """
    path = report.topology.path
    out: list[str] = []
    level = {"over": "error", "warn": "warning"}
    for instance in report.instances:
        if instance.status == "ok":
            continue
        worst = worst_scenario(instance.scenarios)
        result = instance.scenarios[worst]
        passes, why = eased_note(gate, "instance", instance.name)
        message = (
            f"{instance.name} ({_class_label(instance)}) is {result.status} in {worst}: demand "
            f"{_demand(result.demand)} vs usable {instance.usable}, alarm at {instance.alarm_at}. "
            f"Largest sources: {_top_sources(instance, worst)}" + (f" ({why})" if why else "")
        )
        instance_level = "warning" if passes else level[instance.status]
        out.append(_annotation(instance_level, path, instance.line, f"{instance.database} {result.status} budget", message))
        for source in breaking_sources(instance, worst):
            if source.line is None:
                continue
            share = "unbounded" if source.unbounded_in(worst) else f"{source.demand[worst]} connections"
            kind = "pooler" if source.kind == "pooler" else "service"
            out.append(_annotation(
                instance_level, path, source.line, f"{source.source} on {instance.database}",
                f"{kind} {source.source} opens {share} on {instance.name} in {worst} ({source.working[worst]})",
            ))
    for pooler in report.poolers:
        if pooler.status != "ok":
            worst = worst_scenario(pooler.scenarios)
            passes, why = eased_note(gate, "pooler", pooler.pooler)
            limit = ("replicas × num_init_children" if pooler.kind == "pgpool" else "replicas × max_client_conn")
            waits = ": the rest wait in Pgpool-II's queue" if pooler.client_overflow == "wait" else ""
            out.append(_annotation(
                "warning" if passes else level[pooler.status], path, pooler.line, f"{pooler.pooler} {pooler_breach(pooler)}",
                f"{pooler.pooler}: client demand {_demand(pooler.scenarios[worst].demand)} in {worst} exceeds "
                f"{limit} = {pooler.client_capacity}{waits}" + (f" ({why})" if why else ""),
            ))
    for warning in grouped(report.warnings):
        out.append(_annotation("warning", path, warning.line, f"planner: {warning.code}", str(warning)))
    out += _gate_annotations(report, gate)
    # the topology's name is free text: escaped like a message, a newline in it cannot start a command
    verdict = f" (gate {gate.summary()})" if gate is not None and gate.applies else ""
    out.append(f"planner: {gh_escape_data(report.topology.name)} is {report.status}{gh_escape_data(verdict)}")
    return "\n".join(out)


def _gate_annotations(report: BudgetReport, gate: Gate | None) -> list[str]:
    """Return an error at each expired waiver that fails the gate, a warning at each that covers nothing."""
    if gate is None:
        return []
    path = report.topology.path
    out = []
    for index in dict.fromkeys(j.waiver.index for j in gate.judged if j.outcome == "fails" and j.waiver is not None):
        judged = [j for j in gate.judged if j.waiver is not None and j.waiver.index == index]
        waiver = judged[0].waiver
        assert waiver is not None
        breaches = ", ".join(j.breach.label for j in judged)
        again = "fails again; fix it" if len(judged) == 1 else "fail again; fix them"
        out.append(_annotation("error", path, waiver.line, f"waiver expired {waiver.expires.isoformat()}",
                               f"waivers[{index}] expired on {waiver.expires.isoformat()} ({waiver.reason}): "
                               f"{breaches} {again} or renew the waiver with a new date"))
    for waiver in gate.unused_waivers:
        out.append(_annotation("warning", path, waiver.line, "planner: waiver-unused", unused_message(waiver, gate)))
    return out


# --------------------------------------------------------------------------- several topologies


def _with_gate(doc: dict[str, object], gate: Gate | None) -> dict[str, object]:
    """Return a report's JSON document with its ``gate`` object, when a waiver or a baseline took part."""
    decided = gate_dict(gate)
    if decided is not None:
        doc["gate"] = decided
    return doc


def _gates(reports: Sequence[BudgetReport], gates: Sequence[Gate] | None) -> Sequence[Gate | None]:
    return gates if gates is not None else [None] * len(reports)


def overall_status(reports: Sequence[BudgetReport]) -> str:
    """Return the verdict over several topologies: the worst of theirs."""
    return worst_status([r.status for r in reports])


def _tally(reports: Sequence[BudgetReport]) -> str:
    """Return "2 over, 1 ok": how many topologies have each status, worst first."""
    counts = [(status, sum(r.status == status for r in reports)) for status in ("over", "warn", "ok")]
    return ", ".join(f"{n} {status}" for status, n in counts if n)


def render_text_many(reports: Sequence[BudgetReport],
                     observed: "Mapping[tuple[str, str], ObservedPeak] | None" = None,
                     gates: Sequence[Gate] | None = None) -> str:
    """Return one text block per topology, then the verdict over all of them (one report: its block alone)."""
    if len(reports) == 1:
        return render_text(reports[0], observed, _gates(reports, gates)[0])
    blocks = [render_text(report, None, gate) for report, gate in zip(reports, _gates(reports, gates))]
    verdict = f"{len(reports)} topologies: {overall_status(reports).upper()} ({_tally(reports)})"
    return "\n\n".join(blocks + [verdict])


def render_json_many(reports: Sequence[BudgetReport],
                     observed: "Mapping[tuple[str, str], ObservedPeak] | None" = None,
                     gates: Sequence[Gate] | None = None) -> str:
    """Return the spec §5 document for one topology, or ``{"status", "topologies": [...]}`` for several.

    One topology keeps the single document exactly (the stable contract of docs/schema/check.schema.json);
    several are a list of those documents under ``topologies``, with the worst status beside it.
    """
    if len(reports) == 1:
        return render_json(reports[0], observed, _gates(reports, gates)[0])
    sources = sum(len(i.demand_by_source) for r in reports for i in r.instances)
    doc = {
        "status": overall_status(reports),
        "topologies": [_with_gate(report_dict(report), gate) for report, gate in zip(reports, _gates(reports, gates))],
        "planner_version": planner.__version__,
    }
    return json.dumps(doc, indent=2 if sources <= PRETTY_JSON_MAX_SOURCES else None)


def render_markdown_many(reports: Sequence[BudgetReport],
                         observed: "Mapping[tuple[str, str], ObservedPeak] | None" = None,
                         gates: Sequence[Gate] | None = None) -> str:
    """Return one pull-request comment: the verdict over all topologies, a summary table, then each one's section."""
    if len(reports) == 1:
        return render_markdown(reports[0], observed, _gates(reports, gates)[0])
    status = overall_status(reports)
    rows = [[r.topology.name, r.topology.path, STATUS_MARK[r.status]] for r in reports]  # the table escapes cells
    out = [
        f"### planner: {len(reports)} topologies, {STATUS_MARK[status]}",
        "",
        markdown_table(["topology", "file", "status"], rows),
    ]
    for report, gate in zip(reports, _gates(reports, gates)):
        out += ["", render_markdown(report, None, gate)]
    return "\n".join(out)


def render_csv_many(reports: Sequence[BudgetReport], gates: Sequence[Gate] | None = None) -> str:
    """Return one CSV for all topologies: one header, and a last ``file`` column when there are several."""
    if len(reports) == 1:
        return render_csv(reports[0], _gates(reports, gates)[0])
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for i, (report, gate) in enumerate(zip(reports, _gates(reports, gates))):
        rows = list(csv.reader(io.StringIO(render_csv(report, gate))))
        header, body = rows[0], rows[1:]
        if i == 0:
            writer.writerow(header + ["file"])
        for row in body:
            writer.writerow(row + [csv_cell(report.topology.path)])
    return out.getvalue()


def render_github_many(reports: Sequence[BudgetReport], gates: Sequence[Gate] | None = None) -> str:
    """Return every topology's annotations (each names its own file), then the verdict over all of them."""
    if len(reports) == 1:
        return render_github(reports[0], _gates(reports, gates)[0])
    lines = [render_github(report, gate) for report, gate in zip(reports, _gates(reports, gates))]
    # "4 topologies are over" read as if all four were: the verdict is the worst, the tally says how many
    lines.append(f"planner: {len(reports)} topologies, verdict {overall_status(reports)}: {_tally(reports)}")
    return "\n".join(lines)
