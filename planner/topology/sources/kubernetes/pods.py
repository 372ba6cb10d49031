"""Pod templates: where each workload keeps its pods, and each container as the recogniser reads it.

Every workload describes its pods with a pod template, kept at a path of its own (:data:`TEMPLATES`).
:func:`pod_containers` turns each container of it into a neutral
:class:`~planner.topology.sources.base.Container`, as the kubelet would start it:

- ``image``; ``entrypoint`` from ``command`` and ``args`` from ``args``, each word with ``$(VAR)``
  expanded from the container's environment (:func:`~.env.command_words`); ``command`` without
  ``args`` runs without the image's ``CMD`` (``args`` is ``()``), and neither leaves both None;
- ``env`` and ``env_unread`` (:mod:`.env`);
- ``cpus``: ``resources.limits.cpu`` in cores (``500m`` is 0.5); a request is not a limit;
- ``files``: what its ``volumeMounts`` put where, read from the volumes: a ConfigMap's keys (all of
  them, or its ``items``), through ``subPath`` or not, also inside a ``projected`` volume, as facts
  citing the ConfigMap's file and line; a Secret's files, a pod field and any other volume
  (``emptyDir``, a claim) as unknown;
- init containers after the others, ``one_shot`` unless they are sidecars (``restartPolicy: Always``,
  https://kubernetes.io/docs/concepts/workloads/pods/sidecar-containers/), which run as long as the pod.
"""

from __future__ import annotations

import posixpath
import re
from typing import TYPE_CHECKING, Any

from planner.topology.sources.base import Container, Fact, Origin, Unknown
from planner.topology.sources.kubernetes.env import command_words, container_environment, text
from planner.topology.sources.kubernetes.manifests import Manifest, dig, entries, mapping

if TYPE_CHECKING:
    from planner.topology.sources.kubernetes.source import KubernetesSource

# Where each workload keeps its pod template (Kubernetes API reference; Argo Rollouts' Rollout
# mirrors a Deployment: https://argoproj.github.io/argo-rollouts/features/specification/).
TEMPLATES: dict[str, str] = {
    "Deployment": "spec.template",
    "StatefulSet": "spec.template",
    "ReplicaSet": "spec.template",
    "DaemonSet": "spec.template",
    "Job": "spec.template",
    "CronJob": "spec.jobTemplate.spec.template",
    "Rollout": "spec.template",
}
# A CPU quantity: cores, or thousandths of a core with the suffix m
# (https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#meaning-of-cpu).
_CPU = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(m?)")
FOLDER = ""  # a volume's key for "a folder whose files planner cannot list"

Files = dict[str, "Fact | Unknown"]


def template(obj: Manifest) -> dict[str, Any]:
    """Return the pod template of a workload (empty if it has none)."""
    path = TEMPLATES.get(obj.kind)
    return mapping(dig(obj.data, path)) if path else {}


def template_labels(obj: Manifest) -> dict[str, Any]:
    """Return the labels a workload's pods carry (what a Service's selector matches)."""
    return mapping(mapping(template(obj).get("metadata")).get("labels"))


def pod_containers(source: KubernetesSource, obj: Manifest) -> tuple[Container, ...]:
    """Return the containers of a workload's pods: its containers, then its init containers."""
    path = f"{TEMPLATES[obj.kind]}.spec"
    spec = mapping(dig(obj.data, path))
    volumes = _Volumes(source, obj, spec, path)
    found: list[Container] = []
    for field in ("containers", "initContainers"):
        items = spec.get(field)
        for index, container in enumerate(items if isinstance(items, list) else []):
            if not isinstance(container, dict) or not isinstance(container.get("name"), str):
                continue
            one_shot = field == "initContainers" and container.get("restartPolicy") != "Always"
            found.append(_container(source, obj, f"{path}.{field}[{index}]", f"{field}[{container['name']}]",
                                    container, volumes, one_shot))
    return tuple(found)


def _container(source: KubernetesSource, obj: Manifest, base: str, shown: str, container: dict[str, Any],
               volumes: _Volumes, one_shot: bool) -> Container:
    """Return one container of ``obj`` (at key path ``base``; ``shown`` names it in origins)."""
    env, unread = container_environment(source, obj, base, container, shown)
    entrypoint = command_words(container.get("command"), env, unread)
    args = command_words(container.get("args"), env, unread)
    if entrypoint is not None and args is None:
        args = ()  # `command` replaces the image's ENTRYPOINT, and its CMD is then not run either
    written = "command" if entrypoint is not None else "args" if args is not None else None
    where = (Origin(source.label(obj), obj.doc.file, obj.line(f"{base}.{written}"), f"{shown}.{written}")
             if written else None)
    image = container.get("image")
    return Container(str(container["name"]), image if isinstance(image, str) else None, entrypoint, args, where,
                     env=env, env_unread=tuple(unread), cpus=_cpus(source, obj, base, shown, container),
                     files=volumes.mounted(container.get("volumeMounts"), base, shown), one_shot=one_shot)


def _cpus(source: KubernetesSource, obj: Manifest, base: str, shown: str, container: dict[str, Any]) -> Fact | None:
    """Return the container's CPU limit in cores, or None if it sets none (or none planner can read)."""
    value = cpu_cores(dig(container, "resources.limits.cpu"))
    if value is None:
        return None
    field = "resources.limits.cpu"
    return Fact(value, Origin(source.label(obj), obj.doc.file, obj.line(f"{base}.{field}"), f"{shown}.{field}"))


