"""planner: connection-budget capacity planning for PostgreSQL on AWS RDS and Aurora.

The library API is importable from here; heavy modules (the pandas-backed catalogue) load on
first use, so ``import planner`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

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


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'planner' has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)
