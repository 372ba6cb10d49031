"""Real public deployments, imported and checked as a new user would, against demand worked out by hand.

Each folder beside this file is one deployment copied from a public repository (its README.md names
the repository, the commit and every default the numbers rest on). Its ``expected.yaml`` says what
``planner import`` must be given, what ``planner check`` must refuse to guess (exit 2 naming the key),
what a user then writes, and the demand that results, per database and per source. The format is in
this folder's README.md. A case planner cannot pass yet is marked ``xfail(strict=True)`` with the
reason: whoever makes it pass removes the mark; nobody changes an expected number to make it pass.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from ..conftest import run_cli

HERE = Path(__file__).parent
SCENARIOS = ("steady", "peak", "rollout")
CASE_KEYS = {
    "kind", "paths", "import_options", "profiles", "expect_exit", "must_name", "fill", "demand",
    "by_source", "poolers", "left_out", "must_mention", "warnings_must_name", "status", "xfail",
}


def load_case(name: str) -> dict[str, Any]:
    """Read and validate a case's expected.yaml (unknown keys are a mistake in the corpus)."""
    case = yaml.safe_load((HERE / name / "expected.yaml").read_text())
    unknown = set(case) - CASE_KEYS
    assert not unknown, f"{name}/expected.yaml: unknown keys {sorted(unknown)}"
    assert case["kind"] in ("compose", "kubernetes", "terraform"), name
    return case


def case_params() -> list[Any]:
    """One pytest parameter per case folder, xfail(strict) where expected.yaml says why it fails."""
    params = []
    for folder in sorted(p for p in HERE.iterdir() if (p / "expected.yaml").is_file()):
        case = load_case(folder.name)
        marks = []
        if case.get("xfail"):
            marks.append(pytest.mark.xfail(strict=True, reason=case["xfail"]))
        params.append(pytest.param(folder.name, marks=marks, id=folder.name))
    return params


def set_path(topology: dict[str, Any], dotted: str, value: Any) -> None:
    """Write ``value`` at a dotted key path of the topology (services.web.pool.size), as a user would."""
    *parents, last = dotted.split(".")
    node = topology
    for key in parents:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[last] = value


def import_case(name: str, root: Path) -> tuple[Path, str]:
    """Copy a case into ``root`` (the current directory) as ``case/`` and ``planner import`` it into
    ``root/topology.yaml``, as a new user would; return the topology's path and import's stderr."""
    case = load_case(name)
    shutil.copytree(HERE / name, root / "case", ignore=shutil.ignore_patterns("expected.yaml", "README.md"))
    topology_path = root / "topology.yaml"
    args = ["import", case["kind"], *(str(Path("case") / p) for p in case["paths"])]
    for profile in case.get("profiles", []):
        args += ["--profile", profile]
    args += [*case.get("import_options", []), "-o", str(topology_path)]
    code, _, err = run_cli(args)
    assert code == 0, err
    return topology_path, err


def fill_case(case: dict[str, Any], topology_path: Path) -> dict[str, Any]:
    """Write each of the case's ``fill`` values into the imported topology, as a user would; return it."""
    topology = yaml.safe_load(topology_path.read_text())
    for dotted, value in (case.get("fill") or {}).items():
        set_path(topology, dotted, value)
    topology_path.write_text(yaml.safe_dump(topology, sort_keys=False))
    return topology


def source_name(source: str) -> str:
    """``web@default`` -> ``web``: the corpus has one environment."""
    return source.removesuffix("@default")


def test_every_case_folder_has_a_readme_and_expected() -> None:
    folders = [p for p in HERE.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))]
    assert len(folders) >= 14
    for folder in folders:
        assert (folder / "README.md").is_file(), folder.name
        assert (folder / "expected.yaml").is_file(), folder.name
        text = (folder / "README.md").read_text()
        assert "Commit" in text or "commit" in text, folder.name


@pytest.mark.parametrize("name", case_params())
def test_import_then_check_gives_the_hand_worked_demand(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = load_case(name)
    monkeypatch.chdir(tmp_path)
    topology_path, err = import_case(name, tmp_path)
    imported_text = topology_path.read_text()
    for needle in case.get("must_mention", []):
        assert needle in err or needle in imported_text, f"import names neither in stderr nor in the file: {needle}"

    check = ["check", str(topology_path), "--format", "json"]
    if "expect_exit" in case:
        code, out, err = run_cli(check)
        assert code == case["expect_exit"], err
        assert "Traceback" not in err
        for key in case.get("must_name", []):
            assert key in err, f"exit {code} does not name {key}: {err}"
    topology = fill_case(case, topology_path)

    code, out, err = run_cli(check)
    assert code in (0, 1), err
    result = json.loads(out)

    services = set(topology.get("services") or {})
    for left in case.get("left_out", []):
        assert left not in services, f"{left} was imported as a service"

    if "status" in case:
        assert result["status"] == case["status"], f"status {result['status']}, expected {case['status']}"
    writers = {i["database"]: i for i in result["instances"] if i["role"] == "writer"}
    for database, scenarios in case["demand"].items():
        got = {s: writers[database]["scenarios"][s]["demand"] for s in SCENARIOS}
        assert got == scenarios, f"{database}: demand {got}, expected {scenarios}"
    for database, sources in (case.get("by_source") or {}).items():
        got_sources = {
            source_name(row["source"]): {s: row[s] for s in SCENARIOS}
            for row in writers[database]["demand_by_source"]
        }
        assert got_sources == sources, f"{database}: demand by source"

    poolers = {p["pooler"]: p for p in result.get("poolers", [])}
    for pooler, want in (case.get("poolers") or {}).items():
        assert pooler in poolers, f"pooler {pooler} missing; have {sorted(poolers)}"
        assert poolers[pooler]["server_connections"] == want["server_connections"], pooler
        if "client_demand" in want:
            got = {s: poolers[pooler]["scenarios"][s]["client_demand"] for s in SCENARIOS}
            assert got == want["client_demand"], f"pooler {pooler}: client demand"

    # each warning's message, and its code (warning_details: pool-above-concurrency, deployment, ...)
    warnings = "\n".join([*result.get("warnings", []), *(w["code"] for w in result.get("warning_details", []))])
    for needle in case.get("warnings_must_name", []):
        assert needle in warnings, f"no warning names {needle}"
