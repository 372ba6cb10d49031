"""Issue 20 item 8: a command line that feels finished: -h everywhere, whole one-line descriptions in
every command list, one metavar style in every usage line."""

from __future__ import annotations

import re

import pytest

from planner.cli.app import COMMAND_GROUPS
from tests.conftest import run_cli

COMMANDS = [c for c in COMMAND_GROUPS if c not in ("catalog", "import")] + [
    "catalog list", "catalog show", "catalog refresh", "import rds", "import kubernetes", "import terraform", "import compose"]


@pytest.mark.parametrize("command", ["", "catalog", "import", *COMMANDS])
def test_dash_h_is_help_everywhere_and_usage_spells_arguments_one_way(command: str) -> None:
    words = command.split()
    code, out, err = run_cli([*words, "-h"])
    assert code == 0, err
    (usage,) = [line for line in out.splitlines() if line.startswith("Usage: ")]
    assert usage.startswith(f"Usage: planner {command}".rstrip())
    # arguments: {UPPER} or {UPPER...}, never {lower}, {x}:<a|b> or ‹…›
    for argument in re.findall(r"\{[^}]*\}(?::<[^>]*>)?|‹[^›]*›", usage):
        assert re.fullmatch(r"\{[A-Z][A-Z_]*(?:\.\.\.)?\}", argument), usage


@pytest.mark.parametrize("group", ["", "catalog", "import"])
def test_command_lists_show_whole_descriptions(group: str) -> None:
    _, out, _ = run_cli([*group.split(), "--help"])
    listed = out.split("Commands:", 1)[1].strip().splitlines()
    assert listed
    for line in listed:
        assert not line.rstrip().endswith("..."), line  # click cuts a long description with "..."
        assert line.rstrip().endswith((".", ")")), line
