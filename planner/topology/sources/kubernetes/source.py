"""The indexed manifests: which object a reference names, and what that object says."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any, Iterable

from planner.topology.sources.base import Container, External, Fact, Found, Origin, RefError, Role, Unknown, Unplanned, Value
from planner.topology.sources.kubernetes.manifests import (
    CNPG,
    CONFIG_MAP,
    SCALED_OBJECT,
    WORKLOADS,
    ZALANDO,
    Manifest,
    dig,
    mapping,
    same_namespace,
)
from planner.topology.sources.kubernetes.pods import TEMPLATES, pod_containers, template_labels
from planner.topology.values import suggest

if TYPE_CHECKING:  # the databases' tables are read only when an object may be one (not by `check` of services)
    from planner.topology.sources.apps.images import ServerImage
    from planner.topology.sources.kubernetes.databases import Operator

DEFAULT_SURGE = "25%"  # Kubernetes' maxSurge when a RollingUpdate Deployment does not say
LONG_RUNNING = ("Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Rollout")  # the kinds whose pods may serve a database
# Argo Rollouts' canary maxSurge when the Rollout does not say (utils/defaults/defaults.go, DefaultMaxSurge)
ROLLOUT_SURGE = "25%"
JOB_DOC = "https://kubernetes.io/docs/concepts/workloads/controllers/job/#controlling-parallelism"
CRONJOB_DOC = "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#concurrency-policy"
WORKLOAD_NAMES = "a Deployment, StatefulSet, ReplicaSet, DaemonSet, Job, CronJob or Rollout"
# The workloads that run to completion, and the scenarios in which they count (docs/topology.md,
# "Scenarios a service counts in"): a Job while a deploy runs (migrations, Helm hooks), a CronJob at any
# time, a peak or a deploy included; neither is steady load.
ONE_SHOT: dict[str, tuple[str, ...]] = {"Job": ("rollout",), "CronJob": ("peak", "rollout")}


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
        self.config_maps: dict[str, list[Manifest]] = defaultdict(list)  # by name: a lookup per variable and volume
        self.secrets: dict[str, list[Manifest]] = defaultdict(list)  # their keys only: planner reads no Secret's values
        for obj in objects:
            if obj.kind == CONFIG_MAP:
                self.config_maps[obj.name].append(obj)
            elif obj.kind == "Secret":
                self.secrets[obj.name].append(obj)
        self._containers: dict[int, tuple[Container, ...]] = {}
        self._servers: dict[int, tuple[Container, ServerImage] | None] = {}
        self._labels: dict[int, dict[str, Any]] = {}

    # ------------------------------------------------------------------ references

    def label(self, obj: Manifest) -> str:
        """Return the shortest reference that names ``obj`` alone: with its namespace only when needed."""
        if obj.namespace and len(self.by_name[(obj.kind, obj.name)]) > 1:
            return obj.ident
        return f"{obj.kind}/{obj.name}"

    def workloads(self) -> list[Manifest]:
        """Return the objects that run pods from a template, in file order."""
        return [obj for obj in self.objects if obj.kind in WORKLOADS]

    def names(self, role: Role) -> list[str]:
        """Return a reference for every object of ``role``: the PostgreSQL servers (workloads, CloudNativePG
        Clusters, Zalando postgresqls) for a database, CloudNativePG Poolers for a pooler, every other
        workload for a service (a PgBouncer Deployment too: what its image is, the recogniser tells; and
        a MySQL one, which :meth:`unplanned` also names, so that an import that lists services notes it)."""
        # A workload without a namespace that shares its Kind/name with another has no reference of
        # its own (it matches every namespace), so it is left out rather than listed ambiguously.
        return [self.label(obj) for obj in self.objects if self.listed(obj, role)
                and not (obj.namespace is None and len(self.by_name[(obj.kind, obj.name)]) > 1)]

    def listed(self, obj: Manifest, role: Role) -> bool:
        """Return whether :meth:`names` lists ``obj`` for ``role``."""
        if role == "service":
            return obj.kind in WORKLOADS and self.role(obj) in ("service", "unplanned")
        return self.role(obj) == role

    def role(self, obj: Manifest) -> str | None:
        """Return what ``obj`` is to a topology: ``database``, ``pooler``, ``service``, ``unplanned`` or None."""
        if obj.operated:
            return "pooler" if obj.kind == "Pooler" else "database"
        if obj.kind not in WORKLOADS:
            return "unplanned" if self.operator(obj) is not None else None
        found = self.server(obj)
        if found is None:
            return "service"
        from planner.topology.sources.apps.images import POSTGRES  # loaded by server() already

        return "database" if found[1].engine == POSTGRES else "unplanned"

    def is_database(self, obj: Manifest) -> bool:
        """Return whether ``obj`` is a PostgreSQL server (a Service that selects it leads to a database)."""
        return self.role(obj) == "database"

    def operator(self, obj: Manifest) -> Operator | None:
        """Return the operator row of a database object planner does not read, if ``obj`` is one."""
        from planner.topology.sources.kubernetes.databases import UNREAD_OPERATORS

        return next((o for o in UNREAD_OPERATORS if o.kind == obj.kind and o.group == obj.group), None)

    def warnings(self) -> list[str]:
        """Return what is wrong in the manifests but does not stop planner from reading them (:mod:`.checks`)."""
        from planner.topology.sources.kubernetes import checks

        return checks.warnings(self)

    def hosts(self) -> dict[str, str | External]:
        """Return the host names of the manifests' Services and what answers at each (:mod:`.network`)."""
        from planner.topology.sources.kubernetes import network

        return network.hosts(self)

    def unplanned(self) -> list[Unplanned]:
        """Return the databases planner does not plan, in file order: workloads running MySQL, MariaDB,
        SQL Server or Oracle images (``engine`` is the image), and operators' database objects planner
        does not read (``engine`` names the engine and the operator)."""
        found: list[Unplanned] = []
        for obj in self.objects:
            if self.role(obj) != "unplanned":
                continue
            operator = self.operator(obj)
            if operator is not None:
                engine = f"{operator.engine} ({obj.kind} of {operator.name}, which planner does not read; {operator.doc})"
                found.append(Unplanned(self.label(obj), engine, Origin(self.label(obj), obj.doc.file, obj.line())))
                continue
            server = self.server(obj)
            assert server is not None
            container, _ = server
            found.append(Unplanned(self.label(obj), str(container.image), self.image_origin(obj, container)))
        return found

    def lookup(self, ref: str) -> Manifest:
        """Return the object ``ref`` names; raise :class:`RefError` with the references that exist."""
        parts = ref.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise RefError(f"{ref!r} is not a Kubernetes reference", "write Kind/name or namespace/Kind/name, e.g. Deployment/web")
        namespace = parts[0] if len(parts) == 3 else None
        kind, name = parts[-2], parts[-1]
        candidates = [obj for obj in self.by_name.get((kind, name), []) if obj.kind in WORKLOADS or obj.operated]
        if not candidates and kind not in WORKLOADS and not any(obj.operated for obj in self.objects if obj.kind == kind):
            raise self.not_a_workload(kind, name)
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
        same_name = [self.label(obj) for obj in self.workloads() if obj.name == name]
        # names compared alone: refs that share their kind look alike whatever their names
        same_kind = [obj.name for obj in self.objects if obj.kind == kind and same_namespace(obj.namespace, namespace)]
        if same_name:  # the right name under another kind: a StatefulSet written as a Deployment
            hint = f"did you mean {same_name[0]!r}?"
        elif same_kind:
            hint = suggest(name, same_kind, f"{kind}s")
        elif self.workloads():
            hint = "the workloads are " + ", ".join(self.label(obj) for obj in self.workloads())
        else:
            hint = f"the manifests have no {WORKLOAD_NAMES.removeprefix('a ')}"
        raise RefError(f"no {kind} named {name!r}{where} in the Kubernetes manifests", hint)

    def not_a_workload(self, kind: str, name: str) -> RefError:
        """Return the error for a reference to an object that runs no pods, or to a misspelt kind."""
        if kind not in {obj.kind for obj in self.objects}:
            return RefError(f"no kind {kind!r} in the Kubernetes manifests", suggest(kind, WORKLOADS, "a service comes from a"))
        targets = [self.targets[obj.ident] for obj in self.by_name.get((kind, name), []) if obj.ident in self.targets]
        if targets:
            return RefError(f"{kind}/{name} is not a workload", f"write from: {self.label(targets[0])}, the workload it scales")
        unread = [obj for obj in self.by_name.get((kind, name), []) if self.operator(obj) is not None]
        if unread:
            operator = self.operator(unread[0])
            assert operator is not None
            return RefError(f"{kind}/{name} is a {operator.engine} database of {operator.name}, which planner does not read",
                            f"write the database's keys in the topology, without from: ({operator.doc})")
        same_name = [self.label(obj) for obj in self.workloads() if obj.name == name]
        hint = f"write from: {' or '.join(same_name)}" if same_name else f"name {WORKLOAD_NAMES}"
        return RefError(f"{kind}/{name} is not a workload: replicas and environment come from {WORKLOAD_NAMES}", hint)

    # ------------------------------------------------------------------ what an object says

    def find(self, ref: str, role: Role) -> Found:
        """Return what the object ``ref`` says about a database, a service or a pooler."""
        obj = self.lookup(ref)
        if role == "database":
            return self.database(obj)
        if obj.operated:
            from planner.topology.sources.kubernetes import databases

            if obj.kind == "Pooler" and role == "pooler":
                notes: list[str] = []
                facts = databases.cnpg_pooler_facts(self, obj, self.cnpg_cluster(_cluster_name(obj), obj.namespace), notes)
                return Found(Origin(self.label(obj), obj.doc.file, obj.line()), facts, containers=None, notes=notes)
            section = "poolers" if obj.kind == "Pooler" else "databases"
            raise RefError(f"{self.label(obj)} is a {'pooler' if section == 'poolers' else 'database'} "
                           f"({obj.data.get('apiVersion')}), not a {role}", f"write it under {section}: with from: {self.label(obj)}")
        notes = []
        facts: dict[str, Value] = dict(self.replicas(obj, notes))
        if role == "service":
            facts["max_surge"] = self.surge(obj)
            if obj.kind in ONE_SHOT:
                facts["scenarios"] = self.scenarios(obj)
        return Found(Origin(self.label(obj), obj.doc.file, obj.line()), facts, containers=self.containers(obj), notes=notes)

    def database(self, obj: Manifest) -> Found:
        """Return what a PostgreSQL object says of its database; raise :class:`RefError` for anything else."""
        from planner.topology.sources.kubernetes import databases

        origin = Origin(self.label(obj), obj.doc.file, obj.line())
        notes: list[str] = []
        if obj.kind == "Cluster" and obj.group == CNPG:
            return Found(origin, databases.cnpg_cluster_facts(self, obj, notes), containers=None, notes=notes)
        if obj.kind == "postgresql" and obj.group == ZALANDO:
            return Found(origin, databases.zalando_facts(self, obj), containers=None, notes=notes)
        if obj.operated:
            raise RefError(f"{self.label(obj)} is a pooler, not a database", f"write it under poolers: with from: {self.label(obj)}")
        server = self.server(obj)
        if server is None:
            images = ", ".join(c.image for c in self.containers(obj) if c.image and not c.one_shot) or "none"
            why = "runs to completion, so it serves no database" if obj.kind not in LONG_RUNNING else \
                f"runs no PostgreSQL server planner knows (images: {images})"
            raise RefError(f"{self.label(obj)} {why}",
                           "name the workload that runs PostgreSQL, or write the database's keys (engine: self-managed, "
                           "parameters: {max_connections: N}) without from:")
        container, row = server
        if row.engine != databases.POSTGRES:
            raise RefError(f"{self.label(obj)} runs {container.image}, a {row.engine} server: planner plans PostgreSQL only",
                           "remove the entry; planner import lists such databases in a note")
        image_origin = self.image_origin(obj, container)
        facts = databases.workload_facts(self, obj, container, row, image_origin, notes)
        count = obj.spec.get("replicas")
        if obj.kind == "DaemonSet" or isinstance(count, int) and not isinstance(count, bool) and count > 1:
            pods = "one pod per node" if obj.kind == "DaemonSet" else f"{count} pods"
            notes.append(f"{self.label(obj)} runs {pods} of {container.image}: each is a server of its own unless "
                         "something replicates them; planner plans one (write readers: N if the others are its standbys)")
        return Found(origin, facts, containers=self.containers(obj), notes=notes)

    def containers(self, obj: Manifest) -> tuple[Container, ...]:
        """Return the containers of a workload's pods (:func:`~.pods.pod_containers`), read once."""
        key = id(obj)
        if key not in self._containers:
            owner = self.template_owner(obj)
            self._containers[key] = pod_containers(self, owner) if owner is not None else ()
        return self._containers[key]

    def labels(self, obj: Manifest) -> dict[str, Any]:
        """Return the labels a workload's pods carry (what a Service's selector matches), read once."""
        key = id(obj)
        if key not in self._labels:
            owner = self.template_owner(obj)
            self._labels[key] = template_labels(owner) if owner is not None else {}
        return self._labels[key]

    def template_owner(self, obj: Manifest) -> Manifest | None:
        """Return the object whose pod template ``obj`` runs: itself, or the Deployment an Argo Rollout
        names in ``spec.workloadRef`` (None if the manifests do not hold it)."""
        ref = mapping(obj.spec.get("workloadRef")) if obj.kind == "Rollout" else {}
        if not ref:
            return obj
        found = [d for d in self.by_name.get((str(ref.get("kind", "Deployment")), str(ref.get("name"))), [])
                 if d.kind in WORKLOADS and same_namespace(d.namespace, obj.namespace)]
        return found[0] if found else None

    def server(self, obj: Manifest) -> tuple[Container, ServerImage] | None:
        """Return the container of a workload that runs a database server, and its image's row."""
        from planner.topology.sources.apps.images import server

        key = id(obj)
        if key not in self._servers:
            long_running = obj.kind in LONG_RUNNING
            found = None
            if long_running:
                for container in self.containers(obj):
                    row = server(container, long_running)
                    if row is not None:
                        found = (container, row)
                        break
            self._servers[key] = found
        return self._servers[key]

    def image_origin(self, obj: Manifest, container: Container) -> Origin:
        """Return where a container's image is written."""
        obj = self.template_owner(obj) or obj
        items = dig(obj.data, f"{TEMPLATES[obj.kind]}.spec.containers")
        index = next((i for i, c in enumerate(items if isinstance(items, list) else [])
                      if isinstance(c, dict) and c.get("name") == container.name), 0)
        return Origin(self.label(obj), obj.doc.file, obj.line(f"{TEMPLATES[obj.kind]}.spec.containers[{index}].image"),
                      f"containers[{container.name}].image {container.image}")

    def cnpg_cluster(self, name: str, namespace: str | None) -> Manifest | None:
        """Return the CloudNativePG Cluster ``name`` that an object in ``namespace`` names, if the manifests hold it."""
        found = [c for c in self.by_name.get(("Cluster", name), []) if c.group == CNPG and same_namespace(c.namespace, namespace)]
        exact = [c for c in found if c.namespace == namespace]
        return exact[0] if exact else found[0] if found else None

    def at(self, obj: Manifest, field: str, shown: str | None = None) -> Origin:
        """Return the origin of ``field`` of ``obj``; ``shown`` names the field if not ``field`` itself."""
        return Origin(self.label(obj), obj.doc.file, obj.line(field), shown or field)

    # ------------------------------------------------------------------ replicas and surge

    def replicas(self, obj: Manifest, notes: list[str]) -> dict[str, Fact | Unknown]:
        """Return ``replicas``, or ``replicas.min`` and ``replicas.max`` from the workload's autoscaler."""
        if obj.kind == "DaemonSet":
            return {"replicas": Unknown(self.at(obj, "kind"), "runs one pod on each node it is scheduled on, "
                                                              "and how many nodes that is no manifest says")}
        if obj.kind == "Job":
            return {"replicas": self.count(obj, "spec.parallelism", obj.spec.get("parallelism"), 1, "Kubernetes'", notes)}
        if obj.kind == "CronJob":
            return {"replicas": self.cron_job(obj, notes)}
        scaler = self.scalers.get(obj.ident)
        if scaler is None:
            # absent, or null as charts write it when their autoscaler is off: Kubernetes runs 1
            return {"replicas": self.count(obj, "spec.replicas", obj.spec.get("replicas"), 1,
                                           "Argo Rollouts'" if obj.kind == "Rollout" else "Kubernetes'", notes)}
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

    def cron_job(self, obj: Manifest, notes: list[str]) -> Fact:
        """Return the pods one run of a CronJob starts at once, with notes on what else it says."""
        job = mapping(dig(obj.data, "spec.jobTemplate.spec"))
        policy = obj.spec.get("concurrencyPolicy", "Allow")
        if policy == "Allow":
            said = "concurrencyPolicy Allow" if "concurrencyPolicy" in obj.spec else "no concurrencyPolicy (Kubernetes' default, Allow)"
            notes.append(f"{self.label(obj)} has {said}: a run may start before the last one ends, and planner counts "
                         f"one run at a time ({CRONJOB_DOC})")
        if obj.spec.get("suspend") is True:
            notes.append(f"{self.label(obj)} is suspended (spec.suspend): it starts no run until resumed")
        return self.count(obj, "spec.jobTemplate.spec.parallelism", job.get("parallelism"), 1, "Kubernetes'", notes)

    def count(self, obj: Manifest, field: str, value: Any, default: int | None, whose: str, notes: list[str]) -> Fact:
        """Return the replica count ``field`` says, or ``whose`` default if it is absent.

        A 0 counts as 1, with a note: planner needs at least one replica, and the budget must hold
        once a workload scaled to zero scales up.
        """
        absent = value is None and default is not None
        value = default if absent else value
        located = field.rsplit(".", 1)[0] if absent else field  # an absent field's line is its parent's
        if not (isinstance(value, int) and not isinstance(value, bool) and value == 0):
            return Fact(value, self.at(obj, located, f"{field} (absent: {whose} default, {value})" if absent else field))
        said = f"has no {field}, so {whose} default 0 applies" if absent else f"{field} is 0"
        notes.append(f"{self.label(obj)} {said}: counted as 1 replica, so the budget holds when it scales up")
        return Fact(1, self.at(obj, located, f"{field} ({'absent: ' + whose + ' default ' if absent else ''}0, counted as 1)"))

    def scenarios(self, obj: Manifest) -> Fact:
        """Return the scenarios a Job or CronJob counts in: it runs to completion, so never in steady state."""
        if obj.kind == "Job":
            return Fact(list(ONE_SHOT["Job"]), self.at(obj, "kind", "kind Job (runs to completion while a deploy runs: "
                                                                  "a migration, a Helm hook)"))
        schedule = obj.spec.get("schedule")
        return Fact(list(ONE_SHOT["CronJob"]), self.at(obj, "spec.schedule", f"spec.schedule {schedule!r} (runs to "
                                                                             "completion, at any time)"))

    def surge(self, obj: Manifest) -> Fact:
        """Return how many pods a rollout adds: maxSurge, or 0 where pods are replaced, not added."""
        if obj.kind == "StatefulSet":
            return Fact(0, self.at(obj, "", "(a StatefulSet replaces its pods one at a time: no surge)"))
        if obj.kind == "ReplicaSet":
            return Fact(0, self.at(obj, "", "(a ReplicaSet has no rollout: no surge)"))
        if obj.kind in ("Job", "CronJob"):
            return Fact(0, self.at(obj, "", f"(a {obj.kind} runs to completion: no rollout, no surge)"))
        if obj.kind == "DaemonSet":
            return self.daemon_set_surge(obj)
        if obj.kind == "Rollout":
            return self.rollout_surge(obj)
        strategy = mapping(obj.spec.get("strategy"))
        if strategy.get("type") == "Recreate":
            return Fact(0, self.at(obj, "spec.strategy.type", "spec.strategy.type Recreate (no surge)"))
        surge = mapping(strategy.get("rollingUpdate")).get("maxSurge")
        if surge is not None:
            return Fact(surge, self.at(obj, "spec.strategy.rollingUpdate.maxSurge"))
        return Fact(DEFAULT_SURGE, self.at(obj, "spec.strategy" if strategy else "spec",
                                           "spec.strategy.rollingUpdate.maxSurge (absent: Kubernetes' default, 25%)"))

    def daemon_set_surge(self, obj: Manifest) -> Fact:
        """Return a DaemonSet's surge: its maxSurge, else 0 (Kubernetes' default for DaemonSets;
        https://kubernetes.io/docs/tasks/manage-daemon/update-daemon-set/)."""
        strategy = mapping(obj.spec.get("updateStrategy"))
        if strategy.get("type") == "OnDelete":
            return Fact(0, self.at(obj, "spec.updateStrategy.type", "spec.updateStrategy.type OnDelete (no surge)"))
        surge = mapping(strategy.get("rollingUpdate")).get("maxSurge")
        if surge is not None:
            return Fact(surge, self.at(obj, "spec.updateStrategy.rollingUpdate.maxSurge"))
        return Fact(0, self.at(obj, "spec.updateStrategy" if strategy else "spec",
                               "spec.updateStrategy.rollingUpdate.maxSurge (absent: Kubernetes' default for a DaemonSet, 0)"))

    def rollout_surge(self, obj: Manifest) -> Fact:
        """Return an Argo Rollout's surge (https://argoproj.github.io/argo-rollouts/features/specification/):
        blue-green runs the new ReplicaSet at full size beside the old one, as does a canary with
        traffic routing (the stable one keeps its size while the canary grows); a basic canary
        surges by ``maxSurge``."""
        strategy = mapping(obj.spec.get("strategy"))
        if "blueGreen" in strategy:
            return Fact("100%", self.at(obj, "spec.strategy.blueGreen",
                                        "spec.strategy.blueGreen (the new ReplicaSet runs at full size beside the old one)"))
        canary = mapping(strategy.get("canary"))
        if canary.get("trafficRouting"):
            return Fact("100%", self.at(obj, "spec.strategy.canary.trafficRouting",
                                        "spec.strategy.canary.trafficRouting (the stable ReplicaSet keeps its size while the canary grows)"))
        if canary.get("maxSurge") is not None:
            return Fact(canary["maxSurge"], self.at(obj, "spec.strategy.canary.maxSurge"))
        return Fact(ROLLOUT_SURGE, self.at(obj, "spec.strategy" if strategy else "spec",
                                           "spec.strategy.canary.maxSurge (absent: Argo Rollouts' default, 25%)"))

    def config_map(self, name: str, namespace: str | None) -> Manifest | None:
        """Return the ConfigMap ``name`` that a workload in ``namespace`` reads, if the manifests hold it."""
        return _in_namespace(self.config_maps.get(name, ()), namespace)

    def secret(self, name: str, namespace: str | None) -> Manifest | None:
        """Return the Secret ``name`` a workload in ``namespace`` reads, if the manifests hold it (for its keys)."""
        return _in_namespace(self.secrets.get(name, ()), namespace)


def _in_namespace(objects: Iterable[Manifest], namespace: str | None) -> Manifest | None:
    """Return the object of ``objects`` a workload in ``namespace`` sees: its own namespace's, else the only one."""
    found = [obj for obj in objects if same_namespace(obj.namespace, namespace)]
    exact = [obj for obj in found if obj.namespace == namespace]
    return exact[0] if exact else found[0] if len(found) == 1 else None


def _cluster_name(pooler: Manifest) -> str:
    return str(mapping(pooler.spec.get("cluster")).get("name"))


def _alternatives(candidates: list[Manifest]) -> str:
    """Return "write prod/Deployment/web or staging/Deployment/web" for objects that share a Kind/name."""
    named = [c.ident for c in candidates if c.namespace]
    text = "write " + " or ".join(named) if named else ""
    unnamed = [c.where() for c in candidates if not c.namespace]
    if unnamed:  # it matches every namespace, so it cannot be told apart until it has one
        text += ("; " if text else "") + "give the one at " + " and ".join(unnamed) + " a metadata.namespace"
    return text
