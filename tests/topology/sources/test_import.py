"""``planner import kubernetes|terraform|compose``: topologies bootstrapped from the deployment files.

Every import is checked the way a user would: the file it wrote is read by ``planner check``, which
must give a verdict (exit 0 or 1), never an input error. Bad inputs exit 2 with one line and write
nothing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from planner.topology import load_topology
from planner.topology.sources.importer import entry_name

from ...conftest import refusal, run_cli

FIXTURES = Path(__file__).parent / "fixtures"
DATE = re.compile(r" on \d{4}-\d{2}-\d{2}\.")
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


def check_lines(path: str) -> tuple[int, list[str]]:
    """Return check's exit code on ``path`` and its stderr lines (without "planner: ")."""
    code, _, err = run_cli(["check", path])
    assert "Traceback" not in err
    return code, [line.removeprefix("planner: ") for line in err.splitlines()]


def replace_value(path: str, old: str, new: str) -> None:
    """Write what a user writes in place of a placeholder."""
    text = Path(path).read_text()
    assert old in text, text
    Path(path).write_text(text.replace(old, new, 1))


SHOP_WEB_POOL = ("planner cannot tell how many connections Deployment/shop-web opens per process: no framework or driver "
                 "recognised in its environment (image shop/web:1.16.0); DB_POOL_SIZE=5 may size its pool")
K8S_IN_DEPLOY = f"""# Imported by planner import kubernetes from ../rendered/ on DATE.
# Replace each VALUE, then run planner check.
version: 1
sources:
  kubernetes: [../rendered/]
databases:
  main:
    instance_class: db.m6g.large
    engine_version: "16.4"
services:
  shop-web:  # write each VALUE: pool: {SHOP_WEB_POOL}
    from: Deployment/shop-web
    pool: VALUE
"""


def test_kubernetes_into_a_new_file_in_a_subfolder() -> None:
    subprocess.run(["git", "init", "-q"], check=True, capture_output=True)  # ../rendered/ is then inside the root
    out, notes = imported("kubernetes", "rendered/", "--instance-class", "db.m6g.large", "--engine-version", "16.4",
                          "-o", "deploy/shop.yaml")
    assert out == ""
    assert undated(Path("deploy/shop.yaml").read_text()) == K8S_IN_DEPLOY
    # the KEDA worker's environment names no database: left out, once, with the reason; its scaler's note goes with it
    assert notes[:-1] == ["Deployment/order-processor: left out: nothing shows it connects to PostgreSQL (no PostgreSQL URL "
                          "or variable, no depends_on on the database or a pooler, no recognised framework): add it by hand if it does"]
    assert notes[-1] == ("imported 1 database (main), 1 service (shop-web) and 0 poolers from rendered into deploy/shop.yaml; "
                         "replace each VALUE: services.shop-web.pool")
    # a placeholder is not a number: check refuses it, naming the key and why
    code, lines = check_lines("deploy/shop.yaml")
    assert code == 2
    assert lines == [f"deploy/shop.yaml:13: services.shop-web.pool: {SHOP_WEB_POOL} (write pool: {{driver: DRIVER}} "
                     "(sqlalchemy, django, rails, hikari, node-pg, asyncpg, psycopg-pool, ...) with size: N where it differs "
                     "from the driver's default, or pool: N for N connections per process (docs/topology.md#pools))"]
    replace_value("deploy/shop.yaml", "pool: VALUE", "pool: {driver: sqlalchemy, size: {env: DB_POOL_SIZE}}")
    assert checked("deploy/shop.yaml") == 0
    web = load_topology("deploy/shop.yaml").services["shop-web"]
    # the HPA's range; WEB_CONCURRENCY 2 (no server named: the processes gunicorn, uvicorn and Puma read); DB_POOL_SIZE 5
    assert (web.replicas_min, web.replicas_max, web.processes, web.pool.size, web.pool.max_overflow) == (2, 10, 2, 5, 10)  # type: ignore[union-attr]


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
  cron: {connections: 2}
