"""Hostile source files (hostile/, README.md there): each is refused cleanly by every command that reads it.

A topology in a pull request decides which files planner reads, so a source file may be built to
hurt: an alias bomb, a 200 MB plan, a FIFO that never ends, a link that loops. Each case here runs
``check``, ``explain`` and ``import KIND`` in a child process whose address space is capped at
1 GiB (a blow-up fails instead of swapping) and must give exit code 2, no traceback, nothing on
stdout, no output file, and exactly the problem lines listed, each naming the file. The 30 s
timeout only guards against a hang; speed is measured in benchmarks/, not here.

Committed files are in hostile/; what git cannot hold or should not (a 200 MB file, a FIFO, a
symlink loop, a file name that is not UTF-8, 100,000 nested brackets) is made in a temporary folder.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from planner.topology.sources.base import SourceFileError
from planner.topology.sources.files import DiskFiles

HERE = Path(__file__).parent
CORPUS = HERE / "hostile"
ROOT = HERE.parents[2]
MEMORY_LIMIT = 1 << 30  # bytes of address space for the child: planner needs ~100 MB
HANG_GUARD_SECONDS = 30

GOOD_MANIFEST = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  template:
    spec:
      containers:
        - {name: web, image: shop/web:1, env: [{name: DATABASE_URL, value: "postgres://main/shop"}]}
"""

TOPOLOGIES = {
    "kubernetes": "version: 1\ndatabases:\n  main: {{instance_class: db.m6g.large}}\nsources:\n  kubernetes: [{path}]\n"
                  "services:\n  web: {{from: Deployment/web, pool: 5}}\n",
    "compose": "version: 1\ndatabases:\n  main: {{instance_class: db.m6g.large}}\nsources:\n  compose: {path}\n"
               "services:\n  web: {{from: compose/web, pool: 5}}\n",
    "terraform": "version: 1\ndatabases:\n  main: {{from: aws_db_instance.main}}\nsources:\n  terraform: {path}\n"
                 "services:\n  web: {{connections: 5}}\n",
}


@dataclass(frozen=True)
class Case:
    """One hostile source: its kind, the path the topology names, how to make it, and the lines planner must print.

    ``lines`` are (file named, fragment of the problem); the stderr line must start with the file.
    """

    kind: str
    path: str
    make: Callable[[Path], Any]
    lines: tuple[tuple[str, str], ...]


def copy(name: str) -> Callable[[Path], Any]:
    """Copy the corpus file or folder ``name`` into the case's folder."""
    def make(folder: Path) -> None:
        source = CORPUS / name
        if source.is_dir():
            shutil.copytree(source, folder / name)
        else:
            shutil.copy(source, folder / name)
    return make


def write(name: str, text: str | bytes) -> Callable[[Path], Any]:
    """Write ``text`` to ``name`` in the case's folder (generated: too large or odd for git)."""
    def make(folder: Path) -> None:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text if isinstance(text, bytes) else text.encode())
    return make


def manifests_with(extra: Callable[[Path], Any]) -> Callable[[Path], Any]:
    """A folder ``k/`` with a good manifest, and whatever ``extra`` adds to it."""
    def make(folder: Path) -> None:
        (folder / "k" / "sub").mkdir(parents=True)
        (folder / "k" / "web.yaml").write_text(GOOD_MANIFEST)
        extra(folder / "k")
    return make


def symlink_loops(k: Path) -> None:
    os.symlink("..", k / "sub" / "up.yaml")  # a folder link to its parent: walking it would never end
    os.symlink(".", k / "self")
    os.symlink("loop.yaml", k / "loop.yaml")  # a file link to itself


def fifo(name: str) -> Callable[[Path], Any]:
    def make(folder: Path) -> None:
        os.mkfifo(folder / name)  # reading it would wait for a writer forever
    return make


def compose_with_fifo_env_file(folder: Path) -> None:
    (folder / "app").mkdir()
    (folder / "app" / "compose.yaml").write_text("services:\n  web: {image: shop/web:1, env_file: web.env}\n")
    os.mkfifo(folder / "app" / "web.env")


def non_utf8_name(k: Path) -> None:
    (k / os.fsdecode(b"caf\xe9.yaml")).write_text(GOOD_MANIFEST.replace("name: web", "name: cafe"))


