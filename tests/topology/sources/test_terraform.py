"""`terraform show -json` plans and states as a topology's source: the reader, then through the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Callable

import pytest

from planner.topology import load_topology
from planner.topology.sources.base import Container, Fact, Found, Link, Origin, RefError, Role, SourceFileError, Unknown, Unplanned
from planner.topology.sources.terraform import TerraformSource, load

from ...conftest import refusal, run_cli

FIXTURES = Path(__file__).parent / "fixtures" / "terraform"
SHOP, AURORA, STATE = "shop.plan.json", "aurora.plan.json", "state.json"
LEGACY_LINE = 109  # where shop.plan.json lists aws_db_instance.legacy


class Texts:
    """Source files held in memory, named as given (the reader needs nothing else)."""

    def __init__(self, texts: dict[str, str]) -> None:
        self.texts = texts

    def files(self, path: str, suffixes: tuple[str, ...] = ()) -> list[str]:
        return [path]

    def read(self, path: str) -> str:
        return self.texts[path]


def source(*names: str) -> TerraformSource:
    """Load fixtures by name."""
    return load(Texts({n: (FIXTURES / n).read_text() for n in names}), list(names))


def facts(found: Found) -> dict[str, Any]:
    """Return what a Found says as plain values: Unknowns as ("unknown", reason), Links as ("link", ref)."""
    plain: dict[str, Any] = {}
    for key, value in found.facts.items():
        if isinstance(value, Fact):
            plain[key] = value.value
        elif isinstance(value, Unknown):
            plain[key] = ("unknown", value.reason)
        else:
            plain[key] = ("link", value.ref)
    return plain


def origin(found: Found, key: str) -> str:
    return str(found.facts[key].origin)


def problems(texts: dict[str, str]) -> list[str]:
    """Return the problems of loading ``texts`` as files, one line each."""
    with pytest.raises(SourceFileError) as info:
        load(Texts(texts), list(texts))
    return [str(p) for p in info.value.problems]


# ---------------------------------------------------------------------------- databases


def test_an_instance_with_counted_replicas_and_a_parameter_group_named_by_value() -> None:
    found = source(SHOP).find("aws_db_instance.main", "database")
    assert facts(found) == {
        "engine": "postgres", "engine_version": "16.4", "instance_class": "db.m6g.large", "deployment": "multi-az",
        "readers": 2, "reader_instance_class": "db.r6g.large", "parameters.max_connections": 400,
    }
    assert str(found.origin) == "aws_db_instance.main, shop.plan.json:172"  # pretty-printed: the resource's line
    assert origin(found, "readers") == ("aws_db_instance.main (read replicas: aws_db_instance.replica[0], "
                                        "aws_db_instance.replica[1]), shop.plan.json:172")
    assert origin(found, "reader_instance_class") == "aws_db_instance.replica[0] instance_class, shop.plan.json:241"
    assert origin(found, "parameters.max_connections") == "aws_db_parameter_group.main parameter max_connections, shop.plan.json:369"
    assert found.notes == []


def test_a_value_known_only_after_apply_is_unknown_and_an_unset_optional_takes_the_aws_default() -> None:
    found = source(SHOP).find("aws_db_instance.analytics", "database")
    assert facts(found) == {
        "engine": "postgres", "engine_version": ("unknown", "is known only after apply"), "instance_class": "db.t4g.medium",
        "deployment": "single-az", "readers": 0,
    }
    assert origin(found, "engine_version") == "aws_db_instance.analytics engine_version, shop.plan.json:58"
    # multi_az is unknown in the plan too, but the configuration does not set it: AWS's default applies
    assert origin(found, "deployment") == "aws_db_instance.analytics (multi_az not set: Single-AZ), shop.plan.json:58"
    assert found.notes == []  # no parameter_group_name in the configuration: the default group, nothing to read


def test_aurora_serverless_v2_in_a_module_linked_only_by_configuration_references() -> None:
    found = source(AURORA).find("module.aurora.aws_rds_cluster.this", "database")  # one instance: no index needed
    assert str(found.origin) == "module.aurora.aws_rds_cluster.this[0], aurora.plan.json"  # one line: no line number
    assert facts(found) == {
        "engine": "aurora-postgresql", "engine_version": "16.4", "deployment": "aurora-io-optimized",
        "instance_class": "db.serverless", "readers": 1, "serverless.min_acu": 0.5, "serverless.max_acu": 16,
        # the writer's DB parameter group (1500) overrides the cluster parameter group (2000)
        "parameters.max_connections": 1500,
    }
    assert origin(found, "instance_class") == 'module.aurora.aws_rds_cluster_instance.this["one"] instance_class, aurora.plan.json'
    assert origin(found, "parameters.max_connections") == ("module.aurora.aws_db_parameter_group.this[0] parameter "
                                                           "max_connections, aurora.plan.json")
    assert origin(found, "serverless.max_acu") == ("module.aurora.aws_rds_cluster.this[0] "
                                                   "serverlessv2_scaling_configuration[0].max_capacity, aurora.plan.json")
    assert found.notes == ['module.aurora.aws_rds_cluster_instance.this["one"] is taken as the writer of '
                           "module.aurora.aws_rds_cluster.this[0] (Terraform does not say which instance AWS promotes)"]


def test_a_multi_az_db_cluster() -> None:
    found = source(AURORA).find("module.reporting.aws_rds_cluster.this", "database")
    assert facts(found) == {"engine": "postgres", "engine_version": "16.4", "deployment": "multi-az-cluster",
                            "instance_class": "db.m6gd.large"}
    assert found.notes == []  # default.postgres16 is the engine's default group: nothing to read, nothing to say


def test_a_state_links_by_value_a_replica_naming_its_source_by_arn_and_a_formula() -> None:
    found = source(STATE).find("aws_db_instance.db_postgresql", "database")
    assert facts(found) == {
        "engine": "postgres", "engine_version": "16.6", "instance_class": "db.t3.small", "deployment": "single-az",
        "readers": 1, "parameters.max_connections": "LEAST({DBInstanceClassMemory/9531392},5000)",
        "parameters.rds.rds_reserved_connections": 4,
    }


def test_a_parameter_group_outside_the_plan_is_said_not_guessed() -> None:
    terraform = edited(SHOP, "aws_db_instance.main", lambda v: v.update(parameter_group_name="shared-pg16"))
    found = terraform.find("aws_db_instance.main", "database")
    assert "parameters.max_connections" not in found.facts
    assert found.notes == ["parameter group 'shared-pg16' (aws_db_instance.main parameter_group_name) is not in the "
                           "plan: its connection parameters are not read"]


# ---------------------------------------------------------------------------- services


def test_lambda_reserved_unreserved_and_throttled() -> None:
    terraform = source(SHOP)
    importer = terraform.find("aws_lambda_function.importer", "service")
    assert facts(importer) == {"lambda.concurrency": 50}  # the plan's "after", not the 20 it replaces
    assert importer.env is not None and importer.env["function"]["DB_POOL_SIZE"] == Fact(
        "2", importer.env["function"]["DB_POOL_SIZE"].origin)
    emails = terraform.find('aws_lambda_function.worker["emails"]', "service")
    assert facts(emails) == {"lambda": {}}  # a Lambda service without concurrency: planner's default and warning
    assert emails.notes == ['aws_lambda_function.worker["emails"] reserved_concurrent_executions is -1 (unreserved): it '
                            "scales to the account's unreserved concurrency, which planner takes as 1000; reserve "
                            "concurrency to bound it"]
    backfill = terraform.find("aws_lambda_function.backfill", "service")
    assert facts(backfill) == {"lambda.concurrency": ("unknown", "is 0: the function is throttled off; planner counts "
                                                      "the concurrency it will run with when it is turned back on")}
    assert backfill.env == {"function": {}}


def test_a_lambda_variable_known_only_after_apply() -> None:
    found = source(AURORA).find("aws_lambda_function.ingest", "service")
    assert found.env is not None
    env = found.env["function"]
    assert env["DB_POOL_SIZE"] == Fact("1", env["DB_POOL_SIZE"].origin)
    assert isinstance(env["DB_HOST"], Unknown) and env["DB_HOST"].reason == "is known only after apply"
    assert str(env["DB_HOST"].origin) == "aws_lambda_function.ingest environment[0].variables.DB_HOST, aurora.plan.json"


def test_ecs_with_autoscaling_a_surge_and_each_containers_environment() -> None:
    found = source(SHOP).find("aws_ecs_service.api", "service")
    assert facts(found) == {"replicas.min": 2, "replicas.max": 12, "max_surge": "50%"}
    assert origin(found, "replicas.max") == "aws_appautoscaling_target.api max_capacity, shop.plan.json:22"
    assert found.env is not None and sorted(found.env) == ["api", "datadog-agent"]
    api = found.env["api"]
    assert {k: v.value for k, v in api.items() if isinstance(v, Fact)} == {
        "WEB_CONCURRENCY": "4", "DB_POOL_SIZE": "5", "DJANGO_SETTINGS_MODULE": "shop.settings.prod"}
    secret = api["DB_PASSWORD"]
    assert isinstance(secret, Unknown)
    assert secret.reason.startswith("comes from arn:aws:secretsmanager:") and "planner does not read" in secret.reason


def test_ecs_without_autoscaling_surges_by_ecs_default_and_finds_its_task_by_family_and_revision() -> None:
    found = source(SHOP).find("aws_ecs_service.worker", "service")
    assert facts(found) == {"replicas": 2, "max_surge": "100%"}  # deployment_maximum_percent 200
    assert found.env is not None and found.env["worker"]["WORKER_THREADS"].origin.what == "aws_ecs_task_definition.worker"


def test_ecs_in_a_for_each_module_links_within_its_own_module_instance() -> None:
    terraform = source(AURORA)
    for key, (low, high, pool) in {"payments": (2, 6, "4"), "search": (4, 20, "10")}.items():
        found = terraform.find(f'module.services["{key}"].aws_ecs_service.this', "service")
        # resource_id and task_definition are known only after apply: the references say which
        assert facts(found) == {"replicas.min": low, "replicas.max": high, "max_surge": "100%"}
        assert origin(found, "replicas.max") == f'module.services["{key}"].aws_appautoscaling_target.this max_capacity, aurora.plan.json'
        assert found.env is not None and found.env[key]["DB_POOL_SIZE"] == Fact(pool, found.env[key]["DB_POOL_SIZE"].origin)


def edited(name: str, address: str, change: Callable[[dict[str, Any]], None]) -> TerraformSource:
    """Load a fixture with one resource's planned values changed."""
    plan = json.loads((FIXTURES / name).read_text())
    for resource in plan["planned_values"]["root_module"]["resources"]:
        if resource["address"] == address:
            change(resource["values"])
    return load(Texts({name: json.dumps(plan, indent=2)}), [name])


