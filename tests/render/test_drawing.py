"""The report's charts drawn by worker processes: the same page byte for byte, errors raised, and the
pool used only where it pays (Linux, one thread, two CPUs or more, enough charts)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from planner.budget import compute_budget
from planner.catalog import load_catalog
from planner.render import charts, drawing, html
from planner.topology import load_topology

from ..conftest import EXAMPLES

CATALOG = load_catalog()


def _page(path: Path, workers: int, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(html, "pool_size", lambda charts: workers)
    report = compute_budget(load_topology(path), CATALOG)
    return html.render_report(report, CATALOG)


@pytest.mark.parametrize("name", ["lambda-proxy", "shared-instance"])
def test_workers_draw_the_same_page(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = EXAMPLES / f"{name}.yaml"
    in_process = _page(path, 0, monkeypatch)
    with_workers = _page(path, 2, monkeypatch)
    assert in_process.count("<svg") >= 4
    assert with_workers == in_process


def test_a_chart_that_fails_in_a_worker_fails_the_report() -> None:
    with pytest.raises(AttributeError):
        with drawing.Painter(2) as painter:
            pending = painter.draw(charts.demand_chart, None, "t", "c1")  # type: ignore[arg-type]
    assert isinstance(pending, drawing.PendingSvg)


def test_in_process_drawing_returns_markup() -> None:
    report = compute_budget(load_topology(EXAMPLES / "lambda-proxy.yaml"), CATALOG)
    with drawing.Painter(0) as painter:
        svg = painter.draw(charts.waterfall_chart, report.instances[0], "t", "c1")
    assert str(svg).startswith("<svg") and svg.__html__() == str(svg)


def test_the_pool_is_used_only_where_it_pays(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drawing, "available_cpus", lambda: 2)
    monkeypatch.setattr(drawing.sys, "platform", "linux")
    monkeypatch.setattr(drawing.threading, "active_count", lambda: 1)
    assert drawing.pool_size(drawing.MIN_CHARTS - 1) == 0  # a small report: forking costs what it saves
    assert drawing.pool_size(42) == 2
    monkeypatch.setattr(drawing, "available_cpus", lambda: 64)
    assert drawing.pool_size(42) == drawing.MAX_WORKERS
    monkeypatch.setattr(drawing, "available_cpus", lambda: 1)
    assert drawing.pool_size(42) == 0  # one CPU: workers would only take turns with the main process
    monkeypatch.setattr(drawing, "available_cpus", lambda: 2)
    monkeypatch.setattr(drawing.threading, "active_count", lambda: 2)
    assert drawing.pool_size(42) == 0  # forking a threaded process can deadlock
    monkeypatch.setattr(drawing.threading, "active_count", threading.active_count)
    monkeypatch.setattr(drawing.sys, "platform", "darwin")
    assert drawing.pool_size(42) == 0  # no fork outside Linux: a spawned worker re-imports matplotlib
