"""Where each number came from: explain, the JSON document and the report name the deployment's files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from ..conftest import run_cli

FIXTURES = Path(__file__).parents[1] / "topology" / "sources" / "fixtures" / "compose"
SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "schema" / "check.schema.json").read_text())
TOPOLOGY = """version: 1
sources:
  compose: stack/docker-stack.yml
databases:
  main: {from: compose/db}
  other: {engine: postgres, instance_class: db.m6g.large}
services:
  result: {from: compose/result, database: main, pool: {driver: node-pg, size: {env: PG_POOL_MAX}}}
  batch: {database: other, replicas: 2}
"""


@pytest.fixture
def topology(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(FIXTURES, tmp_path / "stack")
    (tmp_path / "t.yaml").write_text(TOPOLOGY)
    return Path("t.yaml")


def test_explain_lists_each_value_with_its_origin(topology: Path) -> None:
    code, out, err = run_cli(["explain", str(topology)])
    assert code == 0, err
    section = out.split("read from the deployment:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert section == [
        "  databases.main ← compose/db, stack/docker-stack.yml:11",
        "    engine 'self-managed' ← compose/db image, stack/docker-stack.yml:12",
        "    parameters.max_connections 120 ← compose/db command, stack/docker-stack.yml:13",
        "  services.result ← compose/result, stack/docker-stack.yml:34",
        "    replicas 2 ← compose/result deploy.replicas, stack/docker-stack.yml:44",
        "    max_surge 0 ← compose/result (containers are replaced, stop-first), stack/docker-stack.yml:34",
        "    pool.size 10 ← PG_POOL_MAX = '10' ← compose/result environment.PG_POOL_MAX, stack/docker-stack.yml:41",
        # nothing on the command line says otherwise, and the explain says so rather than assume in silence
        "    processes 1 ← no app server recognised in its command: one process (v1's default)",
        "    threads 1 ← no app server recognised in its command: one thread (v1's default)",
    ]
    assert "  max_connections = 120  (from compose/db command, stack/docker-stack.yml:13)" in out


def test_explain_of_one_database_keeps_its_own_entries(topology: Path) -> None:
    code, out, err = run_cli(["explain", str(topology), "--database", "other"])
    assert code == 0, err
    assert "read from the deployment" not in out  # nothing on `other` came from the stack
    code, out, err = run_cli(["explain", str(topology), "--database", "main"])
    assert "services.result ← compose/result" in out


def test_the_json_document_carries_the_provenance_and_meets_its_schema(topology: Path) -> None:
    code, out, err = run_cli(["check", str(topology), "--format", "json"])
    assert code == 0, err
    document = json.loads(out)
    jsonschema.validate(document, SCHEMA)
    assert document["provenance"]["services.result.replicas"] == {
        "value": "2", "from": "compose/result deploy.replicas, stack/docker-stack.yml:44"}
    assert document["provenance"]["services.result"] == {"value": "compose/result", "from": "compose/result, stack/docker-stack.yml:34"}


def test_a_hand_written_topology_has_no_provenance_key(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("version: 1\ndatabases:\n  main: {instance_class: db.m6g.large}\nservices:\n  web: {replicas: 2}\n")
    code, out, _ = run_cli(["check", str(path), "--format", "json"])
    assert "provenance" not in json.loads(out)


def test_the_report_has_a_read_from_the_deployment_table(topology: Path, tmp_path: Path) -> None:
    code, _, err = run_cli(["report", str(topology), "-o", "r.html"])
    assert code == 0, err
    html = (tmp_path / "r.html").read_text()
    section = html.split('<section id="sourced"', 1)[1].split("</section>", 1)[0]
    assert '<a href="#sourced">Read from the deployment (9)</a>' in html
    assert section.count("<tr><td>") == 9
    assert ("<tr><td><code>services.result</code></td><td><code>replicas</code></td><td><code>2</code></td>"
            "<td>compose/result deploy.replicas, stack/docker-stack.yml:44</td></tr>") in section
