"""What planner shows of values it read: never a secret's, never a password, never a text where a number
was expected, in problems, ``explain``, the JSON ``provenance`` and what ``planner import`` writes.

The scenario that made this necessary: a Compose ``env_file`` held ``AWS_SECRET_ACCESS_KEY``, a topology
read it as a pool size, and ``check`` printed the key in its error, into the CI log.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.topology.sources.redact import assignment, compared, is_number, is_secret, redact, shown

from ...conftest import run_cli

SECRET = "wJalrXUtnFEMI/K7MDENG"
COMPOSE = """\
services:
  web:
    image: python:3.12
    command: gunicorn app:app --workers 2
    env_file: app.env
    environment:
      DATABASE_URL: postgresql+psycopg2://app:hunter2@db/app
  db:
    image: postgres:16
"""
TOPOLOGY = """\
version: 1
sources: {{compose: compose.yaml}}
databases:
  main: {{from: compose/db, instance_class: db.m6g.large}}
services:
  web: {{from: compose/web, database: main, pool: {{driver: sqlalchemy, size: {{env: {name}}}}}}}
"""


@pytest.mark.parametrize(("name", "secret"), [
    ("AWS_SECRET_ACCESS_KEY", True), ("DB_PASSWORD", True), ("github_token", True), ("API_KEY", True),
    ("GOOGLE_APPLICATION_CREDENTIALS", True), ("PGPASSWD", True), ("DB_POOL_SIZE", False), ("WEB_CONCURRENCY", False),
])
def test_a_name_marks_a_secret(name: str, secret: bool) -> None:
    assert is_secret(name) is secret


@pytest.mark.parametrize(("text", "expected"), [
    ("postgresql://user:pw@host/db", "postgresql://user:***@host/db"),
    ("postgresql+asyncpg://app:p%40ss:w@db:5432/app?sslmode=require", "postgresql+asyncpg://app:***@db:5432/app?sslmode=require"),
    ("postgres://user@host/db", "postgres://user@host/db"),  # no password: nothing to hide
    ("host=db dbname=app user=app password=s3cret", "host=db dbname=app user=app password=***"),
    ("host=db password='a b' dbname=app", "host=db password=*** dbname=app"),
    ("redis://:pw@cache:6379/0", "redis://:***@cache:6379/0"),
])
def test_passwords_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_what_is_shown_of_a_value() -> None:
    assert shown("AWS_SECRET_ACCESS_KEY", SECRET) == "***"
    assert shown("DATABASE_URL", "postgresql://u:p@h/d") == "'postgresql://u:***@h/d'"
    assert shown("DATABASE_URL", "postgresql://u:p@h/d", quote=False) == "postgresql://u:***@h/d"
    assert assignment("DB_POOL_SIZE", "5") == "DB_POOL_SIZE = '5'"
    assert assignment("DB_POOL_SIZE", "lots") == "DB_POOL_SIZE"  # not a number where one was expected
    assert assignment("TOKEN_BUCKET", "5") == "TOKEN_BUCKET"  # a secret's, even a number
    assert compared(3, "three") == "a value that is not a number" and compared("postgres", "mysql") == "'mysql'"
    assert [is_number(v) for v in ("5", " 2.5 ", "25%", "x5", "", True, 7)] == [True, True, True, False, False, False, True]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A Compose project whose env file holds a secret (and one pool size that is not a number)."""
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    (tmp_path / "app.env").write_text(f"DB_POOL_SIZE=lots\nAWS_SECRET_ACCESS_KEY={SECRET}\n")
    return tmp_path


def outputs(*args: str) -> tuple[int, str]:
    code, out, err = run_cli(list(args))
    assert "Traceback" not in err
    return code, out + err


def test_a_secret_read_where_a_number_is_expected_is_named_not_shown(project: Path) -> None:
    path = project / "topology.yaml"
    path.write_text(TOPOLOGY.format(name="AWS_SECRET_ACCESS_KEY"))
    for command in (["check"], ["explain"], ["check", "--format", "json"], ["report"]):
        code, said = outputs(*command, str(path))
        assert code == 2 and SECRET not in said, command
        assert f"AWS_SECRET_ACCESS_KEY (compose/web AWS_SECRET_ACCESS_KEY, {project / 'app.env'}:2) is not a number" in said
        assert "hunter2" not in said


def test_a_text_read_where_a_number_is_expected_is_not_echoed(project: Path) -> None:
    path = project / "topology.yaml"
    path.write_text(TOPOLOGY.format(name="DB_POOL_SIZE"))
    code, said = outputs("check", str(path))
    assert code == 2 and "lots" not in said
    assert said.strip() == (f"planner: {path}:6: services.web.pool.size: size must be a whole number, not the text read from "
                            f"the deployment (from DB_POOL_SIZE ← compose/web DB_POOL_SIZE, {project / 'app.env'}:1) "
                            "(write a number, e.g. size: 1)")


def test_import_shows_no_secret(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    code, said = outputs("import", "compose", "compose.yaml", "-o", "shop.yaml")
    assert code == 0, said
    written = (project / "shop.yaml").read_text()
    assert SECRET not in said + written and "hunter2" not in said + written


def test_a_url_in_provenance_shows_no_password(project: Path) -> None:
    (project / "app.env").write_text("DB_POOL_SIZE=5\n")
    path = project / "topology.yaml"
    path.write_text(TOPOLOGY.format(name="DB_POOL_SIZE").replace("driver: sqlalchemy, ", ""))
    code, out = outputs("explain", str(path))
    assert code == 0, out
    assert "DATABASE_URL = postgresql+psycopg2://app:***@db/app (SQLAlchemy)" in out and "hunter2" not in out
    code, out, _ = run_cli(["check", "--format", "json", str(path)])
    assert code == 0 and "hunter2" not in out
    driver = json.loads(out)["provenance"]["services.web.pool.driver"]
    assert driver["from"].startswith("DATABASE_URL = postgresql+psycopg2://app:***@db/app (SQLAlchemy) ← compose/web")