"""
    Path("shop.yaml").write_text(mine)
    _, notes = imported("kubernetes", "rendered/", "-o", "shop.yaml")
    assert Path("shop.yaml").read_text() == f"""# Our shop. Numbers from the runbook.
version: 1
sources:
  kubernetes: [rendered/]

databases:
  main: {{instance_class: db.r6g.xlarge}}   # the primary

# hand-written: keep
services:
  cron: {{connections: 2}}
  shop-web: {{from: Deployment/shop-web, pool: VALUE}} # write each VALUE: pool: {SHOP_WEB_POOL}
"""
    assert notes[-1].endswith("replace each VALUE: services.shop-web.pool")
    assert check_lines("shop.yaml")[0] == 2


def test_a_service_written_by_hand_is_left_as_written() -> None:
    Path("shop.yaml").write_text("""version: 1
databases:
  main: {instance_class: db.r6g.xlarge}
services:
  shop-web:
    replicas: 3
    pool: {driver: sqlalchemy}   # as the app says
""")
    _, notes = imported("kubernetes", "rendered/", "-o", "shop.yaml")
    assert "services.shop-web exists: left as written (add from: Deployment/shop-web to it to read it from the deployment)" in notes
    assert "shop-web:\n    replicas: 3\n    pool: {driver: sqlalchemy}   # as the app says\n" in Path("shop.yaml").read_text()
    assert checked("shop.yaml") == 0


def test_importing_twice_changes_nothing() -> None:
    imported("terraform", "infra/shop.plan.json", "--database", "main", "-o", "shop.yaml")
    first = Path("shop.yaml").read_text()
    _, notes = imported("terraform", "infra/shop.plan.json", "--database", "main", "-o", "shop.yaml")
    assert Path("shop.yaml").read_text() == first
    assert notes[-1] == "imported 0 databases, 0 services and 0 poolers from infra/shop.plan.json into shop.yaml"


def test_kubernetes_then_terraform_says_what_the_merge_leaves_open() -> None:
    imported("kubernetes", "rendered/", "--instance-class", "db.m6g.large", "-o", "shop.yaml")
    before = Path("shop.yaml").read_text()
    # the plan adds a second database: the service imported before does not say which one it uses
    assert refused("terraform", "infra/shop.plan.json", "--database", "main", "-o", "shop.yaml") == (
        "shop.yaml:14: services.shop-web: cannot tell which database service 'shop-web' uses in environment 'default' "
        "(set services.shop-web.database, or `database:` on environment 'default')")
    assert Path("shop.yaml").read_text() == before
    replace_value("shop.yaml", "    from: Deployment/shop-web\n", "    from: Deployment/shop-web\n    database: main\n")
    _, notes = imported("terraform", "infra/shop.plan.json", "--database", "main", "-o", "shop.yaml")
    assert "databases.main exists: left as written (add from: aws_db_instance.main to it to read it from the deployment)" in notes
    text = Path("shop.yaml").read_text()
    assert "sources:\n  kubernetes: [rendered/]\n  terraform: [infra/shop.plan.json]\n" in text
    # the proxy's target is the plan's aws_db_instance.main, which the hand-written main does not say it is
    assert "    from: aws_db_proxy.main\n    database: VALUE\n    clients: [VALUE]\n" in text
    assert check_lines("shop.yaml")[0] == 2  # the placeholders
    services = re.findall(r"^  ([a-z-]+):", text.split("services:\n")[1].split("poolers:")[0], re.M)
    assert services == ["shop-web", "importer", "worker-emails", "worker-orders", "api", "worker"]


def test_terraform_then_kubernetes_needs_no_instance_class() -> None:
    imported("terraform", "infra/shop.plan.json", "--database", "main", "-o", "shop.yaml")
    imported("kubernetes", "rendered/", "--database", "main", "-o", "shop.yaml")
    text = Path("shop.yaml").read_text()
    assert "  shop-web:" in text and "from: Deployment/shop-web" in text
    assert "  main:\n    from: aws_db_instance.main\n" in text  # the plan's database serves the cluster's services


# ---------------------------------------------------------------------------- terraform


def pool_value(ref: str, variable: str, container: str = "its environment", image: str = "") -> str:
    return (f"pool: planner cannot tell how many connections {ref} opens per process: no framework or driver recognised in "
            f"{container}{image}; {variable} may size its pool")


SHOP = f"""# Imported by planner import terraform from infra/shop.plan.json on DATE.
# Replace each VALUE, then run planner check.
version: 1
sources:
  terraform: [infra/shop.plan.json]
