"""README.md runs as written: every console session, on a fresh copy of what it needs, prints what it shows.

Each ```console block is a session: `$ planner ...` lines run through the package (in-process, as
``python -m planner``) in a temporary directory holding a copy of the repository's examples, or of what the
session's text says the reader has (the Mattermost project, a git clone with rendered manifests, a
mistyped topology); `$ echo $?` shows the previous exit code. What is shown must be the output line for
line (stdout, then stderr), where a line `…` stands for any number of lines and a `…` inside a line for any
text. Each session's exit codes are written in CASES; a session without a case fails, so a new block gets
one. Every `planner` command of the README's sh and yaml blocks must parse: its command exists, it takes
each flag it is given, each value it is given converts, and no argument is left over.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
import typer.main

from planner.cli import app, register

from ..conftest import EXAMPLES, run_cli
from ..pgserver import require_bindir
from ..review.test_diff import _commit, _git, isolated_git, needs_git  # noqa: F401 - the fixture is used by name
from ..topology.sources.test_docs import TOPOLOGY, rendered_twice

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text()
ELLIPSIS = "…"


@dataclass(frozen=True)
class Step:
    """A `$ command` line of a console block and the lines shown after it."""

    command: str
    shown: tuple[str, ...]


def console_sessions(text: str) -> list[tuple[Step, ...]]:
    """Return the console blocks of ``text`` as their steps."""
    sessions = []
    for block in re.findall(r"^```console\n(.*?)^```", text, re.S | re.M):
        steps: list[tuple[str, list[str]]] = []
        for line in block.rstrip("\n").split("\n"):
            if line.startswith("$ "):
                steps.append((line[2:], []))
            else:
                assert steps, f"a console block starts with output, not a command: {line!r}"
                steps[-1][1].append(line)
        sessions.append(tuple(Step(command, tuple(shown)) for command, shown in steps))
    return sessions


def shows(shown: tuple[str, ...] | list[str], real: list[str]) -> bool:
    """Whether ``real`` lines are what ``shown`` shows: equal line for line (trailing blanks aside), where a
    line `…` stands for any number of lines and a `…` inside a line for any text."""
    if not shown:
        return not real
    head, rest = shown[0].rstrip(), shown[1:]
    if head == ELLIPSIS:
        return any(shows(rest, real[skip:]) for skip in range(len(real) + 1))
    pattern = ".*".join(re.escape(part) for part in head.split(ELLIPSIS))
    return bool(real) and re.fullmatch(pattern, real[0].rstrip()) is not None and shows(rest, real[1:])


# --------------------------------------------------------------------------- what each session needs


def copy_examples(folder: Path, request: pytest.FixtureRequest) -> None:
    """A fresh copy of the repository's examples, as in a fresh clone's root."""
    shutil.copytree(EXAMPLES, folder / "examples")


def local_postgres(folder: Path, request: pytest.FixtureRequest) -> None:
    """The examples, and the machine's PostgreSQL binaries that `verify --local` runs."""
    require_bindir()
    copy_examples(folder, request)


def mattermost_project(folder: Path, request: pytest.FixtureRequest) -> None:
    """mattermost/docker at 7d9d7bf, as its install guide leaves it (`cp env.example .env`)."""
    case = ROOT / "tests" / "deployments" / "mattermost"
    for name in ("docker-compose.yml", "docker-compose.without-nginx.yml", "env.example"):
        shutil.copy(case / name, folder / name)
    shutil.copy(case / "env.example", folder / ".env")


def mattermost_pool_written(folder: Path, request: pytest.FixtureRequest) -> None:
    """The imported topology with the pool the text says to write in place of its `VALUE`."""
    mattermost_project(folder, request)
    command = next(s for s in console_sessions(README) if s[0].command.startswith("planner import compose"))[0].command
    assert run_cli(shlex.split(command)[1:])[0] == 0
    text = " ".join(README.split("On a real deployment, Mattermost's official Docker setup", 1)[1].split())
    written = re.search(r"Written in place of the `VALUE` as `(pool: .*?)`", text)
    assert written, "the README no longer says what to write in place of the VALUE"
    topology = folder / "mattermost.yaml"
    topology.write_text(topology.read_text().replace("pool: VALUE", written[1]))


def shop_clone_rendered_twice(folder: Path, request: pytest.FixtureRequest) -> None:
    """A local clone whose origin/main has shop.yaml (a topology reading rendered manifests), and the chart
    rendered at both refs, the head raising the HPA's maximum from 10 to 30 (the stand-in for a git remote)."""
    request.getfixturevalue("isolated_git")
    _git(folder, "init", "-q", "-b", "main")
    (folder / "shop.yaml").write_text(TOPOLOGY)
    _commit(folder, "base")
    _git(folder, "update-ref", "refs/remotes/origin/main", "HEAD")  # as a clone with fetch-depth: 0 has it
    rendered_twice(folder)


