"""Compose files as a topology's source, and the resolver's rules (conflicts, {env: NAME}, references)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from planner.budget import compute_budget
from planner.catalog import load_catalog
from planner.errors import InputError
from planner.topology import load_topology

from ...conftest import refusal, run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "compose"
HEAD = """version: 1
sources:
  compose: [stack/docker-stack.yml]
databases:
  main: {from: compose/db}
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run where the topology is, so files are named as a user in that folder sees them."""
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, body: str, head: str = HEAD) -> Path:
    """Copy the Compose fixtures beside a topology and return the topology's (relative) path."""
    if not (tmp_path / "stack").exists():
        shutil.copytree(FIXTURES, tmp_path / "stack")
    (tmp_path / "topology.yaml").write_text(head + body)
    return Path("topology.yaml")


def errors(path: Path, command: str = "check") -> list[str]:
    """Run a command that must refuse the topology; return its stderr lines without the "planner: " prefix."""
    return refusal([command, str(path)])


def test_values_come_from_the_stack_with_their_origin(tmp_path: Path) -> None:
    path = write(tmp_path, """services:
  result:
    from: compose/result
    pool: {driver: node-pg, size: {env: PG_POOL_MAX}}
  worker:
    from: compose/worker
    threads: {env: WORKER_THREADS}
    pool: {driver: sqlalchemy, size: {env: DB_POOL_SIZE}, max_overflow: {env: DB_MAX_OVERFLOW, default: 2}}
  vote: {from: compose/vote, connections: 1}
""".replace("  vote: {from: compose/vote, connections: 1}\n", ""))
    topology = load_topology(path)
    main = topology.databases["main"]
    assert (main.engine, main.parameters["max_connections"]) == ("self-managed", 120)
    result, worker = topology.services["result"], topology.services["worker"]
    assert (result.replicas_max, result.surge_count, result.pool.size) == (2, 0, 10)  # type: ignore[union-attr]
    assert (worker.threads, worker.pool.size, worker.pool.max_overflow) == (4, 8, 2)  # type: ignore[union-attr]
    provenance = {path: sourced.origin for path, sourced in topology.provenance.items()}
    assert provenance["databases.main.parameters.max_connections"] == "compose/db command, stack/docker-stack.yml:13"
    assert provenance["services.result.replicas"] == "compose/result deploy.replicas, stack/docker-stack.yml:44"
    assert provenance["services.result.pool.size"] == "PG_POOL_MAX = '10' ← compose/result environment.PG_POOL_MAX, stack/docker-stack.yml:41"
    assert provenance["services.worker.pool.size"].endswith("compose/worker DB_POOL_SIZE, stack/worker.env:2")
    assert provenance["services.worker.threads"].startswith("WORKER_THREADS = '4'")  # ${WORKER_THREADS:-4}
    assert provenance["services.worker.pool.max_overflow"] == "default of {env: DB_MAX_OVERFLOW} (not set in compose/worker)"
    # the budget is the one a hand-written topology with the same numbers gets
    report = compute_budget(topology, load_catalog())
    assert report.status in ("ok", "warn", "over")


def test_start_first_surges_by_its_parallelism(tmp_path: Path) -> None:
    topology = load_topology(write(tmp_path, "services:\n  vote: {from: compose/vote, pool: 1}\n"))
    vote = topology.services["vote"]
    assert (vote.replicas_max, vote.surge_count) == (2, 2)
    assert topology.provenance["services.vote.max_surge"].origin == "compose/vote deploy.update_config, stack/docker-stack.yml:30"


def test_an_override_file_merges_as_compose_does(tmp_path: Path) -> None:
    head = HEAD.replace("[stack/docker-stack.yml]", "[stack/docker-stack.yml, stack/docker-stack.prod.yml]")
    topology = load_topology(write(tmp_path, "services:\n  result: {from: compose/result, pool: {env: PG_POOL_MAX}}\n", head))
    result = topology.services["result"]
    assert (result.replicas_max, result.pool.size) == (4, 20)  # type: ignore[union-attr]


def test_changing_the_stack_changes_the_verdict(tmp_path: Path) -> None:
    path = write(tmp_path, "services:\n  result: {from: compose/result, processes: 4, pool: {env: PG_POOL_MAX}}\n")
    code, _, err = run_cli(["check", str(path)])
    assert code == 0, err  # 2 × 4 × 10 = 80 ≤ alarm 96
    stack = tmp_path / "stack" / "docker-stack.yml"
    stack.write_text(stack.read_text().replace("      replicas: 2\n      update_config:\n        parallelism: 2\n        delay: 10s\n      restart_policy:\n        condition: on-failure\n\n  worker",
                                                "      replicas: 3\n      update_config:\n        parallelism: 2\n        delay: 10s\n      restart_policy:\n        condition: on-failure\n\n  worker", 1))
    code, out, err = run_cli(["check", str(path)])
    assert code == 1, out  # 3 × 4 × 10 = 120 > usable 117


def test_a_value_the_topology_writes_differently_names_both_places(tmp_path: Path) -> None:
    path = write(tmp_path, "services:\n  result: {from: compose/result, replicas: 3, pool: 1}\n")
    (line,) = errors(path)
    assert line == (f"{path}:7: services.result.replicas: the topology says 3, but compose/result deploy.replicas, "
                    "stack/docker-stack.yml:44 says 2 for replicas (remove the key from the topology to take the "
                    "deployed value, or change the source)")


