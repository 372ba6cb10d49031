"""``planner diff``: two versions of a topology, from files or from git, and what changed.

The deltas are computed by hand from the arithmetic of docs/topology.md ("Demand"), so a
regression in either the budget or the comparison shows here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.review.diff import Delta
from planner.render.diff import NO_CHANGE

from ..conftest import EXAMPLES, run_cli

SCENARIOS = ("steady", "peak", "rollout")
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


# --------------------------------------------------------------------------- helpers


def _edit(source: Path, target: Path, change: Any) -> Path:
    """Write ``source`` with ``change(data)`` applied to ``target`` (comments are not kept)."""
    data = yaml.safe_load(source.read_text())
    change(data)
    target.write_text(yaml.safe_dump(data, sort_keys=False))
    return target


def _one_more_replica(service: str) -> Any:
    def change(data: dict[str, Any]) -> None:
        spec = data["services"][service]
        replicas = spec.get("replicas", 1)
        spec["replicas"] = replicas + 1 if isinstance(replicas, int) else {k: v + 1 for k, v in replicas.items()}

    return change


def _diff_json(*args: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = run_cli(["diff", *args, "--format", "json"])
    assert code in (0, 1), err
    return code, json.loads(out), err


def _sources(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["source"]: s for s in doc["sources"]}


def _instances(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{i['database']}/{i['role']}": i for i in doc["instances"]}


def _deltas(entry: dict[str, Any]) -> tuple[int | None, ...]:
    return tuple(entry["scenarios"][s]["delta"] for s in SCENARIOS)


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def _commit(repo: Path, message: str) -> None:
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", message)


@pytest.fixture
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the user's and the system's git configuration (signing, hooks, branch names) out."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_git: None) -> Path:
    """A repository with two commits of topo.yaml: pgbouncer-fleet, then one more web replica."""
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q", "-b", "main")
    _git(root, "remote", "add", "upstream", "https://example.invalid/planner.git")  # never fetched
    shutil.copy(EXAMPLES / "pgbouncer-fleet.yaml", root / "topo.yaml")
    _commit(root, "fleet")
    _edit(root / "topo.yaml", root / "topo.yaml", _one_more_replica("web"))
    _commit(root, "one more web replica")
    monkeypatch.chdir(root)
    return root


# --------------------------------------------------------------------------- one more replica


# (example, service, {source: Δ per scenario}, {instance: Δ per scenario}, {pooler: client Δ per scenario})
ONE_MORE_REPLICA = [
    pytest.param(
        # web: processes 4 × sqlalchemy (5 steady, 5 + 10 worst); R_max 30 → 31 keeps surge ceil(¼ R_max) = 8.
        # Both services are PgBouncer's clients: the database keeps seeing the pooler's 3 × 45.
        "pgbouncer-fleet.yaml", "web",
        {"web@default": (20, 60, 60)}, {"main/writer": (0, 0, 0)}, {"bouncer": (20, 60, 60)},
        id="pgbouncer-web",
    ),
    pytest.param(
        # worker: threads 16, per-thread pool; 8 → 9 replicas moves the surge ceil(8/4) = 2 → ceil(9/4) = 3.
        "pgbouncer-fleet.yaml", "worker",
        {"worker@default": (16, 16, 32)}, {"main/writer": (0, 0, 0)}, {"bouncer": (16, 16, 32)},
        id="pgbouncer-worker",
    ),
    pytest.param(
        # api: processes 2 × threads 5, one connection per thread, max_surge 0; direct to the writer.
        "beanstalk-flask.yaml", "api",
        {"api@default": (10, 10, 10)}, {"main/writer": (10, 10, 10)}, {},
        id="beanstalk-api",
    ),
    pytest.param(
        # reports: reader endpoint, processes 2 × psycopg-pool 4; 2 → 3 replicas keeps surge ceil(¼ R) = 1.
        "lambda-proxy.yaml", "reports",
        {"reports@default": (8, 8, 8)}, {"cluster/writer": (0, 0, 0), "cluster/reader-1": (8, 8, 8)}, {"proxy": (0, 0, 0)},
        id="lambda-proxy-reports",
    ),
    pytest.param(
        # web: sqlalchemy 10 + 10, replicas {4..10} → {5..11} in prod (×1), staging (×½), dev (×⅕):
        # prod R 4→5, 10→11; staging ceil(2)→ceil(2.5) = 2→3, 5→6; dev ceil(0.8)→ceil(1) = 1→1, 2→3.
        # Surges stay ceil(¼ R_max): 3, 2 and 1.
        "shared-instance.yaml", "web",
        {"web@prod": (10, 20, 20), "web@staging": (10, 20, 20), "web@dev": (0, 20, 20)}, {"main/writer": (20, 60, 60)}, {},
        id="shared-instance-web",
    ),
]


@pytest.mark.parametrize(("example", "service", "sources", "instances", "poolers"), ONE_MORE_REPLICA)
def test_one_more_replica_shows_exactly_that_change(
    tmp_path: Path, example: str, service: str, sources: dict[str, tuple[int, ...]],
    instances: dict[str, tuple[int, ...]], poolers: dict[str, tuple[int, ...]],
) -> None:
    base = EXAMPLES / example
    head = _edit(base, tmp_path / example, _one_more_replica(service))
    _, doc, _ = _diff_json(str(base), str(head))

    assert doc["changed"] is True
    assert doc["base"]["file"] == str(base) and doc["head"]["file"] == str(head)
    assert doc["base"]["topology"] == doc["head"]["topology"] == base.stem
    changed = _sources(doc)
    assert set(changed) == set(sources), "only the service's sources changed"
    for name, expected in sources.items():
        assert changed[name]["change"] == "changed"
        assert _deltas(changed[name]) == expected, name
        for scenario, delta in zip(SCENARIOS, expected):
            entry = changed[name]["scenarios"][scenario]
            assert entry["after"] - entry["before"] == delta
    by_instance = _instances(doc)
    assert set(by_instance) == set(instances)
    for name, expected in instances.items():
        entry = by_instance[name]
        assert _deltas(entry) == expected, name
        assert entry["usable_before"] == entry["usable_after"]
        assert entry["instance_class_before"] == entry["instance_class_after"]
        assert entry["change"] == ("unchanged" if not any(expected) and entry["status_before"] == entry["status_after"] else "changed")
    assert {p["pooler"]: _deltas(p) for p in doc["poolers"]} == poolers
    assert doc["new_warnings"] == [] and doc["resolved_warnings"] == []

    code, text, _ = run_cli(["diff", str(base), str(head)])
    assert "what changed:" in text and all(name in text for name in sources)
    code, markdown, _ = run_cli(["diff", str(base), str(head), "--format", "markdown"])
    assert markdown.startswith("### planner diff: ")
    assert "<details><summary>Sources that changed" in markdown and all(name in markdown for name in sources)


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_diff_a_a_is_empty(example: str) -> None:
    path = str(EXAMPLES / example)
    code, doc, _ = _diff_json(path, path)
    assert doc["changed"] is False
    assert doc["sources"] == [] and doc["new_warnings"] == [] and doc["resolved_warnings"] == []
    assert all(i["change"] == "unchanged" for i in doc["instances"])
    assert all(p["change"] == "unchanged" for p in doc["poolers"])
    assert all(s["delta"] == 0 for i in doc["instances"] for s in i["scenarios"].values() if s["delta"] is not None)
    assert doc["summary"] == []
    _, check, _ = run_cli(["check", path, "--format", "json"])
    assert code == (1 if json.loads(check)["status"] == "over" else 0)
    code_text, text, _ = run_cli(["diff", path, path])
    assert NO_CHANGE in text and "sources that changed" not in text
    _, markdown, _ = run_cli(["diff", path, path, "--format", "markdown"])
    assert "No change in connection demand." in markdown and "Sources that changed" not in markdown


# --------------------------------------------------------------------------- git


@needs_git
def test_git_refs_show_the_change(repo: Path) -> None:
    code, doc, err = _diff_json("git:HEAD~1:topo.yaml", "git:HEAD:topo.yaml")
    assert code == 0, err
    assert doc["base"]["file"] == "git:HEAD~1:topo.yaml" and doc["head"]["file"] == "git:HEAD:topo.yaml"
    assert doc["base"]["topology"] == "pgbouncer-fleet"
    assert {s["source"]: _deltas(s) for s in doc["sources"]} == {"web@default": (20, 60, 60)}
    # a ref against the working tree, and a branch name
    code, doc, _ = _diff_json("git:main~1:topo.yaml", "topo.yaml")
    assert _sources(doc)["web@default"]["scenarios"]["peak"]["delta"] == 60
    code, doc, _ = _diff_json("git:HEAD:topo.yaml", "topo.yaml")
    assert doc["changed"] is False


@needs_git
def test_git_paths_are_from_the_root_or_dot_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_git: None) -> None:
    root = tmp_path / "repo"
    (root / "infra").mkdir(parents=True)
    _git(root, "init", "-q", "-b", "main")
    # no `name:`: the topology is named after the file, not after "git:HEAD:…"
    (root / "infra" / "topology.toml").write_text(
        'version = 1\n[databases.main]\ninstance_class = "db.m6g.large"\n[services.ops]\nconnections = 3\n'
    )
    _commit(root, "toml")
    monkeypatch.chdir(root / "infra")
    code, doc, err = _diff_json("git:HEAD:infra/topology.toml", "git:HEAD:./topology.toml")
    assert code == 0, err
    assert doc["base"]["topology"] == doc["head"]["topology"] == "topology"
    assert doc["changed"] is False


@needs_git
@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        ("git:no-such-branch:topo.yaml", ["git:no-such-branch:topo.yaml: unknown revision 'no-such-branch'", "git branch -a"]),
        ("git:upstream/main:topo.yaml", ["unknown revision 'upstream/main'", "git fetch upstream main", "fetch-depth: 0"]),
        ("git:feature/x:topo.yaml", ["unknown revision 'feature/x'", "git branch -a"]),  # no remote called feature
        ("git:HEAD~7:topo.yaml", ["unknown revision 'HEAD~7'"]),
        ("git:HEAD:infra/topo.yaml", ["git:HEAD:infra/topo.yaml: 'infra/topo.yaml' is not in HEAD", "git ls-tree"]),
        ("git:HEAD:topo.toml", ["'topo.toml' is not in HEAD"]),
        ("git:-p:topo.yaml", ["starts with '-'"]),
        ("git::topo.yaml", ["the revision is empty", "git:origin/main:infra/topology.yaml"]),
        ("git:HEAD", ["no PATH after the revision"]),
        ("git:HEAD:topo", ["cannot tell the file format"]),
    ],
)
def test_git_errors_exit_2_with_one_line(repo: Path, spec: str, fragments: list[str]) -> None:
    code, out, err = run_cli(["diff", spec, "topo.yaml"])
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert all(f in lines[0] for f in fragments), lines[0]
    assert "Traceback" not in err


@needs_git
@needs_git
@pytest.mark.parametrize("ref", ["--output={out}", "-c core.pager=touch {out}", "-p", "--end-of-options", "-"])
def test_a_ref_that_is_an_option_never_reaches_git(repo: Path, tmp_path: Path, ref: str, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "written-by-git"
    ran: list[list[str]] = []
    real = subprocess.run

    def recorded(args: list[str], **kwargs: Any) -> Any:
        ran.append(list(args))
        return real(args, **kwargs)

    monkeypatch.setattr(subprocess, "run", recorded)
    spec = f"git:{ref.format(out=out)}:topo.yaml"
    for args in (["diff", spec, "topo.yaml"], ["diff", "topo.yaml", spec]):
        code, stdout, err = run_cli(args)
        assert (code, stdout) == (2, ""), err
        assert err.splitlines() == [f"planner: {spec}: the revision {ref.format(out=out)!r} starts with '-' "
                                    "(write git:REF:PATH, e.g. git:origin/main:infra/topology.yaml)"]
    assert ran == [] and not out.exists()


@needs_git
def test_git_outside_a_repository_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_git: None) -> None:
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    monkeypatch.chdir(outside)
    code, out, err = run_cli(["diff", "git:HEAD:topo.yaml", str(EXAMPLES / "pgbouncer-fleet.yaml")])
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        f"planner: git:HEAD:topo.yaml: {outside} is not in a git repository "
        "(run planner from inside the repository, or pass file paths)"
    ]


def test_git_missing_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no git on PATH
    code, out, err = run_cli(["diff", "git:HEAD:topo.yaml", str(EXAMPLES / "pgbouncer-fleet.yaml")])
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "git is not installed" in lines[0] and lines[0].startswith("planner: git:HEAD:topo.yaml: ")


@needs_git
def test_git_validation_errors_name_the_ref(repo: Path) -> None:
    (repo / "bad.yaml").write_text("version: 1\ndatabases:\n  main: {instance_class: db.m6g.large}\nservices:\n  web:\n    replica: 3\n")
    _commit(repo, "bad")
    (repo / "bad.yaml").unlink()  # not on disk: only git has it
    code, out, err = run_cli(["diff", "git:HEAD:bad.yaml", "missing.yaml"])
    assert code == 2 and out == ""
    # both sides' problems at once, each naming its file
    assert err.strip().splitlines() == [
        "planner: git:HEAD:bad.yaml:6: services.web.replica: unknown key 'replica' (did you mean 'replicas'?)",
        "planner: missing.yaml: file not found (check the path)",
    ]


@needs_git
def test_git_directory_is_not_a_topology(repo: Path) -> None:
    (repo / "conf.yaml").mkdir()
    (repo / "conf.yaml" / "x.yaml").write_text("version: 1\n")
    _commit(repo, "dir")
    code, _, err = run_cli(["diff", "git:HEAD:conf.yaml", "topo.yaml"])
    assert code == 2
    assert err.strip().splitlines() == ["planner: git:HEAD:conf.yaml: 'conf.yaml' is a directory in HEAD, not a file (name the topology file itself)"]


# --------------------------------------------------------------------------- --fail-on


def _warn_topology(tmp_path: Path, connections: int) -> Path:
    """A self-managed database with max_connections 100 (alarm at 80): 90 connections warn."""
    path = tmp_path / f"warn-{connections}.yaml"
    path.write_text(
        "version: 1\nname: warn\ndatabases:\n  main: {engine: self-managed, parameters: {max_connections: 100}}\n"
        f"services:\n  ops: {{connections: {connections}}}\n"
    )
    return path


def test_fail_on_over_is_the_default() -> None:
    over = str(EXAMPLES / "beanstalk-flask.yaml")
    code, out, err = run_cli(["diff", over, over])
    assert code == 1 and NO_CHANGE in out
    assert err.strip().splitlines() == ["planner: HEAD is over budget (--fail-on over)"]
    # a ratchet: an already-over topology passes as long as demand does not grow
    assert run_cli(["diff", over, over, "--fail-on", "increase"])[0] == 0


def test_fail_on_warn(tmp_path: Path) -> None:
    warn = str(_warn_topology(tmp_path, 90))
    assert run_cli(["diff", warn, warn])[0] == 0
    code, _, err = run_cli(["diff", warn, warn, "--fail-on", "warn"])
    assert code == 1 and "HEAD is warn (--fail-on warn)" in err
    ok = str(_warn_topology(tmp_path, 50))
    assert run_cli(["diff", warn, ok, "--fail-on", "warn"])[0] == 0


def test_fail_on_increase(tmp_path: Path) -> None:
    base = _warn_topology(tmp_path, 50)
    head = _warn_topology(tmp_path, 60)
    assert run_cli(["diff", str(base), str(head)])[0] == 0
    code, out, err = run_cli(["diff", str(base), str(head), "--fail-on", "increase"])
    assert code == 1
    assert err.strip().splitlines() == ["planner: worst-scenario demand on main/writer rose from 50 to 60 (--fail-on increase)"]
    assert "main/writer: 50 → 60 (+10)" in out
    assert run_cli(["diff", str(head), str(base), "--fail-on", "increase"])[0] == 0
    # both gates at once
    code, _, err = run_cli(["diff", str(base), str(_warn_topology(tmp_path, 120)), "--fail-on", "over", "--fail-on", "increase"])
    assert code == 1 and len(err.strip().splitlines()) == 2


def test_increase_behind_a_pooler_is_not_an_increase_on_the_database(tmp_path: Path) -> None:
    """PgBouncer caps the server side: more web replicas add no connections to the instance."""
    base = EXAMPLES / "pgbouncer-fleet.yaml"
    head = _edit(base, tmp_path / "fleet.yaml", _one_more_replica("web"))
    assert run_cli(["diff", str(base), str(head), "--fail-on", "increase"])[0] == 0
    more_pods = _edit(base, tmp_path / "pods.yaml", lambda d: d["poolers"]["bouncer"].update(replicas=4))
    code, doc, _ = _diff_json(str(base), str(more_pods), "--fail-on", "increase")
    assert code == 1
    bouncer = doc["poolers"][0]
    assert (bouncer["server_connections_before"], bouncer["server_connections_after"]) == (135, 180)
    assert (bouncer["client_capacity_before"], bouncer["client_capacity_after"]) == (3000, 4000)
    assert _deltas(_instances(doc)["main/writer"]) == (45, 45, 45)
    assert _deltas(_sources(doc)["bouncer"]) == (45, 45, 45)


def test_a_new_reader_shares_the_load_and_is_no_increase(tmp_path: Path) -> None:
    base = EXAMPLES / "lambda-proxy.yaml"
    head = _edit(base, tmp_path / "two-readers.yaml", lambda d: d["databases"]["cluster"].update(readers=2))
    code, doc, err = _diff_json(str(base), str(head), "--fail-on", "increase")
    assert code == 0, err
    instances = _instances(doc)
    # reports: 2 replicas × 2 processes × 4 = 16 on one reader, ceil(16 / 2) = 8 on each of two
    assert instances["cluster/reader-1"]["scenarios"]["peak"]["before"] == 16
    assert instances["cluster/reader-1"]["scenarios"]["peak"]["after"] == 8
    assert instances["cluster/reader-2"]["change"] == "added"
    added = instances["cluster/reader-2"]["scenarios"]["peak"]
    assert (added["before"], added["after"], added["status_before"], added["status_after"]) == (None, 8, None, "ok")
    reports = _sources(doc)["reports@default"]
    assert reports["change"] == "changed" and "role" not in reports
    assert (reports["route_before"], reports["route_after"]) == ("cluster/reader-1", "cluster/reader-1..2")
    assert _deltas(reports) == (0, 0, 0)


def test_an_unbounded_pool_is_an_increase(tmp_path: Path) -> None:
    base = EXAMPLES / "beanstalk-flask.yaml"
    head = _edit(base, tmp_path / "unbounded.yaml", lambda d: d["services"]["api"].update(pool="unbounded"))
    code, doc, err = _diff_json(str(base), str(head), "--fail-on", "increase")
    assert code == 1 and "rose from 62 to unbounded" in err
    peak = _instances(doc)["main/writer"]["scenarios"]["peak"]
    assert (peak["before"], peak["after"], peak["delta"], peak["unbounded_after"]) == (62, None, None, True)
    assert [w for w in doc["new_warnings"] if "unbounded pool" in w]
    _, text, _ = run_cli(["diff", str(base), str(head), "--fail-on", "increase"])
    assert "peak      62 → unbounded  unbounded" in text
    assert "60 → unbounded  " in text  # the source, without a number for its change


# --------------------------------------------------------------------------- added, removed, class


def _upgrade(data: dict[str, Any]) -> None:
    """beanstalk-flask on db.m6g.large, admin sessions gone, a cron job added."""
    data["databases"]["main"]["instance_class"] = "db.m6g.large"
    del data["services"]["admin"]
    data["services"]["cron"] = {"connections": 4}


def test_added_and_removed_services_and_a_new_instance_class(tmp_path: Path) -> None:
    base = EXAMPLES / "beanstalk-flask.yaml"
    head = _edit(base, tmp_path / "upgraded.yaml", _upgrade)
    code, doc, _ = _diff_json(str(base), str(head))
    assert code == 0  # HEAD fits
    assert (doc["base"]["status"], doc["head"]["status"], doc["status"]) == ("over", "ok", "ok")

    writer = _instances(doc)["main/writer"]
    _, check_base, _ = run_cli(["check", str(base), "--format", "json"])
    _, check_head, _ = run_cli(["check", str(head), "--format", "json"])
    before, after = json.loads(check_base)["instances"][0], json.loads(check_head)["instances"][0]
    assert (writer["instance_class_before"], writer["instance_class_after"]) == ("db.t2.small", "db.m6g.large")
    assert (writer["usable_before"], writer["usable_after"]) == (before["usable"], after["usable"]) == (55, 239)
    assert (writer["max_connections_before"], writer["max_connections_after"]) == (60, 244)
    assert (writer["status_before"], writer["status_after"]) == ("over", "ok")
    # api 60 at peak, + cron 4 − admin 2
    peak = writer["scenarios"]["peak"]
    assert (peak["before"], peak["after"], peak["delta"]) == (62, 64, 2)
    assert (peak["headroom_before"], peak["headroom_after"]) == (55 - 62, 239 - 64)
    assert (peak["alarm_headroom_before"], peak["alarm_headroom_after"]) == (48 - 62, after["alarm_at"] - 64)
    assert (peak["status_before"], peak["status_after"]) == ("over", "ok")

    sources = _sources(doc)
    assert set(sources) == {"cron@default", "admin@default"}
    assert sources["cron@default"]["change"] == "added" and sources["cron@default"]["role"] == "writer"
    assert sources["cron@default"]["scenarios"]["steady"] == {
        "before": None, "after": 4, "delta": 4, "unbounded_before": False, "unbounded_after": False,
    }
    assert sources["admin@default"]["change"] == "removed" and _deltas(sources["admin@default"]) == (-2, -2, -2)
    assert [w.split(":")[0] for w in doc["resolved_warnings"]] == ["databases.main.instance_class"]
    assert "burstable" in doc["resolved_warnings"][0]
    assert any("is an estimate" in w for w in doc["new_warnings"])
    # the old-formula warning is in both (with different numbers): neither new nor resolved
    assert not any("old default formula" in w for w in doc["new_warnings"] + doc["resolved_warnings"])

    _, text, _ = run_cli(["diff", str(base), str(head)])
    assert "main/writer: db.t2.small → db.m6g.large, usable 55 → 239 (+184)" in text
    # peak and rollout tie (status and Δ): the later, larger scenario is the headline
    assert "rollout on main/writer: 62 → 64 (+2), OVER → ok" in text
    assert "55 → 239*" in text and "* estimated:" in text
    assert "cron@default" in text and "added" in text and "admin@default" in text and "removed" in text

    code, markdown, err = run_cli(["diff", str(head), str(base), "--format", "markdown"])
    assert code == 1 and "HEAD is over budget" in err
    title = markdown.splitlines()[0]
    assert title == "### planner diff: **beanstalk-flask** is ❌ over (was ✅ ok)"
    assert "| main/writer | db.m6g.large → db.t2.small | 239\\* → 55 | rollout | 64 → 62 | -2 | 175 → -7 | ✅ ok → ❌ over |" in markdown
    assert markdown.index("| main/writer |") < markdown.index("<details>")  # the summary comes first
    assert "<details><summary>Warnings new in HEAD (1)</summary>" in markdown
    assert markdown.rstrip().endswith("<!-- planner diff -->")


def test_added_and_removed_databases_and_poolers(tmp_path: Path) -> None:
    base = EXAMPLES / "pgbouncer-fleet.yaml"

    def change(data: dict[str, Any]) -> None:
        del data["poolers"]
        data["databases"]["reports"] = {"engine": "self-managed", "parameters": {"max_connections": 50}}
        for service in data["services"].values():  # two databases: each service names its own
            service["database"] = "main"
        data["services"]["bi"] = {"database": "reports", "connections": 10}

    head = _edit(base, tmp_path / "no-bouncer.yaml", change)
    code, doc, _ = _diff_json(str(base), str(head), "--fail-on", "increase")
    assert code == 1
    instances = _instances(doc)
    assert instances["reports/writer"]["change"] == "added"
    assert instances["reports/writer"]["usable_before"] is None and instances["reports/writer"]["usable_after"] == 47
    assert doc["poolers"][0]["change"] == "removed" and doc["poolers"][0]["server_connections_after"] is None
    sources = _sources(doc)
    assert sources["bouncer"]["change"] == "removed"
    assert sources["bi@default"]["change"] == "added" and sources["bi@default"]["database"] == "reports"
    web = sources["web@default"]
    assert (web["change"], web["route_before"], web["route_after"]) == ("changed", "via bouncer", "main/writer")
    assert _deltas(web) == (0, 0, 0) and "via" not in web
    # web (6 × 4 × 5 steady) and worker (8 × 16) now connect directly, instead of the bouncer's 135
    assert instances["main/writer"]["scenarios"]["steady"]["after"] == 120 + 128 + 2

    _, markdown, _ = run_cli(["diff", str(base), str(head), "--format", "markdown"])
    assert "reports/writer added" in markdown and "pooler bouncer removed" in markdown
    _, text, _ = run_cli(["diff", str(head), str(base)])
    assert "reports/writer removed" in text and "pooler bouncer added (pgbouncer on main): 135 server connections" in text


def test_markdown_escapes_what_the_author_wrote(tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text(
        "version: 1\nname: 'a_b|c<script>'\ndatabases:\n  main_db: {engine: self-managed}\n"
        "services:\n  web_app: {connections: 5}\n"
    )
    head = _edit(base, tmp_path / "head.yaml", lambda d: d["services"]["web_app"].update(connections=9))
    _, markdown, _ = run_cli(["diff", str(base), str(head), "--format", "markdown"])
    assert "<script>" not in markdown
    assert "**a\\_b\\|c&lt;script&gt;**" in markdown.splitlines()[0]
    assert "| main\\_db/writer |" in markdown and "web\\_app@default" in markdown
    assert "main\\_db/writer: 5 → 9 (+4)" in markdown


# --------------------------------------------------------------------------- command


def test_output_file_only_on_success(tmp_path: Path) -> None:
    base, head = str(EXAMPLES / "pgbouncer-fleet.yaml"), str(EXAMPLES / "beanstalk-flask.yaml")
    target = tmp_path / "out" / "comment.md"
    code, out, _ = run_cli(["diff", base, head, "--format", "markdown", "-o", str(target)])
    assert code == 1 and out == ""  # HEAD is over: the comment is still written, for the pull request
    assert target.read_text().startswith("### planner diff: ")
    failed = tmp_path / "failed.md"
    assert run_cli(["diff", base, "missing.yaml", "-o", str(failed)])[0] == 2
    assert not failed.exists()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["diff", "{ex}/pgbouncer-fleet.yaml"], "Missing argument 'HEAD'"),
        (["diff", "{ex}/pgbouncer-fleet.yaml", "{ex}/pgbouncer-fleet.yaml", "--fail-on", "more"], "--fail-on"),
        (["diff", "{ex}/pgbouncer-fleet.yaml", "{ex}/pgbouncer-fleet.yaml", "--scenario", "burst"], "unknown scenario 'burst'"),
        (["diff", "{ex}/pgbouncer-fleet.yaml", "{ex}/pgbouncer-fleet.yaml", "--format", "github"], "--format"),
    ],
)
def test_usage_errors_exit_2(args: list[str], fragment: str) -> None:
    code, out, err = run_cli([a.replace("{ex}", str(EXAMPLES)) for a in args])
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], err


def test_help_has_examples() -> None:
    code, out, _ = run_cli(["diff", "--help"])
    assert code == 0
    assert "Examples:" in out and "planner diff git:origin/main:infra/topology.yaml" in out
    assert "diff" in run_cli(["--help"])[1]


def test_the_comparison_needs_neither_typer_nor_git() -> None:
    """planner.review.diff is pure: no CLI, no subprocess, no catalogue (pandas) at import."""
    probe = (
        "import sys, planner.review.diff, planner.render.diff\n"
        "print(sorted(m for m in ('typer', 'subprocess', 'pandas', 'planner.adapters.git', 'planner.cli') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout


@pytest.mark.parametrize(
    ("delta", "value", "changed"),
    [
        (Delta(10, 15), 5, True),
        (Delta(15, 10), -5, True),
        (Delta(None, 4), 4, True),  # added
        (Delta(4, None), -4, True),  # removed
        (Delta(7, 7), 0, False),
        (Delta(7, None, unbounded_after=True), None, True),
        (Delta(None, None, True, True), None, False),
    ],
)
def test_delta(delta: Delta, value: int | None, changed: bool) -> None:
    assert delta.delta == value
    assert delta.changed is changed


@needs_git
def test_docs_show_real_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_git: None) -> None:
    """The console session in docs/diff.md is what the command prints (up to the elided warnings)."""
    doc = (Path(__file__).parents[2] / "docs" / "diff.md").read_text()
    command = "planner diff git:origin/main:infra/topology.yaml infra/topology.yaml"
    block = doc.split(f"$ {command}\n", 1)[1].split("\n```", 1)[0]
    root = tmp_path / "repo"
    (root / "infra").mkdir(parents=True)
    _git(root, "init", "-q", "-b", "main")
    shutil.copy(EXAMPLES / "beanstalk-flask.yaml", root / "infra" / "topology.yaml")
    _commit(root, "base")
    _git(root, "update-ref", "refs/remotes/origin/main", "HEAD")  # as a clone with fetch-depth: 0 has it

    def change(data: dict[str, Any]) -> None:
        data["databases"]["main"]["instance_class"] = "db.m6g.large"
        data["services"]["api"]["replicas"]["max"] = 10

    _edit(root / "infra" / "topology.yaml", root / "infra" / "topology.yaml", change)
    monkeypatch.chdir(root)
    code, out, _ = run_cli(command.split()[1:])
    assert code == 0
    shown = block.split("\nnew warnings:", 1)[0]
    assert out.split("\nnew warnings:", 1)[0] == shown
    # the warnings, each shown to its "…": every shown line starts a real one, in order
    shown_warnings = block.split("\nnew warnings:", 1)[1].splitlines()
    real_warnings = out.split("\nnew warnings:", 1)[1].splitlines()
    real_warnings = [line for line in real_warnings if line.strip()]
    shown_warnings = [line for line in shown_warnings if line.strip()]
    assert len(shown_warnings) == len(real_warnings), out
    for shown_line, real_line in zip(shown_warnings, real_warnings):
        assert real_line.startswith(shown_line.removesuffix("…").rstrip()), (shown_line, real_line)
