"""The distributions: ``python -m build`` makes an sdist and a wheel that carry everything planner
reads at runtime, and the wheel, installed into a clean virtualenv, runs from any directory.

The build runs ``--no-isolation`` with this virtualenv's setuptools and wheel (both pinned in
requirements.lock), so it needs no network and builds with the versions the suite last passed
with. It builds from a copy of the source tree: setuptools writes ``build/`` and ``*.egg-info``
next to pyproject.toml, and a stale ``build/lib`` in the checkout would leak into the wheel.

The clean virtualenv (no ``--system-site-packages``) gets the wheel and its dependencies from PyPI
at the versions of requirements.lock, as ``make test`` installs them (about 40 s on a warm
mirror); it is created ``--without-pip`` and filled by this virtualenv's pinned pip (``pip
--python``), which saves bootstrapping a second pip.
"""

from __future__ import annotations

import email.parser
import os
import shutil
import subprocess
import sys
import tarfile
import time
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
# What the source tree holds but a distribution does not: tools' output and caches.
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", ".lock-venv", "build", "dist", "*.egg-info", "__pycache__", "*.pyc",
                                    ".pytest_cache", ".hypothesis", "reports")
# The files the package reads at runtime (grep planner/ for resources.files( and Path(__file__)):
# the catalogue (catalog/csvfile.py, render/html.py), the estimate rules (catalog/estimate.py),
# the report's templates (render/html.py, jinja2.PackageLoader), and the typing marker.
RUNTIME_DATA = (
    "planner/data/instance_classes.csv",
    "planner/data/estimate_rules.csv",
    "planner/render/templates/report.html",
    "planner/render/templates/report.css",
    "planner/render/templates/_macros.html",
    "planner/render/templates/_diff.html",
    "planner/py.typed",
)


def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]


def _clean_env() -> dict[str, str]:
    """Return the environment without anything that would let the test's own planner leak in."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PLANNER_CATALOG",
                                                              "PLANNER_OBSERVATIONS")}
    env["NO_COLOR"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a copy of the source tree, without build output and caches."""
    copy = tmp_path_factory.mktemp("source") / "planner"
    shutil.copytree(ROOT, copy, ignore=NOT_SOURCE)
    return copy


