"""``planner check --format junit``: the checks as JUnit XML, for GitLab's and Jenkins' test reports.

``<testsuites>`` holds one ``<testsuite>`` per topology (``name`` the topology's, ``file`` its path,
``tests``, ``failures``, ``errors="0"``, ``skipped="0"``, ``time``) with

- one ``<testcase>`` per instance and scenario: ``classname`` ``TOPOLOGY.DATABASE/ROLE`` (Jenkins
  reads the topology as the package), ``name`` the scenario;
- one per pooler and scenario: ``classname`` ``TOPOLOGY.POOLER/pooler``;

each with ``file`` (the topology's path as given, relative to the working directory: GitLab's "copy
failed tests" reads it) and ``time``. Topologies that share a ``name:`` get their path in the suite name
and the classnames (``shop (infra/eu/shop.yaml)``): GitLab keys a test case by suite, classname and name,
and Jenkins merges suites of one name, so same-named topologies would otherwise show as one.

``time`` is real: the seconds ``check`` spent reading, computing and judging the topology (measured by
the caller), shared equally among its test cases (planner judges a topology at once, not case by case);
the suite's ``time`` is the whole. Without measured times the attribute is left out.

A scenario that is over fails (``<failure type="over">``); one above the alarm line fails
(``type="warn"``) only with ``--fail-on warn`` and otherwise passes with a note in its
``<system-out>``. The failure's text is the arithmetic as ``planner explain`` writes it:
max_connections, reserved, usable, alarm_at, each source's multiplication, the comparison. With a
gate (waivers, ``--baseline``), a breach the gate lets pass is no failure, and says why. Lint
warnings are the suite's ``<system-out>`` and ``warning`` properties. The document follows the Jenkins
xunit plugin's ``junit-10.xsd`` (tests/render/schemas/) except for the test case's ``file``, which that
schema does not declare (GitLab reads it; Jenkins' ``junit`` step reads the attributes it knows).
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Sequence

import planner  # planner.__version__ is read on use: the metadata lookup costs every start-up
from planner.budget import BudgetReport, InstanceBudget, PoolerBudget
from planner.budget.grouping import grouped
from planner.model import SOURCE_ESTIMATED
from planner.render.check import _class_label, _demand, pooler_breach
from planner.render.explain import reserve_lines

if TYPE_CHECKING:
    from planner.budget.gate import Gate

# Above this many sources a failure lists the largest and counts the rest: a CI page stays readable.
MAX_SOURCES = 25
# XML 1.0 cannot carry most control characters, even escaped; a topology name may hold them.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """Return ``text`` with the characters XML 1.0 cannot hold replaced by U+FFFD (ElementTree escapes the rest)."""
    return _NOT_XML.sub("\ufffd", text)


def _element(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, tag, {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        node.text = xml_text(text)
    return node


def _gate_outcome(gate: "Gate | None", kind: str, subject: str, scenario: str) -> tuple[str, str] | None:
    """Return (outcome, why) when the gate judged this breach, else None."""
    for judged in gate.judged if gate is not None else ():
        if judged.breach.key == (kind, subject, scenario):
            return judged.outcome, judged.why
    return None


def instance_arithmetic(instance: InstanceBudget, scenario: str) -> list[str]:
    """Return the lines that derive one instance's status in one scenario, as ``planner explain`` writes them."""
    mc = instance.max_connections
    estimate = f" (estimated: {mc.estimate_text()})" if mc.source == SOURCE_ESTIMATED else ""
    lines = [f"max_connections = {mc.value}{estimate} ({_class_label(instance)}, {mc.source})"]
    lines += [line.strip() for line in reserve_lines(instance) if line.lstrip().startswith(("reserved =", "usable ="))]
    lines.append(f"alarm_at = floor({mc.value} × (1 − {float(instance.headroom) * 100:g}%)) = {instance.alarm_at}")
    result = instance.scenarios[scenario]
    sources = sorted(instance.demand_by_source, key=lambda s: (not s.unbounded_in(scenario), -s.demand[scenario]))
    for source in sources[:MAX_SOURCES]:
        via = f" (via {source.via})" if source.via else ""
        lines.append(f"{source.source}{via}: {source.working[scenario]}")
    if len(sources) > MAX_SOURCES:
        rest = sum(s.demand[scenario] for s in sources[MAX_SOURCES:])
        lines.append(f"… {len(sources) - MAX_SOURCES} more sources: {rest}")
    demand = result.demand
    if demand is None:
        compare = "an unbounded pool has no limit"
    elif demand > instance.usable:
        compare = f"{demand} > usable {instance.usable}"
    elif demand > instance.alarm_at:
        compare = f"{demand} ≤ usable {instance.usable} but > alarm_at {instance.alarm_at}"
    else:
        compare = f"{demand} ≤ alarm_at {instance.alarm_at}"
    lines.append(f"demand = {_demand(demand)} → {compare} → {result.status.upper()}")
    return lines


