"""Read Kubernetes manifests (``helm template``, ``kustomize build``, ``kubectl get -o yaml``).

A topology entry names an object as ``Kind/name`` or ``namespace/Kind/name`` (``Deployment/web``,
``prod/StatefulSet/db``, ``Cluster/pg``); the namespace is needed only when the name is in several.
What each object gives (:mod:`.source`):

- a workload (Deployment, StatefulSet, ReplicaSet, DaemonSet, Job, CronJob, Argo Rollout), for a
  service or pooler: ``replicas`` from ``spec.replicas`` (Kubernetes' default 1), a Job's
  ``parallelism``, or ``replicas.min``/``replicas.max`` when a HorizontalPodAutoscaler
  (``autoscaling/v1`` or ``v2``) or a KEDA ScaledObject scales it (a 0, KEDA's scale to zero, counts
  as 1, with a note); a DaemonSet's replicas are one per node, which no manifest says;
- ``max_surge`` (services) from the rollout strategy: a Deployment's ``maxSurge`` or Kubernetes'
  25 %; 0 for ``Recreate``, a StatefulSet, a ReplicaSet, a Job and a CronJob; a DaemonSet's
  ``maxSurge`` (default 0); an Argo Rollout's canary ``maxSurge``, or 100 % for blue-green;
- its pods as neutral :class:`~planner.topology.sources.base.Container` objects (:mod:`.pods`): image,
  command line with ``$(VAR)`` expanded, environment (:mod:`.env`), CPU limit, mounted files;
- a PostgreSQL server in the cluster, for a database (:mod:`.databases`): a workload running a
  PostgreSQL image, a CloudNativePG ``Cluster``, a Zalando ``postgresql``; a CloudNativePG ``Pooler``
  for a pooler; databases of other engines are listed by ``unplanned()``;
- host names (:mod:`.network`): each Service's DNS names and the object its selector picks;
- warnings (:mod:`.checks`): what is wrong in the files but readable.

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
