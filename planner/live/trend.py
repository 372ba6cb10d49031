"""How the connection peak moves: daily and weekly peaks, percentiles, the hour-of-week profile, and a
robust trend of the daily peaks with the date it reaches the alarm line.

The input is a :class:`planner.live.history.Series` of CloudWatch maxima (``planner observe``). The
trend is Theil–Sen (the median of the slopes between every pair of daily peaks), which one bad day
or an outage does not tilt, with Sen's (1968) confidence band from Kendall's S, the method
``scipy.stats.theilslopes`` implements. The forecast is a straight line: an **estimate**, printed
with its band and never from fewer than :data:`MIN_DAYS` days of data.

pandas is the table library here (resampling, group-bys, percentiles); only the commands that analyse
observations import this module (``planner check`` without ``--observed`` does not).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from planner.live.history import Series

MIN_DAYS = 14  # fewer days of data: no trend is said, and nothing is extrapolated
CONFIDENCE = 0.95
# A day with less than half the datapoints of a typical day (the window's first and last, an outage)
# gives no daily peak: its maximum would be low for want of data, not of connections.
DAY_COVERAGE = 0.5
HOURS_OF_WEEK = 168
QUANTILE_PERIOD = "5min"


@dataclass(frozen=True)
class Slope:
    """A Theil–Sen slope (connections per day) with its confidence band and the line's level at the last day."""

    per_day: float
    low: float
    high: float
    level: float  # the trend line at the last daily peak
    confidence: float = CONFIDENCE

    @property
    def significant(self) -> bool:
        """Return whether the band excludes zero (the peak moves, one way)."""
        return self.low > 0 or self.high < 0


@dataclass(frozen=True)
class Reach:
    """When the trend line reaches a line: estimate and band in days from the last day (None: not within the band)."""

    line: str  # alarm line | usable
    value: int
    days: float | None
    earliest: float | None
    latest: float | None  # None: the band's low slope never reaches it


@dataclass(frozen=True)
class Trend:
    """What a series of maxima says: peaks, percentiles, hour-of-week profile, trend and forecast."""

    days: int  # days with a daily peak (at least half their periods have data)
    first_day: str | None
    last_day: str | None
    daily_peaks: tuple[tuple[str, int], ...]
    weekly_peaks: tuple[tuple[str, int], ...]  # (the week's Monday, its peak)
    p95: float | None
    p99: float | None
    quantiles_of: str  # what the percentiles are of: "5-minute maxima" or "1-hour maxima"
    profile: tuple[int | None, ...]  # the highest maximum in each hour of the week, Monday 00:00 UTC first
    gaps: int  # periods without a datapoint inside the series
    missing_days: int  # days between the first and the last daily peak that have none (an outage, a gap in the data)
    slope: Slope | None  # None: fewer than MIN_DAYS days
    reaches: tuple[Reach, ...] = ()

    def weekly_percent(self) -> tuple[float, float] | None:
        """Return the trend in % of the level per week and the half-width of its band; None without a trend."""
        if self.slope is None or self.slope.level <= 0:
            return None
        scale = 7 * 100 / self.slope.level
        return self.slope.per_day * scale, (self.slope.high - self.slope.low) / 2 * scale

    def sentence(self) -> str:
        """Return the trend in one line: "peak grows 4.1 %/week (±1.2); alarm line in ~37 days (between 28 and 55) ..."."""
        if self.slope is None:
            return f"too little data to say how the peak moves: {self.days} day(s) of data, {MIN_DAYS} needed; no forecast"
        percent = self.weekly_percent()
        basis = f"estimate: Theil–Sen trend of {self.days} daily peaks, {self.slope.confidence * 100:.0f} % band"
        if percent is None:
            return f"the daily peaks are zero: no trend ({basis})"
        rate, half = percent
        if not self.slope.significant:
            return (f"no significant trend: the peak moves {rate:+.1f} %/week (±{half:.1f}), near {self.slope.level:,.0f} "
                    f"connections ({basis})")
        if self.slope.per_day < 0:
            return f"peak falls {-rate:.1f} %/week (±{half:.1f}), now near {self.slope.level:,.0f} connections ({basis})"
        parts = [f"peak grows {rate:.1f} %/week (±{half:.1f})"]
        for reach in self.reaches:
            parts.append(_reach_text(reach))
        return "; ".join(parts) + f" ({basis})"


def _days(value: float | None) -> str:
    return "?" if value is None else f"{max(0, round(value)):,}"


def _reach_text(reach: Reach) -> str:
    if reach.days is not None and reach.days <= 0:
        return f"already at or above the {reach.line} ({reach.value:,})"
    if reach.days is None:
        return f"{reach.line} ({reach.value:,}) not reached at this trend"
    latest = "later than the band can say" if reach.latest is None else _days(reach.latest)
    return f"{reach.line} ({reach.value:,}) in ~{_days(reach.days)} days (between {_days(reach.earliest)} and {latest})"


