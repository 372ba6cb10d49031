"""What a container runs, read as the software in it reads itself: command lines, app servers, pools, poolers.

Each expected number comes from the server's or library's own documentation or source, cited in
planner/topology/sources/apps (servers.py, frameworks.py, poolers.py); these tables hold the
recogniser to them, case by case.
"""

from __future__ import annotations

import pytest

from planner.topology.sources.apps import configs
from planner.topology.sources.apps.command import expand_shell, invocations, mark_unknown
from planner.topology.sources.apps.evidence import bystander, choose_container, client_evidence
from planner.topology.sources.apps.poolers import read_pooler
from planner.topology.sources.apps.recognise import find_flag, read_container
from planner.topology.sources.base import Container, Fact, Found, Origin, Unknown

ORIGIN = Origin("compose/app", "compose.yaml", 7, "command")


def env(**values: str) -> dict[str, Fact | Unknown]:
    return {name: Fact(value, Origin("compose/app", "compose.yaml", 3, f"environment.{name}")) for name, value in values.items()}


def secret(name: str) -> dict[str, Fact | Unknown]:
    return {name: Unknown(Origin("Deployment/app", "app.yaml", 9, name), "comes from Secret/app key 'x', which planner does not read")}


def app(args: tuple[str, ...] | None = None, entrypoint: tuple[str, ...] | None = None, image: str | None = "shop/app:1",
        files: dict[str, Fact | Unknown] | None = None, **variables: str) -> Container:
    return Container("app", image, entrypoint, args, ORIGIN, env(**variables), files=files or {})


# ---------------------------------------------------------------------------- command lines


@pytest.mark.parametrize("words, programs", [
    (("gunicorn", "-w", "4", "app:app"), [("gunicorn", ("-w", "4", "app:app"))]),
    (("sh", "-c", "python manage.py migrate && exec gunicorn -w 2 shop.wsgi"),
     [("python", ("manage.py", "migrate")), ("gunicorn", ("-w", "2", "shop.wsgi"))]),
    (("/bin/bash", "-ec", "set -x; exec uvicorn main:app --workers 3"), [("set", ("-x",)), ("uvicorn", ("main:app", "--workers", "3"))]),
    (("dumb-init", "--", "bundle", "exec", "puma", "-C", "config/puma.rb"), [("puma", ("-C", "config/puma.rb"))]),
    (("tini", "-s", "--", "python", "-m", "celery", "-A", "proj", "worker"), [("celery", ("-A", "proj", "worker"))]),
    (("python3.12", "-u", "-m", "gunicorn", "app:app"), [("gunicorn", ("app:app",))]),
    (("/usr/local/bin/python", "/usr/local/bin/gunicorn", "-w", "5"), [("gunicorn", ("-w", "5"))]),
    (("env", "-i", "WEB_CONCURRENCY=3", "gunicorn", "app"), [("gunicorn", ("app",))]),
    (("gosu", "app", "rq", "worker"), [("rq", ("worker",))]),
    (("newrelic-admin", "run-program", "gunicorn", "x"), [("gunicorn", ("x",))]),
    (("ddtrace-run", "celery", "worker"), [("celery", ("worker",))]),
    (("wait-for-it.sh", "db:5432", "--", "node", "server.js"), [("node", ("server.js",))]),
    (("poetry", "run", "hypercorn", "app:app", "-w", "2"), [("hypercorn", ("app:app", "-w", "2"))]),
    (("sh", "-c", "if [ -n \"$X\" ]; then gunicorn a; fi"), [("[", ("-n", "]")), ("gunicorn", ("a",))]),
])
def test_invocations_peel_shells_and_wrappers(words: tuple[str, ...], programs: list[tuple[str, tuple[str, ...]]]) -> None:
    assert [(c.program, c.args) for c in invocations(words, lambda name: None)] == programs


def test_the_image_command_is_unknown_and_starts_nothing_planner_sees() -> None:
    assert invocations(None, lambda name: None) == []


@pytest.mark.parametrize("text, expected", [
    ("-w ${UNSET:-4}", "-w 4"),          # unset: the default
    ("-w ${UNSET-4}", "-w 4"),
    ("-w ${WORKERS:-4}", "-w 9"),
    ("-w $WORKERS", "-w 9"),
    ("-w ${EMPTY:-4} -t ${EMPTY-2}", "-w 4 -t "),  # :- takes the default when empty, - only when unset
    ("'$WORKERS' \"$WORKERS\"", "'$WORKERS' \"9\""),  # nothing inside single quotes
    ("${WORKERS:+--workers $WORKERS}", "--workers 9"),
    ("-w $UNSET", "-w "),
])
def test_shell_expansion_follows_the_shell(text: str, expected: str) -> None:
    values = {"WORKERS": "9", "EMPTY": ""}
    assert expand_shell(text, values.get) == expected


