"""``planner import kubernetes|terraform|compose``: topologies bootstrapped from the deployment files.

Every import is checked the way a user would: the file it wrote is read by ``planner check``, which
must give a verdict (exit 0 or 1), never an input error. Bad inputs exit 2 with one line and write
nothing.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from planner.topology import load_topology
from planner.topology.sources.importer import entry_name

from ...conftest import refusal, run_cli

FIXTURES = Path(__file__).parent / "fixtures"
DATE = re.compile(r" on \d{4}-\d{2}-\d{2}\.")
POOL_HINT = "# pool: planner cannot read the pool from the deployment; write pool: {driver: ..., size: ...} (docs/topology.md#pools)"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a folder holding copies of the fixtures, as a user runs in their repository."""
    shutil.copytree(FIXTURES / "kubernetes" / "e2e" / "rendered", tmp_path / "rendered")
    shutil.copytree(FIXTURES / "terraform", tmp_path / "infra")
    shutil.copytree(FIXTURES / "compose", tmp_path / "stack")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def imported(*args: str) -> tuple[str, list[str]]:
    """Run ``planner import ARGS`` that must succeed; return its stdout and stderr lines."""
    code, out, err = run_cli(["import", *args])
    assert code == 0, err
    assert "Traceback" not in err
    return out, [line.removeprefix("planner: ") for line in err.splitlines()]


def refused(*args: str) -> str:
    """Run ``planner import ARGS`` that must fail; return its one stderr line."""
    lines = refusal(["import", *args])
    assert len(lines) == 1, lines
    return lines[0]


def checked(path: str) -> int:
    """Return check's exit code on ``path``: a verdict (0 or 1), never an input error."""
    code, out, err = run_cli(["check", path])
    assert code in (0, 1), err
    return code


def undated(text: str) -> str:
    return DATE.sub(" on DATE.", text)


# ---------------------------------------------------------------------------- kubernetes


K8S_IN_DEPLOY = """# Imported by planner import kubernetes from ../rendered/ on DATE.
# Write each service's pool, then run planner check.
version: 1
sources:
  kubernetes: [../rendered/]
databases:
  main:
    instance_class: db.m6g.large
    engine_version: "16.4"
services:
  shop-web:  # pool: size from DB_POOL_SIZE; add its driver: if it opens more than that (docs/topology.md#pools)
    from: Deployment/shop-web
    processes: {env: WEB_CONCURRENCY}
    pool: {size: {env: DB_POOL_SIZE}}
  order-processor:  %s
    from: Deployment/order-processor
""" % POOL_HINT


def test_kubernetes_into_a_new_file_in_a_subfolder() -> None:
    out, notes = imported("kubernetes", "rendered/", "--instance-class", "db.m6g.large", "--engine-version", "16.4",
                          "-o", "deploy/shop.yaml")
    assert out == ""
    assert undated(Path("deploy/shop.yaml").read_text()) == K8S_IN_DEPLOY
    assert notes[-1] == ("imported 1 database (main), 2 services (shop-web, order-processor) and 0 poolers from rendered "
                         "into deploy/shop.yaml; write the pools of: shop-web, order-processor")
    assert checked("deploy/shop.yaml") == 0
    topology = load_topology("deploy/shop.yaml")
    web = topology.services["shop-web"]
    # the manifest's HPA range, WEB_CONCURRENCY 2 and DB_POOL_SIZE 5, as if written by hand
    assert (web.replicas_min, web.replicas_max, web.processes, web.pool.size) == (2, 10, 2, 5)  # type: ignore[union-attr]


def test_without_output_the_topology_is_printed_with_paths_from_here() -> None:
    out, _ = imported("kubernetes", "rendered", "--instance-class", "db.m6g.large")
    assert "  kubernetes: [rendered/]\n" in out
    assert not Path("topology.yaml").exists()


def test_kubernetes_needs_a_database_from_somewhere() -> None:
    assert refused("kubernetes", "rendered/", "-o", "shop.yaml") == (
        "the topology has no database and the deployment describes none: give --instance-class CLASS "
        "(and --engine-version), or import the databases first with planner import terraform or planner import rds")
    assert not Path("shop.yaml").exists()


