"""The report's charts stay readable at any ratio of demand to budget (matplotlib objects, as drawn)."""

from __future__ import annotations

from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from planner.budget import InstanceBudget, compute_budget
from planner.catalog import load_catalog
from planner.render import charts
from planner.topology import load_topology

from ..conftest import EXAMPLES

CATALOG = load_catalog()


def _writer(name: str) -> InstanceBudget:
    report = compute_budget(load_topology(EXAMPLES / f"{name}.yaml"), CATALOG)
    return next(i for i in report.instances if i.role == "writer")


def _budget_line_axes(fig, value: int):  # type: ignore[no-untyped-def]
    """Return the axes holding a horizontal line at ``value``, and where it sits (fraction of the axes' height)."""
    for ax in fig.axes:
        for line in ax.get_lines():
            ys = list(line.get_ydata())
            if isinstance(line, Line2D) and len(ys) == 2 and ys[0] == ys[1] == value:
                low, high = ax.get_ylim()
                return ax, (value - low) / (high - low)
    raise AssertionError(f"no line at {value}")


def test_demand_dwarfing_the_budget_breaks_the_axis_and_keeps_the_lines_visible() -> None:
    writer = _writer("shared-instance")  # rollout 17,462 against 72 usable
    assert (writer.worst_demand or 0) > 200 * writer.usable
    fig = charts.demand_figure(writer, "t")
    assert len(fig.axes) == 2  # the broken axis: the tops above, the budget below
    for value in (writer.usable, writer.alarm_at):
        ax, where = _budget_line_axes(fig, value)
        assert 0.3 < where < 1, (value, where)  # drawn to a readable height, inside the plotted area
    assert "axis broken" in fig.axes[1].get_ylabel()
    tops = [t.get_text() for t in fig.axes[0].texts]
    assert "17,462" in tops  # the totals still written, in the upper panel
    assert "axis broken" in charts.demand_chart(writer, "t", "c1")


def test_demand_near_the_budget_keeps_one_axis() -> None:
    writer = _writer("beanstalk-flask")  # rollout 62 against 55 usable
    fig = charts.demand_figure(writer, "t")
    assert len(fig.axes) == 1 and "broken" not in fig.axes[0].get_ylabel()
    _, where = _budget_line_axes(fig, writer.usable)
    assert 0.3 < where < 1


def _bar_width(ax, y: int) -> float:  # type: ignore[no-untyped-def]
    """Return the width of the horizontal bar of row ``y``, as a fraction of the axes' width."""
    left, right = ax.get_xlim()
    (bar,) = [p for p in ax.patches if isinstance(p, Rectangle) and abs(p.get_y() + p.get_height() / 2 - y) < 1e-9]
    return bar.get_width() / (right - left)


def test_waterfall_cuts_demand_beyond_the_scale_and_writes_its_number() -> None:
    writer = _writer("shared-instance")
    fig = charts.waterfall_figure(writer, "t")
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_yticklabels()]
    usable = labels.index("= usable")
    assert _bar_width(ax, usable) > 0.4  # to scale: the budget rows read
    assert ax.get_xlim()[1] < 2 * writer.max_connections.value
    texts = [t.get_text() for t in ax.texts]
    assert "17,462 (off the scale →)" in texts and "17,390 over (off the scale →)" in texts
    assert "longer bars are cut" in ax.get_xlabel()


def test_waterfall_near_the_budget_is_to_scale() -> None:
    writer = _writer("beanstalk-flask")
    (ax,) = charts.waterfall_figure(writer, "t").axes
    assert not any("off the scale" in t.get_text() for t in ax.texts)
    assert ax.get_xlim()[1] >= (writer.worst_demand or 0)
