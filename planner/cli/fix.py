"""``planner recommend`` and ``planner emit``: the commands that close a gap.

Registered on the app in :mod:`planner.cli`. Heavy work happens in :mod:`planner.advice.recommend`
and :mod:`planner.advice.emit`; this module parses options, picks the option, writes files.
"""

import re
import sys
from dataclasses import replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional, Sequence

import typer

from planner.cli.app import app
from planner.cli.common import (
    AllowOutsideRootOption,
    CatalogOption,
    ObservationsOption,
    OutputOption,
    ProfileOption,
    SourceOption,
    TableFormat,
    TopologyArgument,
    _emit,
    _emit_files,
    _load,
    source_overrides,
)
from planner.errors import InputError

if TYPE_CHECKING:
    from planner.advice.observed import Measurement
    from planner.advice.recommend import Option, Recommendation
    from planner.budget import BudgetReport
    from planner.catalog import Catalog
    from planner.model import Topology


# a top-level `sources` in YAML, JSON or TOML: the file names paths relative to its folder
_SOURCES_KEY = re.compile(r'^(?:sources\s*:|\s*"sources"\s*:|sources\s*=|\[sources\])', re.MULTILINE)


class EmitKind(str, Enum):
    pgbouncer = "pgbouncer"
    proxy = "proxy"
    parameters = "parameters"
    pools = "pools"


ApplyOption = Annotated[
    Optional[Path],
    typer.Option("--apply-to-topology", help="Write the topology file with the option(s) applied, for check and diff: "
                 "only the changed keys differ; comments and layout are kept. The new file keeps the original's format."),
]


def merge_options(topology: "Topology", options: Sequence["Option"]) -> "Topology":
    """Return ``topology`` with every option's changes applied (databases, services, poolers)."""
    merged = topology
    for option in options:
        changed = option.topology
        merged = replace(
            merged,
            databases={**merged.databases, **{k: v for k, v in changed.databases.items() if topology.databases.get(k) != v}},
            services={**merged.services, **{k: v for k, v in changed.services.items() if topology.services.get(k) != v}},
            poolers={**merged.poolers, **{k: v for k, v in changed.poolers.items() if topology.poolers.get(k) != v}},
        )
    return merged


def _select(recs: Sequence["Recommendation"], ids: Sequence[str]) -> list["Option"]:
    """Return the options named ``DATABASE:RANK``, or the best option of each database."""
    if not ids:
        return [r.options[0] for r in recs if r.options]
    chosen: list[Option] = []
    by_db = {r.database: r for r in recs}
    for ident in ids:
        database, _, rank = ident.rpartition(":")
        rec = by_db.get(database)
        if rec is None or not rank.isdigit() or not 1 <= int(rank) <= len(rec.options):
            known = ", ".join(f"{r.database}:1..{len(r.options)}" for r in recs if r.options) or "none"
            raise InputError(f"--option {ident!r}: no such option (options: {known}; run planner recommend to list them)")
        chosen.append(rec.options[int(rank) - 1])
    return chosen