def test_kubernetes_merges_into_a_topology_keeping_its_text() -> None:
    mine = """# Our shop. Numbers from the runbook.
version: 1

databases:
  main: {instance_class: db.r6g.xlarge}   # the primary

# hand-written: keep
services:
  shop-web:
    replicas: 3
    pool: {driver: sqlalchemy}   # as the app says

  cron: {connections: 2}
"""
    Path("shop.yaml").write_text(mine)
    _, notes = imported("kubernetes", "rendered/", "-o", "shop.yaml")
    assert Path("shop.yaml").read_text() == """# Our shop. Numbers from the runbook.
version: 1
sources:
  kubernetes: [rendered/]

databases:
  main: {instance_class: db.r6g.xlarge}   # the primary

# hand-written: keep
services:
  shop-web:
    replicas: 3
    pool: {driver: sqlalchemy}   # as the app says

  cron: {connections: 2}
  order-processor:  %s
    from: Deployment/order-processor
""" % POOL_HINT
    assert "services.shop-web exists: left as written (add from: Deployment/shop-web to it to read it from the deployment)" in notes
    assert checked("shop.yaml") == 0


def test_importing_twice_changes_nothing() -> None:
    imported("terraform", "infra/shop.plan.json", "-o", "shop.yaml")
    first = Path("shop.yaml").read_text()
    _, notes = imported("terraform", "infra/shop.plan.json", "-o", "shop.yaml")
    assert Path("shop.yaml").read_text() == first
    assert notes[-1] == "imported 0 databases, 0 services and 0 poolers from infra/shop.plan.json into shop.yaml"


def test_kubernetes_then_terraform_gives_a_complete_topology() -> None:
    imported("kubernetes", "rendered/", "--instance-class", "db.m6g.large", "-o", "shop.yaml")
    _, notes = imported("terraform", "infra/shop.plan.json", "-o", "shop.yaml")
    assert "databases.main exists: left as written (add from: aws_db_instance.main to it to read it from the deployment)" in notes
    text = Path("shop.yaml").read_text()
    assert "sources:\n  kubernetes: [rendered/]\n  terraform: [infra/shop.plan.json]\n" in text
    checked("shop.yaml")
    topology = load_topology("shop.yaml")
    assert list(topology.services) == ["shop-web", "order-processor", "importer", "worker-emails", "worker-orders", "api", "worker"]


def test_terraform_then_kubernetes_needs_no_instance_class() -> None:
    imported("terraform", "infra/shop.plan.json", "-o", "shop.yaml")
    imported("kubernetes", "rendered/", "-o", "shop.yaml")
    checked("shop.yaml")
    topology = load_topology("shop.yaml")
    assert topology.databases["main"].instance_class == "db.m6g.large"  # from the plan
    assert {"api", "shop-web", "order-processor"} <= set(topology.services)


# ---------------------------------------------------------------------------- terraform


SHOP = """# Imported by planner import terraform from infra/shop.plan.json on DATE.
# Write each service's pool, then run planner check.
version: 1
sources:
  terraform: [infra/shop.plan.json]
databases:
  main:
    from: aws_db_instance.main
services:
  importer:  # pool: size from DB_POOL_SIZE; add its driver: if it opens more than that (docs/topology.md#pools)
    from: aws_lambda_function.importer
    pool: {size: {env: DB_POOL_SIZE}, max_overflow: {env: DB_MAX_OVERFLOW}}
  worker-emails:  # pool: size from DB_POOL_SIZE; add its driver: if it opens more than that (docs/topology.md#pools)
    from: aws_lambda_function.worker["emails"]
    pool: {size: {env: DB_POOL_SIZE}}
  worker-orders:  # pool: size from DB_POOL_SIZE; add its driver: if it opens more than that (docs/topology.md#pools)
    from: aws_lambda_function.worker["orders"]
    pool: {size: {env: DB_POOL_SIZE}}
  api:  # pool: size from DB_POOL_SIZE; add its driver: if it opens more than that (docs/topology.md#pools)
    from: aws_ecs_service.api
    container: api
    processes: {env: WEB_CONCURRENCY}
    pool: {size: {env: DB_POOL_SIZE}}
  worker:  # pool: size from DB_POOL_SIZE; add its driver: if it opens more than that (docs/topology.md#pools)
    from: aws_ecs_service.worker
    pool: {size: {env: DB_POOL_SIZE}}

# Imported, but the deployment does not say everything: write each VALUE, then uncomment the entry
# (into the section of that name if the file has one).
# databases:
#   analytics: {from: aws_db_instance.analytics, engine_version: VALUE}  # engine_version: aws_db_instance.analytics is known only after apply
# services:
#   backfill: {from: aws_lambda_function.backfill, lambda: {concurrency: VALUE}}  # lambda.concurrency: aws_lambda_function.backfill is 0: the function is throttled off; planner counts the concurrency it will run with when it is turned back on
# poolers:
#   main: {from: aws_db_proxy.main, clients: [VALUE]}  # clients: list the services that connect through it
"""


