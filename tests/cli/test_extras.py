"""planner's own dependencies are what `planner check` imports; the rest are extras a command names when missing.

pyproject.toml keeps PyYAML and Typer as planner's dependencies (the pre-commit hook's and the Action's
environment) and puts the report's, AWS's, PostgreSQL's and the file editor's libraries in extras.
A command run without its extra prints one line naming it (exit 2). Here the missing library is
simulated in a subprocess (``sys.modules[name] = None`` makes its import fail as an absent one would);
tests/packaging/test_wheel.py runs the same commands in a virtualenv that really lacks them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from planner.cli.app import EXTRA_OF_MODULE

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
MANIFESTS = ROOT / "tests/topology/sources/fixtures/kubernetes/e2e"  # shop.yaml reads Deployments from them
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
# the extras that bring libraries a command imports (test: the suite; local16: verify --local's own message)
COMMAND_EXTRAS = ("report", "aws", "postgres", "edit", "observed")


def _requirement_names(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def _third_party_distributions(probe: str) -> set[str]:
    """Return the distributions whose modules a Python snippet imported (run in a fresh interpreter), less
    what the interpreter imports before any code runs (setuptools' _distutils_hack, from a .pth file)."""

    def modules(snippet: str) -> set[str]:
        code = f"{snippet}\nimport sys\nprint(' '.join({{m.partition('.')[0] for m in sys.modules}} - set(sys.stdlib_module_names)))"
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                                env={**os.environ, "NO_COLOR": "1"})  # fmt: skip
        assert result.returncode == 0, result.stderr
        return set(result.stdout.strip().splitlines()[-1].split())

    owners = metadata.packages_distributions()
    imported = modules(probe) - modules("pass")
    return {canonicalize_name(d) for m in imported for d in owners.get(m, []) if canonicalize_name(d) != "planner"}


def _closure(names: set[str]) -> set[str]:
    """Return ``names`` and every distribution they require, as installed here (no extras)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for raw in metadata.requires(name) or []:
            requirement = Requirement(raw)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(requirement.name))
    return seen


def test_planner_depends_on_what_check_imports_and_nothing_else(tmp_path: Path) -> None:
    """The base dependencies are exactly the distributions `planner check` (every machine format, a topology
    that reads Kubernetes manifests, a baseline) imports, with what they require."""
    fleet, shop = str(EXAMPLES / "pgbouncer-fleet.yaml"), str(MANIFESTS / "shop.yaml")
    baseline = str(tmp_path / "baseline.json")
    runs = [[fleet, "--format", "sarif"], [shop, "--format", "junit"], [fleet, "--format", "github"],
            [shop, "--format", "json", "--write-baseline", baseline], [shop, "--baseline", baseline, "--format", "markdown"]]
    probe = ("from planner.cli import main\nimport contextlib, io\n"
             f"for args in {runs!r}:\n"
             "    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
             "        main(['check', *args])")
    imported = _third_party_distributions(probe)
    declared = _requirement_names(PROJECT["dependencies"])
    assert declared <= imported, f"planner depends on {sorted(declared - imported)}, which planner check never imports"
    assert imported <= _closure(declared), f"planner check imports {sorted(imported - _closure(declared))}: declare them"


def test_every_extras_library_is_in_the_table_and_the_table_names_real_extras() -> None:
    extras = PROJECT["optional-dependencies"]
    owners = metadata.packages_distributions()
    for module, (distribution, extra) in EXTRA_OF_MODULE.items():
        assert extra in COMMAND_EXTRAS, module
        assert canonicalize_name(distribution) in _requirement_names(extras[extra]), f"{distribution} is not in the {extra} extra"
        providers = {canonicalize_name(d) for d in owners.get(module, [])}
        assert providers & _closure({canonicalize_name(distribution)}), f"{distribution} does not bring the module {module}"
    table = {(canonicalize_name(distribution), extra) for distribution, extra in EXTRA_OF_MODULE.values()}
    for extra in COMMAND_EXTRAS:
        for name in _requirement_names(extras[extra]):
            assert (name, extra) in table, f"{name} ({extra} extra) is not in planner.cli.app.EXTRA_OF_MODULE"
    assert _requirement_names(extras["all"]) == {"planner"}
    assert set(re.search(r"\[(.*)\]", extras["all"][0]).group(1).split(",")) == set(COMMAND_EXTRAS)  # type: ignore[union-attr]


def _without(module: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``planner ARGS`` in a fresh interpreter in which ``module`` cannot be imported."""
    code = f"import sys\nsys.modules[{module!r}] = None\nfrom planner.cli import main\nmain(sys.argv[1:])"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)})  # fmt: skip