def _instance_case(suite: ET.Element, label: str, report: BudgetReport, instance: InstanceBudget, scenario: str,
                   fail_on: str, gate: "Gate | None") -> bool:
    """Add one instance × scenario testcase; return whether it failed."""
    name = instance.name
    case = _element(suite, "testcase", classname=f"{label}.{name}", name=scenario, file=topology_file(report))
    result = instance.scenarios[scenario]
    if result.status == "ok":
        return False
    where = f"{report.topology.path}:{instance.line}" if instance.line else report.topology.path
    limit = f"usable {instance.usable}" if result.status == "over" else f"alarm_at {instance.alarm_at}"
    message = f"{name} is {result.status} in {scenario}: demand {_demand(result.demand)} > {limit}"
    text = "\n".join([f"{report.topology.name} ({where}): {message}", *instance_arithmetic(instance, scenario)])
    return _judge(case, "instance", name, scenario, result.status, message, text, fail_on, gate)


def _judge(case: ET.Element, kind: str, subject: str, scenario: str, status: str, message: str, text: str,
           fail_on: str, gate: "Gate | None") -> bool:
    """Make a breach a failure or a passing case with a note, as the gate (or --fail-on) decides."""
    judged = _gate_outcome(gate, kind, subject, scenario)
    if gate is not None:
        fails = judged is not None and judged[0] == "fails"
    else:
        fails = status == "over" or (status == "warn" and fail_on == "warn")
    if fails:
        _element(case, "failure", text, message=message, type=status)
        return True
    why = judged[1] if judged is not None else "passes: --fail-on over"
    _element(case, "system-out", f"{text}\n({why})")
    return False


def _pooler_case(suite: ET.Element, label: str, report: BudgetReport, pooler: PoolerBudget, scenario: str,
                 fail_on: str, gate: "Gate | None") -> bool:
    """Add one pooler × scenario testcase; return whether it failed."""
    case = _element(suite, "testcase", classname=f"{label}.{pooler.pooler}/pooler", name=scenario,
                    file=topology_file(report))
    result = pooler.scenarios[scenario]
    if result.status == "ok":
        return False
    clients = " + ".join(f"{c.source} {'unbounded' if c.unbounded_in(scenario) else c.demand[scenario]}" for c in pooler.clients)
    message = (f"pooler {pooler.pooler} {pooler_breach(pooler)} in {scenario}: client demand {_demand(result.demand)} > "
               f"{pooler.client_capacity}")
    where = f"{report.topology.path}:{pooler.line}" if pooler.line else report.topology.path
    text = "\n".join([f"{report.topology.name} ({where}): {message}", f"client capacity = {pooler.client_working}",
                      f"client demand = {clients} = {_demand(result.demand)}",
                      f"server connections = {pooler.server_working}"])
    return _judge(case, "pooler", pooler.pooler, scenario, result.status, message, text, fail_on, gate)


def topology_file(report: BudgetReport) -> str:
    """Return the topology's path as given, relative to the working directory (an absolute path inside it
    is made relative: GitLab matches it against the repository's files)."""
    path = report.topology.path
    if os.path.isabs(path):
        relative = os.path.relpath(path)
        if relative != os.pardir and not relative.startswith(os.pardir + os.sep):
            return relative
    return path


