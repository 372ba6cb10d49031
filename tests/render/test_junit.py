"""``check --format junit``: JUnit XML valid against the Jenkins xunit plugin's XSD, failing where check fails."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from ..conftest import EXAMPLES, run_cli
from .test_escaping import HOSTILE, write_hostile
from .test_sarif import E2E, OK, OVER, TOPOLOGIES, WARN

SCHEMA = Path(__file__).parent / "schemas" / "junit-10.xsd"


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema10:
    return xmlschema.XMLSchema10(SCHEMA)


def junit(schema: xmlschema.XMLSchema10, *args: str) -> tuple[int, ET.Element]:
    """Run ``planner check ARGS --format junit``; validate against the XSD; return (code, <testsuites>)."""
    code, out, err = run_cli(["check", *args, "--format", "junit"])
    assert code in (0, 1), err
    schema.validate(out)
    root = ET.fromstring(out)
    # the totals add up, as GitLab and Jenkins read them
    suites = root.findall("testsuite")
    for suite in suites:
        cases = suite.findall("testcase")
        assert int(suite.get("tests", "")) == len(cases)
        assert int(suite.get("failures", "")) == sum(c.find("failure") is not None for c in cases)
        assert (suite.get("errors"), suite.get("skipped")) == ("0", "0")
    assert int(root.get("failures", "")) == sum(int(s.get("failures", "")) for s in suites)
    assert int(root.get("tests", "")) == sum(int(s.get("tests", "")) for s in suites)
    assert (int(root.get("failures", "")) > 0) == (code == 1)  # a failing case iff check fails
    return code, root


def cases(root: ET.Element) -> list[tuple[str, str, str | None]]:
    """Return (classname, name, failure type or None) of every testcase."""
    out = []
    for case in root.iter("testcase"):
        failure = case.find("failure")
        out.append((case.get("classname", ""), case.get("name", ""), None if failure is None else failure.get("type")))
    return out


@pytest.mark.parametrize("topology", TOPOLOGIES, ids=lambda p: f"{p.parent.name}/{p.name}")
@pytest.mark.parametrize("fail_on", ["over", "warn"])
def test_every_example_is_valid_junit(schema: xmlschema.XMLSchema10, topology: Path, fail_on: str) -> None:
    code, _ = junit(schema, str(topology), "--fail-on", fail_on)
    assert code == run_cli(["check", str(topology), "--fail-on", fail_on])[0]


def test_over_budget_case_carries_the_arithmetic(schema: xmlschema.XMLSchema10) -> None:
    _, root = junit(schema, str(EXAMPLES / "beanstalk-flask.yaml"))
    assert cases(root) == [
        ("beanstalk-flask.main/writer", "steady", None),
        ("beanstalk-flask.main/writer", "peak", "over"),
        ("beanstalk-flask.main/writer", "rollout", "over"),
    ]
    failure = root.find("testsuite/testcase[@name='peak']/failure")
    assert failure is not None and failure.get("message") == "main/writer is over in peak: demand 62 > usable 55"
    text = failure.text or ""
    for line in ("max_connections = 60 (db.t2.small, observed)",
                 "reserved = superuser_reserved_connections 3 + rds.rds_superuser_reserved_connections 2 = 5",
                 "usable = max_connections 60 − reserved 5 = 55",
                 "alarm_at = floor(60 × (1 − 20%)) = 48",
                 "api@default: replicas 6 × processes 2 × per-thread pool 5 = 60",
                 "admin@default: connections 2 = 2",
                 "demand = 62 → 62 > usable 55 → OVER"):
        assert line in text.splitlines() or any(l.startswith(line) for l in text.splitlines()), line
    assert "beanstalk-flask.yaml:9" in text.splitlines()[0]
    out = root.find("testsuite/system-out")
    assert out is not None and "warning burstable-production" in (out.text or "")
    names = [p.get("name") for p in root.iterfind("testsuite/properties/property")]
    assert "warning.burstable-production" in names and "warning.old-formula" in names


def test_warn_fails_only_with_fail_on_warn(schema: xmlschema.XMLSchema10, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("warn.yaml").write_text(WARN)
    code, root = junit(schema, "warn.yaml")
    assert code == 0 and [c[2] for c in cases(root)] == [None, None, None]
    note = root.find("testsuite/testcase/system-out")
    assert note is not None and "demand = 45 → 45 ≤ usable 47 but > alarm_at 40 → WARN" in (note.text or "")
    code, root = junit(schema, "warn.yaml", "--fail-on", "warn")
    assert code == 1 and [c[2] for c in cases(root)] == ["warn", "warn", "warn"]


def test_several_topologies_and_a_pooler(schema: xmlschema.XMLSchema10, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("over.yaml").write_text(OVER)
    Path("ok.yaml").write_text(OK)
    Path("p.yaml").write_text(OK.replace("name: fine", "name: pooled").replace("connections: 10", "connections: 30") + """\
poolers:
  bouncer: {kind: pgbouncer, database: main, clients: [web], max_client_conn: 10, default_pool_size: 5}
""")
    code, root = junit(schema, "over.yaml", "ok.yaml", "p.yaml")
    assert code == 1
    assert [(s.get("name"), s.get("tests"), s.get("failures"), s.get("file")) for s in root.findall("testsuite")] == [
        ("over", "3", "3", "over.yaml"), ("fine", "3", "0", "ok.yaml"), ("pooled", "6", "3", "p.yaml")]
    pooled = [c for c in cases(root) if c[0].startswith("pooled.")]
    assert pooled[3:] == [("pooled.bouncer/pooler", s, "over") for s in ("steady", "peak", "rollout")]
    failure = root.find("testsuite[@name='pooled']/testcase[@classname='pooled.bouncer/pooler']/failure")
    assert failure is not None and "client capacity = replicas 1 × max_client_conn 10 = 10" in (failure.text or "")


def test_kubernetes_topology(schema: xmlschema.XMLSchema10, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(E2E, tmp_path / "e2e")
    monkeypatch.chdir(tmp_path / "e2e")
    code, root = junit(schema, "shop.yaml")
    assert code == 0 and len(cases(root)) == 3
    Path("tight.yaml").write_text(Path("shop.yaml").read_text().replace("max_connections: 600", "max_connections: 300"))
    code, root = junit(schema, "tight.yaml")
    assert [c[2] for c in cases(root)] == [None, "over", "over"]


def test_hostile_name_and_control_characters(schema: xmlschema.XMLSchema10, tmp_path: Path) -> None:
    _, root = junit(schema, str(write_hostile(tmp_path, HOSTILE + "\u0001\u001b")))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == HOSTILE + "\ufffd\ufffd"  # XML 1.0 cannot carry them


def test_baseline_turns_failures_into_passes(schema: xmlschema.XMLSchema10, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("over.yaml").write_text(OVER)
    assert run_cli(["check", "over.yaml", "--write-baseline", "base.json"])[0] == 0
    code, root = junit(schema, "over.yaml", "--baseline", "base.json")
    assert code == 0 and [c[2] for c in cases(root)] == [None, None, None]
    assert all("in the baseline" in (o.text or "") for o in root.iterfind("testsuite/testcase/system-out"))


def test_the_schema_rejects_what_it_should(schema: xmlschema.XMLSchema10) -> None:
    # the validation above means something: a testsuite without its counts is refused
    assert not schema.is_valid('<testsuites><testsuite name="x"><testcase name="a"/></testsuite></testsuites>')
