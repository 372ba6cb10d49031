#!/usr/bin/env python3
"""Rebuild ``data/instance_classes.csv`` from the reference data and print the calibration report.

Usage::

    python scripts/build_catalog.py [--reference-dir ../shared/data] [--output-root .]

Reads from ``--reference-dir`` (default ``../shared/data`` relative to the repository root):

- ``rds_instance_classes_reference.csv``: the classes and their specs;
- ``max_connections_calibration.csv``: default ``max_connections`` read off real instances or published
  by AWS (plus this repository's own ``data/calibration_extra.csv``: readings found since, with sources);
- ``rds_prices_*.csv`` (the newest): on-demand prices per deployment, with date and source;
- ``rds_orderable_classes.csv``: which deployments and engine versions each class can be ordered for.

and writes, under ``--output-root`` (default: the repository root):

- ``data/instance_classes.csv``: the catalogue, source of truth, and a byte-identical copy in
  ``planner/data/`` shipped inside the wheel;
- ``planner/data/estimate_rules.csv``: the fitted rules, which ``planner catalog refresh`` uses to
  estimate classes AWS adds later;
- ``data/calibration_report.md``: the report also printed on stdout.

How each class gets its DBInstanceClassMemory: :mod:`planner.catalog.build`.

The work is done by the package (:mod:`planner.catalog.reference` reads the files,
:mod:`planner.catalog.build` fits the rules and builds the rows, :mod:`planner.catalog.report` writes
the report); this script says where the files are. The output is deterministic: same inputs, same
bytes (no timestamps, no absolute paths, the rules evaluated in integers). Exit status: 0 done; 1 a rule over-predicts a reading it was fitted on by
more than 1 % (nothing is written); 2 bad reference data.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

# after the repository root is on the path
from planner.catalog import build as catalog_build  # noqa: E402
from planner.catalog.build import GROUPS, build_classes  # noqa: E402
from planner.catalog.calibration import FittedGroup, Q, Reading, over_predictions  # noqa: E402
from planner.catalog.columns import catalog_csv, row_of  # noqa: E402
from planner.catalog.estimate import rules_csv  # noqa: E402
from planner.catalog.reference import BuildError, load_classes, load_orderable, load_prices, version_support  # noqa: E402
from planner.catalog.reference import load_readings as _load_readings  # noqa: E402
from planner.catalog.report import render_report  # noqa: E402

DEFAULT_REFERENCE_DIR = REPO_ROOT / ".." / "shared" / "data"
EXTRA_CALIBRATION = REPO_ROOT / "data" / "calibration_extra.csv"
CATALOG_PATHS = ("data/instance_classes.csv", "planner/data/instance_classes.csv")
RULES_PATH = "planner/data/estimate_rules.csv"
REPORT_PATH = "data/calibration_report.md"
_version_support = version_support  # the name tests and older callers use
__all__ = ["GROUPS", "Q", "BuildError", "build", "fit_rules", "load_classes", "load_readings", "main", "over_predictions"]


def load_readings(reference_dir: Path, classes: dict) -> list[Reading]:  # type: ignore[type-arg]
    """Return the reference readings and this repository's own (``data/calibration_extra.csv``)."""
    return _load_readings(reference_dir, classes, (EXTRA_CALIBRATION,))


def fit_rules(readings: list[Reading]) -> dict[str, FittedGroup]:
    """Fit one rule per group (:func:`planner.catalog.build.fit_rules`)."""
    return catalog_build.fit_rules(readings)


def build(reference_dir: Path) -> tuple[str, str, str, list[tuple[Reading, float]]]:
    """Return (catalogue CSV, rules CSV, report, held-in over-predictions)."""
    classes = load_classes(reference_dir)
    readings = load_readings(reference_dir, classes)
    load_orderable(reference_dir, classes)
    price_file = load_prices(reference_dir, classes)
    fitted = fit_rules(readings)
    catalogue = build_classes(classes, readings, fitted)
    report = render_report(catalogue, readings, fitted, price_file, catalog_build.check_coverage(readings))
    rules = {key: fitted[group].rule for key, group in GROUPS.items()}
    bad = [item for group in fitted.values() for item in over_predictions(group)]
    return catalog_csv(row_of(c) for c in catalogue), rules_csv(rules), report, bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference-dir", type=Path, default=DEFAULT_REFERENCE_DIR,
                        help="directory of the reference CSVs (default: ../shared/data from the repo root)")  # fmt: skip
    parser.add_argument("--output-root", type=Path, default=REPO_ROOT,
                        help="write data/ and planner/data/ under this directory (default: the repo root)")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        catalog, rules, report, bad = build(args.reference_dir)
    except BuildError as exc:
        print(f"build_catalog: {exc}", file=sys.stderr)
        return 2
    print(report)
    if bad:
        for reading, error in bad:
            print(f"build_catalog: {reading.engine} {reading.instance_class}: the estimate exceeds the reading "
                  f"{reading.postgres_n} by {error * 100:.2f} %; nothing written", file=sys.stderr)  # fmt: skip
        return 1
    outputs = {**{path: catalog for path in CATALOG_PATHS}, RULES_PATH: rules, REPORT_PATH: report}
    for relative, text in outputs.items():
        target = args.output_root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
