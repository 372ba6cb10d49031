"""Write docs/report.png and docs/production.png, in headless Chromium.

Usage: python scripts/report_png.py [--out docs/report.png] [--production-out docs/production.png]
       (make docs-report-png)

docs/report.png: the first screens of the report of examples/shared-instance.yaml, photographed at the
width the report tests use (1200 px), 1,500 px tall: the verdict, the recommended change and the first
chart. docs/production.png: the Production section of the report of examples/lambda-proxy.yaml with
its example observations (examples/observed/lambda-proxy.json, made-up series), alone on the page
with the report's style. Each PNG carries, in text chunks, what it was made from and what it shows
(the recommendation, the trend); tests/render/test_report_png.py compares that with what planner
says today, so a change without a new picture fails the suite.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = "examples/shared-instance.yaml"
PRODUCTION_EXAMPLE = "examples/lambda-proxy.yaml"
PRODUCTION_OBSERVED = "examples/observed/lambda-proxy.json"
PRODUCTION_HEIGHT = 820
CHROMIUM = Path("/usr/bin/chromium")
WIDTH, HEIGHT = 1200, 1500


def shown(context: object) -> str:
    """Return the recommendation the first screen of ``context`` (a ReportContext) shows, as one line."""
    action = context.lead.action  # type: ignore[attr-defined]
    if action is None:
        return "no recommendation"
    return f"{action.option_id} {action.title}; {action.effect}; {action.cost}"


def production_shown(context: object) -> str:
    """Return the trend the Production section of ``context`` shows first, as one line."""
    views = context.production  # type: ignore[attr-defined]
    return "no observations" if not views else f"{views[0].name}: {views[0].summary}"


def production_page(html: str) -> str:
    """Return the report's page reduced to its Production section (the same head and style)."""
    head = html[:html.index("<body")]
    start = html.index('<section id="production"')
    end = html.index("</section>", start) + len("</section>")
    return f"{head}<body><main>{html[start:end]}</main></body></html>"


def photograph(page_html: str, out: Path, height: int, texts: dict[str, str]) -> None:
    """Render ``page_html`` in Chromium at WIDTH × ``height`` and save it to ``out`` with ``texts`` as PNG text chunks."""
    from PIL import Image, PngImagePlugin

    with tempfile.TemporaryDirectory() as tmp:
        page, shot = Path(tmp) / "report.html", Path(tmp) / "shot.png"
        page.write_text(page_html, encoding="utf-8")
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--force-device-scale-factor=1",
                 f"--user-data-dir={Path(tmp) / 'profile'}", f"--screenshot={shot}", f"--window-size={WIDTH},{height}"]
        done = subprocess.run([str(CHROMIUM), *flags, page.as_uri()], capture_output=True, text=True, timeout=120)
        if done.returncode != 0 or not shot.exists():
            sys.exit(f"chromium failed ({done.returncode}): {done.stderr[-500:]}")
        info = PngImagePlugin.PngInfo()
        for key, value in texts.items():
            info.add_text(key, value)
        with Image.open(shot) as image:
            # 8-bit palette: a third of the size, and the report's flat colours survive it
            image.convert("RGB").quantize(colors=256).save(out, pnginfo=info, optimize=True)
    print(f"written: {out}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "report.png")
    parser.add_argument("--production-out", type=Path, default=ROOT / "docs" / "production.png")
    args = parser.parse_args()
    args.out, args.production_out = args.out.resolve(), args.production_out.resolve()
    sys.path.insert(0, str(ROOT))

    from planner.budget import compute_budget
    from planner.catalog import load_catalog
    from planner.live.observe import apply_observed
    from planner.render.html import build_context, render_context
    from planner.topology import load_topology

    if not CHROMIUM.exists():
        sys.exit(f"{CHROMIUM} not found: install Debian's chromium package (scripts/ensure-system-deps.sh does)")
    catalog = load_catalog()
    os.chdir(ROOT)  # the page shows the path as the README writes it, whatever the working directory
    context = build_context(compute_budget(load_topology(Path(EXAMPLE)), catalog), catalog)
    photograph(render_context(context), args.out, HEIGHT, {"Source": f"planner report {EXAMPLE}", "Recommendation": shown(context)})

    report, peaks = apply_observed(compute_budget(load_topology(Path(PRODUCTION_EXAMPLE)), catalog), PRODUCTION_OBSERVED)
    context = build_context(report, catalog, observed=peaks)
    photograph(production_page(render_context(context)), args.production_out, PRODUCTION_HEIGHT,
               {"Source": f"planner report {PRODUCTION_EXAMPLE} --observed {PRODUCTION_OBSERVED}", "Trend": production_shown(context)})


if __name__ == "__main__":
    main()
