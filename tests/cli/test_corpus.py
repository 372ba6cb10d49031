"""A corpus of bad inputs (tests/corpus/): every command that reads one fails the same clean way.

Each file must give exit code 2 within 2 s, one line on stderr that names the file (and the
line and key where the format gives them) and says how to fix it, no traceback, and no output
file. The expected key path (or message) of each file is listed below, so a wrong diagnosis fails.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ..conftest import EXAMPLES, run_cli

CORPUS = Path(__file__).parents[1] / "corpus"

# file -> (line or None, a fragment the one line must contain: the key path or the problem)
TOPOLOGIES: dict[str, tuple[int | None, str]] = {
    "y01-syntax.yaml": (3, "invalid YAML"),
    "y02-tab-indent.yaml": (3, "tabs"),
    "y03-unknown-top-key.yaml": (7, "servces: unknown key 'servces' (did you mean 'services'?)"),
    "y04-unknown-service-key.yaml": (7, "services.web.replica: unknown key"),
    "y05-duplicate-key.yaml": (7, "services.web: duplicate key 'web' (first at line 6)"),
    "y06-replicas-string.yaml": (6, "services.web.replicas"),
    "y07-replicas-bool.yaml": (6, "services.web.replicas"),
    "y08-negative-processes.yaml": (6, "services.web.processes"),
    "y09-min-gt-max.yaml": (6, "services.web.replicas: replicas min 9 is greater than max 3"),
    "y10-reader-no-readers.yaml": (6, "services.web.endpoint"),
    "y11-two-poolers.yaml": (9, "poolers.b.clients[0]"),
    "y12-unknown-database-ref.yaml": (6, "services.web.database: unknown database 'mian' (did you mean 'main'?)"),
    "y13-unknown-environment-ref.yaml": (8, "services.web.environments[0]"),
    "y14-unknown-pooler-client.yaml": (8, "poolers.b.clients[0]: unknown service 'wbe'"),
    "y15-unknown-driver.yaml": (6, "services.web.pool"),
    "y16-mixed-shapes.yaml": (6, "services.web: mixes service shapes"),
    "y17-headroom-100.yaml": (3, "databases.main.headroom"),
    "y18-version-2.yaml": (1, "version: unsupported version 2"),
    "y19-no-services.yaml": (None, "services: missing required key"),
    "y20-top-level-list.yaml": (1, "top level must be a mapping"),
    "y21-reserved-before-16.yaml": (3, "databases.main.parameters.reserved_connections"),
    "y22-unknown-class.yaml": (3, "databases.main.instance_class: unknown instance class 'db.m6g.larg'"),
    "y23-class-wrong-engine.yaml": (3, "databases.main.instance_class: db.t3.micro is not available for aurora-postgresql"),
    "y24-absurd-replicas.yaml": (6, "services.web.replicas"),
    "y25-float-replicas.yaml": (6, "services.web.replicas"),
    "y26-billion-laughs.yaml": (None, "alias"),
    "y27-deep-nesting.yaml": (1, "nested more than 64 levels"),
    "y28-python-tag.yaml": (6, "unsupported YAML tag"),
    "y29-latin1.yaml": (5, "not valid UTF-8"),
    "y30-binary.yaml": (None, "binary file"),
    "y31-empty.yaml": (None, "file is empty"),
    "y32-directory.yaml": (None, "is a directory"),
    "f01-formula-injection.yaml": (3, "databases.main.parameters.max_connections: invalid max_connections formula"),
    "f02-formula-unbalanced.yaml": (3, "databases.main.parameters.max_connections"),
    "f03-formula-unknown-variable.yaml": (3, "did you mean 'DBInstanceClassMemory'"),
    "f04-formula-division-by-zero.yaml": (3, "division by zero"),
    "f05-formula-plus.yaml": (3, "'+' is not supported"),
    "f06-formula-zero-result.yaml": (3, "evaluates to 0"),
    "t01-syntax.toml": (2, "invalid TOML"),
    "t02-wrong-type.toml": (5, "services.web.replicas"),
    "t03-duplicate.toml": (4, "invalid TOML"),
    "t04-unknown-key.toml": (3, "databases.main.instance_clas: unknown key"),
    "j01-syntax.json": (1, "invalid JSON"),
    "j02-duplicate.json": (1, "services.web.replicas: duplicate key"),
    "j03-wrong-type.json": (1, "databases.main.readers"),
    "j04-null-services.json": (1, "services"),
    "j05-deep.json": (None, "nested too deeply"),
    "x01-unknown-suffix.txt": (None, "cannot tell the file format"),
}
CATALOGUES: dict[str, tuple[int | None, str]] = {
    "c01-missing-column.csv": (1, "missing column"),
    "c02-non-numeric.csv": (2, "vcpu: 'two' is not a whole number"),
    "c03-duplicate-class.csv": (3, "duplicate class db.m5.large"),
    "c04-negative-memory.csv": (2, "memory_gib: negative memory"),
    "c05-formula-cell.csv": (2, "is not an RDS instance class name"),
}
OBSERVATIONS: dict[str, tuple[int | None, str]] = {
    "o01-observation-unknown-class.csv": (2, "unknown instance class 'db.m5.larg'"),
    "o02-observation-bad-number.csv": (2, "'lots' is not a whole number"),
    "o03-observation-over-cap.csv": (2, "above the default formula's cap"),
}

# Every command that reads a topology, with an output file where it writes one.
COMMANDS: dict[str, list[str]] = {
    "check": ["check", "{t}", "-o", "{out}"],
    "check-json": ["check", "{t}", "--format", "json", "-o", "{out}"],
    "plan": ["plan", "{t}", "-o", "{out}"],
    "explain": ["explain", "{t}", "-o", "{out}"],
    "report": ["report", "{t}", "-o", "{out}"],
    "recommend": ["recommend", "{t}", "-o", "{out}", "--apply-to-topology", "{out2}"],
    "emit": ["emit", "pgbouncer", "{t}", "-o", "{outdir}"],
    "diff-head": ["diff", str(EXAMPLES / "pgbouncer-fleet.yaml"), "{t}", "-o", "{out}"],
    "diff-base": ["diff", "{t}", str(EXAMPLES / "pgbouncer-fleet.yaml"), "-o", "{out}"],
    # the live commands must report the topology before touching any server (no_servers fails the test if they do)
    "inspect": ["inspect", "--dsn", "host=127.0.0.1 port=1 connect_timeout=1", "--topology", "{t}", "--database", "main", "-o", "{out}"],
    "verify": ["verify", "{t}", "--database", "main", "--local", "-o", "{out}"],
}
LIVE = ("inspect", "verify")


@pytest.fixture
def no_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any attempt to connect to PostgreSQL or start a throwaway server fail the test."""
    import psycopg

    import planner.adapters.localpg as localpg

    def touched(*args: object, **kwargs: object) -> None:
        raise AssertionError("a server was touched before the topology was checked")

    monkeypatch.setattr(psycopg, "connect", touched)
    monkeypatch.setattr(localpg, "local_postgres", touched)
    monkeypatch.setattr(localpg, "require_bindir", touched)