def _apply(topology: "Topology", catalog: "Catalog", options: Sequence["Option"], target: Path,
           sources: Optional[list[str]] = None, profiles: Optional[list[str]] = None, outside_root: bool = False) -> None:
    """Write the user's topology file with ``options`` applied and say what check makes of it.

    The file is edited, not rewritten: only the keys the options change are written, and comments,
    key order, quoting and layout stay as the user wrote them (:mod:`planner.topology.edit`). A
    value read from the deployment is not written (exit 2, naming where to change it), and a
    topology that reads sources is written beside the original, where its paths still lead.
    """
    from planner.budget import compute_budget
    from planner.topology.edit import edit_topology
    from planner.topology.parse import FORMATS, detect_format, read_text

    if not options:
        raise InputError("--apply-to-topology: there is no option to apply (nothing is over budget, or nothing fits)")
    source = Path(topology.path)
    source_format = detect_format(topology.path, None)
    if FORMATS.get(target.suffix.lower()) != source_format:
        raise InputError(f"--apply-to-topology {target}: {source} is {source_format.upper()} and is edited in place, "
                         f"so the new file keeps its format: name it {target.with_suffix(source.suffix)}")
    text = read_text(source)
    if (topology.provenance or _SOURCES_KEY.search(text)) and target.resolve().parent != source.resolve().parent:
        raise InputError(f"--apply-to-topology {target}: {source} reads its sources relative to its own folder, so the "
                         f"new file goes beside it (e.g. {source.with_name(target.name)})")
    applied = merge_options(topology, options)
    _emit(edit_topology(text, topology.path, topology, applied, source_overrides(sources, profiles=profiles, outside_root=outside_root)), target)
    status = compute_budget(applied, catalog).status
    print(f"topology written: {target} ({source} with {'; '.join(o.title for o in options)}; planner check: {status})",
          file=sys.stderr)


@app.command(short_help="Rank the options that close a gap, each re-checked.")
def recommend(
    topology: TopologyArgument,
    format: Annotated[TableFormat, typer.Option("--format", "-f", help="Output format.")] = TableFormat.text,
    database: Annotated[Optional[str], typer.Option("--database", "-d", help="Only this database.")] = None,
    option: Annotated[
        Optional[list[str]], typer.Option("--option", help="With --apply-to-topology: the option(s) to apply, as DATABASE:RANK.")
    ] = None,
    apply_to: ApplyOption = None,
    catalog: CatalogOption = None,
    observations: ObservationsOption = None,
    source: SourceOption = None,
    profile: ProfileOption = None,
    allow_outside_root: AllowOutsideRootOption = False,
    output: OutputOption = None,
    observed: Annotated[
        Optional[Path],
        typer.Option("--observed", help="Samples file from planner inspect --sample --output: also cap each pool at the concurrency "
                     "its service used (p99 at once per replica) plus --margin, never below its threads."),
    ] = None,
    margin: Annotated[
        Optional[int], typer.Option("--margin", min=0, max=400, metavar="PERCENT", help="With --observed: the margin above the measured p99 (default 25).")
    ] = None,
) -> None:
    """List the options that bring each warn/over instance or pooler back under its alarm line.

    Each option is a changed topology re-checked by the same arithmetic as check: resize,
    PgBouncer, RDS Proxy, a raised max_connections, smaller pools, or a higher client limit,
    with its new numbers, its monthly cost change where prices are known, and what it requires.
    --observed FILE (the samples of planner inspect --sample) adds pools capped at what each
    service used at once (p99 per replica) plus --margin, never below its threads, for the
    sampled database (--database, else the one inspect --sample --topology named, else the only
    one), listed even when that database is within budget.

    \b
    Examples:
      planner recommend shop.yaml
      planner recommend shop.yaml --format markdown
      planner recommend shop.yaml --option main:2 --apply-to-topology shop-fixed.yaml
      planner recommend shop.yaml --observed samples.json --margin 50
    """
    from planner.advice.recommend import recommend as compute
    from planner.budget import compute_budget
    from planner.render import recommend as render

    if margin is not None and observed is None:
        raise InputError("--margin: is the margin above the concurrency --observed measured; give --observed FILE too")
    topo, cat = _load(topology, catalog, observations, sources=source, profiles=profile, outside_root=allow_outside_root)
    report = compute_budget(topo, cat)
    measurement = None if observed is None else _measurement(observed, topo, report, database, margin)
    recs = compute(topo, cat, report, measurement)
    if database is not None:
        if database not in topo.databases:
            raise InputError(f"--database: no database named {database!r} in {topo.path} (choose from {', '.join(topo.databases)})")
        recs = [r for r in recs if r.database == database]
    renderer = {TableFormat.text: render.render_text, TableFormat.json: render.render_json, TableFormat.markdown: render.render_markdown}[format]
    text = renderer(topo, recs, report.warnings)
    if apply_to is not None:
        _apply(topo, cat, _select(recs, option or []), apply_to, source, profile, allow_outside_root)
    _emit(text, output, human=format is TableFormat.text)


