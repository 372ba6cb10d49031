"""Recommendations: every option is a changed topology that `check` passes once applied."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.budget import compute_budget
from planner.catalog import load_catalog
from planner.topology.writer import dump_topology
from planner.advice.recommend import Option, recommend
from planner.topology import load_topology, parse_topology

from ..conftest import EXAMPLES

CATALOG = load_catalog()

SYNTHETIC = {
    # long-running services only: PgBouncer, pools, resize
    "web-only.yaml": """
version: 1
databases:
  main: {instance_class: db.m6g.large, engine_version: "16"}
services:
  web: {replicas: {min: 4, max: 20}, processes: 4, pool: sqlalchemy}
  cron: {connections: 5}
""",
    # Lambda next to a service: RDS Proxy, pools, resize
    "lambda.yaml": """
version: 1
databases:
  main: {instance_class: db.r6g.large, engine: aurora-postgresql, engine_version: "15"}
services:
  api: {lambda: {concurrency: 800}, pool: {driver: node-pg, size: 2}}
  web: {replicas: 4, processes: 2, pool: {driver: sqlalchemy, size: 5, max_overflow: 5}}
""",
    # a small gap: the parameter option qualifies
    "small-gap.yaml": """
version: 1
databases:
  main: {instance_class: db.m5.large, engine_version: "15"}
services:
  web: {replicas: 10, max_surge: 0, processes: 7, pool: {driver: rails, size: 10}}
""",
    # PgBouncer refusing clients: raise max_client_conn
    "client-limit.yaml": """
version: 1
databases:
  main: {instance_class: db.m5.large, engine_version: "15"}
services:
  web: {replicas: {min: 2, max: 10}, processes: 4, pool: sqlalchemy}
poolers:
  bouncer: {kind: pgbouncer, database: main, clients: [web], replicas: 2, default_pool_size: 20, max_client_conn: 100}
