"""SARIF results sit on the line that decides them, and carry their help in the log.

GitHub shows a pull request only the alerts on lines it changed (docs.github.com, "SARIF support for code
scanning", Source file locations): a budget result must sit on the line a change edits. Every result of
every example, of the Kubernetes fixture and of every deployment in tests/deployments (imported, filled,
and tightened until they breach) is checked against oracles apart from planner's own placing: the largest
source from ``check --format json``, the line of a topology key from PyYAML's node marks, and, for a value
read from the deployment, the file and line its provenance names. Two pull requests made with git (a
topology's replicas, a manifest's maxReplicas) must see their alerts on exactly the changed line. Lint
warnings are held to their key's line (or its entry's).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jsonschema
import pytest
import yaml

from planner.topology.load import load_topology

from ..conftest import run_cli
from ..deployments.test_corpus import HERE as DEPLOYMENTS, fill_case, import_case, load_case
from ..review.test_diff import _commit, _git, isolated_git, needs_git  # noqa: F401 - the fixture is used by name
from .test_sarif import E2E, ROOT, TOPOLOGIES, place, results, sarif, validator  # noqa: F401 - the fixture is used by name

ORIGIN_PLACE = re.compile(r",\s*(?P<file>[^,]+?):(?P<line>[0-9]+)\s*$")
# the replica count each scenario uses: where the rule puts a service's result whenever one is written down
REPLICA_KEYS = {"steady": ("replicas.min", "replicas"), "peak": ("replicas.max", "replicas"),
                "rollout": ("replicas.max", "replicas")}
BUDGET_RULES = ("budget-over", "budget-warn", "pooler-client-over", "pooler-client-wait")


def yaml_line(path: Path, key_path: str) -> int | None:
    """Return the 1-based line of a dotted key in a YAML file, from PyYAML's node marks (None if absent)."""
    node: Any = yaml.compose(path.read_text(encoding="utf-8"))
    line = None
    for key in key_path.split("."):
        if not isinstance(node, yaml.MappingNode):
            return None
        match = next(((k, v) for k, v in node.value if k.value == key), None)
        if match is None:
            return None
        line, node = match[0].start_mark.line + 1, match[1]
    return line


def warning_lines(topology: Path, key_path: str) -> set[int]:
    """Return where a warning about ``key_path`` may sit: the line of the key, or of its nearest parent the topology
    writes, or that entry's ``from:`` line (the value was read through it)."""
    parts = key_path.split(".")
    for n in range(len(parts), 0, -1):
        line = yaml_line(topology, ".".join(parts[:n]))
        if line is not None:
            read_from = yaml_line(topology, ".".join([*parts[:n], "from"])) if n < len(parts) else None
            return {line} | ({read_from} if read_from is not None else set())
    return {1}


class Oracle:
    """Where a topology's values are written: in the deployment file its provenance names, else in the topology."""

    def __init__(self, topology: Path) -> None:
        self.path = topology
        self.file = os.path.relpath(topology)
        self.provenance = load_topology(topology).provenance

    def stated(self, key_path: str) -> tuple[str, int] | None:
        """Return (file, line) where ``key_path``'s value is written, or None when it is a default."""
        sourced = self.provenance.get(key_path)
        found = ORIGIN_PLACE.search(sourced.origin) if sourced is not None else None
        if found is not None:
            return os.path.normpath(found["file"].strip()), int(found["line"])
        line = yaml_line(self.path, key_path)
        return (self.file, line) if line is not None else None


def largest(rows: list[dict[str, Any]], scenario: str) -> set[str]:
    """Return the sources that open the most in ``scenario`` (several on a tie; unbounded is null in JSON)."""
    if any(row[scenario] is None for row in rows):
        return {row["source"] for row in rows if row[scenario] is None}
    top = max(row[scenario] for row in rows)
    return {row["source"] for row in rows if row[scenario] == top}


def entry_of(row: dict[str, Any]) -> str:
    """Return the topology entry of a JSON source row: services.web for web@prod, poolers.NAME for a pooler."""
    return f"poolers.{row['source']}" if row["kind"] == "pooler" else f"services.{row['source'].split('@')[0]}"


