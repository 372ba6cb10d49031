"""The ``planner`` command line: thin Typer commands that parse, load, compute, render and exit.

One module per command group: ``budget`` (check, plan, explain, diff, report), ``catalog`` (list,
show), ``fix`` (recommend, emit), ``live`` (inspect, verify), ``aws`` (catalog refresh, import,
observe); ``common`` holds the options and helpers they share, ``app`` the application and
:func:`main`. Importing this package registers every command, in the order ``--help`` lists them.
Heavy libraries are imported inside the commands that need them, so ``planner check`` pays only
for Typer and PyYAML (the catalogue is read with the standard ``csv`` module).

These modules do not use ``from __future__ import annotations``: Typer reads every command's
signature at each start-up, and string annotations it would compile and evaluate twice per
parameter (two thirds of the time building the commands took; issue 14).
"""

import importlib

from planner.cli.app import app, main

for _group in ("budget", "catalog", "fix", "live", "aws", "deployed"):  # each registers its commands on import: --help's order
    importlib.import_module(f"planner.cli.{_group}")

__all__ = ["app", "main"]
