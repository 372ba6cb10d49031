"""Benchmark what ``inspect --sample`` costs the server it measures, and its analysis.

Usage: python benchmarks/bench_sample.py [--sessions 200] [--samples 200] [--groups 40] [--seconds 86400]

Starts a throwaway PostgreSQL (the machine's binaries, as ``verify --local`` does) with ``log_statement =
all``, opens --sessions idle client sessions, and reads --samples samples in the one read-only session
``inspect --sample`` opens. Prints what that session sent, from the server's own log (the three SETs of
its start, then one query per sample), and the round trip of one sample query as the client times it.
Then the cost on planner's side of a long window: counting each sample's rows as it arrives (--groups
groups of 5 sessions), and the analysis of the whole window (--seconds samples, every table, the totals
and the leak checks) once it ends.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner.adapters.localpg import local_postgres  # noqa: E402
from planner.adapters.postgres import connect_read_only, read_activity  # noqa: E402
from planner.adapters.server import ActivitySample, Session  # noqa: E402
from planner.live.sample import Samples, Window  # noqa: E402


def server_cost(sessions: int, samples: int) -> None:
    import psycopg

    with local_postgres({"max_connections": sessions + 20, "log_statement": "all", "log_line_prefix": "%a|"}, host_auth="trust") as server:
        held = [psycopg.connect(server.dsn(), autocommit=True, application_name=f"app{k % 20}@prod") for k in range(sessions)]
        try:
            conn = connect_read_only(server.dsn())
            times = []
            for _ in range(samples):
                t0 = time.perf_counter()
                sample = read_activity(conn, server.dsn())
                times.append(time.perf_counter() - t0)
            conn.close()
            assert len(sample.sessions) == sessions + 1
        finally:
            for c in held:
                c.close()
        log = (server.root / "log").read_text(errors="replace").splitlines()
        sent = [line.split("statement: ", 1)[1] for line in log if line.startswith("planner inspect|") and "statement: " in line]
    sets = [s for s in sent if s.startswith("SET ")]
    queries = [s for s in sent if s.startswith("SELECT ")]
    print(f"server: {sessions} client sessions; {samples} samples read")
    print(f"  statements sent by the sampling session: {len(sent)} = {len(sets)} SET at its start + {len(queries)} SELECT "
          f"({len(queries) / samples:g} per sample), nothing else")
    print(f"  one sample, round trip from the client: median {statistics.median(times) * 1000:.2f} ms, "
          f"p95 {sorted(times)[int(0.95 * len(times))] * 1000:.2f} ms, max {max(times) * 1000:.2f} ms")


def analysis_cost(groups: int, seconds: int) -> None:
    from planner.live.usage import GROUPINGS, Activity, find_leaks

    t0 = datetime(2026, 12, 7, tzinfo=timezone.utc)
    samples = Samples("bench", Window(float(seconds), 1.0), 300.0)
    one = [Session(1, "client backend", "watcher", "planner inspect", "db", "local", "active")]
    for g in range(groups):  # 5 sessions per group, the first k of them active
        one += [Session(100 + g * 50 + j, "client backend", f"role{g % 4}", f"app{g}@prod", "db", f"10.0.{g}.1", "idle") for j in range(5)]
    actives = {(g, k): [Session(100 + g * 50 + j, "client backend", f"role{g % 4}", f"app{g}@prod", "db", f"10.0.{g}.1",
                                "active" if j < k else "idle") for j in range(5)] for g in range(groups) for k in range(5)}  # fmt: skip
    built = 0.0
    for k in range(seconds):
        sessions = one[:1] + [s for g in range(groups) for s in actives[(g, (k + g) % 5)]]
        sample = ActivitySample(t0 + timedelta(seconds=k), 160000, 500, 1, tuple(sessions))
        t = time.perf_counter()
        samples.add(sample)  # what sampling adds to each query: counting its rows
        built += time.perf_counter() - t
    start = time.perf_counter()
    activity = Activity(samples)  # as inspect --sample does: the arrays once, then every table
    for by in GROUPINGS:
        activity.usage_by(by)
    activity.totals()
    find_leaks(samples, activity)
    analysed = time.perf_counter() - start
    counts = sum(len(c) for c in samples.counts)
    print(f"analysis: {seconds:,} samples × {groups} groups ({counts:,} counts): recorded in {built:.1f} s while sampling "
          f"(~{built / seconds * 1e6:.0f} µs a sample), analysed in {analysed:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--groups", type=int, default=40)
    parser.add_argument("--seconds", type=int, default=86_400)
    args = parser.parse_args()
    server_cost(args.sessions, args.samples)
    analysis_cost(args.groups, args.seconds)


if __name__ == "__main__":
    main()
