#!/usr/bin/env python3
"""Rebuild ``data/instance_classes.csv`` from the reference data and print the calibration report.

Usage::

    python scripts/build_catalog.py [--reference-dir ../shared/data] [--output-root .]

Reads ``rds_instance_classes_reference.csv`` and ``max_connections_calibration.csv`` from
``--reference-dir`` (default ``../shared/data`` relative to the repository root) and writes, under
``--output-root`` (default: the repository root):

- ``data/instance_classes.csv``: the catalogue, source of truth;
- ``planner/data/instance_classes.csv``: a byte-identical copy shipped inside the wheel;
- ``data/calibration_report.md``: the report also printed on stdout.

The output is deterministic: same inputs, same bytes (no timestamps, no absolute paths, integer
arithmetic only). Standard library plus ``planner/estimate.py`` (imported from the repository
root, so the script runs without the package installed): the evaluation of a rule lives in the
package, where ``planner catalog refresh`` estimates new classes with the same arithmetic.

DBInstanceClassMemory (DBICM) per class and engine:

- a published/observed default ``n < 5000`` pins DBICM to ``[n×Q, (n+1)×Q)`` with Q = 9531392;
  we store the middle ``n×Q + Q//2`` so ``LEAST({DBICM/Q},5000)`` reproduces ``n`` exactly;
- a published 5000 (the cap) is a lower bound: ``max(rule estimate, 5000×Q)``;
- every other class gets a rule estimate ``a×nominal − (b + c×vCPU) MiB``, one rule per
  (engine, platform), fitted so that no calibration point is over-predicted.

Exit status: 0 done; 1 an estimate over-predicts a calibration point by more than 1 %
(nothing is written); 2 bad reference data.
"""

from __future__ import annotations

import argparse
import csv
import io
import statistics
import sys
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from planner.catalog import catalog_csv  # noqa: E402 - after the repository root is on the path
from planner.estimate import (  # noqa: E402 - after the repository root is on the path
    A_SCALE,
    ENGINE_PREFIX,
    GIB,
    MIB,
    PLATFORMS,
    EstimateRule,
    platform_of,
)

DEFAULT_REFERENCE_DIR = REPO_ROOT / ".." / "shared" / "data"
REFERENCE_CSV = "rds_instance_classes_reference.csv"
CALIBRATION_CSV = "max_connections_calibration.csv"
CATALOG_PATHS = ("data/instance_classes.csv", "planner/data/instance_classes.csv")
REPORT_PATH = "data/calibration_report.md"

Q = 9531392  # bytes per connection in the RDS PostgreSQL default formula
CAP = 5000  # LEAST(..., 5000)

ENGINES = ("postgres", "aurora-postgresql")
# Retired classes that RDS for PostgreSQL users still run; the reference's engines column no
# longer lists postgres for them.
RETIRED_FAMILIES = frozenset({"t2", "m3", "m4", "r3", "r4"})
SKIP_CLASSES = frozenset({"db.serverless"})

# Fitting grid: a = K / A_SCALE for K in A_GRID (0.880 .. 1.000 step 0.0005); c in MiB per vCPU.
A_GRID = tuple(range(17600, 20001, 10))
C_GRID = tuple(range(0, 121, 5))
A_PRIOR = {"xen": 19636, "nitro-x86": 19400, "graviton": 19400, "non-xen": 19400, "all": 19400}
MIN_FIT_POINTS = 3  # uncapped points needed to fit a and c on a group alone
OVER_LIMIT = Fraction(1, 100)  # acceptance: no estimate above an observed value by more than 1 %

PRICE_SOURCE = "AWS price list via vantage, us-east-1 Single-AZ postgres, 2021-08-03"
PRICE_TAG = "price:vantage21"

# Observations quoted in prose in shared/data/README.md but absent from the calibration CSV.
README_OBSERVATIONS = (
    ("postgres", "db.m7g.large", 832),
    ("postgres", "db.r6g.xlarge", 3484),
)
README_SOURCE = "shared/data/README.md (observed)"



