"""The layers of the package (docs/architecture.md): imports only point down, and nothing is circular.

Walks every module's imports with ``ast`` (module level, inside functions, and under
``TYPE_CHECKING``) and fails on an import of a higher layer, of another package of the same layer,
or on a cycle of runtime imports.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "planner"

# package -> rank: a module may import its own package and packages of a lower rank only
LAYERS: dict[str, int] = {
    "core": 0,  # planner/__init__, errors, model, formula, reserves: the nouns and the rules of the engine
    "topology": 1,
    "catalog": 1,
    "adapters": 2,
    "budget": 2,
    "advice": 3,
    "review": 3,
    "live": 3,
    "render": 4,
    "cli": 5,
}
CORE_MODULES = {"planner", "planner.__main__", "planner.errors", "planner.model", "planner.formula", "planner.reserves"}
PURE = ("core", "topology", "catalog", "budget", "advice", "review")  # never talk to the outside, never draw
HEAVY = ("typer", "click", "boto3", "botocore", "psycopg", "jinja2", "matplotlib")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str:
    if module in CORE_MODULES:
        return "core" if module != "planner.__main__" else "cli"
    return module.split(".")[1]


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports(module: str) -> list[tuple[str, int, bool]]:
    """Return (imported planner module, line, runtime?) for every import in ``module``."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, runtime: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if _type_checking(child):
                for inner in child.body:
                    visit_node(inner, False)
                for inner in child.orelse:
                    visit_node(inner, runtime)
            else:
                visit_node(child, runtime)

    def visit_node(node: ast.AST, runtime: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend((a.name, node.lineno, runtime) for a in node.names if a.name.startswith("planner"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("planner"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.append((sub if sub in MODULES else node.module, node.lineno, runtime))
        visit(node, runtime)

    visit(tree, True)
    return found


def test_every_module_belongs_to_a_layer() -> None:
    unknown = sorted(m for m in MODULES if layer(m) not in LAYERS)
    assert unknown == [], f"modules outside the layers of docs/architecture.md: {unknown}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module: str) -> None:
    mine = layer(module)
    wrong = []
    for target, line, _ in imports(module):
        if target not in MODULES:
            continue
        theirs = layer(target)
        if theirs != mine and LAYERS[theirs] >= LAYERS[mine]:
            wrong.append(f"{MODULES[module].relative_to(ROOT)}:{line} imports {target} ({theirs}, rank {LAYERS[theirs]}) "
                         f"from {mine} (rank {LAYERS[mine]})")  # fmt: skip
    assert wrong == []


def test_no_circular_imports() -> None:
    graph = {m: sorted({t for t, _, runtime in imports(m) if runtime and t in MODULES and t != m}) for m in MODULES}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                walk(nxt)
        stack.pop()
        state[node] = 2

    for module in graph:
        if module not in state:
            walk(module)
    assert cycles == [], "import cycles: " + "; ".join(" → ".join(c) for c in cycles)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer(m) in PURE))
def test_the_pure_layers_import_no_outside_library(module: str) -> None:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}
    assert not names & set(HEAVY), f"{module} imports {sorted(names & set(HEAVY))}"


def test_importing_the_arithmetic_loads_nothing_heavy() -> None:
    code = ("import sys, planner.budget, planner.budget.plan, planner.advice.recommend, planner.review.diff, planner.topology; "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout.strip()
    assert out == "[]"


def test_the_layer_checks_can_fail() -> None:
    """The walker sees an upward import when there is one (a test that cannot fail proves nothing)."""
    upward = [(m, t) for m in MODULES if layer(m) == "cli" for t, _, _ in imports(m) if t in MODULES and layer(t) == "budget"]
    assert upward, "cli imports the budget: the walker should have found it"
    assert LAYERS[layer(upward[0][1])] < LAYERS["cli"]