""",
}


def topologies() -> list[tuple[str, str]]:
    cases = [(p.name, p.read_text()) for p in sorted(EXAMPLES.glob("*.yaml"))]
    return cases + sorted(SYNTHETIC.items())


def all_options() -> list[tuple[str, Option]]:
    out = []
    for name, text in topologies():
        topology = parse_topology(text, name)
        for rec in recommend(topology, CATALOG):
            out.extend((f"{name}:{o.kind}", o) for o in rec.options)
    return out


OPTIONS = all_options()


@pytest.mark.parametrize(("case", "option"), OPTIONS, ids=[c for c, _ in OPTIONS])
def test_every_option_passes_check_once_written_and_read_back(case: str, option: Option, tmp_path: Path) -> None:
    path = tmp_path / "applied.yaml"
    path.write_text(dump_topology(option.topology))
    report = compute_budget(load_topology(path), CATALOG)
    statuses = [i.status for i in report.instances if i.database == option.database]
    statuses += [p.status for p in report.poolers if p.database == option.database]
    assert statuses and set(statuses) == {"ok"}, (case, option.title)
    # what the option promised is what check says
    assert option.after.status == "ok"


def test_flagged_examples_get_options() -> None:
    for name in ("beanstalk-flask.yaml", "shared-instance.yaml"):
        (rec,) = recommend(load_topology(EXAMPLES / name), CATALOG)
        assert rec.options, name
    assert recommend(load_topology(EXAMPLES / "pgbouncer-fleet.yaml"), CATALOG) == []


def test_option_kinds_per_topology() -> None:
    kinds = {name: {o.kind for r in recommend(parse_topology(text, name), CATALOG) for o in r.options} for name, text in SYNTHETIC.items()}
    assert {"pgbouncer", "shrink-pools", "resize"} <= kinds["web-only.yaml"]
    assert "rds-proxy" in kinds["lambda.yaml"] or "pool-everything" in kinds["lambda.yaml"]
    assert "parameter" in kinds["small-gap.yaml"]
    assert "client-limit" in kinds["client-limit.yaml"]


def test_parameter_option_is_minimal_and_bounded() -> None:
    (rec,) = recommend(load_topology(EXAMPLES / "beanstalk-flask.yaml"), CATALOG)
    (param,) = [o for o in rec.options if o.kind == "parameter"]
    value = param.details["max_connections"]
    # peak demand 62 must sit under floor(N × 0.8): 78 is the first N that holds it
    assert value == 78 and int(77 * 0.8) < 62 <= int(78 * 0.8)
    assert value <= 2 * param.details["default"]
    assert any("reboot" in r for r in param.requires)


def test_pgbouncer_option_says_what_transaction_pooling_breaks() -> None:
    (rec,) = recommend(parse_topology(SYNTHETIC["web-only.yaml"], "w.yaml"), CATALOG)
    (bouncer,) = [o for o in rec.options if o.kind == "pgbouncer"]
    text = " ".join(bouncer.requires)
    for word in ("session", "prepared statements", "1.21", "advisory locks", "LISTEN"):
        assert word in text


def test_costs_name_their_source() -> None:
    for _, option in OPTIONS:
        if option.monthly_cost_delta:
            assert "us-east-1" in option.cost_note and ("2021" in option.cost_note or "2026" in option.cost_note)


def test_options_are_ranked_fitting_and_cheap_first() -> None:
    (rec,) = recommend(load_topology(EXAMPLES / "beanstalk-flask.yaml"), CATALOG)
    kinds = [o.kind for o in rec.options]
    assert kinds[0] == "parameter"  # free and one setting
    assert all(o.fits for o in rec.options)


def _cli_cases() -> list[tuple[str, str]]:
    from ..conftest import run_cli

    cases = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        code, out, _ = run_cli(["recommend", str(path), "--format", "json"])
        assert code == 0
        for rec in __import__("json").loads(out)["recommendations"]:
            cases += [(str(path), option["id"]) for option in rec["options"]]
    return cases


@pytest.mark.parametrize(("path", "ident"), _cli_cases())
def test_cli_apply_to_topology_passes_check(path: str, ident: str, tmp_path: Path) -> None:
    from ..conftest import run_cli

    target = tmp_path / "applied.yaml"
    code, _, err = run_cli(["recommend", path, "--option", ident, "--apply-to-topology", str(target)])
    assert code == 0, err
    assert "planner check: ok" in err
    code, out, _ = run_cli(["check", str(target)])
    assert code == 0, out


def test_cli_emit_writes_files_and_never_secrets(tmp_path: Path) -> None:
    from ..conftest import run_cli

    path = str(EXAMPLES / "beanstalk-flask.yaml")
    for kind, names in (("pgbouncer", {"pgbouncer.ini", "userlist.txt"}), ("parameters", {"parameters.sh", "parameters.tf"}),
                        ("pools", {"api.pool.txt", "pools.json"})):
        out_dir = tmp_path / kind
        code, _, err = run_cli(["emit", kind, path, "-o", str(out_dir), "--apply-to-topology", str(tmp_path / f"{kind}.yaml")])
        assert code == 0, err
        assert {p.name for p in out_dir.iterdir()} == names
        assert run_cli(["check", str(tmp_path / f"{kind}.yaml")])[0] == 0
    code, _, err = run_cli(["emit", "proxy", path])
    assert code == 2 and "no proxy option fits main" in err


def test_cli_recommend_nothing_to_do_and_bad_option() -> None:
    from ..conftest import run_cli

    code, out, _ = run_cli(["recommend", str(EXAMPLES / "pgbouncer-fleet.yaml")])
    assert code == 0 and "nothing to recommend" in out
    code, _, err = run_cli(["recommend", str(EXAMPLES / "beanstalk-flask.yaml"), "--option", "main:99", "--apply-to-topology", "/tmp/x.yaml"])
    assert code == 2 and "no such option" in err


TWO_DATABASES = """
version: 1
databases:
  main: {instance_class: db.m6g.large, engine_version: "16"}
  other: {instance_class: db.r6g.xlarge, engine_version: "16"}
services:
  pgbouncer: {database: other, replicas: 2, pool: {driver: sqlalchemy, size: 5}}
  web: {database: main, replicas: {min: 4, max: 20}, processes: 4, pool: sqlalchemy}
  rds-proxy: {database: other, connections: 3}
  worker: {database: main, replicas: 6, processes: 2, pool: {driver: sqlalchemy, size: 10}}
"""


def test_options_on_one_database_keep_the_others_services_and_their_names() -> None:
    # recommend searches on main's services only; what it writes is the whole topology, in order
    topology = parse_topology(TWO_DATABASES, "two.yaml")
    (rec,) = recommend(topology, CATALOG)
    assert rec.database == "main"
    kinds = {o.kind for o in rec.options}
    assert {"pgbouncer", "shrink-pools", "resize"} <= kinds, kinds
    for option in rec.options:
        assert list(option.topology.services) == ["pgbouncer", "web", "rds-proxy", "worker"], option.kind
        for name in ("pgbouncer", "rds-proxy"):
            assert option.topology.services[name] is topology.services[name]
    bouncer = next(o for o in rec.options if o.kind == "pgbouncer")
    # a service on the other database is named pgbouncer: the new pooler may not take its name
    assert set(bouncer.topology.poolers) == {"pgbouncer-2"}
