"""What an ``aws_lambda_function`` or an ``aws_ecs_service`` says about a topology service.

- ``aws_lambda_function``: ``reserved_concurrent_executions`` is the service's concurrency. ``-1``
  (the provider's "unreserved") gives a Lambda service without one, so planner assumes the account
  default and warns. ``0`` throttles the function off: it runs nothing now, but it is a switch that
  will be turned back on, and counting it as 0 would let other services take its slots, so the
  concurrency is asked of the topology instead. Its one :class:`~planner.topology.sources.base.Container`
  (named ``function``) has the environment ``environment[0].variables``; a function packaged as a
  ``.zip`` (``package_type`` ``Zip``, the default) gives its ``runtime`` and ``handler``, one packaged
  as an image (``Image``) its ``image_uri`` and, from ``image_config``, the entry point and command.
- ``aws_ecs_service``: ``desired_count``, or the ``aws_appautoscaling_target`` (dimension
  ``ecs:service:DesiredCount``, ``resource_id`` ``service/CLUSTER/SERVICE``) as ``replicas.min``
  and ``replicas.max``; the surge is ``deployment_maximum_percent`` − 100 (ECS's default 200 gives
  ``100%``; a CodeDeploy blue/green deployment starts a whole second task set, ``100%`` too); the
  containers of its ``aws_ecs_task_definition``: image, ``entryPoint`` and ``command``, environment,
  CPUs (the container's ``cpu`` units / 1024, what ECS reserves for it; else, for a task of one
  container, the task's ``cpu``, which Fargate enforces),
  and ``one_shot`` for a container that others wait for with ``dependsOn`` condition ``SUCCESS`` or
  ``COMPLETE`` (it runs to completion before they start:
  https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContainerDependency.html).
"""

from __future__ import annotations

import json
import re
from typing import Any

from planner.topology.sources.base import Container, Fact, Origin, Unknown, Value
from planner.topology.sources.terraform.index import AFTER_APPLY, Index, number, read
from planner.topology.sources.terraform.plan import UNKNOWN, Resource

LAMBDA = "aws_lambda_function"
ECS_SERVICE = "aws_ecs_service"
TYPES = (LAMBDA, ECS_SERVICE)
TASK_DEFINITION = "aws_ecs_task_definition"
AUTOSCALING_TARGET = "aws_appautoscaling_target"
ECS_DIMENSION = "ecs:service:DesiredCount"
UNRESERVED = -1  # the provider's value for a function without reserved concurrency
ECS_DEFAULT_MAXIMUM_PERCENT = {"REPLICA": 200, "DAEMON": 100}  # the ECS API's defaults per scheduling strategy
FUNCTION = "function"  # the one "container" of a Lambda function, for {env: NAME}
CPU_UNITS = 1024  # ECS CPU units per vCPU (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html)
RUNS_TO_COMPLETION = ("SUCCESS", "COMPLETE")  # dependsOn conditions that wait for a container to exit
_VCPU = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*vcpu\s*", re.I)  # a task cpu written "1 vCPU"

Facts = dict[str, Value]
Environment = tuple[Container, ...] | None  # None: the object has no environment planner can read


def function(resource: Resource, notes: list[str]) -> tuple[Facts, Environment]:
    """Return the facts and environment of a Lambda function."""
    facts: Facts = {}
    field = "reserved_concurrent_executions"
    reserved = read(resource, field)
    if reserved is None or isinstance(reserved, Fact) and reserved.value == UNRESERVED:
        # the resource is a Lambda service all the same; planner assumes the account default and warns
        facts["lambda"] = Fact({}, resource.origin(field if reserved is not None else f"(no {field})"))
        said = f"{field} is -1" if reserved is not None else f"sets no {field}"
        notes.append(f"{resource.address} {said} (unreserved): it scales to the account's unreserved "
                     "concurrency, which planner takes as 1000; reserve concurrency to bound it")
    elif isinstance(reserved, Fact) and reserved.value == 0:
        facts["lambda.concurrency"] = Unknown(resource.origin(field), "is 0: the function is throttled off; planner "
                                              "counts the concurrency it will run with when it is turned back on")
        notes.append(f"{resource.address} {field} is 0: the function is throttled and runs nothing until it is raised")
    else:
        facts["lambda.concurrency"] = reserved
    return facts, _lambda_environment(resource, notes)


