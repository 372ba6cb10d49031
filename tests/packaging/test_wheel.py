"""The distributions: ``python -m build`` makes an sdist and a wheel that carry everything planner
reads at runtime, and the wheel, installed into a clean virtualenv, runs from any directory; the
package index accepts them (twine check --strict, check-wheel-contents) and shows a page whose links
work (the long description rendered by readme_renderer, as PyPI renders it).

They are built as a release builds them: pyproject.toml names the repository (``[project.urls]
Source``, which the release sets), so the README's relative links point into it.

The build runs ``--no-isolation`` with this virtualenv's setuptools and wheel (both pinned in
requirements.lock), so it needs no network and builds with the versions the suite last passed
with. It builds from a copy of the source tree: setuptools writes ``build/`` and ``*.egg-info``
next to pyproject.toml, and a stale ``build/lib`` in the checkout would leak into the wheel.

Two clean virtualenvs (no ``--system-site-packages``) get the wheel and its dependencies from PyPI
at the versions of requirements.lock, as ``make test`` installs them: one with every extra (about
40 s on a warm mirror), one with planner's own dependencies only, what ``pip install`` of the wheel
gives the CI gate (the pre-commit hook's environment). They are created ``--without-pip`` and filled
by this virtualenv's pinned pip (``pip --python``), which saves bootstrapping a second pip.
"""

from __future__ import annotations

import email.message
import email.parser
import os
import re
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
from packaging.utils import canonicalize_name

from tests.packaging.page import Page, render_page

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
# The repository's URL as the release sets it in pyproject.toml (RELEASING.md)
RELEASE_URL = "https://github.com/example-org/planner"
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
    with (copy / "pyproject.toml").open("a", encoding="utf-8") as pyproject:
        pyproject.write(f'\n[project.urls]\nSource = "{RELEASE_URL}"\n')
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
    # setup.py and README.md: the wheel built from the sdist gets the same description; requirements.lock:
    # the README's install line (pip install --constraint requirements.lock ...)
    for required in ("pyproject.toml", "setup.py", "README.md", "PKG-INFO", "LICENSE", "requirements.lock", *RUNTIME_DATA):
        assert required in names, f"{sdist.name} lacks {required}"
    missing = _package_files(source) - names
    assert not missing, f"{sdist.name} lacks package files (add them to [tool.setuptools.package-data]): {sorted(missing)}"
    with tarfile.open(sdist) as tar:
        for same in ("requirements.lock", "LICENSE"):
            member = tar.extractfile(top + same)
            assert member is not None and member.read() == (ROOT / same).read_bytes(), f"{sdist.name}: {same} differs from the repository's"


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
    # the license: named in the metadata (core metadata 2.4: License-Expression, License-File) and shipped
    assert (metadata["License-Expression"], metadata.get_all("License-File")) == ("MIT", ["LICENSE"])
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read(f"{dist_info}/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()
    assert "Copyright (c) 2026 the planner authors" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert metadata.get_all("Project-URL") == [f"Source, {RELEASE_URL}"]
    # the metadata says what pyproject says: name, version, the command, every dependency
    project = _pyproject()
    assert (metadata["Name"], metadata["Version"]) == (project["name"], project["version"])
    assert "planner = planner.cli:main" in entry_points
    required = {Requirement(r).name.lower() for r in metadata.get_all("Requires-Dist") or [] if "extra ==" not in r}
    assert required == {Requirement(r).name.lower() for r in project["dependencies"]}  # type: ignore[union-attr]


def _descriptions(dists: tuple[Path, Path]) -> dict[str, email.message.Message]:
    """Return the core metadata of the wheel (METADATA) and of the sdist (PKG-INFO), by file name."""
    wheel, sdist = dists
    with zipfile.ZipFile(wheel) as zf:
        metadata = zf.read(next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))).decode("utf-8")
    with tarfile.open(sdist) as tar:
        member = tar.extractfile(f"{sdist.name.removesuffix('.tar.gz')}/PKG-INFO")
        assert member is not None
        pkg_info = member.read().decode("utf-8")
    return {wheel.name: email.parser.Parser().parsestr(metadata), sdist.name: email.parser.Parser().parsestr(pkg_info)}