def test_terraform_plan_gives_databases_services_and_the_proxy_to_complete() -> None:
    _, notes = imported("terraform", "infra/shop.plan.json", "-o", "shop.yaml")
    assert undated(Path("shop.yaml").read_text()) == SHOP
    assert "aws_ecs_service.api: container api chosen of api, datadog-agent (its environment names DB_POOL_SIZE, DB_PASSWORD)" in notes
    assert notes[-1] == ("imported 1 database (main), 5 services (importer, worker-emails, worker-orders, api, worker) and "
                         "0 poolers from infra/shop.plan.json into shop.yaml; complete and uncomment databases.analytics, "
                         "services.backfill, poolers.main; write the pools of: importer, worker-emails, worker-orders, api, worker")
    assert checked("shop.yaml") == 1  # the unreserved Lambda counts 1000 concurrent connections
    topology = load_topology("shop.yaml")
    api = topology.services["api"]
    assert (api.replicas_max, api.processes, api.pool.size) == (12, 4, 5)  # type: ignore[union-attr]


def test_a_commented_out_proxy_works_once_its_clients_are_written() -> None:
    imported("terraform", "infra/shop.plan.json", "-o", "shop.yaml")
    text = Path("shop.yaml").read_text()
    text = text.replace("# poolers:\n#   main: {from: aws_db_proxy.main, clients: [VALUE]}", "poolers:\n  main: {from: aws_db_proxy.main, clients: [api]}")
    Path("shop.yaml").write_text(text)
    checked("shop.yaml")
    proxy = load_topology("shop.yaml").poolers["main"]
    assert (proxy.kind, proxy.database, proxy.clients, proxy.max_connections_percent) == ("rds-proxy", "main", ("api",), 75)


def test_several_databases_need_to_know_which_the_services_use() -> None:
    assert refused("terraform", "infra/aurora.plan.json", "-o", "a.yaml") == (
        "the topology has 2 databases (aurora, reporting): name the one the imported services use with --database NAME "
        "(then set database: on those that use another)")
    assert not Path("a.yaml").exists()
    imported("terraform", "infra/aurora.plan.json", "--database", "aurora", "-o", "a.yaml")
    text = Path("a.yaml").read_text()
    assert """  payments:  # pool: size from DB_POOL_SIZE; add its driver: if it opens more than that (docs/topology.md#pools)
    from: module.services["payments"].aws_ecs_service.this
    database: aurora
    processes: {env: WEB_CONCURRENCY}
    pool: {size: {env: DB_POOL_SIZE}}
""" in text
    assert "  aurora:\n    from: module.aurora.aws_rds_cluster.this[0]\n  reporting:\n    from: module.reporting.aws_rds_cluster.this\n" in text
    checked("a.yaml")
    assert refused("terraform", "infra/aurora.plan.json", "--database", "nope") == (
        "--database nope: the topology has no such database (it has aurora, reporting)")


def test_a_state_imports_too() -> None:
    out, _ = imported("terraform", "infra/state.json")
    assert "databases:\n  db_postgresql:\n    from: aws_db_instance.db_postgresql\n" in out
    assert f"  hello_world:  {POOL_HINT}\n    from: aws_lambda_function.hello_world\n" in out


# ---------------------------------------------------------------------------- compose


