"""Benchmark the analysis of observed series: 63 days of 5-minute maxima for 20 instances (~360,000 points).

Usage: python benchmarks/bench_trend.py [--instances 20] [--days 63] [--runs 5]

Issue 22's target: < 2 s for the whole analysis, from the observations file as `planner observe`
writes it (JSON read, series rebuilt) to each instance's trend (daily and weekly peaks, percentiles,
hour-of-week profile, Theil–Sen with its band, the days to the alarm line). Prints best of --runs
for the file read and for the analysis, in-process, and the import time of pandas (paid once by the
commands that analyse series, never by a plain `planner check`).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

TARGET_SECONDS = 2.0


def _document(instances: int, days: int) -> dict[str, object]:
    """Return an observations file: each instance grows a little, with a daily cycle, noise and one gap."""
    rng = random.Random(22)
    start = datetime(2026, 10, 5, tzinfo=timezone.utc)
    per_day = 288
    observations = []
    for n in range(instances):
        values: list[int | None] = []
        for k in range(days * per_day):
            day = k / per_day
            cycle = max(0.0, math.sin(2 * math.pi * (day % 1) - 1))
            values.append(round(200 + 20 * n + 1.5 * day + 120 * cycle + rng.gauss(0, 6)))
        gap = rng.randrange(len(values) - 500)
        values[gap:gap + 300] = [None] * 300
        peak = max(v for v in values if v is not None)
        observations.append({"instance": f"db-{n}", "database": f"db-{n}", "role": "writer", "days": days, "peak": peak,
                             "series": {"period_seconds": 300, "start": start.isoformat().replace("+00:00", "Z"), "values": values}})
    return {"version": 2, "metric": "AWS/RDS DatabaseConnections", "statistic": "Maximum", "observations": observations}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=20)
    parser.add_argument("--days", type=int, default=63)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    def wall(code: str) -> float:
        best = math.inf
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            best = min(best, time.perf_counter() - t0)
        return best

    pandas_import = wall("import pandas") - wall("pass")

    from planner.live.observe import read_observed
    from planner.live.trend import analyse

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "observed.json"
        path.write_text(json.dumps(_document(args.instances, args.days)), encoding="utf-8")
        points = args.instances * args.days * 288
        reads, analyses = [], []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            peaks = read_observed(path)
            t1 = time.perf_counter()
            trends = [analyse(p.series, alarm_at=2000, usable=2300) for p in peaks if p.series is not None]
            t2 = time.perf_counter()
            reads.append(t1 - t0)
            analyses.append(t2 - t1)
    best = min(r + a for r, a in zip(reads, analyses))
    print(f"series: {args.instances} instances x {args.days} days of 5-minute maxima = {points:,} points "
          f"({path.name}: {len(json.dumps(_document(1, args.days))) * args.instances / 2**20:,.1f} MiB)")
    print(f"read the file (best of {args.runs}):    {min(reads) * 1000:7.0f} ms")
    print(f"analyse every series (best of {args.runs}): {min(analyses) * 1000:7.0f} ms")
    print(f"whole analysis: {best:.2f} s   target < {TARGET_SECONDS:.0f} s: {'ok' if best < TARGET_SECONDS else 'MISSED'}")
    print(f"import pandas (once per command that analyses, best of 3 fresh processes): {pandas_import * 1000:.0f} ms")
    print(f"example: {trends[0].sentence()}")


if __name__ == "__main__":
    main()