def test_the_package_page_has_no_relative_link(dists: tuple[Path, Path]) -> None:
    """Every link of the page PyPI renders from the long description works: none is relative (on PyPI it
    would resolve to pypi.org), each into the repository names a file of it at the release's tag, each
    #anchor a heading of the page or of the document it points into; and nothing but the links changed."""
    readme = render_page((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(readme.relative_links) >= 22, "the README has fewer relative links than the issue counted: is this still the README?"
    version = _pyproject()["version"]
    into_repository = re.compile(rf"^{re.escape(RELEASE_URL)}/(blob|raw)/v{re.escape(str(version))}/([^#?]+)(?:#(.+))?$")
    documents: dict[str, set[str]] = {}
    for name, metadata in _descriptions(dists).items():
        assert metadata["Description-Content-Type"] == "text/markdown", name
        page = render_page(metadata.get_payload())
        assert page.relative_links == [], f"{name}: {len(page.relative_links)} relative links on the package page: {page.relative_links}"
        assert page.without_link_targets() == readme.without_link_targets(), f"{name}: the description differs from README.md beyond its links"
        rewritten = [link for link in page.links if link.startswith(RELEASE_URL)]
        assert len(rewritten) == len(readme.relative_links), name
        for link in rewritten:
            match = into_repository.match(link)
            assert match, f"{name}: {link} is not a file of the repository at v{version}"
            kind, path, anchor = match.groups()
            assert (ROOT / path).exists(), f"{name}: {link} names {path}, which the repository does not have"
            assert (kind == "raw") == path.endswith(".png"), f"{name}: {link}: images are served raw, pages as blob"
            if anchor:
                if path not in documents:
                    documents[path] = render_page((ROOT / path).read_text(encoding="utf-8")).ids
                assert f"user-content-{anchor}" in documents[path], f"{name}: {link}: {path} has no heading #{anchor}"
        for link in page.links:
            if link.startswith("#"):
                assert link[1:] in page.ids, f"{name}: {link} names no heading of the page"
    print(f"\nthe README's {len(readme.relative_links)} relative links are absolute on the package page", file=sys.stderr)


def test_twine_check_strict_passes_on_the_sdist_and_the_wheel(dists: tuple[Path, Path], tmp_path: Path) -> None:
    """The package index's own check of the metadata and the description (twine check --strict: warnings fail)."""
    result = _run([sys.executable, "-m", "twine", "check", "--strict", *map(str, dists)], env=_clean_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == 2, result.stdout
    # and it fails a wheel whose description does not say it is Markdown (PyPI would show it as reStructuredText)
    wheel, _ = dists
    unmarked = tmp_path / wheel.name
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(unmarked, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.endswith(".dist-info/METADATA"):
                data = data.replace(b"Description-Content-Type: text/markdown\n", b"")
            target.writestr(item, data)
    failed = _run([sys.executable, "-m", "twine", "check", "--strict", str(unmarked)], env=_clean_env())
    assert failed.returncode == 1 and "long_description_content_type" in failed.stdout + failed.stderr, failed.stdout + failed.stderr


def test_check_wheel_contents_passes_on_the_wheel(dists: tuple[Path, Path], tmp_path: Path) -> None:
    """check-wheel-contents: no duplicate files, no stray .pyc, no module outside the package, no empty package."""
    wheel, _ = dists
    result = _run([sys.executable, "-m", "check_wheel_contents", str(wheel)], env=_clean_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"{wheel}: OK", result.stdout
    # the same checker fails the wheel a too wide packages.find would make: the tests shipped beside planner
    # (W005: a common top-level name, W009: two top-level packages). It reads the files RECORD lists.
    stray = tmp_path / wheel.name
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(stray, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.endswith(".dist-info/RECORD"):
                data += b"tests/__init__.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\n"
            target.writestr(item, data)
        target.writestr("tests/__init__.py", "")
    failed = _run([sys.executable, "-m", "check_wheel_contents", str(stray)], env=_clean_env(), cwd=tmp_path)
    assert failed.returncode == 1 and "W005" in failed.stdout and "W009" in failed.stdout, failed.stdout + failed.stderr


def _virtualenv(requirement: str, home: Path) -> Path:
    """Return the bin directory of a clean virtualenv at ``home`` holding ``requirement`` (the wheel, with or
    without extras) and its locked dependencies; skip outside CI when the package index cannot serve them."""
    # The base interpreter, not this virtualenv's: the new one must not see .venv's site-packages.
    created = _run([sys.executable, "-m", "venv", "--without-pip", str(home)])
    assert created.returncode == 0, created.stderr
    python = home / "bin" / "python"
    started = time.monotonic()
    install = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--constraint", str(LOCK),
                    requirement], env=_clean_env())  # fmt: skip
    took = time.monotonic() - started
    if install.returncode != 0:
        reason = f"pip could not install {requirement} and its locked dependencies from PyPI: {install.stderr.strip()[-800:]}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    print(f"\ninstalled {Path(requirement).name} and its dependencies into a clean virtualenv in {took:.1f} s", file=sys.stderr)
    return home / "bin"


@pytest.fixture(scope="module")
def venv(dists: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the bin directory of a clean virtualenv holding the wheel with every extra (planner[all])."""
    return _virtualenv(f"{dists[0]}[all]", tmp_path_factory.mktemp("venv") / "venv")


@pytest.fixture(scope="module")
def light_venv(dists: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the bin directory of a clean virtualenv holding the wheel without extras: the CI gate."""
    return _virtualenv(str(dists[0]), tmp_path_factory.mktemp("venv") / "light")


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


def _installed(bin_dir: Path) -> dict[str, str]:
    """Return the distributions of a virtualenv, {canonical name: version}, planner's own left out."""
    listed = _run([sys.executable, "-m", "pip", "--python", str(bin_dir / "python"), "list", "--format=freeze"], env=_clean_env())
    assert listed.returncode == 0, listed.stderr
    pins = [Requirement(line) for line in listed.stdout.splitlines() if "==" in line]
    return {canonicalize_name(r.name): str(next(iter(r.specifier)).version) for r in pins if canonicalize_name(r.name) != "planner"}


def test_the_wheel_alone_installs_the_gate_and_the_hooks_pins(light_venv: Path) -> None:
    """planner's own dependencies are what `planner check` imports, and the pre-commit hook pins exactly them."""
    installed = _installed(light_venv)
    extras = {canonicalize_name(Requirement(r).name) for name, group in _pyproject()["optional-dependencies"].items()  # type: ignore[union-attr]
              if name not in ("test", "all") for r in group}
    assert not extras & installed.keys(), f"the base install carries extras' libraries: {sorted(extras & installed.keys())}"
    from pre_commit.clientlib import load_manifest

    hook = next(h for h in load_manifest(str(ROOT / ".pre-commit-hooks.yaml")) if h["id"] == "planner-check")
    pinned = {canonicalize_name(Requirement(r).name): str(next(iter(Requirement(r).specifier)).version) for r in hook["additional_dependencies"]}
    assert installed == pinned, "the hook's additional_dependencies are not the base install's closure: set them to " + \
        ", ".join(f"{name}=={version}" for name, version in sorted(installed.items()))


def test_the_gate_checks_and_a_command_that_needs_an_extra_names_it(light_venv: Path, workdir: Path) -> None:
    planner = str(light_venv / "planner")
    env = _clean_env()
    assert _run([planner, "check", "lambda-proxy.yaml"], cwd=workdir, env=env).returncode == 0
    over = _run([planner, "check", "shared-instance.yaml", "--format", "sarif", "-o", "planner.sarif"], cwd=workdir, env=env)
    assert over.returncode == 1 and (workdir / "planner.sarif").is_file(), over.stderr
    assert _run([planner, "diff", "shared-instance.yaml", "lambda-proxy.yaml", "--format", "markdown"], cwd=workdir, env=env).returncode == 0
    manifests = ROOT / "tests" / "topology" / "sources" / "fixtures" / "kubernetes" / "e2e"
    needs = {
        "report": ["report", "shared-instance.yaml", "-o", "out/report.html"],
        "edit": ["import", "kubernetes", str(manifests), "-o", "out/imported.yaml"],
        "aws": ["catalog", "refresh", "-o", "out/catalog.csv"],
        "postgres": ["inspect", "--dsn", "postgresql://planner@127.0.0.1:1/none"],
    }
    for extra, args in needs.items():
        result = _run([planner, *args], cwd=workdir, env=env)
        command = " ".join(args[:2] if args[0] in ("import", "catalog") else args[:1])
        assert (result.returncode, result.stdout) == (2, ""), result.stdout + result.stderr
        assert re.fullmatch(rf"planner: planner {command} needs \S+, which is not installed: pip install 'planner\[{extra}\]' "
                            r"\(or 'planner\[all\]' for every command\)\n", result.stderr), result.stderr
    assert not (workdir / "out").exists(), "a refused command wrote its output"
