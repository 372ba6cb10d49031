"""``planner check --format sarif``: the findings as a SARIF 2.1.0 log, for GitHub code scanning.

One run whose tool is planner, with one rule per kind of finding:

- ``budget-over`` (error): an instance's demand in a scenario is above usable (or unbounded);
- ``budget-warn`` (warning): above the alarm line (``alarm_at``, set by headroom) though within usable;
- ``pooler-client-over`` (error): a PgBouncer's clients want more than ``replicas × max_client_conn``;
- ``pooler-client-wait`` (warning): a Pgpool-II's clients want more than ``replicas × num_init_children``
  (the rest wait in its queue);
- one rule per lint warning code of docs/topology.md "Warnings" (``lambda-unreserved``,
  ``unbounded-pool``, …, warning), and the ``--observed`` ones (``observed-above-plan``, …).

A result per instance and scenario that is over or warn, per pooler and scenario that is over or warn, and
per lint warning; its message carries the arithmetic (demand vs usable and alarm_at, the largest
sources). Each result points at the topology's file and line (the database, pooler or key), relative
to the current directory under ``uriBaseId`` ``%SRCROOT%`` (run planner from the repository root);
when the value that breaks the budget was read from a deployment file (``sources``/``from``), the
result points at that file's line instead and keeps the topology's line as a related location.
``partialFingerprints`` (rule, topology file and name, instance, scenario) let code scanning match
a result across runs. An ok topology adds no result: its log is valid and empty. With a gate
(waivers, ``--baseline``), a breach that passes carries a SARIF suppression saying why.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Sequence
from urllib.parse import quote

import planner  # planner.__version__ is read on use: the metadata lookup costs every start-up
from planner.budget import BudgetReport, Finding, InstanceBudget, PoolerBudget
from planner.render.check import _class_label, _demand, breaking_sources, deployed_value, pooler_breach, source_deployed_value

if TYPE_CHECKING:
    from planner.budget.gate import Gate

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
# The project's home; the same placeholder as the README's install line until the project is published.
PROJECT_URI = "https://github.com/OWNER/planner"
DOCS_URI = f"{PROJECT_URI}/blob/main/docs/topology.md"
SRCROOT = "%SRCROOT%"

# rule id -> (level, anchor in docs/topology.md, short description, full description)
BUDGET_RULES: dict[str, tuple[str, str, str, str]] = {
    "budget-over": ("error", "budget", "Connection demand above usable",
                    "In a scenario (steady, peak, rollout) the connections the topology's services and poolers open on a "
                    "database instance exceed usable = max_connections − reserved: new connections are refused "
                    "(SQLSTATE 53300). An unbounded pool is always over."),
    "budget-warn": ("warning", "budget", "Connection demand above the alarm line",
                    "In a scenario the demand on a database instance is within usable but above alarm_at = "
                    "floor(max_connections × (1 − headroom)): little room is left for RDS's own sessions and spikes."),
    "pooler-client-over": ("error", "poolers", "PgBouncer client demand above max_client_conn",
                           "The clients of a PgBouncer fleet want more connections in a scenario than replicas × "
                           "max_client_conn: PgBouncer refuses the excess clients."),
    "pooler-client-wait": ("warning", "poolers", "Pgpool-II client demand above num_init_children",
                           "The clients of a Pgpool-II fleet want more connections in a scenario than replicas × "
                           "num_init_children: each child serves one client, and the rest wait in Pgpool-II's queue "
                           "(refused only with reserved_connections set, or once the listen queue is full)."),
}

# lint code -> (short, full): the table of docs/topology.md "Warnings", one line each
LINT_RULES: dict[str, tuple[str, str]] = {
    "estimated": ("max_connections rests on an estimate",
                  "The instance's max_connections rests on an estimated DBInstanceClassMemory; run SHOW max_connections "
                  "on a real instance and pass it with --observations."),
    "not-orderable": ("Instance class not orderable",
                      "The instance class is not offered for the database's engine, version and deployment: a running "
                      "instance keeps working, nothing new can be built on it."),
    "lambda-unreserved": ("Lambda without reserved concurrency",
                          "A Lambda function without reserved concurrency: the account's 1000 concurrent executions "
                          "are assumed, each with its own connections."),
    "unbounded-pool": ("Pool without a limit", "A connection pool without an upper limit: its demand is unbounded."),
    "proxy-full-with-direct": ("RDS Proxy near full beside direct clients",
                               "An RDS Proxy takes 90 % or more of max_connections while other clients connect "
                               "directly to the same database."),
    "proxy-over-100": ("RDS Proxies over 100 %",
                       "Several RDS Proxies on one database whose max_connections_percent sum over 100."),
    "pgbouncer-replicas": ("PgBouncer replicas multiply server pools",
                           "PgBouncer replicas > 1: each keeps its own server pools, so the database sees replicas × "
                           "the pool size."),
    "pgpool-replicas": ("Pgpool-II replicas multiply cached connections",
                        "Pgpool-II replicas > 1: each runs its own num_init_children children, each caching up to "
                        "max_pool backend connections."),
    "session-mode": ("PgBouncer in session mode", "A PgBouncer in session mode does not multiplex clients."),
    "shared-instance": ("Environments share one instance",
                        "Several environments on one instance: a spike in one takes the others' connections."),
    "burstable-production": ("Burstable class in production",
                             "A T (burstable) class serves an environment named like production: it throttles when "
                             "CPU credits run out."),
    "max-connections-override": ("max_connections far above the default",
                                 "max_connections is set above twice the default for the instance class."),
    "old-formula": ("Pre-2021 max_connections formula", "The parameter group uses the old {DBInstanceClassMemory/31457280} formula."),
    "surge-count": ("Integer max_surge not below the replica maximum",
                    "An integer max_surge (more than 1) not smaller than the replica maximum: a rollout may double the "
                    "fleet or more. Did you mean a percentage?"),
    "pool-below-threads": ("Pool smaller than the threads sharing it",
                           "A per-process pool smaller than the threads that share it: threads queue for connections "
                           "and time out."),
    "pool-above-concurrency": ("Pool larger than the concurrency that can use it",
                               "A thread-per-request pool whose size + max_overflow is above the threads of its process: "
                               "counted at its size; held to its threads it would open less, at no cost."),
    "django-pool-unknown": ("Django pooling cannot be vouched for",
                            "Whether Django's OPTIONS['pool'] (5.1+) is on is not in the topology; with it each "
                            "process opens 4 connections, whatever its threads."),
    "pool-held-at-max": ("Pool held at max_size",
                         "A min_size < max_size pool keeps what a burst opened until its idle timeout: steady counts "
                         "max_size."),
    "deployment": ("Something wrong in the deployment's files",
                   "The deployment's files hold something wrong that did not stop planner reading them, such as an "
                   "autoscaler whose target is in none of the files."),
}
# warnings `check --observed` adds (planner observe): documented in the README, not in the topology reference
OBSERVED_RULES: dict[str, tuple[str, str]] = {
    "observed-above-plan": ("Observed peak above the plan",
                            "CloudWatch saw more connections than the plan's demand: a source is missing from the "
                            "topology."),
    "observed-unmatched": ("Observed instance matches no database",
                           "An observed instance matches no database of the topology."),
    "observed-proxy": ("What an RDS Proxy held",
                       "CloudWatch's DatabaseConnections and ClientConnections of an observed RDS Proxy against its "
                       "share of the database; a pool that reached 90 % of its share made clients wait."),
}


def _rule(rule_id: str, level: str, help_uri: str, short: str, full: str) -> dict[str, Any]:
    return {
        "id": rule_id,
        "name": "".join(part.capitalize() for part in rule_id.split("-")),
        "shortDescription": {"text": short},
        "fullDescription": {"text": full},
        "help": {"text": f"{full} See {help_uri}"},
        "helpUri": help_uri,
        "defaultConfiguration": {"level": level},
    }


def sarif_rules() -> list[dict[str, Any]]:
    """Return every rule planner can report, budget rules first, then the lint codes."""
    rules = [_rule(rid, level, f"{DOCS_URI}#{anchor}", short, full) for rid, (level, anchor, short, full) in BUDGET_RULES.items()]
    rules += [_rule(code, "warning", f"{DOCS_URI}#warnings", short, full) for code, (short, full) in LINT_RULES.items()]
    rules += [_rule(code, "warning", f"{PROJECT_URI}/blob/main/README.md#aws-refresh-import-observe", short, full)
              for code, (short, full) in OBSERVED_RULES.items()]
    return rules


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


def _fingerprint(*parts: str) -> dict[str, str]:
    digest = hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()
    return {"plannerFinding/v1": digest[:32]}


def _gate_outcome(gate: "Gate | None", kind: str, subject: str, scenario: str) -> tuple[str, str] | None:
    """Return (outcome, why) when the gate judged this breach, else None."""
    for judged in gate.judged if gate is not None else ():
        if judged.breach.key == (kind, subject, scenario):
            return judged.outcome, judged.why
    return None


def _suppress(result: dict[str, Any], judged: tuple[str, str] | None) -> None:
    """Mark a breach the gate lets pass as suppressed: in the topology (a waiver) or outside it (the baseline)."""
    if judged is None or judged[0] == "fails":
        return
    kind = "inSource" if judged[0] == "waived" else "external"
    result["suppressions"] = [{"kind": kind, "status": "accepted", "justification": judged[1]}]


def _instance_results(report: BudgetReport, instance: InstanceBudget, gate: "Gate | None",
                      root: str | None) -> list[dict[str, Any]]:
    topology = report.topology
    name = instance.name
    results = []
    for scenario, result in instance.scenarios.items():
        if result.status == "ok":
            continue
        sources = breaking_sources(instance, scenario)
        largest = ", ".join(
            f"{s.source} {'unbounded' if s.unbounded_in(scenario) else s.demand[scenario]} ({s.working[scenario]})" for s in sources
        )
        line = "usable" if result.status == "over" else "alarm_at"
        limit = instance.usable if result.status == "over" else instance.alarm_at
        text = (
            f"{topology.name}: {name} ({_class_label(instance)}) is {result.status} in {scenario}: demand "
            f"{_demand(result.demand)} > {line} {limit} (max_connections {instance.max_connections.value} − reserved "
            f"{instance.reserved} = usable {instance.usable}; alarm_at {instance.alarm_at})."
            + (f" Largest sources: {largest}." if largest else "")
        )
        database_here = _location(topology.path, instance.line, root, f"database {instance.database} in {topology.name}")
        related = [database_here]
        related += [_location(topology.path, s.line, root, f"{s.source} in {topology.name}") for s in sources if s.line]
        primary = None
        # the value that breaks the budget was read from a deployment file: point there, where the fix goes
        for source in sources:
            deployed = source_deployed_value(topology, source, scenario)
            if deployed is not None:
                primary = _location(deployed.file, deployed.line, root)
                text += f" {source.source}'s {deployed.key_path.split('.', 2)[-1]} {deployed.value} is read from {deployed.origin}."
                break
        limit_value = deployed_value(topology, f"databases.{instance.database}.parameters.max_connections")
        if limit_value is not None:
            related.append(_location(limit_value.file, limit_value.line, root, f"max_connections {limit_value.value}"))
        rule = f"budget-{result.status}"
        entry: dict[str, Any] = {
            "ruleId": rule,
            "level": "error" if result.status == "over" else "warning",
            "message": {"text": text},
            "locations": [primary or database_here],
            "relatedLocations": [dict(loc, id=i) for i, loc in enumerate(related if primary else related[1:], 1)],
            "partialFingerprints": _fingerprint(rule, topology.path, topology.name, name, scenario),
            "properties": {"topology": topology.name, "instance": name, "scenario": scenario, "demand": result.demand,
                           "usable": instance.usable, "alarmAt": instance.alarm_at,
                           "maxConnections": instance.max_connections.value, "reserved": instance.reserved},
        }
        if not entry["relatedLocations"]:
            del entry["relatedLocations"]
        _suppress(entry, _gate_outcome(gate, "instance", name, scenario))
        results.append(entry)
    return results


def _pooler_results(report: BudgetReport, pooler: PoolerBudget, gate: "Gate | None", root: str | None) -> list[dict[str, Any]]:
    topology = report.topology
    results = []
    for scenario, result in pooler.scenarios.items():
        if result.status == "ok":
            continue
        clients = " + ".join(f"{c.source} {'unbounded' if c.unbounded_in(scenario) else c.demand[scenario]}" for c in pooler.clients)
        text = (f"{topology.name}: pooler {pooler.pooler} {pooler_breach(pooler)} in {scenario}: client demand "
                f"{_demand(result.demand)} ({clients}) > {pooler.client_working}")
        rule = "pooler-client-wait" if pooler.client_overflow == "wait" else "pooler-client-over"
        entry: dict[str, Any] = {
            "ruleId": rule,
            "level": "error" if result.status == "over" else "warning",
            "message": {"text": text},
            "locations": [_location(topology.path, pooler.line, root)],
            "partialFingerprints": _fingerprint(rule, topology.path, topology.name, pooler.pooler, scenario),
            "properties": {"topology": topology.name, "pooler": pooler.pooler, "scenario": scenario,
                           "demand": result.demand, "clientCapacity": pooler.client_capacity},
        }
        _suppress(entry, _gate_outcome(gate, "pooler", pooler.pooler, scenario))
        results.append(entry)
    return results


def _warning_result(report: BudgetReport, warning: Finding, root: str | None) -> dict[str, Any]:
    topology = report.topology
    return {
        "ruleId": warning.code,
        "level": "warning",
        "message": {"text": f"{topology.name}: {warning}"},
        "locations": [_location(topology.path, warning.line, root)],
        "partialFingerprints": _fingerprint(warning.code, topology.path, topology.name, warning.key_path),
        "properties": {"topology": topology.name, "keyPath": warning.key_path},
    }


def sarif_log(reports: Sequence[BudgetReport], gates: "Sequence[Gate] | None" = None,
              root: str | None = None) -> dict[str, Any]:
    """Return the SARIF log of every topology's findings: one run, every rule, a result per finding.

    ``root`` is the directory URIs are relative to (default: the current directory).
    """
    rules = sarif_rules()
    results: list[dict[str, Any]] = []
    for i, report in enumerate(reports):
        gate = gates[i] if gates is not None else None
        for instance in report.instances:
            results += _instance_results(report, instance, gate, root)
        for pooler in report.poolers:
            results += _pooler_results(report, pooler, gate, root)
        results += [_warning_result(report, warning, root) for warning in report.warnings]
    known = {rule["id"] for rule in rules}
    for result in results:  # a code added to the lints before this table learns it still gets a rule
        if result["ruleId"] not in known:
            known.add(result["ruleId"])
            rules.append(_rule(result["ruleId"], "warning", f"{DOCS_URI}#warnings", result["ruleId"], result["ruleId"]))
    index = {rule["id"]: n for n, rule in enumerate(rules)}
    for result in results:
        result["ruleIndex"] = index[result["ruleId"]]
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {"driver": {"name": "planner", "version": planner.__version__, "semanticVersion": planner.__version__,
                                "informationUri": PROJECT_URI, "rules": rules}},
            "results": results,
            "columnKind": "unicodeCodePoints",
        }],
    }


def render_sarif_many(reports: Sequence[BudgetReport], gates: "Sequence[Gate] | None" = None) -> str:
    """Return the SARIF 2.1.0 log of every topology's findings (an ok topology adds none)."""
    return json.dumps(sarif_log(reports, gates), indent=2, ensure_ascii=False)
