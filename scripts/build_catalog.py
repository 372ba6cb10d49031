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

DBInstanceClassMemory (DBICM) per class and engine:

- a reading ``n < 5000`` pins DBICM to ``[n×Q, (n+1)×Q)`` with Q = 9531392; the catalogue stores the
  middle ``n×Q + Q//2`` so ``LEAST({DBICM/Q},5000)`` gives ``n`` back exactly. Several readings of one
  class: the lowest (the safe one). Low-confidence readings are used only where they are below the
  rule's estimate, and never to fit;
- a class read only on RDS for MySQL gets the low end of the interval that reading pins;
- a published 5000 (the cap) is a lower bound: ``max(rule estimate, 5000×Q)``;
- every other class gets its rule's estimate (:mod:`planner.catalog.estimate`, fitted by
  :mod:`planner.catalog.calibration`), with the rule's leave-one-out error range as its uncertainty.

The output is deterministic: same inputs, same bytes (no timestamps, no absolute paths, the rules
evaluated in integers). Exit status: 0 done; 1 a rule over-predicts a reading it was fitted on by
more than 1 % (nothing is written); 2 bad reference data.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import statistics
import sys
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

# after the repository root is on the path
from planner.catalog.calibration import (  # noqa: E402
    CAP,
    Q,
    FittedGroup,
    Reading,
    default_max_connections,
    error_of,
    fit_group,
    over_predictions,
)
from planner.catalog.columns import ClassSpecs, catalog_csv, error_text, row_of  # noqa: E402
from planner.catalog.estimate import GIB, EstimateRule, rules_csv  # noqa: E402
from planner.model import (  # noqa: E402
    DEPLOYMENT_LABELS,
    SOURCE_AWS_DOC,
    SOURCE_ESTIMATED,
    SOURCE_OBSERVED,
    EngineMemory,
    InstanceClass,
    Price,
    VersionSupport,
)

DEFAULT_REFERENCE_DIR = REPO_ROOT / ".." / "shared" / "data"
REFERENCE_CSV = "rds_instance_classes_reference.csv"
CALIBRATION_CSV = "max_connections_calibration.csv"
EXTRA_CALIBRATION = REPO_ROOT / "data" / "calibration_extra.csv"
ORDERABLE_CSV = "rds_orderable_classes.csv"
PRICES_GLOB = "rds_prices_*.csv"
CATALOG_PATHS = ("data/instance_classes.csv", "planner/data/instance_classes.csv")
RULES_PATH = "planner/data/estimate_rules.csv"
REPORT_PATH = "data/calibration_report.md"

ENGINES = ("postgres", "aurora-postgresql")
READING_ENGINES = ("postgres", "aurora-postgresql", "mysql")
# Retired classes that RDS for PostgreSQL users still run; the reference's engines column no
# longer lists postgres for them.
RETIRED_FAMILIES = frozenset({"t2", "m3", "m4", "r3", "r4"})
SKIP_CLASSES = frozenset({"db.serverless"})
# The rule groups: RDS per platform; Aurora pooled (its readings do not differ by platform:
# db.t3.large and db.t4g.large both read 844, db.r6g.xlarge and db.x2g.large both 3479).
GROUPS: dict[tuple[str, str], str] = {
    ("postgres", "xen"): "rds-xen",
    ("postgres", "nitro-x86"): "rds-nitro-x86",
    ("postgres", "graviton"): "rds-graviton",
    ("aurora-postgresql", "xen"): "aurora",
    ("aurora-postgresql", "nitro-x86"): "aurora",
    ("aurora-postgresql", "graviton"): "aurora",
}
PRICE_DEPLOYMENTS = {  # the price list's deployment -> the planner's
    "single-az": "single-az", "multi-az-instance": "multi-az", "multi-az-cluster": "multi-az-cluster",
    "aurora-standard": "aurora-standard", "aurora-io-optimized": "aurora-io-optimized",
}  # fmt: skip
PRICE_SOURCES = {"postgres": "AWS price list feed rds-postgresql-ondemand.json",
                 "aurora-postgresql": "AWS price list feed rds-aurora-ondemand.json"}  # fmt: skip
FLAG_TEXT = {"true": True, "false": False, "unknown": None}


class BuildError(Exception):
    """Reference data the script cannot use (exit 2)."""


