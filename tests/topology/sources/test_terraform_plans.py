"""Real `terraform show -json` outputs from public repositories, read as planner must read them.

Each folder of fixtures/terraform/ holds one plan or state copied verbatim, with a README.md naming
its repository, path and commit and what planner must read from it, worked out from the file by
hand; these tests hold the reader to those numbers.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from planner.topology import load_topology
from planner.topology.sources.base import Fact, Origin, RefError, Unknown, Unplanned
from planner.topology.sources.terraform import TerraformSource, load, services
from planner.topology.sources.terraform.plan import UNKNOWN

from ...conftest import refusal, run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "terraform"
AURORA_ALONE = "aurora-postgresql-no-instances"
AURORA_MYSQL = "aurora-mysql"
TERRAGOAT = "mysql-and-lambda"
LAMBDA = "lambda-python"
TASK = "ecs-task-definition"
MYSQL_STATE = "mysql-state-in-modules"


class Folder:
    """One fixture folder as source files, named as a topology in that folder names them."""

    def __init__(self, name: str) -> None:
        self.folder = FIXTURES / name

    def files(self, path: str, suffixes: tuple[str, ...] = ()) -> list[str]:
        return [path]

    def read(self, path: str) -> str:
        return (self.folder / path).read_text()


def source(name: str) -> TerraformSource:
    """Load the one JSON file of a fixture folder."""
    (file,) = sorted(p.name for p in (FIXTURES / name).glob("*.json"))
    return load(Folder(name), [file])  # type: ignore[arg-type]


def test_every_folder_is_a_verbatim_copy_with_its_source() -> None:
    folders = sorted(p for p in FIXTURES.iterdir() if p.is_dir())
    assert [p.name for p in folders] == sorted([AURORA_ALONE, AURORA_MYSQL, TERRAGOAT, LAMBDA, TASK, MYSQL_STATE])
    for folder in folders:
        readme = (folder / "README.md").read_text()
        assert "is copied verbatim from" in readme and "(commit " in readme, folder
        (file,) = folder.glob("*.json")
        document = json.loads(file.read_text())
        assert document["terraform_version"] and ("planned_values" in document or "values" in document), file


# ---------------------------------------------------------------------------- an Aurora cluster without instances


def test_an_aurora_cluster_without_instances_gives_what_the_cluster_says_and_asks_for_the_rest() -> None:
    terraform = source(AURORA_ALONE)
    assert terraform.names("database") == ["aws_rds_cluster.db_cluster"]
    assert terraform.unplanned() == []
    found = terraform.find("aws_rds_cluster.db_cluster", "database")
    missing = "has no aws_rds_cluster_instance in the plan (none names it in cluster_identifier)"
    assert found.facts == {
        "engine": Fact("aurora-postgresql", Origin("aws_rds_cluster.db_cluster", "plan.json", None, "engine")),
        "engine_version": Unknown(Origin("aws_rds_cluster.db_cluster", "plan.json", None, "engine_version"),
                                  "is known only after apply"),
        "deployment": Fact("aurora-standard", Origin("aws_rds_cluster.db_cluster", "plan.json", None,
                                                     "(storage_type not set: Aurora Standard)")),
        "instance_class": Unknown(Origin("aws_rds_cluster.db_cluster", "plan.json"),
                                  f"{missing}: instance_class is its writer's class (db.r6g.large; db.serverless for "
                                  "Serverless v2)"),
        "readers": Unknown(Origin("aws_rds_cluster.db_cluster", "plan.json"),
                           f"{missing}: readers is the number of its other instances (0 for a writer alone)"),
    }
    assert found.notes == ["aws_rds_cluster.db_cluster: its instances' DB parameter groups are not in the plan either; "
                           "a max_connections set there overrides the cluster's: write parameters.max_connections if one "
                           "does"]


def test_a_serverless_range_on_a_cluster_without_instances_is_said_not_assumed() -> None:
    text = (FIXTURES / AURORA_ALONE / "plan.json").read_text()
    plan = json.loads(text)
    plan["planned_values"]["root_module"]["resources"][0]["values"]["serverlessv2_scaling_configuration"] = [
        {"min_capacity": 0.5, "max_capacity": 8.0}]

    class Edited(Folder):
        def read(self, path: str) -> str:
            return json.dumps(plan)

    found = load(Edited(AURORA_ALONE), ["plan.json"]).find("aws_rds_cluster.db_cluster", "database")  # type: ignore[arg-type]
    assert "serverless.max_acu" not in found.facts  # its instances may be provisioned: the class says, not the range
    assert found.notes[0] == ("aws_rds_cluster.db_cluster has a Serverless v2 capacity range (0.5–8 ACU): if its "
                              "instances are db.serverless, also write serverless: {min_acu: 0.5, max_acu: 8}")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run where the topology is, so files are named as a user in that folder sees them."""
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, name: str, body: str) -> Path:
    """Copy a fixture folder to infra/ beside a topology reading its plan; return the topology's (relative) path."""
    shutil.copytree(FIXTURES / name, tmp_path / "infra")
    (tmp_path / "topology.yaml").write_text("version: 1\nsources:\n  terraform: infra/plan.json\n" + body)
    return Path("topology.yaml")


