"""Observed connections: what CloudWatch's ``DatabaseConnections`` saw, next to the planned scenarios.

``planner observe`` writes an observations file (JSON, below); ``planner check --observed FILE``
reads it, shows each instance's observed peak, warns where the plan's steady demand is below what
was actually seen (the topology misses a source: a cron job, a BI tool, an old service) and, from
the series, says how the peak moves and when it reaches the alarm line (:mod:`planner.live.trend`).

Version 2 keeps each instance's series (the maxima on their period's grid, compact:
:mod:`planner.live.history`); version 1 files (the peak only) are still read::

    {"version": 2, "metric": "AWS/RDS DatabaseConnections", "statistic": "Maximum",
     "observations": [{"instance": "shop-db", "database": "shop-db", "role": "writer", "region": "us-east-1",
                       "days": 42, "peak": 95, "peak_at": "2026-11-02T14:05:00Z", "datapoints": 12096,
                       "observed_at": "2026-11-16T09:00:00Z",
                       "series": {"period_seconds": 300, "start": "2026-10-05T09:00:00Z", "values": [41, null, 40]}}]}

Pure: no AWS here (:meth:`planner.adapters.aws.AwsGateway.connection_maxima` reads the metric).
CloudWatch counts client sessions, including superusers and RDS's own ``rdsadmin`` ones, so a peak
a few connections above the plan's steady demand can be those.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping

from planner.errors import InputError, Problem
from planner.live.history import Series, parse_time, read_series

if TYPE_CHECKING:
    from planner.budget import BudgetReport, Finding, InstanceBudget
    from planner.live.trend import Trend

OBSERVATIONS_VERSION = 2
READABLE_VERSIONS = (1, 2)
PERIOD_SECONDS = 300  # version 1 files: every peak is a 5-minute maximum
MAX_DAYS = 63  # CloudWatch keeps 5-minute datapoints for 63 days
ROLES = ("writer", "reader")


@dataclass(frozen=True)
class ObservedPeak:
    """The highest ``DatabaseConnections`` (5-minute maximum) one DB instance reached over ``days``."""

    instance: str
    database: str | None
    role: str  # writer | reader (every reader of the database)
    peak: int | None  # None: CloudWatch had no datapoint
    peak_at: str | None  # ISO 8601, UTC
    days: int
    datapoints: int = 0
    region: str = ""
    observed_at: str = ""
    series: Series | None = None  # the maxima over the window (version 2 files)
    trend: "Trend | None" = None  # what the series says, against the instance it was matched to (apply_observed)

    def basis(self) -> str:
        """Return what a trend of this peak rests on: "a 42-day window of 5-minute maxima, 2 day(s) without data"."""
        if self.series is None:
            return f"the peak of a {self.days}-day window"
        minutes = self.series.period_seconds // 60
        period = f"{minutes // 60}-hour" if minutes >= 60 and minutes % 60 == 0 else f"{minutes}-minute"
        missing = self.trend.missing_days if self.trend is not None else 0
        ended = self.ended()
        return (f"a {self.days}-day window of {period} maxima" + (f", {missing} day(s) without data" if missing else "")
                + (f", no data after {ended} (stopped, renamed or deleted?)" if ended else ""))  # fmt: skip

    def ended(self) -> str | None:
        """Return the last day with data when the series stops more than a day before it was read, else None."""
        if self.series is None or not self.observed_at:
            return None
        try:
            read = parse_time(self.observed_at)
        except ValueError:
            return None
        last = self.series.points()[-1][0] if self.series.datapoints else self.series.start
        return last.strftime("%Y-%m-%d") if read - last > timedelta(days=1) else None

    @property
    def date(self) -> str:
        """Return the day of the peak (``2026-11-02``), or "" if unknown."""
        return (self.peak_at or "")[:10]


def iso(moment: datetime) -> str:
    """Return ``moment`` as ISO 8601 in UTC with a ``Z`` (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def peak_of(points: Iterable[tuple[datetime, float]]) -> tuple[int, datetime] | None:
    """Return the largest value (rounded up to whole connections) and its earliest time; None if no points."""
    best: tuple[float, datetime] | None = None
    for moment, value in points:
        if best is None or value > best[0] or (value == best[0] and moment < best[1]):
            best = (value, moment)
    return None if best is None else (math.ceil(best[0]), best[1])


def placement(instance: Mapping[str, Any], cluster: Mapping[str, Any] | None = None) -> tuple[str, str]:
    """Return (database name as ``planner import rds`` names it, role) of a ``DescribeDBInstances`` entry."""
    ident = str(instance["DBInstanceIdentifier"])
    if instance.get("DBClusterIdentifier"):
        members = (cluster or {}).get("DBClusterMembers", [])
        writer = any(m.get("DBInstanceIdentifier") == ident and m.get("IsClusterWriter") for m in members)
        return str(instance["DBClusterIdentifier"]), "writer" if writer else "reader"
    source = instance.get("ReadReplicaSourceDBInstanceIdentifier")
    if source and not str(source).startswith("arn:"):
        return str(source), "reader"
    return ident, "writer"


def observation(instance: str, database: str | None, role: str, points: list[tuple[datetime, float]], days: int,
                region: str, now: datetime, period_seconds: int = PERIOD_SECONDS) -> ObservedPeak:  # fmt: skip
    """Return what CloudWatch saw of one instance: its peak, and its maxima as a series of ``period_seconds``."""
    found = peak_of(points)
    return ObservedPeak(instance, database, role, found[0] if found else None, iso(found[1]) if found else None,
                        days, len(points), region, iso(now), Series.from_points(points, period_seconds))  # fmt: skip


PROXY_METRICS = ("DatabaseConnections", "ClientConnections")
PROXY_FULL = 0.9  # a proxy whose database connections reached this share of its pool was full: clients waited


@dataclass(frozen=True)
class ObservedProxy:
    """What CloudWatch saw of one RDS Proxy: its connections to the database and from its clients over time.

    RDS publishes a proxy's metrics once a minute from each node that serves it (RDS User Guide,
    "Monitoring RDS Proxy metrics with Amazon CloudWatch", read 2026-12-07), so the proxy's total is
    the Sum over a minute; over a longer period the Sum counts each node once a minute and is divided
    by the period's minutes: the mean total per minute (``statistic`` says which).
    """

    proxy: str
    days: int
    region: str
    observed_at: str
    statistic: str  # "sum across the proxy's nodes per minute" or "mean per minute of that sum, per N minutes"
    series: Mapping[str, Series | None]  # metric name -> series (None: no datapoint)

    def peak(self, metric: str) -> int | None:
        """Return the highest value of ``metric`` (whole connections), or None without data."""
        series = self.series.get(metric)
        found = peak_of(series.points()) if series is not None else None
        return None if found is None else found[0]


def proxy_statistic(period_seconds: int) -> tuple[str, float]:
    """Return (what the values are, the divisor of the Sum) for a proxy's metrics read per ``period_seconds``."""
    minutes = period_seconds // 60
    if minutes <= 1:
        return "sum across the proxy's nodes per minute", 1.0
    return f"mean per minute of the sum across the proxy's nodes, per {minutes} minutes", float(minutes)


def proxy_observation(proxy: str, sums: Mapping[str, list[tuple[datetime, float]]], days: int, region: str, now: datetime,
                      period_seconds: int) -> ObservedProxy:  # fmt: skip
    """Return what CloudWatch saw of one RDS Proxy from the Sum of each of :data:`PROXY_METRICS` per period."""
    statistic, divisor = proxy_statistic(period_seconds)
    series = {metric: Series.from_points([(t, v / divisor) for t, v in sums.get(metric, [])], period_seconds) for metric in PROXY_METRICS}
    return ObservedProxy(proxy, days, region, iso(now), statistic, series)


def _entry(peak: ObservedPeak) -> dict[str, Any]:
    entry = {f.name: getattr(peak, f.name) for f in dataclasses.fields(peak) if f.name != "series"}
    if peak.series is not None:
        entry["series"] = peak.series.to_json()
    return entry


def _proxy_entry(proxy: ObservedProxy) -> dict[str, Any]:
    return {
        "proxy": proxy.proxy, "days": proxy.days, "region": proxy.region, "observed_at": proxy.observed_at,
        "statistic": proxy.statistic, "peaks": {m: proxy.peak(m) for m in PROXY_METRICS},
        "series": {m: None if s is None else s.to_json() for m, s in proxy.series.items()},
    }  # fmt: skip


def observations_document(peaks: Iterable[ObservedPeak], existing: Mapping[str, Any] | None = None,
                          proxies: Iterable[ObservedProxy] = ()) -> dict[str, Any]:  # fmt: skip
    """Return the observations file's document; ``existing`` entries of other instances and proxies are kept."""
    new, new_proxies = list(peaks), list(proxies)
    replaced = {p.instance for p in new}
    kept = [o for o in (existing or {}).get("observations", []) if isinstance(o, dict) and o.get("instance") not in replaced]
    doc: dict[str, Any] = {
        "version": OBSERVATIONS_VERSION, "metric": "AWS/RDS DatabaseConnections", "statistic": "Maximum",
        "observations": kept + [_entry(p) for p in new],
    }  # fmt: skip
    old_proxies = (existing or {}).get("proxies", [])
    kept_proxies = [p for p in old_proxies if isinstance(p, dict) and p.get("proxy") not in {n.proxy for n in new_proxies}] \
        if isinstance(old_proxies, list) else []
    if kept_proxies or new_proxies:
        doc["proxies"] = kept_proxies + [_proxy_entry(p) for p in new_proxies]
    return doc


def _document(path: str | Path) -> dict[str, Any]:
    """Return the observations file's JSON document, checked for its list and version; InputError if not one."""
    label = str(path)
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(Problem(label, "", "observations file not found", hint="write one with planner observe ID -o FILE")) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(Problem(label, "", f"cannot read the observations file: {exc}")) from None
    except json.JSONDecodeError as exc:
        raise InputError(Problem(label, "", f"not JSON: {exc.msg}", line=exc.lineno,
                                 hint="use the file planner observe writes")) from None  # fmt: skip
    if not isinstance(doc, dict) or not isinstance(doc.get("observations"), list):
        raise InputError(Problem(label, "observations", "missing list of observations",
                                 hint="use the file planner observe writes")) from None  # fmt: skip
    version = doc.get("version", 1)
    if version not in READABLE_VERSIONS:
        raise InputError(Problem(label, "version", f"observations file version {version!r} is not one this planner reads "
                                 f"({', '.join(map(str, READABLE_VERSIONS))})", hint="write it again with this planner's observe"))
    return doc


def read_observed(path: str | Path) -> list[ObservedPeak]:
    """Read the instances of an observations file written by ``planner observe``; InputError naming what is wrong."""
    return _peaks_of(_document(path), str(path))


def read_observations(path: str | Path) -> tuple[list[ObservedPeak], list[ObservedProxy]]:
    """Read an observations file once: its instances, then its RDS Proxies; InputError naming what is wrong."""
    doc = _document(path)
    return _peaks_of(doc, str(path)), _proxies_of(doc, str(path))


def _peaks_of(doc: Mapping[str, Any], label: str) -> list[ObservedPeak]:
    peaks: list[ObservedPeak] = []
    problems: list[Problem | str] = []
    for i, item in enumerate(doc["observations"]):
        where = f"observations[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("instance"), str):
            problems.append(Problem(label, where, "an observation needs an instance", hint='e.g. {"instance": "shop-db", "peak": 95}'))
            continue
        peak, role, database = item.get("peak"), item.get("role", "writer"), item.get("database")
        if peak is not None and (isinstance(peak, bool) or not isinstance(peak, int) or peak < 0):
            problems.append(Problem(label, f"{where}.peak", f"{peak!r} is not a number of connections", hint="write a whole number, or null"))
        elif role not in ROLES:
            problems.append(Problem(label, f"{where}.role", f"{role!r} is not a role", hint="write writer or reader"))
        elif database is not None and not isinstance(database, str):
            problems.append(Problem(label, f"{where}.database", f"{database!r} is not a database name"))
        else:
            days = item.get("days")
            series, wrong = read_series(item.get("series"), label, f"{where}.series")
            problems.extend(wrong)
            peaks.append(ObservedPeak(item["instance"], database or item["instance"], role, peak,
                                      item.get("peak_at") if isinstance(item.get("peak_at"), str) else None,
                                      days if isinstance(days, int) else 0, int(item.get("datapoints") or 0),
                                      str(item.get("region") or ""), str(item.get("observed_at") or ""), series))  # fmt: skip
    if problems:
        raise InputError(problems)
    return peaks


def _proxies_of(doc: Mapping[str, Any], label: str) -> list[ObservedProxy]:
    items = doc.get("proxies", [])
    if not isinstance(items, list):
        raise InputError(Problem(label, "proxies", "a list of proxies is expected", hint="use the file planner observe writes"))
    proxies: list[ObservedProxy] = []
    problems: list[Problem | str] = []
    for i, item in enumerate(items):
        where = f"proxies[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("proxy"), str) or not isinstance(item.get("series"), dict):
            problems.append(Problem(label, where, "a proxy needs its name and series", hint="use the file planner observe writes"))
            continue
        series: dict[str, Series | None] = {}
        for metric in PROXY_METRICS:
            found, wrong = read_series(item["series"].get(metric), label, f"{where}.series.{metric}")
            problems.extend(wrong)
            series[metric] = found
        days = item.get("days")
        proxies.append(ObservedProxy(item["proxy"], days if isinstance(days, int) else 0, str(item.get("region") or ""),
                                     str(item.get("observed_at") or ""), str(item.get("statistic") or ""), series))  # fmt: skip
    if problems:
        raise InputError(problems)
    return proxies


def proxy_findings(report: "BudgetReport", proxies: list[ObservedProxy], label: str) -> list["Finding"]:
    """Return one line per observed RDS Proxy: what it held against its share of the database, and its clients."""
    from planner.budget import Finding

    findings: list[Finding] = []
    budgets = {p.pooler: p for p in report.poolers if p.kind == "rds-proxy"}
    for proxy in proxies:
        held, clients = proxy.peak("DatabaseConnections"), proxy.peak("ClientConnections")
        budget = budgets.get(proxy.proxy)
        key = f"poolers.{proxy.proxy}" if budget is not None else "poolers"
        if budget is None:
            text = (f"{label}: RDS Proxy {proxy.proxy} matches no rds-proxy pooler of the topology (name the pooler as the proxy "
                    "is named)")  # fmt: skip
        else:
            share = budget.server_connections
            full = held is not None and share > 0 and held >= PROXY_FULL * share
            text = (f"RDS Proxy {proxy.proxy} over {proxy.days} days ({proxy.statistic}): database connections up to "
                    f"{'none' if held is None else f'{held:,}'} of its {share:,}, client connections up to "
                    f"{'none' if clients is None else f'{clients:,}'}"
                    + (": its pool was full, clients waited for a connection (see DatabaseConnectionsBorrowLatency)" if full else ""))  # fmt: skip
        findings.append(Finding("observed-proxy", text, key, report.topology.line_of(key)))
    return findings


def match_observed(report: "BudgetReport", peaks: list[ObservedPeak]) -> tuple[dict[tuple[str, str], ObservedPeak], list[ObservedPeak]]:
    """Return (peak per (database, role) of the report's instances, observations matching none)."""
    matched: dict[tuple[str, str], ObservedPeak] = {}
    unmatched: list[ObservedPeak] = []
    for peak in peaks:
        keys = [(i.database, i.role) for i in report.instances if i.database == peak.database
                and (i.role == "writer") == (peak.role == "writer")]  # fmt: skip
        if not keys:
            unmatched.append(peak)
        for key in keys:
            previous = matched.get(key)
            if previous is None or (peak.peak or -1) > (previous.peak or -1):
                matched[key] = peak
    return matched, unmatched


def _lowest_scenario(instance: "InstanceBudget") -> str | None:
    if "steady" in instance.scenarios:
        return "steady"
    bounded = [s for s, r in instance.scenarios.items() if r.demand is not None]
    return min(bounded, key=lambda s: instance.scenarios[s].demand or 0) if bounded else None


def observed_findings(report: "BudgetReport", matched: Mapping[tuple[str, str], ObservedPeak],
                      unmatched: list[ObservedPeak], label: str) -> list["Finding"]:  # fmt: skip
    """Return a warning for each instance whose planned steady demand is below its observed peak."""
    from planner.budget import Finding

    findings: list[Finding] = []
    for instance in report.instances:
        peak = matched.get((instance.database, instance.role))
        scenario = _lowest_scenario(instance)
        if peak is None or peak.peak is None or scenario is None:
            continue
        demand = instance.scenarios[scenario].demand
        if demand is not None and demand < peak.peak:
            key = f"databases.{instance.database}"
            when = f" on {peak.date}" if peak.date else ""
            findings.append(Finding(
                "observed-above-plan",
                f"the plan's {scenario} demand {demand} on {instance.name} is below the "
                f"{peak.peak} connections CloudWatch saw{when} ({peak.instance}): a source is missing from the topology",
                key, report.topology.line_of(key),
            ))  # fmt: skip
    for peak in unmatched:
        findings.append(Finding(
            "observed-unmatched",
            f"{label}: {peak.instance} (database {peak.database!r}, {peak.role}) matches no database of the topology; "
            "observe it with --database NAME to name the topology's database", "databases",
        ))  # fmt: skip
    return findings


def with_trends(report: "BudgetReport", matched: Mapping[tuple[str, str], ObservedPeak]) -> dict[tuple[str, str], ObservedPeak]:
    """Return ``matched`` with each series analysed against its instance's alarm line and usable connections."""
    if not any(peak.series is not None for peak in matched.values()):
        return dict(matched)
    from planner.live.trend import Trend, analyse  # pandas: only when there is a series to analyse

    out: dict[tuple[str, str], ObservedPeak] = {}
    # every reader of a database is matched to the same series and usually has the same lines: analysed once
    analysed: dict[tuple[str, int, int], Trend] = {}
    for instance in report.instances:
        key = (instance.database, instance.role)
        peak = matched.get(key)
        if peak is None:
            continue
        trend = None
        if peak.series is not None:
            lines = (peak.instance, instance.alarm_at, instance.usable)
            if lines not in analysed:
                analysed[lines] = analyse(peak.series, instance.alarm_at, instance.usable)
            trend = analysed[lines]
        out[key] = dataclasses.replace(peak, trend=trend)
    return out


def observed_series(report: "BudgetReport", peaks: Mapping[tuple[str, str], ObservedPeak]) -> "Iterator[tuple[InstanceBudget, ObservedPeak]]":
    """Yield each analysed series once, with the first instance it was matched to (readers share one series)."""
    seen: set[str] = set()
    for instance in report.instances:
        peak = peaks.get((instance.database, instance.role))
        if peak is None or peak.trend is None or peak.series is None or peak.instance in seen:
            continue
        seen.add(peak.instance)
        yield instance, peak


# The trend line reaching the alarm line sooner than this is a warning: a quarter is about what it takes
# to plan, test and roll out a resize, a pooler or smaller pools.
FORECAST_WARN_DAYS = 90


def trend_findings(report: "BudgetReport", peaks: Mapping[tuple[str, str], ObservedPeak]) -> list["Finding"]:
    """Return a warning for each observed series whose trend reaches the alarm line within FORECAST_WARN_DAYS."""
    from planner.budget import Finding

    findings: list[Finding] = []
    for instance, peak in observed_series(report, peaks):
        assert peak.trend is not None
        alarm = next((r for r in peak.trend.reaches if r.line == "alarm line"), None)
        if alarm is None or alarm.days is None or alarm.days > FORECAST_WARN_DAYS:
            continue
        key = f"databases.{instance.database}"
        when = (f"is already at or above the alarm line {alarm.value:,}" if alarm.days <= 0 else
                f"reaches the alarm line {alarm.value:,} in ~{round(alarm.days):,} days (between "
                f"{round(alarm.earliest or 0):,} and {'?' if alarm.latest is None else f'{round(alarm.latest):,}'}; an estimate)")  # fmt: skip
        findings.append(Finding(
            "observed-trend",
            f"{instance.name}: the trend of the peaks CloudWatch saw ({peak.instance}) {when}: plan the change now "
            "(planner recommend shows the options)",
            key, report.topology.line_of(key),
        ))  # fmt: skip
    return findings


def apply_observed(report: "BudgetReport", path: str | Path) -> tuple["BudgetReport", dict[tuple[str, str], ObservedPeak]]:
    """Return the report with the observed warnings added (peaks, proxies, trends near the alarm line), and the peak
    (with its trend) of each instance."""
    observed, proxies = read_observations(path)
    matched, unmatched = match_observed(report, observed)
    peaks = with_trends(report, matched)
    findings = (observed_findings(report, matched, unmatched, str(path)) + proxy_findings(report, proxies, str(path))
                + trend_findings(report, peaks))  # fmt: skip
    return dataclasses.replace(report, warnings=tuple(report.warnings) + tuple(findings)), peaks


__all__ = [
    "MAX_DAYS",
    "ObservedPeak",
    "apply_observed",
    "match_observed",
    "observation",
    "observations_document",
    "observed_findings",
    "peak_of",
    "placement",
    "ObservedProxy",
    "proxy_findings",
    "proxy_observation",
    "observed_series",
    "read_observations",
    "read_observed",
    "trend_findings",
    "with_trends",
]
