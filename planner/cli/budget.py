"""``check``, ``plan``, ``explain``, ``diff`` and ``report``: the commands over a topology's budget."""

import dataclasses
import os
import sys
import time
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from planner.cli.common import (
    AllowOutsideRootOption,
    CatalogOption,
    CheckFormat,
    FailOn,
    format_destination,
    parse_formats,
    ObservationsOption,
    OutputOption,
    ProfileOption,
    SourceOption,
    TableFormat,
    TopologyArgument,
    _emit,
    _emit_files,
    _load,
    _load_all,
    source_overrides,
    _scenarios,
    writer_of,
)
from planner.errors import EXIT_OVER, InputError
from planner.model import ENGINES
from planner.reserves import parse_engine_version

if TYPE_CHECKING:
    from planner.model import Topology

from planner.cli.app import app


TopologiesArgument = Annotated[
    list[Path],
    typer.Argument(metavar="TOPOLOGY...", help="Topology files (.yaml, .yml, .toml or .json); several give one verdict, the worst.",
                   show_default=False),
]


@app.command(short_help="Check topologies against their connection budgets (the CI gate).")
def check(
    topologies: TopologiesArgument,
    format: Annotated[
        Optional[list[str]],
        typer.Option("--format", "-f", metavar="FORMAT[=FILE]", parser=format_destination,
                     help="Output format: text (the default), json, markdown, github (workflow annotations), csv, sarif "
                     "(SARIF 2.1.0 for GitHub code scanning), junit (JUnit XML for GitLab and Jenkins test reports). "
                     "Repeatable, one computation for all: FORMAT=FILE writes that format to FILE; at most one format "
                     "without a file, which prints (or goes to -o). Files are written only once everything succeeded.",
                     show_default=False),
    ] = None,
    fail_on: Annotated[
        FailOn,
        typer.Option(
            "--fail-on",
            help="When to exit 1. over (the default): a scenario's demand is above usable. warn: also when a scenario's "
            "demand is above the alarm line (alarm_at, set by headroom) though within usable. The warnings list "
            "(lint warnings such as lambda-unreserved) never fails the check, whatever this says.",
        ),
    ] = FailOn.over,
    scenario: Annotated[
        Optional[list[str]], typer.Option("--scenario", "-s", help="Scenarios to check: steady, peak, rollout (repeat or comma-separate).")
    ] = None,
    catalog: CatalogOption = None,
    observations: ObservationsOption = None,
    source: SourceOption = None,
    profile: ProfileOption = None,
    allow_outside_root: AllowOutsideRootOption = False,
    output: OutputOption = None,
    observed: Annotated[
        Optional[Path], typer.Option("--observed", help="Observations file from planner observe: show each instance's observed peak, warn where the plan is below it (one topology only).")
    ] = None,
    baseline: Annotated[
        Optional[Path], typer.Option("--baseline", help="Fail only on breaches that are new or worse than this file "
                                     "records (from --write-baseline): adopt the gate on an estate already over budget.")
    ] = None,
    write_baseline: Annotated[
        Optional[Path], typer.Option("--write-baseline", help="Record today's breaches (over, and above the alarm line) "
                                     "in this file, for --baseline; the run then passes on them.")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="text and markdown: list the notes too (how a number "
                                          "was counted: an estimate, a fleet's pools), not only the warnings.")] = False,
    sarif_suppressions: Annotated[
        bool, typer.Option("--sarif-suppressions", help="sarif: keep the breaches a waiver or --baseline lets pass, as "
                           "results marked suppressed (for tools that read SARIF suppressions; GitHub code scanning "
                           "does not, so by default they are left out).")
    ] = False,
) -> None:
    """Check topologies against their connection budgets: the CI gate.

    Exit 0 when every instance and pooler of every topology is within budget, 1 when something
    is over (or above its alarm line, with --fail-on warn), 2 for invalid input: every problem
    of every file at once, one line each. Warnings never change the exit code. A breach covered
    by one of the topology's `waivers` (until its expiry date) or recorded in --baseline warns
    instead of failing; an expired waiver fails with its reason.

    \b
    Examples:
      planner check shop.yaml
      planner check shop.yaml --format github --fail-on warn
      planner check shop.yaml --format json --scenario rollout
      planner check shop.yaml --verbose                # the notes too
      planner check infra/*.yaml --format markdown -o comment.md
      planner check infra/*.yaml --format github --format sarif=planner.sarif --format junit=planner.xml
      planner check infra/*.yaml --write-baseline planner-baseline.json
      planner check infra/*.yaml --baseline planner-baseline.json --format github
    """
    from planner.budget import compute_budget
    from planner.render.outputs import CheckRun, render_check

    baseline_file = [(f"--write-baseline {write_baseline}", write_baseline)] if write_baseline is not None else []
    outputs = parse_formats(format, output, baseline_file)
    formats = {o.format for o in outputs}
    if sarif_suppressions and CheckFormat.sarif not in formats:
        raise InputError("--sarif-suppressions: only the SARIF log has suppressions; add --format sarif (or "
                         "--format sarif=planner.sarif), or drop the flag")
    if baseline is not None and write_baseline is not None:
        raise InputError("--baseline and --write-baseline: give one (write the baseline once, then check against it)")
    paths = list(dict.fromkeys(topologies))  # a file named twice is checked once
    if observed is not None and len(paths) > 1:
        raise InputError("--observed: observed peaks belong to one topology's instances; "
                         "run check once per topology with its own --observed file")
    chosen = _scenarios(scenario)
    recorded = None
    if baseline is not None:
        from planner.budget.gate import load_baseline

        recorded = load_baseline(baseline)
    times: list[float] = []  # what reading, computing and judging each topology took, for JUnit's `time`
    loaded, cat = _load_all(paths, catalog, observations, sources=source, profiles=profile, outside_root=allow_outside_root,
                            timings=times)
    reports = []
    for i, topo in enumerate(loaded):
        started = time.perf_counter()
        reports.append(compute_budget(topo, cat, chosen))
        times[i] += time.perf_counter() - started
    peaks = None
    if observed is not None:  # observed peaks: warnings for every format, a column where there are columns
        from planner.live.observe import apply_observed

        report, peaks = apply_observed(reports[0], observed)
        reports = [report]
    # only the scenarios' statuses decide, as waivers and the baseline let them; the warnings list never
    # does (docs/topology.md, Exit codes)
    failing = {"over"} if fail_on is FailOn.over else {"over", "warn"}
    gates = None  # without waivers or a baseline the gate is the status: nothing to judge, nothing to import
    files: dict[Path, str] = {}
    if write_baseline is not None or recorded is not None or any(topology.waivers for topology in loaded):
        from planner.budget.gate import baseline_document, judge, parse_baseline

        today = datetime.now(timezone.utc).date()
        if write_baseline is not None:
            files[write_baseline] = baseline_document(reports, today)
            recorded = parse_baseline(files[write_baseline], str(write_baseline))
        gates = []
        for i, report in enumerate(reports):
            started = time.perf_counter()
            gates.append(judge(report, failing, today, recorded))
            times[i] += time.perf_counter() - started
    folded = None
    if not verbose and formats & {CheckFormat.text, CheckFormat.markdown}:
        from planner.budget.grouping import fold_notes

        folded = [fold_notes(report) for report in reports]
    run = CheckRun(reports, gates, folded, peaks, fail_on.value, times, sarif_suppressions)
    rendered = [(o, render_check(o.format.value, run)) for o in outputs]
    files.update({o.path: text for o, text in rendered if o.path is not None})
    _emit_files(files)  # every file or none, and only once every output is rendered
    if write_baseline is not None:
        assert recorded is not None
        count = sum(len(r) for r in recorded.topologies.values())
        print(f"planner: baseline written: {write_baseline} ({count} breach{'es' if count != 1 else ''} recorded)",
              file=sys.stderr)
    if CheckFormat.junit in formats:
        from planner.render.junit import name_collision

        collision = name_collision(reports)
        if collision is not None:
            print(f"planner: {collision}", file=sys.stderr)
    for o, text in rendered:
        if o.path is None:
            _emit(text, None, human=o.format is CheckFormat.text)
    if CheckFormat.github in formats and os.environ.get("GITHUB_STEP_SUMMARY"):
        from planner.render.check import render_markdown_many

        with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as summary:
            summary.write(render_markdown_many(reports, gates=gates) + "\n")
    from planner.render.check import overall_status

    failed = any(gate.failed for gate in gates) if gates is not None else overall_status(reports) in failing
    if failed:
        raise typer.Exit(EXIT_OVER)


