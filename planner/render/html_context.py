"""The documented context objects of the report's templates.

Each template reads one :class:`ReportContext`; every field of every class here carries a
``metadata["help"]`` saying what it holds (the way datasette documents its template contexts),
and ``tests/test_report.py`` holds every field to that. Nested values that are the library's
own results (``InstanceBudget``, ``PoolerBudget``, ``BreakingPoint``, ``ClassFit``) are passed
as they are: the templates read their documented attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from markupsafe import Markup

from planner.budget.breaking import BreakingPoint
from planner.budget import InstanceBudget, PoolerBudget, SourceDemand
from planner.budget.grouping import FindingGroup
from planner.budget.candidates import ClassFit
from planner.advice.recommend import Recommendation
from planner.render.drawing import PendingSvg


def doc(help: str) -> Any:
    """Return a dataclass field documented with ``help`` (read by the context test and the docs)."""
    return field(metadata={"help": help})


@dataclass(frozen=True)
class Chart:
    """An inline SVG chart with its text alternative."""

    svg: Markup | PendingSvg = doc("the chart as an inline <svg> fragment (already escaped by matplotlib), or one a worker is drawing")
    label: str = doc("one-paragraph text alternative: the aria-label of the chart's wrapper")
    caption: str = doc("what the chart shows, for the <figcaption>")


@dataclass(frozen=True)
class SourcedValue:
    """One value the topology read from the deployment (``sources``/``from``), and where it came from."""

    entry: str = doc("the topology entry: 'services.web'")
    key: str = doc("the key inside the entry ('replicas.max'), or '' for the entry's own `from:`")
    value: str = doc("the value as the topology would write it, or the reference for the entry's `from:`")
    origin: str = doc("where it came from: 'HorizontalPodAutoscaler/web spec.maxReplicas, deploy/web.yaml:12'")


@dataclass(frozen=True)
class ProductionView:
    """What CloudWatch saw of one instance over time (``report --observed`` with a series), against its budget."""

    name: str = doc("the instance of the topology: 'main/writer' (every reader matched to one series is said once)")
    instance: str = doc("the DB instance CloudWatch names: 'shop-db'")
    basis: str = doc("what the numbers rest on: 'a 42-day window of 5-minute maxima, 2 day(s) without data'")
    summary: str = doc("the trend in one line, an estimate with its band (planner.live.trend.Trend.sentence)")
    peak: int | None = doc("the highest maximum in the window")
    peak_at: str | None = doc("when (ISO 8601, UTC)")
    p95: float | None = doc("95th percentile of the maxima (see percentiles_of)")
    p99: float | None = doc("99th percentile of the maxima")
    percentiles_of: str = doc("'5-minute maxima', or '1-hour maxima' for windows past 63 days")
    busiest_hour: str | None = doc("the hour of the week with the highest maximum: 'Tuesday 14:00 UTC'")
    chart: Chart | None = doc("daily peaks, usable and alarm lines, trend and forecast band (None: no daily peak)")


@dataclass(frozen=True)
class UsageView:
    """What each service held and used on one instance over a sampling window (``report --samples``)."""

    instance: str = doc("the topology's instance the sessions were compared with: 'main/writer'")
    window: str = doc("the window sampled: '30 samples every 1s over 30s, 2026-12-07T10:00:00Z'")
    sentences: tuple[str, ...] = doc("one per planned source: 'web holds 120 (pool 15 × 8 processes), at most 14 active in 30m ...'")
    unknown: tuple[str, ...] = doc("application names the plan does not know, with what they held")
    partial: str = doc("why the window is partial ('' when complete)")
    chart: Chart | None = doc("held vs active bars per source (None: no session sampled)")


@dataclass(frozen=True)
class Verdict:
    """The banner of one instance or one over-budget pooler: its status and the one number that matters."""

    subject: str = doc("'main/writer', or 'pooler bouncer'")
    status: str = doc("ok | warn | over")
    headline: str = doc("e.g. 'rollout demand 1,080 vs usable 806: 274 over'")
    detail: str = doc("the class and the budget lines behind the headline")
    estimated: bool = doc("the budget rests on an estimated DBInstanceClassMemory")
    anchor: str = doc("the id of the instance's or pooler's section")


@dataclass(frozen=True)
class BreakingView:
    """One source's breaking point, in a sentence."""

    point: BreakingPoint = doc("the computed breaking point (planner.budget.breaking.BreakingPoint)")
    sentences: tuple[str, ...] = doc("what it means, one sentence per instance or pooler side")


