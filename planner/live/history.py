"""A metric's history as CloudWatch keeps it: one value per period on a regular grid, gaps included.

``planner observe`` keeps the series, not only the peak, so that ``check --observed`` and ``report``
can say how the peak moves (:mod:`planner.live.trend`). CloudWatch keeps finer data for less time
(Amazon CloudWatch API Reference, GetMetricData, read 2026-12-07: 1-minute datapoints for 15 days,
5-minute for 63 days, 1-hour for 455 days); :func:`finest_period` picks the finest period it still keeps for
the whole window asked.

In the observations file (version 2) a series is written compactly, as its first timestamp, its
period and the list of values on the grid, ``null`` where CloudWatch had no datapoint::

    "series": {"period_seconds": 300, "start": "2026-10-05T09:00:00Z", "values": [41, 43, null, 40, ...]}

Pure: no AWS and no pandas here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping

from planner.errors import Problem

# (longest window in days, the finest period CloudWatch keeps for it, in seconds)
RETENTION: tuple[tuple[int, int], ...] = ((15, 60), (63, 300), (455, 3600))
MAX_HISTORY_DAYS = RETENTION[-1][0]
RETENTION_SOURCE = "Amazon CloudWatch API Reference, GetMetricData: how long CloudWatch keeps each period (read 2026-12-07)"


def finest_period(days: int) -> int:
    """Return the finest period (seconds) CloudWatch still keeps for a window of ``days`` back from now."""
    for longest, period in RETENTION:
        if days <= longest:
            return period
    raise ValueError(f"CloudWatch keeps no data older than {MAX_HISTORY_DAYS} days")


def align_down(moment: datetime, period_seconds: int) -> datetime:
    """Return ``moment`` rounded down to a multiple of the period (UTC epoch): CloudWatch answers such windows
    fastest and rounds older ones so itself ("align StartTime and EndTime with the Period", GetMetricData)."""
    seconds = int(_utc(moment).timestamp())
    return datetime.fromtimestamp(seconds - seconds % period_seconds, tz=timezone.utc)


def parse_time(text: str) -> datetime:
    """Return an ISO 8601 time (``Z`` or an offset) as an aware UTC datetime; ValueError if it is not one."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return moment.astimezone(timezone.utc)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


@dataclass(frozen=True)
class Series:
    """Values of one metric on a regular grid: ``values[k]`` is the period starting ``start + k × period``."""

    start: datetime  # aware, UTC
    period_seconds: int
    values: tuple[float | None, ...]  # None: no datapoint in that period

    @classmethod
    def from_points(cls, points: Iterable[tuple[datetime, float]], period_seconds: int) -> "Series | None":
        """Return the series of (timestamp, value) datapoints on their period's grid; None without datapoints.

        Two datapoints in one period (CloudWatch does not return that for one statistic) keep the larger.
        """
        ordered = sorted((_utc(moment), float(value)) for moment, value in points)
        if not ordered:
            return None
        start = ordered[0][0]
        step = timedelta(seconds=period_seconds)
        count = int((ordered[-1][0] - start) / step) + 1
        values: list[float | None] = [None] * count
        for moment, value in ordered:
            k = int((moment - start) / step)
            previous = values[k]
            values[k] = value if previous is None else max(previous, value)
        return cls(start, period_seconds, tuple(values))

    @property
    def end(self) -> datetime:
        """Return the end of the last period."""
        return self.start + timedelta(seconds=self.period_seconds * len(self.values))

    @property
    def datapoints(self) -> int:
        """Return how many periods have a value."""
        return sum(1 for v in self.values if v is not None)

    def points(self) -> list[tuple[datetime, float]]:
        """Return the (timestamp, value) datapoints, gaps left out."""
        step = timedelta(seconds=self.period_seconds)
        return [(self.start + k * step, v) for k, v in enumerate(self.values) if v is not None]

    def to_json(self) -> dict[str, Any]:
        """Return the compact form written in the observations file (whole numbers written as integers)."""
        values = [None if v is None else int(v) if float(v).is_integer() else round(v, 3) for v in self.values]
        start = self.start.replace(microsecond=0).isoformat().replace("+00:00", "Z")
        return {"period_seconds": self.period_seconds, "start": start, "values": values}


def read_series(item: Any, label: str, where: str) -> tuple[Series | None, list[Problem]]:
    """Return the series written at ``where`` (None if absent) and the problems that keep it from being read."""
    if item is None:
        return None, []
    fix = 'write {"period_seconds": 300, "start": "2026-10-05T09:00:00Z", "values": [41, null, 40]}, or leave it out'
    if not isinstance(item, Mapping):
        return None, [Problem(label, where, "a series is an object", hint=fix)]
    period, start, values = item.get("period_seconds"), item.get("start"), item.get("values")
    if isinstance(period, bool) or not isinstance(period, int) or period <= 0:
        return None, [Problem(label, f"{where}.period_seconds", f"{period!r} is not a period in seconds", hint=fix)]
    try:
        moment = parse_time(start) if isinstance(start, str) else None
    except ValueError:
        moment = None
    if moment is None:
        return None, [Problem(label, f"{where}.start", f"{start!r} is not an ISO 8601 time in UTC", hint=fix)]
    if not isinstance(values, list):
        return None, [Problem(label, f"{where}.values", "missing list of values", hint=fix)]
    for k, value in enumerate(values):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0):
            return None, [Problem(label, f"{where}.values[{k}]", f"{value!r} is not a number of connections", hint="write a number, or null for a gap")]
    return Series(moment, period, tuple(None if v is None else float(v) for v in values)), []


__all__ = ["MAX_HISTORY_DAYS", "align_down", "RETENTION", "RETENTION_SOURCE", "Series", "finest_period", "parse_time", "read_series"]
