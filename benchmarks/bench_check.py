"""Benchmark `planner check` on a generated topology and print the figures.

Usage: python benchmarks/bench_check.py [--services 10000] [--databases 50] [--runs 3]

It writes a YAML topology with N services spread over M databases (long-running, Lambda and
fixed shapes, three environments, a PgBouncer and an RDS Proxy), then measures:
  - the whole command, as a user runs it (a fresh `python -m planner check` process), best of runs;
  - bare interpreter start-up and `import typer, yaml`, the floor the command cannot go below;
  - in-process phases: load topology, load catalogue, compute budget, render JSON;
  - peak memory (ru_maxrss) of the command.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLASSES = ["db.m6g.large", "db.r6g.xlarge", "db.m5.2xlarge", "db.r7g.4xlarge", "db.m7g.8xlarge"]


def generate(services: int, databases: int) -> str:
    """Return a YAML topology with ``services`` services over ``databases`` databases."""
    lines = ["version: 1", "name: generated", "databases:"]
    for d in range(databases):
        lines += [f"  db{d}:", f"    instance_class: {CLASSES[d % len(CLASSES)]}", "    engine_version: \"16\""]
        if d % 5 == 0:
            lines.append("    readers: 2")
    lines += ["environments:", "  prod: {}", "  staging: {scale: 0.5}", "  dev: {scale: 0.25}", "services:"]
    for s in range(services):
        db = f"db{s % databases}"
        kind = s % 10
        lines.append(f"  svc{s}:")
        lines.append(f"    database: {db}")
        if kind < 7:
            lines += [f"    replicas: {{min: {1 + s % 3}, max: {3 + s % 7}}}", f"    processes: {1 + s % 4}", "    pool: {driver: sqlalchemy, size: 2, max_overflow: 1}"]
            if kind == 3 and (s % databases) % 5 == 0:
                lines.append("    endpoint: reader")
        elif kind < 9:
            lines += [f"    lambda: {{concurrency: {5 + s % 20}}}", "    pool: {driver: node-pg, size: 1}"]
        else:
            lines += ["    connections: 1", "    environments: [prod]"]
    lines += ["poolers:"]
    lines += ["  bouncer:", "    kind: pgbouncer", "    database: db1", "    clients: [svc1, svc51, svc101]", "    replicas: 2"]
    lines += ["  proxy:", "    kind: rds-proxy", "    database: db7", "    clients: [svc7, svc57]", "    max_connections_percent: 50"]
    return "\n".join(lines) + "\n"


def best_of(runs: int, args: list[str]) -> tuple[float, int, subprocess.CompletedProcess[bytes]]:
    """Return the best wall time (s), the peak RSS (KiB) of the children, and the last result."""
    times: list[float] = []
    result = None
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(args, capture_output=True)
        times.append(time.perf_counter() - start)
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert result is not None
    return min(times), rss, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--databases", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "generated.yaml"
        path.write_text(generate(args.services, args.databases), encoding="utf-8")
        size_kib = path.stat().st_size / 1024

        bare, _, _ = best_of(args.runs, [sys.executable, "-c", "pass"])
        floor, _, _ = best_of(args.runs, [sys.executable, "-c", "import typer, yaml"])
        whole, rss, result = best_of(args.runs, [sys.executable, "-m", "planner", "check", str(path), "--format", "json"])
        if result.returncode not in (0, 1):
            sys.exit(f"planner check failed ({result.returncode}): {result.stderr.decode()[:500]}")
        doc = json.loads(result.stdout)

        from planner.budget import compute_budget
        from planner.catalog import load_catalog
        from planner.render.check import render_json
        from planner.topology import load_topology

        phases: dict[str, list[float]] = {"load topology": [], "load catalogue": [], "compute budget": [], "render json": []}
        for _ in range(args.runs):
            t0 = time.perf_counter()
            topology = load_topology(path)
            t1 = time.perf_counter()
            catalog = load_catalog()
            t2 = time.perf_counter()
            report = compute_budget(topology, catalog)
            t3 = time.perf_counter()
            render_json(report)
            t4 = time.perf_counter()
            for name, value in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                phases[name].append(value)

    print(f"topology: {args.services} services, {args.databases} databases, 3 environments, YAML {size_kib:.0f} KiB")
    print(f"instances in the result: {len(doc['instances'])}, status {doc['status']}")
    print(f"planner check (whole command, best of {args.runs}): {whole:.3f} s   target < 2 s")
    print(f"python start-up alone: {bare:.3f} s; python + import typer, yaml: {floor:.3f} s")
    print(f"check over that floor: {whole - floor:.3f} s")
    for name, values in phases.items():
        print(f"  {name:<15} {statistics.median(values) * 1000:8.1f} ms (median, in-process)")
    print(f"peak memory of the command (max RSS): {rss / 1024:.0f} MiB")
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