databases:
  analytics:  # write each VALUE: engine_version: aws_db_instance.analytics is known only after apply
    from: aws_db_instance.analytics
    engine_version: VALUE
  main:
    from: aws_db_instance.main
services:
  importer:  # write each VALUE: {pool_value("aws_lambda_function.importer", "DB_POOL_SIZE=2")}
    from: aws_lambda_function.importer
    database: main
    pool: VALUE
  worker-emails:  # write each VALUE: {pool_value('aws_lambda_function.worker["emails"]', "DB_POOL_SIZE=1")}
    from: aws_lambda_function.worker["emails"]
    database: main
    pool: VALUE
  worker-orders:  # write each VALUE: {pool_value('aws_lambda_function.worker["orders"]', "DB_POOL_SIZE=1")}
    from: aws_lambda_function.worker["orders"]
    database: main
    pool: VALUE
  api:
    from: aws_ecs_service.api
    container: api
    database: main
  worker:  # write each VALUE: {pool_value("aws_ecs_service.worker", "DB_POOL_SIZE=8", image=" (image 123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop-worker:2026.11.3)")}
    from: aws_ecs_service.worker
    database: main
    pool: VALUE
poolers:
  main:  # write each VALUE: clients: no service's environment names it: list the services that connect through it
    from: aws_db_proxy.main
    clients: [VALUE]
"""


def test_terraform_plan_gives_databases_services_and_the_proxy_to_complete() -> None:
    _, notes = imported("terraform", "infra/shop.plan.json", "--database", "main", "-o", "shop.yaml")
    assert undated(Path("shop.yaml").read_text()) == SHOP
    # the throttled Lambda's environment is empty: nothing says it talks to the database
    assert ("aws_lambda_function.backfill: left out: nothing shows it connects to PostgreSQL (no PostgreSQL URL or variable, "
            "no depends_on on the database or a pooler, no recognised framework): add it by hand if it does") in notes
    assert notes[-1] == ("imported 2 databases (analytics, main), 5 services (importer, worker-emails, worker-orders, api, worker) "
                         "and 1 pooler (main) from infra/shop.plan.json into shop.yaml; replace each VALUE: "
                         "databases.analytics.engine_version, services.importer.pool, services.worker-emails.pool, "
                         "services.worker-orders.pool, services.worker.pool, poolers.main.clients")
    code, lines = check_lines("shop.yaml")
    assert code == 2
    assert [line.split(": ", 2)[1] for line in lines] == [
        "databases.analytics.engine_version", "services.importer.pool", "services.worker-emails.pool",
        "services.worker-orders.pool", "services.worker.pool", "poolers.main.clients"]
    assert lines[-1] == ("shop.yaml:36: poolers.main.clients: VALUE is the placeholder planner import wrote: the deployment "
                         "does not say it (replace it with the value (the comment planner import wrote on the entry says why))")
    # the API's ECS task runs Django (DJANGO_SETTINGS_MODULE): one connection per thread, 4 processes
    api = load_topology(_completed("shop.yaml")).services["api"]
    assert (api.replicas_max, api.processes, api.pool.driver) == (12, 4, "django")  # type: ignore[union-attr]


def _completed(path: str) -> str:
    """Replace the placeholders of the imported shop plan as its owner would, and return the path."""
    replace_value(path, "engine_version: VALUE", 'engine_version: "16.4"')
    for _ in range(4):
        replace_value(path, "pool: VALUE", "pool: {size: {env: DB_POOL_SIZE}}")
    replace_value(path, "clients: [VALUE]", "clients: [importer]")
    return path


def test_placeholders_replaced_give_a_verdict() -> None:
    imported("terraform", "infra/shop.plan.json", "--database", "main", "-o", "shop.yaml")
    assert checked(_completed("shop.yaml")) == 1  # the unreserved Lambda counts 1000 concurrent connections
    proxy = load_topology("shop.yaml").poolers["main"]
    assert (proxy.kind, proxy.database, proxy.clients, proxy.max_connections_percent) == ("rds-proxy", "main", ("importer",), 75)


def test_several_databases_need_to_know_which_the_services_use() -> None:
    assert refused("terraform", "infra/aurora.plan.json", "-o", "a.yaml") == (
        "the topology has 2 databases (aurora, reporting): name the one the imported services use with --database NAME "
        "(then set database: on those that use another)")
    assert not Path("a.yaml").exists()
    imported("terraform", "infra/aurora.plan.json", "--database", "aurora", "-o", "a.yaml")
    text = Path("a.yaml").read_text()
    assert """    from: module.services["payments"].aws_ecs_service.this
    database: aurora
    pool: VALUE
