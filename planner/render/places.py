"""Where a finding points: the line that decides it, for the formats that place findings on lines (SARIF).

A breach is decided by the demand, and the demand by its sources: the line to show is the one a change
would edit. The rule, for one instance (or pooler) and one scenario:

1. the **deciding source** is the one that opens the most connections in that scenario (an unbounded
   pool first; on a tie, the first listed): :func:`deciding_source`; for a pooler's client side, its
   largest client;
2. its **deciding line** is the first of the values that make its demand, in the scenario's order
   (:data:`SERVICE_KEYS`: the replica count that scenario uses first, as a scaling change edits it; then
   Lambda concurrency, fixed connections, processes, threads, the pool), that is stated somewhere: in the
   deployment file it was read from (``sources``/``from``: the topology's provenance keeps the file and
   line), else on its own line of the topology. A pooler's server side is decided by its replicas and
   pool settings (:data:`POOLER_KEYS`). A source none of whose values is stated points at its entry: the
   deployment object it reads, else its own line in the topology.

A value a deployment leaves to its default (a Deployment without ``spec.replicas``) still points at the
object the value belongs to, where a change would write it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from planner.budget import SourceDemand
from planner.model import Topology

# An origin ends with the file and line it was read from: "HorizontalPodAutoscaler/web spec.maxReplicas,
# deploy/web.yaml:131"; a default ("default of {env: X} (not set in ...)") names no line and points nowhere.
_ORIGIN_PLACE = re.compile(r",\s*(?P<file>[^,]+?):(?P<line>[0-9]+)\s*$")

_POOL = ("processes", "threads", "pool.size", "pool.max_overflow", "pool", "pool.driver")
# The values of a service that make its demand in each scenario, the one a change most often edits first:
# the replica count the scenario uses (the maximum at peak and in a rollout, the minimum in steady state),
# then the surge a rollout adds, the other shapes' counts, and what each process opens.
SERVICE_KEYS: dict[str, tuple[str, ...]] = {
    "steady": ("replicas.min", "replicas", "lambda.concurrency", "lambda", "connections", *_POOL),
    "peak": ("replicas.max", "replicas", "lambda.concurrency", "lambda", "connections", *_POOL),
    "rollout": ("replicas.max", "replicas", "max_surge", "lambda.concurrency", "lambda", "connections", *_POOL),
}
# A pooler's server side: its replicas and pool sizes (PgBouncer, Pgpool-II), its share of the target (RDS Proxy).
POOLER_KEYS = ("replicas", "default_pool_size", "reserve_pool_size", "max_db_connections", "pairs",
               "num_init_children", "max_pool", "max_connections_percent")


@dataclass(frozen=True)
class DeployedValue:
    """A value read from a deployment file: its key path in the topology, the text, and where it was read."""

    key_path: str
    value: str
    origin: str
    file: str
    line: int


@dataclass(frozen=True)
class Place:
    """A line that states a value: the file (the topology's path, or a deployment file), the line, the key."""

    file: str
    line: int
    key_path: str  # "services.api.replicas.max", or the entry itself ("services.api")
    deployed: DeployedValue | None = None  # set when the value was read from a deployment file

    def key(self, entry: str) -> str:
        """Return the key path below ``entry``: "replicas.max" for "services.api"."""
        return self.key_path.removeprefix(entry).lstrip(".") or self.key_path


def deployed_value(topology: Topology, key_path: str) -> DeployedValue | None:
    """Return where the value at ``key_path`` was read from in a deployment file, if it was (with a line)."""
    sourced = topology.provenance.get(key_path)
    found = _ORIGIN_PLACE.search(sourced.origin) if sourced is not None else None
    if sourced is None or found is None:
        return None
    return DeployedValue(key_path, sourced.value, sourced.origin, found["file"].strip(), int(found["line"]))


def value_place(topology: Topology, key_path: str) -> Place | None:
    """Return the line that states ``key_path``: the deployment file's line it was read from, else its own
    line in the topology (the key itself, not a parent: a default is stated nowhere)."""
    deployed = deployed_value(topology, key_path)
    if deployed is not None:
        return Place(deployed.file, deployed.line, key_path, deployed)
    line = topology.lines.get(key_path)
    return Place(topology.path, line, key_path) if line is not None else None


def deciding_source(sources: Sequence[SourceDemand], scenario: str) -> SourceDemand | None:
    """Return the source that opens the most in ``scenario``: unbounded first, then the largest demand;
    on a tie, the first listed (None when no source counts in it)."""
    counted = [s for s in sources if s.counts_in(scenario)]
    return min(counted, key=lambda s: (not s.unbounded_in(scenario), -s.demand[scenario]), default=None)


def source_entry(source: SourceDemand) -> str:
    """Return the topology entry a source comes from: "services.api", or "poolers.bouncer" for a server pool."""
    if source.kind == "service" and source.service:
        return f"services.{source.service}"
    return f"poolers.{source.source}"


def source_place(topology: Topology, source: SourceDemand, scenario: str) -> Place | None:
    """Return the line that decides ``source``'s demand in ``scenario`` (see the module's rule)."""
    entry = source_entry(source)
    keys = SERVICE_KEYS.get(scenario, SERVICE_KEYS["peak"]) if entry.startswith("services.") else POOLER_KEYS
    for key in keys:
        place = value_place(topology, f"{entry}.{key}")
        if place is not None:
            return place
    place = value_place(topology, entry)  # its `from:` object in the deployment, else its own line
    if place is None and source.line is not None:
        place = Place(topology.path, source.line, entry)
    return place