def check_places(validator: jsonschema.Draft4Validator, topology: Path) -> int:
    """Check every result of ``topology``'s SARIF log against the oracles (a warning: on its key's entry);
    return how many budget results were checked."""
    _, log = sarif(validator, str(topology))
    code, out, err = run_cli(["check", str(topology), "--format", "json"])
    assert code in (0, 1), err
    doc = json.loads(out)
    oracle = Oracle(topology)
    checked = 0
    for result in results(log):
        if result["ruleId"] not in BUDGET_RULES:
            uri, line = place(result)
            assert uri == oracle.file and line in warning_lines(topology, result["properties"]["keyPath"]), result
            continue
        props, scenario = result["properties"], result["properties"]["scenario"]
        if "instance" in props:
            (instance,) = [i for i in doc["instances"] if f"{i['database']}/{i['role']}" == props["instance"]]
            rows = instance["demand_by_source"]
            # the database is the first related location, linked from the message
            database = (oracle.file, yaml_line(topology, f"databases.{instance['database']}"))
            assert (os.path.normpath(unquote(place(result["relatedLocations"][0])[0])),
                    place(result["relatedLocations"][0])[1]) == database
            assert "](1)" in result["message"]["text"]
        else:
            (pooler,) = [p for p in doc["poolers"] if p["pooler"] == props["pooler"]]
            rows = pooler["clients"]
        assert props["source"] in largest(rows, scenario), (props, scenario)
        (row,) = [r for r in rows if r["source"] == props["source"]]
        entry, key = entry_of(row), props["keyPath"]
        assert key == entry or key.startswith(entry + "."), (entry, key)
        replicas = REPLICA_KEYS[scenario] if entry.startswith("services.") else ("replicas",)
        written = [f"{entry}.{k}" for k in replicas if oracle.stated(f"{entry}.{k}") is not None]
        if written:  # a replica count written down decides: a scaling change edits it
            assert key == written[0], (key, written)
        expected = oracle.stated(key)
        assert expected is not None, key
        uri, line = place(result)
        assert (os.path.normpath(unquote(uri)), line) == expected, (result["message"]["text"], expected)
        if expected[0] == oracle.file:  # the topology's line names the key
            text = topology.read_text(encoding="utf-8").splitlines()[line - 1]
            assert key.rsplit(".", 1)[-1] in text, text
        checked += 1
    return checked