def test_the_same_value_written_twice_is_fine(tmp_path: Path) -> None:
    topology = load_topology(write(tmp_path, "services:\n  result: {from: compose/result, replicas: 2, pool: 1}\n"))
    assert topology.services["result"].replicas_max == 2


def test_environment_problems_each_say_what_to_do(tmp_path: Path) -> None:
    path = write(tmp_path, """services:
  worker:
    from: compose/worker
    processes: {env: WORKER_PROCESSES}
    threads: {env: DB_PASSWORD}
    pool: 1
  hand: {replicas: 2, pool: {env: POOL}}
""")
    lines = errors(path)
    assert lines == [
        f"{path}:9: services.worker.processes: WORKER_PROCESSES is not set in compose/worker (set it in the source, "
        "or write {env: WORKER_PROCESSES, default: VALUE} with the application's default)",
        f"{path}:10: services.worker.threads: DB_PASSWORD: compose/worker environment.DB_PASSWORD, stack/docker-stack.yml:59 "
        "is interpolated from ${DB_PASSWORD}, which is set by neither the project's .env nor a default (only the shell "
        "that runs Compose could set it; planner does not read the shell) (write the value in the topology "
        "instead of {env: DB_PASSWORD})",
        f"{path}:12: services.hand.pool: {{env: POOL}} reads an environment, but the entry has no `from:` "
        "(add from: Deployment/NAME (or compose/NAME), or write the number)",
    ]


def test_references_that_do_not_resolve(tmp_path: Path) -> None:
    path = write(tmp_path, """services:
  a: {from: compose/wroker}
  b: {from: Deployment/web}
  c: {from: "not a reference"}
  d: {from: 12}
""")
    lines = errors(path)
    assert lines == [
        f"{path}:7: services.a.from: no Compose service 'wroker' (did you mean 'worker'?)",
        f"{path}:8: services.b.from: 'Deployment/web' is a Kubernetes name, but sources lists no kubernetes files "
        "(add sources: {kubernetes: [PATH]} at the top of the topology)",
        f"{path}:9: services.c.from: 'not a reference' names no Kubernetes, Terraform or Compose object (write Kind/name "
        "or namespace/Kind/name (Deployment/web), a resource address (aws_db_instance.main, "
        "module.db.aws_rds_cluster.this) or compose/SERVICE)",
        f"{path}:10: services.d.from: from must name an object, not the integer 12 (write e.g. from: Deployment/web, "
        "from: aws_db_instance.main or from: compose/web)",
    ]


def test_bad_sources_are_reported_with_the_rest(tmp_path: Path) -> None:
    head = "version: 1\nsources:\n  compose: stack/missing.yml\n  helm: charts/\ndatabases:\n  main: {engine: postgres, instance_class: db.m6g.large}\n"
    path = write(tmp_path, "services:\n  web: {replicas: -1}\n", head)
    lines = errors(path)
    assert len(lines) == 3
    assert lines[0] == (f"{path}:3: sources.compose: stack/missing.yml: no such file or folder (paths in sources are "
                        "relative to the topology's folder (.); check the path)")
    assert lines[1] == f"{path}:4: sources.helm: unknown source kind 'helm' (source kinds: kubernetes, terraform, compose)"
    assert lines[2].startswith(f"{path}:8: services.web.replicas:")


def test_a_malformed_compose_file_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "services:\n  web: {from: compose/web}\n")
    (tmp_path / "stack" / "docker-stack.yml").write_text("services:\n  web:\n    deploy: {replicas: 2\n")
    (line,) = errors(path)
    assert line.startswith("stack/docker-stack.yml:4: invalid YAML:")


def test_a_file_that_is_not_compose_says_so(tmp_path: Path) -> None:
    path = write(tmp_path, "services:\n  web: {from: compose/web}\n")
    (tmp_path / "stack" / "docker-stack.yml").write_text("apiVersion: apps/v1\nkind: Deployment\n")
    (line,) = errors(path)
    assert line == ("stack/docker-stack.yml: not a Compose file: no `services` mapping "
                    "(list the Compose file itself in sources.compose)")


def test_a_validation_problem_on_a_sourced_value_cites_the_source(tmp_path: Path) -> None:
    path = write(tmp_path, "services:\n  result: {from: compose/result, pool: {env: NODE_ENV}}\n")
    (line,) = errors(path)
    assert "services.result.pool" in line and "(from NODE_ENV ← compose/result environment.NODE_ENV" in line


@pytest.mark.parametrize("command", ["plan", "explain", "report", "recommend"])
def test_every_topology_command_reads_the_sources(tmp_path: Path, command: str) -> None:
    path = write(tmp_path, "services:\n  result: {from: compose/result, replicas: 9}\n")
    code, out, err = run_cli([command, str(path), "-o", str(tmp_path / "out")])
    assert (code, out) == (2, "") and "says 2 for replicas" in err
    assert not (tmp_path / "out").exists()


def test_the_library_raises_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_topology(write(tmp_path, "services:\n  result: {from: compose/nope}\n"))
    assert "no Compose service 'nope'" in str(info.value)


def test_a_service_says_the_image_it_runs() -> None:
    from planner.topology.sources.files import DiskFiles
    from planner.topology.sources.resolve import load_source

    stack = load_source("compose", DiskFiles(FIXTURES, "topology.yaml"), ["docker-stack.yml"])
    assert stack.find("compose/db", "database").images == ("postgres:15-alpine",)
    assert stack.find("compose/redis", "service").images == ("redis:alpine",)
