"""``planner check`` output: a text table, a Markdown comment, or GitHub workflow annotations.

Each ``render_*`` function renders one topology's report; ``render_*_many`` render several (``planner
check a.yaml b.yaml``) with one verdict over all of them, the worst. One report through a ``_many``
function is exactly the single-topology output, so ``check`` can always call them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Mapping, Sequence

from planner import __version__
from planner.budget import BudgetReport, InstanceBudget, PoolerBudget
from planner.model import SOURCE_ESTIMATED, worst_status
from planner.render.data import report_dict
from planner.render.table import markdown_table, md_escape, text_table

if TYPE_CHECKING:
    from planner.live.observe import ObservedPeak

STATUS_MARK = {"ok": "✅ ok", "warn": "⚠️ warn", "over": "❌ over"}
ESTIMATE_NOTE = "* estimated: DBInstanceClassMemory for this class is estimated from its nominal memory, not observed"


def estimate_note(instances: "Sequence[InstanceBudget]") -> str:
    """Return the footnote for starred max_connections, with what each estimate may really read."""
    ranges = []
    for i in instances:
        found = i.max_connections.reading_range
        text = f"{i.instance_class} {found[0]}–{found[1]}" if found else None
        if text and text not in ranges:
            ranges.append(text)
    return ESTIMATE_NOTE + (f"; a real instance may read (the rule's leave-one-out range): {', '.join(ranges)}" if ranges else "")


def _instance_name(instance: InstanceBudget) -> str:
    return f"{instance.database}/{instance.role}"


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
    sources = sorted(instance.demand_by_source, key=lambda s: (not s.unbounded, -s.demand[scenario]))
    parts = [f"{s.source} {'unbounded' if s.unbounded else s.demand[scenario]}" for s in sources[:count]]
    more = len(sources) - count
    return ", ".join(parts) + (f", … {more} more" if more > 0 else "")


def _worst_scenario(instance: InstanceBudget) -> str:
    return max(instance.scenarios, key=lambda s: (instance.scenarios[s].demand is None, instance.scenarios[s].demand or 0))


def _observed(observed: "Mapping[tuple[str, str], ObservedPeak] | None", instance: InstanceBudget) -> str:
    """Return the instance's observed peak (``planner check --observed``) as a cell: "95 (2026-11-02)", or "-"."""
    peak = (observed or {}).get((instance.database, instance.role))
    if peak is None or peak.peak is None:
        return "-"
    return f"{peak.peak} ({peak.date})" if peak.date else str(peak.peak)