def cpu_cores(value: Any) -> int | float | None:
    """Return a CPU quantity in cores (``"500m"`` → 0.5, ``"2"`` → 2, ``1.5`` → 1.5), or None if it is none."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        match = _CPU.fullmatch(str(value).strip())
        if not match:
            return None
        number = float(match.group(1)) / (1000 if match.group(2) else 1)
    if number <= 0:
        return None
    return int(number) if number.is_integer() else number


class _Volumes:
    """A pod's volumes, each read once: the files it holds, by path inside the volume."""

    def __init__(self, source: KubernetesSource, obj: Manifest, spec: dict[str, Any], path: str) -> None:
        self.source = source
        self.obj = obj
        self.path = path
        self.specs = {str(v["name"]): (i, v) for i, v in enumerate(entries(spec.get("volumes"))) if v.get("name")}
        self.read: dict[str, Files] = {}

    def mounted(self, mounts: Any, base: str, shown: str) -> Files:
        """Return what a container's ``volumeMounts`` put where: path in the container → file."""
        files: Files = {}
        for index, mount in enumerate(entries(mounts)):
            name, target = mount.get("name"), mount.get("mountPath")
            if not isinstance(target, str) or not target or str(name) not in self.specs:
                continue  # Kubernetes refuses a mount of no volume, or without a path
            content = self.content(str(name))
            if "subPathExpr" in mount:
                origin = Origin(self.source.label(self.obj), self.obj.doc.file,
                                self.obj.line(f"{base}.volumeMounts[{index}].subPathExpr"), f"{shown}.volumeMounts[{name}]")
                files[target] = Unknown(origin, "is mounted through subPathExpr, which is expanded per pod")
                continue
            sub = str(mount.get("subPath") or "").strip("/")
            if not sub:
                for relative, value in content.items():
                    files[posixpath.join(target, relative) if relative else target.rstrip("/") + "/"] = value
            elif sub in content:  # one file of the volume, mounted as the file `target`
                files[target] = content[sub]
            elif any(relative.startswith(sub + "/") for relative in content):  # a folder of the volume
                for relative, value in content.items():
                    if relative.startswith(sub + "/"):
                        files[posixpath.join(target, relative[len(sub) + 1:])] = value
            elif FOLDER in content:  # a file or a folder of a volume planner cannot list
                files[target] = files[target.rstrip("/") + "/"] = content[FOLDER]
        return files

    def content(self, name: str) -> Files:
        """Return the files of volume ``name``: relative path → value (:data:`FOLDER` for unlisted ones)."""
        if name not in self.read:
            index, volume = self.specs[name]
            origin = Origin(self.source.label(self.obj), self.obj.doc.file,
                            self.obj.line(f"{self.path}.volumes[{index}]"), f"volumes[{name}]")
            self.read[name] = self._content(volume, origin)
        return self.read[name]

    def _content(self, volume: dict[str, Any], origin: Origin) -> Files:
        if "configMap" in volume:
            return self.config_map(mapping(volume["configMap"]), origin)
        if "secret" in volume:
            secret = mapping(volume["secret"])
            return _unread(secret, f"comes from Secret/{secret.get('secretName')}, which planner does not read", origin)
        if "projected" in volume:
            files: Files = {}
            for source in entries(mapping(volume["projected"]).get("sources")):
                if "configMap" in source:
                    files.update(self.config_map(mapping(source["configMap"]), origin))
                elif "secret" in source:
                    secret = mapping(source["secret"])
                    files.update(_unread(secret, f"comes from Secret/{secret.get('name')}, which planner does not read", origin))
                elif "downwardAPI" in source:
                    files.update(_unread(mapping(source["downwardAPI"]), "is a pod field (downwardAPI), known only once the pod runs", origin))
                else:  # serviceAccountToken, clusterTrustBundle: one file each
                    kind = next(iter(source), "source")
                    path = mapping(source.get(kind)).get("path")
                    files[str(path) if path else FOLDER] = Unknown(origin, f"is a {kind} projection, which only the cluster knows")
            return files
        if "downwardAPI" in volume:
            return _unread(mapping(volume["downwardAPI"]), "is a pod field (downwardAPI), known only once the pod runs", origin)
        kind = next((key for key in volume if key != "name"), "volume")
        article = "an" if kind[:1].lower() in "aeiou" else "a"
        return {FOLDER: Unknown(origin, f"is {article} {kind} volume, whose files planner cannot see")}

    def config_map(self, spec: dict[str, Any], origin: Origin) -> Files:
        """Return the files a ConfigMap volume holds: every key, or its ``items`` under their paths."""
        name = spec.get("name")
        config_map = self.source.config_map(str(name), self.obj.namespace)
        if config_map is None:
            return _unread(spec, f"comes from ConfigMap/{name}, which is not in the Kubernetes manifests planner reads", origin)
        data, binary = mapping(config_map.data.get("data")), mapping(config_map.data.get("binaryData"))
        items = entries(spec.get("items"))
        wanted = [(str(i.get("key")), str(i.get("path") or i.get("key"))) for i in items] if items else \
                 [(str(key), str(key)) for key in (*data, *binary)]
        files: Files = {}
        for key, path in wanted:
            if key in data:
                files[path] = Fact(text(data[key]), self.source.at(config_map, f"data.{key}"))
            elif key in binary:
                files[path] = Unknown(self.source.at(config_map, f"binaryData.{key}"), "is binary data")
            elif spec.get("optional") is not True:  # Kubernetes does not start the pod (see checks.py)
                files[path] = Unknown(origin, f"names key {key!r}, which ConfigMap/{name} ({config_map.where()}) does not have")
        return files


def _unread(spec: dict[str, Any], reason: str, origin: Origin) -> Files:
    """Return the files of a volume planner cannot read: its ``items``' paths, or the whole folder."""
    items = entries(spec.get("items"))
    if not items:
        return {FOLDER: Unknown(origin, reason)}
    return {str(i.get("path") or i.get("key")): Unknown(origin, reason) for i in items}
