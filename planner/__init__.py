"""planner: connection-budget capacity planning for PostgreSQL on AWS RDS and Aurora.

The library API is importable from here; its modules load on first use, so ``import planner``
stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# name -> module that defines it, imported on first access (PEP 562)
_API = {
    "load_catalog": "catalog",
    "Catalog": "catalog",
    "load_topology": "topology",
    "parse_topology": "topology",
    "compute_budget": "budget",
    "BudgetReport": "budget",
    "plan_topology": "budget.plan",
    "recommend": "advice.recommend",
    "diff_reports": "review.diff",
    "evaluate_formula": "formula",
    "PlannerError": "errors",
    "InputError": "errors",
}

__all__ = ["__version__", *_API]


def _read_version() -> str:
    """Return the installed distribution's version; in a source tree nobody installed, pyproject's."""
    from importlib import metadata

    try:
        return metadata.version("planner")
    except metadata.PackageNotFoundError:
        import tomllib
        from pathlib import Path

        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        try:
            project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        except (OSError, tomllib.TOMLDecodeError):
            project = {}
        return str(project["version"]) if project.get("name") == "planner" and "version" in project else "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":  # read on first use: importlib.metadata costs tens of milliseconds at start-up
        version = globals()["__version__"] = _read_version()
        return version
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'planner' has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)
