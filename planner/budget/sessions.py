"""Which planned source a live session belongs to, by its ``application_name``.

A service tags its connections ``SERVICE@ENV`` (one source) or just ``SERVICE`` (spec: "tag your pools
with application_name"). A bare ``SERVICE`` names its source when the service has one source on the
instance; a service with several (one per environment) is *ambiguous*: its sessions can only be counted
for the service as a whole. A service that reaches the database through a pooler lands on the pooler's
source (PgBouncer passes the client's application_name on to its server connections).

``inspect`` (one look), ``inspect --sample`` (a window) and ``recommend --observed`` (pools sized from
a window) all map sessions to sources this way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence

if TYPE_CHECKING:
    from planner.budget.instances import InstanceBudget, PoolerBudget


@dataclass(frozen=True)
class SourceNames:
    """The application names of one instance's planned sources."""

    alias: Mapping[str, str]  # application_name -> the source it is counted on (a service source, or a pooler)
    ambiguous: frozenset[str]  # bare service names with several sources on the instance
    services: Mapping[str, frozenset[str]]  # service -> the sources its sessions are counted on
    service_of: Mapping[str, str]  # a service source (web@prod) -> its service (web)
    pooled: Mapping[str, str]  # application_name of a client of a pooler -> the pooler

    def source_of(self, application_name: str) -> str | None:
        """Return the source ``application_name`` names; None for an ambiguous or unknown name."""
        return self.alias.get(application_name)

    def service(self, application_name: str) -> str | None:
        """Return the service whose sessions carry ``application_name`` directly (not through a pooler); None else."""
        if application_name in self.pooled:
            return None
        if application_name in self.ambiguous:  # several sources: the service itself, if any of them is direct
            direct = any(source in self.service_of for source in self.services[application_name])
            return application_name if direct else None
        source = self.alias.get(application_name)
        return None if source is None else self.service_of.get(source)


def source_names(instance: "InstanceBudget", poolers: Sequence["PoolerBudget"]) -> SourceNames:
    """Return how session names map to the planned sources of ``instance`` (``poolers``: the instance's)."""
    alias: dict[str, str] = {}
    services: dict[str, set[str]] = {}
    service_of: dict[str, str] = {}
    planned = {source.source for source in instance.demand_by_source}
    for source in instance.demand_by_source:
        alias[source.source] = source.source
        if source.service:
            services.setdefault(source.service, set()).add(source.source)
            if source.kind == "service":
                service_of[source.source] = source.service
    pooled: dict[str, str] = {}
    for pooler in poolers:
        if pooler.pooler not in planned:
            continue
        for client in pooler.clients:
            alias[client.source] = pooler.pooler
            pooled[client.source] = pooler.pooler
            if client.service:
                services.setdefault(client.service, set()).add(pooler.pooler)
    ambiguous = frozenset(name for name, keys in services.items() if len(keys) > 1)
    for name, keys in services.items():
        if name not in ambiguous:
            alias.setdefault(name, next(iter(keys)))
            if next(iter(keys)) in pooled.values():
                pooled.setdefault(name, next(iter(keys)))
    return SourceNames(alias, ambiguous, {k: frozenset(v) for k, v in services.items()}, service_of, pooled)


__all__ = ["SourceNames", "source_names"]