def _lambda_environment(resource: Resource, notes: list[str]) -> Environment:
    """Return the function as one container: its environment, and its runtime and handler or its image."""
    variables = resource.value("environment", 0, "variables")
    if variables is UNKNOWN:
        notes.append(f"{resource.address} environment is known only after apply: {{env: NAME}} values cannot be read from it")
        return None
    env: dict[str, Fact | Unknown] = {}
    names = [*(variables if isinstance(variables, dict) else {}), *resource.unknown_keys("environment", 0, "variables")]
    for name in names:
        value = read(resource, "environment", 0, "variables", name)
        if value is not None:
            env[str(name)] = value if isinstance(value, Unknown) else Fact(str(value.value), value.origin)
    if resource.value("package_type") == "Image":
        image = resource.value("image_uri")

        def words(key: str) -> tuple[str, ...] | None:  # image_config's entry_point and command override the image's
            value = resource.value("image_config", 0, key)
            return tuple(str(w) for w in value) if isinstance(value, list) else None

        return (Container(FUNCTION, image if isinstance(image, str) and image else None, words("entry_point"), words("command"),
                          resource.origin("image_config[0].command"), env=env),)
    runtime, handler = (read(resource, key) for key in ("runtime", "handler"))
    return (Container(FUNCTION, env=env, runtime=runtime if isinstance(runtime, Fact) else None,
                      handler=handler if isinstance(handler, Fact) else None),)


def ecs_service(index: Index, service: Resource, notes: list[str]) -> tuple[Facts, Environment]:
    """Return the facts and environment of an ECS service."""
    facts: Facts = {}
    strategy = service.value("scheduling_strategy")
    targets = [t for t in index.of_type(AUTOSCALING_TARGET)
               if t.value("scalable_dimension") == ECS_DIMENSION and _scales(index, t, service)]
    if targets:
        target = targets[0]
        if len(targets) > 1:
            notes.append(f"several {AUTOSCALING_TARGET}s scale {service.address}: planner reads {target.address}")
        for key, attribute in (("replicas.min", "min_capacity"), ("replicas.max", "max_capacity")):
            found = read(target, attribute)
            facts[key] = Fact(number(found.value), found.origin) if isinstance(found, Fact) else found or Unknown(
                target.origin(attribute), "is not set")
    elif strategy == "DAEMON":
        facts["replicas"] = Unknown(service.origin("scheduling_strategy"), "is DAEMON: one task per container instance, "
                                    "a number the plan does not hold")
    else:
        desired = read(service, "desired_count")
        facts["replicas"] = desired if desired is not None else Fact(0, service.origin("(no desired_count: ECS starts 0)"))
    facts["max_surge"] = _surge(service, strategy if isinstance(strategy, str) else "REPLICA")
    return facts, _task_environment(index, service, notes)


def _scales(index: Index, target: Resource, service: Resource) -> bool:
    """Return whether an autoscaling target's ``service/CLUSTER/SERVICE`` resource_id names ``service``."""
    resource_id = target.value("resource_id")
    if not isinstance(resource_id, str):
        return index.points_at(target, "resource_id", service)
    parts = resource_id.split("/")
    if len(parts) != 3 or parts[0] != "service" or parts[2] != service.value("name"):
        return False
    cluster = service.value("cluster")  # the cluster's ARN (its id) or name; unknown for a new cluster
    return not isinstance(cluster, str) or cluster.rsplit("/", 1)[-1] == parts[1]


def _surge(service: Resource, strategy: str) -> Value:
    """Return the surge of a rollout: the tasks ECS may run above the desired count, as a percentage."""
    controller = service.value("deployment_controller", 0, "type")
    if controller == "CODE_DEPLOY":
        return Fact("100%", service.origin("deployment_controller[0].type"))
    maximum = read(service, "deployment_maximum_percent")
    if maximum is None:
        default = ECS_DEFAULT_MAXIMUM_PERCENT.get(strategy, 200)
        maximum = Fact(default, service.origin(f"(no deployment_maximum_percent: ECS's default {default})"))
    if isinstance(maximum, Unknown) or not isinstance(maximum.value, int) or isinstance(maximum.value, bool):
        return maximum  # not a percentage: the validator says so, citing this origin
    # ECS rounds the maximum down and planner rounds the surge up: planner may count one task more
    return Fact(f"{max(int(maximum.value) - 100, 0)}%", maximum.origin)


