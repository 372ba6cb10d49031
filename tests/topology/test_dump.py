"""Writing a topology back out: parse(dump(t)) is t."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from planner.topology.writer import dump_topology
from planner.model import Topology
from planner.topology import load_topology, parse_topology

from ..conftest import EXAMPLES


def comparable(topology: Topology) -> Topology:
    """Drop what a rewrite may legitimately change: where things were written."""
    def strip(items):  # type: ignore[no-untyped-def]
        return {k: dataclasses.replace(v, line=None) for k, v in items.items()}

    return dataclasses.replace(
        topology, path="", lines={}, databases=strip(topology.databases), environments=strip(topology.environments),
        services=strip(topology.services), poolers=strip(topology.poolers),
    )


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_round_trip_of_examples(example: Path, fmt: str) -> None:
    original = load_topology(example)
    text = dump_topology(original, fmt)
    again = parse_topology(text, f"again.{fmt}")
    assert comparable(again) == comparable(original)


def test_header_is_a_comment() -> None:
    original = load_topology(EXAMPLES / "pgbouncer-fleet.yaml")
    text = dump_topology(original, header="written by planner\nsecond line")
    assert text.startswith("# written by planner\n# second line\nversion: 1\n")
    assert comparable(parse_topology(text, "x.yaml")) == comparable(original)


@pytest.mark.parametrize("fmt", ["yaml", "json"])
@pytest.mark.parametrize("deployment", ["multi-az", "multi-az-cluster", "single-az"])
def test_round_trip_keeps_the_deployment(fmt: str, deployment: str) -> None:
    original = parse_topology(
        f"version: 1\ndatabases:\n  main: {{engine_version: '17.6', instance_class: db.m6gd.large, deployment: {deployment}}}\n"
        "services:\n  web: {replicas: 2}\n", "d.yaml")
    again = parse_topology(dump_topology(original, fmt), f"again.{fmt}")
    assert comparable(again) == comparable(original)
    assert again.databases["main"].deployment == deployment
