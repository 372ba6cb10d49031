"""Aurora Serverless v2 (instance_class: db.serverless): the published max_connections, exactly."""

from __future__ import annotations

import pytest

from planner.budget import compute_budget
from planner.topology.writer import dump_topology
from planner.errors import InputError
from planner.topology import parse_topology

from ..conftest import run_cli


def topology(min_acu: float, max_acu: float, extra: str = "") -> str:
    return (
        "version: 1\ndatabases:\n  main:\n    engine: aurora-postgresql\n    engine_version: '15'\n"
        f"    instance_class: db.serverless\n    serverless: {{min_acu: {min_acu}, max_acu: {max_acu}}}\n{extra}"
        "services:\n  web: {replicas: 2, pool: sqlalchemy}\n"
    )


# AWS's table (max ACU with min 1, say) and the two walkthrough readings of SHOW max_connections
@pytest.mark.parametrize(
    ("min_acu", "max_acu", "expected", "source"),
    [(1, 1, 189, "aws-doc"), (1, 4, 823, "aws-doc"), (1, 8, 1669, "aws-doc"), (1, 16, 3360, "aws-doc"),
     (1, 32, 5000, "aws-doc"), (1, 64, 5000, "aws-doc"), (1, 128, 5000, "aws-doc"),
     (12.5, 80, 5000, "estimated"), (0.5, 128, 2000, "aws-doc"), (0, 16, 2000, "aws-doc"), (1, 2, None, "estimated")],
)
def test_published_values(min_acu: float, max_acu: float, expected: int | None, source: str) -> None:
    report = compute_budget(parse_topology(topology(min_acu, max_acu), "s.yaml"), None)
    mc = report.instances[0].max_connections
    if expected is not None:
        assert mc.value == expected
    assert mc.source == source
    assert 189 < mc.value < 823 if expected is None else True


def test_round_trip_and_check() -> None:
    parsed = parse_topology(topology(0.5, 16), "s.yaml")
    again = parse_topology(dump_topology(parsed), "again.yaml")
    assert (again.databases["main"].min_acu, again.databases["main"].max_acu) == (parsed.databases["main"].min_acu, 16)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("version: 1\ndatabases:\n  main: {engine: aurora-postgresql, instance_class: db.serverless}\nservices:\n  web: {replicas: 2}\n",
         "db.serverless needs its capacity range"),
        (topology(1, 300), "max_acu must be a number of ACUs"),
        (topology(0.3, 4), "min_acu must be a number of ACUs in steps of 0.5"),
        (topology(8, 4), "must be at least 1 and at least min_acu"),
        (topology(1, 4).replace("aurora-postgresql", "postgres"), "needs engine: aurora-postgresql"),
        ("version: 1\ndatabases:\n  main: {instance_class: db.m6g.large, serverless: {min_acu: 1, max_acu: 4}}\nservices:\n  web: {replicas: 2}\n",
         "serverless is only for instance_class: db.serverless"),
    ],
)
def test_invalid_serverless(text: str, fragment: str) -> None:
    with pytest.raises(InputError) as info:
        parse_topology(text, "s.yaml")
    assert fragment in str(info.value)


def test_cli_commands_accept_serverless(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "s.yaml"
    path.write_text(topology(0.5, 8))
    for args in (["check"], ["explain"], ["plan"], ["recommend"], ["report", "-o", str(tmp_path / "r.html")]):
        code, out, err = run_cli([args[0], str(path), *args[1:]])
        assert code == 0, (args, err)
