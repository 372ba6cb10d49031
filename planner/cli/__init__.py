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

from planner.cli.app import COMMAND_GROUPS, GROUPS, app, main, register

__all__ = ["COMMAND_GROUPS", "GROUPS", "app", "main", "register"]