def suite_names(reports: Sequence[BudgetReport]) -> list[str]:
    """Return each report's suite name: the topology's name, with its file when another topology has the same
    name (``shop (infra/eu/shop.yaml)``), and a number should even that repeat."""
    counts: dict[str, int] = {}
    for report in reports:
        counts[report.topology.name] = counts.get(report.topology.name, 0) + 1
    names: list[str] = []
    for report in reports:
        name = report.topology.name
        if counts[name] > 1:
            name = f"{name} ({topology_file(report)})"
        unique, n = name, 1
        while unique in names:
            n += 1
            unique = f"{name} #{n}"
        names.append(unique)
    return names


def name_collision(reports: Sequence[BudgetReport]) -> str | None:
    """Return the one-line warning for topologies that share a name (None when every name is its own)."""
    by_name: dict[str, list[str]] = {}
    for report in reports:
        by_name.setdefault(report.topology.name, []).append(topology_file(report))
    shared = {name: files for name, files in by_name.items() if len(files) > 1}
    if not shared:
        return None
    named = "; ".join(f"{name!r} is the name of {', '.join(files)}" for name, files in shared.items())
    return (f"{named}: their JUnit suites carry the file as well (as `name (file)`); give each topology its own "
            "`name:` to keep their reports, and their baseline entries, apart")


def _seconds(value: float, places: int = 3) -> str:
    """Return seconds as JUnit writes them: three decimals for a suite (the xunit schema's SUREFIRE_TIME allows
    no more); a test case's share, often below a millisecond, with six."""
    return f"{max(value, 0.0):.{places}f}"


def _suite(parent: ET.Element, label: str, report: BudgetReport, fail_on: str, gate: "Gate | None",
           seconds: float | None) -> tuple[int, int]:
    """Add one topology's testsuite; return (tests, failures)."""
    suite = _element(parent, "testsuite", name=label, tests="0", failures="0", errors="0", skipped="0",
                     file=topology_file(report))
    properties = _element(suite, "properties")
    _element(properties, "property", name="file", value=report.topology.path)
    _element(properties, "property", name="status", value=report.status)
    _element(properties, "property", name="planner.version", value=planner.__version__)
    for warning in grouped(report.warnings):
        _element(properties, "property", name=f"warning.{warning.code}", value=str(warning))
    tests = failures = 0
    for instance in report.instances:
        for scenario in instance.scenarios:
            tests += 1
            failures += _instance_case(suite, label, report, instance, scenario, fail_on, gate)
    for pooler in report.poolers:
        for scenario in pooler.scenarios:
            tests += 1
            failures += _pooler_case(suite, label, report, pooler, scenario, fail_on, gate)
    if report.warnings:
        lines = [f"warning {w.code} ({report.topology.path}:{w.line}): {w}" if w.line else f"warning {w.code}: {w}"
                 for w in grouped(report.warnings)]
        _element(suite, "system-out", "\n".join(lines))
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    if seconds is not None:
        suite.set("time", _seconds(seconds))
        for case in suite.iter("testcase"):  # one computation judged them all: each gets its share
            case.set("time", _seconds(seconds / max(tests, 1), 6))
    return tests, failures


def render_junit_many(reports: Sequence[BudgetReport], fail_on: str = "over",
                      gates: "Sequence[Gate] | None" = None, times: Sequence[float] | None = None) -> str:
    """Return the JUnit XML document: a testsuite per topology, a testcase per instance or pooler and scenario.

    ``fail_on`` is check's ``--fail-on`` (``over`` or ``warn``): whether a scenario above the alarm
    line fails its case. With ``gates`` (one per report), the gate decides instead. ``times`` (one per
    report, in seconds) is what computing and judging each topology took; without it no ``time`` is written.
    """
    root = ET.Element("testsuites", {"name": "planner check"})
    tests = failures = 0
    for i, (report, label) in enumerate(zip(reports, suite_names(reports))):
        counted = _suite(root, label, report, fail_on, gates[i] if gates is not None else None,
                         times[i] if times is not None else None)
        tests, failures = tests + counted[0], failures + counted[1]
    root.set("tests", str(tests))
    root.set("failures", str(failures))
    root.set("errors", "0")
    if times is not None:
        root.set("time", _seconds(sum(times)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
