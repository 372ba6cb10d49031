"""Sources confined to the topology's repository root: a topology in a pull request cannot make planner
read ``/etc/passwd``, ``../../``, or a runner's home, and print what it found there in a CI log.

Each layout is built under ``tmp_path``: ``repo/`` holds the topology (its root, since ``tmp_path`` is
in no git work tree, unless a test makes ``repo/`` one), ``outside/`` the files a hostile topology
names. Every refusal is exit 2 with one line naming the file, key, line, the path as written and the
fix, and nothing of the outside file reaches stdout or stderr; ``--allow-outside-root`` reads it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from ...conftest import refusal, run_cli

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  template:
    spec:
      containers:
        - name: web
          image: python:3.12
          command: [gunicorn, "app:app", --workers, "2"]
"""
TOPOLOGY = """\
version: 1
sources: {{{kind}: {path}}}
databases:
  main: {{engine: postgres, instance_class: db.m6g.large}}
services:
  web: {{from: {ref}, database: main, pool: {{size: {size}}}}}
"""
SECRET = "wJalrXUtnFEMI/K7MDENG"
WHY = "planner reads only files under it (move the file, or pass --allow-outside-root)"


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Return ``repo/`` beside ``outside/``, which holds a Deployment and an env file with a secret."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # no work tree above tmp_path counts
    (tmp_path / "repo").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "web.yaml").write_text(DEPLOYMENT)
    (tmp_path / "outside" / "creds.env").write_text(f"AWS_SECRET_ACCESS_KEY={SECRET}\nWORKERS=2\n")
    return tmp_path / "repo"


def topology(repo: Path, path: str, kind: str = "kubernetes", ref: str = "Deployment/web", size: str = "5") -> Path:
    target = repo / "topology.yaml"
    target.write_text(TOPOLOGY.format(kind=kind, path=path, ref=ref, size=size))
    return target


def refused(*args: str) -> str:
    """Run planner ARGS, which must refuse with one line that shows nothing of the outside files."""
    lines = refusal(list(args))
    assert len(lines) == 1, lines
    assert SECRET not in lines[0] and "gunicorn" not in lines[0]
    return lines[0]


def read(*args: str) -> None:
    """Run planner ARGS, which must read its sources: a verdict (exit 0 or 1), not an input error."""
    code, _, err = run_cli(list(args))
    assert code in (0, 1), err


def test_a_source_above_the_root_is_refused_with_the_fix(layout: Path) -> None:
    path = topology(layout, "../outside/web.yaml")
    assert refused("check", str(path)) == (
        f"{path}:2: sources.kubernetes: ../outside/web.yaml: resolves outside the repository root {layout.resolve()}: {WHY}")
    read("check", str(path), "--allow-outside-root")


def test_an_absolute_path_is_refused(layout: Path) -> None:
    path = topology(layout, "/etc/passwd")
    assert refused("check", str(path)) == (
        f"{path}:2: sources.kubernetes: /etc/passwd: resolves outside the repository root {layout.resolve()}: {WHY}")


@pytest.mark.parametrize("command", ["explain", "plan", "report", "recommend"])
def test_every_command_that_reads_sources_refuses_and_takes_the_flag(layout: Path, command: str) -> None:
    path = topology(layout, "../outside/web.yaml")
    assert "resolves outside the repository root" in refused(command, str(path))
    read(command, str(path), "--allow-outside-root")


def test_a_symlink_inside_the_root_that_points_out_of_it_is_outside(layout: Path) -> None:
    (layout / "deploy").mkdir()
    (layout / "deploy" / "web.yaml").symlink_to(layout.parent / "outside" / "web.yaml")
    path = topology(layout, "deploy/web.yaml")
    assert refused("check", str(path)).endswith(f"deploy/web.yaml: resolves outside the repository root {layout.resolve()}: {WHY}")
    path = topology(layout, "deploy/")  # a folder listed: each file in it is checked too
    assert "deploy/web.yaml: resolves outside the repository root" in refused("check", str(path))
    read("check", str(path), "--allow-outside-root")


def test_the_root_is_the_git_work_tree(layout: Path) -> None:
    (layout / "k8s").mkdir()
    (layout / "k8s" / "web.yaml").write_text(DEPLOYMENT)
    (layout / "infra").mkdir()
    path = layout / "infra" / "topology.yaml"
    path.write_text(TOPOLOGY.format(kind="kubernetes", path="../k8s/", ref="Deployment/web", size=5))
    assert "resolves outside the repository root" in refused("check", str(path))  # no repository: its folder
    subprocess.run(["git", "init", "-q", str(layout)], check=True, capture_output=True)
    read("check", str(path))


COMPOSE = """\
services:
  web:
    image: python:3.12
    command: gunicorn app:app --workers 2
{extra}"""