@pytest.mark.parametrize("args, flags, found", [
    (["-w", "4"], ("-w", "--workers"), ("-w", "4")),
    (["-w4"], ("-w", "--workers"), ("-w", "4")),
    (["--workers=6"], ("-w", "--workers"), ("--workers", "6")),
    (["--workers", "2", "-w", "3"], ("-w", "--workers"), ("-w", "3")),  # the last one wins, as argparse does
    (["--worker-class", "gevent"], ("-w", "--workers"), None),
    (["-t", "2:8"], ("-t",), ("-t", "2:8")),
])
def test_flags_in_their_forms(args: list[str], flags: tuple[str, ...], found: tuple[str, str] | None) -> None:
    assert find_flag(args, flags) == found


# ---------------------------------------------------------------------------- app servers


def numbers(container: Container) -> dict[str, object]:
    """Return each key's value (or "unknown"), read or default."""
    reading = read_container("compose/app", container)
    out: dict[str, object] = {}
    for key in ("processes", "threads", "pool.driver", "pool.size", "pool.max_overflow"):
        value = reading.get(key)
        if value is not None:
            out[key] = value.value if isinstance(value, Fact) else "unknown"
    return out


@pytest.mark.parametrize("container, expected", [
    # gunicorn: -w, else GUNICORN_CMD_ARGS, else WEB_CONCURRENCY, else 1 (docs.gunicorn.org settings#workers)
    (app(("gunicorn", "app:app")), {"processes": 1, "threads": 1}),
    (app(("gunicorn", "app:app"), WEB_CONCURRENCY="3"), {"processes": 3, "threads": 1}),
    (app(("gunicorn", "app:app"), GUNICORN_CMD_ARGS="--workers 5 --threads 4", WEB_CONCURRENCY="3"), {"processes": 5, "threads": 4}),
    (app(("gunicorn", "-w", "2", "app:app"), GUNICORN_CMD_ARGS="--workers 5"), {"processes": 2, "threads": 1}),
    # gevent: each worker serves worker_connections (1000) requests at once
    (app(("gunicorn", "-k", "gevent", "-w", "2", "app")), {"processes": 2, "threads": 1000}),
    # uvicorn: --workers, else $WEB_CONCURRENCY, else 1
    (app(("uvicorn", "main:app", "--workers", "4")), {"processes": 4}),
    (app(("uvicorn", "main:app"), WEB_CONCURRENCY="2"), {"processes": 2}),
    # uWSGI: every option may be set as UWSGI_<OPTION>
    (app(("uwsgi", "--http", ":8000", "--module", "app")), {"processes": 1, "threads": 1}),
    (app(("uwsgi", "--module", "app"), UWSGI_PROCESSES="8", UWSGI_THREADS="2"), {"processes": 8, "threads": 2}),
    (app(("uwsgi", "--processes", "4", "--threads", "2")), {"processes": 4, "threads": 2}),
    # Puma: -w/WEB_CONCURRENCY (workers 0 = one process), -t min:max/MAX_THREADS, max 5 on MRI
    (app(("puma", "-w", "3", "-t", "1:16")), {"processes": 3, "threads": 16}),
    (app(("bundle", "exec", "puma"), WEB_CONCURRENCY="2", MAX_THREADS="8"), {"processes": 2, "threads": 8}),
    # Sidekiq: -c, else RAILS_MAX_THREADS, else 5 (sidekiq/config.rb, cli.rb)
    (app(("bundle", "exec", "sidekiq")), {"threads": 5}),
    (app(("bundle", "exec", "sidekiq"), RAILS_MAX_THREADS="12"), {"threads": 12}),
    (app(("sidekiq", "-c", "20")), {"threads": 20}),
    # Celery: -c, --autoscale max, -P; without -c one process per CPU of the host: unknown
    (app(("celery", "-A", "proj", "worker", "-c", "6")), {"processes": 6}),
    (app(("celery", "-A", "proj", "worker", "--autoscale=10,3")), {"processes": 10}),
    (app(("celery", "-A", "proj", "worker", "-P", "threads", "-c", "8")), {"processes": 1, "threads": 8}),
    (app(("celery", "-A", "proj", "worker", "--pool=solo")), {"processes": 1}),
    (app(("celery", "-A", "proj", "worker")), {"processes": "unknown"}),
    (app(("celery", "-A", "proj", "worker"), PYTHON_CPU_COUNT="4"), {"processes": 4}),  # Python 3.13's override
    (app(("celery", "-A", "proj", "beat")), {}),  # beat is no worker
    # RQ: one work horse per worker
    (app(("rq", "worker", "high", "low")), {"processes": 1}),
    # no server named: WEB_CONCURRENCY is what gunicorn, uvicorn and Puma would read
    (app(None, WEB_CONCURRENCY="4"), {"processes": 4}),
    (app(("./run.sh",)), {}),
])
def test_app_servers(container: Container, expected: dict[str, object]) -> None:
    assert numbers(container) == expected


