"""Read a Compose project as Docker Compose v2 reads it, and each service as a neutral ``Container``.

A topology entry names a Compose service as ``compose/NAME``. ``sources: {compose: PATH}`` names a
project folder (its ``compose.yaml`` and ``compose.override.yaml``), a Compose file, or files merged
as ``docker compose -f a.yml -f b.yml`` merges them; ``{path: PATH, profiles: [NAME]}`` activates
profiles (``--profile NAME`` on the command line does the same, for one run). The output of
``docker compose config --format json`` is read too, as it is.

The modules, in the order a project is read:

- :mod:`.tree`: YAML as Compose types it (yaml.v3), every value with its file and line;
- :mod:`.interpolation` and :mod:`.dotenv`: ``${VAR}`` and the ``.env``/``env_file`` syntax;
- :mod:`.merge`: override files and ``extends``, by Compose's merge rules;
- :mod:`.project`: which files, ``.env``, ``include``, profiles, each service's environment;
- :mod:`.shell`: a string ``command`` split into words as Compose splits it;
- :mod:`.source`: what a service says (replicas, surge, its ``Container``, a database's
  max_connections per :mod:`.images`), as :class:`~planner.topology.sources.base.Found`.

Every check Compose makes before it runs a project (a missing ``env_file`` or include, a circular
``extends``, invalid YAML, a profile no service has, a dependency on an inactive service, two
different replica counts) is a problem naming the file and line. planner never reads the shell's
environment: a ``${VAR}`` neither the ``.env`` nor a default sets is an ``Unknown`` wherever a number
depends on it.
"""

from __future__ import annotations

from planner.topology.sources.base import SourceFiles
from planner.topology.sources.compose.project import Profiles, load_project
from planner.topology.sources.compose.source import PREFIX, ComposeSource

__all__ = ["PREFIX", "ComposeSource", "Profiles", "load"]


def load(files: SourceFiles, paths: list[str], profiles: Profiles | None = None) -> ComposeSource:
    """Load the Compose project ``paths`` names (a folder, a file, or files merged in order) with the
    ``profiles`` given (None: the ``.env``'s ``COMPOSE_PROFILES``, else none); raises
    :class:`~planner.topology.sources.base.SourceFileError` listing every problem."""
    return ComposeSource(load_project(files, paths, profiles), files)
