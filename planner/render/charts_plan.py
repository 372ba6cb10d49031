"""The report's planning charts: every candidate class, breaking points, change against a baseline.

Split from :mod:`.charts` (which owns the SVG export and the budget charts) to keep both short.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

import matplotlib
from matplotlib.ticker import LogLocator, MaxNLocator, NullLocator, StrMethodFormatter

from planner.render.charts import INK, RC, STATUS_COLOURS, STATUS_MARKER, new_figure, plain, to_svg

if TYPE_CHECKING:
    from planner.budget.breaking import BreakingPoint, CurvePoint
    from planner.budget.candidates import ClassFit

MAX_CLASS_LABELS = 48  # beyond this, name every Nth class so the labels stay legible


def classes_chart(fits: Sequence["ClassFit"], title: str, prefix: str) -> str:
    """Return usable connections of every class (log scale, by memory) against the worst demand."""
    n = len(fits)
    fig = new_figure(9, 4.8, {"left": 0.95, "right": 0.15, "bottom": 1.2, "top": 0.35})
    with matplotlib.rc_context(RC):
        ax = fig.add_subplot()
        x = list(range(n))
        demands = [f.candidate.worst_demand for f in fits]
        if all(d is not None and d > 0 for d in demands):
            ax.step(x, [d or 0 for d in demands], where="mid", color=INK, linewidth=1.5, label="worst demand on each class", zorder=2)
        for fit in ("fits", "tight", "over"):
            for estimated in (False, True):
                idx = [i for i, f in enumerate(fits) if f.fit == fit and f.estimated == estimated]
                if not idx:
                    continue
                colour = STATUS_COLOURS[fit]
                ax.scatter(
                    idx, [fits[i].candidate.usable for i in idx], marker=STATUS_MARKER[fit], s=20,
                    facecolors="white" if estimated else colour, edgecolors=colour, linewidths=1.0, zorder=3,
                    label=f"{fit}{' (estimate: hollow)' if estimated else ''}",
                )
        ax.set_yscale("log")
        # labelled 1-2-5 steps read better than unlabelled minor ticks (and a tick costs a millisecond to draw)
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_minor_locator(NullLocator())
        values = [f.candidate.usable for f in fits] + [d for d in demands if d]
        if values:
            ax.set_ylim(max(1, min(values) / 1.6), max(values) * 2.2)
        step = max(1, math.ceil(n / MAX_CLASS_LABELS))
        ticks = list(range(0, n, step))
        ax.set_xticks(ticks, [plain(fits[i].name.removeprefix("db.")) for i in ticks], rotation=90, fontsize=6.5)
        ax.set_xlim(-1, n)
        ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        ax.set_ylabel("usable connections (log scale)")
        named = "every class named" if step == 1 else f"every {step}th named"
        ax.set_xlabel(f"{n} instance classes, smallest memory first ({named})")
        _mark(ax, fits, next((i for i, f in enumerate(fits) if f.current), None), "now", 28)
        _mark(ax, fits, next((i for i, f in enumerate(fits) if f.fit == "fits"), None), "smallest that fits", -34)
        ax.set_title(plain(title), loc="left")
        ax.legend(loc="lower right", ncols=2)  # usable grows with memory: the lower right stays empty
    return to_svg(fig, prefix)


def _mark(ax: Any, fits: Sequence["ClassFit"], index: int | None, word: str, offset: float) -> None:
    """Point at one class with its name and usable connections."""
    if index is None:
        return
    fit = fits[index]
    ax.annotate(
        plain(f"{word}: {fit.name}\nusable {fit.candidate.usable:,}"), xy=(index, fit.candidate.usable),
        xytext=(8, offset), textcoords="offset points", fontsize=8, fontweight="bold",
        ha="left" if index < len(fits) * 0.7 else "right", va="center",
        arrowprops={"arrowstyle": "->", "color": INK, "linewidth": 0.8},
        bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "#999999", "linewidth": 0.5},
        zorder=6,
    )


def breaking_panels(points: Sequence["BreakingPoint"]) -> list[tuple["BreakingPoint", str, str, int, int | None, tuple["CurvePoint", ...]]]:
    """Return what can be drawn: (point, panel title, capacity label, capacity, count, curve)."""
    panels = []
    for point in points:
        if point.unbounded:
            continue
        if point.direct and point.curve:
            panels.append((point, point.service, "usable", point.usable, point.count, point.curve))
            continue
        for limit in point.poolers:
            if limit.capacity is not None and limit.curve:
                panels.append((point, f"{point.service} → {limit.pooler} clients", "client capacity", limit.capacity, limit.count, limit.curve))
                break
    return panels


def breaking_chart(points: Sequence["BreakingPoint"], title: str, prefix: str) -> str | None:
    """Return one small chart per source: demand as its count grows, and where it runs out."""
    panels = breaking_panels(points)
    if not panels:
        return None
    fig = new_figure(9, 3.3, {"left": 0.9, "right": 0.15, "bottom": 0.5, "top": 0.6, "wspace": 0.3})
    with matplotlib.rc_context(RC):
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for i, (ax, (point, name, capacity_label, capacity, count, curve)) in enumerate(zip(axes, panels)):
            xs = [p.count for p in curve if p.demand is not None]
            ys = [p.demand for p in curve if p.demand is not None]
            ax.plot(xs, ys, color="#1f4e79", linewidth=1.6, marker="o", markersize=2.5, label="worst-scenario demand")
            ax.axhline(capacity, color=INK, linewidth=1.3)
            ax.annotate(plain(f"{capacity_label} {capacity:,}"), xy=(0, capacity), xycoords=("axes fraction", "data"),
                        xytext=(3, 3), textcoords="offset points", fontsize=8, fontweight="bold")
            ax.axvline(point.current, color="#737373", linestyle=":", linewidth=1.2)
            ax.annotate(f"today {point.current:,}", xy=(point.current, 0), xycoords=("data", "axes fraction"),
                        xytext=(3, 4), textcoords="offset points", fontsize=7.5, color="#525252", rotation=90, va="bottom")
            right = max(xs + [point.current, count or 0]) * 1.04 + 0.5
            if count is not None:
                ax.axvline(count, color=STATUS_COLOURS["over"], linestyle="--", linewidth=1.3)
                left_half = count < right / 2  # keep the label inside the axes
                ax.annotate(f"runs out at {count:,}", xy=(count, 1), xycoords=("data", "axes fraction"),
                            xytext=(3 if left_half else -3, -4), textcoords="offset points", fontsize=8, fontweight="bold",
                            color=STATUS_COLOURS["over"], ha="left" if left_half else "right", va="top")
            top = max(ys + [capacity, 1])
            ax.set_ylim(0, top * 1.12)
            ax.set_xlim(0, right)
            ax.set_title(plain(name), loc="left", fontsize=9.5)
            ax.set_xlabel(point.knob)
            ax.yaxis.set_major_locator(MaxNLocator(nbins=5))  # a small panel: five steps are legible (and quicker)
            ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))  # counts are whole replicas
            ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
            ax.axhspan(capacity, top * 1.12, color=STATUS_COLOURS["over"], alpha=0.07, linewidth=0)
            if i == 0:
                ax.set_ylabel("worst-scenario demand")
        fig.suptitle(plain(title), x=0.01, ha="left", fontsize=10.5, fontweight="bold")
    return to_svg(fig, prefix)


def change_chart(changes: Sequence[tuple[str, int]], title: str, prefix: str) -> str | None:
    """Return horizontal bars of each source's change in worst demand (+ more, − fewer), largest first."""
    rows = [c for c in changes if c[1] != 0]
    if not rows:
        return None
    fig = new_figure(9, 0.26 * len(rows) + 1.3)
    with matplotlib.rc_context(RC):
        ax = fig.add_subplot()
        y = list(range(len(rows)))
        deltas = [d for _, d in rows]
        colours = [STATUS_COLOURS["over"] if d > 0 else "#2166ac" for d in deltas]
        hatches = ["//" if d > 0 else "" for d in deltas]
        for yi, delta, colour, hatch in zip(y, deltas, colours, hatches):
            ax.barh(yi, delta, height=0.62, color=colour, hatch=hatch, edgecolor=INK, linewidth=0.4)
            ax.annotate(f"{delta:+,}", xy=(delta, yi), xytext=(4 if delta > 0 else -4, 0), textcoords="offset points",
                        ha="left" if delta > 0 else "right", va="center", fontsize=8)
        ax.axvline(0, color=INK, linewidth=0.8)
        ax.set_yticks(y, [plain(label) for label, _ in rows])
        ax.invert_yaxis()
        span = max(abs(d) for d in deltas)
        ax.set_xlim(min(0, min(deltas)) - span * 0.18, max(0, max(deltas)) + span * 0.18)
        ax.xaxis.set_major_formatter(StrMethodFormatter("{x:+,.0f}"))
        ax.set_xlabel("change in worst-scenario demand (connections): + more (red, hatched), − fewer (blue)")
        ax.set_title(plain(title), loc="left")
    return to_svg(fig, prefix)


__all__ = ["breaking_chart", "breaking_panels", "change_chart", "classes_chart"]