def test_check_on_the_cluster_without_instances_names_each_key_to_write(tmp_path: Path) -> None:
    path = write(tmp_path, AURORA_ALONE, "databases:\n  main: {from: aws_rds_cluster.db_cluster}\nservices:\n"
                                         "  ops: {connections: 3}\n")
    cluster = "topology.yaml:5: databases.main.{key}: aws_rds_cluster.db_cluster{field}, infra/plan.json"
    missing = "has no aws_rds_cluster_instance in the plan (none names it in cluster_identifier)"
    # one line per key to write, and no other (not "instance_class is required" as well)
    assert refusal(["check", str(path)]) == [
        cluster.format(key="engine_version", field=" engine_version") + " is known only after apply (write "
        "engine_version in the topology, or set it in the source)",
        cluster.format(key="instance_class", field="") + f" {missing}: instance_class is its writer's class "
        "(db.r6g.large; db.serverless for Serverless v2) (write instance_class in the topology, or set it in the source)",
        cluster.format(key="readers", field="") + f" {missing}: readers is the number of its other instances (0 for a "
        "writer alone) (write readers in the topology, or set it in the source)",
    ]


def test_the_cluster_without_instances_once_the_topology_writes_what_it_lacks(tmp_path: Path) -> None:
    path = write(tmp_path, AURORA_ALONE, 'databases:\n  main: {from: aws_rds_cluster.db_cluster, engine_version: "15", '
                                         "instance_class: db.r6g.large, readers: 1}\nservices:\n  ops: {connections: 3}\n")
    code, out, err = run_cli(["check", str(path), "--format", "json"])
    assert code == 0, out + err
    instances = json.loads(out)["instances"]
    # 1722 on each of the writer and its reader (AWS's default max_connections table); Aurora PostgreSQL 15 reserves 3 + 2
    assert [(i["role"], i["engine"], i["max_connections"], i["reserved"], i["usable"]) for i in instances] == [
        ("writer", "aurora-postgresql", 1722, 5, 1717), ("reader-1", "aurora-postgresql", 1722, 5, 1717)]
    assert load_topology(path).databases["main"].deployment == "aurora-standard"  # from the plan


# ---------------------------------------------------------------------------- databases planner does not plan


@pytest.mark.parametrize(("name", "unplanned"), [
    (AURORA_MYSQL, [Unplanned("aws_rds_cluster.default", "aurora-mysql",
                              Origin("aws_rds_cluster.default", "plan.json", None, "engine"))]),
    (TERRAGOAT, [Unplanned("aws_db_instance.default", "mysql", Origin("aws_db_instance.default", "plan.json", 73, "engine"))]),
    (MYSQL_STATE, [Unplanned("module.db.module.db_1.module.db_instance.aws_db_instance.this[0]", "mysql",
                             Origin("module.db.module.db_1.module.db_instance.aws_db_instance.this[0]", "state.json", 362,
                                    "engine"))]),
])
def test_a_database_of_an_engine_planner_does_not_plan_is_listed_never_dropped(name: str, unplanned: list[Unplanned]) -> None:
    terraform = source(name)
    assert terraform.unplanned() == unplanned
    assert terraform.names("database") == []  # the Neptune cluster of TerraGoat is no RDS database: not listed either
    with pytest.raises(RefError) as info:
        terraform.find(unplanned[0].ref, "database")
    assert info.value.message == (f"{unplanned[0].ref} is a {unplanned[0].engine} database, an engine planner does not "
                                  "plan (it plans PostgreSQL)")