@dataclass(frozen=True)
class InstanceView:
    """One database instance: its budget, its sources and its charts."""

    budget: InstanceBudget = doc("the computed budget (planner.budget.InstanceBudget)")
    name: str = doc("'database/role', e.g. 'main/writer'")
    anchor: str = doc("the id of its section")
    estimated: bool = doc("max_connections rests on an estimated DBInstanceClassMemory")
    worst_scenario: str = doc("the scenario with the largest demand")
    folded_into: str | None = doc("for reader-2, reader-3 …: the reader whose charts stand for it (identical budget)")
    same_as: tuple[str, ...] = doc("the readers folded into this one")
    sources: tuple[SourceDemand, ...] = doc("every source on the instance, largest worst-scenario demand first")
    demand_chart: Chart | None = doc("stacked demand by source per scenario (None when folded, or when nothing connects)")
    waterfall_chart: Chart | None = doc("max_connections down to headroom (None when folded)")
    breaking: tuple[BreakingView, ...] = doc("breaking points of its largest services (empty when folded)")
    breaking_chart: Chart | None = doc("their demand curves (None when nothing can be drawn)")


@dataclass(frozen=True)
class ClassesView:
    """Every instance class of one database's engine against its worst demand."""

    database: str = doc("the database's name")
    engine: str = doc("its engine")
    anchor: str = doc("the id of its section")
    fits: tuple[ClassFit, ...] = doc("every class judged, smallest memory first (planner.budget.candidates.ClassFit)")
    counts: Mapping[str, int] = doc("how many classes fit, are tight, are over")
    current: ClassFit | None = doc("the class it runs on, judged")
    shortlist: tuple[ClassFit, ...] = doc("the smallest classes that fit, for the table under the chart")
    chart: Chart | None = doc("the chart (None for self-managed databases)")
    note: str = doc("why there is no chart, when there is none")
    burstable_note: str = doc("how many burstable classes that fit are left out of the shortlist and why ('' when none are)")


@dataclass(frozen=True)
class Action:
    """The one change the report leads with: ``planner recommend``'s first option for the worst flagged database."""

    database: str = doc("the database it is for (the worst of those that warn or are over)")
    problem: str = doc("what is over or warns there, as recommend says it")
    option_id: str = doc("its id for `recommend --option` and `emit --option`: 'main:1' ('' when no option fits)")
    title: str = doc("what to change, as recommend words it ('' when no option fits)")
    effect: str = doc("the worst demand before → after against the alarm line: 'rollout 17,462 → 63 vs alarm 64'")
    status_after: str = doc("ok | warn | over once applied, as check would say")
    cost: str = doc("the monthly cost of the change: '+$21.90/month', '$0.00/month', or 'unknown'")
    cost_note: str = doc("where the price comes from ('' when it changes nothing)")
    requires: tuple[str, ...] = doc("what it takes or costs the applications, one line each")
    command: str = doc("the command that writes the changed topology")
    alternatives: int = doc("how many other options recommend lists for this database (in the Recommendations section)")
    other_databases: tuple[str, ...] = doc("the other flagged databases, whose options are in the Recommendations section")


@dataclass(frozen=True)
class Lead:
    """The first screen: the verdict, the one recommended change, the change against the baseline."""

    verdicts: tuple[Verdict, ...] = doc("the banners shown first: the worst, at most three")
    folded: tuple[Verdict, ...] = doc("the other banners, folded under the first ones (in page order)")
    action: Action | None = doc("the one recommended change (None when nothing warns or is over, or without a catalogue)")
    baseline: str | None = doc("the baseline topology's name (None without --baseline)")
    changes: tuple[str, ...] = doc("what changed against the baseline, one line each, as `planner diff` summarises it")
    changes_more: int = doc("summary lines left out of the first screen (the whole change is further down)")


