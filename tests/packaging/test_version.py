"""``planner.__version__`` is the installed distribution's (importlib.metadata), read on first use."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

import planner

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Forget the version read so far, so the next access reads it again; forget the test's too (else a
    later test reads the faked version when no earlier one had read the real one)."""
    monkeypatch.delitem(vars(planner), "__version__", raising=False)
    yield
    vars(planner).pop("__version__", None)


def test_the_version_is_the_installed_distributions(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metadata, "version", lambda name: "9.8.7" if name == "planner" else "?")
    assert planner.__version__ == "9.8.7"
    from planner import __version__

    assert __version__ == "9.8.7"


def test_an_uninstalled_source_tree_reads_pyproject(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    expected = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert planner.__version__ == expected


def test_the_version_here_is_the_installed_one() -> None:
    assert planner.__version__ == metadata.version("planner")


def test_importing_planner_reads_no_metadata() -> None:
    code = "import sys, planner; print('importlib.metadata' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "False"
