"""The report's charts: matplotlib figures (object API, no pyplot) turned into inline SVG.

Each function takes computed results and returns an SVG fragment ready to sit inside the HTML
page: no XML prolog, no DOCTYPE, no namespace or metadata URLs, ids prefixed so several charts
share one document, text kept as ``<text>`` (``svg.fonttype: none``: small, searchable, and
escaped by matplotlib's SVG writer). Colours differ in lightness and carry hatching where a
status is shown, so a greyscale print still tells them apart.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, StrMethodFormatter

from planner.model import SOURCE_ESTIMATED

if TYPE_CHECKING:
    from planner.budget import InstanceBudget, SourceDemand

RC: Any = {  # Any: matplotlib's stubs want literal keys
    "svg.fonttype": "none",  # text stays text (not glyph paths): smaller, selectable, searchable
    "svg.hashsalt": "planner",  # deterministic ids: the same input gives the same file
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 9,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    # a fixed title position: matplotlib otherwise measures every axis on every draw to lift the title
    # above top ticks, which these charts never have (a tenth of the report's chart time)
    "axes.titley": 1.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "hatch.linewidth": 0.6,
    "legend.fontsize": 8,
    "legend.frameon": False,
}

# Stacked segments: alternate dark and light so neighbours differ in greyscale; hatch the light ones.
# Only line hatches: dot hatches ("..", "oo") are written as thousands of tiny circles in SVG.
SEGMENT_STYLES: tuple[tuple[str, str], ...] = (
    ("#1f4e79", ""), ("#9ecae1", ""), ("#d95f0e", ""), ("#fdd0a2", "//"),
    ("#2b7a3d", ""), ("#c7e9c0", "||"), ("#6a51a3", ""), ("#dadaeb", "xx"),
    ("#525252", ""), ("#fee391", "\\\\"), ("#8c2d04", ""), ("#fcbba1", "--"),
)
OTHERS_STYLE = ("#f0f0f0", "++")
# Status: green / amber / red of different lightness, plus hatching and marker shapes.
STATUS_COLOURS = {"ok": "#4d9221", "fits": "#4d9221", "warn": "#e08214", "tight": "#e08214", "over": "#b2182b"}
STATUS_HATCH = {"ok": "", "fits": "", "warn": "//", "tight": "//", "over": "xx"}
STATUS_MARKER = {"fits": "o", "tight": "^", "over": "s"}
INK = "#222222"
TOP_SOURCES = 12


def fmt(value: int | None) -> str:
    """Return ``value`` with thousands separators ("1,080"); None is ``unbounded``."""
    return "unbounded" if value is None else f"{value:,}"


def plain(text: str) -> str:
    """Return ``text`` safe from matplotlib's mathtext: a ``$`` stays a dollar sign."""
    return text.replace("$", r"\$")


_GEOMETRY = re.compile(r'(\s(?:d|x|y|width|height|transform|viewBox))="([^"]*)"')
_DECIMALS = re.compile(r"(\d\.\d\d)\d+")


def _round_geometry(match: re.Match[str]) -> str:
    value = " ".join(_DECIMALS.sub(r"\1", match.group(2)).split())
    return f'{match.group(1)}="{value}"'


