"""`--apply-to-topology` edits the user's file: every comment stays, only the changed keys' lines differ,
and `check` on the written file says what the option promised.

Every option `recommend` offers for every example (and every `emit` kind that has one) is applied
through the command line; the written file is diffed against the original.
"""

from __future__ import annotations

import json
import re
import tomllib
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import pytest
import yaml

from planner.advice.recommend import Option, recommend
from planner.catalog import load_catalog
from planner.errors import InputError
from planner.model import Topology, worst_status
from planner.topology import load_topology, parse_topology
from planner.topology.edit import EditBug, same_topology
from planner.topology.writer import topology_document

from ..conftest import EXAMPLES, run_cli

CATALOG = load_catalog()
_MISSING = object()


# --------------------------------------------------------------------------- what a faithful edit is

def comments(text: str) -> list[str]:
    """Return every comment of a YAML or TOML file (whole lines and line ends), in order."""
    out = []
    for line in text.splitlines():
        match = re.search(r"(?:^|\s)(#.*)$", line)
        if match:
            out.append(match.group(1).strip())
    return out


def assert_comments_kept(original: str, written: str) -> None:
    """Every comment of the original is still there, in the same order."""
    remaining = iter(comments(written))
    for comment in comments(original):
        assert any(comment == c for c in remaining), f"comment lost or moved out of order: {comment!r}"


def _plain(text: str, name: str) -> Any:
    suffix = Path(name).suffix
    return tomllib.loads(text) if suffix == ".toml" else json.loads(text) if suffix == ".json" else yaml.safe_load(text)


def _value(data: Any, path: str) -> Any:
    """Return the value at a key path (``services.web.pool.size``, ``clients[0]``), or _MISSING."""
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("["):
            index = int(part[1:-1])
            if not isinstance(data, list) or index >= len(data):
                return _MISSING
            data = data[index]
        elif isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, dict) and isinstance(data.get("rds"), dict) and part.startswith("rds"):
            return _MISSING
        else:
            return _MISSING
    return data


def _paths_by_line(topology: Topology) -> dict[int, str]:
    """Return the outermost key path written on each line."""
    out: dict[int, str] = {}
    for path, line in topology.lines.items():
        if line not in out or len(path) < len(out[line]):
            out[line] = path
    return out


def assert_only_changed_keys_differ(original: str, written: str, name: str) -> list[str]:
    """Every line removed or added holds a key whose value changed; no comment line changes.

    Returns the key paths of the changed lines. JSON's trailing commas move with the last key of an
    object, so lines are compared without them.
    """
    before, after = parse_topology(original, name), parse_topology(written, name)
    old, new = _plain(original, name), _plain(written, name)
    old_at, new_at = _paths_by_line(before), _paths_by_line(after)
    a = [line.rstrip().rstrip(",") for line in original.splitlines()]
    b = [line.rstrip().rstrip(",") for line in written.splitlines()]
    touched = []
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        for lines, start, at in ((a[i1:i2], i1, old_at), (b[j1:j2], j1, new_at)):
            for offset, line in enumerate(lines):
                if not line.strip() or set(line.strip()) <= set("{}[],"):
                    continue  # blank lines and JSON's closing brackets
                assert not line.strip().startswith("#"), f"a comment line changed: {line!r}"
                path = at.get(start + offset + 1)
                assert path is not None, f"line {start + offset + 1} holds no key: {line!r}"
                assert _value(old, path) != _value(new, path), f"{path} did not change, yet its line did: {line!r}"
                touched.append(path)
    return touched


def assert_check_keeps_the_promise(written: Path, option: Option) -> None:
    """`planner check` on the written file gives the option's promised status for its database."""
    code, out, err = run_cli(["check", str(written), "--format", "json"])
    assert code in (0, 1), err
    report = json.loads(out)
    statuses = [i["status"] for i in report["instances"] if i["database"] == option.database]
    statuses += [p["status"] for p in report["poolers"] if p["database"] == option.database]
    assert worst_status(statuses) == option.after.status, (option.title, statuses)


# --------------------------------------------------------------------------- every example, every option

