"""Estimate DBInstanceClassMemory for a class that no one has observed: the fitted rules.

AWS never published how much memory RDS keeps for the operating system and its own agents. The
readings say it is not proportional to the class: about 0.28–0.30 GiB of a 1 GiB class, 0.6–0.7 GiB
of an 8 GiB one, 1.1–1.6 GiB of a 32 GiB one. So a rule gives the memory held back as a power of
the nominal memory, plus a share per vCPU, and keeps a small safety margin::

    held  = b MiB + k × (nominal GiB)^p MiB + c × vCPU MiB
    DBICM = (nominal − held) × (1 − margin)          (floored, never below 0)

with one rule per engine and platform (``scripts/build_catalog.py`` fits them on the readings;
``data/calibration_report.md`` shows the fit, its residuals and its leave-one-out error). The margin
is the smallest that keeps every reading the rule was fitted on from being over-predicted. The
leave-one-out error range travels with each estimate, so ``catalog show``, ``explain`` and the
report can say how far a reading may be from it.

This module owns the evaluation of a rule and the rules the bundled catalogue was built with, so
that ``planner catalog refresh`` estimates a new class exactly as the build script would. Integer
arithmetic only (integer roots, fixed point): the same inputs give the same bytes on every machine.
"""

from __future__ import annotations

import csv
import functools
import io
import math
from dataclasses import dataclass
from fractions import Fraction

from planner.model import SOURCE_ESTIMATED, EngineMemory

MIB = 1 << 20
GIB = 1 << 30
FIXED = 1 << 20  # fixed-point scale of (nominal GiB)^p
MARGIN_SCALE = 100_000  # margin in parts per 100,000
K_SCALE = 1000  # k in thousandths of a MiB

ENGINE_PREFIX: dict[str, str] = {"postgres": "rds", "aurora-postgresql": "aurora"}
XEN_FAMILIES = frozenset({"t1", "m1", "m2", "t2", "m3", "m4", "r3", "r4"})
# The size bands a rule states its uncertainty for (nominal GiB, up to and including the bound): the
# memory held back changes shape with size, so a rule's error on 1-4 GiB classes says little of 64 GiB.
SIZE_BANDS: tuple[tuple[str, int | None], ...] = (("small", 4), ("medium", 32), ("large", None))
BAND_NAMES: tuple[str, ...] = (*(name for name, _ in SIZE_BANDS), "above", "below")
# The exponents a rule may use: each has an exact integer evaluation below.
POWERS: tuple[Fraction, ...] = (Fraction(1, 3), Fraction(1, 2), Fraction(2, 3), Fraction(3, 4), Fraction(1))


def platform_of(family: str, arch: str) -> str:
    """Return the platform whose rule estimates a family: ``xen``, ``graviton`` (arm64) or ``nitro-x86``."""
    if family in XEN_FAMILIES:
        return "xen"
    if arch == "arm64":
        return "graviton"
    return "nitro-x86"


def size_band(nominal: int | Fraction) -> str:
    """Return the size band of a class of ``nominal`` bytes: ``small`` (≤ 4 GiB), ``medium`` (≤ 32 GiB) or ``large``."""
    for name, bound in SIZE_BANDS:
        if bound is None or nominal <= bound * GIB:
            return name
    raise AssertionError("the last band has no bound")


def band_label(name: str) -> str:
    """Return a size band as prose: "up to 4 GiB", "over 4 and up to 32 GiB", "over 32 GiB"."""
    bounds = dict(SIZE_BANDS)
    names = [n for n, _ in SIZE_BANDS]
    below = bounds[names[names.index(name) - 1]] if names.index(name) else None
    if bounds[name] is None:
        return f"over {below} GiB"
    return f"over {below} and up to {bounds[name]} GiB" if below else f"up to {bounds[name]} GiB"


