"""Shared test helpers: the example topologies and an in-process CLI runner."""

from __future__ import annotations

import io
import os
import re
import shutil
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from planner.cli import main

EXAMPLES = Path(__file__).parent.parent / "examples"
# The first comment of each example states what `planner check` says of it and why
# (tests/docs/test_example_verdicts.py keeps it true): "# planner check: STATUS (exit N): WHY",
# continued on comment lines indented by three spaces.
VERDICT = re.compile(r"\A# planner check: (?P<status>OK|WARN|OVER) \(exit (?P<code>\d)\): (?P<why>.*(?:\n#   .*)*)\n")


def without_verdict(text: str) -> str:
    """Return an example's text without its verdict comment (the workplace's copies have none)."""
    return VERDICT.sub("", text, count=1)


def run_cli(args: list[str]) -> tuple[int, str, str]:
    """Run ``planner ARGS`` in-process through :func:`planner.cli.main`; return (code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main(args)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    return code, out.getvalue(), err.getvalue()


def refusal(args: list[str]) -> list[str]:
    """Run ``planner ARGS``, which must refuse its input (exit 2, nothing on stdout, no traceback);
    return its stderr lines without the "planner: " prefix."""
    code, out, err = run_cli(args)
    assert (code, out) == (2, ""), err
    assert "Traceback" not in err
    return [line.removeprefix("planner: ") for line in err.splitlines()]


def require_program(name: str, package: str) -> str:
    """Return the path of a program on PATH, or skip (outside CI) / fail (in CI) naming the Debian
    package ``make test`` installs for it."""
    found = shutil.which(name)
    if found is None:
        reason = f"{name} is not on PATH (make test installs Debian's {package} package)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return found
