"""Read ``terraform show -json`` output (of a plan or of a state): databases, services and poolers.

A topology entry names a resource by its address, as Terraform writes it: ``aws_db_instance.main``,
``module.db.aws_rds_cluster.this``, ``aws_lambda_function.worker["a"]``, ``aws_db_instance.replica[0]``.
An address without the index of a counted (or ``for_each``) resource names its one instance, if it
has exactly one. What each kind of resource gives:

- a database: ``aws_db_instance`` or ``aws_rds_cluster`` of engine ``postgres`` or
  ``aurora-postgresql`` (:mod:`.databases`); those of other engines are listed by
  :meth:`TerraformSource.unplanned`;
- a service: ``aws_lambda_function`` or ``aws_ecs_service`` (:mod:`.services`);
- a pooler: ``aws_db_proxy`` (:mod:`.poolers`).

A value known only after apply is an :class:`~planner.topology.sources.base.Unknown`: the topology
must write it until the resource exists. Several files (a folder of plans) are read together; a
resource may point at one in another file by value (a name or an ARN), not by reference.
"""

from __future__ import annotations

import difflib

from planner.errors import Problem
from planner.topology.sources.base import Found, RefError, Role, SourceFileError, SourceFiles, Unplanned
from planner.topology.sources.terraform import databases, poolers, services
from planner.topology.sources.terraform.index import Index
from planner.topology.sources.terraform.plan import Plan, Resource, bare, parse_address, read_plan
from planner.topology.values import suggest

MAX_LISTED = 5  # addresses a hint lists; a plan may hold thousands
# The resource types that fit each role, in the order hints list them.
ROLE_TYPES: dict[Role, tuple[str, ...]] = {
    "database": databases.TYPES,
    "service": services.TYPES,
    "pooler": poolers.TYPES,
}


class TerraformSource:
    """The managed resources of one or more ``terraform show -json`` files."""

    kind = "terraform"

    def __init__(self, plans: list[Plan]) -> None:
        self.index = Index(plans)

    def names(self, role: Role) -> list[str]:
        """Return the address of every resource that can be a ``role`` entry."""
        return [r.address for r in self.index.of_type(*ROLE_TYPES[role]) if _fits(r, role)]

    def warnings(self) -> list[str]:
        """Return the files' warnings: none that this reader detects yet."""
        return []

    def unplanned(self) -> list[Unplanned]:
        """Return every aws_db_instance (not a read replica) and aws_rds_cluster whose engine planner does
        not plan: RDS for MySQL, MariaDB, Oracle, SQL Server and Db2, Aurora MySQL."""
        found: list[Unplanned] = []
        for resource in self.index.of_type(*databases.TYPES):
            engine = databases.unplanned_engine(resource)
            if engine is not None:
                found.append(Unplanned(resource.address, engine, resource.origin("engine")))
        return found

    def hosts(self) -> dict[str, str]:
        """Return no host names: an RDS endpoint is known only after apply, and a plan names no other hosts."""
        return {}

    def find(self, ref: str, role: Role) -> Found:
        """Return what the resource at address ``ref`` says about a ``role`` entry."""
        resource = self._resource(ref, role)
        types = ROLE_TYPES[role]
        if resource.type not in types:
            raise RefError(f"{resource.address} is an {resource.type}, which is not a {role}",
                           f"a {role} comes from {' or '.join(types)}" + _listed(self.names(role)))
        notes: list[str] = []
        found = Found(resource.origin(), notes=notes)
        if resource.type in databases.TYPES:
            found.facts.update(databases.database(self.index, resource, notes))
        elif resource.type == services.LAMBDA:
            facts, found.containers = services.function(resource, notes)
            found.facts.update(facts)
        elif resource.type == services.ECS_SERVICE:
            facts, found.containers = services.ecs_service(self.index, resource, notes)
            found.facts.update(facts)
        else:
            found.facts.update(poolers.proxy(self.index, resource, notes))
        return found

    def _resource(self, ref: str, role: Role) -> Resource:
        """Return the one resource instance ``ref`` names, or raise RefError with the addresses that exist."""
        wanted = parse_address(ref)
        if wanted is None:
            raise RefError(f"{ref!r} is not a resource address",
                           'write it as Terraform does: aws_db_instance.main, module.db.aws_rds_cluster.this, aws_lambda_function.worker["a"]')
        exact = self.index.by_address.get(ref)
        matches = exact or [r for r in self.index.by_bare.get(bare(ref), []) if _matches(wanted, r.address)]
        if not matches:
            destroyed = [p.file for p in self.index.plans if ref in p.destroyed]
            if destroyed:
                raise RefError(f"{ref} is destroyed by the plan in {destroyed[0]}", "remove the entry, or point it at what replaces it")
            files = ", ".join(p.file for p in self.index.plans)
            options = self.names(role)
            hint = _suggest(ref, options, role) if options else self._none_of(role)
            raise RefError(f"no resource {ref} in {files}", hint)
        files = sorted({r.plan.file for r in matches})
        if len(files) > 1:
            raise RefError(f"{ref} is in {' and '.join(files)}", "list one plan per Terraform configuration in sources.terraform")
        if len(matches) > 1:
            listed = ", ".join(r.address for r in matches)
            raise RefError(f"{ref} has {len(matches)} instances: {listed}", f"name one, e.g. from: {matches[0].address}")
        return matches[0]


    def _none_of(self, role: Role) -> str:
        """Say that the plan has nothing for ``role``, naming the databases it has of engines planner does not plan."""
        unplanned = self.unplanned() if role == "database" else []
        if not unplanned:
            return f"the plan has no {' or '.join(ROLE_TYPES[role])}"
        listed = ", ".join(f"{u.ref} ({u.engine})" for u in unplanned[:MAX_LISTED]) + (", …" if len(unplanned) > MAX_LISTED else "")
        return f"the plan has no PostgreSQL {' or '.join(ROLE_TYPES[role])}; planner does not plan the engines of {listed}"