def compose(repo: Path, extra: str, size: str = "5") -> Path:
    (repo / "compose.yaml").write_text(COMPOSE.format(extra=extra))
    return topology(repo, "compose.yaml", "compose", "compose/web", size)


def test_an_env_file_outside_is_refused_where_the_compose_file_names_it(layout: Path) -> None:
    path = compose(layout, "    env_file: ../outside/creds.env\n", "{env: AWS_SECRET_ACCESS_KEY}")
    assert refused("check", str(path)) == (
        f"{layout / 'compose.yaml'}:5: services.web.env_file: {layout / '../outside/creds.env'}: resolves outside "
        f"the repository root {layout.resolve()}: {WHY}")
    for command in (["explain"], ["check", "--format", "json"]):
        assert "resolves outside" in refused(*command, str(path))
    # allowed, the secret is read but not shown: it is not a number, and its name marks a secret
    code, out, err = run_cli(["check", str(path), "--allow-outside-root"])
    assert code == 2 and SECRET not in out + err and "AWS_SECRET_ACCESS_KEY" in err


def test_a_home_folder_env_file_is_outside(layout: Path) -> None:
    path = compose(layout, "    env_file: ~/.aws/credentials\n")
    assert "~/.aws/credentials: resolves outside the repository root" in refused("check", str(path))


@pytest.mark.parametrize(("name", "text", "extra", "where"), [
    ("other.yaml", "services:\n  spy:\n    image: busybox\n", "include:\n  - ../outside/other.yaml\n", "6: include"),
    ("base.yaml", "services:\n  base:\n    environment: {WORKERS: '2'}\n",
     "    extends: {file: ../outside/base.yaml, service: base}\n", "5: extends.file"),
])
def test_a_compose_file_outside_is_refused(layout: Path, name: str, text: str, extra: str, where: str) -> None:
    (layout.parent / "outside" / name).write_text(text)
    path = compose(layout, extra)
    line = refused("check", str(path))
    assert line.startswith(f"{layout / 'compose.yaml'}:{where}: ") and "resolves outside the repository root" in line
    read("check", str(path), "--allow-outside-root")


def test_an_env_file_in_the_repository_beside_the_project_is_read(layout: Path) -> None:
    (layout / "config").mkdir()
    (layout / "config" / "app.env").write_text("DB_POOL_SIZE=7\n")
    (layout / "stack").mkdir()
    (layout / "stack" / "compose.yaml").write_text(COMPOSE.format(extra="    env_file: ../config/app.env\n"))
    path = topology(layout, "stack/compose.yaml", "compose", "compose/web", "{env: DB_POOL_SIZE}")
    code, out, err = run_cli(["explain", str(path)])
    assert code == 0, err
    assert "DB_POOL_SIZE = '7'" in out


def test_import_refuses_what_its_files_name_outside_and_takes_the_flag(layout: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(layout)
    (layout / "compose.yaml").write_text(COMPOSE.format(extra="    env_file: ../outside/creds.env\n")
                                         + "  db:\n    image: postgres:16\n")
    line = refused("import", "compose", "compose.yaml", "-o", "shop.yaml")
    assert "services.web.env_file" in line and "resolves outside the repository root" in line
    assert not (layout / "shop.yaml").exists()
    code, out, err = run_cli(["import", "compose", "compose.yaml", "-o", "shop.yaml", "--allow-outside-root"])
    assert code == 0, err
    assert SECRET not in out + err + (layout / "shop.yaml").read_text()


@pytest.fixture
def git_repo(layout: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make ``repo/`` a git repository (no user or system configuration) with one commit of
    ``infra/topology.yaml``, which names a source above the repository."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    (layout / "infra").mkdir()
    (layout / "infra" / "topology.yaml").write_text(TOPOLOGY.format(kind="kubernetes", path="../../outside/web.yaml",
                                                                    ref="Deployment/web", size=5))
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", "x"]):
        subprocess.run(["git", "-C", str(layout), *args], check=True, capture_output=True)
    monkeypatch.chdir(layout)
    return layout


def test_a_git_revision_source_may_not_leave_the_repository(git_repo: Path) -> None:
    spec = "git:HEAD:infra/topology.yaml"
    lines = refusal(["diff", spec, spec])
    assert lines == [f"{spec}:2: sources.kubernetes: ../../outside/web.yaml: leaves the repository in HEAD: planner reads "
                     "only the revision's files (name a file inside the repository)"]
    (git_repo / "infra" / "topology.yaml").write_text(TOPOLOGY.format(kind="kubernetes", path="/etc/passwd",
                                                                      ref="Deployment/web", size=5))
    subprocess.run(["git", "-C", str(git_repo), "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qam", "y"],
                   check=True, capture_output=True)
    assert "/etc/passwd: leaves the repository in HEAD" in refused("diff", spec, spec)