def test_compose_postgres_is_the_database_and_datastores_are_no_services() -> None:
    _, notes = imported("compose", "stack/docker-stack.yml", "stack/docker-stack.prod.yml", "-o", "c.yaml")
    text = undated(Path("c.yaml").read_text())
    assert text.startswith("# Imported by planner import compose from stack/docker-stack.yml, stack/docker-stack.prod.yml on DATE.\n")
    assert text.split("version: 1\n")[1] == f"""sources:
  compose: [stack/docker-stack.yml, stack/docker-stack.prod.yml]
databases:
  db:
    from: compose/db
services:
  vote:  {POOL_HINT}
    from: compose/vote
  result:  {POOL_HINT}
    from: compose/result
  worker:  # pool: size from DB_POOL_SIZE; add its driver: if it opens more than that (docs/topology.md#pools)
    from: compose/worker
    pool: {{size: {{env: DB_POOL_SIZE}}}}
"""
    assert "compose/redis: not imported as a service: its image redis:alpine is not a PostgreSQL client" in notes
    assert checked("c.yaml") == 0
    topology = load_topology("c.yaml")
    assert (topology.databases["db"].parameters["max_connections"], topology.services["result"].replicas_max) == (120, 4)


# ---------------------------------------------------------------------------- pools from the environment

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: 2
  template:
    spec:
      containers:
{containers}
"""


def container(name: str, **env: str) -> str:
    values = "".join(f"\n        - {{name: {k}, value: \"{v}\"}}" for k, v in env.items())
    return f"      - name: {name}\n        image: shop/{name}:1\n        env:{values or ' []'}"


def deployments(**specs: list[str]) -> None:
    """Write manifests/NAME.yaml for each Deployment, given its containers."""
    Path("manifests").mkdir(exist_ok=True)
    for name, containers in specs.items():
        Path(f"manifests/{name}.yaml").write_text(DEPLOYMENT.format(name=name, containers="\n".join(containers)))


def test_well_known_variables_become_placeholders() -> None:
    deployments(
        rails=[container("app", WEB_CONCURRENCY="2", RAILS_MAX_THREADS="5", DATABASE_URL="postgres://db/shop")],
        flask=[container("app", SQLALCHEMY_POOL_SIZE="10", SQLALCHEMY_MAX_OVERFLOW="0")],
        zero=[container("app", DB_POOL_SIZE="0")],
    )
    out, notes = imported("kubernetes", "manifests", "--instance-class", "db.m6g.large", "-o", "k.yaml")
    text = Path("k.yaml").read_text()
    assert """services:
  flask:
    from: Deployment/flask
    pool: {driver: sqlalchemy, size: {env: SQLALCHEMY_POOL_SIZE}, max_overflow: {env: SQLALCHEMY_MAX_OVERFLOW}}
  rails:
    from: Deployment/rails
    processes: {env: WEB_CONCURRENCY}
    threads: {env: RAILS_MAX_THREADS}
    pool: {driver: rails, size: {env: RAILS_MAX_THREADS}}
  zero:  %s
    from: Deployment/zero