def big_plan(folder: Path) -> None:
    """Write a real `terraform show -json` plan of 200 MiB (a million resources) into plan.json.

    The test writes it once per session (the ``big_plan_file`` fixture) and links it into each case's folder.
    """
    resource_json = ('{"address": "aws_ssm_parameter.p%d", "mode": "managed", "type": "aws_ssm_parameter", '
                     '"name": "p%d", "values": {"name": "/shop/p%d", "value": "' + "x" * 100 + '"}}')
    with open(folder / "plan.json", "w") as out:
        out.write('{"format_version": "1.2", "terraform_version": "1.9.0", "planned_values": {"root_module": {"resources": [')
        written, i = 0, 0
        while written < 200 * 2**20:
            chunk = ", ".join(resource_json % (n, n, n) for n in range(i, i + 10_000))
            out.write((", " if i else "") + chunk)
            written += len(chunk)
            i += 10_000
        out.write("]}}}\n")


DEEP = 100_000  # PyYAML's C composer recursed once per level and crashed the interpreter on this

CASES: dict[str, Case] = {
    # committed files (hostile/)
    "k01-alias-bomb": Case("kubernetes", "k01-alias-bomb.yaml", copy("k01-alias-bomb.yaml"),
                           (("k01-alias-bomb.yaml:", "nodes repeated through aliases"),)),
    "k02-deep-nesting": Case("kubernetes", "k02-deep-nesting.yaml", copy("k02-deep-nesting.yaml"),
                             (("k02-deep-nesting.yaml:6:", "nested more than 64 levels deep"),)),
    "k03-png": Case("kubernetes", "k03-png.yaml", copy("k03-png.yaml"), (("k03-png.yaml:1:", "a PNG image, not text"),)),
    "k04-random-bytes": Case("kubernetes", "k04-random-bytes.yaml", copy("k04-random-bytes.yaml"),
                             (("k04-random-bytes.yaml:", "binary file (contains NUL bytes), not text"),)),
    "k05-latin1": Case("kubernetes", "k05-latin1.yaml", copy("k05-latin1.yaml"),
                       (("k05-latin1.yaml:5:", "not valid UTF-8: byte 0xE9"),)),
    "k06-utf16": Case("kubernetes", "k06-utf16.yaml", copy("k06-utf16.yaml"), (("k06-utf16.yaml:", "file is UTF-16"),)),
    "c01-alias-bomb": Case("compose", "c01-alias-bomb", copy("c01-alias-bomb"),
                           (("c01-alias-bomb/compose.yaml:", "nodes (aliases included)"),)),
    "c02-deep-nesting": Case("compose", "c02-deep-nesting", copy("c02-deep-nesting"),
                             (("c02-deep-nesting/compose.yaml:", "nested more than 64 levels deep"),)),
    "c03-gzip": Case("compose", "c03-gzip", copy("c03-gzip"),
                     (("c03-gzip/compose.yaml:1:", "a gzip-compressed file, not text (decompress it"),)),
    "c04-binary-env-file": Case("compose", "c04-binary-env-file", copy("c04-binary-env-file"),
                                (("c04-binary-env-file/web.env:2:", "binary file (contains NUL bytes), not text"),)),
    "t01-gzip": Case("terraform", "t01-gzip.plan.json", copy("t01-gzip.plan.json"),
                     (("t01-gzip.plan.json:1:", "a gzip-compressed file, not text"),)),
    "t02-png": Case("terraform", "t02-png.plan.json", copy("t02-png.plan.json"), (("t02-png.plan.json:1:", "a PNG image"),)),
    "t03-latin1": Case("terraform", "t03-latin1.plan.json", copy("t03-latin1.plan.json"),
                       (("t03-latin1.plan.json:1:", "not valid UTF-8: byte 0xE9"),)),
    # generated here
    "g01-plan-200-mib": Case("terraform", "plan.json", big_plan,
                             (("plan.json:", "MiB; the limit is 16 MiB) (point sources at"),)),
    "g02-deep-yaml": Case("kubernetes", "deep.yaml", write("deep.yaml", "a: " + "[" * DEEP + "]" * DEEP + "\n"),
                          (("deep.yaml:1:", "nesting depth"),)),
    "g03-deep-compose": Case("compose", "compose.yaml", write("compose.yaml", "services: " + "[" * DEEP + "]" * DEEP + "\n"),
                             (("compose.yaml:1:", "nesting depth"),)),
    "g04-deep-plan": Case("terraform", "plan.json", write("plan.json", "[" * DEEP + "]" * DEEP),
                          (("plan.json:", "nested too deeply"),)),
    "g05-symlink-loops": Case("kubernetes", "k/", manifests_with(symlink_loops),
                              (("k/loop.yaml:", "a symbolic link that loops"),)),
    "g06-dangling-link": Case("kubernetes", "k/", manifests_with(lambda k: os.symlink("gone.yaml", k / "db.yaml")),
                              (("k/db.yaml:", "a symbolic link to nothing (gone.yaml does not exist)"),)),
    "g07-fifo-manifest": Case("kubernetes", "k/", manifests_with(lambda k: os.mkfifo(k / "db.yaml")),
                              (("k/db.yaml:", "not a regular file"),)),
    "g08-fifo-plan": Case("terraform", "plan.json", fifo("plan.json"), (("plan.json:", "not a regular file"),)),
    "g09-fifo-env-file": Case("compose", "app", compose_with_fifo_env_file, (("app/web.env:", "not a regular file"),)),
    "g10-non-utf8-name": Case("kubernetes", "k/", manifests_with(non_utf8_name),
                              (("k/caf\\xe9.yaml:", "file name is not valid UTF-8 or holds a control character"),)),
}

