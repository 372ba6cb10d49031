"""Read one ``terraform show -json`` file: its resources, their values, what is unknown, and the references.

The format is Terraform's documented JSON output (https://developer.hashicorp.com/terraform/internals/json-format):

- a **plan** has ``planned_values.root_module`` (``resources`` and nested ``child_modules``, each
  resource with ``address``, ``mode``, ``type``, ``name``, ``index`` and ``values``),
  ``resource_changes`` (each ``change.after_unknown`` marks, in the shape of the values, what is known
  only after apply; such values are absent from ``values``) and ``configuration`` (each attribute's
  ``references``: the addresses its expression names, which link resources whose identifiers are
  not known yet);
- a **state** has ``values.root_module`` in the same shape, everything known, and no configuration.

A :class:`Resource` answers :meth:`Resource.value` for a path of keys and list indexes, with
:data:`UNKNOWN` for a value known only after apply. :meth:`Plan.referenced` follows an attribute's
configuration references, through module outputs and variables, to the resources it names.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from planner.errors import Problem
from planner.topology.sources.base import Origin, SourceFileError


class _Unknown:
    """The value of an attribute that is known only after apply."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()
Index = int | str | None

# One step of an address: a module call or a resource, with its count/for_each index.
_STEP = re.compile(r'(module\.[A-Za-z0-9_-]+|(?:data\.)?[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)'
                   r'(?:\[([0-9]+|"(?:[^"\\]|\\.)*")\])?(?:\.|$)')
# A reference in a configuration expression: var.NAME, module.NAME.OUTPUT, or a resource (with an index).
_VAR_REF = re.compile(r"var\.([A-Za-z0-9_-]+)")
_MODULE_REF = re.compile(r"module\.([A-Za-z0-9_-]+)(?:\[[^\]]*\])?\.([A-Za-z0-9_-]+)")
_RESOURCE_REF = re.compile(r'((?:data\.)?[a-z][a-z0-9_]*\.[A-Za-z0-9_-]+)(?:\[([0-9]+|"(?:[^"\\]|\\.)*")\])?')
_INDEXES = re.compile(r'\[(?:[0-9]+|"(?:[^"\\]|\\.)*")\]')
_NOT_RESOURCES = ("var.", "local.", "each.", "count.", "path.", "self.", "terraform.", "module.")
_ADDRESS_KEY = re.compile(r'"address"\s*:\s*("(?:[^"\\]|\\.)*")')
_MAX_HOPS = 16  # module outputs and variables followed for one reference; a real configuration needs a few


def parse_address(address: str) -> list[tuple[str, Index]] | None:
    """Split ``module.db[0].aws_rds_cluster.this`` into [("module.db", 0), ("aws_rds_cluster.this", None)].

    Returns None when ``address`` is not a resource address.
    """
    steps = _steps(address)
    if not steps or steps[-1][0].startswith("module."):
        return None
    return steps


def _steps(address: str) -> list[tuple[str, Index]] | None:
    """Split an address (of a resource or of a module instance) into its steps; None if it is not one."""
    steps: list[tuple[str, Index]] = []
    pos = 0
    while pos < len(address):
        match = _STEP.match(address, pos)
        if match is None:
            return None
        steps.append((match.group(1), _index(match.group(2))))
        pos = match.end()
    if address.endswith("."):
        return None
    return steps


def _index(text: str | None) -> Index:
    if text is None:
        return None
    return json.loads(text) if text.startswith('"') else int(text)


def bare(address: str) -> str:
    """Return an address without its indexes: ``module.svc.aws_ecs_service.this`` for ``module.svc["a"].aws_ecs_service.this``."""
    return _INDEXES.sub("", address)