def _measurement(path: Path, topology: "Topology", report: "BudgetReport", database: str | None, margin: int | None) -> "Measurement":
    """Read the samples file and measure what each service of the sampled database used at once."""
    from fractions import Fraction

    from planner.advice.observed import DEFAULT_MARGIN_PERCENT, measure
    from planner.live.sample import read_samples
    from planner.live.usage import busy_per_application

    samples = read_samples(path)
    recorded = (samples.topology or {}).get("database")
    name = database or (recorded if recorded in topology.databases else None)
    if name is None:
        if len(topology.databases) != 1:
            raise InputError(f"--observed: {path} does not say which database of {topology.path} it sampled: choose it with --database "
                             f"({', '.join(topology.databases)})")  # fmt: skip
        name = next(iter(topology.databases))
    if name not in topology.databases:
        raise InputError(f"--database: no database named {name!r} in {topology.path} (choose from {', '.join(topology.databases)})")
    if not samples.taken:
        raise InputError(f"--observed: {path} holds no sample: sample again with planner inspect --sample")
    writer = next(i for i in report.instances if i.database == name and i.role == "writer")
    poolers = [p for p in report.poolers if p.database == name]
    day = f", {samples.started:%Y-%m-%d}" if samples.started else ""
    label = f"{path} ({samples.window.describe() if not samples.partial else f'{samples.taken:,} samples, partial'}{day})"
    share = Fraction(DEFAULT_MARGIN_PERCENT if margin is None else margin, 100)
    return measure(writer, poolers, busy_per_application(samples), label, share, samples.partial)


def _option_for(kind: EmitKind, topology: "Topology", catalog: "Catalog", database: str | None) -> "Option":
    """Return the best option carrying ``kind``: a recommended one, else one sized for today's budget."""
    from planner.advice.emit import EMIT_KINDS
    from planner.advice.options import outcome_of as _outcome
    from planner.advice.recommend import GENERATORS, _rank_key
    from planner.advice.recommend import recommend as compute
    from planner.budget import compute_budget

    report = compute_budget(topology, catalog)
    names = [database] if database else list(topology.databases)
    if database is not None and database not in topology.databases:
        raise InputError(f"--database: no database named {database!r} in {topology.path} (choose from {', '.join(topology.databases)})")
    recs = [r for r in compute(topology, catalog, report) if r.database in names]
    candidates = [o for r in recs for o in r.options if o.kind in EMIT_KINDS[kind.value]]
    if not candidates:
        # nothing flagged (or no such recommended option): size it for the current budget anyway
        for name in names:
            before = _outcome(report, name)
            for generate in GENERATORS:
                candidates.extend(o for o in generate(topology, catalog, name, report, before) if o.kind in EMIT_KINDS[kind.value] and o.fits)
    if not candidates:
        where = database or ", ".join(names)
        raise InputError(f"no {kind.value} option fits {where} (run planner recommend to see what does)")
    if database is None and len({o.database for o in candidates}) > 1:
        raise InputError(f"{kind.value} options exist for several databases ({', '.join(sorted({o.database for o in candidates}))}): choose one with --database")
    return sorted(candidates, key=_rank_key)[0]


def _chosen_option(kind: EmitKind, topology: "Topology", catalog: "Catalog", ident: str) -> "Option":
    """Return the option ``recommend`` lists as ``ident`` (DATABASE:RANK), if ``kind``'s artefact implements it."""
    from planner.advice.emit import EMIT_KINDS
    from planner.advice.recommend import recommend as compute
    from planner.budget import compute_budget

    (option,) = _select(compute(topology, catalog, compute_budget(topology, catalog)), [ident])
    if option.kind in EMIT_KINDS[kind.value]:
        return option
    carriers = [name for name, kinds in EMIT_KINDS.items() if option.kind in kinds]
    fix = (f"planner emit {carriers[0]} {topology.path} --option {ident} writes it" if carriers else
           f"no artefact implements it: planner recommend {topology.path} --option {ident} --apply-to-topology NEW.yaml "
           "writes the change")
    raise InputError(f"--option {ident} is '{option.title}' ({option.kind}): emit {kind.value} does not implement it; {fix}")


