"""``check``'s outputs from one computation: every format rendered from the same reports and gates.

``planner check --format github --format sarif=planner.sarif --format junit=planner.xml`` computes each
budget once and renders it three times; each rendering is exactly what a run with that format alone
prints (JUnit's measured ``time`` aside). The CLI decides where each one goes and writes them together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

from planner.budget import BudgetReport

if TYPE_CHECKING:
    from planner.budget.gate import Gate
    from planner.live.observe import ObservedPeak

FORMATS = ("text", "json", "markdown", "github", "csv", "sarif", "junit")
# text and Markdown, for people, fold the notes (how a number was counted) unless --verbose; machines get all
FOLDED = ("text", "markdown")
# the formats with a column for `--observed` peaks (every format gets their warnings)
OBSERVED_COLUMN = ("text", "json", "markdown")


@dataclass(frozen=True)
class CheckRun:
    """What one ``check`` computed, for every format to render: the reports, the gate's decisions, and what
    some formats add (observed peaks, --fail-on for JUnit, the seconds each topology took)."""

    reports: Sequence[BudgetReport]
    gates: "Sequence[Gate] | None" = None
    folded: Sequence[BudgetReport] | None = None  # the reports with notes folded (text, Markdown)
    observed: "Mapping[tuple[str, str], ObservedPeak] | None" = None
    fail_on: str = "over"
    times: Sequence[float] | None = None
    sarif_suppressions: bool = False


def render_check(fmt: str, run: CheckRun) -> str:
    """Return ``check``'s output in format ``fmt`` (one of :data:`FORMATS`)."""
    reports = run.folded if fmt in FOLDED and run.folded is not None else run.reports
    if fmt == "sarif":  # imported only when asked for: hashlib, urllib; xml.etree and its regexes
        from planner.render.sarif import render_sarif_many

        return render_sarif_many(reports, run.gates, suppressions=run.sarif_suppressions)
    if fmt == "junit":
        from planner.render.junit import render_junit_many

        return render_junit_many(reports, run.fail_on, run.gates, run.times)
    from planner.render import check as render

    if fmt in OBSERVED_COLUMN:
        renderer = {"text": render.render_text_many, "json": render.render_json_many,
                    "markdown": render.render_markdown_many}[fmt]
        return renderer(reports, run.observed, gates=run.gates)
    renderer_plain = {"github": render.render_github_many, "csv": render.render_csv_many}[fmt]
    return renderer_plain(reports, gates=run.gates)
