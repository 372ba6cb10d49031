"""One warning per cause: the findings a lint gives for many services of one topology, as one line.

A topology of forty services whose pools are all above their threads would otherwise print forty
lines that differ in a name and a number, and the one line that matters (a breach, a new trap) would
drown in them. Formats read by people (text, Markdown, explain, GitHub annotations, JUnit output,
the report, JSON's ``warnings`` strings) print :func:`grouped`; formats that place each finding at
its own line for a machine (SARIF, JSON's ``warning_details``) keep every finding.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Sequence

from planner.budget.instances import BudgetReport, Finding


@dataclass(frozen=True)
class FindingGroup:
    """Findings of one code and one cause: a single finding, or several that differ only in subject."""

    code: str
    findings: tuple[Finding, ...]

    @property
    def key_path(self) -> str:
        """Return where the group points: its first finding's key path."""
        return self.findings[0].key_path

    @property
    def line(self) -> int | None:
        """Return the first finding's line (where an annotation for the group sits)."""
        return self.findings[0].line

    @property
    def message(self) -> str:
        """Return the group's text without a key path: the cause, then each subject with its detail."""
        first = self.findings[0]
        if len(self.findings) == 1:
            return first.message
        details = "; ".join(f"{_subject(f)}: {f.detail}" for f in self.findings if f.detail)
        return _cause(first) + (f" ({details})" if details else "")

    def __str__(self) -> str:
        if len(self.findings) == 1:
            return str(self.findings[0])
        return f"{_noun(self.findings)} {', '.join(_subject(f) for f in self.findings)}: {self.message}"


def _cause(finding: Finding) -> str:
    return finding.cause or finding.message


def _subject(finding: Finding) -> str:
    return finding.subject or finding.key_path


def _noun(findings: tuple[Finding, ...]) -> str:
    """Return what the subjects are ("services", "poolers", "databases"), from their key paths."""
    kinds = {f.key_path.split(".", 1)[0] for f in findings}
    return kinds.pop() if len(kinds) == 1 and findings[0].subject else "places"


def grouped(findings: Iterable[Finding]) -> list[FindingGroup]:
    """Return ``findings`` grouped by code and cause, each group where its first finding was.

    Findings group when they share a code and a cause (or, for a lint that says the same to each,
    the same message); a finding with a cause of its own stays alone.
    """
    groups: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        groups.setdefault((finding.code, _cause(finding)), []).append(finding)
    return [FindingGroup(code, tuple(members)) for (code, _), members in groups.items()]


# Warnings that say how a number was counted and ask for no change: an estimated class (the table's
# footnote says so too), a PgBouncer or Pgpool-II fleet's multiplied pools (the pooler table shows them),
# a pool held at max_size (steady counts it). A person's view shows them with --verbose.
NOTE_CODES = ("estimated", "pgbouncer-replicas", "pgpool-replicas", "pool-held-at-max")


def fold_notes(report: BudgetReport) -> BudgetReport:
    """Return ``report`` with its informational warnings (:data:`NOTE_CODES`) moved to ``notes``."""
    notes = tuple(w for w in report.warnings if w.code in NOTE_CODES)
    if not notes:
        return report
    return replace(report, warnings=tuple(w for w in report.warnings if w.code not in NOTE_CODES), notes=notes)


def notes_summary(notes: Sequence[Finding], command: str = "planner check") -> str | None:
    """Return the one line that counts the folded notes, or None: ``2 notes (estimated): --verbose shows them``."""
    if not notes:
        return None
    codes = ", ".join(dict.fromkeys(n.code for n in notes))
    many = len(notes) != 1
    return f"{len(notes)} note{'s' if many else ''} ({codes}): {command} --verbose shows {'them' if many else 'it'}"


def acknowledged_summary(acknowledged: Sequence[tuple[Finding, str]]) -> str | None:
    """Return the one line that counts the warnings a topology acknowledges (``lints``), with their reasons,
    or None when there are none: ``3 acknowledged warnings (lints): pool-above-concurrency (web, api): …``."""
    if not acknowledged:
        return None
    by_cause: dict[tuple[str, str], list[str]] = {}
    for finding, reason in acknowledged:
        subjects = by_cause.setdefault((finding.code, reason), [])
        subject = _subject(finding)
        if subject not in subjects:
            subjects.append(subject)
    parts = [f"{code} ({', '.join(subjects)}): {reason}" for (code, reason), subjects in by_cause.items()]
    count = len(acknowledged)
    return f"{count} acknowledged warning{'s' if count != 1 else ''} (lints): " + "; ".join(parts)
