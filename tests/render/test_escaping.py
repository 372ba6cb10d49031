"""Every output format escapes what it must: a hostile topology name is shown as text everywhere."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from ..conftest import run_cli

HOSTILE = "=cmd|' /C calc'!A0 <img src=x onerror=alert(1)> | **bold** [link](http://x) %0A\n::error::"


def write_hostile(folder: Path, name: str = HOSTILE) -> Path:
    """Write an over-budget JSON topology named ``name`` (markup, a formula, a workflow command) into ``folder``."""
    import json

    path = folder / "hostile.json"
    path.write_text(json.dumps({
        "version": 1, "name": name,
        "databases": {"main": {"engine": "self-managed", "parameters": {"max_connections": 20}}},
        "services": {"web": {"replicas": 10, "pool": 5}},
    }))
    return path


@pytest.fixture
def topology(tmp_path: Path) -> Path:
    return write_hostile(tmp_path)


def test_markdown_escapes_the_name(topology: Path) -> None:
    for args in (["check", "--format", "markdown"], ["plan", "--format", "markdown"], ["recommend", "--format", "markdown"]):
        _, out, _ = run_cli([args[0], str(topology), *args[1:]])
        assert "<img" not in out and "&lt;img src=x onerror=alert(1)&gt;" in out
        assert "[link](http://x)" not in out and "**bold**" not in out.replace("\\*\\*bold\\*\\*", "")


def test_github_annotations_cannot_inject_commands(topology: Path) -> None:
    _, out, _ = run_cli(["check", str(topology), "--format", "github"])
    for line in out.splitlines():
        # a newline in the name would start a new workflow command: it must arrive encoded
        assert line.startswith("::") or line.startswith("planner: ")
    assert "%250A%0A::error::" in out  # the literal %0A escaped, the newline encoded


def test_csv_quotes_formula_cells(topology: Path) -> None:
    _, out, _ = run_cli(["check", str(topology), "--format", "csv"])
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[1][0].startswith("'=cmd")
    assert all(not cell.startswith(("=", "+", "@")) for row in rows for cell in row)


def test_html_report_shows_the_name_as_text(topology: Path, tmp_path: Path) -> None:
    target = tmp_path / "r.html"
    code, _, err = run_cli(["report", str(topology), "-o", str(target)])
    assert code == 0, err
    html = target.read_text()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_diff_markdown_escapes(topology: Path) -> None:
    _, out, _ = run_cli(["diff", str(topology), str(topology), "--format", "markdown"])
    assert "<img" not in out