@app.command(short_help="Write the artefacts that implement an option.")
def emit(
    kind: Annotated[EmitKind, typer.Argument(metavar="KIND", help="pgbouncer, proxy, parameters or pools.", show_default=False)],
    topology: TopologyArgument,
    database: Annotated[Optional[str], typer.Option("--database", "-d", help="The database (needed when several qualify).")] = None,
    output_dir: Annotated[Optional[Path], typer.Option("--output", "-o", help="Directory to write the files to (default: print them).")] = None,
    apply_to: ApplyOption = None,
    db_host: Annotated[str, typer.Option("--db-host", help="pgbouncer: the database endpoint PgBouncer connects to.")] = "CHANGE-ME.cluster-xxxx.us-east-1.rds.amazonaws.com",
    db_port: Annotated[int, typer.Option("--db-port", help="pgbouncer: the database port.")] = 5432,
    db_name: Annotated[Optional[str], typer.Option("--db-name", help="pgbouncer: the PostgreSQL database name (default: the topology's).")] = None,
    listen_port: Annotated[int, typer.Option("--listen-port", help="pgbouncer: the port PgBouncer listens on.")] = 6432,
    option_id: Annotated[Optional[str], typer.Option("--option", help="The option to implement, as DATABASE:RANK from planner recommend (default: the best one this artefact implements).", show_default=False)] = None,
    catalog: CatalogOption = None,
    observations: ObservationsOption = None,
    source: SourceOption = None,
    profile: ProfileOption = None,
    allow_outside_root: AllowOutsideRootOption = False,
) -> None:
    """Write the artefacts that implement an option: pgbouncer.ini (with a userlist placeholder),
    AWS CLI and Terraform for RDS Proxy or a parameter group, or per-service pool settings.

    pools: one file per service in its own driver's setting names (SQLAlchemy, asyncpg,
    psycopg_pool, Django, Rails, node-postgres, HikariCP, Go database/sql, pgxpool), or
    what to change where the lever is threads; plus pools.json. No environment variable is
    invented. No password or secret is ever written: placeholders say where they go.

    \b
    Examples:
      planner emit pgbouncer shop.yaml -o deploy/pgbouncer --db-host shop.cluster-abc.us-east-1.rds.amazonaws.com
      planner emit proxy shop.yaml --database main -o deploy/proxy
      planner emit parameters shop.yaml
      planner emit proxy shop.yaml --option main:1
      planner emit pools shop.yaml --apply-to-topology shop-smaller-pools.yaml
    """
    from planner.advice.emit import EMITTERS, Connection, emit_pgbouncer

    topo, cat = _load(topology, catalog, observations, sources=source, profiles=profile, outside_root=allow_outside_root)
    option = _option_for(kind, topo, cat, database) if option_id is None else _chosen_option(kind, topo, cat, option_id)
    if kind is EmitKind.pgbouncer:
        files = emit_pgbouncer(option, Connection(host=db_host, port=db_port, dbname=db_name, listen_port=listen_port))
    else:
        files = EMITTERS[kind.value](option)
    if output_dir is None:
        for name, content in files.items():
            _emit(f"# ==> {name} <==\n{content}", None)
    else:
        _emit_files({output_dir / name: content for name, content in files.items()})
        print(f"written: {', '.join(str(output_dir / n) for n in files)} ({option.title})", file=sys.stderr)
    if apply_to is not None:
        _apply(topo, cat, [option], apply_to, source, profile, allow_outside_root)