@app.command(short_help="List the instance classes that hold each database, with prices.")
def plan(
    topology: TopologyArgument,
    engine: Annotated[Optional[str], typer.Option("--engine", help="postgres or aurora-postgresql (default: the database's).")] = None,
    family: Annotated[
        Optional[list[str]], typer.Option("--family", help="Only these families, e.g. m7g or r6g,r7g (repeatable).")
    ] = None,
    top: Annotated[int, typer.Option("--top", "-n", min=1, help="How many candidates per database.")] = 5,
    database: Annotated[Optional[str], typer.Option("--database", "-d", help="Only this database.")] = None,
    include_retired: Annotated[bool, typer.Option("--include-retired", help="Also consider retired classes (t2, m3, m4, r3, r4).")] = False,
    burstable: Annotated[
        Optional[bool], typer.Option("--burstable/--no-burstable", help="Propose burstable classes (db.t*: they throttle when "
                                     "CPU credits run out), or never (default: not for a database that serves production).")
    ] = None,
    engine_version: Annotated[
        Optional[str], typer.Option("--engine-version", help='Plan as if the databases ran this version, e.g. "17" (default: their own).')
    ] = None,
    deployment: Annotated[
        Optional[str], typer.Option("--deployment", help="Plan for this deployment: single-az, multi-az, multi-az-cluster, "
                                    "aurora-standard, aurora-io-optimized (default: the database's).")
    ] = None,
    format: Annotated[TableFormat, typer.Option("--format", "-f", help="Output format.")] = TableFormat.text,
    catalog: CatalogOption = None,
    observations: ObservationsOption = None,
    source: SourceOption = None,
    profile: ProfileOption = None,
    allow_outside_root: AllowOutsideRootOption = False,
    output: OutputOption = None,
) -> None:
    """List the instance classes that hold each database's worst scenario under the alarm line.

    Only classes AWS offers for the database's engine, version and deployment; smallest first,
    then cheapest where a price is known (prices of that deployment). Works when instance_class
    is missing. Burstable classes are left out for production (an environment named prod,
    production, live or prd, or no environments declared). The class the database runs on is a
    row marked "now"; USD/MONTH is the whole database (writer, Multi-AZ standby, readers),
    and how it adds up is written under each table.

    \b
    Examples:
      planner plan shop.yaml
      planner plan shop.yaml --family m7g,r7g --top 3
      planner plan shop.yaml --deployment multi-az --engine-version 17
      planner plan shop.yaml --engine aurora-postgresql --format json
      planner plan shop.yaml --burstable
    """
    from planner.budget.plan import plan_topology
    from planner.render import plan as render

    if engine is not None and engine not in ENGINES[:2]:
        raise InputError(f"--engine: unknown engine {engine!r} (choose postgres or aurora-postgresql)")
    families = [f.strip() for value in family or [] for f in value.split(",") if f.strip()]
    topo, cat = _load(topology, catalog, observations, limits=False, sources=source, profiles=profile, outside_root=allow_outside_root)
    topo = _what_if(topo, engine or None, engine_version, deployment)
    plans = plan_topology(topo, cat, engine, families, include_retired, database, burstable)
    renderer = {TableFormat.text: render.render_text, TableFormat.json: render.render_json, TableFormat.markdown: render.render_markdown}[format]
    _emit(renderer(topo, plans, top), output, human=format is TableFormat.text)


