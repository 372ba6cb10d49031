"""The sources' YAML reader: values typed as PyYAML's safe loader types them, lines for every key path,
merge keys, and the loader's shortcuts (remembered tags, no path resolvers) kept honest."""

from __future__ import annotations

import pytest
import yaml

from planner.topology.sources.base import SourceFileError
from planner.topology.sources.yamldocs import _Loader, read_documents

TEXT = """\
defaults: &defaults
  replicas: 2
  env: [a, "b"]
---
kind: Deployment
plain: [yes, 'yes', "8080", 8080, 1.5, ~, null, true, 2026-12-07, "", 0o17, 017]
again: [yes, 8080, ~]
spec:
  <<: {replicas: 3, paused: no}
  replicas: 4
  template:
    containers:
      - name: app
        args: ["-w", "4"]
"""


def test_values_are_typed_as_the_safe_loader_types_them() -> None:
    (first, second) = read_documents(TEXT, "m.yaml")
    expected = list(yaml.safe_load_all(TEXT))
    assert [first.data, second.data] == expected  # the remembered tags change nothing, repeated words included
    assert second.data["plain"][:4] == [True, "yes", "8080", 8080]
    assert second.data["spec"] == {"replicas": 4, "paused": False,
                                   "template": {"containers": [{"name": "app", "args": ["-w", "4"]}]}}


def test_every_key_path_has_its_line() -> None:
    second = read_documents(TEXT, "m.yaml")[1]
    assert second.line("spec.replicas") == 10
    assert second.line("spec.template.containers[0].args[1]") == 14
    assert second.line("spec.template.containers[0].nope") == 13  # the nearest key above
    assert (second.index, second.file) == (1, "m.yaml")


def test_a_path_resolver_on_the_safe_loader_is_refused_not_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    # the loader skips path tracking because the safe loader has no path resolvers: if one is ever
    # registered (yaml.add_path_resolver), reading must stop rather than ignore it
    monkeypatch.setattr(_Loader, "yaml_path_resolvers", {("x",): "tag"})
    with pytest.raises(RuntimeError, match="path resolver"):
        read_documents("a: 1\n", "m.yaml")


def test_malformed_yaml_names_its_line() -> None:
    with pytest.raises(SourceFileError) as info:
        read_documents("a: 1\nb: [1, 2\nc: 3\n", "m.yaml")
    (problem,) = info.value.problems
    assert (problem.file, problem.line) == ("m.yaml", 3)