def test_a_reference_that_misses_names_the_databases_planner_does_not_plan() -> None:
    with pytest.raises(RefError) as info:
        source(TERRAGOAT).find("aws_db_instance.main", "database")
    assert (info.value.message, info.value.hint) == (
        "no resource aws_db_instance.main in plan.json",
        "the plan has no PostgreSQL aws_db_instance or aws_rds_cluster; planner does not plan the engines of "
        "aws_db_instance.default (mysql)")


def test_from_on_the_mysql_database_is_exit_2_saying_its_engine_is_not_planned(tmp_path: Path) -> None:
    path = write(tmp_path, TERRAGOAT, "databases:\n  main: {from: aws_db_instance.default}\nservices:\n"
                                      "  ops: {connections: 3}\n")
    assert refusal(["check", str(path)]) == [
        f"{path}:5: databases.main.from: aws_db_instance.default is a mysql database, an engine planner does not plan "
        "(it plans PostgreSQL) (remove the entry, or name an aws_db_instance with engine postgres or an aws_rds_cluster "
        "with engine aurora-postgresql or postgres)"]


# ---------------------------------------------------------------------------- Lambda functions and ECS containers


def test_a_zip_lambda_gives_its_runtime_and_handler() -> None:
    found = source(LAMBDA).find("aws_lambda_function.lambda", "service")
    assert found.facts == {"lambda": Fact({}, Origin("aws_lambda_function.lambda", "plan.json", None,
                                                     "reserved_concurrent_executions"))}  # -1: unreserved
    (function,) = found.containers or ()
    assert (function.name, function.image, function.command) == ("function", None, None)
    assert function.runtime == Fact("python3.8", Origin("aws_lambda_function.lambda", "plan.json", None, "runtime"))
    assert function.language == "python"
    assert function.handler == Fact("main.lambda_handler", Origin("aws_lambda_function.lambda", "plan.json", None, "handler"))
    assert {k: v.value for k, v in function.env.items() if isinstance(v, Fact)} == {
        "AWS_MAX_ATTEMPTS": "11", "AWS_RETRY_MODE": "adaptive", "EVENT_BUS_ARN": "",
        "FUNCTION_NAME": "metrics-lambda-primary-lambda", "LOG_LEVEL": "WARNING",
        "RDS_INFO_SSM_PATH": "/rds/metricos/info", "SLACK_CHANNEL": "metricos_alerts_dev"}


def test_the_terragoat_lambda_runs_node() -> None:
    terraform = source(TERRAGOAT)
    assert terraform.names("service") == ["aws_lambda_function.analysis_lambda"]
    (function,) = terraform.find("aws_lambda_function.analysis_lambda", "service").containers or ()
    assert (function.runtime and function.runtime.value, function.language) == ("nodejs12.x", "node")
    assert function.handler == Fact("exports.test", Origin("aws_lambda_function.analysis_lambda", "plan.json", 619, "handler"))
    assert sorted(function.env) == ["access_key", "secret_key"]


def test_the_containers_of_a_real_task_definition_with_their_cpu_units() -> None:
    terraform = source(TASK)
    assert terraform.names("service") == []  # a task definition without a service runs nothing
    (definition,) = terraform.index.of_type(services.TASK_DEFINITION)
    text = definition.value("container_definitions")
    assert text is not UNKNOWN
    first, second = services.task_containers(definition, json.loads(text), [])
    for container, image in ((first, "nginx"), (second, "python:3.9-alpine")):
        assert (container.image, container.command, container.one_shot) == (image, None, False)
        # 10 CPU units of 1024 per vCPU
        assert container.cpus == Fact(0.009765625, Origin("aws_ecs_task_definition.service", "plan.json", 8,
                                                          f"container_definitions {container.name}.cpu (10 CPU units / 1024)"))