def to_svg(fig: Figure, prefix: str) -> str:
    """Return ``fig`` as an SVG fragment for inlining, its ids prefixed with ``prefix``."""
    buf = io.StringIO()
    with matplotlib.rc_context(RC):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]  # the XML prolog and DOCTYPE (with its DTD URL) go
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r'\s*<style type="text/css">.*?</style>', "", svg, flags=re.S)  # the page's CSS has it
    svg = re.sub(r'\s(?:xmlns(?::\w+)?|version)="[^"]*"', "", svg)  # inline SVG in HTML needs no namespaces
    referenced = set(re.findall(r'(?:url\(#|href="#)([^")]+)', svg))

    svg = re.sub(r'\sid="([^"]+)"', lambda m: f' id="{prefix}-{m.group(1)}"' if m.group(1) in referenced else "", svg)
    svg = re.sub(r'(url\(#|href="#)([^")]+)', lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", svg)
    # Two decimals of a point are far below a pixel; matplotlib writes six. Only geometry
    # attributes are rounded, never text. Indentation between tags goes too.
    svg = _GEOMETRY.sub(_round_geometry, svg)
    svg = re.sub(r">\s*\n\s*<", "><", svg)
    # every <text> repeats the font list; the page's CSS sets it once for all charts
    svg = re.sub(r";? ?font-family: [^;\"]*", "", svg)
    return svg.strip()


def new_figure(width: float, height: float, margins: dict[str, float] | None = None) -> Figure:
    """Return an empty figure: laid out by fixed ``margins`` (inches from each edge), else constrained.

    Constrained layout draws every figure twice to measure it; the charts drawn once per
    instance use fixed margins instead, which halves the report's time on large topologies.
    """
    with matplotlib.rc_context(RC):
        if margins is None:
            return Figure(figsize=(width, height), layout="constrained")
        fig = Figure(figsize=(width, height))
        fig.subplots_adjust(
            left=margins["left"] / width, right=1 - margins["right"] / width,
            bottom=margins["bottom"] / height, top=1 - margins["top"] / height,
            wspace=margins.get("wspace", 0.2),
        )
        return fig


def shorten(text: str, limit: int = 34) -> str:
    """Return ``text`` cut to ``limit`` characters with an ellipsis (the tables keep the full name)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- demand vs budget


@dataclass(frozen=True)
class Segment:
    """One stacked segment: a source, or the tail of small sources grouped as "others"."""

    label: str
    demand: dict[str, int]
    unbounded: bool = False
    sources: int = 1


def segments(sources: Sequence["SourceDemand"], scenarios: Sequence[str], top: int = TOP_SOURCES) -> list[Segment]:
    """Return the ``top`` largest sources by worst demand, then the rest as one "others" segment."""
    ranked = sorted(sources, key=lambda s: (not s.unbounded, -max((s.demand[x] for x in scenarios), default=0), s.source))
    keep = ranked if len(ranked) <= top + 1 else ranked[:top]
    out = [
        Segment(_source_label(s), {x: s.demand[x] for x in scenarios}, s.unbounded)
        for s in keep
    ]
    tail = ranked[len(keep):]
    if tail:
        out.append(Segment(
            f"others ({len(tail):,} sources)",
            {x: sum(s.demand[x] for s in tail) for x in scenarios},
            any(s.unbounded for s in tail),
            len(tail),
        ))
    return out


def _source_label(source: "SourceDemand") -> str:
    if source.kind == "pooler":
        return f"{source.source} (pooler)"
    label = source.source + (" (unbounded)" if source.unbounded else "")
    if source.scenarios is not None:  # a one-shot or cron job: its bar is 0 where it does not run
        label += f" ({' and '.join(source.scenarios)} only)"
    return label


def _line_labels(ax: Any, lines: list[tuple[float, str, str, str]], span: float) -> None:
    """Draw horizontal budget lines; label each, or both at once when they sit too close to tell apart."""
    for y, _, colour, style in lines:
        ax.axhline(y, color=colour, linestyle=style, linewidth=1.5, zorder=4)
    close = abs(lines[0][0] - lines[-1][0]) < 0.07 * span
    labels = [(max(line[0] for line in lines), " · ".join(line[1] for line in lines), INK)] if close else [
        (y, text, colour) for y, text, colour, _ in lines
    ]
    for y, text, colour in labels:
        ax.annotate(
            plain(text), xy=(0, y), xycoords=("axes fraction", "data"), xytext=(4, 3), textcoords="offset points",
            va="bottom", ha="left", fontsize=8.5, color=colour, fontweight="bold", zorder=5,
            bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.85},
        )


# Demand beyond this many times the budget lines breaks the axis (demand chart) or cuts the bars
# (waterfall): drawn to scale, 17,462 against 72 usable would flatten the lines onto the axis.
BREAK_RATIO = 4


def _scenario_note(instance: "InstanceBudget", scenario: str) -> str:
    result = instance.scenarios[scenario]
    total = result.demand
    if total is None:
        return "unbounded: over"
    if result.status == "over":
        return f"{total - instance.usable:,} over usable"
    if result.status == "warn":
        return f"{total - instance.alarm_at:,} past alarm"
    return f"{instance.alarm_at - total:,} below alarm"


def _break_marks(upper: Any, lower: Any) -> None:
    """Draw the two short diagonals that say the y axis is broken between ``upper`` and ``lower``."""
    size = 5
    kwargs = {"marker": [(-1, -0.5), (1, 0.5)], "markersize": size * 2, "linestyle": "none", "color": INK, "mec": INK,
              "mew": 1, "clip_on": False}
    upper.plot([0], [0], transform=upper.transAxes, **kwargs)
    lower.plot([0], [1], transform=lower.transAxes, **kwargs)


def demand_figure(instance: "InstanceBudget", title: str) -> Figure:
    """Return stacked bars of demand by source per scenario, with the usable and alarm lines.

    Where demand dwarfs the budget (more than ``BREAK_RATIO`` times usable), the y axis is broken:
    the lower panel keeps the budget lines to scale, the upper one shows the tops of the bars.
    """
    scenarios = list(instance.scenarios)
    segs = segments(instance.demand_by_source, scenarios)
    totals = [instance.scenarios[s].demand for s in scenarios]
    stacked = [sum(seg.demand[s] for seg in segs) for s in scenarios]
    budget = max(instance.usable, instance.alarm_at, 1)
    top = max([t or 0 for t in totals] + stacked + [budget])
    broken = top > BREAK_RATIO * budget
    fig = new_figure(9, 4.4, {"left": 0.9, "right": 2.75, "bottom": 0.55, "top": 0.35})
    with matplotlib.rc_context(RC):
        if broken:
            upper, ax = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 2], "hspace": 0.08})
            axes = [upper, ax]
        else:
            upper, ax = None, fig.add_subplot()
            axes = [ax]
        x = list(range(len(scenarios)))
        for target in axes:
            bottom = [0] * len(scenarios)
            for i, seg in enumerate(segs):
                colour, hatch = OTHERS_STYLE if seg.sources > 1 else SEGMENT_STYLES[i % len(SEGMENT_STYLES)]
                heights = [seg.demand[s] for s in scenarios]
                target.bar(x, heights, bottom=bottom, width=0.55, color=colour, hatch=hatch, edgecolor=INK, linewidth=0.4,
                           label=plain(shorten(seg.label)) if target is ax else None)
                bottom = [b + h for b, h in zip(bottom, heights)]
        low_top = budget * 1.45 if broken else top * 1.14
        ax.set_ylim(0, low_top)
        if upper is not None:
            high = [v for v in stacked if v > low_top]
            upper.set_ylim(min(high) * 0.8, top * 1.12)
            upper.spines["bottom"].set_visible(False)
            upper.tick_params(axis="x", which="both", bottom=False, labelbottom=False)
            upper.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
            upper.yaxis.set_major_locator(MaxNLocator(nbins=3))
            _break_marks(upper, ax)
        for xi, scenario, total, height in zip(x, scenarios, totals, stacked):
            status = instance.scenarios[scenario].status
            where = upper if upper is not None and height > low_top else ax
            where.annotate(
                fmt(total), xy=(xi, (total if total is not None else height)), xytext=(0, 3), textcoords="offset points",
                ha="center", va="bottom", fontsize=9, fontweight="bold", color=STATUS_COLOURS[status],
            )
        ax.set_xticks(x, [f"{s}\n{_scenario_note(instance, s)}" for s in scenarios])
        ax.set_xlim(-0.6, len(scenarios) - 0.4)
        if broken:
            cut = upper.get_ylim()[0] if upper is not None else 0
            ax.set_ylabel(f"connections\n(axis broken: {low_top:,.0f} to {cut:,.0f} not drawn)", fontsize=8.5)
        else:
            ax.set_ylabel("connections")
        (upper or ax).set_title(plain(title), loc="left")
        ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        _line_labels(ax, [
            (instance.usable, f"usable {instance.usable:,}", INK, "-"),
            (instance.alarm_at, f"alarm_at {instance.alarm_at:,} (dashed)", "#7f3b08", "--"),
        ], low_top)
        handles, names = ax.get_legend_handles_labels()
        (upper or ax).legend(handles[::-1], names[::-1], loc="upper left", bbox_to_anchor=(1.01, 1.0), title="source (largest first from top)")
    return fig


def demand_chart(instance: "InstanceBudget", title: str, prefix: str) -> str:
    """Return :func:`demand_figure` as an inline SVG fragment."""
    return to_svg(demand_figure(instance, title), prefix)


# --------------------------------------------------------------------------- budget waterfall


def worst_scenario(instance: "InstanceBudget") -> str:
    """Return the scenario with the largest demand (an unbounded one first; the later one on a tie)."""
    # on a tie, rollout reads better than steady: it is the scenario that includes the others
    scenarios = list(instance.scenarios)[::-1]
    return max(scenarios, key=lambda s: (instance.scenarios[s].demand is None, instance.scenarios[s].demand or 0))


def waterfall_figure(instance: "InstanceBudget", title: str) -> Figure:
    """Return a horizontal waterfall: max_connections, each reserved slot, usable, alarm, demand, headroom.

    Where demand is more than ``BREAK_RATIO`` times max_connections, the axis stops just past
    max_connections: the budget rows stay to scale, and the demand and headroom bars are cut at
    the edge (a jagged end) with their numbers written on them.
    """
    mc = instance.max_connections.value
    estimate = " (estimate)" if instance.max_connections.source == SOURCE_ESTIMATED else ""
    worst = worst_scenario(instance)
    demand = instance.scenarios[worst].demand
    rows: list[tuple[str, float, float, str, str, str]] = [(f"max_connections{estimate}", 0, mc, "#4a6fa5", "", f"{mc:,}")]
    level = mc
    for r in instance.reserves:
        label = f"− {r.parameter}" + (" (estimate)" if r.estimated else "")
        rows.append((label, level - r.value, r.value, "#bdbdbd", "\\\\", f"−{r.value:,}" if r.value else "0"))
        level -= r.value
    rows.append(("= usable", 0, instance.usable, "#1f4e79", "", f"{instance.usable:,}"))
    rows.append((f"alarm_at ({float(instance.headroom):.0%} headroom)", 0, instance.alarm_at, "#c6dbef", "//", f"{instance.alarm_at:,}"))
    if demand is None:
        rows.append((f"demand ({worst})", 0, 0, STATUS_COLOURS["over"], "", "unbounded"))
        rows.append(("headroom", 0, 0, STATUS_COLOURS["over"], "xx", "none: unbounded pool"))
    else:
        status = instance.scenarios[worst].status
        rows.append((f"demand ({worst})", 0, demand, "#737373", "", f"{demand:,}"))
        free = instance.usable - demand
        if free >= 0:
            rows.append(("headroom = usable − demand", demand, free, STATUS_COLOURS[status], STATUS_HATCH[status], f"{free:,} free"))
        else:
            rows.append(("headroom = usable − demand", instance.usable, -free, STATUS_COLOURS["over"], "xx", f"{-free:,} over"))
    right = max(mc, demand or 0)
    cut = mc * 1.5 if (demand or 0) > BREAK_RATIO * max(mc, 1) else None
    fig = new_figure(9, 0.42 * len(rows) + 1.1, {"left": 3.0, "right": 0.35, "bottom": 0.5, "top": 0.35})
    with matplotlib.rc_context(RC):
        ax = fig.add_subplot()
        y = list(range(len(rows)))
        for yi, (_, left, width, colour, hatch, text) in zip(y, rows):
            end = left + width
            if cut is not None and end > cut:
                # cut at the edge, with a jagged end and its number written on it
                ax.barh(yi, cut - left, left=left, height=0.6, color=colour, hatch=hatch, edgecolor=INK, linewidth=0.4)
                tooth = cut * 0.012
                ax.plot([cut, cut - tooth, cut, cut - tooth, cut], [yi - 0.3, yi - 0.15, yi, yi + 0.15, yi + 0.3], color="white",
                        linewidth=2.5, zorder=3, clip_on=False)
                ax.annotate(plain(f"{text} (off the scale →)"), xy=(cut, yi), xytext=(-6, 0), textcoords="offset points",
                            va="center", ha="right", fontsize=8.5, fontweight="bold", zorder=4,
                            bbox={"boxstyle": "square,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.9})
                continue
            ax.barh(yi, width, left=left, height=0.6, color=colour, hatch=hatch, edgecolor=INK, linewidth=0.4)
            ax.annotate(plain(text), xy=(end, yi), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8.5)
        ax.axvline(instance.alarm_at, color="#7f3b08", linestyle="--", linewidth=1.2, zorder=0)
        ax.set_yticks(y, [plain(r[0]) for r in rows])
        ax.invert_yaxis()
        if cut is not None:
            ax.set_xlim(0, cut)
            ax.set_xlabel(f"connections (worst scenario: {worst}); the axis stops at {cut:,.0f}: longer bars are cut, their numbers written")
        else:
            ax.set_xlim(0, right * 1.18 if right else 1)
            ax.set_xlabel(f"connections (worst scenario: {worst})")
        ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        ax.set_title(plain(title), loc="left")
    return fig


def waterfall_chart(instance: "InstanceBudget", title: str, prefix: str) -> str:
    """Return :func:`waterfall_figure` as an inline SVG fragment."""
    return to_svg(waterfall_figure(instance, title), prefix)
