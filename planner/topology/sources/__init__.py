"""Deployment sources: Kubernetes manifests, Terraform plans and Compose files as a topology's numbers.

:mod:`~planner.topology.sources.base` holds what the readers share, each reader
(:mod:`~planner.topology.sources.kubernetes`, :mod:`~planner.topology.sources.terraform`,
:mod:`~planner.topology.sources.compose`) indexes its files, and
:mod:`~planner.topology.sources.resolve` merges what they say into a parsed topology before it is
validated. Readers are imported only when a topology names their kind, and none of it when a
topology reads no deployment: :func:`needs_resolving` is all ``planner check`` of a hand-written file
imports from here.
"""

from __future__ import annotations

from typing import Any

FROM = "from"  # the key that names an entry's source object
ENTRY_SECTIONS = ("databases", "services", "poolers")  # the sections whose entries may have one


def needs_resolving(data: dict[str, Any], overrides: object = None) -> bool:
    """Return whether a parsed topology uses sources at all (the common hand-written file does not);
    ``overrides`` are the ``--source`` options, which count as sources."""
    if "sources" in data or overrides:
        return True
    for section in ENTRY_SECTIONS:
        entries = data.get(section)
        if isinstance(entries, dict) and any(isinstance(spec, dict) and FROM in spec for spec in entries.values()):
            return True
    return False