def show_path(path: tuple[str | int, ...]) -> str:
    """Write a value path as Terraform shows it: ``serverlessv2_scaling_configuration[0].max_capacity``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


@dataclass(eq=False)  # identity: two instances are never the same resource
class Resource:
    """One resource instance of a plan or state, as planned (or as it is)."""

    address: str  # module.db[0].aws_rds_cluster.this[0]
    module: str  # the module instance holding it: "module.db[0]", "" for the root module
    type: str
    name: str
    index: Index
    values: dict[str, Any]
    unknown: Any  # change.after_unknown: the values' shape, True where a value is known only after apply
    plan: Plan

    def value(self, *path: str | int) -> Any:
        """Return the value at ``path`` (keys and list indexes), :data:`UNKNOWN`, or None if absent."""
        value: Any = self.values
        unknown: Any = self.unknown
        for part in path:
            if unknown is True:
                return UNKNOWN
            unknown = _child(unknown, part)
            value = _child(value, part)
        if unknown is True:
            return UNKNOWN
        return value

    def unknown_keys(self, *path: str | int) -> list[str]:
        """Return the keys of the map at ``path`` whose values are known only after apply (absent from ``values``)."""
        node: Any = self.unknown
        for part in path:
            node = _child(node, part)
        return [str(key) for key, flag in node.items() if flag is True] if isinstance(node, dict) else []

    def configured(self, attribute: str) -> bool:
        """Return whether the configuration sets ``attribute`` (True when there is no configuration to ask)."""
        config = self.plan.resource_config(self)
        return config is None or attribute in _mapping(config.get("expressions"))

    def origin(self, field: str | tuple[str | int, ...] | None = None) -> Origin:
        """Return where ``field`` of this resource is written: its address, file and line."""
        text = show_path(field) if isinstance(field, tuple) else field
        return Origin(self.address, self.plan.file, self.plan.line(self.address), text)

    def ids(self) -> set[str]:
        """Return the strings other resources name this one by: its name, identifier, id, ARN."""
        found = set()
        for key in ("name", "identifier", "cluster_identifier", "function_name", "family", "id", "arn", "arn_without_revision"):
            value = self.values.get(key)
            if isinstance(value, str) and value:
                found.add(value)
        family, revision = self.values.get("family"), self.values.get("revision")
        if isinstance(family, str) and isinstance(revision, int):
            found.add(f"{family}:{revision}")  # an ECS task definition named by family:revision
        return found

    def named_by(self, value: str) -> bool:
        """Return whether ``value`` (a name, an identifier or an ARN) names this resource."""
        ids = self.ids()
        if value in ids:
            return True
        # an ARN built by hand (cross-region replicas, proxies) names what its last part names
        return value.startswith("arn:") and bool({value.rsplit(":", 1)[-1], value.rsplit("/", 1)[-1]} & ids)


def _child(node: Any, part: str | int) -> Any:
    if isinstance(part, int):
        return node[part] if isinstance(node, list) and -len(node) <= part < len(node) else None
    return node.get(part) if isinstance(node, dict) else None


@dataclass(eq=False)
class Plan:
    """One ``terraform show -json`` file: its resources by address, and its configuration."""

    file: str
    text: str
    resources: dict[str, Resource] = field(default_factory=dict)
    destroyed: set[str] = field(default_factory=set)  # addresses this plan deletes
    modules: dict[tuple[str, ...], dict[str, Any]] = field(default_factory=dict)  # module call path -> its configuration
    _lines: dict[str, int] | None = None  # address -> the line that first names it, built on first use
    # (module call path, "type.name") -> its instances, for following configuration references
    _declared: dict[tuple[tuple[str, ...], str], list[Resource]] = field(default_factory=dict)

    # ------------------------------------------------------------------ lines

    def line(self, address: str) -> int | None:
        """Return the line of ``address`` in the file, where the file has lines (terraform writes one)."""
        if self._lines is None:
            self._lines = {}
            if self.text.count("\n", 0, 10_000) > 2:  # pretty-printed (jq): lines mean something
                # one pass over the file: its first mention of each address is where planned_values lists it
                line, last = 1, 0
                for match in _ADDRESS_KEY.finditer(self.text):
                    line += self.text.count("\n", last, match.start())
                    last = match.start()
                    self._lines.setdefault(json.loads(match.group(1)), line)
        return self._lines.get(address)

    # ------------------------------------------------------------------ configuration references

    def resource_config(self, resource: Resource) -> dict[str, Any] | None:
        """Return the configuration block of ``resource`` (None for a state, which has none)."""
        module = self.modules.get(call_path(resource.module))
        if module is None:
            return None
        for config in module.get("resources") if isinstance(module.get("resources"), list) else []:
            if isinstance(config, dict) and config.get("address") == f"{resource.type}.{resource.name}":
                return config
        return None

    def referenced(self, resource: Resource, attribute: str) -> list[Resource]:
        """Return the resources ``attribute`` of ``resource`` names in the configuration.

        Follows module outputs (``module.db.cluster_id``) and variables (``var.cluster_id``, set by
        the calling module) to the resources they name. Where a module is instantiated several
        times, the instance nearest ``resource`` wins.
        """
        config = self.resource_config(resource)
        if config is None:
            return []
        expression = _mapping(config.get("expressions")).get(attribute)
        targets: set[tuple[tuple[str, ...], str, Index]] = set()
        self._targets(call_path(resource.module), _references(expression), targets, 0)
        if not self._declared:
            for r in self.resources.values():
                self._declared.setdefault((call_path(r.module), f"{r.type}.{r.name}"), []).append(r)
        found: list[Resource] = []
        for path, base, index in sorted(targets, key=str):
            candidates = [r for r in self._declared.get((path, base), []) if index is None or r.index == index]
            found += [c for c in _nearest(candidates, resource.module) if c not in found]
        return found

    def _targets(self, path: tuple[str, ...], references: Iterable[str], out: set[tuple[tuple[str, ...], str, Index]],
                 hops: int) -> None:
        if hops > _MAX_HOPS:
            return
        for reference in references:
            var = _VAR_REF.fullmatch(reference)
            if var and path:
                call = _mapping(_mapping(self.modules.get(path[:-1], {}).get("module_calls")).get(path[-1]))
                expression = _mapping(call.get("expressions")).get(var.group(1))
                self._targets(path[:-1], _references(expression), out, hops + 1)
                continue
            output = _MODULE_REF.fullmatch(reference)
            if output:
                child = path + (output.group(1),)
                declared = _mapping(_mapping(self.modules.get(child, {}).get("outputs")).get(output.group(2)))
                expression = declared.get("expression")
                self._targets(child, _references(expression), out, hops + 1)
                continue
            resource = _RESOURCE_REF.match(reference)
            if resource and not reference.startswith(_NOT_RESOURCES) and not resource.group(1).startswith("data."):
                out.add((path, resource.group(1), _index(resource.group(2))))


def _references(expression: Any) -> list[str]:
    """Return the references of one configuration expression (or of the blocks it holds)."""
    if isinstance(expression, dict):
        refs = expression.get("references")
        return [r for r in refs if isinstance(r, str)] if isinstance(refs, list) else []
    if isinstance(expression, list):
        return [r for item in expression for value in (item.values() if isinstance(item, dict) else ()) for r in _references(value)]
    return []


def _nearest(candidates: list[Resource], module: str) -> list[Resource]:
    """Keep the candidates in the module instance that shares the most of ``module``'s address."""
    if len(candidates) < 2:
        return candidates
    own = _steps(module) or []

    def shared(other: str) -> int:
        theirs = _steps(other) or []
        n = 0
        while n < min(len(own), len(theirs)) and own[n] == theirs[n]:
            n += 1
        return n

    best = max(shared(c.module) for c in candidates)
    return [c for c in candidates if shared(c.module) == best]


