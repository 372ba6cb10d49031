"""The gate's decision (waivers, baseline) in each of check's formats.

Nothing here is printed unless a waiver or a baseline changed something (:attr:`Gate.applies`):
without them the gate is the status, and the outputs stay as they always were.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from planner.model import Waiver
from planner.render.table import md_escape

if TYPE_CHECKING:  # check without waivers or a baseline never builds a gate, nor imports it
    from planner.budget.gate import Gate, Judged

OUTCOME_LABEL = {"fails": "FAILS", "waived": "waived", "known": "known"}


def unused_message(waiver: Waiver, gate: Gate) -> str:
    """Return what to do about a waiver that covers no breach."""
    if gate.today is not None and waiver.expires < gate.today:
        return f"waivers[{waiver.index}] ({waiver.label}) expired on {waiver.expires.isoformat()} and covers no breach: remove it"
    return f"waivers[{waiver.index}] ({waiver.label}) covers no breach: remove it once the fix is deployed"


def judged_line(judged: Judged) -> str:
    """Return "main/writer rollout: demand 1,166 > usable 814: waived until 2026-12-31: resize booked"."""
    return f"{judged.breach.label}: {judged.breach.arithmetic()}: {judged.why}"


def gate_text(gate: Gate | None) -> list[str]:
    """Return the text block: the gate's verdict, each breach's outcome, the waivers that cover nothing."""
    if gate is None or not gate.applies:
        return []
    lines = ["", f"gate: {gate.summary()}"]
    lines += [f"  - {OUTCOME_LABEL[j.outcome]}: {judged_line(j)}" for j in gate.judged]
    lines += [f"  - unused: {unused_message(w, gate)}" for w in gate.unused_waivers]
    return lines


def gate_markdown(gate: Gate | None) -> list[str]:
    """Return the Markdown block: the verdict in bold, then one bullet per breach and unused waiver."""
    if gate is None or not gate.applies:
        return []
    lines = ["", f"**Gate:** {gate.summary()}", ""]
    lines += [f"- **{OUTCOME_LABEL[j.outcome]}**: {md_escape(judged_line(j))}" for j in gate.judged]
    lines += [f"- unused: {md_escape(unused_message(w, gate))}" for w in gate.unused_waivers]
    return lines


def gate_dict(gate: Gate | None) -> dict[str, Any] | None:
    """Return the JSON ``gate`` object (None when no waiver or baseline was involved)."""
    if gate is None or not gate.applies:
        return None
    return {
        "status": "fail" if gate.failed else "pass",
        "summary": gate.summary(),
        "baseline": gate.baseline,
        "breaches": [
            {"kind": j.breach.kind, "subject": j.breach.subject, "scenario": j.breach.scenario, "status": j.breach.status,
             "demand": j.breach.demand, "limit": j.breach.limit, "outcome": j.outcome, "why": j.why,
             "waiver": None if j.waiver is None else _waiver_dict(j.waiver)}
            for j in gate.judged
        ],
        "unused_waivers": [dict(_waiver_dict(w), message=unused_message(w, gate)) for w in gate.unused_waivers],
    }


def _waiver_dict(waiver: Waiver) -> dict[str, Any]:
    return {"index": waiver.index, waiver.kind: waiver.target, "scenario": waiver.scenario, "reason": waiver.reason,
            "expires": waiver.expires.isoformat(), "line": waiver.line}


def outcome_of(gate: Gate | None, kind: str, subject: str, scenario: str) -> str:
    """Return the gate's outcome for one scenario of an instance or pooler ("" when it is no breach)."""
    if gate is None:
        return ""
    for judged in gate.judged:
        if judged.breach.key == (kind, subject, scenario):
            return judged.outcome
    return ""


def eased_note(gate: Gate | None, kind: str, subject: str) -> tuple[bool, str]:
    """Return whether every breach of an instance or pooler passes the gate, and why (for annotations)."""
    if gate is None:
        return False, ""
    mine = [j for j in gate.judged if (j.breach.kind, j.breach.subject) == (kind, subject)]
    if not mine or any(j.outcome == "fails" for j in mine):
        return False, "; ".join(j.why for j in mine if j.waiver is not None)
    return True, "; ".join(dict.fromkeys(j.why for j in mine))
