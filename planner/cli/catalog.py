"""``catalog list`` and ``catalog show``: the instance-class catalogue (``catalog refresh`` is in ``cli.aws``)."""

from typing import TYPE_CHECKING, Annotated, Optional

import typer

from planner.cli.common import (
    CatalogOption,
    ObservationsOption,
    TableFormat,
    _emit,
)
from planner.errors import InputError
from planner.model import ENGINES
from planner.reserves import parse_engine_version

if TYPE_CHECKING:
    pass

from planner.cli.app import catalog_app


@catalog_app.command("list", short_help="List the catalogue's instance classes.")
def catalog_list(
    engine: Annotated[Optional[str], typer.Option("--engine", help="Only classes that support this engine.")] = None,
    family: Annotated[Optional[str], typer.Option("--family", help="Only these families, comma-separated (e.g. m7g,r7g).")] = None,
    format: Annotated[TableFormat, typer.Option("--format", "-f", help="Output format.")] = TableFormat.text,
    catalog: CatalogOption = None,
    observations: ObservationsOption = None,
) -> None:
    """List instance classes with their default max_connections per engine.

    \b
    Examples:
      planner catalog list --engine postgres --family m7g
      planner catalog list --engine aurora-postgresql --format json
    """
    from planner.catalog import load_catalog
    from planner.render import catalog as render

    if engine is not None and engine not in ENGINES[:2]:
        raise InputError(f"--engine: unknown engine {engine!r} (choose postgres or aurora-postgresql)")
    cat = load_catalog(catalog, observations)
    classes = cat.classes(engine=engine, family=family)
    renderer = {TableFormat.text: render.render_list_text, TableFormat.json: render.render_list_json, TableFormat.markdown: render.render_list_markdown}[format]
    _emit(renderer(classes, engine), None)


@catalog_app.command("show", short_help="Show one instance class's budget.")
def catalog_show(
    instance_class: Annotated[str, typer.Argument(metavar="INSTANCE_CLASS", help="An instance class, e.g. db.m6g.large.", show_default=False)],
    engine: Annotated[str, typer.Option("--engine", help="postgres or aurora-postgresql.")] = "postgres",
    engine_version: Annotated[str, typer.Option("--engine-version", help='Engine version whose reserved slots apply: "16", "15.8" (a bare major means its newest minor).')] = "16",
    format: Annotated[TableFormat, typer.Option("--format", "-f", help="Output format.")] = TableFormat.text,
    catalog: CatalogOption = None,
    observations: ObservationsOption = None,
) -> None:
    """Show one class: memory, DBInstanceClassMemory and where it came from, default budget.

    \b
    Examples:
      planner catalog show db.m6g.large
      planner catalog show db.t3.micro --engine-version 15.8
      planner catalog show db.r6g.xlarge --engine aurora-postgresql --format json
    """
    from planner.catalog import load_catalog
    from planner.render import catalog as render

    if engine not in ENGINES[:2]:
        raise InputError(f"--engine: unknown engine {engine!r} (choose postgres or aurora-postgresql)")
    cat = load_catalog(catalog, observations)
    try:
        version = parse_engine_version(engine_version)
    except ValueError:
        raise InputError(f'--engine-version: {engine_version!r} is not a version (write e.g. "16" or "15.8")') from None
    cls = cat.get(instance_class)
    memory = cat.dbicm(instance_class, engine)
    renderer = {TableFormat.text: render.render_show_text, TableFormat.json: render.render_show_json, TableFormat.markdown: render.render_show_text}[format]
    _emit(renderer(cls, engine, memory, version), None)
