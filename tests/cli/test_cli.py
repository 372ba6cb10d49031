"""The command line, one test per exit code and format: stdout, stderr and the code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from planner.cli import main

from ..conftest import EXAMPLES, run_cli

HEAVY = ("matplotlib", "boto3", "botocore", "psycopg", "jinja2", "pandas", "numpy")  # check reads the catalogue with csv (issue 14)


def test_check_ok_exits_0() -> None:
    code, out, err = run_cli(["check", str(EXAMPLES / "pgbouncer-fleet.yaml")])
    assert code == 0, err
    assert "main/writer" in out and "db.m5.large" in out and "814" in out  # 823 − 9 reserved on PostgreSQL 16
    assert err == ""


def test_check_over_exits_1_and_names_the_largest_sources() -> None:
    code, out, _ = run_cli(["check", str(EXAMPLES / "beanstalk-flask.yaml")])
    assert code == 1
    assert "OVER" in out
    assert "api@default 60" in out


def test_fail_on_warn(tmp_path: Path) -> None:
    topology = tmp_path / "warn.yaml"
    topology.write_text(
        "version: 1\ndatabases:\n  main: {engine: self-managed, parameters: {max_connections: 100}}\n"
        "services:\n  ops: {connections: 90}\n"
    )
    assert run_cli(["check", str(topology)])[0] == 0
    code, out, _ = run_cli(["check", str(topology), "--fail-on", "warn"])
    assert code == 1 and "WARN" in out


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["check", "missing.yaml"], "missing.yaml: file not found"),
        (["check", "{ex}/beanstalk-flask.yaml", "--formt", "json"], "No such option: --formt"),
        (["check", "{ex}/beanstalk-flask.yaml", "--format", "yaml"], "--format"),
        (["check", "{ex}/beanstalk-flask.yaml", "--scenario", "burst"], "unknown scenario 'burst'"),
        (["check"], "Missing argument"),
        (["plan", "{ex}/beanstalk-flask.yaml", "--engine", "mysql"], "unknown engine 'mysql'"),
        (["explain", "{ex}/beanstalk-flask.yaml", "--database", "nope"], "no database named 'nope'"),
        (["catalog", "show", "db.m6g.larg"], "did you mean db.m6g.large"),
    ],
)
def test_usage_and_input_errors_exit_2_with_one_line(args: list[str], fragment: str) -> None:
    code, out, err = run_cli([a.replace("{ex}", str(EXAMPLES)) for a in args])
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert fragment in lines[0]
    assert "Traceback" not in err


def test_invalid_topology_lists_every_problem(tmp_path: Path) -> None:
    topology = tmp_path / "bad.yaml"
    topology.write_text(
        "version: 1\ndatabases:\n  main:\n    instance_class: db.m6g.large\n    headroom: 140%\n"
        "services:\n  web:\n    replica: 3\n  fn:\n    lambda: {concurrency: -1}\n"
    )
    code, out, err = run_cli(["check", str(topology)])
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 3, err
    assert any(":8: services.web.replica" in line and "did you mean 'replicas'" in line for line in lines)
    assert any(":5: databases.main.headroom" in line for line in lines)
    assert any(":10: services.fn.lambda.concurrency" in line for line in lines)


def test_unknown_instance_class_points_at_the_line(tmp_path: Path) -> None:
    topology = tmp_path / "t.yaml"
    topology.write_text("version: 1\ndatabases:\n  main:\n    instance_class: db.m6g.larg\nservices:\n  ops: {connections: 1}\n")
    code, _, err = run_cli(["check", str(topology)])
    assert code == 2
    assert f"{topology}:4: databases.main.instance_class" in err and "db.m6g.large" in err


def test_json_contract_keys() -> None:
    code, out, _ = run_cli(["check", str(EXAMPLES / "lambda-proxy.yaml"), "--format", "json"])
    assert code == 0
    doc = json.loads(out)
    assert {"topology", "status", "instances", "poolers", "warnings"} <= set(doc)
    writer = doc["instances"][0]
    assert {"database", "role", "engine", "instance_class", "max_connections", "reserved", "usable", "alarm_at",
            "max_connections_source", "scenarios", "demand_by_source"} <= set(writer)
    assert [i["role"] for i in doc["instances"]] == ["writer", "reader-1"]
    assert set(writer["scenarios"]) == {"steady", "peak", "rollout"}
    proxy = doc["poolers"][0]
    assert {"pooler", "kind", "server_connections", "client_capacity", "scenarios"} <= set(proxy)
    assert proxy["server_connections"] == writer["max_connections"] * 60 // 100
    assert proxy["scenarios"]["peak"] == {"client_demand": 400, "status": "ok", "unbounded": False}


def test_markdown_is_a_pull_request_comment() -> None:
    code, out, _ = run_cli(["check", str(EXAMPLES / "beanstalk-flask.yaml"), "--format", "markdown"])
    assert code == 1
    assert out.startswith("### planner: `beanstalk-flask` is ❌ over")
    assert "| main/writer | db.t2.small |" in out
    assert "<details><summary>Demand by source on main/writer</summary>" in out


def test_github_annotations_point_at_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    path = EXAMPLES / "beanstalk-flask.yaml"
    code, out, _ = run_cli(["check", str(path), "--format", "github"])
    assert code == 1
    lines = out.splitlines()
    # the database `main:` is on line 9 and the service `api:` on line 16 of the example
    assert any(l.startswith(f"::error file={path},line=9,") for l in lines)
    assert any(l.startswith(f"::error file={path},line=16,") and "api@default" in l for l in lines)
    assert any(l.startswith("::warning ") for l in lines)
    assert "beanstalk-flask" in summary.read_text()


def test_github_escaping() -> None:
    from planner.render.check import gh_escape_data, gh_escape_property

    assert gh_escape_data("50%\nnext") == "50%25%0Anext"
    assert gh_escape_property("a:b,c") == "a%3Ab%2Cc"


def test_output_file_is_written_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "out" / "check.json"
    code, out, _ = run_cli(["check", str(EXAMPLES / "pgbouncer-fleet.yaml"), "--format", "json", "-o", str(target)])
    assert code == 0 and out == ""
    assert json.loads(target.read_text())["status"] == "ok"
    missing = tmp_path / "never.json"
    code, _, _ = run_cli(["check", str(tmp_path / "absent.yaml"), "-o", str(missing)])
    assert code == 2 and not missing.exists()


def test_plan_lists_fitting_classes_smallest_first() -> None:
    code, out, _ = run_cli(["plan", str(EXAMPLES / "beanstalk-flask.yaml"), "--format", "json", "--top", "50"])
    assert code == 0
    (db,) = json.loads(out)["databases"]
    candidates = db["candidates"]
    memories = [c["memory_gib"] for c in candidates]
    assert memories == sorted(memories)
    assert all(c["worst_demand"] <= c["alarm_at"] for c in candidates)
    assert db["current_class"] == "db.t2.small"


def test_plan_without_instance_class(tmp_path: Path) -> None:
    topology = tmp_path / "new.yaml"
    topology.write_text("version: 1\ndatabases:\n  main: {engine_version: '16'}\nservices:\n  web: {replicas: 10, processes: 4, pool: sqlalchemy}\n")
    assert run_cli(["check", str(topology)])[0] == 2  # check needs a class ...
    code, out, _ = run_cli(["plan", str(topology), "--family", "m7g", "--format", "json"])  # ... plan picks one
    assert code == 0
    first = json.loads(out)["databases"][0]["candidates"][0]
    # rollout: (10 + ceil(10 × 0.25)) × 4 × (5 + 10) = 780 must sit under the alarm line
    assert first["worst_demand"] == 780 and first["alarm_at"] >= 780
    assert first["instance_class"].startswith("db.m7g.")


def test_explain_writes_out_the_arithmetic() -> None:
    code, out, _ = run_cli(["explain", str(EXAMPLES / "beanstalk-flask.yaml")])
    assert code == 0
    assert "max_connections = {DBInstanceClassMemory/31457280}" in out
    assert "= {1891981312/31457280}" in out
    assert "reserved = superuser_reserved_connections 3 + rds.rds_superuser_reserved_connections 2 = 5" in out
    assert "api@default: replicas 6 × processes 2 × per-thread pool 5 = 60" in out


def test_catalog_show_json_keys() -> None:
    code, out, _ = run_cli(["catalog", "show", "db.m5.large", "--format", "json"])
    assert code == 0
    doc = json.loads(out)
    assert {"instance_class", "engine", "vcpu", "memory_gib", "dbinstanceclassmemory_bytes", "max_connections",
            "reserved", "usable", "max_connections_source"} <= set(doc)
    assert (doc["max_connections"], doc["reserved"], doc["usable"], doc["max_connections_source"]) == (823, 9, 814, "observed")
    assert [(r["parameter"], r["value"]) for r in doc["reserved_detail"]] == [
        ("superuser_reserved_connections", 3), ("rds.rds_reserved_connections", 4), ("reserved_connections", 2)]
    assert doc["master_user_usable"] == 816


def test_catalog_list_filters() -> None:
    code, out, _ = run_cli(["catalog", "list", "--engine", "postgres", "--family", "m7g", "--format", "json"])
    assert code == 0
    rows = json.loads(out)
    assert rows and {r["family"] for r in rows} == {"m7g"} and {r["engine"] for r in rows} == {"postgres"}


def test_every_command_has_help_with_an_example() -> None:
    for command in (["check"], ["plan"], ["explain"], ["report"], ["diff"], ["recommend"], ["emit"], ["inspect"], ["verify"],
                    ["catalog", "list"], ["catalog", "show"], ["catalog", "refresh"], ["import", "rds"], ["observe"]):
        code, out, _ = run_cli(command + ["--help"])
        assert code == 0
        assert "Example" in out and f"planner {' '.join(command)}" in out


def test_every_command_is_in_the_readme() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for command in ("planner check", "planner plan", "planner explain", "planner report", "planner diff", "planner recommend",
                    "planner emit", "planner inspect", "planner verify", "planner catalog list", "planner catalog show",
                    "planner catalog refresh", "planner import rds", "planner import kubernetes", "planner import terraform",
                    "planner import compose", "planner observe"):
        assert command in readme


def test_python_m_planner_and_no_heavy_imports_for_check() -> None:
    """`python -m planner check` works and never imports matplotlib, boto3, psycopg, jinja2, pandas or numpy."""
    probe = (
        "import sys, runpy\n"
        f"sys.argv = ['planner', 'check', {str(EXAMPLES / 'pgbouncer-fleet.yaml')!r}]\n"
        "try:\n    runpy.run_module('planner', run_name='__main__')\n"
        "except SystemExit as e:\n    code = e.code\n"
        f"heavy = [m for m in sys.modules if m.split('.')[0] in {HEAVY!r}]\n"
        "print('HEAVY', heavy, 'CODE', code, file=sys.stderr)\n"
        "print('GROUPS', sorted(m for m in sys.modules if m.startswith('planner.cli.') and m not in "
        "('planner.cli.app', 'planner.cli.common')), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    assert "HEAVY [] CODE 0" in result.stderr, result.stderr
    assert "GROUPS ['planner.cli.budget']" in result.stderr  # only check's own group is built
    assert "main/writer" in result.stdout


def test_each_command_word_loads_the_modules_that_register_it() -> None:
    """planner.cli.COMMAND_GROUPS says which modules a command needs: it must match what they register."""
    import planner.cli as cli

    run_cli(["--help"])  # registers every group
    registered: dict[str, set[str]] = {}
    for command in cli.app.registered_commands:
        assert command.callback is not None
        name = command.name or command.callback.__name__
        registered.setdefault(name, set()).add(command.callback.__module__.rsplit(".", 1)[1])
    for group in cli.app.registered_groups:
        assert group.typer_instance is not None and group.name is not None
        modules = {c.callback.__module__.rsplit(".", 1)[1] for c in group.typer_instance.registered_commands if c.callback}
        registered.setdefault(group.name, set()).update(modules)
    assert registered == {word: set(groups) for word, groups in cli.COMMAND_GROUPS.items()}
    assert [c.callback.__module__ for c in cli.app.registered_commands] == sorted(  # --help's order
        (c.callback.__module__ for c in cli.app.registered_commands), key=lambda m: cli.GROUPS.index(m.rsplit(".", 1)[1]))


def test_cli_modules_keep_annotations_evaluated() -> None:
    """Typer reads every command's signature at each start-up: string annotations (PEP 563) cost it twice."""
    for module in sorted((Path(__file__).parents[2] / "planner" / "cli").glob("*.py")):
        lines = module.read_text(encoding="utf-8").splitlines()
        assert "from __future__ import annotations" not in lines, module.name