@dataclass(frozen=True)
class ReportContext:
    """Everything ``report.html`` reads."""

    title: str = doc("the page title (--title, else 'Connection budget: NAME')")
    topology: str = doc("the topology's name (its `name:` key, or the file's stem)")
    path: str = doc("the topology file as given")
    status: str = doc("ok | warn | over, for the whole topology")
    planner_version: str = doc("planner's version")
    catalog: str = doc("the catalogue the numbers come from")
    scenarios: tuple[str, ...] = doc("the scenarios, in order")
    verdicts: tuple[Verdict, ...] = doc("one banner per instance, then one per pooler whose client side is over (PgBouncer refuses) or warn (Pgpool-II queues)")
    instances: tuple[InstanceView, ...] = doc("every instance, writer first")
    poolers: tuple[PoolerBudget, ...] = doc("every pooler's budget (planner.budget.PoolerBudget)")
    classes: tuple[ClassesView, ...] = doc("per database, every candidate class")
    warnings: tuple[FindingGroup, ...] = doc("the warnings of `planner check`, one per cause (a group lists its services)")
    acknowledged: str | None = doc("the one line counting the warnings the topology acknowledges (`lints`), or None")
    any_estimate: bool = doc("some number on the page is an estimate")
    estimate_help: str = doc("what 'estimate' means, for the badge's title and the note")
    diff: DiffView | None = doc("the change against --baseline, or None")
    lead: Lead = doc("what the first screen shows: the verdict, the one recommended change, the change against the baseline")
    recommendations: tuple[Recommendation, ...] = doc("planner recommend's ranked options per flagged database (planner.advice.recommend.Recommendation)")
    sourced: tuple[SourcedValue, ...] = doc("the values read from the deployment, entry by entry (empty: none)")
    production: tuple[ProductionView, ...] = doc("with report --observed and a version-2 observations file: each observed series (empty: none)")
    usage: UsageView | None = doc("with report --samples (planner inspect --sample -o): held vs used per service, else None")


@dataclass(frozen=True)
class NumberChange:
    """One number before and after (a budget line, a scenario's demand)."""

    label: str = doc("what the number is: 'usable', 'peak demand' …")
    before: str = doc("the baseline's value as text ('—' when absent)")
    after: str = doc("this topology's value as text ('—' when absent)")
    delta: int | None = doc("after − before, where both are numbers")
    changed: bool = doc("before and after differ")


@dataclass(frozen=True)
class SubjectChange:
    """An instance or a pooler, before and after."""

    name: str = doc("'main/writer', or the pooler's name")
    state: str = doc("new | removed | changed | unchanged")
    numbers: tuple[NumberChange, ...] = doc("each of its numbers, before and after")


@dataclass(frozen=True)
class SourceChange:
    """One source's demand, before and after, per scenario."""

    where: str = doc("the instance it lands on ('main/writer'), or 'POOLER clients' for a pooler's clients")
    source: str = doc("'SERVICE@ENV', or the pooler's name for its server pool")
    state: str = doc("new | removed | changed | unchanged")
    cells: tuple[NumberChange, ...] = doc("its demand per scenario, before and after")
    delta: int | None = doc("change in its worst-scenario demand (None when a side is unbounded)")


@dataclass(frozen=True)
class DiffView:
    """The change from ``--baseline`` to this topology."""

    baseline: str = doc("the baseline topology's name")
    baseline_path: str = doc("the baseline file as given")
    baseline_status: str = doc("ok | warn | over, before")
    status: str = doc("ok | warn | over, after")
    instances: tuple[SubjectChange, ...] = doc("every instance of either side")
    poolers: tuple[SubjectChange, ...] = doc("every pooler of either side")
    sources: tuple[SourceChange, ...] = doc("every source of either side, largest change first")
    counts: Mapping[str, int] = doc("how many sources are new, removed, changed, unchanged")
    chart: Chart | None = doc("the change per source as bars (None when nothing changed)")
    chart_omitted: int = doc("changed sources left out of the chart (it shows the largest changes)")