def _what_if(topology: "Topology", engine: str | None, engine_version: str | None, deployment: str | None) -> "Topology":
    """Return ``topology`` with every RDS database on ``engine_version`` and ``deployment`` (``plan``'s what-ifs)."""
    from dataclasses import replace

    from planner.model import DEPLOYMENTS, RDS_ENGINES

    if engine_version is not None:
        try:
            parse_engine_version(engine_version)
        except ValueError:
            raise InputError(f'--engine-version: {engine_version!r} is not a version (write e.g. "16" or "15.8")') from None
    changed = {}
    for name, db in topology.databases.items():
        target = engine or db.engine
        if target not in RDS_ENGINES:
            changed[name] = db
            continue
        if deployment is not None and deployment not in DEPLOYMENTS[target]:
            raise InputError(f"--deployment: {deployment!r} is not a {target} deployment (choose {', '.join(DEPLOYMENTS[target])})")
        changed[name] = replace(db, engine_version=engine_version or db.engine_version,
                                deployment=deployment if deployment is not None else db.deployment)  # fmt: skip
    return replace(topology, databases=changed)


@app.command(short_help="Write out the arithmetic behind every number.")
def explain(
    topology: TopologyArgument,
    database: Annotated[Optional[str], typer.Option("--database", "-d", help="Only this database.")] = None,
    scenario: Annotated[
        Optional[list[str]], typer.Option("--scenario", "-s", help="Scenarios to explain (repeat or comma-separate).")
    ] = None,
    catalog: CatalogOption = None,
    observations: ObservationsOption = None,
    source: SourceOption = None,
    profile: ProfileOption = None,
    allow_outside_root: AllowOutsideRootOption = False,
    output: OutputOption = None,
) -> None:
    """Write out the arithmetic: the formula with DBInstanceClassMemory substituted, each
    reserved slot, and each source's multiplication per scenario.

    \b
    Examples:
      planner explain shop.yaml
      planner explain shop.yaml --database main --scenario rollout
    """
    from planner.budget import compute_budget
    from planner.render.explain import render_explain

    topo, cat = _load(topology, catalog, observations, sources=source, profiles=profile, outside_root=allow_outside_root)
    if database is not None and database not in topo.databases:
        raise InputError(f"--database: no database named {database!r} in {topo.path} (choose from {', '.join(topo.databases)})")
    report = compute_budget(topo, cat, _scenarios(scenario))
    _emit(render_explain(report, database), output, human=True)


