"""The install reproduces: requirements.lock pins every dependency exactly, within pyproject's ranges.

``make install``/``make demo``/``make test`` install with ``pip --constraint requirements.lock``, so a
fresh clone gets the versions the suite last passed with, not whatever PyPI serves that day.
"""

from __future__ import annotations

import os
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parent.parent
LOCK = ROOT / "requirements.lock"


def _lock() -> dict[str, str]:
    """Return the lock as {canonical name: exact version}; fail on anything but ``name==version``."""
    pins: dict[str, str] = {}
    for number, raw in enumerate(LOCK.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        requirement = Requirement(line)
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", f"{LOCK.name}:{number}: {line!r} is not name==version"
        pins[canonicalize_name(requirement.name)] = specifiers[0].version
    return pins


def _declared() -> list[Requirement]:
    """Return every requirement of pyproject, extras included, but the extras that name planner's own (``all``)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project.get("optional-dependencies", {})
    declared = [Requirement(r) for r in project["dependencies"] + [r for group in extras.values() for r in group]]
    return [r for r in declared if canonicalize_name(r.name) != canonicalize_name(project["name"])]


def test_lock_pins_every_declared_dependency_within_its_range() -> None:
    pins = _lock()
    for requirement in _declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is declared in pyproject.toml but not pinned in {LOCK.name}: run make lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{LOCK.name} pins {requirement.name}=={pins[name]}, outside pyproject's {requirement.specifier}: "
            "the declared range is not honest, or the lock is stale"
        )


def test_lock_pins_the_build_tools() -> None:
    pins = _lock()
    for tool in ("pip", "setuptools", "wheel"):
        assert tool in pins, f"{tool} is not pinned: make's installs would build with whatever is newest"


def test_installed_versions_are_the_locked_ones() -> None:
    in_make_venv = Path(sys.prefix).resolve() == (ROOT / ".venv").resolve()
    if not in_make_venv:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the suite in the locked virtualenv {ROOT / '.venv'} (make test), not {sys.prefix}")
        pytest.skip(f"not running in {ROOT / '.venv'} (make install): other environments need not follow the lock")
    wrong = []
    for name, version in _lock().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # the lock is a constraint: only what the extras ask for gets installed
        if installed != version:
            wrong.append(f"{name} {installed} (lock: {version})")
    assert not wrong, "installed versions differ from requirements.lock: " + ", ".join(wrong)
