"""What an ``aws_db_proxy`` says about a topology pooler: an RDS Proxy, its pool share and its target.

The share is ``connection_pool_config[0].max_connections_percent`` of the proxy's
``aws_db_proxy_default_target_group`` (100, AWS's default, without one). The target is the
``aws_db_instance`` or ``aws_rds_cluster`` that the proxy's ``aws_db_proxy_target`` names; it is
given as a :class:`~planner.topology.sources.base.Link`, which the resolver turns into the topology
database whose ``from`` names that resource.
"""

from __future__ import annotations

from planner.topology.sources.base import Fact, Link, RefError, Value
from planner.topology.sources.terraform.databases import CLUSTER, INSTANCE
from planner.topology.sources.terraform.index import Index, number, read
from planner.topology.sources.terraform.plan import UNKNOWN, Resource

PROXY = "aws_db_proxy"
TYPES = (PROXY,)
TARGET_GROUP = "aws_db_proxy_default_target_group"
TARGET = "aws_db_proxy_target"
POSTGRESQL = "POSTGRESQL"
DEFAULT_PERCENT = 100  # RDS Proxy's default max_connections_percent

Facts = dict[str, Value]


def fits(resource: Resource) -> bool:
    """Return whether ``resource`` can be a topology pooler (a PostgreSQL RDS Proxy)."""
    return resource.value("engine_family") in (POSTGRESQL, UNKNOWN)


def proxy(index: Index, resource: Resource, notes: list[str]) -> Facts:
    """Return the facts of an RDS Proxy."""
    family = resource.value("engine_family")
    if isinstance(family, str) and family != POSTGRESQL:
        raise RefError(f"{resource.address} is an RDS Proxy for {family}; planner plans PostgreSQL",
                       f"name an {PROXY} with engine_family {POSTGRESQL}")
    facts: Facts = {"kind": Fact("rds-proxy", resource.origin())}
    groups = [g for g in index.of_type(TARGET_GROUP) if index.points_at(g, "db_proxy_name", resource)]
    percent = read(groups[0], "connection_pool_config", 0, "max_connections_percent") if groups else None
    if percent is None:
        where = groups[0] if groups else resource
        why = "(no connection_pool_config" if groups else f"(no {TARGET_GROUP}"
        percent = Fact(DEFAULT_PERCENT, where.origin(f"{why}: RDS Proxy's default {DEFAULT_PERCENT})"))
    facts["max_connections_percent"] = Fact(number(percent.value), percent.origin) if isinstance(percent, Fact) else percent
    targets = [t for t in index.of_type(TARGET) if index.points_at(t, "db_proxy_name", resource)]
    databases = [(t, attribute, found) for t in targets
                 for attribute, kind in (("db_instance_identifier", INSTANCE), ("db_cluster_identifier", CLUSTER))
                 for found in index.related(t, attribute, kind)]
    if databases:
        target, attribute, database = databases[0]
        facts["database"] = Link(database.address, target.origin(attribute))
        if len(databases) > 1:
            notes.append(f"{resource.address} has several targets: planner takes {database.address}")
    elif targets:
        notes.append(f"the database {targets[0].address} names is not in the plan: write the pooler's database in the topology")
    else:
        notes.append(f"no {TARGET} names {resource.address}: write the pooler's database in the topology")
    return facts
