"""What an ``aws_db_instance`` or an ``aws_rds_cluster`` says about a topology database.

- ``aws_db_instance`` (engine ``postgres``): class, version, Multi-AZ, its read replicas (the
  ``aws_db_instance``\\ s whose ``replicate_source_db`` names it) and their class, and the
  connection parameters of its ``aws_db_parameter_group``.
- ``aws_rds_cluster`` with engine ``aurora-postgresql``: version, storage configuration, the
  ``aws_rds_cluster_instance``\\ s whose ``cluster_identifier`` names it (the first is taken as the
  writer, the others are readers), the Serverless v2 range, and the parameters of its
  ``aws_rds_cluster_parameter_group`` overridden by those of the writer's ``aws_db_parameter_group``
  (Aurora lets an instance's group override its cluster's for the same parameter).
- ``aws_rds_cluster`` with engine ``postgres`` and ``db_cluster_instance_class``: a Multi-AZ DB cluster.

An Aurora cluster whose instances are not in the plan (another configuration, or a module the plan
does not hold, creates them) still gives everything the cluster says; its ``instance_class`` and
``readers`` are :class:`~planner.topology.sources.base.Unknown`, each saying what to write.

A primary of any other engine (``mysql``, ``mariadb``, ``aurora-mysql``, ``oracle-*``,
``sqlserver-*``, ``db2-*``, or ``neptune``/``docdb`` where those clusters are written as
``aws_rds_cluster``) is not a topology database: :func:`unplanned_engine` names its engine, so that
``planner import`` lists it in a note, and naming it in ``from:`` is an error saying so.
"""

from __future__ import annotations

from typing import Any

from planner.model import SERVERLESS_CLASS
from planner.reserves import RESERVE_PARAMETERS
from planner.topology.sources.base import Fact, Origin, RefError, Unknown, Value
from planner.topology.sources.terraform.index import AFTER_APPLY, Index, number, read
from planner.topology.sources.terraform.plan import UNKNOWN, Resource

INSTANCE = "aws_db_instance"
CLUSTER = "aws_rds_cluster"
CLUSTER_INSTANCE = "aws_rds_cluster_instance"
PARAMETER_GROUP = "aws_db_parameter_group"
CLUSTER_PARAMETER_GROUP = "aws_rds_cluster_parameter_group"
TYPES = (INSTANCE, CLUSTER)
PARAMETERS = ("max_connections", *RESERVE_PARAMETERS)
AURORA = "aurora-postgresql"
IO_OPTIMIZED_STORAGE = "aurora-iopt1"  # the storage_type of Aurora I/O-Optimized

Facts = dict[str, Value]


# The engines planner plans, per resource type (spec §1: postgres and aurora-postgresql).
PLANNED: dict[str, tuple[str, ...]] = {INSTANCE: ("postgres",), CLUSTER: (AURORA, "postgres")}


def fits(resource: Resource) -> bool:
    """Return whether ``resource`` can be a topology database (a PostgreSQL primary or cluster)."""
    return not _replica(resource) and resource.value("engine") in (*PLANNED[resource.type], UNKNOWN)


def unplanned_engine(resource: Resource) -> str | None:
    """Return the engine of a primary (an aws_db_instance that replicates nothing, or an aws_rds_cluster)
    that planner does not plan (``mysql``, ``aurora-mysql``, ``sqlserver-ee``); None for any other resource.

    A read replica is left out: its source is the database to name (and a replica in another Region,
    whose source is not in the plan, has the engine of that source, which the plan does not say).
    """
    engine = resource.value("engine")
    if resource.type not in PLANNED or _replica(resource) or not isinstance(engine, str) or not engine:
        return None
    return None if engine in PLANNED[resource.type] else engine


def _replica(resource: Resource) -> bool:
    """Return whether ``resource`` is an aws_db_instance read replica (its replicate_source_db names its source)."""
    if resource.type != INSTANCE:
        return False
    source = resource.value("replicate_source_db")
    return isinstance(source, str) and bool(source) or source is UNKNOWN and resource.configured("replicate_source_db")


def database(index: Index, resource: Resource, notes: list[str]) -> Facts:
    """Return the facts of a topology database read from an aws_db_instance or an aws_rds_cluster."""
    if resource.type == INSTANCE:
        return _instance(index, resource, notes)
    return _cluster(index, resource, notes)


