"""The indexed manifests: which workload a reference names, and what that workload says."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from planner.topology.sources.base import Container, Fact, Found, Origin, RefError, Role, Unknown, Unplanned, Value
from planner.topology.sources.kubernetes.env import container_environment
from planner.topology.sources.kubernetes.manifests import (
    CONFIG_MAP,
    SCALED_OBJECT,
    WORKLOADS,
    Manifest,
    mapping,
    same_namespace,
)
from planner.topology.values import suggest

DEFAULT_SURGE = "25%"  # Kubernetes' maxSurge when a RollingUpdate Deployment does not say


class KubernetesSource:
    """The objects of one or more manifest files, indexed by kind and name."""

    kind = "kubernetes"

    def __init__(self, objects: list[Manifest], scalers: dict[str, Manifest]) -> None:
        self.objects = objects
        self.scalers = scalers  # workload ident -> the autoscaler that scales it
        self.by_name: dict[tuple[str, str], list[Manifest]] = defaultdict(list)
        for obj in objects:
            self.by_name[(obj.kind, obj.name)].append(obj)
        by_ident = {obj.ident: obj for obj in objects}
        self.targets = {scaler.ident: by_ident[workload] for workload, scaler in scalers.items()}
        self.config_maps = [obj for obj in objects if obj.kind == CONFIG_MAP]

    # ------------------------------------------------------------------ references

    def label(self, obj: Manifest) -> str:
        """Return the shortest reference that names ``obj`` alone: with its namespace only when needed."""
        if obj.namespace and len(self.by_name[(obj.kind, obj.name)]) > 1:
            return obj.ident
        return f"{obj.kind}/{obj.name}"

    def names(self, role: Role) -> list[str]:
        """Return a reference for every Deployment, StatefulSet and ReplicaSet (none for a database)."""
        if role == "database":
            return []
        # A workload without a namespace that shares its Kind/name with another has no reference of
        # its own (it matches every namespace), so it is left out rather than listed ambiguously.
        return [self.label(obj) for obj in self.objects if obj.kind in WORKLOADS
                and not (obj.namespace is None and len(self.by_name[(obj.kind, obj.name)]) > 1)]

    def warnings(self) -> list[str]:
        """Return the files' warnings: none that this reader detects yet."""
        return []

    def unplanned(self) -> list[Unplanned]:
        """Return the databases of engines planner does not plan: none that this reader detects yet."""
        return []

    def hosts(self) -> dict[str, str]:
        """Return no host names yet: Services and their selectors are not indexed."""
        return {}

    def lookup(self, ref: str) -> Manifest:
        """Return the workload ``ref`` names; raise :class:`RefError` with the references that exist."""
        parts = ref.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise RefError(f"{ref!r} is not a Kubernetes reference", "write Kind/name or namespace/Kind/name, e.g. Deployment/web")
        namespace = parts[0] if len(parts) == 3 else None
        kind, name = parts[-2], parts[-1]
        if kind not in WORKLOADS:
            raise self.not_a_workload(kind, name)
        candidates = self.by_name.get((kind, name), [])
        if namespace is not None:
            # its own namespace first; an object without one goes to any namespace
            matches = [c for c in candidates if c.namespace == namespace] or [c for c in candidates if c.namespace is None]
            if matches:
                return matches[0]
            if candidates:
                raise RefError(f"no {kind} {name!r} in namespace {namespace!r}", _alternatives(candidates))
        elif len(candidates) == 1:
            return candidates[0]
        elif candidates:
            raise RefError(f"{kind}/{name} is in several namespaces", _alternatives(candidates))
        where = f" in namespace {namespace!r}" if namespace else ""
        same_name = [self.label(obj) for obj in self.objects if obj.kind in WORKLOADS and obj.name == name]
        # names compared alone: refs that share their kind look alike whatever their names
        same_kind = [obj.name for obj in self.objects if obj.kind == kind and same_namespace(obj.namespace, namespace)]
        if same_name:  # the right name under another kind: a StatefulSet written as a Deployment
            hint = f"did you mean {same_name[0]!r}?"
        elif same_kind:
            hint = suggest(name, same_kind, f"{kind}s")
        elif self.names("service"):
            hint = "the workloads are " + ", ".join(self.names("service"))
        else:
            hint = "the manifests have no Deployment, StatefulSet or ReplicaSet"
        raise RefError(f"no {kind} named {name!r}{where} in the Kubernetes manifests", hint)

    def not_a_workload(self, kind: str, name: str) -> RefError:
        """Return the error for a reference to an object that runs no pods, or to a misspelt kind."""
        if kind not in {obj.kind for obj in self.objects}:
            return RefError(f"no kind {kind!r} in the Kubernetes manifests", suggest(kind, WORKLOADS, "a service comes from a"))
        targets = [self.targets[obj.ident] for obj in self.by_name.get((kind, name), []) if obj.ident in self.targets]
        if targets:
            return RefError(f"{kind}/{name} is not a workload", f"write from: {self.label(targets[0])}, the workload it scales")
        same_name = [self.label(obj) for obj in self.objects if obj.kind in WORKLOADS and obj.name == name]
        hint = f"write from: {' or '.join(same_name)}" if same_name else "name a Deployment, StatefulSet or ReplicaSet"
        return RefError(f"{kind}/{name} is not a workload: replicas and environment come from a Deployment, "
                        "StatefulSet or ReplicaSet", hint)

    # ------------------------------------------------------------------ what a workload says

    def find(self, ref: str, role: Role) -> Found:
        """Return what the workload ``ref`` says about a service or pooler."""
        if role == "database":
            raise RefError(f"{ref} is a Kubernetes object, which does not describe an RDS database",
                           "use a Terraform address (from: aws_db_instance.main) or write the database's keys")
        obj = self.lookup(ref)
        notes: list[str] = []
        facts: dict[str, Value] = dict(self.replicas(obj, notes))
        if role == "service":
            facts["max_surge"] = self.surge(obj)
        spec = mapping(mapping(obj.spec.get("template")).get("spec"))
        containers = spec.get("containers")
        read = [self.container(obj, index, container) for index, container in enumerate(containers if isinstance(containers, list) else [])
                if isinstance(container, dict) and isinstance(container.get("name"), str)]
        return Found(Origin(self.label(obj), obj.doc.file, obj.line()), facts, containers=tuple(read), notes=notes)

    def container(self, obj: Manifest, index: int, container: dict[str, Any]) -> Container:
        """Return container ``index`` of ``obj``'s pod template as the recogniser reads it."""
        env, unread = container_environment(self, obj, index, container)
        image = container.get("image")

        def words(key: str) -> tuple[str, ...] | None:
            value = container.get(key)
            return tuple(str(w) for w in value) if isinstance(value, list) else None

        entrypoint, args = words("command"), words("args")
        if entrypoint is not None and args is None:
            args = ()  # `command` without `args`: Kubernetes does not run the image's CMD
        field = f"spec.template.spec.containers[{index}].{'args' if args else 'command'}"
        return Container(str(container["name"]), image if isinstance(image, str) else None, entrypoint, args,
                         self.at(obj, field, f"containers[{container['name']}].{'args' if args else 'command'}"),
                         env=env, env_unread=tuple(unread))

    def at(self, obj: Manifest, field: str, shown: str | None = None) -> Origin:
        """Return the origin of ``field`` of ``obj``; ``shown`` names the field if not ``field`` itself."""
        return Origin(self.label(obj), obj.doc.file, obj.line(field), shown or field)

    def replicas(self, obj: Manifest, notes: list[str]) -> dict[str, Fact | Unknown]:
        """Return ``replicas``, or ``replicas.min`` and ``replicas.max`` from the workload's autoscaler."""
        scaler = self.scalers.get(obj.ident)
        if scaler is None:
            # absent, or null as charts write it when their autoscaler is off: Kubernetes runs 1
            return {"replicas": self.count(obj, "spec.replicas", obj.spec.get("replicas"), 1, "Kubernetes'", notes)}
        spec = scaler.spec
        if scaler.kind == SCALED_OBJECT:  # KEDA's defaults: 0 and 100
            return {"replicas.min": self.count(scaler, "spec.minReplicaCount", spec.get("minReplicaCount"), 0, "KEDA's", notes),
                    "replicas.max": self.count(scaler, "spec.maxReplicaCount", spec.get("maxReplicaCount"), 100, "KEDA's", notes)}
        if spec.get("maxReplicas") is None:
            where = Origin(self.label(scaler), scaler.doc.file, scaler.line("spec"))
            high: Fact | Unknown = Unknown(where, "has no spec.maxReplicas, which Kubernetes requires")
        else:
            high = self.count(scaler, "spec.maxReplicas", spec["maxReplicas"], None, "", notes)
        return {"replicas.min": self.count(scaler, "spec.minReplicas", spec.get("minReplicas"), 1, "Kubernetes'", notes),
                "replicas.max": high}

    def count(self, obj: Manifest, field: str, value: Any, default: int | None, whose: str, notes: list[str]) -> Fact:
        """Return the replica count ``field`` says, or ``whose`` default if it is absent.

        A 0 counts as 1, with a note: planner needs at least one replica, and the budget must hold
        once a workload scaled to zero scales up.
        """
        absent = value is None and default is not None
        value = default if absent else value
        located = "spec" if absent else field  # an absent field's line is its parent's
        if not (isinstance(value, int) and not isinstance(value, bool) and value == 0):
            return Fact(value, self.at(obj, located, f"{field} (absent: {whose} default, {value})" if absent else field))
        said = f"has no {field}, so {whose} default 0 applies" if absent else f"{field} is 0"
        notes.append(f"{self.label(obj)} {said}: counted as 1 replica, so the budget holds when it scales up")
        return Fact(1, self.at(obj, located, f"{field} ({'absent: ' + whose + ' default ' if absent else ''}0, counted as 1)"))

    def surge(self, obj: Manifest) -> Fact:
        """Return how many pods a rollout adds: maxSurge, or 0 where pods are replaced, not added."""
        if obj.kind == "StatefulSet":
            return Fact(0, self.at(obj, "", "(a StatefulSet replaces its pods one at a time: no surge)"))
        if obj.kind == "ReplicaSet":
            return Fact(0, self.at(obj, "", "(a ReplicaSet has no rollout: no surge)"))
        strategy = mapping(obj.spec.get("strategy"))
        if strategy.get("type") == "Recreate":
            return Fact(0, self.at(obj, "spec.strategy.type", "spec.strategy.type Recreate (no surge)"))
        surge = mapping(strategy.get("rollingUpdate")).get("maxSurge")
        if surge is not None:
            return Fact(surge, self.at(obj, "spec.strategy.rollingUpdate.maxSurge"))
        return Fact(DEFAULT_SURGE, self.at(obj, "spec.strategy" if strategy else "spec",
                                           "spec.strategy.rollingUpdate.maxSurge (absent: Kubernetes' default, 25%)"))

    def config_map(self, name: str, namespace: str | None) -> Manifest | None:
        """Return the ConfigMap ``name`` that a workload in ``namespace`` reads, if the manifests hold it."""
        found = [cm for cm in self.config_maps if cm.name == name and same_namespace(cm.namespace, namespace)]
        exact = [cm for cm in found if cm.namespace == namespace]
        return exact[0] if exact else found[0] if len(found) == 1 else None


def _alternatives(candidates: list[Manifest]) -> str:
    """Return "write prod/Deployment/web or staging/Deployment/web" for objects that share a Kind/name."""
    named = [c.ident for c in candidates if c.namespace]
    text = "write " + " or ".join(named) if named else ""
    unnamed = [c.where() for c in candidates if not c.namespace]
    if unnamed:  # it matches every namespace, so it cannot be told apart until it has one
        text += ("; " if text else "") + "give the one at " + " and ".join(unnamed) + " a metadata.namespace"
    return text
