"""Every resource of the plans a topology lists, and how one resource points at another.

Terraform links resources by value (``parameter_group_name = "app-pg16"``) or by expression
(``cluster_identifier = aws_rds_cluster.main.id``). In a state every value is known, so the value
says it; in a plan an identifier that is computed (an ``id``, an ``arn``) is known only after apply,
and only the configuration's references say what it will name. :meth:`Index.points_at` and
:meth:`Index.related` try the value first and the references when the value is unknown.
"""

from __future__ import annotations

from typing import Any

from planner.topology.sources.base import Fact, Unknown
from planner.topology.sources.terraform.plan import UNKNOWN, Plan, Resource, bare

AFTER_APPLY = "is known only after apply"


class Index:
    """The resources of one or more plans (or states), by address and by type."""

    def __init__(self, plans: list[Plan]) -> None:
        self.plans = plans
        self.by_address: dict[str, list[Resource]] = {}
        self.by_type: dict[str, list[Resource]] = {}
        self.by_bare: dict[str, list[Resource]] = {}  # address without indexes -> its instances
        for plan in plans:
            for resource in plan.resources.values():
                self.by_address.setdefault(resource.address, []).append(resource)
                self.by_type.setdefault(resource.type, []).append(resource)
                self.by_bare.setdefault(bare(resource.address), []).append(resource)

    def of_type(self, *types: str) -> list[Resource]:
        """Return the resources of ``types``, in file order and then address order."""
        return [r for t in types for r in self.by_type.get(t, [])]

    def points_at(self, resource: Resource, attribute: str, target: Resource) -> bool:
        """Return whether ``attribute`` of ``resource`` names ``target``, by value or by reference."""
        value = resource.value(attribute)
        if isinstance(value, str) and value:
            return target.named_by(value)
        if value is UNKNOWN and resource.plan is target.plan:
            return any(r is target for r in resource.plan.referenced(resource, attribute))
        return False

    def related(self, resource: Resource, attribute: str, *types: str) -> list[Resource]:
        """Return the resources of ``types`` that ``attribute`` of ``resource`` names, by value or by reference."""
        value = resource.value(attribute)
        if isinstance(value, str) and value:
            return [r for r in self.of_type(*types) if r.named_by(value)]
        if value is UNKNOWN:
            return [r for r in resource.plan.referenced(resource, attribute) if r.type in types]
        return []


def read(resource: Resource, *path: str | int) -> Fact | Unknown | None:
    """Return the value at ``path`` as a Fact, an Unknown if known only after apply, or None if unset."""
    value = resource.value(*path)
    if value is UNKNOWN:
        return Unknown(resource.origin(path), AFTER_APPLY)
    if value is None:
        return None
    return Fact(value, resource.origin(path))


def number(value: Any) -> Any:
    """Return a whole float (JSON ``16.0``) as an int, anything else unchanged."""
    return int(value) if isinstance(value, float) and value.is_integer() else value
