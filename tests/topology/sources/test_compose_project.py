"""A Compose project as planner reads it: files, .env, profiles, each service's Container, and bad input.

The oracle test (``test_compose_oracle.py``) holds planner's reading equal to Docker Compose's on
real projects; these tests pin down what Compose cannot show: where each value came from, what
planner cannot know and says so, the ``Container`` the recogniser reads, and the problems a user
sees (exit 2, one line each, file and line named).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from planner.topology import load_topology
from planner.topology.sources.base import Fact, RefError, SourceFileError, Unknown
from planner.topology.sources.compose import ComposeSource, Profiles, load
from planner.topology.sources.files import DiskFiles

from ...conftest import refusal, run_cli

ORACLE_PROJECTS = Path(__file__).parent / "fixtures" / "compose-projects"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def project(files: dict[str, str], folder: str = "app") -> Path:
    """Write a project's files (paths relative to ``folder``) and return the folder."""
    root = Path(folder)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))
    return root


def read(paths: list[str], profiles: tuple[str, ...] | None = None) -> ComposeSource:
    return load(DiskFiles(Path("."), "topology.yaml"), paths, Profiles(profiles) if profiles is not None else None)


def problems(paths: list[str], profiles: tuple[str, ...] | None = None) -> list[str]:
    with pytest.raises(SourceFileError) as info:
        read(paths, profiles)
    return [str(p) for p in info.value.problems]


# ---------------------------------------------------------------------------- which files


def test_a_folder_is_its_compose_file_and_override_file_with_its_env() -> None:
    project({
        "docker-compose.yml": """
            services:
              web:
                image: "shop:${TAG:-dev}"
                command: gunicorn -w ${WORKERS} app:app
                deploy: {replicas: 2}
              other: {image: x}
        """,
        "docker-compose.override.yml": """
            services:
              web:
                deploy: {replicas: 3}
        """,
        "compose.yaml.orig": "not read",
        ".env": "TAG=1.4\nWORKERS=4\n",
    })
    source = read(["app"])
    web = source.find("compose/web", "service")
    (container,) = web.containers or ()
    assert container.image == "shop:1.4"
    assert container.args == ("gunicorn", "-w", "4", "app:app")
    assert web.facts["replicas"] == Fact(3, web.facts["replicas"].origin)
    assert str(web.facts["replicas"].origin) == "compose/web deploy.replicas, app/docker-compose.override.yml:4"
    assert source.project.files == ["app/docker-compose.yml", "app/docker-compose.override.yml"]


def test_compose_yaml_comes_first_and_compose_file_in_env_replaces_the_lookup() -> None:
    project({"compose.yaml": "services: {a: {image: a}}\n", "docker-compose.yml": "services: {b: {image: b}}\n"})
    assert read(["app"]).names("service") == ["compose/a"]
    project({"prod.yml": "services: {c: {image: c}}\n", ".env": "COMPOSE_FILE=compose.yaml:prod.yml\n"})
    assert read(["app"]).names("service") == ["compose/a", "compose/c"]


def test_files_given_merge_in_order_with_the_env_beside_the_first() -> None:
    project({
        "base.yml": """
            services:
              web:
                image: web
                command: ["a"]
                environment: [A=1, B=2]
                volumes: ["./one:/data", "./two:/logs"]
                depends_on: [db]
              db: {image: postgres:16}
        """,
        "prod/override.yml": """
            services:
              web:
                command: b c
                environment: {B: "3", C: "${C_VALUE}"}
                volumes: ["./three:/data"]
                depends_on:
                  db: {condition: service_healthy}
        """,
        ".env": "C_VALUE=from-env\n",
    })
    source = read(["app/base.yml", "app/prod/override.yml"])
    web = source.find("compose/web", "service")
    (container,) = web.containers or ()
    assert container.args == ("b", "c")  # command replaced whole
    assert {k: v.value for k, v in container.env.items() if isinstance(v, Fact)} == {"A": "1", "B": "3", "C": "from-env"}
    assert web.depends_on == {"db": "service_healthy"}
    mounts = [(m.target, m.source) for m in container.files.mounts]  # type: ignore[attr-defined]
    assert mounts == [("/data", "app/three"), ("/logs", "app/two")]  # by target; paths from the project's folder


def test_no_compose_file_in_a_folder_names_the_names_looked_for() -> None:
    project({"README.md": "nothing\n"})
    (line,) = problems(["app"])
    assert line == ("app: no Compose file in this folder (planner looks for compose.yaml, compose.yml, "
                    "docker-compose.yml, docker-compose.yaml) (name the Compose file itself in sources.compose)")


