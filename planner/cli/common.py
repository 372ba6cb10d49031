"""What every ``planner`` command shares: formats, options, loading inputs, writing output."""

import os
import sys
import tempfile
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from planner.errors import InputError
from planner.model import SCENARIOS

if TYPE_CHECKING:
    from planner.budget import BudgetReport, InstanceBudget
    from planner.catalog import Catalog
    from planner.model import Topology
    from planner.topology.sources.base import SourceOverrides


class CheckFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"
    github = "github"
    csv = "csv"
    sarif = "sarif"
    junit = "junit"


# A file name to suggest when two formats would print to standard output (the Markdown one a comment takes).
SUGGESTED_FILE = {"text": "planner.txt", "json": "planner.json", "markdown": "planner.md", "csv": "planner.csv",
                  "sarif": "planner.sarif", "junit": "planner.xml", "github": "planner-annotations.txt"}


@dataclass(frozen=True)
class Destination:
    """One output of ``check``: a format, and the file it goes to (None: standard output)."""

    format: CheckFormat
    path: Optional[Path] = None


def parse_destination(value: str) -> Destination:
    """Parse one ``--format FORMAT[=FILE]`` value; an unknown format or an empty file is an InputError."""
    name, sep, file = value.partition("=")
    try:
        chosen = CheckFormat(name.strip())
    except ValueError:
        raise InputError(f"unknown format {name.strip()!r} (choose {', '.join(f.value for f in CheckFormat)}; "
                         "FORMAT=FILE writes it to a file)") from None
    if sep and not file.strip():
        raise InputError(f"{value!r}: give the file after '=' (e.g. {chosen.value}={SUGGESTED_FILE[chosen.value]}), "
                         "or drop '=' for standard output")
    return Destination(chosen, Path(file.strip()) if sep else None)


def format_destination(value: str) -> str:
    """Check one ``--format FORMAT[=FILE]`` while the command line is parsed: a usage error names the choices."""
    try:
        parse_destination(value)
    except InputError as exc:
        raise typer.BadParameter(str(exc.problems[0])) from None
    return value


def parse_formats(values: Optional[list[str]], output: Optional[Path],
                  others: "list[tuple[str, Path]] | None" = None) -> list[Destination]:
    """Parse ``--format FORMAT[=FILE]`` (repeatable) and ``-o FILE`` into check's outputs, in the order given.

    At most one format has no file: it goes to standard output, or to ``-o``. A format given twice, two
    formats on standard output, two outputs to one file (``others``: more files the run writes, with the
    option that names each), or ``-o`` with nothing left to write are usage errors whose message names the
    fix. No ``--format``: text.
    """
    outputs: list[Destination] = []
    for value in values or ["text"]:
        chosen = parse_destination(value)
        if any(o.format is chosen.format for o in outputs):
            raise InputError(f"--format {chosen.format.value} is given twice: give each format once (each is written "
                             "once per run)")
        outputs.append(chosen)
    printed = [o for o in outputs if o.path is None]
    if len(printed) > 1:
        # GitHub reads annotations from the log: suggest a file for the other one
        moved = next(o for o in reversed(printed) if o.format is not CheckFormat.github)
        kept = next(o for o in printed if o is not moved)
        raise InputError(f"--format {kept.format.value} and --format {moved.format.value} both print to standard output: "
                         f"give one a file, e.g. --format {moved.format.value}={SUGGESTED_FILE[moved.format.value]}")
    if output is not None and not printed:
        raise InputError(f"-o {output}: every --format names its own file, so -o has nothing to write; drop -o, "
                         f"or name the file in the format (--format FORMAT={output})")
    named = [(f"--format {o.format.value}={o.path}", o.path) for o in outputs if o.path is not None]
    check_distinct_files([*(others or []), *([(f"-o {output}", output)] if output is not None else []), *named])
    return [Destination(o.format, output) if o.path is None else o for o in outputs]


def check_distinct_files(named: "list[tuple[str, Path]]") -> None:
    """Refuse two outputs to the same file: ``named`` holds (the option that writes it, its path)."""
    seen: dict[Path, str] = {}
    for option, path in named:
        key = Path(os.path.abspath(path))
        if key in seen:
            raise InputError(f"{seen[key]} and {option} write the same file: give each output its own file")
        seen[key] = option


class TableFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


class FailOn(str, Enum):
    over = "over"
    warn = "warn"


CatalogOption = Annotated[
    Optional[Path],
    typer.Option("--catalog", envvar="PLANNER_CATALOG", help="Instance-class catalogue CSV (default: the bundled one)."),
]
ObservationsOption = Annotated[
    Optional[Path],
    typer.Option(
        "--observations", envvar="PLANNER_OBSERVATIONS",
        help="CSV of engine,instance_class,max_connections read with SHOW max_connections: makes those classes exact.",
    ),
]
OutputOption = Annotated[
    Optional[Path], typer.Option("--output", "-o", help="Write to this file instead of stdout (only once it succeeded).")
]
SourceOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--source", metavar="KIND=PATH",
        help="Read this kind's deployment files (kubernetes, terraform or compose) from PATH instead of the paths the "
        "topology's `sources` lists; PATH is from the current directory (repeatable: a file or folder each).",
    ),
]
ProfileOption = Annotated[
    Optional[list[str]],
    typer.Option(
        "--profile", metavar="NAME",
        help="Activate this Compose profile (repeatable), as docker compose --profile does: services with profiles "
        "are read only when one of theirs is active. Replaces the topology's sources.compose profiles for one run.",
    ),
]
AllowOutsideRootOption = Annotated[
    bool,
    typer.Option(
        "--allow-outside-root",
        help="Read source files outside the topology's repository root (the git work tree it is in, else its folder): "
        "by default a path in sources, a Compose env_file, include or extends that leads out of it (.., an absolute path, "
        "a symlink) is refused, since a topology in a pull request decides what planner reads.",
    ),
]
TopologyArgument = Annotated[Path, typer.Argument(metavar="TOPOLOGY", help="Topology file (.yaml, .yml, .toml or .json).", show_default=False)]


def source_overrides(values: Optional[list[str]], option: str = "--source",
                     profiles: Optional[list[str]] = None, outside_root: bool = False) -> "SourceOverrides | None":
    """Parse ``--source KIND=PATH`` options (repeatable) into the paths that replace a topology's sources,
    ``--profile NAME`` options into the Compose profiles to activate, and ``--allow-outside-root``."""
    if not values and not profiles and not outside_root:
        return None
    from planner.topology.sources.base import KINDS, SourceOverrides

    paths: dict[str, tuple[str, ...]] = {}
    for value in values or ():
        kind, sep, path = value.partition("=")
        if not sep or not path or kind not in KINDS:
            raise InputError(f"{option} {value}: write {option} KIND=PATH with KIND one of {', '.join(KINDS)} "
                             f"(e.g. {option} kubernetes=rendered/head/)")
        paths[kind] = paths.get(kind, ()) + (path,)
    return SourceOverrides(paths, _profiles(profiles), outside_root)


def _profiles(values: Optional[list[str]]) -> tuple[str, ...] | None:
    """Accept ``--profile a --profile b`` and ``--profile a,b`` (as COMPOSE_PROFILES spells them)."""
    if not values:
        return None
    names = tuple(v.strip() for value in values for v in value.split(",") if v.strip())
    if not names:
        raise InputError("--profile: give a profile name (e.g. --profile debug)")
    return names


def _load(topology: Path, catalog: Optional[Path], observations: Optional[Path], limits: bool = True,
          sources: Optional[list[str]] = None, profiles: Optional[list[str]] = None,
          outside_root: bool = False) -> "tuple[Topology, Catalog]":
    """Load the topology and the catalogue, the two inputs of every topology command (every problem at once).

    ``limits=False`` for commands that need no instance class (``plan`` chooses one); ``sources``
    holds the ``--source KIND=PATH`` options, ``profiles`` the ``--profile NAME`` ones, ``outside_root``
    ``--allow-outside-root``.
    """
    (loaded,), cat = _load_all([topology], catalog, observations, limits, sources, profiles, outside_root)
    return loaded, cat