def test_main_reraises_with_debug() -> None:
    from planner.errors import InputError

    with pytest.raises(InputError):
        main(["check", "missing.yaml", "--debug"])


def test_observations_make_an_estimate_exact(tmp_path: Path) -> None:
    observations = tmp_path / "observed.csv"
    observations.write_text("engine,instance_class,max_connections,source\npostgres,db.t3.medium,405,SHOW max_connections\n")
    topology = tmp_path / "medium.yaml"
    topology.write_text((EXAMPLES / "shared-instance.yaml").read_text().replace("db.t3.micro", "db.t3.medium"))
    _, before, _ = run_cli(["check", str(topology), "--format", "json"])
    code, after, err = run_cli(["check", str(topology), "--format", "json", "--observations", str(observations)])
    assert code == 1, err
    writer_before, writer_after = json.loads(before)["instances"][0], json.loads(after)["instances"][0]
    assert writer_before["max_connections_source"] == "estimated" and writer_before["max_connections_range"]
    assert (writer_after["max_connections"], writer_after["max_connections_source"], writer_after["usable"]) == (405, "observed", 396)
    assert writer_after["max_connections_range"] is None
    assert not any("is an estimate" in w for w in json.loads(after)["warnings"])


def test_bad_observations_and_catalog_exit_2(tmp_path: Path) -> None:
    observations = tmp_path / "observed.csv"
    observations.write_text("engine,instance_class,max_connections\npostgres,db.t3.mikro,81\n")
    code, _, err = run_cli(["check", str(EXAMPLES / "shared-instance.yaml"), "--observations", str(observations)])
    assert code == 2 and "db.t3.mikro" in err and "db.t3.micro" in err and "Traceback" not in err
    catalog = tmp_path / "catalog.csv"
    catalog.write_text("instance_class,vcpu\ndb.x.large,two\n")
    code, _, err = run_cli(["catalog", "list", "--catalog", str(catalog)])
    assert code == 2 and str(catalog) in err and "Traceback" not in err


