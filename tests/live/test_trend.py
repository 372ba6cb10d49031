"""The trend of observed peaks: Theil–Sen and its band, daily/weekly peaks, percentiles, the hour-of-week
profile, and the sentences check prints. Series built here with known answers."""

from __future__ import annotations

import itertools
import statistics
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from planner.live.history import Series, align_down, finest_period
from planner.live.trend import MIN_DAYS, analyse, theil_sen

MONDAY = datetime(2026, 10, 5, tzinfo=timezone.utc)  # a Monday


def _daily(peaks: list[float], period: int = 300, low: float = 10.0) -> Series:
    """A series whose day d peaks at peaks[d] (at 14:00); every other period holds ``low``."""
    per_day = 86_400 // period
    values: list[float | None] = []
    for peak in peaks:
        day = [low] * per_day
        day[14 * 3600 // period] = peak
        values += day
    return Series(MONDAY, period, tuple(values))


def test_theil_sen_is_the_median_of_pairwise_slopes() -> None:
    x = np.arange(9, dtype=float)
    y = np.array([3, 5, 4, 8, 30, 9, 12, 11, 15], dtype=float)  # one outlier
    slopes = [(y[j] - y[i]) / (x[j] - x[i]) for i, j in itertools.combinations(range(9), 2)]
    slope, intercept, low, high = theil_sen(x, y)
    assert slope == statistics.median(slopes)
    assert intercept == statistics.median(y - slope * x)
    assert low <= slope <= high and low in slopes and high in slopes


def test_periods_follow_cloudwatch_retention() -> None:
    assert [finest_period(d) for d in (1, 15, 16, 63, 64, 455)] == [60, 60, 300, 300, 3600, 3600]
    with pytest.raises(ValueError):
        finest_period(456)
    assert align_down(datetime(2026, 10, 5, 9, 7, 31, tzinfo=timezone.utc), 300) == datetime(2026, 10, 5, 9, 5, tzinfo=timezone.utc)


def test_a_growing_peak_gives_its_slope_and_the_days_to_each_line() -> None:
    trend = analyse(_daily([100 + 3 * d for d in range(28)]), alarm_at=250, usable=300)
    assert trend.slope is not None and trend.slope.per_day == 3 and trend.slope.significant
    assert trend.slope.level == 100 + 3 * 27
    alarm, usable = trend.reaches
    assert (alarm.days, usable.days) == ((250 - 181) / 3, (300 - 181) / 3)
    rate, half = trend.weekly_percent() or (0, 0)
    assert rate == pytest.approx(3 * 7 / 181 * 100)
    assert trend.sentence().startswith(f"peak grows {rate:.1f} %/week (±{half:.1f}); alarm line (250) in ~23 days")
    assert trend.days == 28 and trend.first_day == "2026-10-05" and trend.last_day == "2026-11-01"
    assert [w for w, _ in trend.weekly_peaks] == ["2026-10-05", "2026-10-12", "2026-10-19", "2026-10-26"]
    assert trend.weekly_peaks[0][1] == 100 + 3 * 6
    # the highest of each hour of the week: Monday 14:00 (days 0, 7, 14, 21) and Sunday 14:00 (day 27)
    assert trend.profile[14] == 100 + 3 * 21 and trend.profile[24 * 6 + 14] == 100 + 3 * 27
    assert trend.profile[3] == 10 and len(trend.profile) == 168


def test_falling_flat_too_short_and_already_over() -> None:
    assert analyse(_daily([300 - 2 * d for d in range(20)]), 500, 600).sentence().startswith("peak falls")
    flat = analyse(_daily([200, 201, 199, 200, 202, 198, 200] * 3), 500, 600)
    assert flat.slope is not None and not flat.slope.significant and all(r.days is None for r in flat.reaches)
    assert flat.sentence().startswith("no significant trend")
    short = analyse(_daily([100 + d for d in range(MIN_DAYS - 1)]), 500, 600)
    assert short.slope is None and short.reaches == () and "14 needed; no forecast" in short.sentence()
    over = analyse(_daily([400 + 5 * d for d in range(20)]), 300, 600)
    assert over.reaches[0].days == 0 and "already at or above the alarm line (300)" in over.sentence()


def test_gaps_and_cut_days_give_no_daily_peak() -> None:
    series = _daily([100 + d for d in range(20)])
    per_day = 288
    values = list(series.values)
    values[5 * per_day:7 * per_day] = [None] * (2 * per_day)  # two days without data
    values[10 * per_day:10 * per_day + 200] = [None] * 200  # most of a day missing (its peak too)
    trend = analyse(Series(series.start, 300, tuple(values)))
    assert trend.days == 17 and trend.gaps == 2 * per_day + 200
    assert "2026-10-10" not in dict(trend.daily_peaks) and "2026-10-15" not in dict(trend.daily_peaks)


def test_percentiles_are_of_five_minute_maxima_even_from_one_minute_data() -> None:
    values = [float(k % 300) for k in range(3 * 1440)]  # three days of 1-minute data
    trend = analyse(Series(MONDAY, 60, tuple(values)))
    five = [max(values[i:i + 5]) for i in range(0, len(values), 5)]
    assert trend.quantiles_of == "5-minute maxima"
    assert trend.p99 == pytest.approx(float(np.quantile(five, 0.99)))


def test_a_series_is_read_back_as_written() -> None:
    points = [(MONDAY + timedelta(minutes=5 * k), float(k)) for k in (0, 1, 3)]
    series = Series.from_points(points, 300)
    assert series is not None and series.values == (0.0, 1.0, None, 3.0) and series.datapoints == 3
    assert series.to_json() == {"period_seconds": 300, "start": "2026-10-05T00:00:00Z", "values": [0, 1, None, 3]}
    assert series.points() == points


def test_a_series_that_stops_early_says_so() -> None:
    from planner.live.observe import observation

    points = [(MONDAY + timedelta(hours=h), 50.0) for h in range(20 * 24)]  # 20 days, then nothing
    stopped = observation("old-db", "main", "writer", points, 35, "us-east-1", MONDAY + timedelta(days=35), 3600)
    assert stopped.ended() == "2026-10-24"
    assert stopped.basis() == "a 35-day window of 1-hour maxima, no data after 2026-10-24 (stopped, renamed or deleted?)"
    running = observation("db", "main", "writer", points, 20, "us-east-1", MONDAY + timedelta(days=20), 3600)
    assert running.ended() is None and running.basis() == "a 20-day window of 1-hour maxima"
