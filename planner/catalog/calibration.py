"""Fit the DBInstanceClassMemory rules of :mod:`planner.catalog.estimate` on real readings, and measure them.

A reading is a default ``max_connections`` someone read off a real instance (or AWS published):
on RDS for PostgreSQL ``n`` pins DBInstanceClassMemory to ``[n × 9531392, (n+1) × 9531392)``; an RDS
for MySQL reading ``n`` (``{DBInstanceClassMemory/12582880}``) pins the same memory of the same class
to ``[n × 12582880, (n+1) × 12582880)``, which the readings of classes seen on both engines confirm.

For each group of classes (engine and platform) every exponent of :data:`planner.catalog.estimate.POWERS`,
with and without a per-vCPU term, is fitted by least squares on the relative error of the memory,
then given the smallest margin that keeps every reading it was fitted on from being over-predicted.
The form kept is the one whose leave-one-out error (each reading predicted by the rule fitted on the
others) is best: first no over-prediction beyond 1 %, then the smallest worst error. That error range
is what an estimate states as its uncertainty.

Floating point is used only to fit; the rule is then rounded to whole numbers and every prediction
is the integer arithmetic of :class:`~planner.catalog.estimate.EstimateRule`, so a rebuild gives the same
bytes on every machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Callable, Sequence

from planner.catalog.estimate import FIXED, K_SCALE, MARGIN_SCALE, MIB, POWERS, EstimateRule, gib_power
from planner.catalog.memory import DBICM_DIVISOR, MAX_CONNECTIONS_CAP, default_max_connections

Q = DBICM_DIVISOR  # bytes per connection: LEAST({DBInstanceClassMemory/9531392},5000)
CAP = MAX_CONNECTIONS_CAP
MYSQL_DIVISOR = 12582880  # RDS for MySQL: {DBInstanceClassMemory/12582880}
MYSQL_CAP = 16000
OVER_LIMIT = 0.01  # no estimate may exceed a reading by more than 1 %
PADDING_STEP = 10  # parts per 100,000 (0.01 %)


@dataclass(frozen=True)
class Reading:
    """One reading that pins a class's DBInstanceClassMemory to ``[low, high)`` bytes."""

    engine: str  # the engine whose DBInstanceClassMemory it pins: postgres | aurora-postgresql
    instance_class: str
    nominal: int  # bytes
    vcpu: int
    platform: str
    n: int  # the value read
    via: str  # postgres | mysql: which formula the value came from
    confidence: str  # high | medium | low
    kind: str  # observed | aws-doc
    source: str  # URL
    origin: str  # file:line
    context: str = ""
    version: str = ""  # the engine version it was read on, as its source states it ("18.6", "10-12", "all versions")

    @property
    def divisor(self) -> int:
        return MYSQL_DIVISOR if self.via == "mysql" else Q

    @property
    def capped(self) -> bool:
        """Return whether the reading is the formula's cap (5000; MySQL 16000): a lower bound only."""
        return self.n >= (MYSQL_CAP if self.via == "mysql" else CAP)

    @property
    def low(self) -> int:
        return self.n * self.divisor

    @property
    def high(self) -> int:
        """Return the first DBInstanceClassMemory the reading rules out."""
        return (self.n + 1) * self.divisor

    @property
    def middle(self) -> int:
        return self.low + self.divisor // 2

    @property
    def postgres_n(self) -> int:
        """Return the PostgreSQL default max_connections this reading means (the middle of its interval)."""
        return self.n if self.via != "mysql" else min(self.middle // Q, CAP)


def error_of(rule: EstimateRule, reading: Reading) -> float:
    """Return (estimate − reading) / reading of the PostgreSQL default max_connections."""
    truth = reading.postgres_n
    return (default_max_connections(rule.dbicm(reading.nominal, reading.vcpu)) - truth) / truth


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float] | None:
    """Solve a small linear system by Gaussian elimination with partial pivoting (None if singular)."""
    n = len(vector)
    a = [row[:] + [vector[i]] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        if abs(a[pivot][col]) < 1e-12:
            return None
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(n):
            if r != col:
                factor = a[r][col] / a[col][col]
                a[r] = [x - factor * y for x, y in zip(a[r], a[col])]
    return [a[i][n] / a[i][i] for i in range(n)]


def _margin(rule: EstimateRule, readings: Sequence[Reading]) -> int:
    """Return the smallest margin (parts per 100,000) under which no reading is over-predicted."""
    margin = 0
    for r in readings:
        raw = r.nominal - rule.held(r.nominal, r.vcpu)
        if raw <= 0:
            continue
        # need raw × (S − m) // S ≤ high − 1
        need = -(-(raw - (r.high - 1)) * MARGIN_SCALE // raw)
        margin = max(margin, need)
    margin = min(max(margin, 0), MARGIN_SCALE - 1)
    while margin < MARGIN_SCALE - 1 and any(replace(rule, margin=margin).dbicm(r.nominal, r.vcpu) >= r.high for r in readings):
        margin += 1
    return margin


def fit_rule(name: str, readings: Sequence[Reading], power: Fraction, per_vcpu: bool) -> EstimateRule | None:
    """Fit ``held = b + k × GiB^power (+ c × vCPU)`` on ``readings``; None if the form does not fit them.

    Least squares on the relative error of the memory, rounded to whole units, then the margin.
    A fit whose memory held back would shrink as classes grow (k < 0) or per vCPU (c < 0) is refused.
    """
    usable = [r for r in readings if not r.capped]
    size = 3 if per_vcpu else 2
    if len(usable) < size:
        return None
    xtx = [[0.0] * size for _ in range(size)]
    xty = [0.0] * size
    for r in usable:
        nominal_mib = r.nominal / MIB
        held_mib = nominal_mib - r.middle / MIB
        row = [1.0, gib_power(r.nominal, power) / FIXED] + ([float(r.vcpu)] if per_vcpu else [])
        weight = 1.0 / (nominal_mib * nominal_mib)  # relative error of the memory
        for i in range(size):
            xty[i] += weight * row[i] * held_mib
            for j in range(size):
                xtx[i][j] += weight * row[i] * row[j]
    beta = _solve(xtx, xty)
    if beta is None:
        return None
    b, k = round(beta[0]), round(beta[1] * K_SCALE)
    c = round(beta[2]) if per_vcpu else 0
    if k < 0 or c < 0:
        return None
    rule = EstimateRule(name, power, k, b, c)
    return replace(rule, margin=_margin(rule, usable))


def fit_base(name: str, readings: Sequence[Reading], shape: EstimateRule) -> EstimateRule | None:
    """Fit only the base ``b`` of ``held = b + k × GiB^p (+ c × vCPU)`` on ``readings``, with ``shape``'s p, k and c.

    For a group with too few readings to pin a shape of its own (Aurora x86: two): it takes the
    shape of its engine's readings and sets its own level. None without a usable reading.
    """
    usable = [r for r in readings if not r.capped]
    if not usable:
        return None
    total = weights = 0.0
    for r in usable:
        nominal_mib = r.nominal / MIB
        held_mib = nominal_mib - r.middle / MIB
        rest = shape.k / K_SCALE * gib_power(r.nominal, shape.power) / FIXED + shape.c * r.vcpu
        weight = 1.0 / (nominal_mib * nominal_mib)
        total += weight * (held_mib - rest)
        weights += weight
    rule = EstimateRule(name, shape.power, shape.k, round(total / weights), shape.c)
    return replace(rule, margin=_margin(rule, usable))


@dataclass(frozen=True)
class FittedGroup:
    """A group's chosen rule, and how each reading fares held in and held out."""

    rule: EstimateRule
    readings: tuple[Reading, ...]  # the ones it was fitted on
    held_out: dict[str, float]  # instance class -> leave-one-out error (with the padding)
    tried: int  # forms tried
    padding: int = 0  # parts per 100,000 added to the margin (see fit_group)
    unpadded: dict[str, float] | None = None  # the leave-one-out errors before the padding
    shape_from: str = ""  # the pool whose shape the rule borrows (too few readings of its own), else ""
    band_basis: tuple[tuple[str, str], ...] = ()  # per size band, what its range rests on (planner.catalog.bands)


# A fitter makes a rule from some readings; it is told the nominal memory held out, so that a
# shape borrowed from a pool is refitted without that memory too.
Fitter = Callable[[Sequence[Reading], int], "EstimateRule | None"]


def leave_one_out(name: str, readings: Sequence[Reading], power: Fraction, per_vcpu: bool,
                  padding: int = 0) -> dict[str, float] | None:  # fmt: skip
    """Return each reading's error when predicted by the form fitted on the others (None: a fit fails).

    Every reading of the same nominal memory is left out with it: db.t3.large and db.t4g.large both
    read 844 on Aurora, and a rule that has seen one has, in effect, seen the other.
    """
    return held_out_errors(readings, lambda others, _: fit_rule(name, others, power, per_vcpu), padding)


def held_out_errors(readings: Sequence[Reading], fitter: Fitter, padding: int = 0) -> dict[str, float] | None:
    """Return each reading's error under the rule ``fitter`` makes without it and its same-memory siblings."""
    usable = [r for r in readings if not r.capped]
    errors: dict[str, float] = {}
    for reading in usable:
        others = [r for r in usable if r.nominal != reading.nominal]
        rule = fitter(others, reading.nominal)
        if rule is None:
            return None
        errors[reading.instance_class] = error_of(replace(rule, margin=rule.margin + padding), reading)
    return errors


def _score(errors: dict[str, float]) -> tuple[float, float, float]:
    values = list(errors.values())
    over = max(0.0, max(values) - OVER_LIMIT)
    worst = max(abs(e) for e in values)
    mean = sum(abs(e) for e in values) / len(values)
    return (round(over, 6), round(worst, 6), round(mean, 6))


def _own_form(name: str, usable: list[Reading]) -> tuple[Fitter, int] | None:
    """Return the fitter of the form whose leave-one-out error is best, and the forms tried (None: too few)."""
    best: tuple[tuple[float, float, float], Fraction, bool] | None = None
    tried = 0
    for power in POWERS:
        for per_vcpu in (False, True):
            # leave-one-out needs more readings than the form has parameters, plus one
            if len(usable) < (3 if per_vcpu else 2) + 2 or fit_rule(name, usable, power, per_vcpu) is None:
                continue
            errors = leave_one_out(name, usable, power, per_vcpu)
            if errors is None:
                continue
            tried += 1
            score = _score(errors)
            if best is None or score < best[0]:
                best = (score, power, per_vcpu)
    if best is None:
        return None
    _, power, per_vcpu = best
    return (lambda others, _: fit_rule(name, others, power, per_vcpu)), tried


def _borrowed_form(name: str, pool: Sequence[Reading], pool_name: str) -> Fitter:
    """Return a fitter that takes the pool's shape (refitted without the memory held out) and fits the base."""
    pooled = [r for r in pool if not r.capped]
    chosen = _own_form(pool_name, pooled)
    if chosen is None:
        raise ValueError(f"rule {name}: too few readings of its own, and {pool_name} too few to lend a shape")
    shape_of = chosen[0]

    def fitter(readings: Sequence[Reading], held: int) -> EstimateRule | None:
        shape = shape_of([r for r in pooled if r.nominal != held], held)
        return None if shape is None else fit_base(name, readings, shape)

    return fitter


def fit_group(name: str, readings: Sequence[Reading], pool: Sequence[Reading] = (), pool_name: str = "") -> FittedGroup:
    """Choose and fit the form of ``name``'s rule on ``readings`` (see the module docstring).

    A group with too few readings for a shape of its own borrows ``pool``'s (the readings of its
    engine on every platform) and fits only its base on its own readings.
    """
    usable = [r for r in readings if not r.capped]
    own = _own_form(name, usable)
    if own is not None:
        fitter, tried, shape_from = own[0], own[1], ""
    elif pool_name and usable:
        fitter, tried, shape_from = _borrowed_form(name, pool, pool_name), 1, pool_name
    else:
        raise ValueError(f"rule {name}: {len(usable)} readings are too few to fit and measure a rule")
    # one memory size alone cannot be held out against anything: no errors of its own (its range
    # then comes from its pool, planner.catalog.bands)
    errors = held_out_errors(usable, fitter) if len({r.nominal for r in usable}) >= 2 else {}
    rule = fitter(usable, 0)  # 0: no memory held out
    if errors is None or rule is None:
        raise ValueError(f"rule {name}: the readings do not fit its form")
    # A group whose best form still over-predicts a held-out reading by more than 1 % (too few
    # readings to pin its shape) is padded: its margin grows until none would have been. The
    # padding is tuned on the same readings, so the report says so beside the group.
    padding, unpadded = 0, None
    if errors and max(errors.values()) > OVER_LIMIT:
        unpadded = errors
        while max(errors.values()) > OVER_LIMIT:
            padding += PADDING_STEP
            errors = held_out_errors(usable, fitter, padding) or errors
    # to 0.01 %, outwards: the range the catalogue writes is never narrower than the measured one
    error_range = (round(math.floor(min(errors.values()) * 10_000) / 10_000, 4),
                   round(math.ceil(max(errors.values()) * 10_000) / 10_000, 4)) if errors else None
    rule = replace(rule, margin=rule.margin + padding, error_range=error_range)
    return FittedGroup(rule, tuple(usable), errors, tried, padding, unpadded, shape_from)


def over_predictions(group: FittedGroup) -> list[tuple[Reading, float]]:
    """Return the readings the group's rule over-predicts by more than 1 % (held in)."""
    return [(r, e) for r in group.readings if (e := error_of(group.rule, r)) > OVER_LIMIT]


__all__ = [
    "CAP",
    "MYSQL_DIVISOR",
    "OVER_LIMIT",
    "Q",
    "FittedGroup",
    "Reading",
    "default_max_connections",
    "error_of",
    "fit_base",
    "fit_group",
    "held_out_errors",
    "fit_rule",
    "leave_one_out",
    "over_predictions",
]