def test_an_ecs_daemon_has_no_count_and_replaces_in_place() -> None:
    def daemon(values: dict[str, Any]) -> None:
        values.update(scheduling_strategy="DAEMON", desired_count=0, deployment_maximum_percent=None)

    found = edited(SHOP, "aws_ecs_service.worker", daemon).find("aws_ecs_service.worker", "service")
    assert facts(found) == {"replicas": ("unknown", "is DAEMON: one task per container instance, a number the plan "
                                         "does not hold"), "max_surge": "0%"}  # ECS's DAEMON default maximum is 100 %
    assert origin(found, "max_surge") == ("aws_ecs_service.worker (no deployment_maximum_percent: ECS's default 100), "
                                          "shop.plan.json:650")


def test_a_codedeploy_blue_green_service_surges_by_a_whole_task_set() -> None:
    found = edited(SHOP, "aws_ecs_service.worker", lambda v: v.update(deployment_controller=[{"type": "CODE_DEPLOY"}])).find(
        "aws_ecs_service.worker", "service")
    assert facts(found)["max_surge"] == "100%"
    assert origin(found, "max_surge") == "aws_ecs_service.worker deployment_controller[0].type, shop.plan.json:650"


def test_an_ecs_container_alone_in_its_task_has_the_tasks_cpus() -> None:
    (worker,) = source(SHOP).find("aws_ecs_service.worker", "service").containers or ()
    # its own cpu is 0 (no reservation): the task's 1024 CPU units are its limit, one vCPU
    assert worker.cpus == Fact(1, Origin("aws_ecs_task_definition.worker", SHOP, 799, "cpu (1024 CPU units / 1024, the task's)"))
    api, agent = source(SHOP).find("aws_ecs_service.api", "service").containers or ()
    assert (api.cpus, agent.cpus) == (None, None)  # two containers share the task's CPUs: neither is pinned


