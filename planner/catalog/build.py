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

import math
from dataclasses import replace

from planner.catalog.bands import FoldResult, check_folds, derive_bands
from planner.catalog.calibration import CAP, FittedGroup, Q, Reading, default_max_connections, fit_group
from planner.catalog.estimate import GIB, EstimateRule
from planner.catalog.reference import ENGINES, BuildError, RefClass
from planner.model import SOURCE_ESTIMATED, EngineMemory, InstanceClass

# The rule groups: one per engine and platform where the readings separate them. Aurora Graviton
# and x86 differ (db.t4g.medium 405, db.t3.medium 420 at the same 4 GiB); Aurora x86 has two
# readings, too few for a shape of its own, so it borrows the shape of all Aurora readings (POOLS)
# and fits its own base. Aurora's r4 (Xen) has no confident reading: the x86 rule estimates it.
GROUPS: dict[tuple[str, str], str] = {
    ("postgres", "xen"): "rds-xen",
    ("postgres", "nitro-x86"): "rds-nitro-x86",
    ("postgres", "graviton"): "rds-graviton",
    ("aurora-postgresql", "xen"): "aurora-x86",
    ("aurora-postgresql", "nitro-x86"): "aurora-x86",
    ("aurora-postgresql", "graviton"): "aurora-graviton",
}
POOLS: dict[str, str] = {"postgres": "rds", "aurora-postgresql": "aurora"}  # engine -> its pooled readings' name


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


def confident_values(readings: list[Reading]) -> dict[tuple[str, str], tuple[int, ...]]:
    """Return, per (engine, class), every distinct confident PostgreSQL default read (sources and versions), lowest first."""
    values: dict[tuple[str, str], set[int]] = {}
    for r in readings:
        if r.confidence != "low" and not r.capped:
            values.setdefault((r.engine, r.instance_class), set()).add(r.postgres_n)
    return {key: tuple(sorted(found)) for key, found in values.items()}


def fit_rules(readings: list[Reading], only: str | None = None) -> dict[str, FittedGroup]:
    """Fit one rule per group on the lowest confident reading of each class, with the bands its estimates state.

    ``only``: fit that group alone (a fold of :func:`check_coverage` needs one).
    """
    chosen = lowest_readings(readings)
    values = confident_values(readings)
    groups: dict[str, list[Reading]] = {}
    pools: dict[str, list[Reading]] = {}
    engine_of: dict[str, str] = {}
    for (engine, _), r in sorted(chosen.items()):
        groups.setdefault(GROUPS[(engine, r.platform)], []).append(r)
        pools.setdefault(engine, []).append(r)
    for (engine, _), name in GROUPS.items():
        engine_of[name] = engine
    fitted = {}
    pool_errors: dict[str, list[float]] = {}
    for name in sorted(set(GROUPS.values()) if only is None else {only}):
        engine = engine_of[name]
        try:
            group = fit_group(name, groups.get(name, []), pools.get(engine, []), POOLS[engine])
            if len(group.held_out) < 2 and engine not in pool_errors:
                pool_errors[engine] = list(fit_group(POOLS[engine], pools.get(engine, [])).held_out.values())
            mine = {r.instance_class: values.get((engine, r.instance_class), ()) for r in group.readings}
            bands = derive_bands(group, mine, pool_errors.get(engine, ()))
        except ValueError as exc:
            raise BuildError(str(exc)) from None
        # the sizes its shape was fitted on: a borrowed shape's are its pool's
        shaped = [r for r in pools[engine] if not r.capped] if group.shape_from else group.readings
        span = (min(Fraction(r.nominal, GIB) for r in shaped), max(Fraction(r.nominal, GIB) for r in shaped))
        rule = replace(group.rule, bands=tuple((b.size, b.low, b.high) for b in bands), span=span)
        if rule.error_range is None:  # no errors of its own: the widest band is its range
            rule = replace(rule, error_range=(min(b.low for b in bands), max(b.high for b in bands)))
        fitted[name] = replace(group, rule=rule, band_basis=tuple((b.size, b.basis) for b in bands))
    return fitted


