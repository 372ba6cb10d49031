"""Errors the planner raises on purpose, each carrying the exit code of spec §4.

The CLI catches :class:`PlannerError` in one place and prints its message (one line per
problem) to stderr; anything else is a bug and stays a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_OVER = 1
EXIT_INPUT = 2
EXIT_EXTERNAL = 3


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file: where it is, what it is, and how to fix it."""

    file: str
    key_path: str
    message: str
    line: int | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        text = f"{where}: {self.key_path}: {self.message}" if self.key_path else f"{where}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class PlannerError(Exception):
    """Base class: a failure the user can act on. ``exit_code`` follows spec §4."""

    exit_code = EXIT_INPUT

    def lines(self) -> list[str]:
        """Return the message as the lines the CLI prints to stderr."""
        return [str(self)]


class InputError(PlannerError):
    """Invalid input: a file, a flag, a formula or a catalogue (exit code 2)."""

    exit_code = EXIT_INPUT

    def __init__(self, problems: list[Problem] | Problem | str) -> None:
        if isinstance(problems, (Problem, str)):
            problems = [problems]
        self.problems: list[Problem | str] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


class FormulaError(InputError):
    """A parameter formula that RDS would not accept or that cannot be evaluated."""

    def __init__(self, formula: str, position: int, message: str) -> None:
        self.formula = formula
        self.position = position
        self.detail = message
        super().__init__(f"formula {formula!r}: {message} at position {position}")


class ExternalError(PlannerError):
    """An outside system (AWS, PostgreSQL, PgBouncer) could not be reached or refused (exit 3)."""

    exit_code = EXIT_EXTERNAL


class SessionLost(ExternalError):
    """A session to an outside system was cut mid-way (a restart, a failover, a terminated backend): exit 3.

    Raised where what was read before the cut is still worth keeping (``inspect --sample``)."""
