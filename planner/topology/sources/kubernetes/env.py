"""A container's environment as the kubelet builds it: ``envFrom``, then ``env``, ``$(VAR)`` expanded.

The order is Kubernetes' own: each ``envFrom`` source in turn (a ConfigMap's keys, with the entry's
``prefix``), then each ``env`` entry, a later one replacing an earlier one of the same name. A
literal ``value`` expands ``$(VAR)`` from the variables defined before it (``$$`` is a literal
``$``; a reference to nothing stays as written); ``valueFrom`` values are not expanded.

What planner cannot know becomes an :class:`Unknown` with the reason: a Secret's value, a pod field,
a ConfigMap that is not in the manifests. A Secret (or missing ConfigMap) in ``envFrom`` may set any
variable, so its name is returned too: a variable the environment lacks may come from it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable

from planner.topology.sources.base import UNKNOWN_MARK, Fact, Origin, Unknown
from planner.topology.sources.kubernetes.manifests import Manifest, entries, mapping

if TYPE_CHECKING:
    from planner.topology.sources.kubernetes.source import KubernetesSource

Env = dict[str, Fact | Unknown]
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")  # a name an envFrom could set (not a shell's `$(date +%s)`)


def container_environment(source: KubernetesSource, obj: Manifest, base: str, container: dict[str, Any],
                          shown: str) -> tuple[Env, list[str]]:
    """Return the environment of the container at key path ``base`` of ``obj``
    (``spec.template.spec.containers[0]``), and the envFrom objects planner cannot read; ``shown``
    names the container in origins (``containers[app]``, ``initContainers[migrate]``)."""
    env: Env = {}
    unread: list[str] = []
    for entry in entries(container.get("envFrom")):
        prefix = str(entry.get("prefix") or "")
        if "configMapRef" in entry:
            name = str(mapping(entry["configMapRef"]).get("name"))
            config_map = source.config_map(name, obj.namespace)
            if config_map is None:  # applied from elsewhere, or optional and absent: its keys are unknown
                unread.append(f"ConfigMap/{name}")
                continue
            for key, value in mapping(config_map.data.get("data")).items():
                env[prefix + str(key)] = Fact(text(value), source.at(config_map, f"data.{key}"))
        elif "secretRef" in entry:
            name = str(mapping(entry["secretRef"]).get("name"))
            secret = source.secret(name, obj.namespace)
            if secret is None:  # its keys are unknown: any variable may come from it
                unread.append(f"Secret/{name}")
                continue
            # the manifests name its keys: each is a variable whose value planner does not read
            keys = [*mapping(secret.data.get("data")), *mapping(secret.data.get("stringData"))]
            for key in keys:
                env[prefix + str(key)] = Unknown(source.at(secret, f"data.{key}" if key in mapping(secret.data.get("data"))
                                                            else f"stringData.{key}"),
                                                 "is a Secret's value, which planner does not read")
    items = container.get("env")
    for i, entry in enumerate(items if isinstance(items, list) else []):
        if not isinstance(entry, dict) or not entry.get("name"):
            continue
        var = str(entry["name"])
        origin = Origin(source.label(obj), obj.doc.file, obj.line(f"{base}.env[{i}]"),
                        f"{shown}.env[{var}]")
        if isinstance(entry.get("valueFrom"), dict):
            value = _value_from(source, obj, entry["valueFrom"], origin)
            if value is not None:
                env[var] = value
        else:
            env[var] = _expanded(text(entry.get("value")), env, unread, origin)
    return env, unread


def _value_from(source: KubernetesSource, obj: Manifest, value_from: dict[str, Any], origin: Origin) -> Fact | Unknown | None:
    """Return a ``valueFrom`` value, or None where Kubernetes leaves the variable unset (an optional key that is absent)."""
    if "configMapKeyRef" in value_from:
        ref = mapping(value_from["configMapKeyRef"])
        name, key = str(ref.get("name")), str(ref.get("key"))
        config_map = source.config_map(name, obj.namespace)
        data = mapping(config_map.data.get("data")) if config_map else {}
        if config_map is not None and key in data:
            return Fact(text(data[key]), source.at(config_map, f"data.{key}"))
        if ref.get("optional") is True:
            return None
        if config_map is None:
            return Unknown(origin, f"comes from ConfigMap/{name} key {key!r}, which is not in the Kubernetes manifests planner reads")
        return Unknown(origin, f"comes from ConfigMap/{name} key {key!r}, which that ConfigMap ({config_map.where()}) does not have")
    if "secretKeyRef" in value_from:
        ref = mapping(value_from["secretKeyRef"])
        return Unknown(origin, f"comes from Secret/{ref.get('name')} key {ref.get('key')!r}, which planner does not read")
    if "fieldRef" in value_from:
        field = mapping(value_from["fieldRef"]).get("fieldPath")
        return Unknown(origin, f"is the pod's {field} (fieldRef), known only once the pod runs")
    if "resourceFieldRef" in value_from:
        resource = mapping(value_from["resourceFieldRef"]).get("resource")
        return Unknown(origin, f"is the container's {resource} (resourceFieldRef), which planner does not compute")
    return Unknown(origin, f"comes from valueFrom.{next(iter(value_from), '?')}, which planner does not read")


def _expanded(written: str, env: Env, unread: list[str], origin: Origin) -> Fact | Unknown:
    """Return a literal value with ``$(VAR)`` expanded from ``env``, or Unknown if it refers to an unknown value."""
    unknown: list[tuple[str, Unknown]] = []
    missing: list[str] = []

    def lookup(name: str) -> str | None:
        value = env.get(name)
        if isinstance(value, Fact):
            return str(value.value)
        if isinstance(value, Unknown):
            unknown.append((name, value))
        else:
            missing.append(name)
        return None

    result = expand(written, lookup)
    if unknown:
        name, value = unknown[0]
        return Unknown(origin, f"refers to $({name}), which {value.reason}")
    if missing and unread:  # Kubernetes would take it from the Secret if the Secret has it
        return Unknown(origin, f"refers to $({missing[0]}), which may come from {' or '.join(unread)} (envFrom), "
                               "which planner cannot read")
    return Fact(result, origin)


def expand(text: str, lookup: Callable[[str], str | None]) -> str:
    """Expand ``$(VAR)`` as Kubernetes does (its ``third_party/forked/golang/expansion``).

    ``$$`` is a literal ``$``; ``$(NAME)`` is ``lookup(NAME)``, or stays as written if that is None;
    an unclosed ``$(`` and a ``$`` before any other character are kept.
    """
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] != "$" or i + 1 == len(text):
            out.append(text[i])
            i += 1
            continue
        after = text[i + 1]
        close = text.find(")", i + 2) if after == "(" else -1
        if after == "$":
            out.append("$")
        elif close != -1:
            name = text[i + 2: close]
            value = lookup(name)
            out.append(f"$({name})" if value is None else value)
            i = close + 1
            continue
        else:
            out.append("$" + after)
        i += 2
    return "".join(out)


def text(value: Any) -> str:
    """Return a manifest value as the string the container sees (Kubernetes requires strings here)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def command_words(value: Any, env: Env, unread: list[str]) -> tuple[str, ...] | None:
    """Return a container's ``command`` or ``args`` as the kubelet runs them, or None if absent.

    Each word has ``$(VAR)`` expanded from the container's environment, as Kubernetes does
    (https://kubernetes.io/docs/tasks/inject-data-application/define-command-argument-container/#use-environment-variables-to-define-arguments).
    A variable whose value planner cannot know (a Secret's, or one an unreadable ``envFrom`` may set)
    is written as its name between two :data:`~planner.topology.sources.base.UNKNOWN_MARK` characters; a
    reference to nothing stays as written, as it does in the container.
    """
    if not isinstance(value, list):
        return None

    def lookup(name: str) -> str | None:
        known = env.get(name)
        if isinstance(known, Fact):
            return str(known.value)
        if isinstance(known, Unknown) or (unread and _VARIABLE.fullmatch(name)):
            return f"{UNKNOWN_MARK}{name}{UNKNOWN_MARK}"
        return None

    return tuple(expand(text(word), lookup) for word in value)
