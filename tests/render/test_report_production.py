"""`planner report --observed`: the Production section (daily peaks, trend, forecast band) from a version-2
observations file, the same sentence check prints, escaped, and drawn by a real headless Chromium."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

from planner.live.observe import observation, observations_document

from ..conftest import run_cli
from .test_report import URL, _chromium, require_chromium

START = datetime(2026, 9, 28, tzinfo=timezone.utc)  # a Monday
TOPOLOGY = """version: 1
name: shop
databases:
  main: {instance_class: db.m6g.large, engine_version: "16"}
services:
  web: {replicas: 4, processes: 2, threads: 4, pool: {driver: sqlalchemy, size: 4, max_overflow: 0}}
"""


def _observed(tmp_path: Path, instance: str = "shop-db", days: int = 35) -> Path:
    """Hourly maxima: 120 + 4 × day at 14:00 (the daily peak), 60 otherwise; day 20 missing."""
    points = [(START + timedelta(days=d, hours=h), float(120 + 4 * d if h == 14 else 60))
              for d in range(days) if d != 20 for h in range(24)]  # fmt: skip
    peak = observation(instance, "main", "writer", points, days, "us-east-1", START + timedelta(days=days), 3600)
    path = tmp_path / "observed.json"
    path.write_text(json.dumps(observations_document([peak])), encoding="utf-8")
    return path


def _report(tmp_path: Path, observed: Path) -> str:
    topology = tmp_path / "shop.yaml"
    topology.write_text(TOPOLOGY)
    page = tmp_path / "report.html"
    code, out, err = run_cli(["report", str(topology), "--observed", str(observed), "-o", str(page)])
    assert code == 0, err
    return page.read_text(encoding="utf-8")


def _check_trend(tmp_path: Path, observed: Path) -> str:
    code, out, err = run_cli(["check", str(tmp_path / "shop.yaml"), "--observed", str(observed)])
    assert code in (0, 1), err
    return out.split("\nobserved trend:\n", 1)[1].split("\n\n", 1)[0].strip()


def test_the_production_section_says_what_check_says_with_its_chart(tmp_path: Path) -> None:
    observed = _observed(tmp_path)
    html = _report(tmp_path, observed)
    section = html.split('<section id="production"', 1)[1].split("</section>", 1)[0]
    assert '<a href="#production">Production</a>' in html
    assert html.index('id="production"') < html.index('id="demand"')
    trend_line = _check_trend(tmp_path, observed)
    sentence = trend_line.split("): ", 1)[1]  # after "main/writer (shop-db, a 35-day window ...)"
    text = " ".join(re.sub(r"<[^>]+>", " ", section).split())
    assert " ".join(sentence.replace("&", "&amp;").split()) in text
    assert "peak grows" in sentence and "alarm line" in sentence and "estimate" in sentence
    assert "a 35-day window of 1-hour maxima, 1 day(s) without data" in text
    assert f"Peak {120 + 4 * 34}" in text and "busiest hour of the week:" in text and "14:00 UTC" in text
    assert section.count("<svg") == 1 and "forecast (estimate, 95 % band)" in section
    assert "usable 797" in section and "alarm at 644" in section
    assert not URL.search(html) and "<script" not in html.lower()


def test_no_series_no_section_and_names_are_escaped(tmp_path: Path) -> None:
    v1 = tmp_path / "v1.json"
    v1.write_text(json.dumps({"version": 1, "observations": [{"instance": "shop-db", "database": "main", "peak": 20}]}))
    assert 'id="production"' not in _report(tmp_path, v1)
    html = _report(tmp_path, _observed(tmp_path, instance="db<b>&x"))
    section = html.split('<section id="production"', 1)[1].split("</section>", 1)[0]
    assert "db<b>" not in section and "db&lt;b&gt;&amp;x" in section


def test_chromium_draws_the_production_chart(tmp_path: Path) -> None:
    binary = require_chromium()
    html = _report(tmp_path, _observed(tmp_path))
    page = tmp_path / "report.html"
    assert page.read_text(encoding="utf-8") == html
    dom = _chromium(binary, tmp_path / "profile", "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    section = dom.stdout.split('id="production"', 1)[1].split("</section>", 1)[0]
    assert "<svg" in section and "daily peak (CloudWatch maximum)" in section and "trend (Theil–Sen)" in section


SAMPLED_TOPOLOGY = """version: 1
name: shop
databases:
  main: {instance_class: db.m6g.large, engine_version: "16"}
environments:
  prod: {}
services:
  web: {replicas: 3, threads: 5, pool: {driver: sqlalchemy, size: 5, max_overflow: 0}}
  worker: {connections: 3}
"""


def test_report_samples_shows_held_vs_active_per_service(tmp_path: Path) -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "samples.md"
    samples = tmp_path / "samples.json"
    samples.write_text(docs.read_text(encoding="utf-8").split("```json\n", 1)[1].split("```", 1)[0])
    topology = tmp_path / "shop.yaml"
    topology.write_text(SAMPLED_TOPOLOGY)
    page = tmp_path / "report.html"
    code, _, err = run_cli(["report", str(topology), "--samples", str(samples), "-o", str(page)])
    assert code == 0, err
    html = page.read_text(encoding="utf-8")
    section = html.split('<section id="production"', 1)[1].split("</section>", 1)[0]
    text = " ".join(re.sub(r"<[^>]+>", " ", section).split())
    # the docs' example: web@prod holds 15 with at most 4 active; worker 3 with 2 in use (1 active, 1 idle in a transaction)
    assert "Held vs used: main/writer" in text and "3 samples every 1.0s over 3.0s" in text
    assert "web@prod holds 15 (" in text and "at most 4 active" in text
    assert "Not in the plan: psql: held up to 1" in text
    assert section.count("<svg") == 1 and "15 held, 4 active" in section
    assert "What CloudWatch saw" not in section  # no observations: only the sampled part
    code, _, err = run_cli(["report", str(topology), "--samples", str(samples), "--database", "nope", "-o", str(tmp_path / "x.html")])
    assert code == 2 and err.count("\n") == 1 and "no database named 'nope'" in err and not (tmp_path / "x.html").exists()
