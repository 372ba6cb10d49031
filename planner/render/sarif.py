"""``planner check --format sarif``: the findings as a SARIF 2.1.0 log, for GitHub code scanning.

One run whose tool is planner, with one rule per kind of finding (planner/render/sarif_rules.py, each
with its help in the log): ``budget-over``, ``budget-warn``, ``pooler-client-over``,
``pooler-client-wait``, one per lint warning code and the ``--observed`` ones.

A result per instance and scenario that is over or warn, per pooler and scenario that is over or warn,
and per lint warning; its message carries the arithmetic (demand vs usable and alarm_at, the largest
sources). A budget result sits on the line that decides it (planner/render/places.py): the line of the
source that opens the most in that scenario (its replica count first), in the topology or in the
deployment file the value was read from; a pooler's client-side result on its largest client's line.
GitHub shows a pull request only the alerts on lines it changed: the line a scaling change edits is the
one to point at. The database (or the pooler) is a related location, linked from the message, with the
other large sources and a ``max_connections`` read from a deployment file. Lint warnings sit on their
own line. URIs are relative to the current directory under ``uriBaseId`` ``%SRCROOT%`` (run planner
from the repository root). ``partialFingerprints`` (rule, topology file and name, instance, scenario)
do not depend on the line. An ok topology adds no result: its log is valid and empty.

With a gate (waivers, ``--baseline``), a breach the gate lets pass is **left out** by default: GitHub code
scanning ignores SARIF ``suppressions`` (they are not among the properties it reads), so a suppressed
result would stay an open alert. ``suppressions=True`` (``check --sarif-suppressions``) keeps those
results with a suppression saying why, for consumers that read them; every result then carries a
``suppressions`` array (empty when nothing suppresses it), as SARIF asks of a run that uses them.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Sequence
from urllib.parse import quote

import planner  # planner.__version__ is read on use: the metadata lookup costs every start-up
from planner.budget import BudgetReport, Finding, InstanceBudget, PoolerBudget, SourceDemand
from planner.model import Topology
from planner.render.check import _class_label, _demand, breaking_sources, pooler_breach
from planner.render.places import Place, deciding_source, source_entry, source_place, value_place
from planner.render.sarif_rules import project_url, sarif_rules, unknown_rule

if TYPE_CHECKING:
    from planner.budget.gate import Gate

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SRCROOT = "%SRCROOT%"


def artifact_uri(path: str, root: str | None = None) -> dict[str, str]:
    """Return a SARIF artifactLocation for ``path``: relative to ``root`` (the current directory) under
    %SRCROOT%, as code scanning expects, or an absolute file: URI for a file outside it."""
    root = root if root is not None else os.getcwd()
    absolute = os.path.abspath(os.path.join(root, path))
    relative = os.path.relpath(absolute, root)
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return {"uri": PurePosixPath(absolute.replace(os.sep, "/")).as_uri()}
    return {"uri": quote(relative.replace(os.sep, "/")), "uriBaseId": SRCROOT}


def _location(path: str, line: int | None, root: str | None, message: str | None = None) -> dict[str, Any]:
    # code scanning needs a region to place an alert: a format without lines (none today) points at line 1
    location: dict[str, Any] = {
        "physicalLocation": {"artifactLocation": artifact_uri(path, root), "region": {"startLine": line or 1}}
    }
    if message:
        location["message"] = {"text": message}
    return location


def link(text: str, location_id: int) -> str:
    """Return a SARIF embedded link to a related location (GitHub links it): ``[text](id)``, the text's
    backslashes and square brackets escaped as SARIF's plain-text link syntax requires."""
    escaped = text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
    return f"[{escaped}]({location_id})"


def _fingerprint(*parts: str) -> dict[str, str]:
    digest = hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()
    return {"plannerFinding/v1": digest[:32]}


def _gate_outcome(gate: "Gate | None", kind: str, subject: str, scenario: str) -> tuple[str, str] | None:
    """Return (outcome, why) when the gate judged this breach, else None."""
    for judged in gate.judged if gate is not None else ():
        if judged.breach.key == (kind, subject, scenario):
            return judged.outcome, judged.why
    return None


def _passes(judged: tuple[str, str] | None) -> bool:
    """Return whether the gate lets this breach pass (a waiver, or the baseline)."""
    return judged is not None and judged[0] != "fails"


def _suppression(judged: tuple[str, str] | None) -> list[dict[str, str]]:
    """Return the result's suppressions: in the topology (a waiver) or outside it (the baseline); [] for none."""
    if not _passes(judged):
        return []
    assert judged is not None
    kind = "inSource" if judged[0] == "waived" else "external"
    return [{"kind": kind, "status": "accepted", "justification": judged[1]}]