""" in text
    assert "  aurora:\n    from: module.aurora.aws_rds_cluster.this[0]\n  reporting:\n    from: module.reporting.aws_rds_cluster.this\n" in text
    assert refused("terraform", "infra/aurora.plan.json", "--database", "nope") == (
        "--database nope: the topology has no such database (it has aurora, reporting)")


def test_a_state_without_clients_writes_its_database_and_asks_for_services() -> None:
    out, notes = imported("terraform", "infra/state.json")
    assert "databases:\n  db_postgresql:\n    from: aws_db_instance.db_postgresql\n" in out
    assert "services" not in out.split("version: 1\n")[1]
    # the state's one Lambda function has an environment that names no database
    assert notes[-3:-1] == [
        "aws_lambda_function.hello_world: left out: nothing shows it connects to PostgreSQL (no PostgreSQL URL or "
        "variable, no depends_on on the database or a pooler, no recognised framework): add it by hand if it does",
        "no service: none of the 1 objects left out shows it connects to PostgreSQL; import them from their own files "
        "(planner import kubernetes|compose ... -o this file) or write them, then run planner check"]


# ---------------------------------------------------------------------------- compose


def test_compose_clients_are_the_services_that_depend_on_the_database() -> None:
    _, notes = imported("compose", "stack/docker-stack.yml", "stack/docker-stack.prod.yml", "-o", "c.yaml")
    text = undated(Path("c.yaml").read_text())
    assert text.startswith("# Imported by planner import compose from stack/docker-stack.yml, stack/docker-stack.prod.yml on DATE.\n")
    result = pool_value("compose/result", "PG_POOL_MAX=20", image=" (image dockersamples/examplevotingapp_result)")
    worker = pool_value("compose/worker", "DB_POOL_SIZE=8", image=" (image dockersamples/examplevotingapp_worker)")
    assert text.split("version: 1\n")[1] == f"""sources:
  compose: [stack/docker-stack.yml, stack/docker-stack.prod.yml]
databases:
  db:
    from: compose/db
services:
  result:  # write each VALUE: {result}
    from: compose/result
    pool: VALUE
  worker:  # write each VALUE: {worker}
    from: compose/worker
    pool: VALUE