class BuildError(Exception):
    """Reference data the script cannot use (exit 2)."""


# --------------------------------------------------------------------------- reference data


@dataclass(frozen=True)
class RefClass:
    instance_class: str
    family: str
    generation: str
    size: str
    arch: str
    burstable: str
    vcpu: int
    memory_gib: str  # kept as written in the reference ("15.25")
    nominal: Fraction  # bytes
    engines: frozenset[str]
    retired: bool
    price: str

    @property
    def platform(self) -> str:
        return platform_of(self.family, self.arch)


@dataclass(frozen=True)
class Point:
    """One calibration value: the default max_connections of a class under an engine."""

    engine: str
    instance_class: str
    n: int
    kind: str  # observed | aws-doc
    confidence: str
    url: str
    origin: str  # file:line
    nominal: Fraction
    vcpu: int
    platform: str

    @property
    def capped(self) -> bool:
        return self.n >= CAP


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


def load_reference(reference_dir: Path) -> tuple[dict[str, RefClass], list[Point], list[dict[str, str]]]:
    """Return the catalogue candidates, the calibration points and the skipped serverless rows."""
    classes: dict[str, RefClass] = {}
    for line, row in read_csv(reference_dir / REFERENCE_CSV):
        name = row["instance_class"]
        engines = frozenset(e for e in row["engines"].split(";") if e)
        retired = row["family"] in RETIRED_FAMILIES
        if name in SKIP_CLASSES or not (retired or engines & set(ENGINES)):
            continue
        if not row["vcpu"] or not row["memory_gib"]:
            continue  # db.x2m.*: no specs
        if name in classes:
            raise BuildError(f"{REFERENCE_CSV}:{line}: duplicate class {name}")
        price = row["price_usd_hour_us_east_1_postgres_single_az"]
        if price and PRICE_TAG not in row["source"].split(";"):
            raise BuildError(f"{REFERENCE_CSV}:{line}: price without {PRICE_TAG} in source")
        if retired:
            engines = engines | {"postgres"}
        classes[name] = RefClass(
            instance_class=name,
            family=row["family"],
            generation=row["generation"],
            size=row["size"],
            arch=row["arch"],
            burstable=row["burstable"],
            vcpu=int(row["vcpu"]),
            memory_gib=row["memory_gib"],
            nominal=Fraction(row["memory_gib"]) * GIB,
            engines=engines & set(ENGINES),
            retired=retired,
            price=price,
        )

    raw: list[tuple[str, str, int, str, str, str, str]] = []
    serverless: list[dict[str, str]] = []
    for line, row in read_csv(reference_dir / CALIBRATION_CSV):
        if row["engine"] not in ENGINES:
            continue
        if row["instance_class"] in SKIP_CLASSES:
            serverless.append(row)
            continue
        cls = classes.get(row["instance_class"])
        if cls is None or row["engine"] not in cls.engines:
            raise BuildError(
                f"{CALIBRATION_CSV}:{line}: {row['instance_class']} is not a {row['engine']} class "
                "of the catalogue"
            )
        if Fraction(row["nominal_memory_gib"]) * GIB != cls.nominal or int(row["vcpu"]) != cls.vcpu:
            raise BuildError(f"{CALIBRATION_CSV}:{line}: memory/vCPU differ from {REFERENCE_CSV}")
        raw.append((row["engine"], row["instance_class"], int(row["max_connections"]), row["source_kind"],
                    row["confidence"], row["source_url"], f"{CALIBRATION_CSV}:{line}"))  # fmt: skip
    for engine, name, n in README_OBSERVATIONS:
        if name not in classes or engine not in classes[name].engines:
            raise BuildError(f"README observation {name} is not a {engine} class of the catalogue")
        raw.append((engine, name, n, "observed", "high", README_SOURCE, "README.md"))

    best: dict[tuple[str, str], tuple] = {}
    for item in raw:  # several values for one class+engine: keep the minimum (the safe one)
        key = (item[0], item[1])
        if key not in best or item[2] < best[key][2]:
            best[key] = item
    points = []
    for engine, name, n, kind, confidence, url, origin in best.values():
        if not 0 < n <= CAP:
            raise BuildError(f"{origin}: max_connections {n} outside 1..{CAP}")
        cls = classes[name]
        points.append(Point(engine, name, n, kind, confidence, url, origin, cls.nominal, cls.vcpu, cls.platform))
    points.sort(
        key=lambda p: (ENGINES.index(p.engine), PLATFORMS.index(p.platform), p.nominal, p.vcpu, p.instance_class)
    )
    return classes, points, serverless


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Rule(EstimateRule):
    """A fitted :class:`~planner.estimate.EstimateRule` and how it was fitted (a, dbicm, formula there)."""

    points: tuple[Point, ...] = ()  # the points whose constraints/objective this rule was fitted on
    origin: str = "fitted"  # how a, b, c were obtained
    borrowed_from: str | None = None  # a whole rule copied from a pooled fit (group without points)

    def predict(self, nominal: Fraction, vcpu: int) -> int:
        return default_max_connections(self.dbicm(nominal, vcpu))

    def note(self) -> str:
        text = super().note()
        if self.borrowed_from:
            text += f" (borrowed unchanged from rule {self.borrowed_from}: no calibration points)"
        return text


