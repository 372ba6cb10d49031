"""plan, recommend and the report propose only classes AWS offers for the engine, version and deployment."""

from __future__ import annotations

from dataclasses import replace

import pytest

from planner.budget.candidates import class_fits
from planner.catalog import load_catalog
from planner.model import DEPLOYMENTS, price_for
from planner.budget.plan import plan_database
from planner.advice.recommend import recommend
from planner.topology import load_topology, parse_topology

from ..conftest import EXAMPLES, run_cli

CATALOG = load_catalog()
CASES = [(name, deployment, version) for name in ("beanstalk-flask", "shared-instance", "pgbouncer-fleet")
         for deployment in DEPLOYMENTS["postgres"] for version in ("12.5", "15.8", "16", "17.6")]  # fmt: skip


def _as(name: str, deployment: str, version: str):  # type: ignore[no-untyped-def]
    topology = load_topology(EXAMPLES / f"{name}.yaml")
    databases = {n: replace(db, deployment=deployment, engine_version=version) for n, db in topology.databases.items()}
    return replace(topology, databases=databases)


@pytest.mark.parametrize(("name", "deployment", "version"), CASES, ids=["-".join(c) for c in CASES])
def test_every_proposed_class_can_be_ordered_that_way(name: str, deployment: str, version: str) -> None:
    topology = _as(name, deployment, version)
    db = next(iter(topology.databases.values()))
    plan = plan_database(topology, CATALOG, db.name)
    assert plan.considered > 0 and (plan.candidates or name == "shared-instance")  # 17,462 connections fit nowhere
    for candidate in plan.candidates:
        cls = candidate.instance_class
        assert cls.deployable("postgres", deployment, db.version) is True, cls.instance_class
        assert candidate.price == price_for(cls, "postgres", deployment)
    for fit in class_fits(topology, CATALOG, db.name):  # the report's candidate chart
        assert fit.current or fit.candidate.instance_class.deployable("postgres", deployment, db.version) is True
    for rec in recommend(topology, CATALOG):  # resizes, alone or combined with another option
        for option in rec.options:
            proposed = option.details.get("instance_class")
            if proposed is not None:
                assert CATALOG.get(proposed).deployable("postgres", deployment, db.version) is True, (option.kind, proposed)


def test_cluster_only_classes_appear_only_for_a_multi_az_cluster() -> None:
    single = plan_database(_as("beanstalk-flask", "single-az", "17"), CATALOG, "main")
    cluster = plan_database(_as("beanstalk-flask", "multi-az-cluster", "17"), CATALOG, "main")
    assert not any(c.instance_class.family == "c6gd" for c in single.candidates)
    assert any(c.instance_class.family == "c6gd" for c in cluster.candidates)
    assert not any(c.instance_class.family in {"m7g", "r7g", "t4g"} for c in cluster.candidates)  # no cluster option
    assert single.not_deployable > 0 and cluster.not_deployable > single.not_deployable


def test_prices_follow_the_deployment() -> None:
    single = plan_database(_as("beanstalk-flask", "single-az", "16"), CATALOG, "main").candidates[0]
    multi = plan_database(_as("beanstalk-flask", "multi-az", "16"), CATALOG, "main").candidates[0]
    assert single.instance_class == multi.instance_class
    assert multi.monthly_usd == pytest.approx(2 * single.monthly_usd, rel=0.01)  # Multi-AZ: writer and standby
    assert multi.price is not None and multi.price.deployment == "multi-az" and multi.price.date == "2026-05-12"


def test_a_multi_az_cluster_has_two_readable_standbys_with_their_own_budget() -> None:
    topology = parse_topology(
        "version: 1\n"
        "databases:\n  main: {engine_version: '17.6', instance_class: db.m6gd.large, deployment: multi-az-cluster}\n"
        "services:\n  web: {replicas: 4, pool: 20}\n  reports: {endpoint: reader, replicas: 3, pool: 10}\n",
        "cluster.yaml",
    )
    from planner.budget import compute_budget

    report = compute_budget(topology, CATALOG)
    roles = [(i.role, i.scenarios["peak"].demand) for i in report.instances]
    assert roles == [("writer", 80), ("reader-1", 15), ("reader-2", 15)]
    assert not any(w.code == "not-orderable" for w in report.warnings)


@pytest.mark.parametrize(("yaml_text", "key", "fix"), [
    ("{engine: self-managed, deployment: multi-az}", "databases.main.deployment", "remove deployment"),
    ("{deployment: aurora-standard}", "databases.main.deployment", "set engine: aurora-postgresql"),
    ("{deployment: multi-az-cluster, readers: 1}", "databases.main.readers", "set deployment: multi-az"),
    ("{deployment: multi-az-cluster, instance_class: db.m6gd.large, reader_instance_class: db.m6gd.xlarge}",
     "databases.main.reader_instance_class", "remove reader_instance_class"),
])
def test_bad_deployments_exit_2_with_the_key_and_the_fix(tmp_path, yaml_text: str, key: str, fix: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"version: 1\ndatabases:\n  main: {yaml_text}\nservices:\n  web: {{}}\n")
    code, out, err = run_cli(["check", str(path)])
    assert (code, out) == (2, "")
    first, *others = err.splitlines()
    assert f"bad.yaml:3: {key}" in first and fix in first and "Traceback" not in err
    # every problem at once (issue 12): an RDS database without instance_class is the only other one
    assert all("databases.main.instance_class: instance_class is required" in line for line in others), err
    assert len(others) == ("instance_class" not in yaml_text and "self-managed" not in yaml_text)


def test_plan_what_ifs() -> None:
    code, out, err = run_cli(["plan", str(EXAMPLES / "beanstalk-flask.yaml"), "--engine-version", "17", "--deployment", "multi-az"])
    assert code == 0, err
    assert "main (postgres 17, Multi-AZ instance, now db.t2.small)" in out and "Multi-AZ instance, 2026-05-12" in out
    code, out, err = run_cli(["plan", str(EXAMPLES / "beanstalk-flask.yaml"), "--deployment", "aurora-standard"])
    assert (code, out) == (2, "") and "--deployment: 'aurora-standard' is not a postgres deployment" in err