def _load_all(paths: list[Path], catalog: Optional[Path], observations: Optional[Path],
              limits: bool = True, sources: Optional[list[str]] = None,
              profiles: Optional[list[str]] = None, outside_root: bool = False,
              timings: Optional[list[float]] = None) -> "tuple[list[Topology], Catalog]":  # fmt: skip
    """Load the catalogue and every topology, raising one InputError with every problem of every file.

    A topology's own problems come with those the budget would meet next (an unknown instance
    class, a formula that evaluates to 0), found on the databases that could be read, so that a
    file with three mistakes takes one run, not three. ``timings``, when given, receives the seconds
    each loaded topology took to read and validate (JUnit's ``time``).
    """
    from planner.budget.limits import limit_problems
    from planner.catalog import load_catalog
    from planner.errors import Problem
    from planner.topology.load import TopologyError, load_topology

    overrides = source_overrides(sources, profiles=profiles, outside_root=outside_root)
    problems: list[Problem | str] = []
    cat = None
    try:
        cat = load_catalog(catalog, observations)
    except InputError as exc:  # still read the topologies: their problems are worth knowing too
        problems.extend(exc.problems)
    loaded: list[Topology] = []
    for path in paths:
        started = time.perf_counter()
        try:
            topo = load_topology(path, overrides)
        except TopologyError as exc:
            found = list(exc.problems)
            if exc.partial is not None and cat is not None and limits:
                found += [p for p in limit_problems(exc.partial, cat) if p not in found]
            problems.extend(sorted(found, key=lambda p: (p.line or 0) if isinstance(p, Problem) else 0))
            continue
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        if cat is not None and limits:
            problems.extend(limit_problems(topo, cat))
        loaded.append(topo)
        if timings is not None:
            timings.append(time.perf_counter() - started)
    if problems:
        raise InputError(problems)
    assert cat is not None
    return loaded, cat


def _scenarios(values: Optional[list[str]]) -> tuple[str, ...]:
    """Accept ``--scenario peak --scenario rollout`` and ``--scenario peak,rollout``."""
    if not values:
        return SCENARIOS
    chosen = [v.strip() for value in values for v in value.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in SCENARIOS]
    if unknown:
        raise InputError(f"--scenario: unknown scenario {unknown[0]!r} (choose from {', '.join(SCENARIOS)})")
    return tuple(chosen)


def _emit(text: str, output: Optional[Path], human: bool = False) -> None:
    """Print ``text``, or write it to ``output`` atomically so a failed run leaves no half file.

    ``human``: a text format for a person, shown in colour and wrapped when stdout is a terminal.
    """
    if output is None:
        if human:
            from planner.render.terminal import for_terminal

            text = for_terminal(text, sys.stdout)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    _emit_files({output: text})


def _emit_files(files: "dict[Path, str]") -> None:
    """Write every file or none: each goes to a temporary file first, renamed only once all are written."""
    staged: list[tuple[str, Path]] = []
    current: Path | None = None
    try:
        for output, text in files.items():
            current = output
            target = output.resolve()
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.is_dir():
                raise IsADirectoryError(21, "Is a directory", str(target))
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            staged.append((tmp, target))
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text if text.endswith("\n") else text + "\n")
            # mkstemp makes the file private (0600); give it the mode a plain open() would have
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        for tmp, target in staged:
            os.replace(tmp, target)
        staged.clear()
    except (FileExistsError, NotADirectoryError) as exc:
        raise InputError(f"{current}: cannot write the output: a part of the path is a file, not a directory; choose another path with -o") from exc
    except OSError as exc:
        raise InputError(f"{current}: cannot write the output ({exc.strerror}); choose a writable path with -o") from exc
    finally:  # a failure leaves no temporary file behind
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)


def writer_of(report: "BudgetReport", database: str | None, path: str) -> "InstanceBudget":
    """Return the writer of ``database`` (or of the only database): where a live server's sessions are compared."""
    names = [i.database for i in report.instances if i.role == "writer"]
    if database is None:
        if len(names) != 1:
            raise InputError(f"--database: {path} has several databases: choose one of {', '.join(names)}")
        database = names[0]
    for instance in report.instances:
        if instance.database == database and instance.role == "writer":
            return instance
    raise InputError(f"--database: no database named {database!r} in {path} (choose from {', '.join(names)})")
