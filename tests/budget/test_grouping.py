"""Issue 18 item 8: one warning per cause. A lint that fires for many services prints one line that
lists them (with each one's numbers), in every format people read; SARIF and JSON's
warning_details keep one entry per finding, each at its own line."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import run_cli

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "schema" / "check.schema.json").read_text())

# Three services whose pools are above their threads (worked by hand: sqlalchemy's 5 + 10 = 15 per
# process; web 4 replicas × 2 processes × 15 = 120, held to 2 threads 4 × 2 × 2 = 16; api 3 × 4 × 15
# = 180 -> 3 × 4 × 1 = 12; admin HikariCP 10 -> 4 threads), two Lambdas without reserved concurrency,
# and two asyncpg pools and one psycopg pool held at max (two causes: the libraries differ).
TOPOLOGY = """\
version: 1
name: grouped
databases:
  main: {engine: postgres, engine_version: "16.4", instance_class: db.r6g.4xlarge}
services:
  web: {replicas: 4, processes: 2, threads: 2, pool: sqlalchemy}
  api: {replicas: 3, processes: 4, threads: 1, pool: sqlalchemy}
  admin: {replicas: 1, threads: 4, pool: hikari}
  fn: {lambda: {}, pool: {size: 1}}
  fn2: {lambda: {}, pool: {size: 1}}
  events: {pool: {driver: asyncpg, min_size: 1, max_size: 20}}
  feeds: {pool: {driver: asyncpg, min_size: 2, max_size: 10}}
  jobs: {threads: 10, pool: {driver: psycopg-pool, min_size: 2, max_size: 10}}
"""


@pytest.fixture()
def topology(tmp_path: Path) -> str:
    path = tmp_path / "grouped.yaml"
    path.write_text(TOPOLOGY)
    return str(path)


def _warning_lines(text: str) -> list[str]:
    return [line for line in text.splitlines()[text.splitlines().index("warnings:") + 1:] if line.startswith("  - ")]


def test_text_prints_one_line_per_cause_listing_every_service_with_its_numbers(topology: str) -> None:
    code, out, err = run_cli(["check", topology, "--verbose"])  # pool-held-at-max is a note: listed with --verbose
    assert code == 0, err
    lines = _warning_lines(out)
    above = [line for line in lines if "above the concurrency" in line]
    assert len(above) == 1
    assert above[0].startswith("  - services web, api, admin: ")
    for numbers in ("web: sqlalchemy pool of 15 per process, concurrency 2: 120 → 16 at peak",
                    "api: sqlalchemy pool of 15 per process, concurrency 1: 180 → 12 at peak",
                    "admin: hikari pool of 10 per process, concurrency 4: 10 → 4 at peak"):
        assert numbers in above[0]
    (lambdas,) = [line for line in lines if "reserved concurrency" in line]
    assert lambdas.startswith("  - services fn, fn2: no reserved concurrency")
    # asyncpg's and psycopg_pool's idle settings differ: two causes, two lines
    held = [line for line in lines if "min_size" in line]
    assert len(held) == 2
    assert held[0].startswith("  - services events, feeds: ") and "max_inactive_connection_lifetime" in held[0]
    assert "events: asyncpg min_size 1 < max_size 20; feeds: asyncpg min_size 2 < max_size 10" in held[0]
    assert held[1].startswith("  - services.jobs.pool: psycopg-pool min_size 2 < max_size 10")
    assert len(lines) == 4 + ("estimated" in out)


def test_json_keeps_every_finding_with_its_subject_and_groups_the_strings(topology: str) -> None:
    code, out, _ = run_cli(["check", topology, "--format", "json"])
    document = json.loads(out)
    jsonschema.validate(document, SCHEMA)
    details = [d for d in document["warning_details"] if d["code"] == "pool-above-concurrency"]
    assert [(d["subject"], d["key_path"], d["line"]) for d in details] == [
        ("web", "services.web.pool", 6), ("api", "services.api.pool", 7), ("admin", "services.admin.pool", 8)]
    assert len({d["group"] for d in details}) == 1
    assert "above the concurrency" in document["warnings"][details[0]["group"]]
    assert details[1]["detail"] == "sqlalchemy pool of 15 per process, concurrency 1: 180 → 12 at peak"
    assert details[1]["message"].startswith("sqlalchemy pool of 15 per process (size 5 + max_overflow 10) is above the 1 thread")
    assert sum("above the concurrency" in w for w in document["warnings"]) == 1


def test_github_annotates_a_group_once_at_its_first_service(topology: str) -> None:
    _, out, _ = run_cli(["check", topology, "--format", "github"])
    above = [line for line in out.splitlines() if "title=planner%3A pool-above-concurrency" in line]
    assert len(above) == 1 and ",line=6," in above[0] and "web, api, admin" in above[0]


def test_sarif_keeps_a_result_at_each_service(topology: str) -> None:
    _, out, _ = run_cli(["check", topology, "--format", "sarif"])
    results = json.loads(out)["runs"][0]["results"]
    lines = [r["locations"][0]["physicalLocation"]["region"]["startLine"]
             for r in results if r["ruleId"].endswith("pool-above-concurrency")]
    assert lines == [6, 7, 8]


def test_a_single_finding_reads_as_before(tmp_path: Path) -> None:
    path = tmp_path / "one.yaml"
    path.write_text(TOPOLOGY.split("  api:")[0])
    _, out, _ = run_cli(["check", str(path)])
    (line,) = [line for line in _warning_lines(out) if "above" in line]
    assert line.startswith("  - services.web.pool: sqlalchemy pool of 15 per process (size 5 + max_overflow 10) is above the 2 threads")


def test_the_docs_show_the_real_line(topology: str) -> None:
    docs = (Path(__file__).parents[2] / "docs" / "topology.md").read_text(encoding="utf-8")
    shown = next(line for line in docs.splitlines() if line.startswith("  - services web, api, admin: "))
    _, out, _ = run_cli(["check", topology])
    assert shown in _warning_lines(out)