# --------------------------------------------------------------------------- reading the files


def read_csv(path: Path) -> list[tuple[int, dict[str, str]]]:
    """Return (line, row) pairs; line is the CSV line where the row starts."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BuildError(f"{path}: cannot read: {exc.strerror or exc}") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = []
    start = 2
    for row in reader:
        rows.append((start, row))
        start = reader.line_num + 1
    return rows


@dataclass
class RefClass:
    """A class of the reference list, as the catalogue will describe it."""

    instance_class: str
    specs: ClassSpecs
    engines: set[str]
    retired: bool
    orderable: dict[str, bool | None] = field(default_factory=dict)
    versions: dict[str, VersionSupport] = field(default_factory=dict)
    orderable_source: str = ""
    prices: dict[str, Price] = field(default_factory=dict)


def load_classes(reference_dir: Path) -> dict[str, RefClass]:
    """Return the classes of the reference list that run an RDS PostgreSQL engine (or are retired)."""
    classes: dict[str, RefClass] = {}
    for line, row in read_csv(reference_dir / REFERENCE_CSV):
        name = row["instance_class"]
        engines = {e for e in row["engines"].split(";") if e}
        retired = row["family"] in RETIRED_FAMILIES
        if name in SKIP_CLASSES or not (retired or engines & set(ENGINES)):
            continue
        if not row["vcpu"] or not row["memory_gib"]:
            continue  # db.x2m.*: no specs
        if name in classes:
            raise BuildError(f"{REFERENCE_CSV}:{line}: duplicate class {name}")
        if retired:
            engines |= {"postgres"}
        specs = ClassSpecs(row["family"], int(row["generation"]), row["size"], row["arch"], row["burstable"] == "true",
                           int(row["vcpu"]), row["memory_gib"])  # fmt: skip
        classes[name] = RefClass(name, specs, engines & set(ENGINES), retired)
    return classes


def load_readings(reference_dir: Path, classes: dict[str, RefClass]) -> list[Reading]:
    """Return every usable reading of the calibration files (serverless and unknown classes left out)."""
    readings: list[Reading] = []
    for path in (reference_dir / CALIBRATION_CSV, EXTRA_CALIBRATION):
        for line, row in read_csv(path):
            engine, name = row["engine"], row["instance_class"]
            if engine not in READING_ENGINES or name in SKIP_CLASSES:
                continue
            cls = classes.get(name)
            if cls is None:
                if engine == "mysql":
                    continue  # a MySQL-only class
                raise BuildError(f"{path.name}:{line}: {name} is not a class of the catalogue")
            spec = cls.specs
            if Fraction(row["nominal_memory_gib"]) != Fraction(spec.memory_gib) or int(row["vcpu"]) != spec.vcpu:
                raise BuildError(f"{path.name}:{line}: memory/vCPU of {name} differ from {REFERENCE_CSV}")
            target = "postgres" if engine == "mysql" else engine  # RDS for MySQL pins the RDS memory
            if target not in cls.engines:
                raise BuildError(f"{path.name}:{line}: {name} is not a {target} class of the catalogue")
            n = int(row["max_connections"])
            if n < 1:
                raise BuildError(f"{path.name}:{line}: max_connections {n} below 1")
            confidence = row["confidence"].split(" ")[0].strip('"') or "high"
            readings.append(Reading(target, name, spec.nominal, spec.vcpu, spec.platform, n,
                                    "mysql" if engine == "mysql" else "postgres", confidence, row["source_kind"],
                                    row["source_url"], f"{path.name}:{line}", row.get("context", "")))  # fmt: skip
    return readings


def _version_support(text: str) -> VersionSupport:
    """Turn an AWS docs cell ("All PostgreSQL 15 versions, PostgreSQL 14.5 and higher 14 versions, …") into first minors."""
    text = text.strip()
    below = re.search(r"[Ll]ower than PostgreSQL (\d+)", text)
    if below:
        return VersionSupport(below=int(below.group(1)))
    only = re.search(r"only for Aurora PostgreSQL ((?:\d+(?:,? and |, )?)+) versions", text)
    if only:
        return VersionSupport(below=max(int(n) for n in re.findall(r"\d+", only.group(1))) + 1)
    text = re.sub(r"higher \d+ versions", "higher", text)  # "14.5 and higher 14 versions"
    minimums: dict[int, int] = {}

    def note(major: int, minor: int) -> None:
        minimums[major] = min(minor, minimums.get(major, minor))

    for group in re.findall(r"[Aa]ll PostgreSQL ((?:\d+(?:,? and |, | )?)+)versions", text):
        for major in re.findall(r"\d+", group):
            note(int(major), 0)
    for major, minor, third in re.findall(r"\b(\d+)\.(\d+)(?:\.(\d+))?", text):
        if int(major) < 10:  # 9.6.22: the minor is the third part
            note(int(major), int(third or 0))
        else:
            note(int(major), int(minor))
    return VersionSupport(tuple(sorted(minimums.items())))


def load_orderable(reference_dir: Path, classes: dict[str, RefClass]) -> None:
    """Fill each class's deployments, engine versions and their source from the orderable list."""
    for line, row in read_csv(reference_dir / ORDERABLE_CSV):
        cls = classes.get(row["instance_class"])
        engine = row["engine"]
        if cls is None or engine not in cls.engines:
            continue
        flags = {}
        for column in ("single_instance", "multi_az_instance", "multi_az_cluster"):
            if row[column] not in FLAG_TEXT:
                raise BuildError(f"{ORDERABLE_CSV}:{line}: {column} {row[column]!r} is not true, false or unknown")
            flags[column] = FLAG_TEXT[row[column]]
        if engine == "postgres":
            cls.orderable.update({"single-az": flags["single_instance"], "multi-az": flags["multi_az_instance"],
                                  "multi-az-cluster": flags["multi_az_cluster"]})  # fmt: skip
        else:
            cls.orderable.update({"aurora-standard": flags["single_instance"], "aurora-io-optimized": flags["single_instance"]})
        support = _version_support(row["min_engine_version"]) if row["min_engine_version"] != "unknown" else VersionSupport()
        if support != VersionSupport():
            cls.versions[engine] = support
        sources = [s.strip() for s in row["source_url"].split(" | ")]
        cls.orderable_source = " | ".join(dict.fromkeys(cls.orderable_source.split(" | ") + sources if cls.orderable_source else sources))
    for cls in classes.values():  # a class the list does not mention: nothing known
        for engine, deployments in (("postgres", ("single-az", "multi-az", "multi-az-cluster")),
                                    ("aurora-postgresql", ("aurora-standard", "aurora-io-optimized"))):  # fmt: skip
            if engine in cls.engines and cls.orderable:
                for deployment in deployments:
                    cls.orderable.setdefault(deployment, None)