def test_an_ecs_init_container_that_others_wait_for_runs_once() -> None:
    def with_migration(values: dict[str, Any]) -> None:
        containers = json.loads(values["container_definitions"])
        containers[0].update(cpu=512, dependsOn=[{"containerName": "migrate", "condition": "SUCCESS"}])
        containers[1]["dependsOn"] = [{"containerName": "api", "condition": "START"}]  # a sidecar waits, keeps running
        containers.append({"name": "migrate", "image": containers[0]["image"], "essential": False,
                           "command": ["python", "manage.py", "migrate"], "environment": []})
        values.update(container_definitions=json.dumps(containers), cpu="1 vCPU")

    found = edited(SHOP, "aws_ecs_task_definition.api", with_migration).find("aws_ecs_service.api", "service")
    api, agent, migrate = found.containers or ()
    assert [(c.name, c.one_shot) for c in (api, agent, migrate)] == [("api", False), ("datadog-agent", False), ("migrate", True)]
    assert migrate.command == ("python", "manage.py", "migrate")
    assert api.cpus is not None and (api.cpus.value, api.cpus.origin.field) == (
        0.5, "container_definitions api.cpu (512 CPU units / 1024)")
    assert found.env is not None and sorted(found.env) == ["api", "datadog-agent"]  # the init container is no client