# ---------------------------------------------------------------------------- values planner cannot know


def test_a_variable_neither_env_nor_a_default_sets_is_unknown_where_it_is_used() -> None:
    project({
        "compose.yaml": """
            services:
              web:
                image: web
                command: gunicorn -w ${WORKERS} app:app
                environment:
                  POOL: ${POOL}
                  SIZE: ${SIZE:-5}
                  SECRET: ${SECRET:?set it}
                  FROM_SHELL:
                deploy:
                  replicas: ${REPLICAS}
                  resources: {limits: {cpus: "${CPUS}"}}
        """,
    })
    web = read(["app"]).find("compose/web", "service")
    (container,) = web.containers or ()
    env = container.env
    assert env["SIZE"].value == "5"  # type: ignore[union-attr]
    assert isinstance(env["POOL"], Unknown) and "${POOL}" in env["POOL"].reason
    assert isinstance(env["SECRET"], Unknown)
    assert isinstance(env["FROM_SHELL"], Unknown) and "shell" in env["FROM_SHELL"].reason
    assert isinstance(web.facts["replicas"], Unknown) and isinstance(container.cpus, Unknown)
    assert container.args == ("gunicorn", "-w", "${WORKERS}", "app:app")  # the text as written, and a note says why
    assert any("${WORKERS}" in note for note in web.notes)


def test_a_variable_required_anywhere_is_unknown_where_a_default_is_given_too() -> None:
    # Compose refuses to run without ${TAG:?}: the shell sets TAG, so ${TAG:-dev} is not "dev"
    project({"compose.yaml": """
        services:
          web: {image: "web:${TAG:?release tag}", environment: {VERSION: "${TAG:-dev}"}}
    """})
    (container,) = read(["app"]).find("compose/web", "service").containers or ()
    assert isinstance(container.env["VERSION"], Unknown)


def test_env_file_syntax_and_order() -> None:
    project({
        "compose.yaml": """
            services:
              web:
                image: web
                env_file: [common.env, {path: local.env, required: false}, web.env]
                environment: {LEVEL: override}
        """,
        "common.env": "# comment\nexport LEVEL=info\nQUOTED=\"a b # c\"\nRAW='${NOT}'\nPLAIN=x # comment\n",
        "web.env": "WORKERS=${WORKERS_FROM_DOTENV}\nTWICE=${PLAIN}${PLAIN}\n",
        ".env": "WORKERS_FROM_DOTENV=3\n",
    })
    (container,) = read(["app"]).find("compose/web", "service").containers or ()
    values = {k: v.value for k, v in container.env.items() if isinstance(v, Fact)}
    assert values == {"LEVEL": "override", "QUOTED": "a b # c", "RAW": "${NOT}", "PLAIN": "x", "WORKERS": "3",
                      "TWICE": "xx"}
    assert str(container.env["WORKERS"].origin) == "compose/web WORKERS, app/web.env:1"  # type: ignore[union-attr]
    assert str(container.env["LEVEL"].origin) == "compose/web environment.LEVEL, app/compose.yaml:6"  # type: ignore[union-attr]


# ---------------------------------------------------------------------------- profiles


PROFILED = {
    "compose.yaml": """
        services:
          web: {image: web}
          worker: {image: worker, profiles: [workers]}
          debug: {image: busybox, profiles: [debug, tools]}
    """,
}


def test_only_services_without_profiles_or_in_an_active_one_are_read() -> None:
    project(PROFILED)
    assert read(["app"]).names("service") == ["compose/web"]
    assert read(["app"], ("workers",)).names("service") == ["compose/web", "compose/worker"]
    assert read(["app"], ("*",)).names("service") == ["compose/web", "compose/worker", "compose/debug"]
    project({".env": "COMPOSE_PROFILES=tools\n"})
    assert read(["app"]).names("service") == ["compose/web", "compose/debug"]  # the .env's, when none are given


def test_a_profile_no_service_has_is_a_problem_naming_those_that_exist() -> None:
    project(PROFILED)
    (line,) = problems(["app"], ("worker",))
    assert line == "--profile: no Compose service has the profile 'worker' (the profiles are debug, tools, workers)"