def test_a_flag_set_from_a_secret_is_unknown_and_says_why() -> None:
    container = Container("app", "shop/app:1", None, ("sh", "-c", "gunicorn -w $WORKERS app"), ORIGIN,
                          {**secret("WORKERS")})
    reading = read_container("Deployment/app", container)
    processes = reading.values["processes"]
    assert isinstance(processes, Unknown)
    assert processes.reason == ("is set from $WORKERS, and Deployment/app WORKERS, app.yaml:9 comes from Secret/app key 'x', "
                                "which planner does not read")


def test_a_config_file_inside_the_image_is_unknown() -> None:
    reading = read_container("compose/app", app(("gunicorn", "-c", "/app/gunicorn.conf.py", "app:app")))
    assert isinstance(reading.values["processes"], Unknown)
    assert reading.values["processes"].reason == ("makes gunicorn read its settings from /app/gunicorn.conf.py, which is "
                                                  "inside the image (not mounted from a file planner reads)")


@pytest.mark.parametrize("text, expected", [
    ("workers = 4\nthreads = 2\n", {"processes": 4, "threads": 2}),
    ("import os\nworkers = int(os.environ.get('GUNICORN_WORKERS', '3'))\n", {"processes": 3, "threads": 1}),
    ("import os\nworkers = int(os.getenv('GUNICORN_WORKERS', 3))\n", {"processes": 7, "threads": 1}),
    ("import multiprocessing\nworkers = multiprocessing.cpu_count() * 2 + 1\n", {"processes": "unknown", "threads": 1}),
    ("workers = compute()\n", {"processes": "unknown", "threads": 1}),
])
def test_a_mounted_gunicorn_config_is_read(text: str, expected: dict[str, object]) -> None:
    files: dict[str, Fact | Unknown] = {"/app/gunicorn.conf.py": Fact(text, Origin("compose/app", "gunicorn.conf.py", None))}
    variables = {"GUNICORN_WORKERS": "7"} if "getenv" in text else {}
    container = app(("gunicorn", "-c", "gunicorn.conf.py", "app:app"), files=files, **variables)
    assert numbers(container) == expected


def test_a_mounted_uwsgi_ini_is_read_and_its_variables_expanded() -> None:
    ini = "[uwsgi]\nmodule = app\nprocesses = $(UWSGI_WORKERS_N)\nthreads = 4\n"
    files: dict[str, Fact | Unknown] = {"/etc/uwsgi/app.ini": Fact(ini, Origin("ConfigMap/uwsgi", "cm.yaml", 5))}
    assert numbers(app(("uwsgi", "--ini", "/etc/uwsgi/app.ini"), files=files, UWSGI_WORKERS_N="6")) == {"processes": 6, "threads": 4}


@pytest.mark.parametrize("text, fmt, names, expected", [
    ("workers 3\nthreads 1, 5\n", "ruby", ("workers",), configs.Literal(3, 1)),
    ("workers 3\nthreads 1, 5\n", "ruby", ("threads",), configs.Literal(5, 2)),
    ('workers ENV.fetch("WEB_CONCURRENCY") { 2 }\n', "ruby", ("workers",), configs.FromVariables(("WEB_CONCURRENCY",), 2, 1)),
    ('max = ENV.fetch("RAILS_MAX_THREADS", 5)\nthreads max, max\n', "ruby", ("threads",),
     configs.FromVariables(("RAILS_MAX_THREADS",), 5, 1)),
    (":concurrency: 10\n", "yaml", (":concurrency",), configs.Literal(10, 1)),
    (':concurrency: <%= ENV["SIDEKIQ_CONCURRENCY"] || 7 %>\n', "yaml", (":concurrency",),
     configs.FromVariables(("SIDEKIQ_CONCURRENCY",), 7, 1)),
    ("if x:\n    workers = 4\n", "python", ("workers",), None),  # inside a block it may not run
])
def test_config_files_are_read_without_running_them(text: str, fmt: str, names: tuple[str, ...],
                                                     expected: configs.ConfigValue | None) -> None:
    assert configs.read_setting(text, fmt, names) == expected