class DiffFailOn(str, Enum):
    over = "over"
    warn = "warn"
    increase = "increase"


@app.command(short_help="Compare two versions of a topology (the pull-request view).")
def diff(
    base: Annotated[
        str, typer.Argument(metavar="BASE", help="The topology before: a file, or git:REF:PATH (e.g. git:origin/main:infra/topology.yaml).", show_default=False)
    ],
    head: Annotated[str, typer.Argument(metavar="HEAD", help="The topology after: a file, or git:REF:PATH.", show_default=False)],
    format: Annotated[TableFormat, typer.Option("--format", "-f", help="Output format.")] = TableFormat.text,
    fail_on: Annotated[
        Optional[list[DiffFailOn]],
        typer.Option(
            "--fail-on",
            help="When to exit 1 (repeatable): over = HEAD is over budget (the default); warn = HEAD warns or is over; "
            "increase = an instance's worst-scenario demand rose.",
        ),
    ] = None,
    scenario: Annotated[
        Optional[list[str]], typer.Option("--scenario", "-s", help="Scenarios to compare: steady, peak, rollout (repeat or comma-separate).")
    ] = None,
    base_source: Annotated[
        Optional[list[str]],
        typer.Option("--base-source", metavar="KIND=PATH", help="BASE reads this kind's deployment files from PATH "
                     "(e.g. manifests rendered from the base branch) instead of its `sources` (repeatable)."),
    ] = None,
    head_source: Annotated[
        Optional[list[str]],
        typer.Option("--head-source", metavar="KIND=PATH", help="HEAD reads this kind's deployment files from PATH instead of its `sources` (repeatable)."),
    ] = None,
    profile: ProfileOption = None,
    allow_outside_root: AllowOutsideRootOption = False,
    catalog: CatalogOption = None,
    observations: ObservationsOption = None,
    output: OutputOption = None,
) -> None:
    """Compare two versions of a topology: what a change does to every instance's connections.

    BASE and HEAD are files, or git:REF:PATH read from the git repository of the current
    directory without a checkout (PATH from the repository's root). A topology with `sources`
    reads them on its side: at REF for git:REF:PATH, or from --base-source/--head-source (files
    rendered from each branch), and the diff lists every deployed value that changed. Exit 1 when
    HEAD is over budget (or as --fail-on says), 0 otherwise, 2 for invalid input.

    \b
    Examples:
      planner diff before.yaml after.yaml
      planner diff git:origin/main:infra/topology.yaml infra/topology.yaml --format markdown -o comment.md
      planner diff git:HEAD~1:topology.yaml git:HEAD:topology.yaml --fail-on increase --format json
      planner diff infra/topology.yaml infra/topology.yaml --base-source kubernetes=rendered/base/ --head-source kubernetes=rendered/head/
    """
    from planner.adapters.git import load_topology_spec
    from planner.budget import BudgetReport, compute_budget
    from planner.catalog import load_catalog
    from planner.errors import Problem
    from planner.render import diff as render
    from planner.review.diff import diff_reports

    chosen = _scenarios(scenario)
    sides = [(base, source_overrides(base_source, "--base-source", profile, allow_outside_root)),
             (head, source_overrides(head_source, "--head-source", profile, allow_outside_root))]
    if sides[0] == sides[1]:
        sides = sides[:1]
    # Report the problems of both sides at once: a CI log then shows everything to fix.
    topologies: list[Topology] = []
    problems: list[Problem | str] = []
    for spec, overrides in sides:
        try:
            loaded = load_topology_spec(spec, overrides=overrides)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        topologies.append(loaded)
    if problems:
        raise InputError(problems)
    cat = load_catalog(catalog, observations)
    reports: list[BudgetReport] = []
    for topo in topologies:
        try:
            reports.append(compute_budget(topo, cat, chosen))
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    # one file, two renderings: the output says which side read which files
    shown = tuple(" ".join(f"{kind}={path}" for kind, paths in (o.paths if o else {}).items() for path in paths)
                  for _, o in (sides[0], sides[-1]))
    result = dataclasses.replace(diff_reports(reports[0], reports[-1]), overrides=shown)
    renderer = {TableFormat.text: render.render_text, TableFormat.json: render.render_json, TableFormat.markdown: render.render_markdown}[format]
    _emit(renderer(result), output, human=format is TableFormat.text)
    reasons = result.failures(c.value for c in (fail_on or [DiffFailOn.over]))
    if reasons:
        for reason in reasons:  # the report may have gone to a file: say in the log why the job fails
            print(f"planner: {reason}", file=sys.stderr)
        raise typer.Exit(EXIT_OVER)


