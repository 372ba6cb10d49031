"""The report's Production charts: what CloudWatch saw over time, against the budget, with the trend.

Split from :mod:`.charts` (the budget charts) and :mod:`.charts_plan` (planning); the same style and
SVG export. The input is computed already (:class:`planner.live.trend.Trend`): no pandas here.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import matplotlib
from matplotlib.dates import AutoDateLocator, DateFormatter
from matplotlib.ticker import MaxNLocator, StrMethodFormatter

from planner.render.charts import INK, RC, STATUS_COLOURS, new_figure, plain, to_svg

if TYPE_CHECKING:
    from planner.live.trend import Trend

FORECAST_DAYS_MIN = 14  # the forecast is drawn at least this far, and to the alarm line when it is reached sooner than
FORECAST_DAYS_MAX = 120  # ... this: beyond, a straight line says little


def _day(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)


def _forecast_days(trend: "Trend") -> int:
    reached = [r.days for r in trend.reaches if r.days is not None and r.days > 0]
    return int(min(FORECAST_DAYS_MAX, max([FORECAST_DAYS_MIN] + [d * 1.1 for d in reached[:1]])))


def history_chart(trend: "Trend", usable: int, alarm_at: int, title: str, prefix: str) -> str:
    """Return the daily peaks over time with the usable and alarm lines, the trend and its forecast band."""
    fig = new_figure(9, 3.6, {"left": 0.9, "right": 0.2, "bottom": 0.6, "top": 0.45})
    with matplotlib.rc_context(RC):
        ax = fig.add_subplot()
        days = [_day(d) for d, _ in trend.daily_peaks]
        peaks = [p for _, p in trend.daily_peaks]
        ax.plot(days, peaks, color="#1f4e79", linewidth=1.0, marker="o", markersize=2.5, label="daily peak (CloudWatch maximum)", zorder=3)
        top = max(peaks + [usable]) if peaks else usable
        if trend.slope is not None and days:
            slope = trend.slope
            first, last = days[0], days[-1]
            span = (last - first).days
            line_x = [first, last]
            line_y = [slope.level - slope.per_day * span, slope.level]
            ax.plot(line_x, line_y, color=INK, linewidth=1.2, linestyle="-", label="trend (Theil–Sen)", zorder=4)
            ahead = _forecast_days(trend)
            end = last + timedelta(days=ahead)
            ax.plot([last, end], [slope.level, slope.level + slope.per_day * ahead], color=INK, linewidth=1.2, linestyle="--",
                    label=f"forecast (estimate, {slope.confidence * 100:.0f} % band)", zorder=4)  # fmt: skip
            steps = [last + timedelta(days=k) for k in range(ahead + 1)]
            ax.fill_between(steps, [slope.level + slope.low * k for k in range(ahead + 1)],
                            [slope.level + slope.high * k for k in range(ahead + 1)], color="#9ecae1", alpha=0.45, linewidth=0, zorder=2)  # fmt: skip
            top = max(top, slope.level + slope.high * ahead)
        ax.axhline(usable, color=STATUS_COLOURS["over"], linewidth=1.3)
        ax.axhline(alarm_at, color=STATUS_COLOURS["warn"], linewidth=1.2, linestyle="-.")
        ax.annotate(f"usable {usable:,}", xy=(0, usable), xycoords=("axes fraction", "data"), xytext=(3, 3),
                    textcoords="offset points", fontsize=8, fontweight="bold", color=STATUS_COLOURS["over"])  # fmt: skip
        ax.annotate(f"alarm at {alarm_at:,}", xy=(0, alarm_at), xycoords=("axes fraction", "data"), xytext=(3, -10),
                    textcoords="offset points", fontsize=8, color=STATUS_COLOURS["warn"])  # fmt: skip
        ax.set_ylim(0, top * 1.12)
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5))
        ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        ax.xaxis.set_major_locator(AutoDateLocator(maxticks=8))
        ax.xaxis.set_major_formatter(DateFormatter("%Y-%m-%d"))
        ax.set_ylabel("connections")
        ax.set_title(plain(title), loc="left")
        ax.legend(loc="lower right", ncols=3, fontsize=7.5)  # the lines' labels sit at the upper left
    return to_svg(fig, prefix)


def usage_chart(rows: "list[tuple[str, int, int, int]]", title: str, prefix: str) -> str:
    """Return one pair of bars per source: connections held (at most) and active at once (at most, and p95)."""
    fig = new_figure(9, 0.42 * len(rows) + 1.6, {"left": 2.2, "right": 0.4, "bottom": 0.85, "top": 0.45})
    with matplotlib.rc_context(RC):
        ax = fig.add_subplot()
        y = list(range(len(rows)))[::-1]
        held = [r[1] for r in rows]
        active = [r[2] for r in rows]
        ax.barh(y, held, height=0.7, color="#c6dbef", edgecolor=INK, linewidth=0.4, hatch="//", label="held (most at once)")
        ax.barh(y, active, height=0.38, color="#1f4e79", edgecolor=INK, linewidth=0.4, label="active (most at once)")
        ax.scatter([r[3] for r in rows], y, marker="|", s=120, color=STATUS_COLOURS["warn"], zorder=4, label="active, p95")
        right = max(held + active + [1])
        for row_y, (_, h, a, _) in zip(y, rows):
            ax.annotate(f"{h:,} held, {a:,} active", xy=(h, row_y), xytext=(4, 0), textcoords="offset points", va="center", fontsize=7.5)
        ax.set_yticks(y, [plain(r[0]) for r in rows])
        ax.set_xlim(0, right * 1.35)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
        ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        ax.set_xlabel("connections")
        ax.set_title(plain(title), loc="left")
        # below the axis: the bars' own labels take the right-hand side
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.55 / (0.42 * len(rows) + 0.3)), ncols=3, fontsize=7.5)
    return to_svg(fig, prefix)


__all__ = ["history_chart", "usage_chart"]