def render_text(report: BudgetReport, observed: "Mapping[tuple[str, str], ObservedPeak] | None" = None) -> str:
    """Return the readable table: per instance and scenario, usable, alarm line, demand, status."""
    rows: list[list[object]] = []
    for instance in report.instances:
        first = True
        for scenario, result in instance.scenarios.items():
            free = None if result.demand is None else instance.usable - result.demand
            rows.append([
                _instance_name(instance) if first else "",
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
    flagged = [i for i in report.instances if i.status != "ok"]
    if flagged:
        lines.append("")
        for instance in flagged:
            worst = _worst_scenario(instance)
            lines.append(f"largest sources on {_instance_name(instance)} ({worst}): {_top_sources(instance, worst)}")
    if report.warnings:
        lines += ["", "warnings:"] + [f"  - {w}" for w in report.warnings]
    return "\n".join(lines)


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


def render_json(report: BudgetReport, observed: "Mapping[tuple[str, str], ObservedPeak] | None" = None) -> str:
    """Return the spec §5 JSON document (indented unless it is large); ``observed_peak`` per instance with --observed."""
    sources = sum(len(i.demand_by_source) for i in report.instances)
    doc = report_dict(report)
    if observed is not None:
        for entry, instance in zip(doc["instances"], report.instances):
            peak = observed.get((instance.database, instance.role))
            entry["observed_peak"] = None if peak is None else peak.peak
            entry["observed_peak_at"] = None if peak is None else peak.peak_at
    return json.dumps(doc, indent=2 if sources <= PRETTY_JSON_MAX_SOURCES else None)


def render_markdown(report: BudgetReport, observed: "Mapping[tuple[str, str], ObservedPeak] | None" = None) -> str:
    """Return a pull-request comment: verdict, a summary table, details folded."""
    scenarios = list(report.scenarios)
    rows: list[list[object]] = []
    for instance in report.instances:
        cells: list[object] = [
            _instance_name(instance), instance.instance_class or "-", _max_label(instance), instance.usable, instance.alarm_at,
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
    if report.warnings:
        out += ["", "**Warnings**", ""] + [f"- {md_escape(str(w))}" for w in report.warnings]
    for instance in report.instances:
        srows = [
            [s.source + (f" (via {s.via})" if s.via else "")]
            + [("unbounded" if s.unbounded else s.demand[sc]) for sc in scenarios]
            for s in instance.demand_by_source
        ]
        out += [
            "",
            f"<details><summary>Demand by source on {md_escape(_instance_name(instance))}</summary>",
            "",
            markdown_table(["source"] + scenarios, srows) if srows else "_no sources_",
            "",
            "</details>",
        ]
    return "\n".join(out)


CSV_COLUMNS = ("topology", "database", "role", "instance_class", "scenario", "source", "kind", "via", "demand",
               "instance_demand", "usable", "alarm_at", "status", "estimated")


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


def render_csv(report: BudgetReport) -> str:
    """Return one row per instance, scenario and source, for spreadsheets."""
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
                       source.kind, source.via, None if source.unbounded else source.demand[scenario], result.demand,
                       instance.usable, instance.alarm_at, result.status, "yes" if estimated else "no")
                writer.writerow([csv_cell(v) for v in row])
    return out.getvalue()


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


def render_github(report: BudgetReport) -> str:
    """Return GitHub workflow annotations pointing at the offending database, service or pooler."""
    path = report.topology.path
    out: list[str] = []
    level = {"over": "error", "warn": "warning"}
    for instance in report.instances:
        if instance.status == "ok":
            continue
        worst = _worst_scenario(instance)
        result = instance.scenarios[worst]
        message = (
            f"{_instance_name(instance)} ({_class_label(instance)}) is {result.status} in {worst}: demand "
            f"{_demand(result.demand)} vs usable {instance.usable}, alarm at {instance.alarm_at}. "
            f"Largest sources: {_top_sources(instance, worst)}"
        )
        out.append(_annotation(level[instance.status], path, instance.line, f"{instance.database} {result.status} budget", message))
        total = result.demand or 0
        for source in sorted(instance.demand_by_source, key=lambda s: (not s.unbounded, -s.demand[worst]))[:3]:
            # point only at the sources that make the difference: unbounded, or ≥ 10 % of the demand
            if source.line is None or not (source.unbounded or source.demand[worst] * 10 >= total):
                continue
            share = "unbounded" if source.unbounded else f"{source.demand[worst]} connections"
            kind = "pooler" if source.kind == "pooler" else "service"
            out.append(_annotation(
                level[instance.status], path, source.line, f"{source.source} on {instance.database}",
                f"{kind} {source.source} opens {share} on {_instance_name(instance)} in {worst} ({source.working[worst]})",
            ))
    for pooler in report.poolers:
        if pooler.status == "over":
            worst = max(pooler.scenarios, key=lambda s: (pooler.scenarios[s].demand is None, pooler.scenarios[s].demand or 0))
            out.append(_annotation(
                "error", path, pooler.line, f"{pooler.pooler} refuses clients",
                f"{pooler.pooler}: client demand {_demand(pooler.scenarios[worst].demand)} in {worst} exceeds "
                f"replicas × max_client_conn = {pooler.client_capacity}",
            ))
    for warning in report.warnings:
        out.append(_annotation("warning", path, warning.line, f"planner: {warning.code}", str(warning)))
    # the topology's name is free text: escaped like a message, a newline in it cannot start a command
    out.append(f"planner: {gh_escape_data(report.topology.name)} is {report.status}")
    return "\n".join(out)


# --------------------------------------------------------------------------- several topologies


def overall_status(reports: Sequence[BudgetReport]) -> str:
    """Return the verdict over several topologies: the worst of theirs."""
    return worst_status([r.status for r in reports])


def _tally(reports: Sequence[BudgetReport]) -> str:
    """Return "2 over, 1 ok": how many topologies have each status, worst first."""
    counts = [(status, sum(r.status == status for r in reports)) for status in ("over", "warn", "ok")]
    return ", ".join(f"{n} {status}" for status, n in counts if n)


def render_text_many(reports: Sequence[BudgetReport],
                     observed: "Mapping[tuple[str, str], ObservedPeak] | None" = None) -> str:
    """Return one text block per topology, then the verdict over all of them (one report: its block alone)."""
    if len(reports) == 1:
        return render_text(reports[0], observed)
    blocks = [render_text(report) for report in reports]
    verdict = f"{len(reports)} topologies: {overall_status(reports).upper()} ({_tally(reports)})"
    return "\n\n".join(blocks + [verdict])


def render_json_many(reports: Sequence[BudgetReport],
                     observed: "Mapping[tuple[str, str], ObservedPeak] | None" = None) -> str:
    """Return the spec §5 document for one topology, or ``{"status", "topologies": [...]}`` for several.

    One topology keeps the single document exactly (the stable contract of docs/schema/check.schema.json);
    several are a list of those documents under ``topologies``, with the worst status beside it.
    """
    if len(reports) == 1:
        return render_json(reports[0], observed)
    sources = sum(len(i.demand_by_source) for r in reports for i in r.instances)
    doc = {
        "status": overall_status(reports),
        "topologies": [report_dict(report) for report in reports],
        "planner_version": __version__,
    }
    return json.dumps(doc, indent=2 if sources <= PRETTY_JSON_MAX_SOURCES else None)


def render_markdown_many(reports: Sequence[BudgetReport],
                         observed: "Mapping[tuple[str, str], ObservedPeak] | None" = None) -> str:
    """Return one pull-request comment: the verdict over all topologies, a summary table, then each one's section."""
    if len(reports) == 1:
        return render_markdown(reports[0], observed)
    status = overall_status(reports)
    rows = [[r.topology.name, r.topology.path, STATUS_MARK[r.status]] for r in reports]  # the table escapes cells
    out = [
        f"### planner: {len(reports)} topologies, {STATUS_MARK[status]}",
        "",
        markdown_table(["topology", "file", "status"], rows),
    ]
    for report in reports:
        out += ["", render_markdown(report)]
    return "\n".join(out)


def render_csv_many(reports: Sequence[BudgetReport]) -> str:
    """Return one CSV for all topologies: one header, and a last ``file`` column when there are several."""
    if len(reports) == 1:
        return render_csv(reports[0])
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for i, report in enumerate(reports):
        rows = list(csv.reader(io.StringIO(render_csv(report))))
        header, body = rows[0], rows[1:]
        if i == 0:
            writer.writerow(header + ["file"])
        for row in body:
            writer.writerow(row + [csv_cell(report.topology.path)])
    return out.getvalue()


def render_github_many(reports: Sequence[BudgetReport]) -> str:
    """Return every topology's annotations (each names its own file), then the verdict over all of them."""
    if len(reports) == 1:
        return render_github(reports[0])
    lines = [render_github(report) for report in reports]
    lines.append(f"planner: {len(reports)} topologies are {overall_status(reports)} ({_tally(reports)})")
    return "\n".join(lines)