def test_a_task_cpu_written_in_vcpus() -> None:
    found = edited(SHOP, "aws_ecs_task_definition.worker", lambda v: v.update(cpu="0.5 vCPU")).find(
        "aws_ecs_service.worker", "service")
    (worker,) = found.containers or ()
    assert worker.cpus is not None and (worker.cpus.value, worker.cpus.origin.field) == (0.5, "cpu (0.5 vCPU, the task's)")


def test_a_zip_lambda_gives_its_runtime_and_handler_and_an_image_lambda_its_image() -> None:
    (zipped,) = source(SHOP).find("aws_lambda_function.importer", "service").containers or ()
    assert (zipped.image, zipped.command) == (None, None)
    assert (zipped.runtime, zipped.handler) == (
        Fact("python3.12", Origin("aws_lambda_function.importer", SHOP, 961, "runtime")),
        Fact("app.handler", Origin("aws_lambda_function.importer", SHOP, 961, "handler")))
    assert zipped.language == "python"

    def packaged(values: dict[str, Any]) -> None:
        values.update(package_type="Image", image_uri="123456789012.dkr.ecr.eu-west-1.amazonaws.com/importer:7",
                      runtime="", handler="", image_config=[{"command": ["app.handler"], "entry_point": None,
                                                              "working_directory": None}])

    found = edited(SHOP, "aws_lambda_function.importer", packaged).find("aws_lambda_function.importer", "service")
    (image,) = found.containers or ()
    assert (image.image, image.entrypoint, image.args) == ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/importer:7",
                                                           None, ("app.handler",))
    assert str(image.command_origin) == "aws_lambda_function.importer image_config[0].command, shop.plan.json:961"
    assert (image.runtime, image.handler, image.language) == (None, None, None)
    assert found.images == ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/importer:7",)


@pytest.mark.parametrize(("runtime", "language"), [
    ("python3.12", "python"), ("nodejs20.x", "node"), ("java21", "java"), ("ruby3.3", "ruby"), ("dotnet8", "dotnet"),
    ("go1.x", "go"), ("provided.al2023", None),
])
def test_the_language_of_a_lambda_runtime(runtime: str, language: str | None) -> None:
    assert Container("function", runtime=Fact(runtime, Origin("aws_lambda_function.f", "plan.json"))).language == language


# ---------------------------------------------------------------------------- poolers


def test_rds_proxy_gives_its_share_and_links_its_target() -> None:
    found = source(SHOP).find("aws_db_proxy.main", "pooler")
    assert facts(found) == {"kind": "rds-proxy", "max_connections_percent": 75, "database": ("link", "aws_db_instance.main")}
    link = found.facts["database"]
    assert isinstance(link, Link) and str(link.origin) == "aws_db_proxy_target.main db_instance_identifier, shop.plan.json:496"


def test_rds_proxy_target_through_a_module_output() -> None:
    found = source(AURORA).find("aws_db_proxy.aurora", "pooler")
    assert facts(found) == {"kind": "rds-proxy", "max_connections_percent": 90,
                            "database": ("link", "module.aurora.aws_rds_cluster.this[0]")}


# ---------------------------------------------------------------------------- references


def test_names_are_the_addresses_that_fit_each_role() -> None:
    terraform = source(SHOP, AURORA)
    assert terraform.names("database") == [  # no replica, no MySQL
        "aws_db_instance.analytics", "aws_db_instance.main",
        "module.aurora.aws_rds_cluster.this[0]", "module.reporting.aws_rds_cluster.this"]
    assert terraform.names("pooler") == ["aws_db_proxy.main", "aws_db_proxy.aurora"]
    assert 'aws_lambda_function.worker["orders"]' in terraform.names("service")
    assert "aws_lambda_function.old_cron" not in terraform.names("service")  # deleted by the plan