def _recommended(path: Path) -> list[tuple[str, Option]]:
    topology = load_topology(path)
    return [(f"{rec.database}:{rank}", option) for rec in recommend(topology, CATALOG)
            for rank, option in enumerate(rec.options, 1)]


RECOMMENDED = [(path, ident, option) for path in sorted(EXAMPLES.glob("*.yaml")) for ident, option in _recommended(path)]


def test_the_examples_offer_options_to_apply() -> None:
    assert {path.name for path, _, _ in RECOMMENDED} >= {"beanstalk-flask.yaml", "shared-instance.yaml"}


@pytest.mark.parametrize(("path", "ident", "option"), RECOMMENDED,
                         ids=[f"{p.stem}-{i}-{o.kind}" for p, i, o in RECOMMENDED])
def test_recommend_apply_keeps_the_file(path: Path, ident: str, option: Option, tmp_path: Path) -> None:
    target = tmp_path / path.name
    code, _, err = run_cli(["recommend", str(path), "--option", ident, "--apply-to-topology", str(target)])
    assert code == 0, err
    assert f"planner check: {option.after.status}" in err or len(option.topology.databases) > 1
    original, written = path.read_text(), target.read_text()
    assert_comments_kept(original, written)
    assert assert_only_changed_keys_differ(original, written, path.name)
    assert same_topology(parse_topology(written, path.name), option.topology)
    assert_check_keeps_the_promise(target, option)


def _emitted() -> list[tuple[Path, str, Option]]:
    from planner.cli.fix import EmitKind, _option_for

    cases = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        topology = load_topology(path)
        for kind in EmitKind:
            try:
                option = _option_for(kind, topology, CATALOG, None)
            except InputError:
                continue  # no option of this kind for this file: emit says so and exits 2
            cases.append((path, kind.value, option))
    return cases


EMITTED = _emitted()


@pytest.mark.parametrize(("path", "kind", "option"), EMITTED, ids=[f"{p.stem}-{k}" for p, k, _ in EMITTED])
def test_emit_apply_keeps_the_file(path: Path, kind: str, option: Option, tmp_path: Path) -> None:
    target = tmp_path / path.name
    code, _, err = run_cli(["emit", kind, str(path), "-o", str(tmp_path / "out"), "--apply-to-topology", str(target)])
    assert code == 0, err
    original, written = path.read_text(), target.read_text()
    assert_comments_kept(original, written)
    assert assert_only_changed_keys_differ(original, written, path.name)
    assert same_topology(parse_topology(written, path.name), option.topology)
    assert_check_keeps_the_promise(target, option)


def test_every_emit_kind_is_covered_somewhere() -> None:
    assert {kind for _, kind, _ in EMITTED} >= {"pgbouncer", "parameters", "pools"}


# --------------------------------------------------------------------------- TOML and JSON inputs

BEANSTALK_TOML = """\
# A Flask API on Elastic Beanstalk that scaled out under load and ran out of slots.
# The parameter group still carried the old PostgreSQL formula; the fix was a bigger class.
version = 1
name = "beanstalk-flask"

[databases.main]
engine = "postgres"
engine_version = "9.4"
instance_class = "db.t2.small"
parameters = { max_connections = "{DBInstanceClassMemory/31457280}" }

[services.api]
replicas = { min = 2, max = 6 }   # Beanstalk auto scaling group
max_surge = 0                     # all-at-once deployments
processes = 2
threads = 5                       # one connection per thread

# psql sessions and the monitoring agent
[services.admin]
connections = 2
"""


def _variants() -> list[tuple[str, str, Path]]:
    """The hand-written TOML above, and every example as TOML and as JSON (2-space indented)."""
    import tomlkit

    out = [("beanstalk-flask.toml", BEANSTALK_TOML, EXAMPLES / "beanstalk-flask.yaml")]
    for path in sorted(EXAMPLES.glob("*.yaml")):
        doc = topology_document(load_topology(path))
        out.append((path.with_suffix(".json").name, json.dumps(doc, indent=2) + "\n", path))
        out.append((path.with_suffix(".toml").name, "# " + path.stem + ", as TOML\n" + tomlkit.dumps(doc), path))
    return out


VARIANT_CASES = [(name, text, ident, option) for name, text, yaml_path in _variants()
                 for ident, option in _recommended(yaml_path)]


