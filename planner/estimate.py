"""Estimate DBInstanceClassMemory for a class that no one has observed: the fitted rules.

AWS never published how much memory RDS keeps for the operating system, so a class without an
observed or published ``max_connections`` gets an estimate from a rule fitted on the classes that
have one (``scripts/build_catalog.py`` does the fitting; ``data/calibration_report.md`` shows it):

    DBICM = a × nominal − (b + c × vCPU) MiB     (floored, never below 0)

with one rule per engine and platform (Xen, Nitro x86, Graviton). This module owns the evaluation
of a rule, the platform of a class, and the parameters the bundled catalogue was built with, so
that ``planner catalog refresh`` estimates a new class exactly as the build script would. Integer
arithmetic only: the same inputs give the same bytes on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

A_SCALE = 20000  # a is stored as K / A_SCALE, K a whole number
MIB = 1 << 20
GIB = 1 << 30

ENGINE_PREFIX: dict[str, str] = {"postgres": "rds", "aurora-postgresql": "aurora"}
PLATFORMS: tuple[str, ...] = ("xen", "nitro-x86", "graviton")
XEN_FAMILIES = frozenset({"t1", "m1", "m2", "t2", "m3", "m4", "r3", "r4"})


def platform_of(family: str, arch: str) -> str:
    """Return the platform whose rule estimates a family: ``xen``, ``graviton`` (arm64) or ``nitro-x86``."""
    if family in XEN_FAMILIES:
        return "xen"
    if arch == "arm64":
        return "graviton"
    return "nitro-x86"


@dataclass(frozen=True)
class EstimateRule:
    """``DBICM = K/20000 × nominal − (b + c × vCPU) MiB`` (floored, never below 0)."""

    name: str
    k: int  # a × A_SCALE
    b: int  # MiB
    c: int  # MiB per vCPU

    @property
    def a(self) -> Decimal:
        return Decimal(self.k) / Decimal(A_SCALE)

    def dbicm(self, nominal: Fraction, vcpu: int) -> int:
        """Return the estimated DBInstanceClassMemory in bytes for ``nominal`` bytes and ``vcpu``."""
        scaled = (self.k * nominal.numerator) // (A_SCALE * nominal.denominator)
        return max(0, scaled - (self.b + self.c * vcpu) * MIB)

    def formula(self) -> str:
        """Return the rule as the catalogue's notes write it."""
        sign = "−" if self.b >= 0 else "+"
        return f"{self.a:.4f}×nominal {sign} {abs(self.b)} MiB − {self.c} MiB×vCPU"

    def note(self) -> str:
        """Return the ``dbicm_*_note`` of a class this rule estimated."""
        return f"rule {self.name}: {self.formula()}"


def _rule(engine: str, platform: str, k: int, b: int, c: int) -> EstimateRule:
    return EstimateRule(f"{ENGINE_PREFIX[engine]}-{platform}", k, b, c)


# The rules the bundled catalogue was built with (data/calibration_report.md, "Rules"). A test
# refits them from the reference data with scripts/build_catalog.py: rebuild, then update here.
FITTED_RULES: dict[tuple[str, str], EstimateRule] = {
    ("postgres", "xen"): _rule("postgres", "xen", 19670, 157, 55),
    ("postgres", "nitro-x86"): _rule("postgres", "nitro-x86", 19790, 466, 75),
    ("postgres", "graviton"): _rule("postgres", "graviton", 19750, 361, 80),
    ("aurora-postgresql", "xen"): _rule("aurora-postgresql", "xen", 17600, -810, 0),
    ("aurora-postgresql", "nitro-x86"): _rule("aurora-postgresql", "nitro-x86", 17600, -134, 0),
    ("aurora-postgresql", "graviton"): _rule("aurora-postgresql", "graviton", 19490, 303, 0),
}


def nominal_bytes(memory_gib: str | Fraction | int) -> Fraction:
    """Return a nominal memory written in GiB ("15.25") as an exact number of bytes."""
    return Fraction(memory_gib) * GIB


def estimate_dbicm(engine: str, family: str, arch: str, memory_gib: str | Fraction | int, vcpu: int,
                   rules: dict[tuple[str, str], EstimateRule] | None = None) -> tuple[int, str]:
    """Return (DBInstanceClassMemory bytes, note) that the fitted rule gives a class under ``engine``."""
    rule = (rules or FITTED_RULES)[(engine, platform_of(family, arch))]
    return rule.dbicm(nominal_bytes(memory_gib), vcpu), rule.note()


__all__ = [
    "A_SCALE",
    "ENGINE_PREFIX",
    "FITTED_RULES",
    "PLATFORMS",
    "XEN_FAMILIES",
    "EstimateRule",
    "estimate_dbicm",
    "nominal_bytes",
    "platform_of",
]