def test_profiles_in_the_topology_and_on_the_command_line() -> None:
    project(PROFILED)
    topology = Path("topology.yaml")
    topology.write_text("""version: 1
sources:
  compose: {path: app, profiles: [workers]}
databases:
  main: {engine: self-managed}
services:
  worker: {from: compose/worker, pool: 2}
""")
    assert load_topology(topology).services["worker"].pool.size == 2  # type: ignore[union-attr]
    lines = refusal(["check", str(topology), "--profile", "tools"])  # the option replaces the topology's profiles
    assert lines == ["topology.yaml:7: services.worker.from: Compose service 'worker' has the profile workers, which is "
                     "not active (activate it with profiles: [workers] in sources.compose, or --profile workers)"]
    code, _, err = run_cli(["check", str(topology), "--profile", "workers,tools"])
    assert code == 0, err
    assert refusal(["check", str(topology), "--profile", "nope"]) == [
        "--profile: no Compose service has the profile 'nope' (the profiles are debug, tools, workers)"]


def test_a_profile_option_without_compose_files_is_refused() -> None:
    topology = Path("t.yaml")
    topology.write_text("version: 1\ndatabases: {main: {engine: self-managed}}\nservices: {web: {connections: 1}}\n")
    assert refusal(["check", str(topology), "--profile", "x"]) == [
        "t.yaml: --profile chooses Compose services, but the topology reads no Compose files "
        "(add sources: {compose: PATH}, or leave out --profile)"]


def test_a_dependency_on_an_inactive_service_is_refused_as_compose_refuses_it() -> None:
    project({"compose.yaml": """
        services:
          web: {image: web, depends_on: [migrate]}
          migrate: {image: web, profiles: [setup]}
    """})
    (line,) = problems(["app"])
    assert line == ("app/compose.yaml:3: services.web depends on migrate, whose profile (setup) is not active "
                    "(activate it with --profile setup or profiles in sources.compose, or set required: false)")


# ---------------------------------------------------------------------------- the Container


def test_the_container_of_a_service() -> None:
    project({
        "compose.yaml": """
            x-app: &app
              image: registry.example.com/shop:1.2
              env_file: app.env
            services:
              web:
                <<: *app
                command: ["gunicorn", "-c", "/app/gunicorn.conf.py", "shop.wsgi"]
                cpus: 1.5
                volumes:
                  - .:/app
                  - ./pgbouncer.ini:/etc/pgbouncer/pgbouncer.ini:ro
                  - /etc/ssl/certs:/etc/ssl/certs:ro
                  - media:/app/media
                hostname: shop-web
                networks:
                  back: {aliases: [api]}
              job:
                <<: *app
                entrypoint: ["python", "manage.py", "migrate"]
              db:
                image: postgres:16
                command: postgres -c shared_buffers=1GB -c max_connections=250
                container_name: shop-db
                networks: [back]
            networks: {back: {}}
            volumes: {media: {}}
        """,
        "app.env": "DATABASE_URL=postgres://shop@db/shop\n",
        "gunicorn.conf.py": "workers = 4\n",
        "pgbouncer.ini": "[pgbouncer]\ndefault_pool_size = 20\n",
    })
    source = read(["app"])
    (web,) = source.find("compose/web", "service").containers or ()
    assert (web.image, web.entrypoint, web.command_origin and web.command_origin.field) == (
        "registry.example.com/shop:1.2", None, "command")
    assert web.cpus == Fact(1.5, web.cpus.origin)  # type: ignore[union-attr]
    assert web.files["/app/gunicorn.conf.py"].value == "workers = 4\n"  # type: ignore[union-attr]
    ini = web.files["/etc/pgbouncer/pgbouncer.ini"]
    assert isinstance(ini, Fact) and str(ini.origin) == "compose/web volumes ./pgbouncer.ini:/etc/pgbouncer/pgbouncer.ini:ro, app/pgbouncer.ini"
    assert isinstance(web.files["/etc/ssl/certs/ca.pem"], Unknown)  # outside the project
    assert isinstance(web.files["/app/media/x.png"], Unknown)  # a named volume, deeper than .:/app
    assert "/app/nothing.py" not in web.files and "/srv/x" not in web.files
    (job,) = source.find("compose/job", "service").containers or ()
    assert (job.entrypoint, job.args) == (("python", "manage.py", "migrate"), ())  # an entrypoint clears CMD
    db = source.find("compose/db", "database")
    assert db.facts["parameters.max_connections"].value == 250  # type: ignore[union-attr]
    assert source.hosts() == {"web": "compose/web", "shop-web": "compose/web", "api": "compose/web", "job": "compose/job",
                              "db": "compose/db", "shop-db": "compose/db"}