class _Related:
    """A result's related locations, numbered from 1 in the order they are added, each (file, line) once."""

    def __init__(self, root: str | None) -> None:
        self.root = root
        self.locations: list[dict[str, Any]] = []
        self._ids: dict[tuple[str, int], int] = {}

    def add(self, path: str, line: int | None, message: str) -> int:
        """Add a location (unless already there); return its id, for an embedded link."""
        key = (os.path.normpath(path), line or 1)
        if key not in self._ids:
            self._ids[key] = len(self.locations) + 1
            self.locations.append(dict(_location(path, line, self.root, message), id=self._ids[key]))
        return self._ids[key]


def _decided_by(topology: Topology, source: SourceDemand, place: Place, scenario: str) -> str:
    """Return the sentence that says why the alert sits where it does."""
    opens = "an unbounded pool" if source.unbounded_in(scenario) else f"{source.demand[scenario]}"
    key = place.key(source_entry(source))
    if place.deployed is not None:
        return (f" {source.source} opens the most ({opens}); its {key} {place.deployed.value} is read from "
                f"{place.deployed.origin}.")
    if place.key_path == source_entry(source):
        return f" {source.source} opens the most ({opens}); this is its entry in {topology.name}."
    return f" {source.source} opens the most ({opens}); this line sets its {key}."


def _instance_results(report: BudgetReport, instance: InstanceBudget, gate: "Gate | None", root: str | None,
                      suppressions: bool) -> list[dict[str, Any]]:
    topology = report.topology
    name = instance.name
    results = []
    for scenario, result in instance.scenarios.items():
        judged = _gate_outcome(gate, "instance", name, scenario)
        if result.status == "ok" or (_passes(judged) and not suppressions):
            continue
        related = _Related(root)
        database = related.add(topology.path, instance.line, f"database {instance.database} in {topology.name}")
        sources = breaking_sources(instance, scenario)
        largest = ", ".join(
            f"{s.source} {'unbounded' if s.unbounded_in(scenario) else s.demand[scenario]} ({s.working[scenario]})" for s in sources
        )
        line = "usable" if result.status == "over" else "alarm_at"
        limit = instance.usable if result.status == "over" else instance.alarm_at
        text = (
            f"{topology.name}: {link(name, database)} ({_class_label(instance)}) is {result.status} in {scenario}: demand "
            f"{_demand(result.demand)} > {line} {limit} (max_connections {instance.max_connections.value} − reserved "
            f"{instance.reserved} = usable {instance.usable}; alarm_at {instance.alarm_at})."
            + (f" Largest sources: {largest}." if largest else "")
        )
        primary = None
        decider = deciding_source(instance.demand_by_source, scenario)
        place = source_place(topology, decider, scenario) if decider is not None else None
        if decider is not None and place is not None:
            primary = _location(place.file, place.line, root)
            text += _decided_by(topology, decider, place, scenario)
        for source in sources:  # the other large sources, where they are decided
            other = source_place(topology, source, scenario) if source is not decider else None
            if other is not None:
                related.add(other.file, other.line, f"{source.source} in {topology.name}")
        limit_value = value_place(topology, f"databases.{instance.database}.parameters.max_connections")
        if limit_value is not None and limit_value.deployed is not None:
            related.add(limit_value.file, limit_value.line, f"max_connections {limit_value.deployed.value}")
        rule = f"budget-{result.status}"
        entry: dict[str, Any] = {
            "ruleId": rule,
            "level": "error" if result.status == "over" else "warning",
            "message": {"text": text},
            "locations": [primary or related.locations[0]],
            "relatedLocations": related.locations,
            "partialFingerprints": _fingerprint(rule, topology.path, topology.name, name, scenario),
            "properties": {"topology": topology.name, "instance": name, "scenario": scenario, "demand": result.demand,
                           "usable": instance.usable, "alarmAt": instance.alarm_at,
                           "maxConnections": instance.max_connections.value, "reserved": instance.reserved,
                           **_decider_properties(decider, place)},
        }
        if suppressions:
            entry["suppressions"] = _suppression(judged)
        results.append(entry)
    return results


def _decider_properties(source: SourceDemand | None, place: Place | None) -> dict[str, str]:
    """Return the result's ``source`` and ``keyPath`` properties: what its location is the line of."""
    if source is None or place is None:
        return {}
    return {"source": source.source, "keyPath": place.key_path}