@pytest.mark.parametrize("topology", TOPOLOGIES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_example_result_sits_on_its_deciding_line(validator: jsonschema.Draft4Validator, topology: Path,
                                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(topology, tmp_path / topology.name)
    monkeypatch.chdir(tmp_path)
    check_places(validator, Path(topology.name))
    # tightened until every instance breaches, so every example's deciding lines are checked
    tight = tmp_path / "tight.yaml"
    tight.write_text(tighten(Path(topology.name)))
    assert check_places(validator, Path("tight.yaml")) > 0


def tighten(topology: Path) -> str:
    """Return the topology with each database's max_connections one above its reserved slots (usable 1)."""
    code, out, err = run_cli(["check", str(topology), "--format", "json"])
    assert code in (0, 1), err
    reserved = {i["database"]: i["reserved"] for i in json.loads(out)["instances"]}
    data = yaml.safe_load(topology.read_text(encoding="utf-8"))
    for name, database in data["databases"].items():
        database.setdefault("parameters", {})["max_connections"] = reserved[name] + 1
    return yaml.safe_dump(data, sort_keys=False)


def test_kubernetes_fixture_results_sit_on_the_manifest_lines(validator: jsonschema.Draft4Validator, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(E2E, tmp_path / "e2e")
    monkeypatch.chdir(tmp_path / "e2e")
    Path("tight.yaml").write_text(Path("shop.yaml").read_text().replace("max_connections: 600", "max_connections: 20"))
    assert check_places(validator, Path("tight.yaml")) == 3
    _, log = sarif(validator, "tight.yaml")
    # steady is decided by the HPA's minReplicas, peak and rollout by its maxReplicas
    assert [(r["properties"]["scenario"], place(r)) for r in results(log) if r["ruleId"] == "budget-over"] == [
        ("steady", ("rendered/web.yaml", 130)), ("peak", ("rendered/web.yaml", 131)), ("rollout", ("rendered/web.yaml", 131))]


CORPUS = [p.name for p in sorted(DEPLOYMENTS.iterdir()) if (p / "expected.yaml").is_file()]


@pytest.mark.parametrize("name", CORPUS)
def test_every_deployment_result_sits_on_its_deciding_line(validator: jsonschema.Draft4Validator, name: str,
                                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = load_case(name)
    if case.get("xfail"):
        pytest.skip(f"{name} does not import yet: {case['xfail']}")
    monkeypatch.chdir(tmp_path)
    topology, _ = import_case(name, tmp_path)
    fill_case(case, topology)
    check_places(validator, Path("topology.yaml"))
    Path("tight.yaml").write_text(tighten(Path("topology.yaml")))
    # usable 1: every deployment that opens more than one connection somewhere breaches (the probes open 1)
    opens_more = any(n is None or n > 1 for demand in case["demand"].values() for n in demand.values())
    assert (check_places(validator, Path("tight.yaml")) > 0) == opens_more


# --------------------------------------------------------------------------- a pull request sees its alerts


def changed_lines(repo: Path, path: str) -> set[int]:
    """Return the lines of ``path`` the last commit added or changed, as ``git diff`` (and a pull request) shows them."""
    diff = subprocess.run(["git", "-C", str(repo), "diff", "-U0", "HEAD~1", "HEAD", "--", path],
                          capture_output=True, text=True, check=True).stdout
    lines: set[int] = set()
    for start, count in re.findall(r"^@@ -\S+ \+(\d+)(?:,(\d+))? @@", diff, re.M):
        lines.update(range(int(start), int(start) + int(count or 1)))
    return lines


SHOP = """\
version: 1
name: shop
databases:
  main:
    engine: self-managed
    parameters: {max_connections: 100}
services:
  web:
    replicas: 2
    processes: 4
    pool: 5
  admin:
    connections: 3
"""


@needs_git
def test_a_pull_request_that_raises_replicas_sees_its_alerts(validator: jsonschema.Draft4Validator, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch, isolated_git: None) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "shop.yaml").write_text(SHOP)
    _commit(repo, "base: 2 × 4 × 5 + 3 = 43 of 97")
    monkeypatch.chdir(repo)
    assert [r for r in results(sarif(validator, "shop.yaml")[1]) if r["ruleId"] in BUDGET_RULES] == []
    (repo / "shop.yaml").write_text(SHOP.replace("replicas: 2", "replicas: 8"))
    _commit(repo, "head: 8 web replicas")
    code, log = sarif(validator, "shop.yaml")
    assert code == 1
    budget = [r for r in results(log) if r["ruleId"] in BUDGET_RULES]
    assert [r["properties"]["scenario"] for r in budget] == ["steady", "peak", "rollout"]
    assert changed_lines(repo, "shop.yaml") == {9}
    assert {place(r) for r in budget} == {("shop.yaml", 9)}


@needs_git
def test_a_pull_request_that_raises_max_replicas_in_a_manifest_sees_its_alerts(
        validator: jsonschema.Draft4Validator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_git: None) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(E2E, repo)
    _git(repo, "init", "-q")
    _commit(repo, "base: the HPA scales web to 10")
    monkeypatch.chdir(repo)
    assert sarif(validator, "shop.yaml")[0] == 0
    web = repo / "rendered" / "web.yaml"
    web.write_text(web.read_text().replace("maxReplicas: 10", "maxReplicas: 30"))
    _commit(repo, "head: up to 30 web pods")
    code, log = sarif(validator, "shop.yaml")
    assert code == 1
    budget = [r for r in results(log) if r["ruleId"] in BUDGET_RULES]
    assert [r["properties"]["scenario"] for r in budget] == ["peak", "rollout"]
    assert changed_lines(repo, "rendered/web.yaml") == {131}
    assert {place(r) for r in budget} == {("rendered/web.yaml", 131)}
    assert all(place(r["relatedLocations"][0]) == ("shop.yaml", 5) for r in budget)  # the database


# --------------------------------------------------------------------------- help in the log, no placeholder URL


def sarif_with_metadata(tmp_path: Path, metadata: str, topology: Path) -> dict[str, Any]:
    """Run ``python -m planner check --format sarif`` with an installed planner whose metadata is ``metadata``."""
    site = tmp_path / "site"
    (site / "planner-0.1.0.dist-info").mkdir(parents=True, exist_ok=True)
    (site / "planner-0.1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: planner\nVersion: 0.1.0\n" + metadata, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}  # this metadata is found first
    done = subprocess.run([sys.executable, "-m", "planner", "check", str(topology), "--format", "sarif"],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    return json.loads(done.stdout)


def test_help_uri_only_from_the_package_metadata(tmp_path: Path) -> None:
    topology = tmp_path / "over.yaml"
    topology.write_text((ROOT / "examples" / "beanstalk-flask.yaml").read_text())
    log = sarif_with_metadata(tmp_path, "", topology)
    assert "OWNER" not in json.dumps(log)
    driver = log["runs"][0]["tool"]["driver"]
    assert "informationUri" not in driver and not any("helpUri" in rule for rule in driver["rules"])
    assert all(rule["help"]["markdown"] and rule["help"]["text"] for rule in driver["rules"])
    log = sarif_with_metadata(tmp_path, "Project-URL: Source, https://git.example.org/planner\n"
                                        "Project-URL: Documentation, https://docs.example.org/planner\n", topology)
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["informationUri"] == "https://docs.example.org/planner"
    assert {rule["helpUri"] for rule in driver["rules"]} == {"https://docs.example.org/planner"}
