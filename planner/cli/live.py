"""``planner inspect`` and ``planner verify``: the commands that look at live servers.

Registered on the app in :mod:`planner.cli`. psycopg is imported only through
:mod:`planner.adapters.postgres`, inside these commands, so ``planner check`` never pays for it.
The pure logic lives in :mod:`planner.live.inspect` and :mod:`planner.live.verify`; this module parses
options, asks for confirmation, and renders ``inspect``.
"""

import json
import sys
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Iterator, Optional

import typer

from planner.cli.app import app
from planner.cli.common import AllowOutsideRootOption, CatalogOption, ObservationsOption, OutputOption, ProfileOption, SourceOption, TopologyArgument, _emit, _load, writer_of
from planner.errors import EXIT_EXTERNAL, EXIT_OVER, InputError
from planner.model import SCENARIOS

if TYPE_CHECKING:
    from planner.adapters.server import Snapshot
    from planner.budget import BudgetReport, InstanceBudget
    from planner.live.inspect import Advice
    from planner.live.sample import Samples, Window
    from planner.live.usage import Activity, Leak
    from planner.render.sample import SampleReport


class LiveFormat(str, Enum):
    text = "text"
    json = "json"


YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do it without asking (for scripts).")]
DsnOption = Annotated[
    Optional[str],
    typer.Option("--dsn", help="The server: a postgresql:// URL or key=value string (keep the password in PGPASSWORD or ~/.pgpass)."),
]