def theil_sen(x: np.ndarray, y: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float, float, float]:
    """Return (slope, intercept, low slope, high slope): Theil–Sen with Sen's band (ties in y accounted for)."""
    n = len(x)
    i, j = np.triu_indices(n, 1)
    dx = x[j] - x[i]
    keep = dx != 0
    slopes = np.sort((y[j] - y[i])[keep] / dx[keep])
    slope = float(np.median(slopes))
    intercept = float(np.median(y - slope * x))
    # the variance of Kendall's S, less what tied values take away (Sen 1968; x has no ties: one peak a day)
    _, counts = np.unique(y, return_counts=True)
    ties = float(np.sum(counts * (counts - 1) * (2 * counts + 5)))
    sigma = math.sqrt(max(0.0, (n * (n - 1) * (2 * n + 5) - ties) / 18))
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    total = len(slopes)
    low_index = max(int(round((total - z * sigma) / 2)) - 1, 0)
    high_index = min(int(round((total + z * sigma) / 2)), total - 1)
    return slope, intercept, float(slopes[low_index]), float(slopes[high_index])


def _frame(series: Series) -> pd.Series:
    index = pd.date_range(series.start, periods=len(series.values), freq=f"{series.period_seconds}s", tz="UTC")
    values = np.array([np.nan if v is None else v for v in series.values], dtype=float)
    return pd.Series(values, index=index)


def _reach(slope: Slope, line: str, value: int) -> Reach:
    gap = value - slope.level
    if gap <= 0:
        return Reach(line, value, 0.0, 0.0, 0.0)
    if slope.per_day <= 0:
        return Reach(line, value, None, None, None)
    earliest = gap / slope.high if slope.high > 0 else None
    latest = gap / slope.low if slope.low > 0 else None
    return Reach(line, value, gap / slope.per_day, earliest, latest)


def analyse(series: Series, alarm_at: int | None = None, usable: int | None = None, confidence: float = CONFIDENCE) -> Trend:
    """Return what ``series`` (maxima on a grid) says, and when its trend reaches ``alarm_at`` and ``usable``."""
    raw = _frame(series)
    present = raw.dropna()
    gaps = int(raw.isna().sum())
    daily = raw.resample("1D")
    counts = daily.count()
    typical = float(counts[counts > 0].median()) if (counts > 0).any() else 0.0
    peaks = daily.max()[counts >= DAY_COVERAGE * typical].dropna()
    weekly = present.resample("W-MON", label="left", closed="left").max().dropna()
    if series.period_seconds <= 300:
        fine = present.resample(QUANTILE_PERIOD).max().dropna() if series.period_seconds < 300 else present
        quantiles_of = "5-minute maxima"
    else:
        fine, quantiles_of = present, f"{series.period_seconds // 60}-minute maxima" if series.period_seconds < 3600 else "1-hour maxima"
    p95 = float(fine.quantile(0.95)) if len(fine) else None
    p99 = float(fine.quantile(0.99)) if len(fine) else None
    hour_of_week = fine.groupby(fine.index.day_of_week * 24 + fine.index.hour).max()
    profile = tuple(None if h not in hour_of_week.index else int(math.ceil(hour_of_week[h])) for h in range(HOURS_OF_WEEK))
    day_text = tuple((moment.strftime("%Y-%m-%d"), int(math.ceil(value))) for moment, value in peaks.items())
    slope = None
    reaches: tuple[Reach, ...] = ()
    if len(peaks) >= MIN_DAYS:
        x = ((peaks.index - peaks.index[0]) / pd.Timedelta(days=1)).to_numpy(dtype=float)
        y = peaks.to_numpy(dtype=float)
        per, intercept, low, high = theil_sen(x, y, confidence)
        slope = Slope(per, low, high, float(intercept + per * x[-1]), confidence)
        reaches = tuple(_reach(slope, line, value) for line, value in (("alarm line", alarm_at), ("usable", usable)) if value is not None)
    return Trend(
        days=len(peaks),
        first_day=day_text[0][0] if day_text else None,
        last_day=day_text[-1][0] if day_text else None,
        daily_peaks=day_text,
        weekly_peaks=tuple((moment.strftime("%Y-%m-%d"), int(math.ceil(value))) for moment, value in weekly.items()),
        p95=p95, p99=p99, quantiles_of=quantiles_of, profile=profile, gaps=gaps, slope=slope, reaches=reaches,
        missing_days=0 if peaks.empty else int((peaks.index[-1] - peaks.index[0]) / pd.Timedelta(days=1)) + 1 - len(peaks),
    )


__all__ = ["CONFIDENCE", "MIN_DAYS", "Reach", "Slope", "Trend", "analyse", "theil_sen"]