def _engine(resource: Resource) -> Value:
    engine = read(resource, "engine")
    if isinstance(engine, Fact) and engine.value not in PLANNED[resource.type]:
        raise RefError(f"{resource.address} is a {engine.value} database, an engine planner does not plan (it plans PostgreSQL)",
                       f"remove the entry, or name an {INSTANCE} with engine postgres or an {CLUSTER} with engine "
                       f"{AURORA} or postgres")
    return engine if engine is not None else Unknown(resource.origin("engine"), "is not set")


def _instance(index: Index, primary: Resource, notes: list[str]) -> Facts:
    if _replica(primary):
        source = primary.value("replicate_source_db")
        of = source if isinstance(source, str) else "a database named after apply"
        raise RefError(f"{primary.address} is a read replica (of {of}); planner counts it as a reader of its source",
                       "name the source instance in from:; its replicas become its readers")
    facts: Facts = {"engine": _engine(primary)}
    _put(facts, "engine_version", read(primary, "engine_version"))
    _put(facts, "instance_class", read(primary, "instance_class"))
    multi_az = _defaulted(primary, "multi_az", False, "(multi_az not set: Single-AZ)")
    if isinstance(multi_az, Fact):
        multi_az = Fact("multi-az" if multi_az.value else "single-az", multi_az.origin)
    facts["deployment"] = multi_az
    replicas = [r for r in index.of_type(INSTANCE) if r is not primary and index.points_at(r, "replicate_source_db", primary)]
    listed = ", ".join(r.address for r in replicas)
    facts["readers"] = Fact(len(replicas), primary.origin(f"(read replicas: {listed})" if replicas else f"(no {INSTANCE} replicates it)"))
    _reader_class(facts, replicas, primary.value("instance_class"), notes)
    groups = index.related(primary, "parameter_group_name", PARAMETER_GROUP)
    _parameters(facts, [(primary, "parameter_group_name", groups)], notes)
    return facts


def _cluster(index: Index, cluster: Resource, notes: list[str]) -> Facts:
    engine = _engine(cluster)
    facts: Facts = {"engine": engine}
    _put(facts, "engine_version", read(cluster, "engine_version"))
    cluster_groups = index.related(cluster, "db_cluster_parameter_group_name", CLUSTER_PARAMETER_GROUP)
    if isinstance(engine, Fact) and engine.value == "postgres":  # a Multi-AZ DB cluster: a writer and two readable standbys
        facts["deployment"] = Fact("multi-az-cluster", cluster.origin("db_cluster_instance_class"))
        _put(facts, "instance_class", read(cluster, "db_cluster_instance_class"))
        _parameters(facts, [(cluster, "db_cluster_parameter_group_name", cluster_groups)], notes)
        return facts
    if cluster.value("engine_mode") == "serverless":
        raise RefError(f"{cluster.address} is Aurora Serverless v1 (engine_mode serverless), which has no instances to plan",
                       f"plan its successor, Serverless v2: {CLUSTER_INSTANCE}s of class {SERVERLESS_CLASS}")
    storage = _defaulted(cluster, "storage_type", "", "(storage_type not set: Aurora Standard)")
    if isinstance(storage, Fact):
        storage = Fact("aurora-io-optimized" if storage.value == IO_OPTIMIZED_STORAGE else "aurora-standard", storage.origin)
    facts["deployment"] = storage
    instances = [i for i in index.of_type(CLUSTER_INSTANCE) if index.points_at(i, "cluster_identifier", cluster)]
    if not instances:
        _without_instances(facts, cluster, notes)
        _parameters(facts, [(cluster, "db_cluster_parameter_group_name", cluster_groups)], notes)
        return facts
    writer, readers = instances[0], instances[1:]
    if readers:
        notes.append(f"{writer.address} is taken as the writer of {cluster.address} (Terraform does not say which instance AWS promotes)")
    _put(facts, "instance_class", read(writer, "instance_class"))
    listed = ", ".join(i.address for i in instances)
    facts["readers"] = Fact(len(readers), cluster.origin(f"(instances: {listed})"))
    _reader_class(facts, readers, writer.value("instance_class"), notes)
    if SERVERLESS_CLASS in (i.value("instance_class") for i in instances):
        scaling = ("serverlessv2_scaling_configuration", 0)
        for key, attribute in (("min_acu", "min_capacity"), ("max_acu", "max_capacity")):
            found = read(cluster, *scaling, attribute)
            _put(facts, f"serverless.{key}", Fact(number(found.value), found.origin) if isinstance(found, Fact) else found)
    instance_groups = index.related(writer, "db_parameter_group_name", PARAMETER_GROUP)
    # the instance's own group last: where both set a parameter, Aurora uses the instance's value
    _parameters(facts, [(cluster, "db_cluster_parameter_group_name", cluster_groups),
                        (writer, "db_parameter_group_name", instance_groups)], notes)
    return facts


