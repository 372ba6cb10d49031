"""Issue 20 item 2: advice that names the real problem. A breach is attributed to what is over (an
instance, or a pooler's client side); a pooler already there is fixed by its own settings first; the
current class is never offered as a resize; and each option's artefact and re-check agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.advice.recommend import recommend
from planner.budget import compute_budget
from planner.catalog import load_catalog
from planner.topology import parse_topology
from tests.conftest import EXAMPLES, run_cli

CATALOG = load_catalog()

# 10 replicas × 4 processes = 40 clients of PgBouncer, ×10 threads with a pool of 10: 400 client
# connections (520 in rollout with 25 % surge: 13 replicas), against max_client_conn 300 on one replica.
# Its server side is 40 (default_pool_size 40): the instance (usable 814) is far from its alarm line.
CLIENT_SIDE = """\
version: 1
name: shop
databases:
  main: {engine: postgres, engine_version: "16.4", instance_class: db.m6g.large}
services:
  web: {replicas: 10, processes: 4, threads: 10, pool: {driver: sqlalchemy, size: 10, max_overflow: 0}}
poolers:
  bouncer: {kind: pgbouncer, database: main, clients: [web], replicas: 1, default_pool_size: 40, max_client_conn: 300}
"""
# Three PgBouncer replicas × default_pool_size 130 = 390 server connections on a db.t4g.medium whose
# alarm line is 311: the instance is over because of the pooler's own pools.
SERVER_SIDE = CLIENT_SIDE.replace("db.m6g.large", "db.t4g.medium").replace(
    "replicas: 1, default_pool_size: 40, max_client_conn: 300", "replicas: 3, default_pool_size: 130, max_client_conn: 1000")


def test_a_pooler_client_side_breach_is_named_as_such_and_no_resize_is_offered() -> None:
    topology = parse_topology(CLIENT_SIDE, "shop.yaml")
    (rec,) = recommend(topology, CATALOG)
    alarm = compute_budget(topology, CATALOG).instances[0].alarm_at  # db.m6g.large's estimate: several hundred
    assert rec.problem.startswith("bouncer's client side is over: rollout client demand 520 vs replicas × max_client_conn 300")
    assert f"main/writer itself is ok (40 vs alarm at {alarm})" in rec.problem
    kinds = [o.kind for o in rec.options]
    assert kinds[0] == "client-limit" and "pooler-replicas" in kinds
    assert not any(k.startswith("resize") for k in kinds) and not any("resize" in n for n in rec.notes)
    by_kind = {o.kind: o for o in rec.options}
    assert by_kind["client-limit"].topology.poolers["bouncer"].max_client_conn == 520
    assert by_kind["pooler-replicas"].topology.poolers["bouncer"].replicas == 2  # ceil(520 / 300)
    for option in rec.options:  # what each promises is what check says once applied
        assert compute_budget(option.topology, CATALOG).status == "ok", option.title


def test_an_instance_over_because_of_its_pgbouncer_lowers_the_pool_first(tmp_path: Path) -> None:
    topology = parse_topology(SERVER_SIDE, "fleet.yaml")
    (rec,) = recommend(topology, CATALOG)
    first = rec.options[0]
    alarm = compute_budget(topology, CATALOG).instances[0].alarm_at  # db.t4g.medium's estimate: about 310
    assert rec.problem.startswith(f"main/writer is over: steady demand 390 vs alarm at {alarm}")
    # room = alarm − others 0, for 3 replicas × 1 pair: floor(alarm / 3) per replica (103 at an alarm of 311)
    per_replica = alarm // 3
    assert first.kind == "pooler-pool" and first.topology.poolers["bouncer"].default_pool_size == per_replica
    assert compute_budget(first.topology, CATALOG).status == "ok"
    path = tmp_path / "fleet.yaml"
    path.write_text(SERVER_SIDE)
    code, out, err = run_cli(["emit", "pgbouncer", str(path), "--option", "main:1"])
    assert code == 0, err
    assert f"default_pool_size = {per_replica}" in out and "bouncer is already there" in out


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.yaml")) + ["client", "server"])
def test_the_current_class_is_never_a_resize(example: str) -> None:
    text = {"client": CLIENT_SIDE, "server": SERVER_SIDE}.get(example) or (EXAMPLES / example).read_text()
    topology = parse_topology(text, example if example.endswith(".yaml") else f"{example}.yaml")
    for rec in recommend(topology, CATALOG):
        current = topology.databases[rec.database].instance_class
        for option in rec.options:
            if "instance_class" in option.details:
                assert option.details["instance_class"] != current, option.title
        assert not any(f"to {current} " in note for note in rec.notes), rec.notes
