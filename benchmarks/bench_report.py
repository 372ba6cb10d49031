"""Benchmark `planner report` on a generated topology and print the render time and the HTML size.

Usage: python benchmarks/bench_report.py [--services 1000] [--databases 10] [--runs 3]

The topology comes from bench_check.py's generator (long-running, Lambda and fixed services over
three environments, a PgBouncer and an RDS Proxy). It measures the whole command as a user runs
it (a fresh `python -m planner report` process, best of runs; target < 10 s) and, in-process,
each phase: load, budget, the report's context (candidate classes, breaking points, charts, the
recommendations), and the template; then the context once more with every chart drawn in-process
(no worker processes: one CPU, or not Linux) for the ratio. It prints the size of the HTML and checks that it holds no URL and no script.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_check import generate  # noqa: E402  (the generator lives next door)

TARGET_SECONDS = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--databases", type=int, default=10)  # the generator needs 8 or more
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from planner.budget import compute_budget
    from planner.catalog import load_catalog
    from planner.render.html import build_context, render_context
    from planner.topology import load_topology

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "generated.yaml"
        out = Path(tmp) / "report.html"
        path.write_text(generate(args.services, args.databases), encoding="utf-8")

        wall: list[float] = []
        for _ in range(args.runs):
            start = time.perf_counter()
            result = subprocess.run([sys.executable, "-m", "planner", "report", str(path), "-o", str(out)], capture_output=True)
            wall.append(time.perf_counter() - start)
            if result.returncode != 0:
                sys.exit(f"planner report failed ({result.returncode}): {result.stderr.decode()[:500]}")
        html = out.read_text(encoding="utf-8")

        phases: dict[str, list[float]] = {"load": [], "budget": [], "context + charts": [], "template": []}
        for _ in range(args.runs):
            t0 = time.perf_counter()
            topology, catalog = load_topology(path), load_catalog()
            t1 = time.perf_counter()
            report = compute_budget(topology, catalog)
            t2 = time.perf_counter()
            context = build_context(report, catalog)
            t3 = time.perf_counter()
            render_context(context)
            t4 = time.perf_counter()
            for name, value in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                phases[name].append(value)

        # the same context with every chart drawn in-process, as on one CPU or outside Linux
        from planner.render import drawing

        workers = drawing.pool_size(html.count("<svg"))
        threshold, drawing.MIN_CHARTS = drawing.MIN_CHARTS, sys.maxsize
        try:
            t0 = time.perf_counter()
            build_context(report, catalog)
            serial = time.perf_counter() - t0
        finally:
            drawing.MIN_CHARTS = threshold

    sources = sum(len(i.demand_by_source) for i in report.instances) + sum(len(p.clients) for p in report.poolers)
    best = min(wall)
    print(f"topology: {args.services} services, {args.databases} databases, {len(report.instances)} instances, {sources:,} sources")
    print(f"planner report (whole command, best of {args.runs}): {best:.2f} s   target < {TARGET_SECONDS:.0f} s: {'ok' if best < TARGET_SECONDS else 'MISSED'}")
    for name, values in phases.items():
        print(f"  {name:<17} {statistics.median(values) * 1000:8.0f} ms (median, in-process)")
    parallel = statistics.median(phases["context + charts"])
    print(f"  charts drawn by {workers} worker processes; in-process instead: context {serial * 1000:.0f} ms "
          f"({serial / parallel:.2f}x the time with workers)")
    print(f"HTML: {len(html.encode()) / 1024:,.0f} KiB, {html.count('<svg')} charts")
    print(f"URLs in the file: {len(re.findall(r'https?://', html))}; <script> tags: {html.lower().count('<script')}")


if __name__ == "__main__":
    main()
