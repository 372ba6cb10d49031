"""Benchmark `planner check` on topologies that read the deployment against the same topologies written out.

Usage: python benchmarks/bench_sources.py [--workloads 300] [--runs 5]

For each case it writes a topology with `sources:` and `from:`/`{env: NAME}` entries, and beside it
the same topology written out by hand (what `load_topology` resolves it to, dumped as YAML), checks
that both give the same verdict and JSON document, then prints for each:
  - the whole command, as a user runs it (a fresh `python -m planner check` process), best of runs;
  - loading the topology in-process (median), where reading the sources shows undiluted;
  - the ratio sourced / written out (issue 13's target: the whole command within 1.5x).

Cases: the Kubernetes and Terraform test fixtures (a Helm-rendered shop with an HPA, KEDA and
ConfigMaps; a 198 KB `terraform show -json` plan), one `helm template` output generated with
--workloads Deployments, each with an HPA and a ConfigMap, every one of them a service, and a Compose
project read as docker compose reads it (Sentry self-hosted: 57 services, merge keys, a .env with
profiles, a PgBouncer), its PostgreSQL the database and its Sentry processes services.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "topology" / "sources" / "fixtures"

KUBERNETES_SHOP = (FIXTURES / "kubernetes" / "e2e" / "shop.yaml").read_text()

TERRAFORM_SHOP = """version: 1
sources:
  terraform: infra/shop.plan.json
databases:
  main: {from: aws_db_instance.main}
services:
  importer:
    from: aws_lambda_function.importer
    pool: {driver: sqlalchemy, size: {env: DB_POOL_SIZE}, max_overflow: {env: DB_MAX_OVERFLOW}}
"""

SENTRY_PROCESSES = ("web", "events-consumer", "attachments-consumer", "transactions-consumer", "metrics-consumer",
                    "generic-metrics-consumer", "ingest-occurrences", "ingest-monitors", "ingest-feedback-events",
                    "process-spans", "process-segments", "taskworker", "taskscheduler", "sentry-cleanup")
COMPOSE_SENTRY = """version: 1
sources:
  compose: sentry/
databases:
  main: {from: compose/postgres, parameters: {max_connections: 500}}
services:
""" + "".join(f"  {name}:\n    from: compose/{name}\n    pool: 1\n" for name in SENTRY_PROCESSES)

WORKLOAD = """---
apiVersion: v1
kind: ConfigMap
metadata:
  name: svc{n}-env
  labels: {{app.kubernetes.io/name: svc{n}, app.kubernetes.io/managed-by: Helm}}
data:
  WEB_CONCURRENCY: "{processes}"
  DB_POOL_SIZE: "{pool}"
  LOG_LEVEL: info
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc{n}
  labels: {{app.kubernetes.io/name: svc{n}, app.kubernetes.io/managed-by: Helm}}
spec:
  strategy:
    type: RollingUpdate
    rollingUpdate: {{maxSurge: {surge}, maxUnavailable: 0}}
  selector:
    matchLabels: {{app.kubernetes.io/name: svc{n}}}
  template:
    metadata:
      labels: {{app.kubernetes.io/name: svc{n}}}
    spec:
      containers:
        - name: app
          image: "registry.example.com/svc{n}:1.4.2"
          ports: [{{containerPort: 8080, name: http}}]
          envFrom:
            - configMapRef: {{name: svc{n}-env}}
          env:
            - name: DB_MAX_OVERFLOW
              value: "{overflow}"
            - name: DATABASE_URL
              valueFrom: {{secretKeyRef: {{name: db, key: url}}}}
          resources:
            requests: {{cpu: 250m, memory: 256Mi}}
        - name: log-shipper
          image: "registry.example.com/fluent-bit:3.1"
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: svc{n}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: svc{n}}}
  minReplicas: {low}
  maxReplicas: {high}
  metrics:
    - type: Resource
      resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 70}}}}
