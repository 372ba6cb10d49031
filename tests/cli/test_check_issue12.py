"""Issue 12 in `planner check`: every problem at once, several topologies per run, the GitHub label, --fail-on help."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import jsonschema
import pytest

from planner.budget import compute_budget
from planner.catalog import load_catalog
from planner.render.check import render_json
from planner.topology import load_topology

from ..conftest import EXAMPLES, run_cli

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "schema" / "check.schema.json").read_text())
OVER = EXAMPLES / "beanstalk-flask.yaml"  # over budget
OK = EXAMPLES / "pgbouncer-fleet.yaml"  # within budget
PROBLEM = re.compile(r"^planner: (?P<file>[^:]+):(?P<line>\d+): (?P<key>[\w.\[\]-]+): .+ \((?P<fix>.+)\)$")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- every problem at once

THREE_MISTAKES = """\
version: 1
databases:
  main:
    instance_class: db.m6g.larg
    headroom: 120
services:
  web:
    replicas: 3
    pool: sqlalchemyy
poolers:
  bouncer: {kind: pgbouncr, database: main, clients: [web]}
"""


def test_a_file_with_mistakes_in_every_section_takes_one_run(tmp_path: Path) -> None:
    """Mistakes in databases (a catalogue one among them), services and poolers: all reported, one line each."""
    path = write(tmp_path, "three.yaml", THREE_MISTAKES)
    code, out, err = run_cli(["check", str(path)])
    assert (code, out) == (2, "") and "Traceback" not in err
    found = [PROBLEM.match(line) for line in err.splitlines()]
    assert all(found), err
    assert [(m["file"], int(m["line"]), m["key"]) for m in found if m] == [
        (str(path), 4, "databases.main.instance_class"),  # unknown class: before, only found on a later run
        (str(path), 5, "databases.main.headroom"),
        (str(path), 9, "services.web.pool"),
        (str(path), 11, "poolers.bouncer.kind"),
    ]
    fixes = [m["fix"] for m in found if m]
    assert "db.m6g.large" in fixes[0] and "20%" in fixes[1] and "'sqlalchemy'" in fixes[2] and "'pgbouncer'" in fixes[3]


def test_a_bad_catalogue_does_not_hide_the_topology_problems(tmp_path: Path) -> None:
    topology = write(tmp_path, "t.yaml", "version: 1\ndatabases:\n  main: {headroom: 2}\nservices:\n  web: {}\n")
    code, _, err = run_cli(["check", str(topology), "--catalog", str(tmp_path / "missing.csv")])
    assert code == 2
    assert "missing.csv" in err and f"{topology}:3: databases.main.headroom" in err


def test_reader_class_problems_point_at_their_key(tmp_path: Path) -> None:
    path = write(tmp_path, "r.yaml", "version: 1\ndatabases:\n  main:\n    instance_class: db.m6g.large\n"
                 "    readers: 1\n    reader_instance_class: db.m6g.hug\nservices:\n  web: {}\n")
    code, _, err = run_cli(["check", str(path)])
    assert code == 2
    (line,) = err.splitlines()
    assert line.startswith(f"planner: {path}:6: databases.main.reader_instance_class: unknown instance class 'db.m6g.hug'")


def test_toml_in_a_yaml_file_says_so(tmp_path: Path) -> None:
    path = write(tmp_path, "shop.yaml", 'version = 1\n[databases.main]\ninstance_class = "db.m6g.large"\n'
                 "[services.web]\nreplicas = 2\n")
    code, _, err = run_cli(["check", str(path)])
    assert code == 2
    assert err.strip() == (f"planner: {path}:1: the top level must be a mapping of keys, not the string "
                           "'version = 1 [databases.main] instance...' (this looks like TOML, not YAML: rename it to "
                           "shop.toml; the format follows the file's suffix)")


# --------------------------------------------------------------------------- several topologies


def test_several_topologies_one_verdict_worst_wins() -> None:
    code, out, _ = run_cli(["check", str(OK), str(OVER)])
    assert code == 1
    blocks = out.rstrip("\n").split("\n\n")
    assert out.startswith(f"pgbouncer-fleet ({OK}): OK\n") and f"\nbeanstalk-flask ({OVER}): OVER\n" in out
    assert blocks[-1] == "2 topologies: OVER (1 over, 1 ok)"
    code, out, _ = run_cli(["check", str(OK), str(OK)])  # the same file twice is checked once
    assert code == 0 and out.count("pgbouncer-fleet (") == 1


def test_fail_on_warn_over_several_topologies(tmp_path: Path) -> None:
    warn = write(tmp_path, "warn.yaml", "version: 1\ndatabases:\n  main: {engine: self-managed, parameters: {max_connections: 100}}\n"
                 "services:\n  ops: {connections: 90}\n")  # 90 > alarm at 80, within usable 97
    assert run_cli(["check", str(OK), str(warn)])[0] == 0
    code, out, _ = run_cli(["check", str(OK), str(warn), "--fail-on", "warn"])
    assert code == 1 and out.rstrip().endswith("2 topologies: WARN (1 warn, 1 ok)")


def test_json_one_topology_is_the_stable_document_several_are_a_list() -> None:
    code, single, _ = run_cli(["check", str(OVER), "--format", "json"])
    assert code == 1
    assert single.rstrip("\n") == render_json(compute_budget(load_topology(OVER), load_catalog()))
    code, out, _ = run_cli(["check", str(OVER), str(OK), "--format", "json"])
    assert code == 1
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    jsonschema.validate(json.loads(single), SCHEMA)
    assert doc["status"] == "over" and set(doc) == {"status", "topologies", "planner_version"}
    assert [t["file"] for t in doc["topologies"]] == [str(OVER), str(OK)]
    assert doc["topologies"][0] == json.loads(single)


def test_markdown_github_and_csv_over_several_topologies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, md, _ = run_cli(["check", str(OVER), str(OK), "--format", "markdown"])
    assert code == 1
    assert md.startswith("### planner: 2 topologies, ❌ over\n")
    assert f"| beanstalk-flask | {OVER} | ❌ over |" in md and f"| pgbouncer-fleet | {OK} | ✅ ok |" in md
    assert "### planner: `beanstalk-flask` is ❌ over" in md and "### planner: `pgbouncer-fleet` is ✅ ok" in md

    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, gh, _ = run_cli(["check", str(OVER), str(OK), "--format", "github"])
    assert code == 1
    lines = gh.splitlines()
    assert any(line.startswith(f"::error file={OVER},") for line in lines)
    assert any(line.startswith(f"::warning file={OK},") for line in lines)  # pgbouncer-replicas
    assert lines[-1] == "planner: 2 topologies, verdict over: 1 over, 1 ok"
    assert summary.read_text().startswith("### planner: 2 topologies")

    code, out, _ = run_cli(["check", str(OVER), str(OK), "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 1 and {r["file"] for r in rows} == {str(OVER), str(OK)}
    assert {r["topology"] for r in rows} == {"beanstalk-flask", "pgbouncer-fleet"}
    _, single, _ = run_cli(["check", str(OVER), "--format", "csv"])
    assert "file" not in single.splitlines()[0].split(",")  # one topology: the columns of before


def test_bad_input_in_any_file_exits_2_naming_it(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", "version: 1\ndatabases:\n  main: {instance_class: db.m6g.large}\nservices:\n  web: {replica: 2}\n")
    worse = write(tmp_path, "worse.toml", "version = 2\n")
    code, out, err = run_cli(["check", str(OK), str(bad), str(worse)])
    assert (code, out) == (2, "") and "Traceback" not in err
    assert f"planner: {bad}:5: services.web.replica: unknown key 'replica'" in err
    assert f"planner: {worse}:1: version: unsupported version 2" in err
    assert str(OK) not in err


def test_observed_peaks_are_for_one_topology(tmp_path: Path) -> None:
    observed = write(tmp_path, "observed.json", "{}")
    code, out, err = run_cli(["check", str(OK), str(OVER), "--observed", str(observed)])
    assert (code, out) == (2, "") and "--observed" in err and "one topology" in err


# --------------------------------------------------------------------------- GitHub label, --fail-on help


def test_github_names_a_self_managed_instance_without_none(tmp_path: Path) -> None:
    path = write(tmp_path, "pg.yaml", "version: 1\ndatabases:\n  pg: {engine: self-managed, parameters: {max_connections: 20}}\n"
                 "services:\n  web: {connections: 50}\n")
    code, out, _ = run_cli(["check", str(path), "--format", "github"])
    assert code == 1
    assert "None" not in out
    assert "pg/writer (self-managed) is over in steady: demand 50 vs usable 17" in out


def test_fail_on_help_says_what_warn_means() -> None:
    code, out, _ = run_cli(["check", "--help"])
    text = " ".join(out.split())
    assert code == 0
    assert "never fails the check" in text and "alarm line (alarm_at" in text
    assert "planner check infra/*.yaml" in text


@pytest.mark.parametrize("command", ["explain", "report", "recommend", "emit pools"])  # plan needs no class
def test_every_topology_command_reports_every_problem_at_once(tmp_path: Path, command: str) -> None:
    path = tmp_path / "three.yaml"
    path.write_text("version: 1\ndatabases:\n  main: {instance_class: db.m6g.larg}\nservices:\n  web: {replicas: -1}\n"
                    "poolers:\n  b: {kind: pgbouncer, database: main, clients: [wbe]}\n")
    code, out, err = run_cli([*command.split(), str(path), "-o", str(tmp_path / "out")])
    assert (code, out) == (2, "")
    lines = err.splitlines()
    assert len(lines) == 3, err
    for line, where in zip(lines, ("three.yaml:3: databases.main.instance_class", "three.yaml:5: services.web.replicas",
                                   "three.yaml:7: poolers.b.clients[0]")):
        assert where in line and "Traceback" not in line
    assert not (tmp_path / "out").exists()
