"""``planner report``: one self-contained HTML file for a human review of a topology's budget.

The page is rendered by one Jinja2 environment (autoescape on, ``StrictUndefined``) from
templates shipped in ``planner/render/templates``. Each template gets one documented context
object, :class:`ReportContext`: every field says what it holds in its ``metadata["help"]``, the
way datasette documents its template contexts, and a test holds every field to that. Charts are
inline SVG from :mod:`.charts`; nothing on the page is fetched from anywhere.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from dataclasses import replace
from typing import TYPE_CHECKING


import planner  # planner.__version__ is read on use: the metadata lookup costs every start-up
from planner.budget.breaking import BreakingPoint, breaking_point, largest_services
from planner.budget import BudgetReport, InstanceBudget, PoolerBudget, SourceDemand
from planner.budget.instances import worst_scenario
from planner.budget.grouping import acknowledged_summary, grouped
from planner.budget.candidates import class_fits, proposed
from planner.budget.plan import burstable_left_out, burstable_reason
from planner.model import SOURCE_ESTIMATED, Topology
from planner.advice.recommend import recommend
from planner.render import charts, charts_plan, charts_production
from planner.render.drawing import Painter, pool_size
from planner.render.html_context import (
    BreakingView, Chart, ClassesView, InstanceView, ProductionView, ReportContext, SourcedValue, UsageView, Verdict,
)
from planner.render.html_diff import build_diff
from planner.render.html_lead import lead

if TYPE_CHECKING:
    from typing import Mapping

    from planner.live.observe import ObservedPeak
    from planner.live.usage import SampledUse
    import jinja2

    from planner.catalog import Catalog

ESTIMATE_HELP = (
    "estimated: DBInstanceClassMemory for this class is estimated from its nominal memory, not observed; "
    "where the estimate may be optimistic the budget counts on the low end of its range; "
    "run SHOW max_connections on the instance and pass it with --observations"
)
SHORTLIST = 5


def slug(text: str) -> str:
    """Return ``text`` as an HTML id: letters, digits and dashes only."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "x"


def _estimated(instance: InstanceBudget) -> bool:
    return instance.max_connections.source == SOURCE_ESTIMATED


def _worst_value(source: SourceDemand) -> int:
    return max(source.demand.values(), default=0)


def verdict(instance: InstanceBudget, observed: "ObservedPeak | None" = None) -> Verdict:
    """Return the banner of ``instance``: its worst scenario against the line it crosses, or its headroom."""
    worst = charts.worst_scenario(instance)
    demand = instance.scenarios[worst].demand
    usable, alarm = instance.usable, instance.alarm_at
    if demand is None:
        names = ", ".join(s.source for s in instance.demand_by_source if s.unbounded)
        headline = f"an unbounded pool ({names}) has no limit: over in every scenario"
    elif demand > usable:
        headline = f"{worst} demand {demand:,} vs usable {usable:,}: {demand - usable:,} over"
    elif demand > alarm:
        headline = f"{worst} demand {demand:,} vs alarm_at {alarm:,}: {demand - alarm:,} past the alarm line, {usable - demand:,} before refusals"
    else:
        headline = f"{worst} demand {demand:,} vs alarm_at {alarm:,}: {alarm - demand:,} to spare"
    mc = instance.max_connections
    source = mc.estimate_text() if mc.source == "estimated" else mc.source
    if mc.uncapped is not None:  # the formula gives more; say which rule lowers it
        source += f"; the formula gives {mc.uncapped:,}, but {mc.cap_reason}"
    detail = (
        f"{instance.instance_class or instance.engine}: max_connections {mc.value:,} ({source}) − reserved "
        f"{instance.reserved:,} = usable {usable:,}; alarm_at {alarm:,}"
    )
    if observed is not None and observed.peak is not None:
        detail += f"; observed peak {observed.peak:,} (CloudWatch DatabaseConnections, {observed.date}, {observed.days} days)"
    name = instance.name
    return Verdict(name, instance.status, headline, detail, _estimated(instance), slug(f"instance-{name}"))