def _without_instances(facts: Facts, cluster: Resource, notes: list[str]) -> None:
    """Say what an Aurora cluster whose instances are not in the plan leaves the topology to write."""
    missing = f"has no {CLUSTER_INSTANCE} in the plan (none names it in cluster_identifier)"
    facts["instance_class"] = Unknown(cluster.origin(), f"{missing}: instance_class is its writer's class "
                                      f"(db.r6g.large; {SERVERLESS_CLASS} for Serverless v2)")
    facts["readers"] = Unknown(cluster.origin(), f"{missing}: readers is the number of its other instances "
                               "(0 for a writer alone)")
    scaling = [read(cluster, "serverlessv2_scaling_configuration", 0, a) for a in ("min_capacity", "max_capacity")]
    if all(isinstance(v, Fact) for v in scaling):
        low, high = (number(v.value) for v in scaling if isinstance(v, Fact))
        notes.append(f"{cluster.address} has a Serverless v2 capacity range ({low}–{high} ACU): if its instances are "
                     f"{SERVERLESS_CLASS}, also write serverless: {{min_acu: {low}, max_acu: {high}}}")
    notes.append(f"{cluster.address}: its instances' DB parameter groups are not in the plan either; a "
                 "max_connections set there overrides the cluster's: write parameters.max_connections if one does")


def _put(facts: Facts, key: str, value: Value | None) -> None:
    """Give ``key`` when the source sets it; an unset attribute leaves the topology's default."""
    if value is not None:
        facts[key] = value


def _defaulted(resource: Resource, attribute: str, default: Any, why: str) -> Fact | Unknown:
    """Read an optional attribute whose AWS default applies when the configuration does not set it.

    A plan shows such an attribute as known only after apply when it creates the resource, although
    AWS will simply apply its default: only a value the configuration computes is truly unknown.
    """
    found = read(resource, attribute)
    if found is None or isinstance(found, Unknown) and not resource.configured(attribute):
        return Fact(default, resource.origin(why))
    return found


def _reader_class(facts: Facts, readers: list[Resource], writer_class: Any, notes: list[str]) -> None:
    """Give reader_instance_class when the readers' class differs from the writer's."""
    classes = [(r, r.value("instance_class")) for r in readers]
    other = next(((r, c) for r, c in classes if c != writer_class), None)
    if other is None:
        return
    reader, value = other
    facts["reader_instance_class"] = (Unknown(reader.origin("instance_class"), AFTER_APPLY) if value is UNKNOWN
                                      else Fact(value, reader.origin("instance_class")))
    if len({str(c) for _, c in classes}) > 1:
        notes.append("the readers have different classes (" + ", ".join(f"{r.address} {c}" for r, c in classes)
                     + f"): planner takes {reader.address}'s for every reader")


def _parameters(facts: Facts, sources: list[tuple[Resource, str, list[Resource]]], notes: list[str]) -> None:
    """Give the connection parameters of the parameter groups ``sources`` name, later groups winning."""
    for owner, attribute, groups in sources:
        named = owner.value(attribute)
        if not groups:
            if named is UNKNOWN and owner.configured(attribute):  # unset, AWS gives the engine's default group
                notes.append(f"{owner.address} {attribute} is known only after apply and names no parameter group in the plan: "
                             "its connection parameters are not read")
            elif isinstance(named, str) and named and not named.startswith("default."):
                notes.append(f"parameter group {named!r} ({owner.address} {attribute}) is not in the plan: "
                             "its connection parameters are not read")
            continue
        group = groups[0]
        listed = group.value("parameter")
        if listed is UNKNOWN:
            facts["parameters.max_connections"] = Unknown(group.origin("parameter"), AFTER_APPLY)
            continue
        for item in listed if isinstance(listed, list) else []:
            if not isinstance(item, dict) or item.get("name") not in PARAMETERS:
                continue
            name = item["name"]
            origin = Origin(group.address, group.plan.file, group.plan.line(group.address), f"parameter {name}")
            value = item.get("value")
            if value is None or value is UNKNOWN:
                facts[f"parameters.{name}"] = Unknown(origin, AFTER_APPLY)
            else:
                text = str(value).strip()
                facts[f"parameters.{name}"] = Fact(int(text) if text.isdigit() else text, origin)