# The three mistakes of the README's "bad input" session, made in its own shop example.
TYPOS = (("instance_class: db.m6g.large ", "instance_class: db.m6g.larg  "),
         ("    replicas: {min: 3, max: 12} ", "    replica: {min: 3, max: 12}  "),
         ("kind: pgbouncer", "kind: pgbouncr"))


def readme_shop() -> str:
    """Return the README's short example topology (the first yaml block of "The topology file")."""
    section = README.split("\n## The topology file\n", 1)[1]
    return section.split("```yaml\n", 1)[1].split("```", 1)[0]


def shop_with_typos(folder: Path, request: pytest.FixtureRequest) -> None:
    """The README's shop example with three typos: a class, a key, a pooler kind."""
    text = readme_shop()
    for right, wrong in TYPOS:
        assert text.count(right) == 1, right
        text = text.replace(right, wrong)
    (folder / "shop.yaml").write_text(text)


def machine_neutral(text: str) -> str:
    """Return verify's output without what depends on the machine: its server's version and where it is."""
    text = re.sub(r"PostgreSQL \d+(\.\d+)?", "PostgreSQL N", text)
    return re.sub(r"(binaries: PostgreSQL N, ).*?( \(/[^)]*\))", r"\1SOURCE (DIR)", text)


@dataclass(frozen=True)
class Case:
    """How to run one console session: its commands' exit codes, in order, and what it needs."""

    codes: tuple[int, ...]
    setup: Callable[[Path, pytest.FixtureRequest], None] = copy_examples
    neutral: Callable[[str], str] = lambda text: text
    marks: tuple[pytest.MarkDecorator, ...] = field(default=())


# Keyed by each session's first command.
CASES: dict[str, Case] = {
    "planner check examples/beanstalk-flask.yaml": Case((1,)),
    "planner explain examples/beanstalk-flask.yaml --scenario peak": Case((0,)),
    "planner plan examples/beanstalk-flask.yaml --engine-version 16 --top 3 --family m7g,m6g,t4g": Case((0,)),
    "planner recommend examples/beanstalk-flask.yaml": Case((0,)),
    "planner verify examples/beanstalk-flask.yaml --database main --local": Case(
        (0,), local_postgres, machine_neutral, (pytest.mark.server,)),
    "planner import compose docker-compose.yml docker-compose.without-nginx.yml -o mattermost.yaml": Case(
        (0, 2), mattermost_project),
    "planner check mattermost.yaml": Case((1,), mattermost_pool_written),
    "planner diff git:origin/main:shop.yaml shop.yaml --base-source kubernetes=rendered/base/ "
    "--head-source kubernetes=rendered/head/": Case((1,), shop_clone_rendered_twice, marks=(needs_git,)),
    "planner check shop.yaml": Case((2,), shop_with_typos),
    "planner check examples/beanstalk-flask.yaml --format github --format sarif=planner.sarif "
    "--format junit=planner.xml": Case((1,)),
    "planner check examples/lambda-proxy.yaml --observed examples/observed/lambda-proxy.json": Case((0,)),
}

SESSIONS = console_sessions(README)


