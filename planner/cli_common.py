"""What every ``planner`` command shares: formats, options, loading inputs, writing output."""

from __future__ import annotations

import os
import sys
import tempfile
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from .errors import InputError
from .model import SCENARIOS

if TYPE_CHECKING:
    from .catalog import Catalog
    from .model import Topology


class CheckFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"
    github = "github"
    csv = "csv"


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
TopologyArgument = Annotated[Path, typer.Argument(help="Topology file (.yaml, .yml, .toml or .json).", show_default=False)]


def _load(topology: Path, catalog: Optional[Path], observations: Optional[Path]) -> "tuple[Topology, Catalog]":
    """Load the topology and the catalogue, the two inputs of every topology command."""
    from .catalog import load_catalog
    from .topology import load_topology

    return load_topology(topology), load_catalog(catalog, observations)


def _scenarios(values: Optional[list[str]]) -> tuple[str, ...]:
    """Accept ``--scenario peak --scenario rollout`` and ``--scenario peak,rollout``."""
    if not values:
        return SCENARIOS
    chosen = [v.strip() for value in values for v in value.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in SCENARIOS]
    if unknown:
        raise InputError(f"--scenario: unknown scenario {unknown[0]!r} (choose from {', '.join(SCENARIOS)})")
    return tuple(chosen)


def _emit(text: str, output: Optional[Path]) -> None:
    """Print ``text``, or write it to ``output`` atomically so a failed run leaves no half file."""
    if not text.endswith("\n"):
        text += "\n"
    if output is None:
        sys.stdout.write(text)
        return
    target = output.resolve()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        # mkstemp makes the file private (0600); give it the mode a plain open() would have
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except (FileExistsError, NotADirectoryError) as exc:
        raise InputError(f"{output}: cannot write the output: a part of the path is a file, not a directory; choose another path with -o") from exc
    except OSError as exc:
        raise InputError(f"{output}: cannot write the output ({exc.strerror}); choose a writable path with -o") from exc
