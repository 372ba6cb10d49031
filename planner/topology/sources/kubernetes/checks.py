"""What is wrong in the manifests but does not stop planner from reading them (:meth:`KubernetesSource.warnings`).

Each warning names the objects involved with their file and line, and why it matters:

- an autoscaler (HorizontalPodAutoscaler, KEDA ScaledObject) whose target is in none of the
  manifests, or is a kind no autoscaler can scale: the replicas it sets are read from nowhere;
- a workload that sets ``spec.replicas`` while an autoscaler scales it: every apply resets it
  (https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#migrating-deployments-and-statefulsets-to-horizontal-autoscaling);
- a workload whose ``selector`` does not match its own pod template (Kubernetes refuses it);
- a Service whose selector matches no workload of the manifests: who connects to it cannot be traced;
- a ConfigMap volume that names a key its ConfigMap lacks (Kubernetes does not start the pod);
- a CloudNativePG Pooler whose Cluster is in none of the manifests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from planner.topology.sources.kubernetes.manifests import (
    CNPG,
    SCALABLE,
    SERVICE,
    WORKLOADS,
    Manifest,
    dig,
    entries,
    mapping,
    same_namespace,
    scaler_target,
)
from planner.topology.sources.kubernetes.network import selects, service_target
from planner.topology.sources.kubernetes.pods import TEMPLATES

if TYPE_CHECKING:
    from planner.topology.sources.kubernetes.source import KubernetesSource

HPA_REPLICAS_DOC = ("https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/"
                    "#migrating-deployments-and-statefulsets-to-horizontal-autoscaling")


def warnings(source: KubernetesSource) -> list[str]:
    """Return the warnings of the manifests, in the order of their objects."""
    found: list[str] = []
    for obj in source.objects:
        if scaler_target(obj) is not None:
            found += _autoscaler(source, obj)
        if obj.kind in WORKLOADS:
            found += _workload(source, obj)
        elif obj.kind == SERVICE:
            found += _service(source, obj)
        elif obj.kind == "Pooler" and obj.group == CNPG:
            found += _pooler(source, obj)
    return found


def _where(obj: Manifest, field: str) -> str:
    line = obj.line(field)
    return obj.doc.file if line is None else f"{obj.doc.file}:{line}"


def _autoscaler(source: KubernetesSource, scaler: Manifest) -> list[str]:
    target = scaler_target(scaler)
    assert target is not None
    kind, name = target
    if scaler.ident in source.targets:
        return []  # it scales a workload of the manifests
    candidates = [o for o in source.by_name.get((kind, name), []) if same_namespace(o.namespace, scaler.namespace)]
    said = f"{scaler.ident} ({scaler.where()}) scales {kind}/{name} (spec.scaleTargetRef, {_where(scaler, 'spec.scaleTargetRef')})"
    if not candidates:
        return [f"{said}, which is in none of the manifests: the replicas it sets are read from nowhere"]
    if kind not in SCALABLE:
        return [f"{said}, which is a {kind}: no autoscaler can scale it, so {scaler.ident} does nothing"]
    return []


def _workload(source: KubernetesSource, obj: Manifest) -> list[str]:
    found: list[str] = []
    scaler = source.scalers.get(obj.ident)
    replicas = obj.spec.get("replicas")
    if scaler is not None and replicas is not None:
        found.append(f"{obj.ident} sets spec.replicas {replicas} ({_where(obj, 'spec.replicas')}) and {scaler.ident} "
                     f"({scaler.where()}) scales it: every apply resets it to {replicas} until the autoscaler scales it "
                     f"again; remove spec.replicas ({HPA_REPLICAS_DOC})")
    ref = mapping(obj.spec.get("workloadRef")) if obj.kind == "Rollout" else {}
    if ref and source.template_owner(obj) is None:
        found.append(f"{obj.ident} ({obj.where()}) takes its pods from {ref.get('kind', 'Deployment')}/{ref.get('name')} "
                     f"(spec.workloadRef, {_where(obj, 'spec.workloadRef')}), which is in none of the manifests: "
                     "planner cannot read its containers")
    selector = mapping(mapping(obj.spec.get("selector")).get("matchLabels"))
    if selector and obj.kind not in ("Job", "CronJob") and not selects(selector, source.labels(obj)):
        found.append(f"{obj.ident} ({_where(obj, 'spec.selector')}) selects pods its own template does not label "
                     f"({_pairs(selector)}): Kubernetes refuses it")
    owner = source.template_owner(obj)
    if owner is not obj:
        return found  # its template's volumes are the owner's own, and reported with it
    for volume in entries(dig(obj.data, f"{TEMPLATES[obj.kind]}.spec.volumes")):
        config = mapping(volume.get("configMap"))
        if not config or config.get("optional") is True:
            continue
        config_map = source.config_map(str(config.get("name")), obj.namespace)
        if config_map is None:
            continue
        keys = set(mapping(config_map.data.get("data"))) | set(mapping(config_map.data.get("binaryData")))
        for item in entries(config.get("items")):
            if str(item.get("key")) not in keys:
                found.append(f"{obj.ident} ({obj.where()}) mounts key {item.get('key')!r} of {config_map.ident} "
                             f"({config_map.where()}), which has no such key: Kubernetes does not start its pods")
    return found


def _service(source: KubernetesSource, service: Manifest) -> list[str]:
    selector = mapping(service.spec.get("selector"))
    if not selector or service.spec.get("type") == "ExternalName" or service_target(source, service) is not None:
        return []
    return [f"{service.ident} ({_where(service, 'spec.selector')}) selects {_pairs(selector)}, which no workload of the "
            "manifests carries: what connects to it cannot be traced to a workload"]


def _pooler(source: KubernetesSource, pooler: Manifest) -> list[str]:
    name = mapping(pooler.spec.get("cluster")).get("name")
    if source.cnpg_cluster(str(name), pooler.namespace) is not None:
        return []
    return [f"{pooler.ident} ({pooler.where()}) pools Cluster/{name} (spec.cluster.name, {_where(pooler, 'spec.cluster.name')}), "
            "which is in none of the manifests"]


def _pairs(selector: dict[str, object]) -> str:
    return ", ".join(f"{key}={value}" for key, value in selector.items())