def _matches(wanted: list[tuple[str, int | str | None]], address: str) -> bool:
    """Return whether a reference's steps name ``address``: same steps, and its index where it gives one."""
    steps = parse_address(address)
    if steps is None or len(steps) != len(wanted):
        return False
    return all(name == other and (index is None or index == theirs) for (name, index), (other, theirs) in zip(wanted, steps))


def _suggest(ref: str, names: list[str], role: Role) -> str:
    """Return "did you mean" for the closest address, comparing without indexes (``worker`` for ``worker["a"]``)."""
    unindexed: dict[str, str] = {}
    for name in names:
        unindexed.setdefault(bare(name), name)
    close = difflib.get_close_matches(bare(ref), list(unindexed), n=1, cutoff=0.6)
    if close:
        return f"did you mean {unindexed[close[0]]!r}?"
    return suggest(ref, names[:MAX_LISTED], f"{role}s in the plan") + (", …" if len(names) > MAX_LISTED else "")


def _fits(resource: Resource, role: Role) -> bool:
    if role == "database":
        return databases.fits(resource)
    if role == "pooler":
        return poolers.fits(resource)
    return True


def _listed(names: list[str]) -> str:
    if not names:
        return ""
    shown = ", ".join(names[:MAX_LISTED]) + (", …" if len(names) > MAX_LISTED else "")
    return f"; in the plan: {shown}"


def load(files: SourceFiles, paths: list[str]) -> TerraformSource:
    """Read the ``terraform show -json`` files ``paths``; raises :class:`SourceFileError` with every file's problem."""
    plans: list[Plan] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            plans.append(read_plan(files.read(path), path))
        except SourceFileError as e:
            problems += e.problems
    if problems:
        raise SourceFileError(problems)
    return TerraformSource(plans)


__all__ = ["TerraformSource", "load"]