def _task_environment(index: Index, service: Resource, notes: list[str]) -> Environment:
    """Return the environment of each container of the service's task definition, by container name."""
    definitions = index.related(service, "task_definition", TASK_DEFINITION)
    if not definitions:
        notes.append(f"{service.address} task_definition names no {TASK_DEFINITION} in the plan: its environment is not read")
        return None
    definition = definitions[0]
    text = definition.value("container_definitions")
    if text is UNKNOWN:
        notes.append(f"{definition.address} container_definitions {AFTER_APPLY}: the containers' environment cannot be read")
        return None
    try:
        containers = json.loads(text) if isinstance(text, str) else []
    except ValueError:
        notes.append(f"{definition.address} container_definitions is not JSON: the containers' environment is not read")
        return None
    return task_containers(definition, containers if isinstance(containers, list) else [], notes)


def task_containers(definition: Resource, listed: list[Any], notes: list[str]) -> tuple[Container, ...]:
    """Return the containers of a task definition (its parsed ``container_definitions``) as the recogniser reads them."""
    named = [c for c in listed if isinstance(c, dict) and isinstance(c.get("name"), str)]
    waited = {str(dependency.get("containerName")) for c in named for dependency in c.get("dependsOn") or []
              if isinstance(dependency, dict) and dependency.get("condition") in RUNS_TO_COMPLETION}
    task_cpus = _task_cpus(definition) if len(named) == 1 else None
    return tuple(_container(definition, container, container["name"] in waited, task_cpus, notes) for container in named)


def _container(definition: Resource, container: dict[str, Any], one_shot: bool, task_cpus: Fact | None,
               notes: list[str]) -> Container:
    """Return one container definition: image, entryPoint and command, environment, CPUs, whether it runs to completion."""
    image = container.get("image")
    name = container["name"]

    def words(key: str) -> tuple[str, ...] | None:
        value = container.get(key)
        return tuple(str(w) for w in value) if isinstance(value, list) else None

    def origin(field: str) -> Origin:
        return Origin(definition.address, definition.plan.file, definition.plan.line(definition.address),
                      f"container_definitions {name}.{field}")

    units = container.get("cpu")
    # cpu 0 (or none) reserves nothing: the container shares what the task has, which is its limit only when it is alone
    cpus = (Fact(number(units / CPU_UNITS), origin(f"cpu ({units} CPU units / {CPU_UNITS})"))
            if isinstance(units, (int, float)) and not isinstance(units, bool) and units > 0 else task_cpus)
    return Container(name, image if isinstance(image, str) else None, words("entryPoint"), words("command"),
                     origin("command"), env=_container_environment(definition, container, notes), cpus=cpus,
                     one_shot=one_shot)


def _task_cpus(definition: Resource) -> Fact | None:
    """Return the task's ``cpu`` in vCPUs ("512" CPU units, or "1 vCPU"), where the task definition sets one."""
    value = definition.value("cpu")
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if text.isdigit() and int(text) > 0:
        return Fact(number(int(text) / CPU_UNITS), definition.origin(f"cpu ({text} CPU units / {CPU_UNITS}, the task's)"))
    match = _VCPU.fullmatch(text)
    if match:
        return Fact(number(float(match.group(1))), definition.origin(f"cpu ({text}, the task's)"))
    return None


def _container_environment(definition: Resource, container: dict[str, Any], notes: list[str]) -> dict[str, Fact | Unknown]:
    name = container["name"]
    line = definition.plan.line(definition.address)
    env: dict[str, Fact | Unknown] = {}
    for item in container.get("environment") or []:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            origin = Origin(definition.address, definition.plan.file, line, f"container_definitions {name}.environment.{item['name']}")
            env[item["name"]] = Fact(str(item.get("value", "")), origin)
    for item in container.get("secrets") or []:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            origin = Origin(definition.address, definition.plan.file, line, f"container_definitions {name}.secrets.{item['name']}")
            env[item["name"]] = Unknown(origin, f"comes from {item.get('valueFrom', 'a secret')} (planner does not read "
                                        "Secrets Manager or SSM)")
    if container.get("environmentFiles"):
        notes.append(f"container {name} of {definition.address} also reads environment files from S3, which planner does not read")
    return env