def _confirm(question: str, yes: bool, option: str) -> None:
    """Ask on the terminal unless ``--yes``; without a terminal, insist on ``--yes``."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise InputError(f"{option}: needs confirmation and there is no terminal to ask: add --yes")
    if not typer.confirm(question, default=False, err=True):
        raise typer.Abort()


EXIT_INTERRUPTED = 130


@contextmanager
def _interruptible() -> Iterator[None]:
    """Turn Ctrl-C into one line on stderr and exit 130.

    Typer would turn the KeyboardInterrupt into a silent exit 130 before :func:`planner.cli.main`
    sees it; caught here, every ``with`` and ``finally`` below has already closed what it opened
    (sessions, the throwaway server and its directory).
    """
    try:
        yield
    except KeyboardInterrupt:
        print("planner: interrupted; everything opened was closed", file=sys.stderr)
        raise typer.Exit(EXIT_INTERRUPTED) from None


def _statement_timeout(text: str) -> str:
    """Return ``--statement-timeout`` (30s, 250ms, a number of seconds) as a PostgreSQL value."""
    from planner.live.inspect import parse_duration

    ms = round(parse_duration(text, "--statement-timeout") * 1000)
    if ms < 1:
        raise InputError(f"--statement-timeout: {text!r} is not a time limit (give 1ms or more; 0 would turn the limit off)")
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


# --------------------------------------------------------------------------- inspect


def _terminate(conn: Any, dsn: str, advice: "list[Advice]", yes: bool) -> dict[int, bool | str]:
    """Run the advised ``pg_terminate_backend`` statements after asking (or --yes); return what each did."""
    from planner.adapters.postgres import run_terminations

    targets = [(a.pid, a.sql) for a in advice if a.kind == "terminate" and a.pid is not None]
    if targets:
        _confirm(f"terminate {len(targets)} idle-in-transaction session(s) (pids {', '.join(str(p) for p, _ in targets)})?", yes, "--terminate")
    return run_terminations(conn, dsn, targets)


def _bouncer_budget(snapshot: "Snapshot | None", report: "BudgetReport | None", database: str | None) -> dict[str, Any] | None:
    """Return the budget PgBouncer's server connections count against: the live one, else the plan's."""
    if snapshot is not None:
        return {"source": "live", "where": snapshot.where, "usable": snapshot.settings.usable}
    if report is not None:
        instance = writer_of(report, database, report.topology.path)
        return {"source": "plan", "where": f"{instance.name} of {report.topology.path}", "usable": instance.usable}
    return None


@app.command(short_help="Show who holds a live server's connection slots.")
@_interruptible()
def inspect(
    dsn: DsnOption = None,
    pgbouncer: Annotated[
        Optional[str], typer.Option("--pgbouncer", help="PgBouncer's admin console, e.g. postgresql://admin@host:6432/pgbouncer.")
    ] = None,
    topology: Annotated[Optional[Path], typer.Option("--topology", "-t", help="Compare the sessions with this topology's plan.")] = None,
    database: Annotated[Optional[str], typer.Option("--database", "-d", help="The topology's database this server is (its writer).")] = None,
    format: Annotated[LiveFormat, typer.Option("--format", "-f", help="Output format.")] = LiveFormat.text,
    idle_after: Annotated[str, typer.Option("--idle-after", help="Idle in a transaction longer than this is stale: 30s, 5m, 1h or seconds.")] = "5m",
    terminate: Annotated[bool, typer.Option("--terminate", help="Run the advised pg_terminate_backend (asks first, unless --yes).")] = False,
    yes: YesOption = False,
    connect_timeout: Annotated[
        Optional[int],
        typer.Option("--connect-timeout", min=1, help="Seconds to wait for a server to answer (default: the DSN's connect_timeout, else 10; libpq waits at least 2)."),
    ] = None,
    statement_timeout: Annotated[
        str, typer.Option("--statement-timeout", help="Cancel any of inspect's queries that runs longer: 10s, 500ms, 1m or seconds.")
    ] = "10s",
    catalog: CatalogOption = None,
    observations: ObservationsOption = None,
    source: SourceOption = None,
    profile: ProfileOption = None,
    allow_outside_root: AllowOutsideRootOption = False,
    sample: Annotated[
        Optional[str],
        typer.Option("--sample", metavar="DURATION", help="Sample pg_stat_activity over this window (30s, 30m, 1h; at most 24h): "
                     "held vs used per application_name, user and client, leaks; one query per --every."),
    ] = None,
    every: Annotated[
        Optional[str], typer.Option("--every", metavar="INTERVAL", help="With --sample: the interval between samples (default 1s, at least 100ms).")
    ] = None,
    output: Annotated[
        Optional[Path],
        typer.Option("--output", "-o", help="Write the report to this file instead of stdout (only once it succeeded); with --sample: "
                     "the samples file (versioned JSON, for recommend --observed), the report still on stdout."),
    ] = None,
) -> None:
    """Show who holds a live server's connection slots, in one read-only session.

    The budget with the server's own settings (max_connections, each reserved slot with who may
    use it, usable, in use, free) and what the connected role itself may open (its superuser,
    rds_superuser or pg_use_reserved_connections rights), sessions by application_name, user, database, client, state and backend
    type, sessions idle in a transaction longer than --idle-after, the oldest transaction; with
    --topology, planned vs actual per source (application_name SERVICE or SERVICE@ENV), sources
    above their plan and unknown clients; advice as exact SQL, executed only with --terminate.
    --pgbouncer reads PgBouncer's admin console (SHOW POOLS, DATABASES, CONFIG). Exit 3 when the
    server cannot be reached or is full, does not answer within --connect-timeout or
    --statement-timeout, or cuts the connection; the password never appears in any output.

    --sample DURATION reads pg_stat_activity once per --every over the window instead, in one
    read-only session (one query per sample, nothing else), and reports per application_name and
    user, per user and per client: connections held (min/median/max), active at once
    (median/p95/max), idle, idle in transaction and its longest; with --topology each source's
    declared pool next to what it held and used ("web@prod holds 120 (pool 15 × 8 processes), at
    most 14 active in 30m"). Leaks are named (sessions idle in a transaction past --idle-after,
    held connections rising while use does not) with their remedies as SQL; --terminate ends the
    stale sessions still idle at the window's end. -o FILE keeps the samples for planner recommend
    --observed FILE. A window cut short keeps what it sampled, says it is partial and writes -o:
    exit 3 when the server restarted or cut the session, 130 on Ctrl-C; sessions the role may not
    see are counted and the grant that shows them is named.

    \b
    Examples:
      planner inspect --dsn postgresql://app@db.example.com/shop
      planner inspect --dsn "$DATABASE_URL" --topology shop.yaml --database main --format json
      planner inspect --dsn postgresql://admin@db/shop --idle-after 10m --terminate
      planner inspect --pgbouncer postgresql://admin@bouncer:6432/pgbouncer --dsn postgresql://app@db/shop
      planner inspect --dsn "$DATABASE_URL" --sample 30m --topology shop.yaml -o samples.json
      planner inspect --dsn "$DATABASE_URL" --sample 10m --every 500ms --idle-after 1m
    """
    from planner.live.inspect import advise, compare_with_plan, parse_duration

    seconds = parse_duration(idle_after)
    limit = _statement_timeout(statement_timeout)
    window = None
    if sample is not None:
        from planner.live.sample import plan_window

        window = plan_window(sample, every)
    elif every is not None:
        raise InputError("--every: sets the interval of --sample DURATION; give --sample too")
    if dsn is None and pgbouncer is None:
        raise InputError("inspect: give --dsn URL (a PostgreSQL server) or --pgbouncer URL (PgBouncer's admin console), or both")
    if window is not None and (pgbouncer is not None or dsn is None):
        raise InputError("--sample: samples a PostgreSQL server's pg_stat_activity: give --dsn URL, without --pgbouncer")
    if database is not None and topology is None:
        raise InputError("--database: names a database of --topology; give --topology too")
    if window is not None and terminate and not yes and not sys.stdin.isatty():
        raise InputError("--terminate: needs confirmation and there is no terminal to ask: add --yes")
    report = None
    if topology is not None:
        from planner.budget import compute_budget

        topo, cat = _load(topology, catalog, observations, sources=source, profiles=profile, outside_root=allow_outside_root)
        report = compute_budget(topo, cat)
        writer_of(report, database, topo.path)  # fail early on a bad --database, before connecting
    if window is not None:
        assert dsn is not None
        _inspect_sample(dsn, window, seconds, report, database, topology, format, terminate, yes, connect_timeout, limit, output)
        return
    doc: dict[str, Any] = {}
    text: list[str] = []
    snapshot = None
    if dsn is not None:
        from planner.adapters.postgres import connect_read_only, read_snapshot

        conn = connect_read_only(dsn, connect_timeout=connect_timeout, statement_timeout=limit)
        try:
            snapshot = read_snapshot(conn, dsn)
            comparison = None
            if report is not None:
                instance = writer_of(report, database, report.topology.path)
                poolers = [p for p in report.poolers if p.database == instance.database]
                comparison = compare_with_plan(instance, poolers, snapshot)
            advice = advise(snapshot, seconds)
            terminated = _terminate(conn, dsn, advice, yes) if terminate else None
        finally:
            conn.close()
        from planner.render.inspect import inspect_dict, inspect_text

        doc.update(inspect_dict(snapshot, seconds, comparison, advice, terminated))
        text.append(inspect_text(snapshot, seconds, comparison, advice, terminated))
    if pgbouncer is not None:
        from planner.adapters.pgbouncer import read_pgbouncer
        from planner.render.inspect import bouncer_dict, bouncer_text

        state = read_pgbouncer(pgbouncer, connect_timeout)
        budget = _bouncer_budget(snapshot, report, database)
        doc["pgbouncer"] = bouncer_dict(state, budget)
        text.append(bouncer_text(state, budget))
    _emit(json.dumps(doc, indent=2) if format is LiveFormat.json else "\n\n".join(text), output)


def _inspect_sample(
    dsn: str, window: "Window", idle_after: float, report: "BudgetReport | None", database: str | None, topology: Optional[Path],
    format: LiveFormat, terminate: bool, yes: bool, connect_timeout: int | None, limit: str, output: Optional[Path],
) -> None:
    """Sample the window, report it, write the samples file; exit 3 (session lost) or 130 (Ctrl-C) when it is partial."""
    from planner.adapters.postgres import connect_read_only, describe_target, read_activity
    from planner.live.sample import INTERRUPTED, Samples, sample_window, samples_json

    if output is not None and output.is_dir():  # said before a window is spent, not after
        raise InputError(f"{output}: cannot write the samples file: it is a directory; choose a file path with -o")
    samples = Samples(describe_target(dsn), window, idle_after)
    if report is not None:
        samples.topology = {"path": str(topology), "database": writer_of(report, database, report.topology.path).database}
    conn = connect_read_only(dsn, connect_timeout=connect_timeout, statement_timeout=limit)
    terminated: dict[int, bool | str] | None = None
    try:
        with _sampling(window.count) as progress:
            sample_window(samples, lambda: read_activity(conn, dsn), progress=progress)
        from planner.live.usage import Activity, advise_leaks, find_leaks

        activity = Activity(samples)  # the samples as arrays, once: every table below reads them
        leaks = find_leaks(samples, activity)
        advice = advise_leaks(samples, leaks)
        if terminate and samples.stopped is None:  # never after Ctrl-C, nor on a lost session
            terminated = _terminate(conn, dsn, advice, yes)
    finally:
        conn.close()
    from planner.render.sample import render_dict, render_text

    sample_report = _sample_report(activity, report, database, leaks, advice, terminated)
    # the report first: a samples file that cannot be written (exit 2) does not take the window's result with it
    _emit(json.dumps(render_dict(sample_report), indent=2) if format is LiveFormat.json else render_text(sample_report), None)
    if output is not None:
        _emit(samples_json(samples), output)
    stop = samples.stop_sentence()
    if stop is not None:
        kept = f"; the samples are in {output}" if output is not None else ""
        print(f"planner: {stop}{kept}", file=sys.stderr)
        raise typer.Exit(EXIT_INTERRUPTED if samples.stopped == INTERRUPTED else EXIT_EXTERNAL)


def _sample_report(activity: "Activity", report: "BudgetReport | None", database: str | None, leaks: list["Leak"],
                   advice: list["Advice"], terminated: dict[int, bool | str] | None) -> "SampleReport":  # fmt: skip
    """Return what inspect --sample reports: the tables, the plan against the window (with a topology), leaks, advice."""
    from planner.live.usage import GROUPINGS, compare_usage
    from planner.render.sample import SampleReport

    samples = activity.samples
    tables = [(by, activity.usage_by(by)) for by in GROUPINGS]
    plan = unknown = None
    label = ""
    if report is not None:
        instance = writer_of(report, database, report.topology.path)
        poolers = [p for p in report.poolers if p.database == instance.database]
        plan, unknown = compare_usage(report.topology, instance, poolers, samples, activity)
        label = f"{instance.name} of {report.topology.path}"
    return SampleReport(samples, activity.totals(), tables, leaks, advice, plan, label, unknown or (), terminated)


@contextmanager
def _sampling(count: int) -> Iterator[Any]:
    """Yield a progress callback drawing a bar on stderr (on a terminal only, as _progress does), or None."""
    if not sys.stderr.isatty() or count < 2:
        yield None
        return
    with typer.progressbar(length=count, label="sampling pg_stat_activity", file=sys.stderr) as bar:
        done = [0]

        def update(taken: int) -> None:
            bar.update(taken - done[0])
            done[0] = taken

        yield update


# --------------------------------------------------------------------------- verify


@app.command(short_help="Open a scenario's connections on a real server.")
@_interruptible()
def verify(
    topology: TopologyArgument,
    database: Annotated[Optional[str], typer.Option("--database", "-d", help="The database to verify (its writer).")] = None,
    local: Annotated[bool, typer.Option("--local", help="Start a throwaway PostgreSQL with the planned settings (removed afterwards).")] = False,
    dsn: DsnOption = None,
    scenario: Annotated[str, typer.Option("--scenario", "-s", help="steady, peak or rollout.")] = "rollout",
    scale: Annotated[
        Optional[int], typer.Option("--scale", min=1, help="--local: divide max_connections and each demand by K (default: so that ≤ 200 connections).")
    ] = None,
    yes: YesOption = False,
    format: Annotated[LiveFormat, typer.Option("--format", "-f", help="Output format.")] = LiveFormat.text,
    catalog: CatalogOption = None,
    observations: ObservationsOption = None,
    source: SourceOption = None,
    profile: ProfileOption = None,
    allow_outside_root: AllowOutsideRootOption = False,
    output: OutputOption = None,
) -> None:
    """Open a scenario's connections on a real server and compare the refusal with the plan.

    Source by source, each connection tagged with the source as application_name, as an
    ordinary role, until the server refuses one: which connection, from which source, with
    PostgreSQL's own message, next to the planner's prediction for the server's settings.
    --local runs a throwaway server with the instance's planned max_connections and reserved
    slots, from the PostgreSQL binaries here closest to its engine_version (16+ from the pgserver
    package, pip install 'planner[local16]'; or $PLANNER_PG_BINDIR) and says which; --dsn asks first (or --yes), never opens more than the scenario's count, and closes
    all it opened. Exit 0 when the prediction holds, 1 when the server differs, 3 when it
    cannot be reached. Verifies the writer.

    \b
    Examples:
      planner verify shop.yaml --database main --local
      planner verify shop.yaml --local --scenario peak --scale 10
      planner verify shop.yaml --database main --dsn postgresql://app@staging-db/shop --yes
    """
    from planner.budget import compute_budget
    from planner.live.verify import build_plan, verify_dsn, verify_local
    from planner.render.verify import render_json, render_text

    if local == (dsn is not None):
        raise InputError("verify: give exactly one of --local (a throwaway server) and --dsn URL (a server of yours)")
    if scenario not in SCENARIOS:
        raise InputError(f"--scenario: unknown scenario {scenario!r} (choose from {', '.join(SCENARIOS)})")
    topo, cat = _load(topology, catalog, observations, sources=source, profiles=profile, outside_root=allow_outside_root)
    instance = writer_of(compute_budget(topo, cat, (scenario,)), database, topo.path)
    plan = build_plan(topo, instance, scenario, scale, local)
    with _progress(plan.total) as progress:
        if local:
            result = verify_local(plan, progress)
        else:
            assert dsn is not None
            result = verify_dsn(plan, dsn, lambda question: _confirm(question, yes, "--dsn"), progress)
    _emit(render_json(result) if format is LiveFormat.json else render_text(result), output)
    if not result.passed:
        raise typer.Exit(EXIT_OVER)


class _progress:
    """A progress bar on stderr for runs of more than 50 connections, drawn from the first
    connection on (after any confirmation); a no-op otherwise."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.bar: Any = None

    def update(self, count: int) -> None:
        if self.bar is None:
            self.bar = typer.progressbar(length=self.total, label="opening connections", file=sys.stderr).__enter__()
        self.bar.update(count)

    def __enter__(self) -> "Any":
        # only on a terminal: elsewhere click prints just the label, a stray line on stderr
        return self.update if self.total > 50 and sys.stderr.isatty() else None

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