# ---------------------------------------------------------------------------- frameworks and pools


@pytest.mark.parametrize("container, expected", [
    (app(("gunicorn", "app:app"), DATABASE_URL="postgresql+psycopg2://u:p@db/shop"),
     {"processes": 1, "threads": 1, "pool.driver": "sqlalchemy", "pool.size": 5, "pool.max_overflow": 10}),
    (app(("gunicorn", "app:app"), SQLALCHEMY_DATABASE_URI="postgresql://db/x", DB_POOL_SIZE="20", DB_MAX_OVERFLOW="0"),
     {"processes": 1, "threads": 1, "pool.driver": "sqlalchemy", "pool.size": 20, "pool.max_overflow": 0}),
    (app(("gunicorn", "--threads", "4", "shop.wsgi"), DJANGO_SETTINGS_MODULE="shop.settings"),
     {"processes": 1, "threads": 4, "pool.driver": "django"}),
    (app(("bundle", "exec", "sidekiq"), RAILS_ENV="production", DB_POOL="25"),
     {"threads": 5, "pool.driver": "rails", "pool.size": 25}),
    (app(("bundle", "exec", "puma"), RAILS_ENV="production", RAILS_MAX_THREADS="3"),
     {"processes": 1, "threads": 5, "pool.driver": "rails", "pool.size": 3}),
    (app(None, SPRING_DATASOURCE_URL="jdbc:postgresql://db/x"), {"pool.driver": "hikari", "pool.size": 10}),
    (app(None, SPRING_DATASOURCE_URL="jdbc:mysql://db/x"), {}),  # Spring Boot, but not PostgreSQL's
    (app(None, QUARKUS_DATASOURCE_JDBC_URL="jdbc:postgresql://db/x"), {"pool.size": 20}),
    (app(("sh", "-c", "npx prisma migrate deploy && node server.js"), DATABASE_URL="postgresql://db/x"), {"pool.size": "unknown"}),
    (app(("sh", "-c", "npx prisma migrate deploy && node server.js"), DATABASE_URL="postgresql://db/x?connection_limit=7"),
     {"pool.size": 7}),
    (app(("node", "server.js"), DATABASE_URL="postgres://db/x"), {}),  # pg, knex, sequelize, Prisma...: not guessed
])
def test_frameworks(container: Container, expected: dict[str, object]) -> None:
    assert numbers(container) == expected


# ---------------------------------------------------------------------------- poolers


def test_an_edoburu_pgbouncer_reads_its_variables_and_takes_pgbouncers_defaults() -> None:
    reading = read_pooler(Container("pgbouncer", "edoburu/pgbouncer:v1.23.1-p2", env=env(
        DB_HOST="postgres", POOL_MODE="transaction", DEFAULT_POOL_SIZE="")))
    assert reading is not None and reading.kind == "pgbouncer"
    assert {k: v.value for k, v in reading.values.items()} == {"pool_mode": "transaction"}  # "" is unset for the image
    assert {k: v.value for k, v in reading.defaults.items()} == {
        "default_pool_size": 20, "reserve_pool_size": 0, "max_client_conn": 100, "max_db_connections": 0}
    assert reading.backend_hosts == ["postgres"]


def test_a_mounted_pgbouncer_ini_is_read() -> None:
    ini = "[databases]\nshop = host=pg port=5432 dbname=shop\n\n[pgbouncer]\npool_mode = transaction\ndefault_pool_size = 25\nmax_client_conn = 500\n"
    files: dict[str, Fact | Unknown] = {"/etc/pgbouncer/pgbouncer.ini": Fact(ini, Origin("ConfigMap/pgb", "pgb.yaml", 4))}
    reading = read_pooler(Container("pgbouncer", "docker.io/edoburu/pgbouncer:1.22", files=files))
    assert reading is not None
    assert {k: v.value for k, v in reading.values.items()} == {"pool_mode": "transaction", "default_pool_size": 25,
                                                               "max_client_conn": 500}
    assert str(reading.values["default_pool_size"].origin) == "/etc/pgbouncer/pgbouncer.ini default_pool_size = 25, pgb.yaml:6"
    assert reading.backend_hosts == ["pg"]