def test_databases_of_engines_planner_does_not_plan_are_listed_apart() -> None:
    assert source(SHOP).unplanned() == [Unplanned("aws_db_instance.legacy", "mysql",
                                                  Origin("aws_db_instance.legacy", SHOP, LEGACY_LINE, "engine"))]
    assert source(AURORA).unplanned() == source(STATE).unplanned() == []

    def mysql_replica(values: dict[str, Any]) -> None:  # a replica of the MySQL database: its source is the one to name
        values.update(engine="mysql", replicate_source_db="shop-legacy")

    assert [u.ref for u in edited(SHOP, "aws_db_instance.analytics", mysql_replica).unplanned()] == ["aws_db_instance.legacy"]
    oracle = edited(SHOP, "aws_db_instance.analytics", lambda v: v.update(engine="oracle-se2-cdb"))
    assert [(u.ref, u.engine) for u in oracle.unplanned()] == [("aws_db_instance.analytics", "oracle-se2-cdb"),
                                                               ("aws_db_instance.legacy", "mysql")]
    assert "aws_db_instance.analytics" not in oracle.names("database")


@pytest.mark.parametrize(("ref", "role", "message", "hint"), [
    ("aws_db_instance.mian", "database", "no resource aws_db_instance.mian in shop.plan.json", "did you mean 'aws_db_instance.main'?"),
    ("aws_lambda_function.wroker", "service", "no resource aws_lambda_function.wroker in shop.plan.json",
     "did you mean 'aws_lambda_function.worker[\"emails\"]'?"),
    ("aws_db_proxy.nope", "pooler", "no resource aws_db_proxy.nope in shop.plan.json", "did you mean 'aws_db_proxy.main'?"),
    ("aws_lambda_function.worker", "service",
     'aws_lambda_function.worker has 2 instances: aws_lambda_function.worker["emails"], aws_lambda_function.worker["orders"]',
     'name one, e.g. from: aws_lambda_function.worker["emails"]'),
    ('aws_lambda_function.worker["nope"]', "service", 'no resource aws_lambda_function.worker["nope"] in shop.plan.json',
     "did you mean 'aws_lambda_function.worker[\"emails\"]'?"),
    ("aws_lambda_function.importer", "database", "aws_lambda_function.importer is an aws_lambda_function, which is not a database",
     "a database comes from aws_db_instance or aws_rds_cluster; in the plan: aws_db_instance.analytics, aws_db_instance.main"),
    ("aws_db_instance.main", "service", "aws_db_instance.main is an aws_db_instance, which is not a service",
     "a service comes from aws_lambda_function or aws_ecs_service; in the plan: aws_lambda_function.backfill, "
     'aws_lambda_function.importer, aws_lambda_function.worker["emails"], aws_lambda_function.worker["orders"], '
     "aws_ecs_service.api, …"),
    ("aws_db_instance.legacy", "database",
     "aws_db_instance.legacy is a mysql database, an engine planner does not plan (it plans PostgreSQL)",
     "remove the entry, or name an aws_db_instance with engine postgres or an aws_rds_cluster with engine "
     "aurora-postgresql or postgres"),
    ("aws_db_instance.replica[1]", "database",
     "aws_db_instance.replica[1] is a read replica (of shop-main); planner counts it as a reader of its source",
     "name the source instance in from:; its replicas become its readers"),
    ("aws_lambda_function.old_cron", "service", "aws_lambda_function.old_cron is destroyed by the plan in shop.plan.json",
     "remove the entry, or point it at what replaces it"),
    ("data.aws_caller_identity.current", "service", "no resource data.aws_caller_identity.current in shop.plan.json",
     "services in the plan: aws_lambda_function.backfill, aws_lambda_function.importer, "
     'aws_lambda_function.worker["emails"], aws_lambda_function.worker["orders"], aws_ecs_service.api, …'),
    ("aws_lambda_function.worker['orders']", "service", "\"aws_lambda_function.worker['orders']\" is not a resource address",
     'write it as Terraform does: aws_db_instance.main, module.db.aws_rds_cluster.this, aws_lambda_function.worker["a"]'),
    ("aws_ecs_cluster.main", "service", "aws_ecs_cluster.main is an aws_ecs_cluster, which is not a service",
     "a service comes from aws_lambda_function or aws_ecs_service; in the plan: aws_lambda_function.backfill, "
     'aws_lambda_function.importer, aws_lambda_function.worker["emails"], aws_lambda_function.worker["orders"], '
     "aws_ecs_service.api, …"),
])
def test_references_that_do_not_resolve_say_what_does(ref: str, role: Role, message: str, hint: str) -> None:
    with pytest.raises(RefError) as info:
        source(SHOP).find(ref, role)
    assert (info.value.message, info.value.hint) == (message, hint)