""" % POOL_HINT in text
    assert "Deployment/zero: DB_POOL_SIZE is 0 (SQLAlchemy reads 0 as no limit): write its pool by hand" in notes
    assert notes[-1].endswith("; write the pools of: zero")
    checked("k.yaml")
    topology = load_topology("k.yaml")
    rails, flask = topology.services["rails"], topology.services["flask"]
    assert (rails.processes, rails.threads, rails.pool.driver, rails.pool.size) == (2, 5, "rails", 5)  # type: ignore[union-attr]
    assert (flask.pool.driver, flask.pool.size, flask.pool.max_overflow) == ("sqlalchemy", 10, 0)  # type: ignore[union-attr]


def test_the_container_that_names_database_variables_is_read() -> None:
    deployments(
        web=[container("proxy", LISTEN="8080"), container("app", DB_POOL_SIZE="4")],
        twins=[container("a", PGHOST="db"), container("b", PGHOST="db")],
    )
    _, notes = imported("kubernetes", "manifests", "--instance-class", "db.m6g.large", "-o", "k.yaml")
    text = Path("k.yaml").read_text()
    assert "  web:  # pool: size from DB_POOL_SIZE; add its driver: if it opens more than that (docs/topology.md#pools)\n" \
           "    from: Deployment/web\n    container: app\n    pool: {size: {env: DB_POOL_SIZE}}\n" in text
    assert f"  twins:  {POOL_HINT}\n    from: Deployment/twins\n" in text
    assert "Deployment/web: container app chosen of proxy, app (its environment names DB_POOL_SIZE)" in notes
    assert ("Deployment/twins: 2 containers (a, b) and several of them name database variables: add container: NAME "
            "to the service to read {env: ...} values from it") in notes
    checked("k.yaml")


def test_a_variable_kept_in_a_secret_is_not_a_placeholder() -> None:
    out, _ = imported("terraform", "infra/shop.plan.json")
    assert "DB_PASSWORD" not in out  # a Secret: planner would have to refuse {env: DB_PASSWORD}


# ---------------------------------------------------------------------------- names


@pytest.mark.parametrize("ref, name", [
    ("Deployment/shop-web", "shop-web"),
    ("prod/StatefulSet/web", "web"),
    ("compose/worker", "worker"),
    ("aws_db_instance.main", "main"),
    ("module.orders.aws_ecs_service.this", "orders"),
    ('module.services["payments"].aws_ecs_service.this', "payments"),
    ("module.aurora.aws_rds_cluster.this[0]", "aurora"),
    ("module.shards[2].aws_db_instance.this", "shards-2"),
    ("aws_lambda_function.importer", "importer"),
    ('aws_lambda_function.worker["emails"]', "worker-emails"),
    ('aws_ecs_service.api["eu west/1"]', "api-eu-west-1"),
    ("aws_db_instance.replica[1]", "replica-1"),
])
def test_entry_names_come_from_the_reference(ref: str, name: str) -> None:
    assert entry_name(ref) == name


def test_names_in_two_namespaces_stay_apart() -> None:
    out, _ = imported("kubernetes", str(FIXTURES / "kubernetes" / "kustomize-hello-namespaces"), "--instance-class", "db.m6g.large")
    assert "  the-deployment:" in out and "    from: prod/Deployment/the-deployment\n" in out
    assert "  staging-the-deployment:" in out and "    from: staging/Deployment/the-deployment\n" in out


# ---------------------------------------------------------------------------- bad input


def test_bad_inputs_exit_2_with_one_line_and_write_nothing() -> None:
    assert refused("kubernetes", "nowhere/", "--instance-class", "db.m6g.large", "-o", "x.yaml") == "nowhere: no such file or folder"
    assert refused("terraform", "infra/shop.plan.json", "-o", "x.toml") == (
        "x.toml: planner import terraform writes YAML topologies (its hints are comments), not TOML or JSON: use a .yaml file")
    Path("unknown.json").write_text('{"format_version": "1.2", "something": {}}')
    assert refused("terraform", "unknown.json", "-o", "x.yaml") == (
        "unknown.json: not `terraform show -json` output: no planned_values (a plan) or values (a state) "
        "(export it with: terraform show -json PLANFILE > plan.json (or terraform show -json > state.json))")
    assert refused("compose", "infra/shop.plan.json", "-o", "x.yaml") == (
        "infra/shop.plan.json: not a Compose file: no `services` mapping (list the Compose file itself in sources.compose)")
    assert refused("kubernetes", "rendered/", "--instance-class", "db.nope.large", "-o", "x.yaml").startswith(
        "x.yaml:8: databases.main.instance_class: unknown instance class 'db.nope.large'")
    Path("empty").mkdir()
    Path("empty/notes.yaml").write_text("kind: ConfigMap\napiVersion: v1\nmetadata: {name: x}\n")
    assert refused("kubernetes", "empty", "--instance-class", "db.m6g.large", "-o", "x.yaml") == (
        "empty: found no database, service or pooler to import (planner reads Deployments, StatefulSets and ReplicaSets)")
    assert not Path("x.yaml").exists() and not Path("x.toml").exists()


def test_a_file_that_is_not_a_topology_is_not_merged_into() -> None:
    Path("list.yaml").write_text("- a\n- b\n")
    assert refused("kubernetes", "rendered/", "-o", "list.yaml") == (
        "list.yaml: cannot merge into a YAML file whose top level is not a mapping (write to a new file with -o)")
    assert Path("list.yaml").read_text() == "- a\n- b\n"


def test_help_shows_examples() -> None:
    code, out, _ = run_cli(["import", "terraform", "--help"])
    assert code == 0
    assert "planner import terraform plan.json -o shop.yaml" in out
    code, out, _ = run_cli(["import", "--help"])
    assert all(command in out for command in ("rds", "kubernetes", "terraform", "compose"))
