"""``planner import kubernetes|terraform|compose``: bootstrap a topology from deployment files.

Registered on the ``import`` group of :mod:`planner.cli.aws` (beside ``import rds``). The work is
done by :mod:`planner.topology.sources.importer`; these commands parse the options, check the
output's format, write the file only once it reads as a valid topology, and summarize on stderr.
"""

import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from planner.cli.aws import import_app
from planner.cli.common import AllowOutsideRootOption, ProfileOption, _emit, _profiles
from planner.errors import InputError

if TYPE_CHECKING:
    from planner.topology.sources.importer import Written

PathsArgument = Annotated[list[Path], typer.Argument(metavar="PATH...", show_default=False,
                                                     help="Files or folders to read, from the current directory.")]
OutputFile = Annotated[
    Optional[Path],
    typer.Option("--output", "-o", help="YAML topology to write, or to merge into if it exists (default: print a new one)."),
]
DatabaseOption = Annotated[
    Optional[str],
    typer.Option("--database", help="The database the imported services use, when the topology has several; "
                 "or the name of the one --instance-class creates (default: main)."),
]
InstanceClassOption = Annotated[
    Optional[str],
    typer.Option("--instance-class", help="Create the database with this class (e.g. db.m6g.large) when the topology "
                 "has none and the files describe none (Kubernetes and Compose files without postgres)."),
]
EngineVersionOption = Annotated[
    Optional[str], typer.Option("--engine-version", help="The engine version of the database --instance-class creates (e.g. 16.4).")
]


def _note(text: str) -> None:
    print(f"planner: {text}", file=sys.stderr)


@import_app.command("kubernetes", short_help="Write services and poolers from Kubernetes manifests.")
def import_kubernetes(paths: PathsArgument, output: OutputFile = None, database: DatabaseOption = None,
                      instance_class: InstanceClassOption = None, engine_version: EngineVersionOption = None,
                      allow_outside_root: AllowOutsideRootOption = False) -> None:
    """Write a topology's services from Kubernetes manifests: one per workload whose containers show
    they connect to PostgreSQL, each reading its replicas, autoscaler range, surge, app server and
    pool with from:; the others are listed on stderr with the reason they were left out.

    Without a database in the manifests, merge into a topology that has one (from planner import
    terraform or import rds), or give --instance-class. What the deployment cannot say (a pool no
    framework shows, Celery's one process per CPU) is written as VALUE with the reason beside it:
    check refuses it until you replace it. With -o FILE that exists, what is there stays as
    written; only missing entries are added.

    \b
    Examples:
      helm template shop ./chart > rendered/shop.yaml
      planner import kubernetes rendered/ -o shop.yaml --instance-class db.m6g.large
      planner import terraform plan.json -o shop.yaml
      planner check shop.yaml
    """
    _import("kubernetes", paths, output, database, instance_class, engine_version, outside_root=allow_outside_root)


@import_app.command("terraform", short_help="Write databases and services from a Terraform plan.")
def import_terraform(paths: PathsArgument, output: OutputFile = None, database: DatabaseOption = None,
                     instance_class: InstanceClassOption = None, engine_version: EngineVersionOption = None,
                     allow_outside_root: AllowOutsideRootOption = False) -> None:
    """Write a topology from `terraform show -json` output (a plan or a state): databases from
    aws_db_instance and aws_rds_cluster, services from the aws_lambda_function and aws_ecs_service
    whose environment shows a PostgreSQL connection, poolers from aws_db_proxy, each reading its
    values with from:. Databases of other engines (MySQL, Oracle, ...) are named on stderr.

    What the plan cannot say (a value known only after apply, an Aurora cluster's instances that are
    not in the plan, a proxy's clients, a pool no framework shows) is written as VALUE with the
    reason beside it: check refuses it until you replace it. With -o FILE that exists, what is
    there stays as written; only missing entries are added.

    \b
    Examples:
      terraform plan -out plan.tfplan && terraform show -json plan.tfplan > plan.json
      planner import terraform plan.json -o shop.yaml
      planner import terraform state.json --database main -o shop.yaml
      planner check shop.yaml
    """
    _import("terraform", paths, output, database, instance_class, engine_version, outside_root=allow_outside_root)