@pytest.mark.parametrize(
    ("module", "args", "command", "distribution", "extra"),
    [
        ("matplotlib", ["report", str(EXAMPLES / "shared-instance.yaml"), "-o", "out/report.html"], "report", "matplotlib", "report"),
        ("jinja2", ["report", str(EXAMPLES / "shared-instance.yaml"), "-o", "out/report.html"], "report", "jinja2", "report"),
        ("boto3", ["catalog", "refresh", "-o", "out/catalog.csv"], "catalog refresh", "boto3", "aws"),
        ("botocore", ["import", "rds", "--all", "-o", "out/shop.yaml"], "import rds", "boto3", "aws"),
        ("boto3", ["observe", "shop-db", "--database", "main", "-o", "out/observed.json"], "observe", "boto3", "aws"),
        ("psycopg", ["inspect", "--dsn", "postgresql://planner@127.0.0.1:1/none"], "inspect", "psycopg", "postgres"),
        ("psycopg", ["verify", str(EXAMPLES / "beanstalk-flask.yaml"), "--database", "main", "--dsn", "postgresql://planner@127.0.0.1:1/none"],
         "verify", "psycopg", "postgres"),
        ("ruamel", ["import", "kubernetes", str(MANIFESTS), "-o", "out/shop.yaml"], "import kubernetes", "ruamel.yaml", "edit"),
        ("ruamel", ["recommend", str(EXAMPLES / "shared-instance.yaml"), "--option", "main:1", "--apply-to-topology", "out/new.yaml"],
         "recommend", "ruamel.yaml", "edit"),
        ("tomlkit", ["recommend", "shared-instance.toml", "--option", "main:1", "--apply-to-topology", "out/new.toml"],
         "recommend", "tomlkit", "edit"),
    ],
)
def test_a_command_without_its_extra_names_it_in_one_line(
    module: str, args: list[str], command: str, distribution: str, extra: str, tmp_path: Path
) -> None:
    import tomlkit
    import yaml

    # a TOML topology: the example's content, written by the library the edited file needs
    example = yaml.safe_load((EXAMPLES / "shared-instance.yaml").read_text(encoding="utf-8"))
    (tmp_path / "shared-instance.toml").write_text(tomlkit.dumps(example), encoding="utf-8")
    result = _without(module, args, tmp_path)
    assert (result.returncode, result.stdout) == (2, ""), result.stdout + result.stderr
    assert result.stderr == (f"planner: planner {command} needs {distribution}, which is not installed: "
                             f"pip install 'planner[{extra}]' (or 'planner[all]' for every command)\n")
    assert not (tmp_path / "out").exists(), "a refused command wrote its output"


def test_debug_shows_the_import_error_itself(tmp_path: Path) -> None:
    result = _without("matplotlib", ["report", str(EXAMPLES / "shared-instance.yaml"), "-o", "r.html", "--debug"], tmp_path)
    assert result.returncode == 1 and "ModuleNotFoundError" in result.stderr and "Traceback" in result.stderr


def test_a_missing_module_no_extra_brings_stays_a_traceback(tmp_path: Path) -> None:
    """PyYAML is planner's own dependency: without it the installation is broken, which is a bug to see."""
    result = _without("yaml", ["check", str(EXAMPLES / "shared-instance.yaml")], tmp_path)
    assert result.returncode == 1 and "Traceback" in result.stderr and "planner[" not in result.stderr