def load_prices(reference_dir: Path, classes: dict[str, RefClass]) -> str:
    """Fill each class's prices from the newest price list; return its file name."""
    lists = sorted(reference_dir.glob(PRICES_GLOB))
    if not lists:
        raise BuildError(f"{reference_dir}: no {PRICES_GLOB}")
    path = lists[-1]
    for line, row in read_csv(path):
        cls = classes.get(row["instance_class"])
        deployment = PRICE_DEPLOYMENTS.get(row["deployment"])
        if deployment is None:
            raise BuildError(f"{path.name}:{line}: unknown deployment {row['deployment']!r}")
        if cls is None:
            continue
        try:
            usd = float(row["usd_per_hour"])
        except ValueError:
            raise BuildError(f"{path.name}:{line}: price {row['usd_per_hour']!r} is not a number") from None
        if usd <= 0:
            raise BuildError(f"{path.name}:{line}: price {usd} is not positive")
        commit = re.search(r"github\.com/([^/]+/[^/]+)/blob/([0-9a-f]{8})", row["source_url"])
        source = PRICE_SOURCES[row["engine"]] + (f" (github.com/{commit.group(1)}@{commit.group(2)})" if commit else "")
        cls.prices[deployment] = Price(usd, deployment, row["region"], row["price_date"], source)
    return path.name


# --------------------------------------------------------------------------- memory per class


