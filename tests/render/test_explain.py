"""``explain``: every number follows from the line before it."""

from __future__ import annotations

import re
from pathlib import Path

from ..conftest import run_cli

SERVERLESS = """version: 1
databases:
  main: {{engine: aurora-postgresql, engine_version: "16.4", instance_class: db.serverless, serverless: {{min_acu: {low}, max_acu: 16}}}}
services:
  web: {{replicas: 2, pool: 10}}
"""


def _explain(tmp_path: Path, low: str) -> str:
    path = tmp_path / "sv.yaml"
    path.write_text(SERVERLESS.format(low=low))
    code, out, err = run_cli(["explain", str(path)])
    assert code == 0, err
    return out


def test_a_low_serverless_minimum_names_the_2000_cap(tmp_path: Path) -> None:
    out = _explain(tmp_path, "0.5")
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if "= LEAST({32030027310/9531392},5000)" in line)
    assert lines[at + 1].strip() == "= 3360"  # the formula's own value: 32030027310 // 9531392
    assert 32030027310 // 9531392 == 3360
    assert "max_connections = min(3360, 2000) = 2000: Aurora Serverless v2 caps the default at 2000" in lines[at + 2]
    assert "usable = max_connections 2000 − reserved 9 = 1991" in out


def test_without_the_cap_the_formula_value_stands(tmp_path: Path) -> None:
    out = _explain(tmp_path, "1")
    assert "min(" not in out and "caps the default" not in out
    assert re.search(r"= LEAST\(\{32030027310/9531392\},5000\)\n\s+= 3360\n", out)


def test_the_report_names_the_cap_too(tmp_path: Path) -> None:
    from planner.budget import compute_budget
    from planner.catalog import load_catalog
    from planner.render.html import render_report
    from planner.topology import parse_topology

    catalog = load_catalog()
    html = render_report(compute_budget(parse_topology(SERVERLESS.format(low="0.5"), "sv.yaml"), catalog), catalog)
    assert "max_connections 2,000 (aws-doc; the formula gives 3,360, but Aurora Serverless v2 caps the default at 2000" in html