def _pooler_results(report: BudgetReport, pooler: PoolerBudget, gate: "Gate | None", root: str | None,
                    suppressions: bool) -> list[dict[str, Any]]:
    topology = report.topology
    results = []
    for scenario, result in pooler.scenarios.items():
        judged = _gate_outcome(gate, "pooler", pooler.pooler, scenario)
        if result.status == "ok" or (_passes(judged) and not suppressions):
            continue
        related = _Related(root)
        here = related.add(topology.path, pooler.line, f"pooler {pooler.pooler} in {topology.name}")
        clients = " + ".join(f"{c.source} {'unbounded' if c.unbounded_in(scenario) else c.demand[scenario]}" for c in pooler.clients)
        text = (f"{topology.name}: pooler {link(pooler.pooler, here)} {pooler_breach(pooler)} in {scenario}: client "
                f"demand {_demand(result.demand)} ({clients}) > {pooler.client_working}.")
        # the client side is decided by the clients: the largest one's line, as for an instance
        decider = deciding_source(pooler.clients, scenario)
        place = source_place(topology, decider, scenario) if decider is not None else None
        if decider is not None and place is not None:
            text += _decided_by(topology, decider, place, scenario)
        rule = "pooler-client-wait" if pooler.client_overflow == "wait" else "pooler-client-over"
        entry: dict[str, Any] = {
            "ruleId": rule,
            "level": "error" if result.status == "over" else "warning",
            "message": {"text": text},
            "locations": [_location(place.file, place.line, root) if place is not None else related.locations[0]],
            "relatedLocations": related.locations,
            "partialFingerprints": _fingerprint(rule, topology.path, topology.name, pooler.pooler, scenario),
            "properties": {"topology": topology.name, "pooler": pooler.pooler, "scenario": scenario,
                           "demand": result.demand, "clientCapacity": pooler.client_capacity,
                           **_decider_properties(decider, place)},
        }
        if suppressions:
            entry["suppressions"] = _suppression(judged)
        results.append(entry)
    return results


def _warning_result(report: BudgetReport, warning: Finding, root: str | None, suppressions: bool) -> dict[str, Any]:
    topology = report.topology
    entry: dict[str, Any] = {
        "ruleId": warning.code,
        "level": "warning",
        "message": {"text": f"{topology.name}: {warning}"},
        "locations": [_location(topology.path, warning.line, root)],
        "partialFingerprints": _fingerprint(warning.code, topology.path, topology.name, warning.key_path),
        "properties": {"topology": topology.name, "keyPath": warning.key_path},
    }
    if suppressions:
        entry["suppressions"] = []
    return entry


def sarif_log(reports: Sequence[BudgetReport], gates: "Sequence[Gate] | None" = None,
              root: str | None = None, suppressions: bool = False) -> dict[str, Any]:
    """Return the SARIF log of every topology's findings: one run, every rule, a result per finding.

    ``root`` is the directory URIs are relative to (default: the current directory). ``suppressions``
    keeps the breaches the gate lets pass, marked suppressed (by default they are left out).
    """
    url = project_url()
    rules = sarif_rules(url)
    results: list[dict[str, Any]] = []
    for i, report in enumerate(reports):
        gate = gates[i] if gates is not None else None
        for instance in report.instances:
            results += _instance_results(report, instance, gate, root, suppressions)
        for pooler in report.poolers:
            results += _pooler_results(report, pooler, gate, root, suppressions)
        results += [_warning_result(report, warning, root, suppressions) for warning in report.warnings]
    known = {rule["id"] for rule in rules}
    for result in results:  # a code added to the lints before this table learns it still gets a rule
        if result["ruleId"] not in known:
            known.add(result["ruleId"])
            rules.append(unknown_rule(result["ruleId"], url))
    index = {rule["id"]: n for n, rule in enumerate(rules)}
    for result in results:
        result["ruleIndex"] = index[result["ruleId"]]
    driver: dict[str, Any] = {"name": "planner", "version": planner.__version__,
                              "semanticVersion": planner.__version__, "rules": rules}
    if url is not None:
        driver["informationUri"] = url
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{"tool": {"driver": driver}, "results": results, "columnKind": "unicodeCodePoints"}],
    }


def render_sarif_many(reports: Sequence[BudgetReport], gates: "Sequence[Gate] | None" = None,
                      suppressions: bool = False) -> str:
    """Return the SARIF 2.1.0 log of every topology's findings (an ok topology adds none)."""
    return json.dumps(sarif_log(reports, gates, suppressions=suppressions), indent=2, ensure_ascii=False)