@import_app.command("compose", short_help="Write a topology from a Docker Compose project.")
def import_compose(paths: PathsArgument, output: OutputFile = None, database: DatabaseOption = None,
                   instance_class: InstanceClassOption = None, engine_version: EngineVersionOption = None,
                   profile: ProfileOption = None, allow_outside_root: AllowOutsideRootOption = False) -> None:
    """Write a topology from a Compose project, read as docker compose reads it: a folder is its
    compose.yaml and override file, with its .env; files are merged in order (docker compose -f a
    -f b); docker compose config --format json output is read as it is. A postgres container is a
    self-managed database, every other active service a service reading its replicas, surge and
    environment with from:.

    Services with profiles are active only with --profile (written to sources.compose so that check
    reads the same services). Only services that show they connect to PostgreSQL (a URL or host naming the database or a
    PgBouncer in front of it, depends_on, a recognised framework) are imported; the others are
    listed with the reason. A PgBouncer or Pgpool-II container is a pooler. Without a postgres
    container, merge into a topology that has a database or give --instance-class. With -o FILE
    that exists, only missing entries are added.

    \b
    Examples:
      planner import compose . -o shop.yaml
      planner import compose docker-compose.yml docker-compose.prod.yml -o shop.yaml
      planner import compose . --profile workers -o shop.yaml
      planner check shop.yaml
    """
    _import("compose", paths, output, database, instance_class, engine_version, _profiles(profile), allow_outside_root)


def _import(kind: str, paths: list[Path], output: Optional[Path], database: Optional[str],
            instance_class: Optional[str], engine_version: Optional[str],
            profiles: Optional[tuple[str, ...]] = None, outside_root: bool = False) -> None:
    """Import ``kind`` files into ``output`` (or stdout), then say what was written and what is left."""
    from planner.topology.sources.files import DiskFiles, repository_root
    from planner.topology.sources.importer import Options, import_sources, write_topology

    if output is not None and output.suffix.lower() not in (".yaml", ".yml"):
        raise InputError(f"{output}: planner import {kind} writes YAML topologies (its hints are comments), "
                         "not TOML or JSON: use a .yaml file")
    existing = _existing(output)
    target = output if output is not None else Path("topology.yaml")  # stdout: paths from here
    listed = [str(p) for p in paths]
    # the paths of the command line are trusted, not what their files name: each path's repository is a root
    files = DiskFiles(Path("."), f"planner import {kind}", tuple(repository_root(p) for p in paths), not outside_root)
    imported = import_sources(kind, listed, files, target.parent, profiles, outside_root)
    header = (f"Imported by planner import {kind} from {', '.join(imported.paths)} on {_today()}.\n"
              "Replace each VALUE, then run planner check.")
    written = write_topology(existing, str(target), imported, Options(database, instance_class, engine_version), header)
    _check_classes(written.text, str(target), not outside_root)
    _emit(written.text, output)
    for note in written.notes:
        _note(note)
    _note(_summary(written, ", ".join(listed), output))


def _existing(output: Optional[Path]) -> Optional[str]:
    """Return the text of the topology to merge into, or None for a new one."""
    if output is None or not output.exists():
        return None
    try:
        return output.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{output}: cannot read the topology to merge into ({exc})") from exc


def _check_classes(text: str, filename: str, confined: bool) -> None:
    """Refuse a topology check would refuse for its databases' limits (an unknown --instance-class)."""
    from planner.budget.limits import limit_problems
    from planner.catalog import load_catalog
    from planner.topology.sources.importer import read_written

    from planner.topology.load import TopologyError

    # the catalogue check will read: PLANNER_CATALOG's, as `check` without --catalog does
    catalog = load_catalog(os.environ.get("PLANNER_CATALOG") or None, os.environ.get("PLANNER_OBSERVATIONS") or None)
    try:
        topology = read_written(text, filename, confined)
    except TopologyError as exc:  # placeholders the user must replace: the databases read all the same
        if exc.partial is None:
            return
        topology = exc.partial
    problems = limit_problems(topology, catalog)
    if problems:
        raise InputError(problems)


def _summary(written: "Written", paths: str, output: Optional[Path]) -> str:
    """Return the last stderr line: what was imported from where, and what is left to write."""
    parts = []
    for section, word in (("databases", "database"), ("services", "service"), ("poolers", "pooler")):
        names = written.added.get(section, [])
        plural = word if len(names) == 1 else word + "s"
        parts.append(f"{len(names)} {plural}" + (f" ({', '.join(names)})" if names else ""))
    text = f"imported {', '.join(parts[:-1])} and {parts[-1]} from {paths}" + (f" into {output}" if output else "")
    if written.placeholders:
        text += f"; replace each VALUE: {', '.join(written.placeholders)}"
    return text


def _today() -> str:
    return datetime.now(timezone.utc).date().isoformat()