def pooler_verdict(pooler: PoolerBudget) -> Verdict:
    """Return the banner of a pooler whose client side refuses clients (PgBouncer) or makes them wait (Pgpool-II)."""
    worst = worst_scenario(pooler.scenarios)
    demand = pooler.scenarios[worst].demand
    capacity = pooler.client_capacity or 0
    fate = "wait in Pgpool-II's queue" if pooler.client_overflow == "wait" else "refused"
    beyond = f"every client beyond it (unbounded pool) {fate}" if demand is None else f"{demand - capacity:,} {fate}"
    headline = f"{worst} client demand {charts.fmt(demand)} vs client capacity {capacity:,}: {beyond}"
    return Verdict(f"pooler {pooler.pooler}", pooler.status, headline, pooler.client_working, False, slug(f"pooler-{pooler.pooler}"))


def breaking_sentences(point: BreakingPoint) -> tuple[str, ...]:
    """Say what a breaking point means, for the instance and for each pooler in between."""
    where = f"{point.database}/{point.role}"
    knob = point.knob
    if point.unbounded:
        return (f"{point.service}: its pool is unbounded, so no {knob} is safe; set a pool size.",)
    out: list[str] = []
    if point.direct:
        if point.count is None:
            out.append(f"{point.service}: {where} does not run out up to {knob} {charts.fmt(point.curve[-1].count)}.")
        elif point.count == 1:
            out.append(f"{point.service}: {where} is over even at {knob} 1 (worst-scenario demand {charts.fmt(point.demand)} > usable {point.usable:,}).")
        elif point.count <= point.current:
            out.append(
                f"{point.service}: {where} runs out at {knob} {point.count:,}, at or below today's {point.current:,} "
                f"(worst-scenario demand {charts.fmt(point.demand)} > usable {point.usable:,})."
            )
        else:
            out.append(
                f"{point.service}: {where} runs out at {knob} {point.count:,} (today {point.current:,}, "
                f"{point.count - point.current:,} more): worst-scenario demand {charts.fmt(point.demand)} > usable {point.usable:,}."
            )
    for limit in point.poolers:
        if limit.capacity is None:
            out.append(
                f"{point.service}: behind RDS Proxy {limit.pooler}: the database never runs out (the proxy holds its share "
                "of max_connections); no client limit is modelled for RDS Proxy."
            )
        elif limit.count is None:
            out.append(f"{point.service}: behind pooler {limit.pooler}: the database never runs out; the pooler's client side holds.")
        else:
            waits = limit.kind == "pgpool"
            today = (("clients already wait today" if waits else "already refusing today") if limit.count <= point.current
                     else f"today {point.current:,}")
            verb = "makes clients wait in its queue" if waits else "refuses"
            out.append(
                f"{point.service}: behind pooler {limit.pooler}: the database never runs out; the pooler's client side "
                f"{verb} at {knob} {limit.count:,} ({today}; client demand {charts.fmt(limit.demand)} > client capacity {limit.capacity:,})."
            )
    return tuple(out)


