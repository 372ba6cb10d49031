"""The CI gate: which breaches fail ``check``, once waivers and a baseline have had their say.

A report's statuses say what the arithmetic says, and stay as they are in every output. The gate
is a second reading for the exit code: each *breach* (an instance or pooler scenario above the line
``--fail-on`` draws: usable, or also the alarm line) is judged

- **waived** when an unexpired waiver of the topology covers it (it holds through its ``expires``
  day): a warning, with the waiver's reason and date;
- **failing** when a waiver that covers it has expired: the waiver's reason is the message, so
  whoever accepted the breach is named when it comes back;
- **known** when the baseline (``--baseline FILE``, written by ``--write-baseline``) recorded the
  same breach with at least today's demand and status: adopting the gate on an estate that is
  already over budget does not start red;
- **failing** otherwise: new, or worse than recorded (more demand, or warn → over).

A waiver that covers no breach is reported (``waiver-unused``) so dead waivers get removed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Iterable, Literal, Mapping, Sequence

from planner.budget.instances import BudgetReport
from planner.errors import InputError
from planner.model import Waiver

Outcome = Literal["fails", "waived", "known"]
STATUS_RANK = {"ok": 0, "warn": 1, "over": 2}
BASELINE_FORMAT = 1


@dataclass(frozen=True)
class Breach:
    """One instance's or pooler's scenario above the gate's line."""

    kind: Literal["instance", "pooler"]
    subject: str  # "main/writer", or the pooler's name
    database: str
    scenario: str
    status: str  # "over" or "warn"
    demand: int | None  # None: unbounded
    limit: int | None  # usable (over) or alarm_at (warn) for an instance; client capacity for a pooler
    line: int | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind, self.subject, self.scenario)

    @property
    def label(self) -> str:
        """Return "main/writer rollout" or "pooler bouncer peak"."""
        return f"{'pooler ' if self.kind == 'pooler' else ''}{self.subject} {self.scenario}"

    def arithmetic(self) -> str:
        """Return "demand 1,166 > usable 814" (or against the alarm line, or the pooler's client capacity)."""
        demand = "unbounded" if self.demand is None else f"{self.demand:,}"
        line = {"over": "usable", "warn": "alarm_at"}[self.status] if self.kind == "instance" else "client capacity"
        limit = "-" if self.limit is None else f"{self.limit:,}"
        return f"demand {demand} > {line} {limit}"


@dataclass(frozen=True)
class Judged:
    """A breach and what the gate makes of it."""

    breach: Breach
    outcome: Outcome
    why: str  # "new", "worse than the baseline (…)", "in the baseline (…)", "waived until …: reason", "waiver expired …"
    waiver: Waiver | None = None


@dataclass(frozen=True)
class Gate:
    """What the gate decided for one topology."""

    judged: tuple[Judged, ...] = ()
    unused_waivers: tuple[Waiver, ...] = ()
    baseline: str | None = None  # the baseline file's name, when one was given
    today: date | None = None  # the day waivers were judged against

    @property
    def failed(self) -> bool:
        return any(j.outcome == "fails" for j in self.judged)

    @property
    def applies(self) -> bool:
        """Return whether a baseline or a waiver took part (outputs then say what each did)."""
        return self.baseline is not None or any(j.waiver is not None for j in self.judged) or bool(self.unused_waivers)

    def count(self, outcome: Outcome) -> int:
        return sum(j.outcome == outcome for j in self.judged)

    def summary(self) -> str:
        """Return "fails: 1 new breach; 2 waived, 1 known from the baseline" (or "passes: …")."""
        failing = [j for j in self.judged if j.outcome == "fails"]
        parts = []
        if failing:
            expired = sum(j.waiver is not None for j in failing)
            new = len(failing) - expired
            parts += [f"{new} breach{'es' if new != 1 else ''} new or worse"] if new else []
            parts += [f"{expired} expired waiver{'s' if expired != 1 else ''}"] if expired else []
        if self.count("waived"):
            parts.append(f"{self.count('waived')} waived")
        if self.count("known"):
            parts.append(f"{self.count('known')} known from the baseline")
        return f"{'fails' if failing else 'passes'}" + (f": {', '.join(parts)}" if parts else "")


def breaches(report: BudgetReport, failing: Iterable[str]) -> list[Breach]:
    """Return every instance and pooler scenario of ``report`` whose status is in ``failing``."""
    failing = set(failing)
    found = []
    for instance in report.instances:
        for scenario, result in instance.scenarios.items():
            if result.status in failing:
                limit = instance.usable if result.status == "over" else instance.alarm_at
                found.append(Breach("instance", instance.name, instance.database, scenario,
                                    result.status, result.demand, limit, instance.line))
    for pooler in report.poolers:
        for scenario, result in pooler.scenarios.items():
            if result.status in failing:
                found.append(Breach("pooler", pooler.pooler, pooler.database, scenario, result.status, result.demand,
                                    pooler.client_capacity, pooler.line))
    return found