def test_one_address_in_two_files_is_ambiguous() -> None:
    texts = {"a.json": (FIXTURES / SHOP).read_text(), "b.json": (FIXTURES / SHOP).read_text()}
    with pytest.raises(RefError) as info:
        load(Texts(texts), ["a.json", "b.json"]).find("aws_db_instance.main", "database")
    assert info.value.message == "aws_db_instance.main is in a.json and b.json"


def test_a_module_instance_needs_its_key_when_there_are_several() -> None:
    with pytest.raises(RefError) as info:
        source(AURORA).find("module.services.aws_ecs_service.this", "service")
    assert info.value.message == ('module.services.aws_ecs_service.this has 2 instances: module.services["payments"]'
                                  '.aws_ecs_service.this, module.services["search"].aws_ecs_service.this')


# ---------------------------------------------------------------------------- files that are not plans


@pytest.mark.parametrize(("text", "expected"), [
    ('{\n  "format_version": "1.2",\n  "planned_values": {\n    "root_module": {,\n', "bad.json:4: not valid JSON (column 21: "),
    ('{"version": 4, "terraform_version": "1.9.8", "serial": 12, "lineage": "x", "outputs": {}, "resources": []}',
     "bad.json: a raw state file (terraform.tfstate), not `terraform show -json` output (convert it with: "
     "terraform show -json terraform.tfstate > state.json)"),
    ('{"name": "shop", "version": "1.0.0", "dependencies": {}}',
     "bad.json: not `terraform show -json` output: no planned_values (a plan) or values (a state) (export it with: "
     "terraform show -json PLANFILE > plan.json (or terraform show -json > state.json))"),
    ("[1, 2]", "bad.json: not `terraform show -json` output: the file is not a JSON object (export it with: "),
    ('{"format_version": "2.0", "planned_values": {}}', "bad.json: format_version 2.0 is not one planner reads"),
    ('{"format_version": "1.2", "terraform_version": "1.9.8", "planned_values": {}, "errored": true}',
     "bad.json: the plan errored: Terraform could not finish it, so its values are incomplete (fix what terraform "
     "plan reports, then export the plan again)"),
])
def test_a_file_that_is_not_a_plan_is_one_clear_problem(text: str, expected: str) -> None:
    (line,) = problems({"bad.json": text})
    assert line.startswith(expected), line


def test_every_bad_file_is_reported_and_an_empty_state_is_fine() -> None:
    lines = problems({"a.json": "{", "b.json": "[]", "empty.json": '{"format_version": "1.0", "terraform_version": "1.9.8"}'})
    assert [line.split(":")[0] for line in lines] == ["a.json", "b.json"]
    assert load(Texts({"empty.json": '{"format_version": "1.0", "terraform_version": "1.9.8"}'}), ["empty.json"]).names("service") == []


# ---------------------------------------------------------------------------- through the CLI

HEAD = """version: 1
sources:
  terraform: infra/{plan}
"""
SHOP_TOPOLOGY = """databases:
  main: {from: aws_db_instance.main}
services:
  importer:
    from: aws_lambda_function.importer
    pool: {driver: sqlalchemy, size: {env: DB_POOL_SIZE}, max_overflow: {env: DB_MAX_OVERFLOW}}
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run where the topology is, so files are named as a user in that folder sees them."""
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, body: str, plan: str = SHOP) -> Path:
    """Copy the plans beside a topology reading ``plan``; return the topology's (relative) path."""
    if not (tmp_path / "infra").exists():
        shutil.copytree(FIXTURES, tmp_path / "infra")
    (tmp_path / "topology.yaml").write_text(HEAD.format(plan=plan) + body)
    return Path("topology.yaml")


