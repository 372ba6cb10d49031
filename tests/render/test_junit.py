"""``check --format junit``: JUnit XML for GitLab and Jenkins, failing where check fails, each case with its file and time.

Three readers hold it: the Jenkins xunit plugin's XSD (which declares no ``file`` on a test case: the only
difference allowed, since GitLab reads it there), junitparser, and a model of GitLab's parser
(gitlabhq lib/gitlab/ci/parsers/test/junit.rb and reports/test_case.rb at 028d8ac9: a test case is keyed
by its suite's name, classname and name, and a repeated key replaces the earlier case).
"""

from __future__ import annotations

import os
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema
from junitparser import Attr, Failure, JUnitXml, TestCase

from ..conftest import EXAMPLES, run_cli
from .test_escaping import HOSTILE, write_hostile
from .test_sarif import E2E, OK, OVER, TOPOLOGIES, WARN

SCHEMA = Path(__file__).parent / "schemas" / "junit-10.xsd"
TestCase.file = Attr("file")  # junitparser's documented way to read an attribute it does not declare


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema10:
    """The xunit plugin's schema with the one attribute it lacks: ``file`` on a test case (GitLab's)."""
    text = SCHEMA.read_text(encoding="utf-8")
    declared = '<xs:attribute name="group" type="xs:string"/>\n        </xs:complexType>\n    </xs:element>\n\n    <xs:element name="testsuite">'
    assert text.count(declared) == 1
    return xmlschema.XMLSchema10(text.replace(declared, '<xs:attribute name="file" type="xs:string"/>\n            ' + declared))


@pytest.fixture(scope="module")
def jenkins() -> xmlschema.XMLSchema10:
    return xmlschema.XMLSchema10(SCHEMA)


def gitlab_failures(document: str) -> int:
    """Count the failed test cases as GitLab does: by suite name, classname and name, a repeat replacing the last."""
    failed: set[tuple[str, str, str]] = set()
    for suite in ET.fromstring(document).iter("testsuite"):
        for case in suite.findall("testcase"):
            if case.find("failure") is not None:
                failed.add((suite.get("name", ""), case.get("classname", ""), case.get("name", "")))
    return len(failed)


def junit(schema: xmlschema.XMLSchema10, *args: str) -> tuple[int, ET.Element]:
    """Run ``planner check ARGS --format junit``; validate it; return (code, <testsuites>)."""
    code, out, err = run_cli(["check", *args, "--format", "junit"])
    assert code in (0, 1), err
    schema.validate(out)
    # against the xunit plugin's own schema, the test case's file is the only complaint
    for error in xmlschema.XMLSchema10(SCHEMA).iter_errors(out):
        assert (error.reason, error.elem.tag if error.elem is not None else None) == (
            "'file' attribute not allowed for element", "testcase"), error
    root = ET.fromstring(out)
    # the totals add up, as GitLab and Jenkins read them
    suites = root.findall("testsuite")
    for suite in suites:
        cases = suite.findall("testcase")
        assert int(suite.get("tests", "")) == len(cases)
        assert int(suite.get("failures", "")) == sum(c.find("failure") is not None for c in cases)
        assert (suite.get("errors"), suite.get("skipped")) == ("0", "0")
        for case in cases:  # GitLab's "copy failed tests" and its durations
            file = case.get("file", "")
            assert file == suite.get("file") and file
            # relative to the working directory, unless the topology is outside it
            assert not os.path.isabs(file) or os.path.relpath(file).startswith(os.pardir)
            assert float(case.get("time", "-1")) >= 0
        assert float(suite.get("time", "-1")) >= 0
    assert int(root.get("failures", "")) == sum(int(s.get("failures", "")) for s in suites)
    assert int(root.get("tests", "")) == sum(int(s.get("tests", "")) for s in suites)
    assert (int(root.get("failures", "")) > 0) == (code == 1)  # a failing case iff check fails
    # junitparser and GitLab count what the document says
    parsed = JUnitXml.fromstring(out)
    assert sum(isinstance(r, Failure) for s in parsed for c in s for r in c.result) == int(root.get("failures", ""))
    assert gitlab_failures(out) == int(root.get("failures", ""))
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
    assert not schema.is_valid('<testsuites><testsuite name="x" tests="1" failures="0" errors="0">'
                               '<testcase name="a" line="3"/></testsuite></testsuites>')


def test_same_named_topologies_stay_apart(schema: xmlschema.XMLSchema10, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # two teams' "over" topologies: six failing cases that GitLab must count as six, not three
    monkeypatch.chdir(tmp_path)
    for team in ("eu", "us"):
        (tmp_path / team).mkdir()
        (tmp_path / team / "over.yaml").write_text(OVER)
    code, out, err = run_cli(["check", "eu/over.yaml", "us/over.yaml", "--format", "junit"])
    assert code == 1
    assert err.splitlines() == [
        "planner: 'over' is the name of eu/over.yaml, us/over.yaml: their JUnit suites carry the file as well (as "
        "`name (file)`); give each topology its own `name:` to keep their reports, and their baseline entries, apart"]
    assert gitlab_failures(out) == 6
    _, root = junit(schema, "eu/over.yaml", "us/over.yaml")
    assert [(s.get("name"), s.get("file")) for s in root.findall("testsuite")] == [
        ("over (eu/over.yaml)", "eu/over.yaml"), ("over (us/over.yaml)", "us/over.yaml")]
    assert {c[0] for c in cases(root)} == {"over (eu/over.yaml).main/writer", "over (us/over.yaml).main/writer"}
    # distinct names: no warning, and the suites keep their plain names
    (tmp_path / "us" / "over.yaml").write_text(OVER.replace("name: over", "name: over-us"))
    code, out, err = run_cli(["check", "eu/over.yaml", "us/over.yaml", "--format", "junit"])
    assert (code, err) == (1, "")
    assert [s.get("name") for s in ET.fromstring(out).findall("testsuite")] == ["over", "over-us"]


def test_each_case_has_its_file_relative_to_the_working_directory_and_its_time(schema: xmlschema.XMLSchema10,
                                                                              tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "over.yaml").write_text(OVER)
    (tmp_path / "infra" / "p.yaml").write_text(OK.replace("name: fine", "name: pooled").replace("connections: 10", "connections: 30")
                                               + "poolers:\n  bouncer: {kind: pgbouncer, database: main, clients: [web], "
                                               "max_client_conn: 10}\n")
    monkeypatch.chdir(tmp_path)
    # an absolute path in: the file is written relative to the working directory, as GitLab matches it
    _, root = junit(schema, str(tmp_path / "infra" / "over.yaml"), "infra/p.yaml")
    assert {c.get("file") for c in root.iterfind("testsuite/testcase")} == {"infra/over.yaml", "infra/p.yaml"}
    for suite in root.findall("testsuite"):  # the suite's time is the whole, each case its share of it
        shares = [float(c.get("time", "")) for c in suite.findall("testcase")]
        assert len(set(shares)) == 1 and abs(sum(shares) - float(suite.get("time", ""))) <= 0.0005 + 1e-6 * len(shares)
    assert float(root.get("time", "")) > 0  # reading and computing two topologies takes some time
    # junitparser reads the same files and times
    parsed = JUnitXml.fromstring(ET.tostring(root, encoding="unicode"))
    assert {case.file for suite in parsed for case in suite} == {"infra/over.yaml", "infra/p.yaml"}
    assert all(case.time >= 0 for suite in parsed for case in suite)
