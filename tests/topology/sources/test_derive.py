"""A ``from:`` entry's processes, threads and pool, read from what its container runs (spec §6.1).

The order: what the topology writes; else what the deployment states; else the documented default of
what the deployment shows; else exit 2 naming the key. Hand-written services keep v1's default.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.topology import load_topology

from ...conftest import refusal

MANIFEST = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  template:
    spec:
      containers:
      - name: app
        image: shop/web:1
        args: ["sh", "-c", "python manage.py migrate && exec gunicorn -w ${WORKERS:-4} --threads 2 shop.wsgi"]
        env:
        - {name: DJANGO_SETTINGS_MODULE, value: shop.settings}
        - {name: DB_POOL, value: "12"}
        - {name: MAX_THREADS, value: "5"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker}
spec:
  template:
    spec:
      containers:
      - name: app
        image: shop/worker:1
        args: ["./run-worker"]
        env:
        - {name: DATABASE_URL, value: "postgres://db/shop"}
"""
HEAD = """version: 1
sources: {kubernetes: app.yaml}
databases:
  main: {instance_class: db.m6g.large}
services:
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("app.yaml").write_text(MANIFEST)


def topology(services: str) -> Path:
    Path("t.yaml").write_text(HEAD + services)
    return Path("t.yaml")


def test_the_command_line_and_the_framework_give_the_numbers() -> None:
    web = load_topology(topology("  web: {from: Deployment/web}\n")).services["web"]
    # sh -c "... gunicorn -w ${WORKERS:-4} --threads 2": 4 processes of 2 threads; Django: a connection per thread
    assert (web.replicas_max, web.processes, web.threads, web.pool.driver, web.pool.size) == (3, 4, 2, "django", 2)  # type: ignore[union-attr]


def test_what_the_topology_writes_stands_and_a_disagreement_is_noted() -> None:
    t = load_topology(topology("  web: {from: Deployment/web, processes: 6}\n"))
    assert t.services["web"].processes == 6
    assert "processes: the topology says 6, but Deployment/web gunicorn -w 4, app.yaml:11 says 4" in t.source_notes["services.web"]


def test_a_service_whose_pool_nothing_shows_is_refused_naming_pool() -> None:
    lines = refusal(["check", str(topology("  worker: {from: Deployment/worker}\n"))])
    assert lines == [
        "t.yaml:6: services.worker.pool: planner cannot tell how many connections Deployment/worker opens per process: "
        "no framework or driver recognised in its environment (image shop/worker:1) (write pool: {driver: DRIVER} "
        "(sqlalchemy, django, rails, hikari, node-pg, asyncpg, psycopg-pool, ...) with size: N where it differs from "
        "the driver's default, or pool: N for N connections per process (docs/topology.md#pools))"]


def test_a_hand_written_service_keeps_one_connection_per_thread() -> None:
    hand = load_topology(topology("  cron: {replicas: 2, threads: 3}\n")).services["cron"]
    assert (hand.pool.driver, hand.pool.size) == ("per-thread", 3)  # type: ignore[union-attr]


def test_a_fallback_chain_takes_the_first_variable_that_is_set() -> None:
    t = load_topology(topology("  web: {from: Deployment/web, pool: {driver: rails, size: {env: [DB_POOL, MAX_THREADS], default: 5}}}\n"
                               "  web2: {from: Deployment/web, pool: {driver: rails, size: {env: [NOPE, MAX_THREADS], default: 5}}}\n"
                               "  web3: {from: Deployment/web, pool: {driver: rails, size: {env: [NOPE, NADA], default: 5}}}\n"))
    sizes = {name: t.services[name].pool.size for name in ("web", "web2", "web3")}  # type: ignore[union-attr]
    assert sizes == {"web": 12, "web2": 5, "web3": 5}
    assert t.provenance["services.web2.pool.size"].origin.startswith("MAX_THREADS = '5' (NOPE not set) ← ")
    assert t.provenance["services.web3.pool.size"].origin == "default of {env: [NOPE, NADA]} (not set in Deployment/web)"


def test_a_fallback_chain_without_a_default_names_every_variable() -> None:
    lines = refusal(["check", str(topology("  web: {from: Deployment/web, pool: {env: [NOPE, NADA]}}\n"))])
    assert lines == ["t.yaml:6: services.web.pool: NOPE nor NADA is not set in Deployment/web (set it in the source, or "
                     "write {env: [NOPE, NADA], default: VALUE} with the application's default)"]


def test_an_import_placeholder_is_refused_until_replaced() -> None:
    lines = refusal(["check", str(topology("  worker:\n    from: Deployment/worker\n    connections: VALUE\n"))])
    assert lines == ["t.yaml:8: services.worker.connections: VALUE is the placeholder planner import wrote: the deployment "
                     "does not say it (replace it with the value (the comment planner import wrote on the entry says why))"]


def test_a_placeholder_the_deployment_now_fills_is_taken() -> None:
    web = load_topology(topology("  web:\n    from: Deployment/web\n    processes: VALUE\n")).services["web"]
    assert web.processes == 4


def test_a_fixed_number_of_connections_is_not_multiplied_by_the_workload() -> None:
    # a one-shot Job or an agent the user counts as a fixed total: the Deployment's 3 replicas do not apply
    t = load_topology(topology("  web:\n    from: Deployment/web\n    connections: 2\n    pool: VALUE\n"))
    web = t.services["web"]
    assert (web.shape, web.connections) == ("fixed", 2)
    assert "services.web.replicas" not in t.provenance


# Apache Airflow's official Compose file (apache/airflow, airflow-core/docs/howto/docker-compose/
# docker-compose.yaml, commit 00a1c46df0a9a3159f6ab8d8f94f4201b5f16289): every process reads
# AIRFLOW__DATABASE__SQL_ALCHEMY_CONN (SQLAlchemy, 5 + 10 per engine), but `airflow api-server` forks
# its own uvicorn workers ([api] workers) and runs two engines in each: nothing in the file says how
# many processes, so planner must not count one.
def deployment(name: str, image: str, args: str | None, env: dict[str, str]) -> str:
    """Return one Deployment of one container ``app`` (``args`` as a YAML flow list, None for the image's own)."""
    lines = ["apiVersion: apps/v1", "kind: Deployment", f"metadata: {{name: {name}}}", "spec:", "  template:",
             "    spec:", "      containers:", "      - name: app", f"        image: {image}"]
    lines += [f"        args: {args}"] if args else []
    lines += ["        env:"] + [f"        - {{name: {k}, value: \"{v}\"}}" for k, v in env.items()]
    return "\n".join(lines) + "\n"


FORKING = "---\n".join([
    deployment("api", "apache/airflow:3.1.3", '["api-server"]',
               {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql+psycopg2://airflow:airflow@postgres/airflow"}),
    deployment("migrate", "shop/web:1", '["python", "manage.py", "migrate"]', {"DJANGO_SETTINGS_MODULE": "shop.settings"}),
    deployment("image-default", "shop/web:1", None, {"DJANGO_SETTINGS_MODULE": "shop.settings"}),
    deployment("jvm", "shop/orders:1", None, {"SPRING_DATASOURCE_URL": "jdbc:postgresql://db/orders"}),
])


def test_a_python_application_command_without_a_known_server_asks_for_its_processes() -> None:
    Path("app.yaml").write_text(FORKING)
    lines = refusal(["check", str(topology("  api: {from: Deployment/api}\n  default: {from: Deployment/image-default}\n"))])
    assert lines == [
        "t.yaml:6: services.api.processes: Deployment/api, app.yaml:1 its command (api-server) starts no app server "
        "planner knows: how many processes it runs, each with its own SQLAlchemy pool, is not in the deployment "
        "(gunicorn, uvicorn, uWSGI, Puma, Celery and the like are read from their flags) (write processes in the topology)",
        "t.yaml:7: services.default.processes: Deployment/image-default, app.yaml:27 it runs its image's own command, "
        "which the deployment does not show: how many processes it runs, each with its own Django pool, is not in the "
        "deployment (gunicorn, uvicorn, uWSGI, Puma, Celery and the like are read from their flags) (write processes in "
        "the topology)"]
    # written, it stands: 4 uvicorn workers × 15
    api = load_topology(topology("  api: {from: Deployment/api, processes: 4}\n")).services["api"]
    assert (api.processes, api.pool.worst) == (4, 15)  # type: ignore[union-attr]


def test_an_interpreter_run_on_a_program_or_a_jvm_is_one_process() -> None:
    Path("app.yaml").write_text(FORKING)
    t = load_topology(topology("  migrate: {from: Deployment/migrate}\n  jvm: {from: Deployment/jvm}\n"))
    assert (t.services["migrate"].processes, t.services["jvm"].processes) == (1, 1)
    assert t.provenance["services.migrate.processes"].origin == "no app server recognised in its command: one process (v1's default)"


def test_a_shell_script_the_shell_would_refuse_is_exit_2_at_its_line() -> None:
    Path("app.yaml").write_text(MANIFEST.replace("exec gunicorn -w ${WORKERS:-4} --threads 2 shop.wsgi",
                                                 "exec gunicorn -w 4 'shop.wsgi"))
    lines = refusal(["check", str(topology("  web: {from: Deployment/web}\n"))])
    assert lines == ["t.yaml:6: services.web.from: Deployment/web containers[app].args, app.yaml:11 its shell script has "
                     "an unclosed quote, which the shell refuses: the container would not start (fix the command in the "
                     "deployment)"]


# --------------------------------------------------------------------------- did you mean (issue 19, part 3)

NOT_SET_HINT = "set it in the source, or write {env: %s, default: VALUE} with the application's default"


@pytest.mark.parametrize(("written", "names", "guess"), [
    ("DB_POL", "DB_POL", "did you mean DB_POOL? Else "),
    ("db_pool", "db_pool", "did you mean DB_POOL? Else "),  # another case
    ("MAX_THREAD", "MAX_THREAD", "did you mean MAX_THREADS? Else "),
    ("[DB_POL, MAX_THREAD]", "DB_POL nor MAX_THREAD", "did you mean DB_POOL for DB_POL or MAX_THREADS for MAX_THREAD? Else "),
    ("[NOPE, MAX_THREAD]", "NOPE nor MAX_THREAD", "did you mean MAX_THREADS for MAX_THREAD? Else "),
    ("[NOPE, NADA]", "NOPE nor NADA", ""),  # nothing like them: no guess
    ("MAX", "MAX", ""),  # a part of MAX_THREADS is not a typo of it
])
def test_a_variable_that_is_not_set_names_a_similar_one_the_container_has(written: str, names: str, guess: str) -> None:
    lines = refusal(["check", str(topology(f"  web: {{from: Deployment/web, pool: {{driver: rails, size: {{env: {written}}}}}}}\n"))])
    assert lines == [f"t.yaml:6: services.web.pool.size: {names} is not set in Deployment/web ({guess}"
                     + NOT_SET_HINT % written + ")"]


def test_a_guess_names_a_variable_of_this_container_never_its_value() -> None:
    Path("app.yaml").write_text(MANIFEST + """---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  template:
    spec:
      containers:
      - name: app
        image: shop/api:1
        env:
        - {name: DB_PASSWORD, value: "s3cr3t-hunter2"}
        - {name: POOL_SIZE, value: "7"}
""")
    lines = refusal(["check", str(topology("  api: {from: Deployment/api, pool: {driver: rails, size: {env: DB_PASSWORDS}}}\n"
                                           "  web: {from: Deployment/web, pool: {driver: rails, size: {env: DB_POOLS}}}\n"))])
    assert [line.split(" (")[1].split("?")[0] for line in lines] == ["did you mean DB_PASSWORD", "did you mean DB_POOL"]
    assert "s3cr3t" not in "\n".join(lines)
    assert "POOL_SIZE" not in "\n".join(lines)  # Deployment/api's variable, not web's