def edit_plan(tmp_path: Path, address: str, change: Callable[[dict[str, Any]], None], plan: str = SHOP) -> None:
    """Change a resource's planned values as a new `terraform show -json` would show them."""
    path = tmp_path / "infra" / plan
    doc = json.loads(path.read_text())

    def walk(module: dict[str, Any]) -> None:
        for resource in module.get("resources", []):
            if resource["address"] == address:
                change(resource["values"])
        for child in module.get("child_modules", []):
            walk(child)

    walk(doc["planned_values"]["root_module"])
    for item in doc["resource_changes"]:
        if item["address"] == address:
            change(item["change"]["after"])
    path.write_text(json.dumps(doc, indent=2))


def errors(path: Path) -> list[str]:
    """Run check on a topology it must refuse; return its stderr lines without the "planner: " prefix."""
    return refusal(["check", str(path)])


def test_check_reads_its_numbers_from_the_plan(tmp_path: Path) -> None:
    path = write(tmp_path, SHOP_TOPOLOGY)
    code, out, err = run_cli(["check", str(path)])
    assert code == 0, out + err  # 50 × (2 + 0) = 100 ≤ alarm_at 320 of max_connections 400
    topology = load_topology(path)
    main, importer = topology.databases["main"], topology.services["importer"]
    assert (main.instance_class, main.parameters["max_connections"], main.readers) == ("db.m6g.large", 400, 2)
    assert (importer.lambda_concurrency, importer.pool.size, importer.pool.max_overflow) == (50, 2, 0)  # type: ignore[union-attr]
    code, out, err = run_cli(["explain", str(path)])
    assert code == 0, err
    assert ("lambda.concurrency 50 ← aws_lambda_function.importer reserved_concurrent_executions, "
            "infra/shop.plan.json:961") in out


def test_raising_a_lambdas_reserved_concurrency_in_the_plan_changes_the_verdict(tmp_path: Path) -> None:
    path = write(tmp_path, SHOP_TOPOLOGY)
    assert run_cli(["check", str(path)])[0] == 0
    edit_plan(tmp_path, "aws_lambda_function.importer", lambda v: v.update(reserved_concurrent_executions=200))
    code, out, _ = run_cli(["check", str(path)])
    assert code == 1, out  # 200 × 2 = 400 > usable 395
    assert "OVER" in out


def test_lowering_max_connections_in_the_parameter_group_changes_the_verdict(tmp_path: Path) -> None:
    path = write(tmp_path, SHOP_TOPOLOGY)
    assert run_cli(["check", str(path)])[0] == 0

    def lower(values: dict[str, Any]) -> None:
        for parameter in values["parameter"]:
            if parameter["name"] == "max_connections":
                parameter["value"] = "100"

    edit_plan(tmp_path, "aws_db_parameter_group.main", lower)
    code, out, _ = run_cli(["check", str(path)])
    assert code == 1, out  # 100 > usable 95


def test_a_topology_value_that_differs_from_the_plan_names_both_places(tmp_path: Path) -> None:
    path = write(tmp_path, SHOP_TOPOLOGY.replace("{from: aws_db_instance.main}",
                                                 "{from: aws_db_instance.main, instance_class: db.r6g.xlarge}"))
    (line,) = errors(path)
    assert line == (f"{path}:5: databases.main.instance_class: the topology says 'db.r6g.xlarge', but aws_db_instance.main "
                    "instance_class, infra/shop.plan.json:172 says 'db.m6g.large' for instance_class (remove the key from "
                    "the topology to take the deployed value, or change the source)")


def test_a_value_known_only_after_apply_is_one_line_naming_the_address(tmp_path: Path) -> None:
    body = SHOP_TOPOLOGY.replace("aws_db_instance.main}", "aws_db_instance.analytics}")
    (line,) = errors(write(tmp_path, body))
    assert line == ("topology.yaml:5: databases.main.engine_version: aws_db_instance.analytics engine_version, "
                    "infra/shop.plan.json:58 is known only after apply (write engine_version in the topology, or set it "
                    "in the source)")
    # written in the topology, the value is taken until the plan knows it
    path = write(tmp_path, body.replace("aws_db_instance.analytics}", 'aws_db_instance.analytics, engine_version: "16.4"}'))
    code, out, err = run_cli(["check", str(path)])
    assert code == 0, out + err


