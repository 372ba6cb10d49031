"""Read Kubernetes manifests (``helm template``, ``kustomize build``, ``kubectl get -o yaml``).

A topology entry names a workload as ``Kind/name`` or ``namespace/Kind/name`` (``Deployment/web``,
``prod/StatefulSet/db``); the namespace is needed only when the name is in several. What a service
or pooler gets from it (:mod:`.source`):

- ``replicas`` from ``spec.replicas`` (Kubernetes' default 1), or ``replicas.min``/``replicas.max``
  when a HorizontalPodAutoscaler (``autoscaling/v1`` or ``v2``) or a KEDA ScaledObject scales it;
  a 0 (KEDA's scale to zero) counts as 1, with a note, since the budget must hold once it scales up;
- ``max_surge`` (services only) from a Deployment's rolling update: ``maxSurge`` as written, or
  Kubernetes' default 25 %; 0 for ``Recreate``, a StatefulSet (pods are replaced one at a time)
  and a ReplicaSet (no rollout);
- each container's environment (:mod:`.env`), in Kubernetes' order, with ConfigMaps read from the
  same manifests; a Secret's values are never read.

The files (:mod:`.manifests`) are multi-document YAML or JSON, ``kind: List`` included; documents
that are not objects are skipped. An object without ``metadata.namespace`` goes wherever it is
applied, so it matches any namespace. Invalid YAML, two objects with one namespace/Kind/name and two
autoscalers on one workload are problems of the files, all reported at once.
"""

from __future__ import annotations

from planner.topology.sources.base import SourceFiles
from planner.topology.sources.kubernetes.manifests import read_manifests
from planner.topology.sources.kubernetes.source import KubernetesSource

__all__ = ["KubernetesSource", "load"]


def load(files: SourceFiles, paths: list[str]) -> KubernetesSource:
    """Read and index the manifest files ``paths``; raises :class:`SourceFileError` listing every problem."""
    objects, scalers = read_manifests(files, paths)
    return KubernetesSource(objects, scalers)