def test_bitnamis_pgpool_image_changes_max_pool() -> None:
    reading = read_pooler(Container("pgpool", "bitnami/pgpool:4.5.2", env=env(PGPOOL_BACKEND_NODES="0:pg-0:5432,1:pg-1:5432")))
    assert reading is not None and reading.kind == "pgpool"
    assert {k: v.value for k, v in reading.defaults.items()} == {"num_init_children": 32, "max_pool": 15}
    assert reading.backend_hosts == ["pg-0", "pg-1"]


def test_other_images_are_no_poolers() -> None:
    assert read_pooler(Container("web", "nginx:1.27")) is None


# ---------------------------------------------------------------------------- who is a client


def evidence(container: Container, depends_on: dict[str, str] | None = None) -> list[tuple[str, str | None]]:
    found = Found(Origin("compose/app", "compose.yaml", 1), containers=(container,), depends_on=depends_on or {})
    hosts = {"db": "compose/db", "pgbouncer": "compose/pgbouncer", "redis": "compose/redis"}
    return [(e.reason, e.target) for e in client_evidence(found, container, read_container("compose/app", container),
                                                          hosts, {"compose/db", "compose/pgbouncer"})]


def test_a_url_names_the_database_or_pooler_it_reaches() -> None:
    assert evidence(app(None, DATABASE_URL="postgres://u:p@pgbouncer:6432/shop")) == [
        ("DATABASE_URL is a PostgreSQL URL naming host 'pgbouncer' (compose/pgbouncer)", "compose/pgbouncer")]
    assert evidence(app(None, DB_HOST="db")) == [("DB_HOST = 'db' names compose/db", "compose/db")]
    assert evidence(app(None), {"db": "service_healthy"}) == [("depends on compose/db", "compose/db")]
    assert evidence(app(None), {"redis": "service_started"}) == []


def test_a_secret_database_url_is_evidence_and_another_engine_is_not() -> None:
    container = Container("app", "shop/app:1", env={**secret("DATABASE_URL")})
    assert evidence(container) == [("DATABASE_URL (its value comes from Secret/app key 'x', which planner does not read)", None)]
    assert evidence(app(None, DATABASE_URL="mysql://db/shop", DB_POOL_SIZE="5")) == []
    assert evidence(app(None, REDIS_URL="redis://redis:6379")) == []


@pytest.mark.parametrize("image, reason", [
    ("redis:7-alpine", "its image redis:7-alpine is a datastore, broker, proxy or web server, not a PostgreSQL client"),
    ("docker.io/library/nginx:1.27", "its image docker.io/library/nginx:1.27 is a datastore, broker, proxy or web server, not a PostgreSQL client"),
    ("mysql:8.4", "its image mysql:8.4 is a MySQL database, an engine planner does not plan (it plans PostgreSQL)"),
    ("ghcr.io/shop/api:2", None),
])
def test_bystanders_by_image(image: str, reason: str | None) -> None:
    assert bystander(Container("x", image)) == reason


def test_the_container_that_shows_postgres_use_is_chosen() -> None:
    sidecar = Container("proxy", "envoyproxy/envoy:v1.31")
    main = app(None, DATABASE_URL="postgres://db/shop")
    assert choose_container([sidecar, main])[0] is main
    assert choose_container([main, app(None, PGHOST="db")])[0] is None  # two: the user says which


def test_an_unknown_marker_is_never_read_as_a_number() -> None:
    reading = read_container("compose/app", app(("gunicorn", "-w", mark_unknown("W"), "app")))
    assert isinstance(reading.values["processes"], Unknown)


@pytest.mark.parametrize("container, driver", [
    (app(("uvicorn", "main:app"), DATABASE_URL="postgresql+psycopg2://db/x"), "sqlalchemy-async"),  # an event loop
    (app(("gunicorn", "-k", "uvicorn.workers.UvicornWorker", "main:app"), DATABASE_URL="postgresql+psycopg2://db/x"),
     "sqlalchemy-async"),
    (app(("python", "worker.py"), DATABASE_URL="postgresql+asyncpg://db/x"), "sqlalchemy-async"),
    (app(("gunicorn", "main:app"), DATABASE_URL="postgresql+psycopg2://db/x"), "sqlalchemy"),  # a thread per request
])
def test_sqlalchemy_under_an_event_loop_is_its_async_engine(container: Container, driver: str) -> None:
    reading = read_container("compose/app", container)
    assert reading.values["pool.driver"].value == driver
    assert (reading.get("pool.size").value, reading.get("pool.max_overflow").value) == (5, 10)  # type: ignore[union-attr]