"""


def kubernetes_at_scale(folder: Path, workloads: int) -> Path:
    """Write one rendered chart with ``workloads`` Deployments and a topology whose services read them."""
    (folder / "rendered").mkdir()
    (folder / "rendered" / "chart.yaml").write_text("".join(
        WORKLOAD.format(n=n, processes=1 + n % 4, pool=2 + n % 5, overflow=n % 3, surge=f"{25 + n % 3 * 25}%",
                        low=1 + n % 3, high=4 + n % 9) for n in range(workloads)), encoding="utf-8")
    lines = ["version: 1", "sources:", "  kubernetes: [rendered/]", "databases:"]
    lines += [f"  db{d}: {{instance_class: db.r6g.8xlarge, engine_version: \"16.4\"}}" for d in range(10)]
    lines.append("services:")
    for n in range(workloads):
        lines += [f"  svc{n}:", f"    from: Deployment/svc{n}", "    container: app", f"    database: db{n % 10}",
                  "    processes: {env: WEB_CONCURRENCY}",
                  "    pool: {driver: sqlalchemy, size: {env: DB_POOL_SIZE}, max_overflow: {env: DB_MAX_OVERFLOW}}"]
    path = folder / "topology.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def fixture_case(topology: str, copies: dict[str, str]) -> Callable[[Path], Path]:
    """Return a case writer: the test fixtures ``copies`` (source -> destination) beside ``topology``."""

    def write(folder: Path) -> Path:
        for source, destination in copies.items():
            shutil.copytree(FIXTURES / source, folder / destination)  # dot files (a Compose .env) too
        path = folder / "topology.yaml"
        path.write_text(topology, encoding="utf-8")
        return path

    return write


def best_of_both(runs: int, first: list[str], second: list[str], cwd: Path) -> list[tuple[float, subprocess.CompletedProcess[bytes]]]:
    """Return the best wall time (s) of ``runs`` runs of each command and its last result.

    The runs alternate, so a machine that slows down or speeds up meanwhile slows both alike.
    """
    times: list[list[float]] = [[], []]
    results: list[subprocess.CompletedProcess[bytes]] = []
    for _ in range(runs):
        results = []
        for slot, args in enumerate((first, second)):
            start = time.perf_counter()
            results.append(subprocess.run(args, capture_output=True, cwd=cwd))
            times[slot].append(time.perf_counter() - start)
    return [(min(times[slot]), results[slot]) for slot in (0, 1)]


def in_process_load(path: Path, runs: int) -> float:
    """Return the median time (s) of loading ``path`` in this process (sources read on every load)."""
    from planner.topology import load_topology

    cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            load_topology(path.name)
            times.append(time.perf_counter() - start)
    finally:
        os.chdir(cwd)
    return statistics.median(times)


def written_out(path: Path) -> Path:
    """Write, beside ``path``, the topology it resolves to with every value typed in; return its path."""
    from planner.topology import load_topology
    from planner.topology.writer import dump_topology

    cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        topology = load_topology(path.name)
    finally:
        os.chdir(cwd)
    by_hand = path.with_name("by-hand.yaml")
    by_hand.write_text(dump_topology(topology), encoding="utf-8")
    return by_hand


def measure(name: str, write: Callable[[Path], Path], runs: int) -> float:
    """Print one case's figures; return the whole command's ratio."""
    with tempfile.TemporaryDirectory() as tmp:
        sourced = write(Path(tmp))
        by_hand = written_out(sourced)
        command = [sys.executable, "-m", "planner", "check", "--format", "json"]
        (t_sourced, r_sourced), (t_hand, r_hand) = best_of_both(runs, [*command, sourced.name], [*command, by_hand.name],
                                                                sourced.parent)
        for result in (r_sourced, r_hand):
            if result.returncode not in (0, 1):
                sys.exit(f"{name}: planner check failed ({result.returncode}): {result.stderr.decode()[:500]}")
        same = _comparable(r_sourced.stdout) == _comparable(r_hand.stdout)
        if not same:
            sys.exit(f"{name}: the written-out topology gives another result than the sourced one")
        load_sourced, load_hand = in_process_load(sourced, runs), in_process_load(by_hand, runs)
        size = sum(f.stat().st_size for f in Path(tmp).rglob("*") if f.is_file() and f.name != by_hand.name)
    ratio = t_sourced / t_hand
    print(f"{name}")
    print(f"  source files: {size / 1024:.0f} KiB; verdict {json.loads(r_sourced.stdout)['status']} both ways")
    print(f"  planner check, whole command (best of {runs}): sourced {t_sourced:.3f} s, written out {t_hand:.3f} s, "
          f"ratio {ratio:.2f}x (target <= 1.5x)")
    print(f"  load topology in-process (median): sourced {load_sourced * 1000:.1f} ms, written out "
          f"{load_hand * 1000:.1f} ms, ratio {load_sourced / load_hand:.1f}x")
    return ratio


def _comparable(stdout: bytes) -> object:
    """Return the JSON document without what names the file, its lines, or where values came from.

    Warnings compare by code and key path: their wording may say where a value came from ("threads
    not written: 1 by default" where the written-out file leaves out a value equal to the default)."""

    def strip(node: object) -> object:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if k not in ("file", "line", "provenance")}
        if isinstance(node, list):
            return [strip(item) for item in node]
        return node

    document = json.loads(stdout)
    details = document.pop("warning_details", [])
    document["warnings"] = sorted((d["code"], d["key_path"]) for d in details)
    return strip(document)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cases: dict[str, Callable[[Path], Path]] = {
        "kubernetes: the Helm-rendered shop (HPA, KEDA, ConfigMaps), 2 services":
            fixture_case(KUBERNETES_SHOP, {"kubernetes/e2e/rendered": "rendered"}),
        "terraform: the shop plan (terraform show -json), a database and a Lambda":
            fixture_case(TERRAFORM_SHOP, {"terraform": "infra"}),
        f"kubernetes: one rendered chart, {args.workloads} Deployments with HPAs and ConfigMaps, all services":
            lambda folder: kubernetes_at_scale(folder, args.workloads),
        "compose: Sentry self-hosted as a project folder (57 services, .env, profiles), 14 services":
            fixture_case(COMPOSE_SENTRY, {"compose-projects/sentry-self-hosted": "sentry"}),
    }
    ratios = [measure(name, write, args.runs) for name, write in cases.items()]
    print(f"worst whole-command ratio: {max(ratios):.2f}x (target <= 1.5x)")
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