# Each command that reads sources, with an output it must not write.
COMMANDS: dict[str, Callable[[Case], list[str]]] = {
    "check": lambda case: ["check", "topology.yaml", "-o", "out.txt"],
    "explain": lambda case: ["explain", "topology.yaml", "-o", "out.txt"],
    "import": lambda case: ["import", case.kind, case.path, "-o", "out.yaml"],
}


@pytest.fixture(scope="session")
def big_plan_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 200 MiB plan, written once for the session."""
    folder = tmp_path_factory.mktemp("big-plan")
    big_plan(folder)
    assert (folder / "plan.json").stat().st_size > 200 * 2**20
    return folder / "plan.json"


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_capped(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """Run ``planner ARGS`` in a child process capped at :data:`MEMORY_LIMIT` bytes; fail the test on a hang."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        return subprocess.run([sys.executable, "-m", "planner", *args], cwd=cwd, env=env, capture_output=True,
                              timeout=HANG_GUARD_SECONDS, preexec_fn=_cap_memory, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"planner {' '.join(args)} still ran after {HANG_GUARD_SECONDS} s: it hangs")


def test_every_committed_file_is_a_case_and_in_the_readme() -> None:
    committed = {p.name for p in CORPUS.iterdir() if p.name != "README.md"}
    named = {CASES[c].path for c in CASES if not c.startswith("g")}
    assert committed == named
    readme = (CORPUS / "README.md").read_text()
    assert all(f"`{case}`" in readme for case in CASES), [c for c in CASES if f"`{c}`" not in readme]


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("name", sorted(CASES))
def test_a_hostile_source_is_refused_cleanly(name: str, command: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    case = CASES[name]
    if case.make is big_plan:  # written once: 200 MiB three times would only wear the disk
        os.link(request.getfixturevalue("big_plan_file"), tmp_path / "plan.json")
    else:
        case.make(tmp_path)
    (tmp_path / "topology.yaml").write_text(TOPOLOGIES[case.kind].format(path=case.path))
    result = run_capped(COMMANDS[command](case), tmp_path)
    err = result.stderr.decode("utf-8", "backslashreplace")
    assert "Traceback" not in err and "MemoryError" not in err, err
    assert (result.returncode, result.stdout) == (2, b""), err
    lines = err.splitlines()
    assert len(lines) == len(case.lines), err
    for line, (file, fragment) in zip(lines, case.lines):
        assert line.startswith(f"planner: {file}") and fragment in line, line
    assert not (tmp_path / "out.txt").exists() and not (tmp_path / "out.yaml").exists()


# --------------------------------------------------------------------------- in-process: what is never read


def test_a_source_over_the_limit_is_refused_before_it_is_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = tmp_path / "plan.json"
    with open(plan, "wb") as f:
        f.truncate(200 * 2**20)  # sparse: 200 MiB without writing them

    def no_open(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("opened a file it should have refused")

    monkeypatch.setattr("builtins.open", no_open)
    with pytest.raises(SourceFileError) as info:
        DiskFiles(tmp_path, "topology.yaml").read(str(plan))
    (problem,) = info.value.problems
    assert (problem.file, problem.message) == (str(plan), "file is too large (200.0 MiB; the limit is 16 MiB)")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_is_refused_not_read_forever(device: str) -> None:
    if not Path(device).exists():
        pytest.skip(f"no {device} here")
    with pytest.raises(SourceFileError) as info:
        DiskFiles(Path("."), "topology.yaml", confined=False).read(device)  # outside any root: the reader must refuse it too
    assert [p.message for p in info.value.problems] == ["not a regular file (a FIFO, device or socket)"]


def test_a_source_folder_does_not_follow_a_link_to_its_parent(tmp_path: Path) -> None:
    (tmp_path / "k" / "sub").mkdir(parents=True)
    (tmp_path / "k" / "web.yaml").write_text(GOOD_MANIFEST)
    os.symlink("..", tmp_path / "k" / "sub" / "up")
    assert DiskFiles(tmp_path, "topology.yaml").files("k", (".yaml",)) == [str(tmp_path / "k" / "web.yaml")]