def _icbrt(n: int) -> int:
    """Return floor(n ** (1/3)) for n ≥ 0, exactly."""
    if n < 2:
        return n
    x = 1 << ((n.bit_length() + 2) // 3)  # above the root
    while True:
        y = (2 * x + n // (x * x)) // 3
        if y >= x:
            break
        x = y
    while x * x * x > n:
        x -= 1
    while (x + 1) ** 3 <= n:
        x += 1
    return x


def gib_power(nominal_bytes: int, power: Fraction) -> int:
    """Return floor((nominal_bytes / GiB) ** power × 2^20) with integer arithmetic only."""
    if power == 1:
        return nominal_bytes >> 10
    if power == Fraction(1, 2):
        return math.isqrt(nominal_bytes << 10)
    if power == Fraction(1, 3):
        return _icbrt(nominal_bytes << 30)
    if power == Fraction(2, 3):
        return _icbrt(nominal_bytes * nominal_bytes)  # (n² / 2^60)^(1/3) × 2^20 = (n²)^(1/3)
    if power == Fraction(3, 4):
        return math.isqrt(math.isqrt(nominal_bytes**3 >> 10))  # (n³ / 2^90 × 2^80)^(1/4)
    raise ValueError(f"unsupported power {power}")


@dataclass(frozen=True)
class EstimateRule:
    """``DBICM = (nominal − (b + k × GiB^p + c × vCPU) MiB) × (1 − margin)``, floored, never below 0."""

    name: str
    power: Fraction
    k: int  # thousandths of a MiB per GiB^p
    b: int  # MiB
    c: int  # MiB per vCPU
    margin: int = 0  # parts per 100,000 taken off, so that no fitted reading is over-predicted
    # leave-one-out error of max_connections, (estimate − reading) / reading, lowest and highest
    error_range: tuple[float, float] | None = None
    # per size band, the range an estimate of that size states (planner.catalog.bands): (band, low, high)
    bands: tuple[tuple[str, float, float], ...] = ()
    span: tuple[Fraction, Fraction] | None = None  # the smallest and largest nominal GiB it was fitted on

    def band_for(self, nominal: int | Fraction) -> tuple[float, float] | None:
        """Return the error range an estimate of a class of ``nominal`` bytes states (its size band's).

        A class larger than every reading the rule's shape was fitted on takes the ``above`` band, one
        smaller the ``below`` band.
        """
        name = size_band(nominal)
        if self.span is not None and nominal > self.span[1] * GIB:
            name = "above"
        elif self.span is not None and nominal < self.span[0] * GIB:
            name = "below"
        for band, low, high in self.bands:
            if band == name:
                return low, high
        return self.error_range

    def held(self, nominal: int, vcpu: int) -> int:
        """Return the memory the rule says RDS holds back, in bytes, for ``nominal`` bytes and ``vcpu``."""
        return (self.b + self.c * vcpu) * MIB + self.k * gib_power(nominal, self.power) // K_SCALE

    def dbicm(self, nominal: Fraction | int, vcpu: int) -> int:
        """Return the estimated DBInstanceClassMemory in bytes for ``nominal`` bytes and ``vcpu``."""
        whole = int(nominal)  # floor: memory is a whole number of bytes
        left = whole - self.held(whole, vcpu)
        return max(0, left * (MARGIN_SCALE - self.margin) // MARGIN_SCALE)

    def formula(self) -> str:
        """Return the rule as the catalogue's notes write it."""
        p = "" if self.power == 1 else f"^{self.power}"
        terms = [f"{self.b} MiB" if self.b >= 0 else f"−{-self.b} MiB", f"{self.k / K_SCALE:g} MiB × GiB{p}"]
        if self.c:
            terms.append(f"{self.c} MiB × vCPU")
        margin = f", less {self.margin / (MARGIN_SCALE // 100):g} %" if self.margin else ""
        return f"nominal − ({' + '.join(terms)}){margin}"

    def note(self) -> str:
        """Return the ``dbicm_*_note`` of a class this rule estimated."""
        return f"rule {self.name}: {self.formula()}"


def _rule(engine: str, platform: str, power: Fraction, k: int, b: int, c: int, margin: int,
          error_range: tuple[float, float] | None) -> EstimateRule:  # fmt: skip
    return EstimateRule(f"{ENGINE_PREFIX[engine]}-{platform}", power, k, b, c, margin, error_range)


RULES_FILE = ("data", "estimate_rules.csv")  # written by scripts/build_catalog.py beside the catalogue
RULE_COLUMNS = ("engine", "platform", "name", "power", "k", "b", "c", "margin", "error_low", "error_high",
                "span_gib", *(f"{band}_{end}" for band in BAND_NAMES for end in ("low", "high")))


def rules_csv(rules: dict[tuple[str, str], EstimateRule]) -> str:
    """Return the rules as the CSV the build script writes and :func:`fitted_rules` reads."""
    lines = [",".join(RULE_COLUMNS)]
    for (engine, platform), r in sorted(rules.items()):
        low, high = r.error_range if r.error_range is not None else ("", "")
        bands = {band: (lo, hi) for band, lo, hi in r.bands}
        cells = [repr(e) for band in BAND_NAMES for e in bands[band]] if bands else ["", ""] * len(BAND_NAMES)
        span = f"{r.span[0]}..{r.span[1]}" if r.span else ""
        lines.append(",".join(str(v) for v in (engine, platform, r.name, r.power, r.k, r.b, r.c, r.margin,
                                               repr(low) if low != "" else "", repr(high) if high != "" else "", span,
                                               *cells)))  # fmt: skip
    return "\n".join(lines) + "\n"


def parse_rules(text: str) -> dict[tuple[str, str], EstimateRule]:
    """Read the rules CSV written by :func:`rules_csv`."""
    rules: dict[tuple[str, str], EstimateRule] = {}
    for row in csv.DictReader(io.StringIO(text)):
        error = (float(row["error_low"]), float(row["error_high"])) if row["error_low"] else None
        bands = tuple((band, float(row[f"{band}_low"]), float(row[f"{band}_high"]))
                      for band in BAND_NAMES if row.get(f"{band}_low"))  # fmt: skip
        span = tuple(Fraction(v) for v in row["span_gib"].split("..")) if row.get("span_gib") else None
        rules[(row["engine"], row["platform"])] = EstimateRule(
            row["name"], Fraction(row["power"]), int(row["k"]), int(row["b"]), int(row["c"]), int(row["margin"]), error,
            bands, span)  # type: ignore[arg-type]
    return rules


@functools.cache
def fitted_rules() -> dict[tuple[str, str], EstimateRule]:
    """Return the rules the bundled catalogue was built with (``planner/data/estimate_rules.csv``)."""
    from planner.catalog.csvfile import PACKAGE_DIR

    return parse_rules(PACKAGE_DIR.joinpath(*RULES_FILE).read_text(encoding="utf-8"))


def nominal_bytes(memory_gib: str | Fraction | int | float) -> Fraction:
    """Return a nominal memory written in GiB ("15.25") as an exact number of bytes."""
    return Fraction(str(memory_gib) if isinstance(memory_gib, float) else memory_gib) * GIB


def estimate_memory(engine: str, family: str, arch: str, memory_gib: str | Fraction | int | float, vcpu: int,
                    rules: dict[tuple[str, str], EstimateRule] | None = None) -> EngineMemory:  # fmt: skip
    """Return the DBInstanceClassMemory the fitted rule gives a class under ``engine``, as an estimate."""
    rule = (rules or fitted_rules())[(engine, platform_of(family, arch))]
    nominal = nominal_bytes(memory_gib)
    return EngineMemory(rule.dbicm(nominal, vcpu), SOURCE_ESTIMATED, rule.note(), rule.band_for(nominal))


__all__ = [
    "ENGINE_PREFIX",
    "RULE_COLUMNS",
    "BAND_NAMES",
    "POWERS",
    "SIZE_BANDS",
    "XEN_FAMILIES",
    "EstimateRule",
    "estimate_memory",
    "fitted_rules",
    "parse_rules",
    "rules_csv",
    "gib_power",
    "nominal_bytes",
    "platform_of",
    "band_label",
    "size_band",
]