def call_path(module: str) -> tuple[str, ...]:
    """Return the module calls of a module instance address: ("db", "inner") for ``module.db[0].module.inner``."""
    return tuple(name.removeprefix("module.") for name, _ in _steps(module) or [])


# ---------------------------------------------------------------------------- reading


def read_plan(text: str, file: str) -> Plan:
    """Index the ``terraform show -json`` output ``text``; raises :class:`SourceFileError` if it is not one."""

    def fail(message: str, hint: str, line: int | None = None) -> SourceFileError:
        return SourceFileError([Problem(file, "", message, line=line, hint=hint)])

    export = "export it with: terraform show -json PLANFILE > plan.json (or terraform show -json > state.json)"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise fail(f"not valid JSON (column {e.colno}: {e.msg})", export, e.lineno) from None
    except RecursionError:
        raise fail("not valid JSON: nested too deeply", export) from None
    if not isinstance(data, dict):
        raise fail("not `terraform show -json` output: the file is not a JSON object", export)
    if isinstance(data.get("resources"), list) and "version" in data and "format_version" not in data:
        raise fail("a raw state file (terraform.tfstate), not `terraform show -json` output",
                   "convert it with: terraform show -json terraform.tfstate > state.json")
    if "planned_values" in data:
        root, changes = _mapping(data["planned_values"]).get("root_module"), data.get("resource_changes")
    elif "values" in data:
        root, changes = _mapping(data["values"]).get("root_module"), None
    elif "format_version" in data and "terraform_version" in data:
        root, changes = None, None  # an empty state: terraform writes no values at all
    else:
        raise fail("not `terraform show -json` output: no planned_values (a plan) or values (a state)", export)
    version = str(data.get("format_version", "1.0"))
    if version.split(".")[0] not in ("0", "1"):
        raise fail(f"format_version {version} is not one planner reads (it reads 1.x, Terraform 0.12 and later)",
                   "export the plan with a Terraform release whose JSON format is 1.x")
    if data.get("errored") is True:
        raise fail("the plan errored: Terraform could not finish it, so its values are incomplete",
                   "fix what terraform plan reports, then export the plan again")
    plan = Plan(file, text)
    unknown: dict[str, Any] = {}
    for change in changes if isinstance(changes, list) else []:
        if not isinstance(change, dict) or not isinstance(change.get("change"), dict):
            continue
        address, body = change.get("address"), change["change"]
        if body.get("actions") == ["delete"]:
            plan.destroyed.add(str(address))
        if isinstance(address, str):
            unknown[address] = body.get("after_unknown") or {}
    _walk(plan, _mapping(root), "", unknown)
    configuration = _mapping(data.get("configuration"))
    _index_modules(plan, _mapping(configuration.get("root_module")), ())
    return plan


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _walk(plan: Plan, module: dict[str, Any], address: str, unknown: dict[str, Any]) -> None:
    """Index the managed resources of ``module`` and of its child modules."""
    for item in module.get("resources", []) if isinstance(module.get("resources"), list) else []:
        if not isinstance(item, dict) or item.get("mode", "managed") != "managed":
            continue  # data sources describe what exists elsewhere; planner reads what this plan manages
        where, kind, name = item.get("address"), item.get("type"), item.get("name")
        if not (isinstance(where, str) and isinstance(kind, str) and isinstance(name, str)):
            continue
        index = item.get("index")
        plan.resources[where] = Resource(where, address, kind, name, index if isinstance(index, (int, str)) else None,
                                         _mapping(item.get("values")), unknown.get(where, {}), plan)
    for child in module.get("child_modules", []) if isinstance(module.get("child_modules"), list) else []:
        if isinstance(child, dict):
            _walk(plan, child, str(child.get("address", "")), unknown)


def _index_modules(plan: Plan, module: dict[str, Any], path: tuple[str, ...]) -> None:
    """Record the configuration of every module call, by its path of call names."""
    if not module:
        return
    plan.modules[path] = module
    calls = module.get("module_calls")
    for name, call in calls.items() if isinstance(calls, dict) else []:
        if isinstance(call, dict):
            _index_modules(plan, _mapping(call.get("module")), path + (str(name),))