class _Ids:
    """Hands out chart id prefixes, in page order, so every SVG id on the page is unique."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"c{self.n}"


def _demand_caption(instance: InstanceBudget, name: str) -> tuple[str, str]:
    scen = "; ".join(
        f"{s} {charts.fmt(r.demand)} ({r.status})" for s, r in instance.scenarios.items()
    )
    segs = charts.segments(instance.demand_by_source, list(instance.scenarios))
    worst = charts.worst_scenario(instance)
    parts = ", ".join(f"{seg.label} {charts.fmt(None if seg.unbounded else seg.demand[worst])}" for seg in segs)
    label = (
        f"Stacked bars of demand by source on {name} per scenario: {scen}. Lines: usable {instance.usable:,}, "
        f"alarm_at {instance.alarm_at:,}. Sources in {worst}: {parts or 'none'}."
    )
    caption = (
        f"Demand on {name} by source, per scenario, against usable ({instance.usable:,}, solid) and alarm_at "
        f"({instance.alarm_at:,}, dashed)." + (" The smallest sources are grouped as “others”." if len(segs) > charts.TOP_SOURCES else "")
    )
    return label, caption


def _waterfall_caption(instance: InstanceBudget, name: str) -> tuple[str, str]:
    mc = instance.max_connections.value
    slots = ", ".join(f"{r.parameter} {r.value}{' (estimate)' if r.estimated else ''} for {r.holder}" for r in instance.reserves)
    worst = charts.worst_scenario(instance)
    demand = instance.scenarios[worst].demand
    rest = "unbounded demand: no headroom" if demand is None else f"demand ({worst}) {demand:,}, headroom {instance.usable - demand:,}"
    label = f"Waterfall for {name}: max_connections {mc:,}, minus reserved ({slots}), usable {instance.usable:,}, alarm_at {instance.alarm_at:,}, {rest}."
    return label, f"From max_connections to headroom on {name}, in the worst scenario ({worst}). Negative headroom is the shortfall."


def _instance_views(report: BudgetReport, catalog: "Catalog | None", ids: _Ids, painter: Painter) -> list[InstanceView]:
    views: list[InstanceView] = []
    first_reader: dict[str, InstanceView] = {}
    for instance in report.instances:
        name = instance.name
        sources = tuple(sorted(instance.demand_by_source, key=lambda s: (not s.unbounded, -_worst_value(s), s.source)))
        leader = first_reader.get(instance.database)
        bare = InstanceView(
            budget=instance, name=name, anchor=slug(f"instance-{name}"), estimated=_estimated(instance),
            worst_scenario=charts.worst_scenario(instance), folded_into=None, same_as=(), sources=sources,
            demand_chart=None, waterfall_chart=None, breaking=(), breaking_chart=None,
        )
        if instance.role.startswith("reader") and leader is not None:
            # every reader carries the same share on the same class: one set of charts says it
            views.append(replace(bare, folded_into=leader.name))
            continue
        demand = None
        if instance.demand_by_source:  # an instance nothing connects to needs no empty chart
            label, caption = _demand_caption(instance, name)
            demand = Chart(painter.draw(charts.demand_chart, instance, f"Demand vs budget: {name}", ids()), label, caption)
        label, caption = _waterfall_caption(instance, name)
        waterfall = Chart(painter.draw(charts.waterfall_chart, instance, f"Budget waterfall: {name}", ids()), label, caption)
        points = [
            breaking_point(report.topology, catalog, instance.database, service, instance.role)
            for service in largest_services(report, instance)
        ]
        breaking = tuple(BreakingView(p, breaking_sentences(p)) for p in points)
        bchart = None
        if charts_plan.breaking_panels(points):
            svg = painter.draw(charts_plan.breaking_chart, points, f"Breaking point: {name}", ids())
            text = " ".join(s for b in breaking for s in b.sentences)
            bchart = Chart(svg, f"Demand on {name} as each of its largest sources grows. {text}",
                           "Worst-scenario demand as each source's count grows (everything else unchanged), exact at every point.")
        view = replace(bare, demand_chart=demand, waterfall_chart=waterfall, breaking=breaking, breaking_chart=bchart)
        views.append(view)
        if instance.role.startswith("reader"):
            first_reader[instance.database] = view
    # name the folded readers on their leader
    folded: dict[str, list[str]] = {}
    for view in views:
        if view.folded_into:
            folded.setdefault(view.folded_into, []).append(view.budget.role)
    return [
        replace(view, same_as=tuple(folded[view.name])) if view.name in folded else view
        for view in views
    ]


def _classes_views(report: BudgetReport, catalog: "Catalog | None", ids: _Ids, painter: Painter) -> list[ClassesView]:
    views: list[ClassesView] = []
    for name, db in report.topology.databases.items():
        anchor = slug(f"classes-{name}")
        fits = class_fits(report.topology, catalog, name) if catalog is not None else []
        if not fits:
            note = f"{db.engine}: no catalogue classes to compare" if db.engine == "self-managed" else "no classes in the catalogue for this engine"
            views.append(ClassesView(name, db.engine, anchor, (), {}, None, (), None, note, ""))
            continue
        counts = {k: sum(1 for f in fits if f.fit == k) for k in ("fits", "tight", "over")}
        current = next((f for f in fits if f.current), None)
        # plan's choice: burstable classes are not proposed for a database that serves production
        reason = burstable_reason(report.topology, name, None)
        shown = proposed(fits, reason)
        burstable_note = burstable_left_out(sum(1 for f in fits if f.fit == "fits" and f.candidate.burstable), reason)
        shortlist = tuple(shown)[:SHORTLIST]
        smallest = shortlist[0].name if shortlist else "none"
        demand = fits[0].candidate.worst_demand
        label = (
            f"Usable connections of {len(fits)} {db.engine} classes, smallest memory first, against the worst demand "
            f"({charts.fmt(demand)}): {counts['fits']} fit, {counts['tight']} tight, {counts['over']} over. "
            f"Current class: {current.name + ' (' + current.fit + ')' if current else 'none'}. Smallest that fits: {smallest}."
        )
        caption = (
            "Every class of the engine, by memory: fits = worst demand at or under alarm_at (circle), tight = under usable "
            "(triangle), over (square); hollow markers are estimates. The line is the worst demand on each class."
        )
        svg = painter.draw(charts_plan.classes_chart, fits, f"Every candidate class: {name} ({db.engine})", ids())
        views.append(ClassesView(name, db.engine, anchor, tuple(fits), counts, current, shortlist, Chart(svg, label, caption), "",
                                 burstable_note))
    return views


_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _production_views(report: BudgetReport, observed: "Mapping[tuple[str, str], ObservedPeak]", ids: _Ids,
                      painter: Painter) -> list[ProductionView]:  # fmt: skip
    """Return one view per observed series (readers matched to one series: once), with its chart."""
    from planner.live.observe import observed_series

    views: list[ProductionView] = []
    for instance, peak in observed_series(report, observed):
        trend = peak.trend
        assert trend is not None
        basis = peak.basis()
        known = [(value, hour) for hour, value in enumerate(trend.profile) if value is not None]
        busiest = None
        if known:
            hour = max(known)[1]
            busiest = f"{_WEEKDAYS[hour // 24]} {hour % 24:02d}:00 UTC"
        chart = None
        if trend.daily_peaks:
            label = (f"Daily peaks of CloudWatch DatabaseConnections on {peak.instance} ({basis}) against usable {instance.usable:,} "
                     f"and the alarm line {instance.alarm_at:,}: {trend.sentence()}")
            caption = ("Each point is a day's highest maximum; the solid line is the Theil–Sen trend of those peaks, the dashed one "
                       "its forecast (an estimate) with the band of its slope shaded. Days with less than half a typical day's data "
                       "are left out.")
            svg = painter.draw(charts_production.history_chart, trend, instance.usable, instance.alarm_at,
                               f"Observed: {instance.name} ({peak.instance})", ids())  # fmt: skip
            chart = Chart(svg, label, caption)
        views.append(ProductionView(instance.name, peak.instance, basis, trend.sentence(), peak.peak, peak.peak_at, trend.p95,
                                    trend.p99, trend.quantiles_of, busiest, chart))  # fmt: skip
    return views


def _usage_view(report: BudgetReport, samples: "SampledUse", ids: _Ids, painter: Painter) -> UsageView:
    """Return held vs used per planned source over the sampling window, with its bars."""
    from planner.live.sample import format_duration
    from planner.render.sample import window_line

    window = format_duration(samples.samples.seconds)
    seen = [p for p in samples.plan if p.names]
    chart = None
    if seen:
        rows = [(p.row.key, p.held_max, p.active_max, p.active_p95) for p in seen]
        label = "Per source, the most connections held at once and the most active at once (p95 marked): " + "; ".join(
            f"{key} {held:,} held, {active:,} active" for key, held, active, _ in rows)
        caption = ("Held: sessions open (a pool's idle connections too); active: running a query, or idle in a transaction "
                   "(holding its connection busy). The gap is what the pools keep and nobody uses at once.")
        svg = painter.draw(charts_production.usage_chart, rows, f"Held vs active: {samples.instance}", ids())
        chart = Chart(svg, label, caption)
    unknown = tuple(f"{u.key[0] or '(no application_name)'}: held up to {u.held_max}" for u in samples.unknown)
    stop = samples.samples.stop_sentence()
    return UsageView(samples.instance, window_line(samples.samples).removeprefix("sampled: "),
                     tuple(p.sentence(window) for p in samples.plan), unknown, stop or "", chart)  # fmt: skip


def _catalog_label(catalog: "Catalog | None") -> str:
    """Name the catalogue: "bundled" for the package's own, else the file given."""
    if catalog is None:
        return "none"
    bundled = Path(__file__).resolve().parent.parent / "data" / "instance_classes.csv"
    return "bundled" if Path(catalog.path).resolve() == bundled else str(catalog.path)