def lowest_readings(readings: list[Reading]) -> dict[tuple[str, str], Reading]:
    """Return, per (engine, class), the lowest PostgreSQL reading (the safe one), else the lowest MySQL one; low confidence aside."""
    best: dict[tuple[str, str], Reading] = {}
    for r in readings:
        if r.confidence == "low":
            continue
        key = (r.engine, r.instance_class)
        # a PostgreSQL reading pins the value exactly; an RDS for MySQL one only to one or two values
        if key not in best or (r.via != "postgres", r.low) < (best[key].via != "postgres", best[key].low):
            best[key] = r
    return best


def fit_rules(readings: list[Reading]) -> dict[str, FittedGroup]:
    """Fit one rule per group on the lowest confident reading of each class."""
    chosen = lowest_readings(readings)
    groups: dict[str, list[Reading]] = {}
    for (engine, _), r in sorted(chosen.items()):
        groups.setdefault(GROUPS[(engine, r.platform)], []).append(r)
    fitted = {}
    for name in sorted(set(GROUPS.values())):
        try:
            fitted[name] = fit_group(name, groups.get(name, []))
        except ValueError as exc:
            raise BuildError(str(exc)) from None
    return fitted


def memory_of(cls: RefClass, engine: str, rule: EstimateRule, readings: dict[tuple[str, str], Reading],
              low: dict[tuple[str, str], Reading]) -> EngineMemory:  # fmt: skip
    """Return the DBInstanceClassMemory the catalogue stores for a class under an engine (module docstring)."""
    estimate = EngineMemory(rule.dbicm(cls.specs.nominal, cls.specs.vcpu), SOURCE_ESTIMATED, rule.note(), rule.error_range)
    r = readings.get((engine, cls.instance_class))
    if r is None:
        weak = low.get((engine, cls.instance_class))
        if weak is not None and weak.postgres_n < default_max_connections(estimate.dbicm_bytes):
            return EngineMemory(weak.middle, weak.kind, f"{weak.source}; confidence low, below the rule's estimate")
        return estimate
    note = r.source + ("" if r.confidence == "high" else f"; confidence {r.confidence}")
    if r.via == "mysql":
        first, last = default_max_connections(r.low), default_max_connections(r.high - 1)
        note = (f"read on RDS for MySQL as {r.n} ({r.source}): DBInstanceClassMemory in "
                f"[{r.n}×12582880, {r.n + 1}×12582880), PostgreSQL default {first} to {last}; the low end is kept")
        spread = (last - first) / first if first else 0.0
        return EngineMemory(r.low, SOURCE_ESTIMATED, note, (0.0, 0.0) if not spread else (-spread, 0.0))
    if r.capped:
        return EngineMemory(max(estimate.dbicm_bytes, CAP * Q), r.kind, note + f"; lower bound: default capped at {CAP}")
    return EngineMemory(r.middle, r.kind, note)


def build_classes(classes: dict[str, RefClass], readings: list[Reading],
                  fitted: dict[str, FittedGroup]) -> list[InstanceClass]:  # fmt: skip
    """Return the catalogue's classes, in reference order."""
    chosen = lowest_readings(readings)
    low: dict[tuple[str, str], Reading] = {}
    for r in readings:
        if r.confidence == "low" and (r.engine, r.instance_class) not in chosen:
            key = (r.engine, r.instance_class)
            if key not in low or r.low < low[key].low:
                low[key] = r
    result = []
    for cls in classes.values():
        spec = cls.specs
        memory = {engine: memory_of(cls, engine, fitted[GROUPS[(engine, spec.platform)]].rule, chosen, low)
                  for engine in ENGINES if engine in cls.engines}  # fmt: skip
        result.append(InstanceClass(
            instance_class=cls.instance_class, family=spec.family, generation=spec.generation, size=spec.size,
            arch=spec.arch, burstable=spec.burstable, vcpu=spec.vcpu, memory_gib=_gib(spec.memory_gib),
            retired=cls.retired, memory=memory, orderable=dict(cls.orderable), versions=dict(cls.versions),
            orderable_source=cls.orderable_source, prices=dict(cls.prices),
        ))  # fmt: skip
    return result


def _gib(text: str) -> float:
    return float(Fraction(text))


# --------------------------------------------------------------------------- report


def _pct(value: float) -> str:
    return f"{value * 100:+.2f}"