def test_an_unreserved_lambda_gets_the_account_default_and_its_warning(tmp_path: Path) -> None:
    path = write(tmp_path, SHOP_TOPOLOGY.replace("aws_lambda_function.importer", 'aws_lambda_function.worker["emails"]')
                 .replace("max_overflow: {env: DB_MAX_OVERFLOW}", "max_overflow: 0"))
    code, out, err = run_cli(["check", str(path)])
    assert code == 1, out + err  # 1000 × 1 > usable 395
    assert "services.importer.lambda: no reserved concurrency: assuming the account default of 1000" in out
    assert load_topology(path).services["importer"].lambda_concurrency is None
    code, out, _ = run_cli(["explain", str(path)])
    assert 'note: aws_lambda_function.worker["emails"] reserved_concurrent_executions is -1 (unreserved)' in out


def test_a_throttled_lambda_asks_for_the_concurrency_it_runs_with(tmp_path: Path) -> None:
    body = SHOP_TOPOLOGY.replace("aws_lambda_function.importer", "aws_lambda_function.backfill").replace(
        "    pool: {driver: sqlalchemy, size: {env: DB_POOL_SIZE}, max_overflow: {env: DB_MAX_OVERFLOW}}\n", "    pool: 1\n")
    (line,) = errors(write(tmp_path, body))
    assert line.startswith("topology.yaml:8: services.importer.lambda.concurrency: aws_lambda_function.backfill "
                           "reserved_concurrent_executions, infra/shop.plan.json:850 is 0: the function is throttled off")
    path = write(tmp_path, body.replace("    pool: 1\n", "    pool: 1\n    lambda: {concurrency: 20}\n"))
    assert load_topology(path).services["importer"].lambda_concurrency == 20


def test_a_bad_reference_is_exit_2_with_did_you_mean(tmp_path: Path) -> None:
    (line,) = errors(write(tmp_path, SHOP_TOPOLOGY.replace("aws_db_instance.main", "aws_db_instance.mian")))
    assert line == ("topology.yaml:5: databases.main.from: no resource aws_db_instance.mian in infra/shop.plan.json "
                    "(did you mean 'aws_db_instance.main'?)")


@pytest.mark.parametrize(("text", "expected"), [
    ('{\n  "format_version": "1.2",\n  "planned_values": {\n', "infra/shop.plan.json:4: not valid JSON"),
    ('{"name": "shop"}', "infra/shop.plan.json: not `terraform show -json` output: no planned_values (a plan) or values (a state)"),
])
def test_a_plan_that_cannot_be_read_is_exit_2_with_one_line(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, SHOP_TOPOLOGY)
    (tmp_path / "infra" / SHOP).write_text(text)
    (line,) = errors(path)
    assert line.startswith(expected), line


def test_the_aurora_plan_with_its_proxy_and_ecs_modules(tmp_path: Path) -> None:
    path = write(tmp_path, """databases:
  aurora: {from: "module.aurora.aws_rds_cluster.this[0]"}
  reporting: {from: module.reporting.aws_rds_cluster.this}
services:
  payments:
    from: module.services["payments"].aws_ecs_service.this
    processes: {env: WEB_CONCURRENCY}
    pool: {driver: sqlalchemy, size: {env: DB_POOL_SIZE}, max_overflow: 0}
    database: aurora
  ingest:
    from: aws_lambda_function.ingest
    pool: {size: {env: DB_POOL_SIZE}}
    database: aurora
poolers:
  proxy: {from: aws_db_proxy.aurora, clients: [ingest]}
""", plan=AURORA)
    code, out, err = run_cli(["check", str(path)])
    assert code == 0, out + err
    topology = load_topology(path)
    assert topology.poolers["proxy"].database == "aurora"  # the proxy's target, through module.aurora's output
    assert (topology.databases["aurora"].max_acu, topology.databases["reporting"].deployment) == (16, "multi-az-cluster")
    payments = topology.services["payments"]
    assert (payments.replicas_min, payments.replicas_max, payments.processes) == (2, 6, 2)


def test_a_state_is_read_like_a_plan(tmp_path: Path) -> None:
    path = write(tmp_path, """databases:
  main: {from: aws_db_instance.db_postgresql}
services:
  hello: {from: aws_lambda_function.hello_world, pool: 1}
""", plan=STATE)
    code, out, err = run_cli(["check", str(path)])
    assert code == 1, out + err  # unreserved: 1000 connections on a db.t3.small
    main = load_topology(path).databases["main"]
    assert (main.readers, main.parameters["rds.rds_reserved_connections"]) == (1, 4)