def build_context(
    report: BudgetReport,
    catalog: "Catalog | None",
    baseline: BudgetReport | None = None,
    title: str | None = None,
    observed: "Mapping[tuple[str, str], ObservedPeak] | None" = None,
    sampled: "SampledUse | None" = None,
) -> ReportContext:
    """Compute everything the page shows: verdicts, charts, candidate classes, breaking points, diff."""
    ids = _Ids()
    # at most three charts per instance and one per database: workers draw them while recommend runs
    with Painter(pool_size(3 * len(report.instances) + len(report.topology.databases))) as painter:
        instances = _instance_views(report, catalog, ids, painter)
        classes = _classes_views(report, catalog, ids, painter)
        production = _production_views(report, observed or {}, ids, painter)
        usage = None if sampled is None else _usage_view(report, sampled, ids, painter)
        recommendations = tuple(recommend(report.topology, catalog, report)) if catalog is not None else ()
    peaks = observed or {}
    verdicts = [verdict(i, peaks.get((i.database, i.role))) for i in report.instances] + [pooler_verdict(p) for p in report.poolers if p.status != "ok"]
    any_estimate = any(v.estimated for v in instances) or any(f.estimated for c in classes for f in c.shortlist)
    return ReportContext(
        title=title or f"Connection budget: {report.topology.name}",
        topology=report.topology.name,
        path=report.topology.path,
        status=report.status,
        planner_version=planner.__version__,
        catalog=_catalog_label(catalog),
        scenarios=report.scenarios,
        verdicts=tuple(verdicts),
        instances=tuple(instances),
        poolers=report.poolers,
        classes=tuple(classes),
        warnings=tuple(grouped(report.warnings)),
        acknowledged=acknowledged_summary(report.acknowledged),
        any_estimate=any_estimate,
        estimate_help=ESTIMATE_HELP,
        diff=None if baseline is None else build_diff(baseline, report, ids()),
        lead=lead(report, verdicts, recommendations, baseline),
        recommendations=recommendations,
        sourced=sourced_values(report.topology),
        production=tuple(production),
        usage=usage,
    )