def _summary(errors: list[float]) -> str:
    if not errors:
        return "no readings"
    absolute = [abs(e) for e in errors]
    over = sum(1 for e in errors if e > 0.01)
    return (f"median absolute error {statistics.median(absolute) * 100:.2f} %, max {max(absolute) * 100:.2f} %, "
            f"highest {max(errors) * 100:+.2f} %, over-predicted by more than 1 %: {over}")  # fmt: skip


def render_report(classes: list[InstanceClass], readings: list[Reading], fitted: dict[str, FittedGroup],
                  price_file: str) -> str:  # fmt: skip
    """Return the calibration report (Markdown)."""
    out: list[str] = []
    w = out.append
    w("# DBInstanceClassMemory calibration report")
    w("")
    w("Generated by `scripts/build_catalog.py` from the reference data (`rds_instance_classes_reference.csv`,")
    w("`max_connections_calibration.csv`, `rds_orderable_classes.csv`, `" + price_file + "`) and this repository's")
    w("`data/calibration_extra.csv`. Default `max_connections` = `LEAST({DBInstanceClassMemory/9531392},5000)`.")
    w("")
    w("A rule estimates the memory RDS holds back from a class: `held = b + k × GiB^p + c × vCPU` (MiB), then")
    w("`DBICM = (nominal − held) × (1 − margin)`. Per group, every exponent p in {1/3, 1/2, 2/3, 3/4, 1}, with and")
    w("without the vCPU term, is fitted by least squares on the relative error; the margin is the smallest that")
    w("keeps every reading the rule was fitted on from being over-predicted. The form kept is the one with the")
    w("best **leave-one-out** error (each reading predicted by the rule fitted without it): first none above")
    w("+1 %, then the smallest worst error. That range is the uncertainty every estimate of the group states.")
    w("Error = (estimate − reading) / reading of max_connections: negative is the safe side.")
    w("Readings at the cap (5000) are lower bounds and are not fitted; low-confidence readings are not fitted.")
    w("")
    counts: dict[str, int] = {}
    for cls in classes:
        for memory in cls.memory.values():
            counts[memory.source] = counts.get(memory.source, 0) + 1
    w(f"Catalogue: {len(classes)} classes; DBInstanceClassMemory by source: "
      + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + ".")
    w("")
    w("## Rules")
    w("")
    w("| rule | p | k (MiB) | b (MiB) | c (MiB/vCPU) | margin (of which padding) | readings fitted | forms tried | leave-one-out error |")
    w("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, group in sorted(fitted.items()):
        r = group.rule
        w(f"| {name} | {r.power} | {r.k / 1000:g} | {r.b} | {r.c} | {r.margin / 1000:g} % ({group.padding / 1000:g} %) | {len(group.readings)} "
          f"| {group.tried} | {error_text(r.error_range)} % |")  # fmt: skip
    w("")
    all_in: list[float] = []
    all_out: list[float] = []
    all_naive: list[float] = []
    for name, group in sorted(fitted.items()):
        rule = group.rule
        w(f"## {name}")
        w("")
        w(f"`{rule.formula()}`")
        w("")
        w("| class | vCPU | GiB | reading | read on | conf. | estimate (held in) | error % | held out | error % | naive | naive % |")
        w("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in sorted(group.readings, key=lambda r: (r.nominal, r.vcpu, r.instance_class)):
            truth = r.postgres_n
            held_in = default_max_connections(rule.dbicm(r.nominal, r.vcpu))
            e_in = error_of(rule, r)
            e_out = group.held_out[r.instance_class]
            held_out = round(truth * (1 + e_out))
            naive = default_max_connections(r.nominal)
            e_naive = (naive - truth) / truth
            all_in.append(e_in)
            all_out.append(e_out)
            all_naive.append(e_naive)
            via = f"MySQL {r.n}" if r.via == "mysql" else r.engine
            w(f"| {r.instance_class} | {r.vcpu} | {r.nominal / GIB:g} | {truth} | {via} | {r.confidence} | {held_in} "
              f"| {_pct(e_in)} | {held_out} | {_pct(e_out)} | {naive} | {_pct(e_naive)} |")  # fmt: skip
        w("")
        w(f"Held in: {_summary([error_of(rule, r) for r in group.readings])}.")
        w(f"Held out (leave-one-out): {_summary(list(group.held_out.values()))}.")
        if group.unpadded is not None:
            over = ", ".join(f"{k} {_pct(v)} %" for k, v in group.unpadded.items() if v > 0.01)
            w("")
            w(f"**Padded.** Unpadded, the best form over-predicted held-out readings by more than 1 % ({over}): "
              f"{len(group.readings)} readings do not pin its shape. Its margin carries a further "
              f"{group.padding / 1000:g} % so that none would have been; the padding is tuned on the same "
              "readings, so this group's range is the least certain. Unpadded held out: "
              f"{_summary(list(group.unpadded.values()))}.")  # fmt: skip
        w("")
    w("## All readings")
    w("")
    w("| estimate | readings | summary |")
    w("| --- | --- | --- |")
    w(f"| rules, held in | {len(all_in)} | {_summary(all_in)} |")
    w(f"| rules, held out (leave-one-out) | {len(all_out)} | {_summary(all_out)} |")
    w(f"| naive nominal/9531392 | {len(all_naive)} | {_summary(all_naive)} |")
    w("")
    w("Held-out errors show how far a rule can be from a class it has not seen; every estimate carries its")
    w("group's range. Calibrate with `SHOW max_connections` (`--observations`) where it matters.")
    w("")
    w("## Readings not fitted")
    w("")
    fitted_keys = {(r.engine, r.instance_class) for g in fitted.values() for r in g.readings}
    for r in sorted(readings, key=lambda r: (r.engine, r.instance_class, r.n)):
        if (r.engine, r.instance_class) in fitted_keys and r.confidence != "low" and not r.capped:
            continue
        why = ("at the cap: a lower bound" if r.capped else "low confidence" if r.confidence == "low"
               else "a lower reading of the same class was kept")  # fmt: skip
        w(f"- {r.engine} {r.instance_class} {r.n}{' (RDS for MySQL)' if r.via == 'mysql' else ''}: {why} ({r.origin})")
    w("")
    w("## Engine versions")
    w("")
    w("No reading shows one class with two values on two engine versions: db.t3.micro reads 81 on 14.10 and")
    w("14.12, db.t4g.micro 79 on 17.6 and 17.9 (`data/calibration_extra.csv` context). The catalogue keeps one")
    w("value per class and engine; a new reading that differs by version goes in that file with its version.")
    w("")
    w("## Where classes can run, and prices")
    w("")
    orderable = {d: sum(1 for c in classes if c.orderable.get(d)) for d in DEPLOYMENT_LABELS}
    priced = {d: sum(1 for c in classes if d in c.prices) for d in DEPLOYMENT_LABELS}
    w("| deployment | classes orderable | classes priced |")
    w("| --- | --- | --- |")
    for deployment, label in DEPLOYMENT_LABELS.items():
        w(f"| {label} | {orderable[deployment]} | {priced[deployment]} |")
    w("")
    w(f"Prices: `{price_file}`, us-east-1 on-demand instance hours (no storage, I/O, backup or Extended")
    w("Support). Orderable deployments and engine versions: `rds_orderable_classes.csv` (per class, its sources).")
    unpriced = sorted(c.instance_class for c in classes if not c.retired and c.supports("postgres") and "single-az" not in c.prices)
    w(f"Current RDS for PostgreSQL classes without a Single-AZ price ({len(unpriced)}): {', '.join(unpriced) or 'none'}.")
    w("")
    w("## Not in the catalogue")
    w("")
    w("- Aurora Serverless v2 (`db.serverless`) is not a catalogue row: its DBICM follows the maximum ACU,")
    w("  `0.9383 × (2 GiB × max_acu) − 200 MiB`, capped at 2000 when the minimum ACU is 0.5 or 0 (planner/budget.py).")
    w("- `db.x2m.*` has no vCPU/memory in the reference and is skipped.")
    w("")
    return "\n".join(out)


# --------------------------------------------------------------------------- main


def build(reference_dir: Path) -> tuple[str, str, str, list[tuple[Reading, float]]]:
    """Return (catalogue CSV, rules CSV, report, held-in over-predictions)."""
    classes = load_classes(reference_dir)
    readings = load_readings(reference_dir, classes)
    load_orderable(reference_dir, classes)
    price_file = load_prices(reference_dir, classes)
    fitted = fit_rules(readings)
    catalogue = build_classes(classes, readings, fitted)
    report = render_report(catalogue, readings, fitted, price_file)
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
