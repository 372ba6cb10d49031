"""Draw the report's charts in worker processes while the rest of the page is computed.

matplotlib draws in Python, one figure at a time under the GIL: a report of 1,000 sources draws 42
charts (about 6 s on two CPUs), as long as everything else it computes together. The chart
functions are pure (computed results in, SVG text out), so a pool of forked processes can draw
them while the main process goes on (breaking points, candidate classes, recommend); the page
waits for them only when it is written.

Forked workers start in milliseconds with matplotlib already imported; a spawned interpreter would
import it again (about a second each). So the pool is used only on Linux, only in a process with a
single thread (forking a threaded process can deadlock), on more than one CPU, and only for a
report with enough charts to repay it. Everywhere else each chart is drawn where it is asked for.
Either way the SVG is byte for byte the same: ids are assigned by the caller, in order.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType
from typing import Callable, ParamSpec

from markupsafe import Markup

# Below this many charts a pool's start (a fork per worker, pickled arguments) costs about what it saves.
MIN_CHARTS = 12
MAX_WORKERS = 4

P = ParamSpec("P")


class PendingSvg:
    """A chart being drawn by a worker: Jinja2 renders it through ``__html__`` (matplotlib escaped it)."""

    def __init__(self, future: "Future[str]") -> None:
        self._future = future

    def __html__(self) -> str:
        return self._future.result()

    def __str__(self) -> str:
        return self._future.result()


def available_cpus() -> int:
    """Return how many CPUs this process may run on (its affinity, not the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def pool_size(charts: int) -> int:
    """Return how many worker processes draw ``charts`` charts here: 0 when drawing in-process is better."""
    if charts < MIN_CHARTS or sys.platform != "linux" or threading.active_count() > 1:
        return 0
    cpus = available_cpus()
    return 0 if cpus < 2 else min(cpus, MAX_WORKERS)


class Painter:
    """Draw charts in-process or in a pool of forked workers; use as a context manager.

    Leaving the ``with`` block waits for every chart (a drawing error is raised there, as it would be
    in-process) and stops the workers.
    """

    def __init__(self, workers: int = 0) -> None:
        self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"), initializer=os.nice, initargs=(10,)) if workers else None
        self._pending: list[Future[str]] = []

    def draw(self, chart: Callable[P, str], *args: P.args, **kwargs: P.kwargs) -> Markup | PendingSvg:
        """Return ``chart(*args)``: drawn now, or by a worker (a module-level function; picklable arguments)."""
        if self._pool is None:
            return Markup(chart(*args, **kwargs))
        future = self._pool.submit(chart, *args, **kwargs)
        self._pending.append(future)
        return PendingSvg(future)

    def __enter__(self) -> "Painter":
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if self._pool is None:
            return
        try:
            if kind is None:
                for future in self._pending:
                    future.result()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