@pytest.fixture(scope="module")
def dists(source: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Build the sdist and the wheel (python -m build: the sdist, then the wheel from the sdist)."""
    out = tmp_path_factory.mktemp("dist")
    result = _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)], env=_clean_env())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    wheels, sdists = sorted(out.glob("*.whl")), sorted(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in out.iterdir())
    return wheels[0], sdists[0]


def _package_files(tree: Path) -> set[str]:
    """Return every file of the planner package in ``tree``, as paths from the tree's root."""
    return {p.relative_to(tree).as_posix() for p in (tree / "planner").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


def _pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_the_sdist_holds_the_project_and_every_package_file(dists: tuple[Path, Path], source: Path) -> None:
    _, sdist = dists
    project = _pyproject()
    top = f"{project['name']}-{project['version']}/"
    with tarfile.open(sdist) as tar:
        names = {n.removeprefix(top) for n in tar.getnames() if n.startswith(top)}
    for required in ("pyproject.toml", "README.md", "PKG-INFO", *RUNTIME_DATA):
        assert required in names, f"{sdist.name} lacks {required}"
    missing = _package_files(source) - names
    assert not missing, f"{sdist.name} lacks package files (add them to [tool.setuptools.package-data]): {sorted(missing)}"


def test_the_wheel_holds_the_code_the_data_and_the_templates(dists: tuple[Path, Path], source: Path) -> None:
    wheel, _ = dists
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(zf.read(f"{dist_info}/METADATA").decode("utf-8"))
        entry_points = zf.read(f"{dist_info}/entry_points.txt").decode("utf-8")
    for required in RUNTIME_DATA:
        assert required in names, f"{wheel.name} lacks {required}"
    missing = _package_files(source) - names
    assert not missing, f"{wheel.name} lacks package files (add them to [tool.setuptools.package-data]): {sorted(missing)}"
    strays = sorted(n for n in names if not n.startswith(("planner/", dist_info + "/")))
    assert strays == [], f"{wheel.name} ships files outside the package: {strays}"
    # the metadata says what pyproject says: name, version, the command, every dependency
    project = _pyproject()
    assert (metadata["Name"], metadata["Version"]) == (project["name"], project["version"])
    assert "planner = planner.cli:main" in entry_points
    required = {Requirement(r).name.lower() for r in metadata.get_all("Requires-Dist") or [] if "extra ==" not in r}
    assert required == {Requirement(r).name.lower() for r in project["dependencies"]}  # type: ignore[union-attr]


@pytest.fixture(scope="module")
def venv(dists: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the bin directory of a clean virtualenv holding the wheel and its locked dependencies."""
    wheel, _ = dists
    home = tmp_path_factory.mktemp("venv") / "venv"
    # The base interpreter, not this virtualenv's: the new one must not see .venv's site-packages.
    created = _run([sys.executable, "-m", "venv", "--without-pip", str(home)])
    assert created.returncode == 0, created.stderr
    python = home / "bin" / "python"
    started = time.monotonic()
    install = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--constraint", str(LOCK),
                    str(wheel)], env=_clean_env())  # fmt: skip
    took = time.monotonic() - started
    if install.returncode != 0:
        reason = f"pip could not install {wheel.name} and its locked dependencies from PyPI: {install.stderr.strip()[-800:]}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    print(f"\ninstalled {wheel.name} and its dependencies into a clean virtualenv in {took:.1f} s", file=sys.stderr)
    return home / "bin"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """Return an empty directory away from the checkout holding two example topologies."""
    for name in ("lambda-proxy.yaml", "shared-instance.yaml"):
        shutil.copy(ROOT / "examples" / name, tmp_path / name)
    return tmp_path


def test_the_installed_wheel_is_the_planner_that_runs(venv: Path, workdir: Path, dists: tuple[Path, Path]) -> None:
    probe = _run([str(venv / "python"), "-c", "import sys, planner; print(planner.__file__); print(sys.flags.no_site)"],
                 cwd=workdir, env=_clean_env())  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    module = Path(probe.stdout.splitlines()[0]).resolve()
    assert module.is_relative_to(venv.parent.resolve()), f"planner imported from {module}, not from the clean virtualenv"
    no_site = _run([str(venv / "python"), "-c", "import yaml"], cwd=workdir, env=_clean_env())
    assert no_site.returncode == 0, "the dependencies are installed in the clean virtualenv"
    leak = _run([str(venv / "python"), "-c", "import pytest"], cwd=workdir, env=_clean_env())
    assert leak.returncode != 0, "the clean virtualenv sees the test environment's packages"
    # the version is the distribution's (importlib.metadata), which is the wheel's
    version = dists[0].name.split("-")[1]
    result = _run([str(venv / "planner"), "--version"], cwd=workdir, env=_clean_env())
    assert (result.returncode, result.stdout.strip()) == (0, f"planner {version}"), result.stderr


def test_the_installed_planner_checks_reports_and_reads_its_catalogue(venv: Path, workdir: Path) -> None:
    planner = str(venv / "planner")
    env = _clean_env()
    within = _run([planner, "check", "lambda-proxy.yaml"], cwd=workdir, env=env)
    assert within.returncode == 0, within.stdout + within.stderr
    over = _run([planner, "check", "shared-instance.yaml", "--format", "json"], cwd=workdir, env=env)
    assert over.returncode == 1 and '"status": "over"' in over.stdout, over.stdout[-2000:] + over.stderr

    report = _run([planner, "report", "shared-instance.yaml", "-o", "out/report.html"], cwd=workdir, env=env)
    assert report.returncode == 0, report.stderr
    html = (workdir / "out" / "report.html").read_text(encoding="utf-8")
    assert html.count('class="chart"') >= 4 and html.count("<svg") >= 4, "the report's charts are missing"
    assert "</html>" in html

    show = _run([planner, "catalog", "show", "db.m6g.large"], cwd=workdir, env=env)
    assert show.returncode == 0, show.stderr
    assert show.stdout.startswith("db.m6g.large") and "max_connections" in show.stdout