def default_max_connections(dbicm: int) -> int:
    """``LEAST({DBInstanceClassMemory/9531392},5000)``."""
    return min(dbicm // Q, CAP)


def naive_max_connections(nominal: Fraction) -> int:
    return min(int(nominal) // Q, CAP)


def dbicm_from_observation(n: int) -> int:
    """The DBICM we store for an observed default ``n < 5000``: the middle of its interval."""
    return n * Q + Q // 2


def _ceil_div(x: int, y: int) -> int:
    return -((-x) // y)


def fit_b(points: list[Point] | tuple[Point, ...], k: int, c: int) -> int | None:
    """Smallest whole b (MiB) such that no uncapped point is over-predicted; None without any."""
    b = None
    for p in points:
        if p.capped:
            continue
        scaled = (k * p.nominal.numerator) // (A_SCALE * p.nominal.denominator)
        # floor((scaled − (b + c·v)·MiB) / Q) ≤ n  ⇔  scaled − (b + c·v)·MiB ≤ (n+1)·Q − 1
        need = _ceil_div(scaled - (p.n + 1) * Q + 1, MIB) - c * p.vcpu
        b = need if b is None else max(b, need)
    return b


def shortfall(points: list[Point] | tuple[Point, ...], k: int, b: int, c: int, scale: int) -> int:
    """Sum of relative shortfalls (n − predicted)/n, times ``scale`` (a common multiple of all n)."""
    total = 0
    for p in points:
        scaled = (k * p.nominal.numerator) // (A_SCALE * p.nominal.denominator)
        predicted = min(max(0, scaled - (b + c * p.vcpu) * MIB) // Q, CAP)
        total += (p.n - predicted) * (scale // p.n)
    return total


def fit_full(name: str, points: list[Point], prior: int) -> Rule:
    """Fit a, b, c on ``points`` (grid over a and c; b the smallest never-over-predicting value).

    Objective: sum of relative shortfalls over all points (capped ones target 5000); ties go to the
    a closest to ``prior``, then to the smallest c. Same result as calling :func:`fit_b` and
    :func:`shortfall` for every (a, c), with the per-point work hoisted out of the c loop.
    """
    if not uncapped(points):
        raise BuildError(f"rule {name}: no uncapped point to fit")
    scale = 1
    for p in points:
        scale = scale * p.n // _gcd(scale, p.n)
    weights = [(p.vcpu, p.n, scale // p.n) for p in points]
    best = None
    for k in A_GRID:
        scaled = [(k * p.nominal.numerator) // (A_SCALE * p.nominal.denominator) for p in points]
        needs = [
            (_ceil_div(s - (p.n + 1) * Q + 1, MIB), p.vcpu) for s, p in zip(scaled, points) if not p.capped
        ]
        for c in C_GRID:
            b = max(need - c * v for need, v in needs)
            total = 0
            for s, (v, n, w) in zip(scaled, weights):
                total += (n - min(max(0, s - (b + c * v) * MIB) // Q, CAP)) * w
            key = (total, abs(k - prior), c)
            if best is None or key < best[0]:
                best = (key, k, b, c)
    _, k, b, c = best
    return Rule(name, k, b, c, tuple(points))


def _gcd(x: int, y: int) -> int:
    while y:
        x, y = y, x % y
    return x


def uncapped(points: list[Point] | tuple[Point, ...]) -> list[Point]:
    return [p for p in points if not p.capped]


def group_rule(engine: str, platform: str, points: list[Point], pooled: dict[str, Rule]) -> Rule:
    """The rule of one (engine, platform) group; pooled donor fits are cached in ``pooled``.

    A group with at least 3 uncapped points is fitted alone. Otherwise a and c come from a pooled
    fit (same engine's non-xen points, else same platform across both engines, else everything)
    and b is fitted on the group's own points; a group without points copies the pooled rule.
    """
    name = f"{ENGINE_PREFIX[engine]}-{platform}"
    own = [p for p in points if p.engine == engine and p.platform == platform]
    if len(uncapped(own)) >= MIN_FIT_POINTS:
        return fit_full(name, own, A_PRIOR[platform])
    source = None
    same_engine_non_xen = [p for p in points if p.engine == engine and p.platform != "xen"]
    candidates = [
        (f"{ENGINE_PREFIX[engine]}-non-xen", same_engine_non_xen, "non-xen"),
        (f"{platform}-both-engines", [p for p in points if p.platform == platform], platform),
        ("all-points", list(points), "all"),
    ]
    for donor_name, pts, prior in candidates:
        if len(uncapped(pts)) >= MIN_FIT_POINTS:
            if donor_name not in pooled:
                pooled[donor_name] = fit_full(donor_name, pts, A_PRIOR[prior])
            source = pooled[donor_name]
            break
    if source is None:
        raise BuildError(f"fewer than {MIN_FIT_POINTS} uncapped calibration points in all: cannot fit any rule")
    if not own:
        origin = f"a, b, c of rule {source.name} (no points)"
        return Rule(name, source.k, source.b, source.c, (), origin, source.name)
    if not uncapped(own):
        origin = f"a, b, c of rule {source.name} (only capped points)"
        return Rule(name, source.k, source.b, source.c, tuple(own), origin)
    b = fit_b(own, source.k, source.c)
    origin = (f"a, c of rule {source.name} ({len(uncapped(own))} uncapped points < {MIN_FIT_POINTS}); "
              "b fitted on the group")  # fmt: skip
    return Rule(name, source.k, b, source.c, tuple(own), origin)


def fit_rules(points: list[Point]) -> tuple[dict[tuple[str, str], Rule], dict[str, Rule]]:
    """Return the six group rules and the pooled rules some of them borrowed from."""
    pooled: dict[str, Rule] = {}
    rules = {(e, pf): group_rule(e, pf, points, pooled) for e in ENGINES for pf in PLATFORMS}
    return rules, pooled


def held_out(points: list[Point]) -> dict[tuple[str, str], int]:
    """Leave-one-out: the prediction for each uncapped point by its group's rule fitted without it."""
    result = {}
    for p in uncapped(points):
        rule = group_rule(p.engine, p.platform, [q for q in points if q is not p], {})
        result[(p.engine, p.instance_class)] = rule.predict(p.nominal, p.vcpu)
    return result


# --------------------------------------------------------------------------- catalogue rows


def build_rows(
    classes: dict[str, RefClass], points: list[Point], rules: dict[tuple[str, str], Rule]
) -> list[list[str]]:
    """One catalogue row per class, in reference order."""
    by_key = {(p.engine, p.instance_class): p for p in points}
    rows = []
    for cls in classes.values():
        row = [
            cls.instance_class, cls.family, cls.generation, cls.size, cls.arch, cls.burstable,
            str(cls.vcpu), cls.memory_gib, "true" if cls.retired else "false",
            cls.price, PRICE_SOURCE if cls.price else "",
        ]  # fmt: skip
        for engine in ENGINES:
            if engine not in cls.engines:
                row += ["", "", ""]
                continue
            rule = rules[(engine, cls.platform)]
            estimate = rule.dbicm(cls.nominal, cls.vcpu)
            p = by_key.get((engine, cls.instance_class))
            if p is None:
                row += [str(estimate), "estimated", rule.note()]
                continue
            note = p.url
            if not p.confidence.startswith("high"):
                note += f"; confidence {p.confidence}"
            if p.capped:
                dbicm = max(estimate, CAP * Q)
                note += f"; lower bound: default capped at {CAP}"
            else:
                dbicm = dbicm_from_observation(p.n)
            row += [str(dbicm), p.kind, note]
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- report


def _pct(error: int, n: int) -> str:
    return f"{Decimal(error * 100) / Decimal(n):+.2f}"


def _gib(nominal: Fraction) -> str:
    value = nominal / GIB
    return str(value.numerator) if value.denominator == 1 else f"{float(value):g}"


def _median_text(values: list[int]) -> str:
    return f"{statistics.median(values):g}"


def _summary(errors: list[tuple[int, int]]) -> dict[str, str]:
    if not errors:
        return {"med": "–", "max": "–", "medp": "–", "maxp": "–", "over": "0"}
    conns = [abs(e) for e, _ in errors]
    pcts = sorted(Fraction(abs(e) * 100, n) for e, n in errors)
    mid = len(pcts) // 2
    medp = pcts[mid] if len(pcts) % 2 else (pcts[mid - 1] + pcts[mid]) / 2
    return {
        "med": _median_text(conns),
        "max": str(max(conns)),
        "medp": f"{float(medp):.2f}",
        "maxp": f"{float(pcts[-1]):.2f}",
        "over": str(sum(1 for e, _ in errors if e > 0)),
    }


def over_predictions(points: list[Point], rules: dict[tuple[str, str], Rule]) -> list[tuple[Point, int]]:
    """Uncapped points whose rule estimate exceeds the observed value by more than 1 %."""
    bad = []
    for p in uncapped(points):
        predicted = rules[(p.engine, p.platform)].predict(p.nominal, p.vcpu)
        if predicted - p.n > OVER_LIMIT * p.n:
            bad.append((p, predicted))
    return bad


def render_report(
    points: list[Point],
    rules: dict[tuple[str, str], Rule],
    pooled: dict[str, Rule],
    serverless: list[dict[str, str]],
    loo: dict[tuple[str, str], int],
    rows: list[list[str]],
) -> str:
    out: list[str] = []
    w = out.append
    w("# DBInstanceClassMemory calibration report")
    w("")
    w("Generated by `scripts/build_catalog.py` from `rds_instance_classes_reference.csv` and")
    w(f"`max_connections_calibration.csv` (plus {len(README_OBSERVATIONS)} observations quoted in the data README).")
    w(f"Default `max_connections` = `LEAST({{DBInstanceClassMemory/{Q}}},{CAP})`.")
    w("Rules: `DBICM = a × nominal_bytes − (b + c × vCPU) MiB` (floored, never below 0), one per")
    w("(engine, platform). Platform: `xen` = t1/m1/m2/t2/m3/m4/r3/r4, `graviton` = arm64, `nitro-x86` = the rest.")
    w("Error = predicted − observed (negative = conservative). Errors are **held-in**: every point")
    w("below was used to fit the rule that predicts it. Capped points (published 5000) are lower")
    w("bounds: they count in the objective (target 5000) but not in the error statistics.")
    w("The catalogue stores the observed value itself (`n×Q + Q//2`) for every class listed here;")
    w("the rule estimate is what classes *without* a calibration value get.")
    w("")

    counts: dict[str, int] = {}
    for row in rows:
        for i in (12, 15):
            if row[i]:
                counts[row[i]] = counts.get(row[i], 0) + 1
    sources = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    w(f"Catalogue: {len(rows)} classes; DBICM sources: {sources}.")
    w("")

    w("## Rules")
    w("")
    w("| rule | a | b (MiB) | c (MiB/vCPU) | fitted on (uncapped + capped) | estimated rows | how |")
    w("| --- | --- | --- | --- | --- | --- | --- |")
    boundary = []
    for rule in list(rules.values()) + sorted(pooled.values(), key=lambda r: r.name):
        un = len(uncapped(rule.points))
        used = sum(1 for row in rows for i in (13, 16) if row[i].startswith(f"rule {rule.name}:"))
        used_text = str(used) if rule in rules.values() else "–"
        w(f"| {rule.name} | {rule.a:.4f} | {rule.b} | {rule.c} | {un} + {len(rule.points) - un} | {used_text} "
          f"| {rule.origin} |")  # fmt: skip
        if rule.k in (A_GRID[0], A_GRID[-1]) or rule.c == C_GRID[-1]:
            boundary.append(rule.name)
    w("")
    if boundary:
        low, high = Decimal(A_GRID[0]) / A_SCALE, Decimal(A_GRID[-1]) / A_SCALE
        w(f"Fits on the edge of the grid (a = {low:.3f} or {high:.3f}, "
          f"or c = {C_GRID[-1]}): {', '.join(boundary)}. The points of these groups ask for a")
        w("steeper reduction than the grid allows; b absorbs the rest (b < 0 adds memory back).")
        w("")

    all_rule: list[tuple[int, int]] = []
    all_naive: list[tuple[int, int]] = []
    all_loo: list[tuple[int, int]] = []
    for (engine, platform), rule in rules.items():
        w(f"## {rule.name} ({engine}, {platform})")
        w("")
        w(f"`{rule.formula()}` — {rule.origin}.")
        w("")
        pts = [p for p in points if p.engine == engine and p.platform == platform]
        if not pts:
            w("No calibration points.")
            w("")
            continue
        w("| class | vCPU | GiB | observed | conf. | predicted | error | error % "
          "| held-out pred. | held-out % | naive | naive % |")  # fmt: skip
        w("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        errs: list[tuple[int, int]] = []
        naive_errs: list[tuple[int, int]] = []
        loo_errs: list[tuple[int, int]] = []
        for p in pts:
            pred = rule.predict(p.nominal, p.vcpu)
            naive = naive_max_connections(p.nominal)
            conf = p.confidence.split(" ")[0]
            if p.capped:
                w(f"| {p.instance_class} | {p.vcpu} | {_gib(p.nominal)} | {p.n} (cap) | {conf} | {pred} | "
                  f"{'lower bound met' if pred == CAP else pred - CAP} | | | | {naive} | |")  # fmt: skip
                continue
            lo = loo[(p.engine, p.instance_class)]
            errs.append((pred - p.n, p.n))
            naive_errs.append((naive - p.n, p.n))
            loo_errs.append((lo - p.n, p.n))
            w(f"| {p.instance_class} | {p.vcpu} | {_gib(p.nominal)} | {p.n} | {conf} | {pred} | {pred - p.n:+d} | "
              f"{_pct(pred - p.n, p.n)} | {lo} | {_pct(lo - p.n, p.n)} | {naive} "
              f"| {_pct(naive - p.n, p.n)} |")  # fmt: skip
        all_rule += errs
        all_naive += naive_errs
        all_loo += loo_errs
        s, sn, sl = _summary(errs), _summary(naive_errs), _summary(loo_errs)
        w("")
        w(f"Held-in ({len(errs)} uncapped points): median |error| {s['med']} connections ({s['medp']} %), "
          f"max {s['max']} ({s['maxp']} %), over-predicted: {s['over']}.")  # fmt: skip
        w(f"Naive nominal/{Q}: median |error| {sn['med']} ({sn['medp']} %), max {sn['max']} ({sn['maxp']} %), "
          f"over-predicted: {sn['over']}.")  # fmt: skip
        w(f"Held-out (leave-one-out refit): median |error| {sl['med']} ({sl['medp']} %), max {sl['max']} "
          f"({sl['maxp']} %), over-predicted: {sl['over']}.")  # fmt: skip
        w("")

    w("## Pooled rules (donors of a and c)")
    w("")
    for rule in sorted(pooled.values(), key=lambda r: r.name):
        errs = [(rule.predict(p.nominal, p.vcpu) - p.n, p.n) for p in uncapped(rule.points)]
        s = _summary(errs)
        w(f"- {rule.name}: `{rule.formula()}`, fitted on {len(errs)} uncapped + "
          f"{len(rule.points) - len(errs)} capped points; held-in median {s['medp']} %, max {s['maxp']} %, "
          f"over-predicted {s['over']}.")  # fmt: skip
    w("")

    s, sn, sl = _summary(all_rule), _summary(all_naive), _summary(all_loo)
    bad = over_predictions(points, rules)
    w("## All held-in uncapped points")
    w("")
    w("| estimate | points | median abs. error | max abs. error | median abs. % | max abs. % | over-predicted |")
    w("| --- | --- | --- | --- | --- | --- | --- |")
    for label, count, st in (
        ("rules (held-in)", len(all_rule), s),
        ("rules (held-out, leave-one-out)", len(all_loo), sl),
        (f"naive nominal/{Q}", len(all_naive), sn),
    ):
        w(f"| {label} | {count} | {st['med']} | {st['max']} | {st['medp']} | {st['maxp']} | {st['over']} |")
    w("")
    w(f"Over-predictions by more than 1 % (held-in): {len(bad)} (the build fails if any).")
    w("Held-out over-predictions show how far a rule can be optimistic for a class it has not seen:")
    w("calibrate with `SHOW max_connections` (observation overlay) where it matters.")
    w("")
    w("## Not in the catalogue")
    w("")
    w(f"- Aurora Serverless v2 (`db.serverless`, {len(serverless)} calibration rows) is not a catalogue row:")
    w("  its DBICM follows the maximum ACU, `0.9383 × (2 GiB × max_acu) − 200 MiB` (data README),")
    w("  with the default capped at 2000 when the minimum ACU is 0.5 or 0. The budget computes it from")
    w("  the topology's `serverless: {min_acu, max_acu}` (planner/budget.py, tests/test_serverless.py).")
    w("- `db.x2m.*` has no vCPU/memory in the reference and is skipped.")
    w("")
    return "\n".join(out)


# --------------------------------------------------------------------------- main


def build(reference_dir: Path) -> tuple[str, str, list[tuple[Point, int]]]:
    """Return (catalogue CSV text, report text, over-predictions)."""
    classes, points, serverless = load_reference(reference_dir)
    rules, pooled = fit_rules(points)
    rows = build_rows(classes, points, rules)
    report = render_report(points, rules, pooled, serverless, held_out(points), rows)
    return catalog_csv(rows), report, over_predictions(points, rules)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference-dir", type=Path, default=DEFAULT_REFERENCE_DIR,
                        help="directory of the reference CSVs (default: ../shared/data from the repo root)")  # fmt: skip
    parser.add_argument("--output-root", type=Path, default=REPO_ROOT,
                        help="write data/ and planner/data/ under this directory (default: the repo root)")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        catalog, report, bad = build(args.reference_dir)
    except BuildError as exc:
        print(f"build_catalog: {exc}", file=sys.stderr)
        return 2
    print(report)
    if bad:
        for p, predicted in bad:
            print(f"build_catalog: {p.engine} {p.instance_class}: estimate {predicted} exceeds observed "
                  f"{p.n} by more than 1 %; nothing written", file=sys.stderr)  # fmt: skip
        return 1
    for relative in CATALOG_PATHS + (REPORT_PATH,):
        target = args.output_root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        text = report if relative == REPORT_PATH else catalog
        target.write_bytes(text.encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
