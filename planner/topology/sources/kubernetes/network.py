"""Host names: which object answers at each name a container of the cluster may connect to.

A client names its database by a Service's DNS name. Each name comes in the forms the cluster's DNS
answers (https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/): ``db``, ``db.NS``,
``db.NS.svc`` and ``db.NS.svc.cluster.local``; an object without ``metadata.namespace`` gets only the
short name, since its namespace is wherever it is applied. A name maps to:

- the workload whose pod template carries every label of the Service's ``selector``, in its
  namespace (a PostgreSQL workload first, if the selector picks several), or the operator object
  whose pods carry the operator's label (``cnpg.io/cluster: NAME``);
- an :class:`~planner.topology.sources.base.External` for an ``ExternalName`` Service: the host it
  stands for, which may be an RDS endpoint, outside the manifests;
- a StatefulSet, for its pods' own names through its governing Service (``db-0.db-headless``);
- a CloudNativePG Cluster for the Services its operator makes (``NAME-rw``, ``NAME-ro``, ``NAME-r``),
  a Pooler for its own name; a Zalando ``postgresql`` for ``NAME`` and ``NAME-repl``.

A name that two objects claim (a short name in two namespaces) is left out: the longer forms remain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from planner.topology.sources.base import External
from planner.topology.sources.kubernetes.manifests import CNPG, SERVICE, ZALANDO, Manifest, mapping, same_namespace

if TYPE_CHECKING:
    from planner.topology.sources.kubernetes.source import KubernetesSource

MAX_POD_NAMES = 100  # a StatefulSet's pods given a name each, at most
# The Services operators make: CloudNativePG's NAME-rw (primary), NAME-ro (standbys) and NAME-r (any
# instance) for a Cluster, and one of the Pooler's own name
# (https://cloudnative-pg.io/documentation/current/service_management/); the Zalando operator's NAME
# (primary) and NAME-repl (replicas) (https://postgres-operator.readthedocs.io/en/latest/user/).
CNPG_SERVICES = ("-rw", "-ro", "-r")
ZALANDO_SERVICES = ("", "-repl")
# The labels operators give their pods, which a Service of the user's may select (the same pages).
OPERATOR_POD_LABELS = (("cnpg.io/poolerName", "Pooler", CNPG), ("cnpg.io/cluster", "Cluster", CNPG),
                       ("cluster-name", "postgresql", ZALANDO))


def dns_names(name: str, namespace: str | None) -> list[str]:
    """Return the names the cluster's DNS answers for a Service ``name`` in ``namespace``."""
    if namespace is None:
        return [name]
    return [name, f"{name}.{namespace}", f"{name}.{namespace}.svc", f"{name}.{namespace}.svc.cluster.local"]


def selects(selector: dict[str, object], labels: dict[str, object]) -> bool:
    """Return whether pods with ``labels`` match a Service's ``selector`` (every pair equal)."""
    return all(str(labels.get(key)) == str(value) and key in labels for key, value in selector.items())


def service_target(source: KubernetesSource, service: Manifest) -> str | External | None:
    """Return what a Service leads to: a reference, an External, or None (no selector, or it selects nothing read)."""
    spec = service.spec
    if spec.get("type") == "ExternalName" and isinstance(spec.get("externalName"), str):
        return External(str(spec["externalName"]).rstrip("."), source.at(service, "spec.externalName"))
    selector = mapping(spec.get("selector"))
    if not selector:
        return None  # its endpoints are set by hand (or by a controller): no pods planner can see
    picked = [w for w in source.workloads() if same_namespace(w.namespace, service.namespace)
              and selects(selector, source.labels(w))]
    if len(picked) == 1:
        return source.label(picked[0])
    if picked:  # several: the database, if one is (what a client's URL naming this host reaches)
        return source.label(next((w for w in picked if source.is_database(w)), picked[0]))
    for label, kind, group in OPERATOR_POD_LABELS:
        if label in selector:
            operated = [o for o in source.by_name.get((kind, str(selector[label])), [])
                        if o.group == group and same_namespace(o.namespace, service.namespace)]
            if operated:
                return source.label(operated[0])
    return None


def hosts(source: KubernetesSource) -> dict[str, str | External]:
    """Return every host name of the manifests with the object that answers there (see the module)."""
    claims: dict[str, set[str | External]] = {}
    order: list[str] = []

    def claim(names: list[str], target: str | External) -> None:
        for host in names:
            if host not in claims:
                claims[host] = set()
                order.append(host)
            claims[host].add(target)

    for obj in source.objects:
        if obj.kind == SERVICE:
            target = service_target(source, obj)
            if target is not None:
                claim(dns_names(obj.name, obj.namespace), target)
        elif obj.kind == "StatefulSet" and isinstance(obj.spec.get("serviceName"), str) and obj.spec["serviceName"]:
            count = obj.spec.get("replicas", 1)
            count = count if isinstance(count, int) and not isinstance(count, bool) else 1
            for index in range(min(count, MAX_POD_NAMES)):
                claim(dns_names(f"{obj.name}-{index}.{obj.spec['serviceName']}", obj.namespace), source.label(obj))
        elif obj.kind == "Cluster" and obj.group == CNPG:
            for suffix in CNPG_SERVICES:
                claim(dns_names(obj.name + suffix, obj.namespace), source.label(obj))
        elif obj.kind == "Pooler" and obj.group == CNPG:
            claim(dns_names(obj.name, obj.namespace), source.label(obj))
        elif obj.kind == "postgresql" and obj.group == ZALANDO:
            for suffix in ZALANDO_SERVICES:
                claim(dns_names(obj.name + suffix, obj.namespace), source.label(obj))
    return {host: next(iter(claims[host])) for host in order if len(claims[host]) == 1}