@app.command(short_help="Write a self-contained HTML report for review.")
def report(
    topology: TopologyArgument,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Where to write the HTML (default: reports/NAME.html; only once it succeeded).")
    ] = None,
    baseline: Annotated[
        Optional[str], typer.Option("--baseline", metavar="BASE", help="Another topology to show the change against: a file, "
                                    "or git:REF:PATH (e.g. git:origin/main:infra/topology.yaml).")
    ] = None,
    title: Annotated[Optional[str], typer.Option("--title", help="The page title (default: 'Connection budget: NAME').")] = None,
    observed: Annotated[
        Optional[Path], typer.Option("--observed", help="Observations file from planner observe: each instance's observed peak, and a warning where the plan is below it.")
    ] = None,
    samples: Annotated[
        Optional[Path], typer.Option("--samples", help="Samples file from planner inspect --sample -o: per service, connections held vs active at once.")
    ] = None,
    database: Annotated[
        Optional[str], typer.Option("--database", "-d", help="With --samples: the database the samples were taken on (when the topology has several).")
    ] = None,
    catalog: CatalogOption = None,
    observations: ObservationsOption = None,
    source: SourceOption = None,
    profile: ProfileOption = None,
    allow_outside_root: AllowOutsideRootOption = False,
) -> None:
    """Write a self-contained HTML report for review: verdicts, charts, every candidate class,
    breaking points, tables, and the change against a baseline.

    Exit 0 once the file is written, even when over budget (the report is for review; use
    check as the gate), 2 for invalid input. The file loads nothing from the network.

    \b
    Examples:
      planner report shop.yaml
      planner report shop.yaml -o report.html --title "Shop: Black Friday sizing"
      planner report shop.yaml --baseline main-branch/shop.yaml
      planner report shop.yaml --baseline git:origin/main:shop.yaml
      planner report shop.yaml --observed observed.json   # from planner observe
      planner report shop.yaml --samples samples.json     # from planner inspect --sample -o
    """
    from planner.budget import compute_budget
    from planner.render.html import render_report

    topo, cat = _load(topology, catalog, observations, sources=source, profiles=profile, outside_root=allow_outside_root)
    before = None
    if baseline is not None:
        from planner.adapters.git import load_topology_spec

        before = compute_budget(load_topology_spec(baseline), cat)
    report = compute_budget(topo, cat)
    peaks = None
    if observed is not None:
        from planner.live.observe import apply_observed

        report, peaks = apply_observed(report, observed)
    sampled = None
    if samples is not None:
        from planner.live.sample import read_samples
        from planner.live.usage import sampled_use

        taken = read_samples(samples)
        # the samples file names the database inspect compared it with; --database says otherwise
        chosen = database or (taken.topology or {}).get("database")
        sampled = sampled_use(report, writer_of(report, chosen, topo.path), taken)
    html = render_report(report, cat, before, title, peaks, sampled)
    target = output if output is not None else Path("reports") / f"{_file_stem(topo.name)}.html"
    _emit(html, target)
    print(f"report written: {target}", file=sys.stderr)


def _file_stem(name: str) -> str:
    """Return a topology name as a safe file name: its `name:` key may hold any text."""
    stem = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "._-") else "-" for ch in name).strip(".-")
    return stem or "topology"
