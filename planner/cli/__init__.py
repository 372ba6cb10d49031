"""The ``planner`` command line: thin Typer commands that parse, load, compute, render and exit.

One module per command group: ``budget`` (check, plan, explain, diff, report), ``catalog`` (list,
show), ``fix`` (recommend, emit), ``live`` (inspect, verify), ``aws`` (catalog refresh, import,
observe); ``common`` holds the options and helpers they share, ``app`` the application and
:func:`main`. :func:`main` registers the commands of the group the command line names
(:func:`register`; all of them for ``--help``), in the order ``--help`` lists them.
Heavy libraries are imported inside the commands that need them, so ``planner check`` pays only
for Typer and PyYAML (the catalogue is read with the standard ``csv`` module).

These modules do not use ``from __future__ import annotations``: Typer reads every command's
signature at each start-up, and string annotations it would compile and evaluate twice per
parameter (two thirds of the time building the commands took; issue 14).
"""

import importlib
from typing import Sequence

from planner.cli.app import app, main

# Each module registers its commands on import; this is --help's order.
GROUPS = ("budget", "catalog", "fix", "live", "aws", "deployed")
# The modules a command word needs: `planner check` builds its own command only, not all thirty (the
# CI gate's start-up, issue 14). tests/cli/test_cli.py holds this table to what each module registers.
COMMAND_GROUPS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("check", "plan", "explain", "diff", "report"), ("budget",)),
    **dict.fromkeys(("recommend", "emit"), ("fix",)),
    **dict.fromkeys(("inspect", "verify"), ("live",)),
    "catalog": ("catalog", "aws"),
    "import": ("aws", "deployed"),
    "observe": ("aws",),
}


def register(args: Sequence[str] = ()) -> None:
    """Register the commands ``args`` run (every command for --help, no command or an unknown one)."""
    word = next((a for a in args if not a.startswith("-")), None)
    for group in COMMAND_GROUPS.get(word or "", GROUPS):
        importlib.import_module(f"planner.cli.{group}")
    # modules imported by earlier calls in this process keep --help's order
    order = {f"planner.cli.{group}": i for i, group in enumerate(GROUPS)}
    app.registered_commands.sort(key=lambda c: order.get(getattr(c.callback, "__module__", ""), len(order)))


__all__ = ["COMMAND_GROUPS", "GROUPS", "app", "main", "register"]