def sourced_values(topology: Topology) -> tuple[SourcedValue, ...]:
    """Return the values read from the deployment, grouped by entry: its `from:` first, then its keys."""
    groups: dict[str, list[SourcedValue]] = {}
    for path, sourced in topology.provenance.items():
        entry = ".".join(path.split(".")[:2])
        groups.setdefault(entry, []).append(SourcedValue(entry, path[len(entry) + 1:], sourced.value, sourced.origin))
    return tuple(row for rows in groups.values() for row in sorted(rows, key=lambda r: r.key != ""))


@functools.lru_cache(maxsize=1)
def environment() -> "jinja2.Environment":
    """Return the one Jinja2 environment: package templates, autoescape on, undefined names fail."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("planner", "render/templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = charts.fmt
    env.filters["slug"] = slug
    env.filters["signed"] = lambda v: "–" if v is None else f"{v:+,}" if v else "0"
    return env


def render_context(context: ReportContext) -> str:
    """Return the page for ``context``."""
    return environment().get_template("report.html").render(report=context)


def render_report(
    report: BudgetReport,
    catalog: "Catalog | None",
    baseline: BudgetReport | None = None,
    title: str | None = None,
    observed: "Mapping[tuple[str, str], ObservedPeak] | None" = None,
    sampled: "SampledUse | None" = None,
) -> str:
    """Return the whole self-contained HTML report for ``report`` (and its change from ``baseline``)."""
    return render_context(build_context(report, catalog, baseline, title, observed, sampled))