"""
    # each container left out once, with its reason; the vote app talks to redis only
    assert notes[:2] == [
        "compose/redis: left out: its image redis:alpine is a datastore, broker, proxy or web server, not a PostgreSQL client",
        "compose/vote: left out: nothing shows it connects to PostgreSQL (no PostgreSQL URL or variable, no depends_on on "
        "the database or a pooler, no recognised framework): add it by hand if it does"]
    replace_value("c.yaml", "pool: VALUE", "pool: {driver: node-pg, size: {env: PG_POOL_MAX}}")
    replace_value("c.yaml", "pool: VALUE", "pool: {env: DB_POOL_SIZE}")
    assert checked("c.yaml") == 0
    topology = load_topology("c.yaml")
    assert (topology.databases["db"].parameters["max_connections"], topology.services["result"].replicas_max) == (120, 4)


REPMGR_AND_PGPOOL = """services:
  pg-0:
    image: bitnami/postgresql-repmgr:16
    environment:
      POSTGRESQL_POSTGRES_PASSWORD: adminpassword
      POSTGRESQL_USERNAME: shop
      POSTGRESQL_PASSWORD: shoppassword
      POSTGRESQL_DATABASE: shop
      POSTGRESQL_MAX_CONNECTIONS: "700"
      REPMGR_PASSWORD: repmgrpassword
      REPMGR_PRIMARY_HOST: pg-0
      REPMGR_PARTNER_NODES: pg-0
      REPMGR_NODE_NAME: pg-0
      REPMGR_NODE_NETWORK_NAME: pg-0
  pgpool:
    image: bitnami/pgpool:4
    environment:
      PGPOOL_BACKEND_NODES: "0:pg-0:5432"
      PGPOOL_SR_CHECK_USER: repmgr
      PGPOOL_SR_CHECK_PASSWORD: repmgrpassword
      PGPOOL_ENABLE_LDAP: "no"
      PGPOOL_POSTGRES_USERNAME: postgres
      PGPOOL_POSTGRES_PASSWORD: adminpassword
      PGPOOL_ADMIN_USERNAME: admin
      PGPOOL_ADMIN_PASSWORD: adminpassword
    depends_on: [pg-0]
  app:
    image: shop/api:1
    command: gunicorn -w 2 shop.app:app
    environment:
      DATABASE_URL: postgresql+psycopg2://shop:shoppassword@pgpool:5432/shop
    depends_on: [pgpool]
