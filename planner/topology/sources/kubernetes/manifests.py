"""The objects of Kubernetes manifest files, with where each is written, and the problems that make them ambiguous.

:func:`read_manifests` reads every file (multi-document YAML or JSON, ``kind: List`` included),
keeps each object with its document and key path so any field's line can be named, and reports
what would make an answer ambiguous: invalid YAML, two objects with one namespace/Kind/name, two
autoscalers on one workload. Every file's problems are reported at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from planner.errors import Problem
from planner.topology.sources.base import SourceFileError, SourceFiles
from planner.topology.sources.yamldocs import Document, read_documents

# The kinds that run pods from a template (each keeps it at its own path: see pods.TEMPLATES).
# Rollout is Argo Rollouts' (argoproj.io), a Deployment with other rollout strategies.
WORKLOADS = ("Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job", "CronJob", "Rollout")
# The workloads an autoscaler can scale: those with a scale subresource (a DaemonSet runs one pod per
# node, a Job and a CronJob run to completion).
SCALABLE = ("Deployment", "StatefulSet", "ReplicaSet", "Rollout")
HPA = "HorizontalPodAutoscaler"
SCALED_OBJECT = "ScaledObject"  # KEDA
CONFIG_MAP = "ConfigMap"
SERVICE = "Service"
# Operators' objects planner reads, by kind and API group: CloudNativePG's Cluster and Pooler, the
# Zalando operator's postgresql (see databases.py).
CNPG = "postgresql.cnpg.io"
ZALANDO = "acid.zalan.do"
OPERATOR_KINDS = {("Cluster", CNPG), ("Pooler", CNPG), ("postgresql", ZALANDO)}
# The kinds planner reads: two objects with one identity among them would make its answer depend
# on file order. Others (two Secrets of one name) are Kubernetes' business, not planner's.
READ_KINDS = (*WORKLOADS, HPA, SCALED_OBJECT, CONFIG_MAP, SERVICE)


@dataclass(frozen=True)
class Manifest:
    """One Kubernetes object of the files: its identity, its content and where it is written."""

    kind: str
    name: str
    namespace: str | None  # None: no metadata.namespace, so it goes wherever it is applied
    data: dict[str, Any]
    doc: Document
    path: str  # the object's key path in its document: "" or, inside a List, "items[2]"

    @property
    def ident(self) -> str:
        """Return the full reference: ``prod/Deployment/web``, or ``Deployment/web`` without a namespace."""
        return f"{self.namespace}/{self.kind}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"

    @property
    def group(self) -> str:
        """Return the object's API group: ``apps`` for ``apps/v1``, ``""`` for the core ``v1``."""
        api = str(self.data.get("apiVersion", ""))
        return api.split("/", 1)[0] if "/" in api else ""

    @property
    def operated(self) -> bool:
        """Return whether the object is an operator's object planner reads (a CloudNativePG Cluster)."""
        return (self.kind, self.group) in OPERATOR_KINDS

    @property
    def read(self) -> bool:
        """Return whether planner reads the object (so a second one of its identity is ambiguous)."""
        return self.kind in READ_KINDS or self.operated

    @property
    def spec(self) -> dict[str, Any]:
        """Return ``spec`` (empty if absent or not a mapping)."""
        return mapping(self.data.get("spec"))

    def line(self, field: str = "") -> int | None:
        """Return the line of ``field`` (a key path inside the object), or of the nearest key above it."""
        if not field:
            return self.doc.line(self.path)
        return self.doc.line(f"{self.path}.{field}" if self.path else field)

    def where(self) -> str:
        """Return ``file:line`` of the object."""
        line = self.line()
        return self.doc.file if line is None else f"{self.doc.file}:{line}"


def mapping(value: Any) -> dict[str, Any]:
    """Return ``value`` if it is a mapping, else an empty one (a malformed field reads as absent)."""
    return value if isinstance(value, dict) else {}


def dig(data: Any, path: str) -> Any:
    """Return the value at a dotted key path (``spec.jobTemplate.spec``), or None where it stops."""
    for key in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def entries(value: Any) -> list[dict[str, Any]]:
    """Return the mappings of a list (a malformed list, or entry, reads as absent)."""
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def same_namespace(a: str | None, b: str | None) -> bool:
    """Return whether two objects can be in one namespace (one without a namespace goes anywhere)."""
    return a is None or b is None or a == b