@pytest.mark.parametrize(("service", "expected"), [
    ("short", 200),  # postgres -N 200
    ("bitnami", 300),  # bitnami/postgresql's POSTGRESQL_MAX_CONNECTIONS
    ("official", None),  # no setting: PostgreSQL's default applies
])
def test_a_postgres_container_says_its_max_connections(service: str, expected: int | None) -> None:
    project({"compose.yaml": """
        services:
          short: {image: postgres:16, command: postgres -N 200}
          bitnami: {image: docker.io/bitnami/postgresql:16, environment: {POSTGRESQL_MAX_CONNECTIONS: "300"}}
          official: {image: postgres:16, environment: {POSTGRES_PASSWORD: x}}
    """})
    facts = read(["app"]).find(f"compose/{service}", "database").facts
    assert facts["engine"].value == "self-managed"  # type: ignore[union-attr]
    found = facts.get("parameters.max_connections")
    assert (found.value if isinstance(found, Fact) else None) == expected


def test_depends_on_short_and_long_syntax_and_links() -> None:
    project({"compose.yaml": """
        services:
          web:
            image: web
            depends_on:
              migrate: {condition: service_completed_successfully}
              db: {condition: service_healthy}
            links: ["cache:redis"]
          worker: {image: web, depends_on: [db]}
          migrate: {image: web}
          db: {image: postgres}
          cache: {image: redis}
    """})
    source = read(["app"])
    assert source.find("compose/web", "service").depends_on == {
        "migrate": "service_completed_successfully", "db": "service_healthy", "cache": "service_started"}
    assert source.find("compose/worker", "service").depends_on == {"db": "service_started"}


# ---------------------------------------------------------------------------- docker compose config output


def test_docker_compose_config_output_is_read_as_it_is() -> None:
    Path("out.json").write_text("""{
  "name": "shop",
  "services": {
    "web": {"command": ["gunicorn", "-w", "4"], "entrypoint": null, "image": "shop",
            "environment": {"PRICE": "$$5", "EMPTY": ""}, "profiles": ["web"],
            "deploy": {"replicas": 3}},
    "db": {"command": null, "entrypoint": null, "image": "postgres:16"}
  }
}""")
    source = read(["out.json"])
    assert source.project.resolved
    assert source.names("service") == ["compose/web", "compose/db"]  # every service in it is active
    web = source.find("compose/web", "service")
    (container,) = web.containers or ()
    assert container.env["PRICE"].value == "$5"  # type: ignore[union-attr]  # the output writes $ as $$
    assert (container.args, web.facts["replicas"].value) == (("gunicorn", "-w", "4"), 3)  # type: ignore[union-attr]


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(("files", "expected"), [
    ({"compose.yaml": "include: [missing.yaml]\nservices: {a: {image: a}}\n"},
     "app/compose.yaml:1: include names app/missing.yaml, which cannot be read: file not found "
     "(check the path (relative to the including file's project folder))"),
    ({"compose.yaml": "services:\n  a:\n    image: a\n    env_file: [gone.env]\n"},
     "app/compose.yaml:4: services.a.env_file: app/gone.env does not exist (create it, fix the path (relative to the "
     "project's folder), or write {path: ..., required: false})"),
    ({"compose.yaml": "services:\n  a: {image: a, extends: b}\n  b: {image: b, extends: {service: a}}\n"},
     "app/compose.yaml:3: services.b.extends: circular extends (a → b → a) (break the cycle)"),
    ({"compose.yaml": "services:\n  a: {image: a\n"},
     "app/compose.yaml:3: invalid YAML: did not find expected ',' or '}' (fix the file as docker compose config would ask)"),
    ({"compose.yaml": "services:\n  a:\n    image: a\n    image: b\n"},
     "app/compose.yaml:4: mapping key 'image' already defined at line 3 (remove one of them: Compose refuses a duplicate key)"),
    ({"compose.yaml": "services:\n  a:\n    image: a\n    command: echo ${1}\n"},
     "app/compose.yaml:4: services.a.command: invalid interpolation format ${ (write $$ for a literal $ (Compose's rule))"),
    ({"compose.yaml": "services:\n  a: {image: a, scale: 2, deploy: {replicas: 3}}\n"},
     "app/compose.yaml:2: services.a: scale is 2 but deploy.replicas is 3 (Compose refuses two different values: keep one)"),
    # compose-go refuses it too: "'services[a].command' invalid command line string"
    ({"compose.yaml": "services:\n  a:\n    image: a\n    command: 'gunicorn -w \"4'\n"},
     "app/compose.yaml:4: services.a.command: invalid command line string (an unclosed quote, or a backslash at the end) "
     "(Compose refuses it: close the quote, or write command as a list of words)"),
    ({"compose.yaml": "services: {a: {image: a}}\n", ".env": "A=\"unterminated\n"},
     "app/.env:1: unterminated quoted value \"unterminated (fix the line as Compose's env file syntax has it)"),
])
def test_bad_input_is_one_line_per_problem_with_file_and_line(files: dict[str, str], expected: str) -> None:
    project(files)
    assert problems(["app"]) == [expected]


