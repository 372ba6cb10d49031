"""docs/report.png: made by `make docs-report-png`, shown in the README, and showing today's recommendation."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from PIL import Image

from planner.budget import compute_budget
from planner.catalog import load_catalog
from planner.render.html import build_context
from planner.topology import load_topology

ROOT = Path(__file__).resolve().parents[2]
PNG = ROOT / "docs" / "report.png"


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("report_png", ROOT / "scripts" / "report_png.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_picture_is_the_script_s_and_shows_today_s_recommendation() -> None:
    script = _script()
    with Image.open(PNG) as image:
        assert image.size == (script.WIDTH, script.HEIGHT)
        made = dict(image.info)  # type: ignore[arg-type]
    assert made.get("Source") == f"planner report {script.EXAMPLE}"
    catalog = load_catalog()
    context = build_context(compute_budget(load_topology(ROOT / script.EXAMPLE), catalog), catalog)
    # a recommendation that changed without a new picture: run `make docs-report-png` and commit docs/report.png
    assert made.get("Recommendation") == script.shown(context)
    assert "rollout 17,462 → 63 vs alarm 64" in made["Recommendation"]


def test_make_target_and_readme_reference() -> None:
    makefile = (ROOT / "Makefile").read_text()
    target = re.search(r"^docs-report-png:.*\n\t(.+)$", makefile, re.M)
    assert target and "scripts/report_png.py" in target.group(1) and "docs/report.png" in target.group(1)
    assert "docs-report-png" in makefile.split(".PHONY:", 1)[1].splitlines()[0]
    readme = (ROOT / "README.md").read_text()
    assert "](docs/report.png)" in readme and "make docs-report-png" in readme


def test_the_production_picture_shows_today_s_trend() -> None:
    script = _script()
    with Image.open(ROOT / "docs" / "production.png") as image:
        assert image.size == (script.WIDTH, script.PRODUCTION_HEIGHT)
        made = dict(image.info)  # type: ignore[arg-type]
    assert made.get("Source") == f"planner report {script.PRODUCTION_EXAMPLE} --observed {script.PRODUCTION_OBSERVED}"
    from planner.live.observe import apply_observed

    catalog = load_catalog()
    report, peaks = apply_observed(compute_budget(load_topology(ROOT / script.PRODUCTION_EXAMPLE), catalog), ROOT / script.PRODUCTION_OBSERVED)
    context = build_context(report, catalog, observed=peaks)
    # a trend that changed without a new picture: run `make docs-report-png` and commit docs/production.png
    assert made.get("Trend") == script.production_shown(context)
    assert made["Trend"].startswith("cluster/writer: peak grows") and "alarm line (1,377) in ~" in made["Trend"]
    assert "](docs/production.png)" in (ROOT / "README.md").read_text()
    assert "--production-out docs/production.png" in (ROOT / "Makefile").read_text()