def read_manifests(files: SourceFiles, paths: list[str]) -> tuple[list[Manifest], dict[str, Manifest]]:
    """Return every object of ``paths`` and, per workload ident, the autoscaler that scales it.

    Raises :class:`SourceFileError` with every problem of every file.
    """
    objects: list[Manifest] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            documents = read_documents(files.read(path), path)
        except SourceFileError as e:  # this file's problem; the other files are still read and reported
            problems += e.problems
            continue
        for doc in documents:
            objects += _objects(doc, problems)
    seen: dict[tuple[str | None, str, str], Manifest] = {}
    for obj in objects:
        if not obj.read:
            continue
        first = seen.setdefault((obj.namespace, obj.kind, obj.name), obj)
        if first is not obj:
            problems.append(Problem(obj.doc.file, "", f"{obj.ident} is defined twice: here and at {first.where()}",
                                    line=obj.line(), hint="remove one, or render each environment with its own namespace"))
    scalers = _scalers(list(seen.values()), problems)  # a duplicate autoscaler is reported once, above
    if problems:
        raise SourceFileError(problems)
    return objects, scalers


def _objects(doc: Document, problems: list[Problem]) -> list[Manifest]:
    """Return the objects of one document: itself, or the items of a ``List`` (``kubectl get -o yaml``)."""
    data = doc.data
    if not isinstance(data, dict) or not data.get("kind") or not data.get("apiVersion"):
        return []  # not an object (a values file, an empty template): nothing planner reads
    kind = str(data["kind"])
    if kind.endswith("List") and isinstance(data.get("items"), list):
        # `kubectl get` writes kind: List; the API's typed lists (DeploymentList) may omit each item's kind
        item_kind = kind[: -len("List")]
        found: list[Manifest] = []
        for i, item in enumerate(data["items"]):
            if isinstance(item, dict) and (item.get("kind") or item_kind):
                found += _object(doc, {"kind": item_kind, **item}, f"items[{i}]", problems)
        return found
    return _object(doc, data, "", problems)


def _object(doc: Document, data: dict[str, Any], path: str, problems: list[Problem]) -> list[Manifest]:
    """Return the one object ``data`` is, or none (with a problem if planner would have read it)."""
    metadata = mapping(data.get("metadata"))
    kind, name, namespace = str(data["kind"]), metadata.get("name"), metadata.get("namespace")
    if name is None or name == "":
        if kind in READ_KINDS or (kind, str(data.get("apiVersion", "")).split("/", 1)[0]) in OPERATOR_KINDS:
            problems.append(Problem(doc.file, "", f"a {kind} without metadata.name", line=doc.line(path),
                                    hint="Kubernetes refuses an object without a name: render the manifests again"))
        return []
    return [Manifest(kind, str(name), str(namespace) if namespace else None, data, doc, path)]


def _scalers(objects: list[Manifest], problems: list[Problem]) -> dict[str, Manifest]:
    """Return workload ident -> its autoscaler; two on one workload are a problem naming both."""
    workloads: dict[tuple[str, str], list[Manifest]] = {}
    for obj in objects:
        if obj.kind in SCALABLE:
            workloads.setdefault((obj.kind, obj.name), []).append(obj)
    scalers: dict[str, Manifest] = {}
    for scaler in objects:
        target = scaler_target(scaler)
        for workload in workloads.get(target, []) if target else []:
            if not same_namespace(workload.namespace, scaler.namespace):
                continue
            other = scalers.setdefault(workload.ident, scaler)
            if other is not scaler:
                problems.append(Problem(
                    scaler.doc.file, "",
                    f"{workload.ident} is scaled by both {other.ident} ({other.where()}) and {scaler.ident} (here)",
                    line=scaler.line(), hint="Kubernetes lets one autoscaler scale a workload: remove one"))
    return scalers


def scaler_target(obj: Manifest) -> tuple[str, str] | None:
    """Return the (kind, name) an autoscaler scales, or None if ``obj`` is no autoscaler."""
    ref = obj.spec.get("scaleTargetRef")
    if not isinstance(ref, dict):
        return None
    api = str(obj.data.get("apiVersion", ""))
    if obj.kind == HPA and api.startswith("autoscaling/"):  # v1, v2 and the betas spell it alike
        kind, name = ref.get("kind"), ref.get("name")
    elif obj.kind == SCALED_OBJECT and api.startswith("keda.sh/"):
        kind, name = ref.get("kind") or "Deployment", ref.get("name")
    elif obj.kind == SCALED_OBJECT and api.startswith("keda.k8s.io/"):  # KEDA 1.x scaled only Deployments
        kind, name = "Deployment", ref.get("deploymentName")
    else:
        return None
    return (str(kind), str(name)) if kind and name else None