@pytest.mark.parametrize(
    "session",
    [pytest.param(s, id=s[0].command[:60], marks=CASES[s[0].command].marks if s[0].command in CASES else ())
     for s in SESSIONS],
)
def test_the_session_prints_what_the_readme_shows(
    session: tuple[Step, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    first = session[0].command
    assert first in CASES, f"README session `$ {first}` has no case in tests/docs/test_readme.py: add one"
    case = CASES[first]
    for name in ("PLANNER_CATALOG", "PLANNER_OBSERVATIONS"):  # the reader's own catalogue is not the README's
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.chdir(tmp_path)
    case.setup(tmp_path, request)
    codes: list[int] = []
    for step in session:
        if step.command == "echo $?":
            assert codes and list(step.shown) == [str(codes[-1])], step
            continue
        words = shlex.split(step.command)
        assert words[0] == "planner", f"a README session runs planner only: {step.command}"
        code, out, err = run_cli(words[1:])
        codes.append(code)
        real = case.neutral(out + err).splitlines()
        shown = case.neutral("\n".join(step.shown)).splitlines()
        assert shows(shown, real), f"$ {step.command}\n--- the README shows:\n{chr(10).join(shown)}\n--- it prints:\n{out}{err}"
    assert tuple(codes) == case.codes, first


def test_every_case_is_a_session_of_the_readme() -> None:
    firsts = [s[0].command for s in SESSIONS]
    assert len(set(firsts)) == len(firsts), "two README sessions start alike: CASES cannot tell them apart"
    assert set(CASES) == set(firsts)


# --------------------------------------------------------------------------- the topology example says its verdict


def test_the_topology_example_says_it_is_over_and_why(tmp_path: Path) -> None:
    """The text under the README's shop example states its verdict and the numbers that make it."""
    (tmp_path / "shop.yaml").write_text(readme_shop())
    code, out, err = run_cli(["check", str(tmp_path / "shop.yaml"), "--format", "json"])
    assert code == 1, err
    doc = json.loads(out)
    (bouncer,) = doc["poolers"]
    peak = bouncer["scenarios"]["peak"]
    assert (bouncer["status"], peak["status"]) == ("over", "over")
    assert {i["status"] for i in doc["instances"]} == {"ok"}
    worst = max(s["demand"] for i in doc["instances"] for s in i["scenarios"].values())
    text = " ".join(README.split("\n## The topology file\n", 1)[1].split("```", 2)[2].split("\n\n", 2)[1].split())
    assert text.startswith("As written, this example is over budget")
    for number in (peak["client_demand"], bouncer["client_capacity"], worst):
        assert f"{number:,}" in text, number
    fixed = tmp_path / "fixed.yaml"
    setting = re.search(r"Set `(max_client_conn: \d+)` and it passes", text)
    assert setting, "the text names the setting that fixes it"
    fixed.write_text(readme_shop().replace("max_client_conn: 500", setting[1]))
    assert run_cli(["check", str(fixed)])[0] == 0


# --------------------------------------------------------------------------- sh and yaml blocks parse


def shell_commands(text: str) -> list[str]:
    """Return the `planner ...` command lines of the sh and yaml blocks of ``text`` (comments and
    redirections dropped)."""
    commands = []
    for block in re.findall(r"^```(?:sh|yaml)\n(.*?)^```", text, re.S | re.M):
        for line in block.splitlines():
            line = line.strip().removeprefix("- ").removeprefix("run: ").strip()
            if line.startswith("planner "):
                commands.append(re.split(r"\s+#\s", line, maxsplit=1)[0].strip())
    return commands


# Typer vendors its click: the commands are read by their public attributes (commands, params,
# make_parser), and its usage errors caught by the class BadParameter derives from.
USAGE_ERROR = typer.BadParameter.__mro__[1]
assert USAGE_ERROR.__name__ == "UsageError"


def command_for(words: list[str]) -> tuple[Any, list[str], str]:
    """Return the command ``planner WORDS`` runs, the arguments left for it, and its name."""
    register(["--help"])  # every group, as --help registers them
    command: Any = typer.main.get_command(app)
    name = "planner"
    while hasattr(command, "commands") and words and not words[0].startswith("-"):
        sub = command.commands.get(words[0])
        assert sub is not None, f"`{name} {words[0]}`: no such command"
        command, name, words = sub, f"{name} {words[0]}", words[1:]
    return command, words, name


def assert_parses(line: str) -> None:
    """Parse ``line`` as planner would: every flag known, every value converted, no argument
    left over, none missing."""
    words = shlex.split(line)[1:]
    for stop in (">", "|", "&&", ";"):
        words = words[: words.index(stop)] if stop in words else words
    command, args, name = command_for(words)
    context = command.context_class(command, info_name=name)
    try:
        values, left, order = command.make_parser(context).parse_args(args=list(args))  # unknown flags raise here
        for param in order:
            given = values.get(param.name)
            for value in given if isinstance(given, list) else [given]:
                if value is not None and param.type.name not in ("path", "filename"):  # files: not in this test
                    param.type.convert(value, param, context)
    except USAGE_ERROR as exc:
        raise AssertionError(f"{line}: {exc.format_message()}") from exc
    assert not left, f"{line}: {left} left over"
    missing = [param.name for param in command.params if param.required and values.get(param.name) in (None, [], ())]
    assert not missing, f"{line}: {missing} missing"


SHELL_COMMANDS = shell_commands(README)


def test_the_readme_has_shell_commands() -> None:
    assert len(SHELL_COMMANDS) >= 10 and any(c.startswith("planner import rds") for c in SHELL_COMMANDS)


@pytest.mark.parametrize("line", SHELL_COMMANDS)
def test_each_shell_command_parses(line: str) -> None:
    assert_parses(line)


@pytest.mark.parametrize("line", ["planner check x.yaml --no-such-flag", "planner plan x.yaml --top many",
                                  "planner check x.yaml --format yaml", "planner explain a.yaml b.yaml",
                                  "planner frobnicate x.yaml", "planner check",
                                  "planner check x.yaml --format"])
def test_a_wrong_command_does_not_parse(line: str) -> None:
    with pytest.raises(AssertionError):
        assert_parses(line)


def test_make_demo_and_make_test_leave_planner_in_the_venv_the_readme_activates() -> None:
    """The README's first commands put planner on the PATH the way the Makefile installs it."""
    first = README.split("```sh\n", 1)[1].split("```", 1)[0]
    assert re.search(r"^make demo\b", first, re.M) and re.search(r"^make test\b", first, re.M)
    assert re.search(r"^\. \.venv/bin/activate\b", first, re.M) and ".venv/bin/planner" in first
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^VENV \?= \.venv$", makefile, re.M) and re.search(r'--no-build-isolation -e "?\.', makefile)
    assert 'planner = "planner.cli:main"' in (ROOT / "pyproject.toml").read_text()