def judge(report: BudgetReport, failing: Iterable[str], today: date, baseline: "Baseline | None" = None) -> Gate:
    """Return the gate's decision for one report (``failing``: the statuses that fail, by ``--fail-on``)."""
    waivers = report.topology.waivers
    used: set[int] = set()
    recorded = baseline.breaches(report) if baseline is not None else {}
    judged = []
    for breach in breaches(report, failing):
        waiver = _covering(waivers, breach)
        if waiver is not None:
            used.add(waiver.index)
            if waiver.expires >= today:
                judged.append(Judged(breach, "waived", f"waived until {waiver.expires.isoformat()}: {waiver.reason}", waiver))
            else:
                judged.append(Judged(breach, "fails", f"waiver expired on {waiver.expires.isoformat()}: {waiver.reason}", waiver))
            continue
        if baseline is None:
            judged.append(Judged(breach, "fails", "over budget" if breach.status == "over" else "above the alarm line"))
            continue
        before = recorded.get(breach.key)
        if before is None:
            judged.append(Judged(breach, "fails", f"new: not in the baseline {baseline.name}"))
        elif _worse(breach, before):
            judged.append(Judged(breach, "fails", f"worse than the baseline: {_recorded(before)} then, {breach.status} "
                                                  f"{_demand(breach.demand)} now"))
        else:
            judged.append(Judged(breach, "known", f"in the baseline {baseline.name} ({_recorded(before)})"))
    unused = tuple(w for w in waivers if w.index not in used)
    return Gate(tuple(judged), unused, baseline.name if baseline is not None else None, today)


def _covering(waivers: Sequence[Waiver], breach: Breach) -> Waiver | None:
    """Return the waiver that covers ``breach``: the one that expires last, so a renewal wins over an old one."""
    covering = [w for w in waivers if (w.scenario is None or w.scenario == breach.scenario) and _covers(w, breach)]
    return max(covering, key=lambda w: w.expires, default=None)


def _covers(waiver: Waiver, breach: Breach) -> bool:
    if waiver.kind == "pooler":
        return breach.kind == "pooler" and breach.subject == waiver.target
    if breach.kind != "instance":
        return False
    return breach.subject == waiver.target if waiver.kind == "instance" else breach.database == waiver.target


def _worse(now: Breach, before: Mapping[str, Any]) -> bool:
    """Return whether a breach is worse than the one recorded: a higher status, or more demand."""
    if STATUS_RANK[now.status] != STATUS_RANK.get(before.get("status", "over"), 2):
        return STATUS_RANK[now.status] > STATUS_RANK.get(before.get("status", "over"), 2)
    recorded = before.get("demand")
    if recorded is None:  # it was unbounded: nothing is worse
        return False
    return now.demand is None or now.demand > recorded


def _demand(value: int | None) -> str:
    return "unbounded" if value is None else f"{value:,}"


def _recorded(entry: Mapping[str, Any]) -> str:
    return f"{entry.get('status', 'over')} {_demand(entry.get('demand'))}"


# --------------------------------------------------------------------------- the baseline file


@dataclass(frozen=True)
class Baseline:
    """The breaches recorded by ``--write-baseline``: per topology name, per (kind, subject, scenario)."""

    name: str
    topologies: Mapping[str, Mapping[tuple[str, str, str], Mapping[str, Any]]] = field(default_factory=dict)

    def breaches(self, report: BudgetReport) -> Mapping[tuple[str, str, str], Mapping[str, Any]]:
        """Return the recorded breaches of ``report``'s topology (by its name), none if it was not recorded."""
        return self.topologies.get(report.topology.name, {})


def baseline_document(reports: Sequence[BudgetReport], today: date) -> str:
    """Return the baseline file recording today's breaches of every report, above the alarm line or over
    usable (so ``--fail-on warn`` can use it too); JSON in the reports' order."""
    from planner import __version__  # read from the package's metadata: only when a baseline is written

    doc: dict[str, Any] = {"planner_baseline": BASELINE_FORMAT, "written": today.isoformat(), "planner_version": __version__,
                           "topologies": {}}
    for report in reports:
        entries = [{"kind": b.kind, "subject": b.subject, "scenario": b.scenario, "status": b.status, "demand": b.demand,
                    "limit": b.limit} for b in breaches(report, ("over", "warn"))]
        doc["topologies"][report.topology.name] = {"file": report.topology.path, "breaches": entries}
    return json.dumps(doc, indent=2) + "\n"


def load_baseline(path: Path) -> Baseline:
    """Read a baseline file; a missing or malformed one is an InputError naming the file and the fix."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such baseline file (write one with planner check ... --write-baseline {path})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read the baseline ({e})") from None
    return parse_baseline(text, str(path))


def parse_baseline(text: str, name: str) -> Baseline:
    """Parse a baseline document (``name``: its file, for messages); a malformed one is an InputError."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{name}:{e.lineno}: the baseline is not valid JSON ({e.msg}); write it again with --write-baseline") from None
    if not isinstance(doc, dict) or doc.get("planner_baseline") != BASELINE_FORMAT or not isinstance(doc.get("topologies"), dict):
        raise InputError(f"{name}: not a planner baseline (format {BASELINE_FORMAT}); write it with planner check ... "
                         f"--write-baseline {name}")
    topologies: dict[str, dict[tuple[str, str, str], Mapping[str, Any]]] = {}
    for topology, entry in doc["topologies"].items():
        recorded = entry.get("breaches") if isinstance(entry, dict) else None
        if not isinstance(recorded, list) or not all(_valid_entry(b) for b in recorded):
            raise InputError(f"{name}: topologies.{topology}.breaches: each breach needs kind, subject, scenario, status "
                             "and demand; write the baseline again with --write-baseline")
        topologies[topology] = {(b["kind"], b["subject"], b["scenario"]): b for b in recorded}
    return Baseline(name, topologies)


def _valid_entry(entry: Any) -> bool:
    return (isinstance(entry, dict) and entry.get("kind") in ("instance", "pooler")
            and all(isinstance(entry.get(k), str) for k in ("subject", "scenario", "status"))
            and entry.get("status") in STATUS_RANK
            and (entry.get("demand") is None or type(entry.get("demand")) is int))