def test_bad_input_through_check_is_exit_2_without_a_traceback() -> None:
    project({"compose.yaml": "services:\n  a: {image: a, env_file: gone.env}\n  b: {image: b, extends: c}\n"})
    Path("topology.yaml").write_text("version: 1\nsources: {compose: app}\ndatabases: {main: {engine: self-managed}}\n"
                                     "services: {a: {from: compose/a, pool: 1}}\n")
    lines = refusal(["check", "topology.yaml"])
    assert lines == [
        "app/compose.yaml:2: services.a.env_file: app/gone.env does not exist (create it, fix the path (relative to the "
        "project's folder), or write {path: ..., required: false})",
        "app/compose.yaml:3: services.b.extends: no service 'c' in app/compose.yaml (name a service of that file (a, b))",
    ]


# ---------------------------------------------------------------------------- import


def test_import_with_a_profile_writes_it_to_the_sources() -> None:
    project({"compose.yaml": """
        services:
          db: {image: postgres:16}
          web: {image: shop, environment: {DATABASE_URL: postgres://db/shop, WEB_CONCURRENCY: "2"}}
          worker: {image: shop, profiles: [workers], environment: {DATABASE_URL: postgres://db/shop}}
    """})
    code, out, err = run_cli(["import", "compose", "app", "--profile", "workers", "-o", "shop.yaml"])
    assert code == 0, err
    text = Path("shop.yaml").read_text()
    assert "compose: {path: app/, profiles: [workers]}" in text
    assert "from: compose/worker" in text
    assert run_cli(["check", "shop.yaml"])[0] in (0, 1, 2)  # the services import left to write may still be open
    assert "no Compose service has the profile" not in run_cli(["check", "shop.yaml"])[2]


def test_the_oracle_projects_are_real_and_each_names_its_source() -> None:
    folders = [p for p in ORACLE_PROJECTS.iterdir() if p.is_dir()]
    assert len(folders) >= 8
    for folder in folders:
        readme = (folder / "README.md").read_text()
        assert "https://github.com/" in readme and ("commit" in readme), folder


def test_a_database_of_an_engine_planner_does_not_plan_is_named_not_dropped() -> None:
    project({"compose.yaml": """
        services:
          legacy: {image: "mysql:8.0"}
          reports: {image: mcr.microsoft.com/mssql/server:2022-latest}
          db: {image: postgres:16}
    """})
    source = read(["app"])
    assert [(u.ref, u.engine, str(u.origin)) for u in source.unplanned()] == [
        ("compose/legacy", "mysql:8.0", "compose/legacy image, app/compose.yaml:3"),
        ("compose/reports", "mcr.microsoft.com/mssql/server:2022-latest", "compose/reports image, app/compose.yaml:4")]
    assert source.names("database") == ["compose/db"]
    with pytest.raises(RefError) as info:
        source.find("compose/legacy", "database")
    assert info.value.message == "compose/legacy runs mysql:8.0, a mysql database, which planner does not plan"


def test_a_job_others_wait_to_finish_counts_only_in_rollout() -> None:
    project({"compose.yaml": """
        services:
          db: {image: postgres:16}
          migrate:
            image: shop
            command: python manage.py migrate
          web:
            image: shop
            depends_on:
              migrate: {condition: service_completed_successfully}
              db: {condition: service_started}
    """})
    source = read(["app"])
    scenarios = source.find("compose/migrate", "service").facts["scenarios"]
    assert scenarios.value == ["rollout"]  # type: ignore[union-attr]
    assert str(scenarios.origin) == ("compose/web depends_on.migrate.condition service_completed_successfully, "
                                     "app/compose.yaml:10")
    assert "scenarios" not in source.find("compose/web", "service").facts
    Path("topology.yaml").write_text("version: 1\nsources: {compose: app}\ndatabases: {main: {from: compose/db}}\n"
                                     "services:\n  migrate: {from: compose/migrate, pool: 3}\n  web: {from: compose/web, pool: 5}\n")
    code, out, err = run_cli(["check", "topology.yaml", "--format", "json"])
    assert code == 0, err
    import json

    (instance,) = json.loads(out)["instances"]
    assert [instance["scenarios"][s]["demand"] for s in ("steady", "peak", "rollout")] == [5, 5, 3 + 5]
