"""Write docs/report.png: the first screens of the report of examples/shared-instance.yaml, in headless Chromium.

Usage: python scripts/report_png.py [--out docs/report.png]   (make docs-report-png)

The report is written by the package in this checkout and photographed at the width the report
tests use (1200 px), 1,500 px tall: the verdict, the recommended change and the first chart. The
PNG carries, in text chunks, what it was made from and the recommendation it shows;
tests/render/test_report_png.py compares that with what planner recommends today, so a
recommendation that changes without a new picture fails the suite.
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
CHROMIUM = Path("/usr/bin/chromium")
WIDTH, HEIGHT = 1200, 1500


def shown(context: object) -> str:
    """Return the recommendation the first screen of ``context`` (a ReportContext) shows, as one line."""
    action = context.lead.action  # type: ignore[attr-defined]
    if action is None:
        return "no recommendation"
    return f"{action.option_id} {action.title}; {action.effect}; {action.cost}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "report.png")
    args = parser.parse_args()
    args.out = args.out.resolve()
    sys.path.insert(0, str(ROOT))
    from PIL import Image, PngImagePlugin

    from planner.budget import compute_budget
    from planner.catalog import load_catalog
    from planner.render.html import build_context, render_context
    from planner.topology import load_topology

    if not CHROMIUM.exists():
        sys.exit(f"{CHROMIUM} not found: install Debian's chromium package (scripts/ensure-system-deps.sh does)")
    catalog = load_catalog()
    os.chdir(ROOT)  # the page shows the path as the README writes it, whatever the working directory
    topology = load_topology(Path(EXAMPLE))
    context = build_context(compute_budget(topology, catalog), catalog)
    with tempfile.TemporaryDirectory() as tmp:
        page, shot = Path(tmp) / "report.html", Path(tmp) / "shot.png"
        page.write_text(render_context(context), encoding="utf-8")
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--force-device-scale-factor=1",
                 f"--user-data-dir={Path(tmp) / 'profile'}", f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}"]
        done = subprocess.run([str(CHROMIUM), *flags, page.as_uri()], capture_output=True, text=True, timeout=120)
        if done.returncode != 0 or not shot.exists():
            sys.exit(f"chromium failed ({done.returncode}): {done.stderr[-500:]}")
        info = PngImagePlugin.PngInfo()
        info.add_text("Source", f"planner report {EXAMPLE}")
        info.add_text("Recommendation", shown(context))
        with Image.open(shot) as image:
            # 8-bit palette: a third of the size, and the report's flat colours survive it
            image.convert("RGB").quantize(colors=256).save(args.out, pnginfo=info, optimize=True)
    print(f"written: {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
