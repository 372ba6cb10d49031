"""``check --format`` repeatable: several outputs from one run, each with its own file (issue 21 item 9).

Three formats from one run are the three runs' outputs byte for byte (JUnit's measured ``time`` aside);
the budget is computed once per topology; files are written only once everything succeeded; and every
way of asking for two things on one destination is exit 2 with one line that names the fix.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import planner.budget

from ..conftest import EXAMPLES, refusal, run_cli

NAMES = ("beanstalk-flask.yaml", "pgbouncer-fleet.yaml", "shared-instance.yaml")


@pytest.fixture
def examples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Three examples (one over budget) in the working directory; their names."""
    for name in NAMES:
        shutil.copy(EXAMPLES / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    return list(NAMES)


def untimed(junit: str) -> str:
    """Return a JUnit document without its ``time`` attributes: the one thing that differs between runs."""
    return re.sub(r' time="[0-9.]+"', "", junit)


@pytest.mark.parametrize("extra", [[], ["--fail-on", "warn", "--scenario", "peak,rollout"]], ids=["default", "options"])
def test_three_formats_from_one_run_equal_three_runs(examples: list[str], extra: list[str]) -> None:
    code, out, err = run_cli(["check", *examples, *extra, "--format", "github", "--format", "sarif=out/planner.sarif",
                              "--format", "junit=planner.xml"])
    alone = {fmt: run_cli(["check", *examples, *extra, "--format", fmt]) for fmt in ("github", "sarif", "junit")}
    assert {c for c, _, _ in alone.values()} == {code} == {1}
    assert (out, err) == alone["github"][1:]
    assert Path("out/planner.sarif").read_text(encoding="utf-8") == alone["sarif"][1]
    junit = Path("planner.xml").read_text(encoding="utf-8")
    assert untimed(junit) == untimed(alone["junit"][1]) and junit != untimed(junit)


def test_text_to_a_file_with_o_and_json_beside_it(examples: list[str]) -> None:
    code, out, err = run_cli(["check", examples[0], "--format", "text", "--format", "json=report.json", "-o", "report.txt"])
    assert (code, out, err) == (1, "", "")
    assert Path("report.txt").read_text(encoding="utf-8") == run_cli(["check", examples[0]])[1]
    assert Path("report.json").read_text(encoding="utf-8") == run_cli(["check", examples[0], "--format", "json"])[1]


def test_every_format_to_a_file_prints_nothing(examples: list[str]) -> None:
    code, out, err = run_cli(["check", *examples, "-f", "markdown=comment.md", "-f", "csv=demand.csv"])
    assert (code, out, err) == (1, "", "")
    assert Path("comment.md").read_text(encoding="utf-8") == run_cli(["check", *examples, "-f", "markdown"])[1]
    assert Path("demand.csv").read_text(encoding="utf-8") == run_cli(["check", *examples, "-f", "csv"])[1]


def test_the_budget_is_computed_once_per_topology(examples: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    computed: list[str] = []
    real = planner.budget.compute_budget

    def counting(topology, *args, **kwargs):  # type: ignore[no-untyped-def]
        computed.append(topology.name)
        return real(topology, *args, **kwargs)

    monkeypatch.setattr(planner.budget, "compute_budget", counting)
    code, _, _ = run_cli(["check", *examples, "-f", "github", "-f", "json=a.json", "-f", "sarif=a.sarif", "-f", "junit=a.xml",
                          "-f", "markdown=a.md", "-f", "csv=a.csv", "-f", "text=a.txt"])
    assert code == 1
    assert computed == ["beanstalk-flask", "pgbouncer-fleet", "shared-instance"]


def test_the_baseline_and_the_outputs_are_written_together(examples: list[str]) -> None:
    code, out, err = run_cli(["check", *examples, "--write-baseline", "base.json", "-f", "sarif=a.sarif", "-f", "junit=a.xml"])
    assert (code, out) == (0, "")
    assert err == "planner: baseline written: base.json (5 breaches recorded)\n"
    assert Path("base.json").is_file() and Path("a.sarif").is_file() and Path("a.xml").is_file()


def test_no_file_is_written_when_one_cannot_be(examples: list[str]) -> None:
    # the JUnit file's folder is a file: nothing is written, not even the SARIF log or the baseline
    lines = refusal(["check", *examples, "--write-baseline", "base.json", "-f", "sarif=a.sarif",
                     "-f", f"junit={examples[0]}/a.xml"])
    assert lines == [f"{examples[0]}/a.xml: cannot write the output: a part of the path is a file, not a directory; "
                     "choose another path with -o"]
    assert sorted(p.name for p in Path(".").iterdir()) == sorted(NAMES)


@pytest.mark.parametrize("args, message", [
    (["-f", "sarif", "-f", "sarif=a.sarif"],
     "--format sarif is given twice: give each format once (each is written once per run)"),
    (["-f", "github", "-f", "sarif"],
     "--format github and --format sarif both print to standard output: give one a file, e.g. --format sarif=planner.sarif"),
    (["-f", "sarif", "-f", "github"],
     "--format github and --format sarif both print to standard output: give one a file, e.g. --format sarif=planner.sarif"),
    (["-f", "text", "-f", "json"],
     "--format text and --format json both print to standard output: give one a file, e.g. --format json=planner.json"),
    (["-f", "sarif=out.txt", "-f", "junit=./out.txt"],
     "--format sarif=out.txt and --format junit=out.txt write the same file: give each output its own file"),
    (["-f", "text", "-f", "json=out.txt", "-o", "out.txt"],
     "-o out.txt and --format json=out.txt write the same file: give each output its own file"),
    (["-f", "json=out.json", "--write-baseline", "out.json"],
     "--write-baseline out.json and --format json=out.json write the same file: give each output its own file"),
    (["-f", "sarif=a.sarif", "-o", "b.txt"],
     "-o b.txt: every --format names its own file, so -o has nothing to write; drop -o, or name the file in the format "
     "(--format FORMAT=b.txt)"),
    (["-f", "xml"],
     "Invalid value for '--format' / '-f': unknown format 'xml' (choose text, json, markdown, github, csv, sarif, junit; "
     "FORMAT=FILE writes it to a file) (see 'planner check --help')"),
    (["-f", "junit="],
     "Invalid value for '--format' / '-f': 'junit=': give the file after '=' (e.g. junit=planner.xml), or drop '=' for "
     "standard output (see 'planner check --help')"),
], ids=["twice", "two-printed", "two-printed-github-last", "text-and-json", "same-file", "o-same-file",
        "baseline-same-file", "o-unused", "unknown", "no-file"])
def test_two_outputs_on_one_destination_is_exit_2(examples: list[str], args: list[str], message: str) -> None:
    assert refusal(["check", examples[0], *args]) == [message]
    assert sorted(p.name for p in Path(".").iterdir()) == sorted(NAMES)  # nothing written


def test_help_shows_the_repeatable_format() -> None:
    code, out, _ = run_cli(["check", "--help"])
    assert code == 0
    text = " ".join(out.split())
    assert "-f, --format FORMAT[=FILE]" in text
    assert "Repeatable, one computation for all: FORMAT=FILE writes that format to FILE" in text
    assert "planner check infra/*.yaml --format github --format sarif=planner.sarif --format junit=planner.xml" in out
