"""Build the catalogue from the reference data: one memory per class and engine, the fitted rules.

DBInstanceClassMemory (DBICM) per class and engine:

- a reading ``n < 5000`` pins DBICM to ``[n×Q, (n+1)×Q)`` with Q = 9531392; the catalogue stores the
  middle ``n×Q + Q//2`` so ``LEAST({DBICM/Q},5000)`` gives ``n`` back exactly. Several readings of one
  class: the lowest (the safe one). Low-confidence readings are used only where they are below the
  rule's estimate, and never to fit;
- a class read only on RDS for MySQL gets the low end of the interval that reading pins;
- a published 5000 (the cap) is a lower bound: ``max(rule estimate, 5000×Q)``;
- every other class gets its rule's estimate (:mod:`planner.catalog.estimate`, fitted by
  :mod:`planner.catalog.calibration`), with the rule's leave-one-out error range as its uncertainty.
"""

from __future__ import annotations

from fractions import Fraction

from planner.catalog.calibration import CAP, FittedGroup, Q, Reading, default_max_connections, fit_group
from planner.catalog.estimate import EstimateRule
from planner.catalog.reference import ENGINES, BuildError, RefClass
from planner.model import SOURCE_ESTIMATED, EngineMemory, InstanceClass

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


__all__ = ["GROUPS", "build_classes", "fit_rules", "lowest_readings", "memory_of"]