def test_the_toml_version_is_the_example() -> None:
    assert same_topology(parse_topology(BEANSTALK_TOML, "beanstalk-flask.toml"), load_topology(EXAMPLES / "beanstalk-flask.yaml"))


@pytest.mark.parametrize(("name", "text", "ident", "option"), VARIANT_CASES,
                         ids=[f"{n}-{i}-{o.kind}" for n, _, i, o in VARIANT_CASES])
def test_toml_and_json_inputs_are_edited_in_their_format(name: str, text: str, ident: str, option: Option,
                                                          tmp_path: Path) -> None:
    source = tmp_path / "in" / name
    source.parent.mkdir()
    source.write_text(text)
    target = tmp_path / name
    code, _, err = run_cli(["recommend", str(source), "--option", ident, "--apply-to-topology", str(target)])
    assert code == 0, err
    written = target.read_text()
    assert_comments_kept(text, written)
    assert assert_only_changed_keys_differ(text, written, name)
    # the same option on the same topology, whatever the format: the same topology out
    assert same_topology(parse_topology(written, name), option.topology)
    assert_check_keeps_the_promise(target, option)
    if name.endswith(".json"):
        keys = list(json.loads(text))
        assert [k for k in json.loads(written) if k in keys] == keys  # key order kept
        assert re.search(r'^  "version"', written, re.MULTILINE)  # indentation kept


def test_a_new_file_keeps_the_source_format(tmp_path: Path) -> None:
    source = tmp_path / "shop.toml"
    source.write_text(BEANSTALK_TOML)
    target = tmp_path / "fixed.yaml"
    code, _, err = run_cli(["recommend", str(source), "--option", "main:1", "--apply-to-topology", str(target)])
    assert code == 2 and not target.exists()
    assert err.splitlines() == [f"planner: --apply-to-topology {target}: {source} is TOML and is edited in place, "
                                f"so the new file keeps its format: name it {tmp_path / 'fixed.toml'}"]


# --------------------------------------------------------------------------- anchors and aliases

ANCHORED = """\
# Shared settings through YAML anchors; the web tier outgrew the instance in March.
version: 1
x-python: &python
  processes: 4
  threads: 2
  pool: {driver: sqlalchemy, size: 5, max_overflow: 5}   # the ORM's settings
databases:
  main:
    engine_version: "16"
    instance_class: db.t4g.medium
services:
  web:
    <<: *python
    replicas: {min: 2, max: 12}   # HPA
  api: &api
    <<: *python
    replicas: 4
  api-canary: *api                # same code, own deployment
  cron:
    connections: 3
"""


def test_an_anchored_file_is_edited_correctly_or_refused_in_one_line(tmp_path: Path) -> None:
    source = tmp_path / "anchored.yaml"
    source.write_text(ANCHORED)
    before = load_topology(source)
    cases = _recommended(source)
    assert cases, "the anchored example should need options"
    for ident, option in cases:
        target = tmp_path / f"applied-{ident.replace(':', '-')}.yaml"
        code, _, err = run_cli(["recommend", str(source), "--option", ident, "--apply-to-topology", str(target)])
        if code == 2:  # refused: one line, naming the file, and nothing written
            assert len(err.splitlines()) == 1 and str(source) in err and not target.exists(), err
            continue
        assert code == 0, err
        written = target.read_text()
        assert_comments_kept(ANCHORED, written)
        again = parse_topology(written, source.name)
        assert same_topology(again, option.topology), option.title
        for name, service in before.services.items():  # what the option did not change stayed as it was
            if option.topology.services[name] == service:
                assert again.services[name].pool == service.pool and again.services[name].replicas_max == service.replicas_max
        assert_check_keeps_the_promise(target, option)


# --------------------------------------------------------------------------- nothing half-done

def test_no_file_is_written_when_the_edit_does_not_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from planner.topology.edit import yaml_document

    monkeypatch.setattr(yaml_document.YamlDocument, "render", lambda self: [self.text])
    target = tmp_path / "applied.yaml"
    with pytest.raises(EditBug):
        run_cli(["recommend", str(EXAMPLES / "beanstalk-flask.yaml"), "--option", "main:1", "--apply-to-topology", str(target)])
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