def run_bad(args: list[str], tmp_path: Path) -> tuple[int, str, str, float]:
    outputs = {"{out}": tmp_path / "out.txt", "{out2}": tmp_path / "out2.yaml", "{outdir}": tmp_path / "outdir"}
    start = time.perf_counter()
    code, out, err = run_cli([outputs[a].as_posix() if a in outputs else a for a in args])
    elapsed = time.perf_counter() - start
    assert not any(p.exists() for p in outputs.values()), f"an output was written: {os.listdir(tmp_path)}"
    return code, out, err, elapsed


def assert_one_clean_line(code: int, err: str, elapsed: float, name: str, line: int | None, fragment: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    (message,) = lines
    assert message.startswith(f"planner: {CORPUS / name}"), message
    if line is not None:
        assert message.startswith(f"planner: {CORPUS / name}:{line}:"), message
    assert fragment in message, message
    assert elapsed < 2.0, f"{elapsed:.2f} s"


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("name", sorted(TOPOLOGIES))
def test_bad_topology(name: str, command: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if command in LIVE:
        request.getfixturevalue("no_servers")
    args = [str(CORPUS / name) if a == "{t}" else a for a in COMMANDS[command]]
    code, out, err, elapsed = run_bad(args, tmp_path)
    line, fragment = TOPOLOGIES[name]
    assert_one_clean_line(code, err, elapsed, name, line, fragment)
    assert out == ""


@pytest.mark.parametrize("name", sorted(CATALOGUES))
def test_bad_catalogue(name: str, tmp_path: Path) -> None:
    line, fragment = CATALOGUES[name]
    for args in (["catalog", "list", "--catalog", str(CORPUS / name)],
                 ["check", str(EXAMPLES / "pgbouncer-fleet.yaml"), "--catalog", str(CORPUS / name), "-o", "{out}"]):
        code, _, err, elapsed = run_bad(args, tmp_path)
        first = err.strip().splitlines()[0] if err.strip() else ""
        # a catalogue with several missing columns names each: one line per problem
        assert_one_clean_line(code, first, elapsed, name, line, fragment)


@pytest.mark.parametrize("name", sorted(OBSERVATIONS))
def test_bad_observations(name: str, tmp_path: Path) -> None:
    line, fragment = OBSERVATIONS[name]
    code, _, err, elapsed = run_bad(["check", str(EXAMPLES / "pgbouncer-fleet.yaml"), "--observations", str(CORPUS / name), "-o", "{out}"], tmp_path)
    assert_one_clean_line(code, err, elapsed, name, line, fragment)


def test_fifty_megabyte_file_is_refused_fast(tmp_path: Path) -> None:
    big = tmp_path / "huge.yaml"
    with open(big, "wb") as handle:  # sparse: 50 MB without writing them
        handle.truncate(50 * 2**20)
    start = time.perf_counter()
    code, _, err = run_cli(["check", str(big)])
    assert code == 2 and "too large" in err and time.perf_counter() - start < 2.0
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("command", LIVE)
def test_fifty_megabyte_file_is_refused_fast_by_the_live_commands(command: str, tmp_path: Path, no_servers: None) -> None:
    big = tmp_path / "huge.yaml"
    with open(big, "wb") as handle:
        handle.truncate(50 * 2**20)
    args = [str(big) if a == "{t}" else a for a in COMMANDS[command]]
    code, out, err, elapsed = run_bad(args, tmp_path)
    assert code == 2 and out == "" and "Traceback" not in err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"planner: {big}: file is too large (50.0 MiB; the limit is 16 MiB)"), line
    assert elapsed < 2.0, f"{elapsed:.2f} s"


def test_corpus_is_large_enough() -> None:
    assert len(TOPOLOGIES) + len(CATALOGUES) + len(OBSERVATIONS) >= 40
    on_disk = {p.name for p in CORPUS.iterdir()}
    assert on_disk == set(TOPOLOGIES) | set(CATALOGUES) | set(OBSERVATIONS)