def check_coverage(readings: list[Reading]) -> list[FoldResult]:
    """Hold out each fitted reading, refit every rule and band without it, and say what its fold states of it."""
    return check_folds(readings, fit_rules, confident_values(readings), fit_rules(readings))


def readings_text(readings: list[Reading]) -> str:
    """Return the readings of one class and engine as the catalogue keeps them: "181 on 18.6; 190 on 16.3"."""
    parts = []
    for r in sorted(readings, key=lambda r: (r.postgres_n, r.version)):
        text = f"{r.postgres_n}" + (f" on {r.version}" if r.version else " (version not stated)")
        if r.via == "mysql":
            text += f" (read on RDS for MySQL as {r.n})"
        if text not in parts:
            parts.append(text)
    return "; ".join(parts)


def memory_of(cls: RefClass, engine: str, rule: EstimateRule, readings: dict[tuple[str, str], Reading],
              low: dict[tuple[str, str], Reading], every: dict[tuple[str, str], list[Reading]] | None = None) -> EngineMemory:  # fmt: skip
    """Return the DBInstanceClassMemory the catalogue stores for a class under an engine (module docstring).

    ``every``: all confident readings per (engine, class), whose versions the catalogue keeps; where
    they differ (db.t4g.small 181 on 18.6, 190 on 16.3) the lowest is kept and the spread is its range.
    """
    estimate = EngineMemory(rule.dbicm(cls.specs.nominal, cls.specs.vcpu), SOURCE_ESTIMATED, rule.note(),
                            rule.band_for(cls.specs.nominal))
    r = readings.get((engine, cls.instance_class))
    if r is None:
        weak = low.get((engine, cls.instance_class))
        if weak is not None and weak.postgres_n < default_max_connections(estimate.dbicm_bytes):
            return EngineMemory(weak.middle, weak.kind, f"{weak.source}; confidence low, below the rule's estimate",
                                readings=readings_text([weak]))  # fmt: skip
        return estimate
    found = [x for x in (every or {}).get((engine, cls.instance_class), [r]) if not x.capped] or [r]
    shown = readings_text(found)
    note = r.source + ("" if r.confidence == "high" else f"; confidence {r.confidence}")
    if r.via == "mysql":
        first, last = default_max_connections(r.low), default_max_connections(r.high - 1)
        note = (f"read on RDS for MySQL as {r.n} ({r.source}): DBInstanceClassMemory in "
                f"[{r.n}×12582880, {r.n + 1}×12582880), PostgreSQL default {first} to {last}; the low end is kept")
        spread = (last - first) / first if first else 0.0
        return EngineMemory(r.low, SOURCE_ESTIMATED, note, (0.0, 0.0) if not spread else (-spread, 0.0), shown)
    if r.capped:
        return EngineMemory(max(estimate.dbicm_bytes, CAP * Q), r.kind, note + f"; lower bound: default capped at {CAP}",
                            readings=shown)  # fmt: skip
    # read higher elsewhere (another engine version): a real instance may read up to that; an RDS for
    # MySQL reading only pins an interval, so it does not widen the range
    highest = max(x.postgres_n for x in found if x.via == "postgres")
    if highest > r.n:
        note += "; the lowest of its readings (they differ: see the readings and their engine versions)"
        return EngineMemory(r.middle, r.kind, note, (round(math.floor((r.n / highest - 1) * 10_000) / 10_000, 4), 0.0), shown)
    return EngineMemory(r.middle, r.kind, note, readings=shown)


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
    every: dict[tuple[str, str], list[Reading]] = {}
    for r in readings:
        if r.confidence != "low":
            every.setdefault((r.engine, r.instance_class), []).append(r)
    result = []
    for cls in classes.values():
        spec = cls.specs
        memory = {engine: memory_of(cls, engine, fitted[GROUPS[(engine, spec.platform)]].rule, chosen, low, every)
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


__all__ = ["GROUPS", "POOLS", "build_classes", "check_coverage", "confident_values", "fit_rules", "lowest_readings", "memory_of"]