def test_custom_catalog_is_used(tmp_path: Path) -> None:
    source = (Path(__file__).parents[2] / "data" / "instance_classes.csv").read_text().splitlines()
    header, rows = source[0], [r for r in source[1:] if r.startswith("db.m5.large,")]
    catalog = tmp_path / "mine.csv"
    catalog.write_text("\n".join([header, *rows]) + "\n")
    code, out, _ = run_cli(["catalog", "list", "--catalog", str(catalog), "--format", "json"])
    assert code == 0
    assert [r["instance_class"] for r in json.loads(out)] == ["db.m5.large"]


def test_unwritable_output_is_exit_2_and_no_file(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for args in (["check", str(EXAMPLES / "pgbouncer-fleet.yaml"), "-o"], ["report", str(EXAMPLES / "pgbouncer-fleet.yaml"), "-o"]):
        code, out, err = run_cli(args + [str(blocker / "sub" / "out.html")])
        assert code == 2 and out == "" and "a part of the path is a file" in err
        assert len(err.strip().splitlines()) == 1
    if os.geteuid() != 0:  # root writes anywhere: the permission case only means something for others
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        code, _, err = run_cli(["check", str(EXAMPLES / "pgbouncer-fleet.yaml"), "-o", str(locked / "x.txt")])
        assert code == 2 and "cannot write the output" in err