"""


def test_compose_repmgr_behind_bitnami_pgpool_is_a_database_with_its_pooler() -> None:
    """bitnami's postgresql-repmgr is PostgreSQL (the image table every reader shares), and bitnami's
    Pgpool-II in front of it is its pooler, with the app that connects to the pgpool host as its client.

    Worked out by hand from the file above and docs/topology.md:
    - pg-0: self-managed, max_connections 700 (POSTGRESQL_MAX_CONNECTIONS, the image's variable);
      reserved 3 (superuser_reserved_connections' default; reserved_connections 0), usable 697,
      alarm_at floor(700 × (1 − 0.2)) = 560.
    - pgpool: kind pgpool, replicas 1 (one container); neither PGPOOL_NUM_INIT_CHILDREN nor
      PGPOOL_MAX_POOL is set, so num_init_children is 32 (Pgpool-II's and bitnami's default) and
      max_pool 15 (bitnami's pgpool-env.sh, not Pgpool-II's 4). It reaches pg-0 (PGPOOL_BACKEND_NODES
      0:pg-0:5432) and holds at most 1 × 32 × 15 = 480 backend connections.
    - app: gunicorn -w 2 (2 processes, 1 thread), SQLAlchemy from postgresql+psycopg2:// (5 + 10 per
      process): 2 × 15 = 30 client connections to pgpool, within its 1 × 32 children.
    - the database's demand is the pooler's, 480, in every scenario: below 560, so ok.
    """
    Path("ha").mkdir()
    Path("ha/compose.yaml").write_text(REPMGR_AND_PGPOOL)
    _, notes = imported("compose", "ha/compose.yaml", "-o", "ha.yaml")
    assert undated(Path("ha.yaml").read_text()).split("version: 1\n")[1] == """sources:
  compose: [ha/compose.yaml]
databases:
  pg-0:
    from: compose/pg-0
services:
  app:
    from: compose/app
poolers:
  pgpool:
    from: compose/pgpool
    database: pg-0
    clients: [app]
"""
    assert checked("ha.yaml") == 0
    topology = load_topology("ha.yaml")
    pooler = topology.poolers["pgpool"]
    assert (pooler.kind, pooler.replicas, pooler.num_init_children, pooler.max_pool, pooler.database, pooler.clients) == (
        "pgpool", 1, 32, 15, "pg-0", ("app",))
    assert topology.databases["pg-0"].parameters["max_connections"] == 700
    code, out, _ = run_cli(["check", "ha.yaml", "--format", "json"])
    instance = json.loads(out)["instances"][0]
    assert (code, instance["database"], instance["max_connections"], instance["usable"], instance["alarm_at"]) == (
        0, "pg-0", 700, 697, 560)
    assert {name: s["demand"] for name, s in instance["scenarios"].items()} == {"steady": 480, "peak": 480, "rollout": 480}


# ---------------------------------------------------------------------------- what the containers run

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


def container(name: str, command: list[str] | None = None, **env: str) -> str:
    values = "".join(f"\n        - {{name: {k}, value: \"{v}\"}}" for k, v in env.items())
    args = f"\n        args: {command!r}".replace("'", '"') if command else ""
    return f"      - name: {name}\n        image: shop/{name}:1{args}\n        env:{values or ' []'}"


def deployments(**specs: list[str]) -> None:
    """Write manifests/NAME.yaml for each Deployment, given its containers."""
    Path("manifests").mkdir(exist_ok=True)
    for name, containers in specs.items():
        Path(f"manifests/{name}.yaml").write_text(DEPLOYMENT.format(name=name, containers="\n".join(containers)))


def test_servers_and_frameworks_give_the_numbers_with_their_sources() -> None:
    deployments(
        django=[container("app", ["gunicorn", "-w", "3", "--threads", "2", "shop.wsgi"], DJANGO_SETTINGS_MODULE="shop.settings")],
        rails=[container("app", ["bundle", "exec", "puma", "-w", "2", "-t", "5:5"], RAILS_ENV="production",
                         DATABASE_URL="postgres://db/shop?pool=8")],
        spring=[container("app", SPRING_DATASOURCE_URL="jdbc:postgresql://db:5432/shop",
                          SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE="20")],
        celery=[container("app", ["celery", "-A", "shop", "worker", "-l", "info"],
                          DATABASE_URL="postgresql+psycopg2://db/shop")],
    )
    _, notes = imported("kubernetes", "manifests", "--instance-class", "db.m6g.large", "-o", "k.yaml")
    text = Path("k.yaml").read_text()
    # nothing to write but Celery's processes: one per CPU of the node, which no manifest states
    assert "  celery:  # write each VALUE: processes: default of celery --concurrency, " in text
    assert "    from: Deployment/celery\n    processes: VALUE\n" in text
    assert "  django:\n    from: Deployment/django\n" in text and "  spring:\n    from: Deployment/spring\n" in text
    assert notes[-1].endswith("replace each VALUE: services.celery.processes")
    code, lines = check_lines("k.yaml")
    assert (code, len(lines)) == (2, 1)
    assert lines[0].startswith("k.yaml:12: services.celery.processes: default of celery --concurrency, "
                               "https://docs.celeryq.dev/en/stable/userguide/workers.html#concurrency is one per CPU of "
                               "the host (celery counts the node's CPUs with os.cpu_count(), which a container's CPU limit "
                               "does not change), and no deployment file states it")
    replace_value("k.yaml", "processes: VALUE", "processes: 4")
    assert checked("k.yaml") in (0, 1)
    topology = load_topology("k.yaml")
    numbers = {name: (s.processes, s.threads, s.pool.driver, s.pool.size, s.pool.max_overflow)  # type: ignore[union-attr]
               for name, s in topology.services.items()}
    assert numbers == {
        "celery": (4, 1, "sqlalchemy", 5, 10),   # SQLAlchemy's QueuePool defaults, from postgresql+psycopg2://
        "django": (3, 2, "django", 2, 0),        # gunicorn -w 3 --threads 2; Django: one connection per thread
        "rails": (2, 5, "rails", 8, 0),          # puma -w 2 -t 5:5; DATABASE_URL ?pool=8
        "spring": (1, 1, "hikari", 20, 0),       # SPRING_DATASOURCE_HIKARI_MAXIMUM_POOL_SIZE
    }
    provenance = {path: sourced.origin for path, sourced in topology.provenance.items()}
    assert provenance["services.django.processes"] == "Deployment/django gunicorn -w 3, manifests/django.yaml:11"
    assert provenance["services.rails.pool.size"].startswith("DATABASE_URL ?pool=8 ← Deployment/rails")
    assert provenance["services.celery.pool.max_overflow"] == (
        "default of SQLAlchemy, https://docs.sqlalchemy.org/en/20/core/pooling.html#sqlalchemy.pool.QueuePool (max_overflow 10)")


def test_the_container_that_talks_to_the_database_is_read() -> None:
    deployments(
        web=[container("proxy", LISTEN="8080"), container("app", DB_POOL_SIZE="4", DATABASE_URL="postgres://db/shop")],
        twins=[container("a", PGHOST="db"), container("b", PGHOST="db")],
    )
    _, notes = imported("kubernetes", "manifests", "--instance-class", "db.m6g.large", "-o", "k.yaml")
    text = Path("k.yaml").read_text()
    assert "    from: Deployment/web\n    container: app\n    pool: VALUE\n" in text
    assert "    from: Deployment/twins\n    container: a\n    pool: VALUE\n" in text
    assert ("Deployment/twins: container a read of a, b, which all show PostgreSQL use: add an entry with container: NAME "
            "for each other one that connects") in notes


def test_a_variable_kept_in_a_secret_is_not_read() -> None:
    out, _ = imported("terraform", "infra/shop.plan.json", "--database", "main")
    assert "DB_PASSWORD" not in out


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
    Path("manifests").mkdir()
    for namespace in ("prod", "staging"):
        Path(f"manifests/{namespace}.yaml").write_text(
            DEPLOYMENT.format(name="the-deployment", containers=container("app", DATABASE_URL="postgres://db/shop"))
            .replace("metadata: {name: the-deployment}", f"metadata: {{name: the-deployment, namespace: {namespace}}}"))
    out, _ = imported("kubernetes", "manifests", "--instance-class", "db.m6g.large")
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


def test_a_cloudnativepg_pooler_is_imported_with_the_services_that_reach_it() -> None:
    shutil.copytree(FIXTURES / "kubernetes" / "cnpg", "cluster")
    Path("cluster/cluster-example-full.yaml").unlink()  # one database: the pooler's
    Path("cluster/app.yaml").write_text(DEPLOYMENT.format(name="app", containers=container(
        "app", ["gunicorn", "-w", "2", "app:app"], DATABASE_URL="postgresql+psycopg://app@pooler-example-rw:5432/app")))
    _, notes = imported("kubernetes", "cluster", "-o", "k.yaml")
    text = Path("k.yaml").read_text()
    assert "poolers:\n  pooler-example-rw:\n    from: Pooler/pooler-example-rw\n    database: cluster-example\n    clients: [app]\n" in text
    assert "databases:\n  cluster-example:\n    from: Cluster/cluster-example\n" in text
    assert checked("k.yaml") in (0, 1)
    topology = load_topology("k.yaml")
    pooler = topology.poolers["pooler-example-rw"]
    assert (pooler.kind, pooler.database, pooler.clients) == ("pgbouncer", "cluster-example", ("app",))
