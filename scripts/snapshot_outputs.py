#!/usr/bin/env python3
"""Write what every command prints for every example into a directory, to compare two builds byte for byte.

Usage::

    python scripts/snapshot_outputs.py DIR          # run from the repository root

One file per command: its exit code, stdout and stderr, plus the files it writes (reports, emitted
artefacts). Run it before and after a change that must not change behaviour (a restructuring), then
``diff -r BEFORE AFTER``: no line may differ. Commands run in-process through ``planner.cli.main``,
from the repository root, so paths in the outputs are the same in both runs.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from planner.cli import main  # noqa: E402 - after the repository root is on the path

EXAMPLES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "examples").glob("*.yaml"))
CORPUS = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "tests" / "corpus").iterdir() if p.suffix in (".yaml", ".json", ".toml", ".txt"))
HELP = ["check", "plan", "explain", "report", "diff", "recommend", "emit", "inspect", "verify", "observe",
        "catalog", "catalog list", "catalog show", "catalog refresh", "import", "import rds"]  # fmt: skip


def commands(out: str) -> list[list[str]]:
    """Return every command line to run; ``out`` is where commands that write files write them."""
    runs: list[list[str]] = [["--help"]] + [[*c.split(), "--help"] for c in HELP]
    for example in EXAMPLES:
        stem = Path(example).stem
        runs += [["check", example]] + [["check", example, "--format", f] for f in ("json", "markdown", "github", "csv")]
        runs += [["check", example, "--fail-on", "warn", "--scenario", "peak"]]
        runs += [["plan", example], ["plan", example, "--format", "json"], ["plan", example, "--format", "markdown"],
                 ["plan", example, "--engine-version", "16", "--deployment", "multi-az", "--top", "8"],
                 ["plan", example, "--engine", "aurora-postgresql"]]  # fmt: skip
        runs += [["explain", example]]
        runs += [["recommend", example]] + [["recommend", example, "--format", f] for f in ("json", "markdown")]
        runs += [["report", example, "-o", f"{out}/{stem}.html"]]
        runs += [["emit", kind, example, "-o", f"{out}/emit-{kind}-{stem}"] for kind in ("pgbouncer", "proxy", "parameters", "pools")]
    for base in EXAMPLES:
        for head in EXAMPLES:
            runs += [["diff", base, head]]
    runs += [["diff", EXAMPLES[0], EXAMPLES[1], "--format", f] for f in ("markdown", "json")]
    runs += [["catalog", "list"], ["catalog", "list", "--engine", "aurora-postgresql", "--format", "json"],
             ["catalog", "list", "--family", "m7g,t4g", "--format", "markdown"]]  # fmt: skip
    for name, engine in (("db.t3.micro", "postgres"), ("db.t4g.medium", "postgres"), ("db.r6g.large", "aurora-postgresql"),
                         ("db.c6gd.large", "postgres"), ("db.m5.large", "postgres")):  # fmt: skip
        runs += [["catalog", "show", name, "--engine", engine], ["catalog", "show", name, "--engine", engine, "--format", "json"]]
    runs += [["catalog", "show", "db.t3.micro", "--engine-version", "15.8"]]
    runs += [[command, path] for path in CORPUS for command in ("check", "plan", "explain")]
    return runs


def run(args: list[str]) -> tuple[int, str, str]:
    """Run ``planner ARGS`` in-process; return (code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    return code, out.getvalue(), err.getvalue()


def snapshot(target: Path) -> int:
    """Write every command's outputs under ``target``; return how many commands ran."""
    if target.exists():
        shutil.rmtree(target)
    files = target / "files"
    files.mkdir(parents=True)
    os.chdir(ROOT)
    os.environ.pop("GITHUB_STEP_SUMMARY", None)
    os.environ["COLUMNS"] = "100"  # the width --help wraps at
    runs = commands(str(files))
    for number, args in enumerate(runs):
        code, stdout, stderr = run(args)
        text = f"$ planner {' '.join(args)}\nexit {code}\n--- stdout\n{stdout}--- stderr\n{stderr}"
        (target / f"{number:04d}.txt").write_text(text.replace(str(files), "FILES"), encoding="utf-8")
    return len(runs)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    print(f"{snapshot(Path(sys.argv[1]).resolve())} commands written to {sys.argv[1]}")
