"""The range an estimate states: from the held-out errors of the classes nearest to it.

A rule's leave-one-out errors (:mod:`planner.catalog.calibration`) say how far it was from readings
it had not seen. An estimate states the range of those errors over its *comparable* readings: the
same rule (so the same engine and platform, so the same architecture) and the same size band
(:data:`planner.catalog.estimate.SIZE_BANDS`). Then:

- it reaches :data:`NEAR_PAD` beyond those errors (below, above);
- a size band with fewer than two readings (no sibling to measure against), a class larger than
  every reading its rule's shape was fitted on (the ``above`` band) and one smaller (``below``)
  take the rule's whole range widened by :data:`FAR_PAD` (:data:`BELOW_PAD` below every reading),
  at least that range's width, and below at least the sibling spread; a rule
  with fewer than two held-out readings of its own takes its pool's (the engine on every platform);
- a band is never narrower than the spread the data shows between siblings: readings of one
  nominal memory that differ (two classes, or one class on two engine versions, db.t4g.small 181
  on 18.6 and 190 on 16.3). The rule sits at or below the lowest sibling (its margin sees to it), so
  the spread widens the safe side: a real instance may read that much more.

:func:`check_folds` holds the whole method to account: for each reading, everything is refitted
without it (rule, held-out errors, bands), and the reading must fall inside the range that fold
states; the budget's point (the low end where the band's top is above zero) must not be above it by
more than 1 %.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Callable, Sequence

from planner.catalog.calibration import OVER_LIMIT, FittedGroup, Reading, default_max_connections
from planner.catalog.estimate import SIZE_BANDS, band_label, size_band

# How far a band reaches beyond the held-out errors it rests on (fractions of max_connections), below
# (the safe side: a real instance reads more) and above (it reads less). The held-out errors of n
# readings understate the error on an (n+1)th: nested leave-one-out (check_folds) finds new readings
# up to 0.75 % outside the range of their neighbours' errors; where no reading of its size band is
# left, or the class is larger than every reading, up to 3.6 % below and 1.7 % above; where it is
# smaller than every reading (the memory held back bends most at the small end), up to 6.3 % below
# (db.t4g.micro from 2-32 GiB) and 2.1 % above (db.t2.micro). The rules' margins put them under
# their readings, so a surprise is larger on the safe side. The constants are round numbers a little
# above those, tuned on the same readings as the rules: the report prints the coverage they give.
NEAR_PAD = (0.008, 0.008)  # a band with two or more readings of its own size
FAR_PAD = (0.04, 0.02)  # a band that stands on the rule's other sizes (or its pool's), or above them
BELOW_PAD = (0.065, 0.03)  # a class smaller than every reading its rule's shape was fitted on


@dataclass(frozen=True)
class Band:
    """The error range estimates of one rule and size band state, and what it rests on."""

    size: str
    low: float
    high: float
    basis: str  # prose: which readings, widened or not, the sibling spread


def _outwards(low: float, high: float) -> tuple[float, float]:
    """Round a range to 0.01 %, outwards: the range written is never narrower than the one measured."""
    return round(math.floor(low * 10_000) / 10_000, 4), round(math.ceil(high * 10_000) / 10_000, 4)


def sibling_spread(readings: Sequence[Reading], values: dict[str, tuple[int, ...]]) -> tuple[float, str]:
    """Return the largest ``1 − lowest/highest`` among readings of one nominal memory, and where it is seen."""
    by_memory: dict[int, list[tuple[int, str]]] = {}
    for r in readings:
        for n in values.get(r.instance_class, (r.postgres_n,)):
            by_memory.setdefault(r.nominal, []).append((n, r.instance_class))
    worst, where = 0.0, ""
    for found in by_memory.values():
        low, high = min(found), max(found)
        spread = 1 - low[0] / high[0]
        if spread > worst:
            same = low[1] == high[1]
            worst = spread
            where = (f"{low[1]} reads {low[0]} and {high[0]}" if same else f"{low[1]} {low[0]}, {high[1]} {high[0]}")
    return worst, where


def derive_bands(group: FittedGroup, values: dict[str, tuple[int, ...]],
                 pool_errors: Sequence[float] = ()) -> tuple[Band, ...]:  # fmt: skip
    """Return the band of every size for ``group``'s rule, and its ``above`` and ``below`` bands (module docstring).

    ``values``: per class, every confident reading (several sources, several engine versions).
    ``pool_errors``: the held-out errors of the engine's readings on every platform, for a rule
    with fewer than two of its own.
    """
    everything = list(group.held_out.values())
    wide_from = everything if len(everything) >= 2 else list(pool_errors)
    if len(wide_from) < 2:
        raise ValueError(f"rule {group.rule.name}: too few held-out readings to state a range")
    whose = "the rule's" if wide_from is everything else "its engine's (every platform)"
    rule_spread, _ = sibling_spread(group.readings, values)

    def widened(least: tuple[float, float]) -> tuple[tuple[float, float], str]:
        # the width of the range the band stands on is a floor on both sides; the spread between
        # siblings only below (the rule sits at or under the lowest of them)
        width = max(wide_from) - min(wide_from)
        below, above = max(least[0], width, rule_spread), max(least[1], width)
        return ((min(wide_from) - below, max(wide_from) + above),
                f"{whose} whole leave-one-out range, widened by {below * 100:.2f} % below and {above * 100:.2f} % above "
                f"(at least {least[0] * 100:g} % and {least[1] * 100:g} %, that range's width, and below the spread "
                "between siblings)")

    far, far_basis = widened(FAR_PAD)
    below, below_basis = widened(BELOW_PAD)
    bands = []
    for size, _ in SIZE_BANDS:
        near = [r for r in group.readings if size_band(r.nominal) == size]
        errors = [group.held_out[r.instance_class] for r in near if r.instance_class in group.held_out]
        if len(errors) >= 2:
            low, high = min(errors) - NEAR_PAD[0], max(errors) + NEAR_PAD[1]
            basis = (f"leave-one-out of {', '.join(r.instance_class for r in near)} ({band_label(size)}), "
                     f"widened by {NEAR_PAD[0] * 100:g} % below and {NEAR_PAD[1] * 100:g} % above")
            spread, where = sibling_spread(near, values)
            if high - low < spread:
                low = high - spread
                basis += f"; widened below to the {spread * 100:.2f} % between siblings ({where})"
        else:
            low, high = far
            basis = f"{len(errors)} reading{'' if len(errors) == 1 else 's'} {band_label(size)}: {far_basis}"
        bands.append(Band(size, *_outwards(low, high), basis))
    bands.append(Band("above", *_outwards(*far), f"larger than every reading its shape was fitted on: {far_basis}"))
    bands.append(Band("below", *_outwards(*below), f"smaller than every reading its shape was fitted on: {below_basis}"))
    return tuple(bands)


@dataclass(frozen=True)
class FoldResult:
    """One reading held out: the point its fold estimates, the range it states, the value the budget uses."""

    reading: Reading
    value: int  # the reading (each confident reading of the class is checked)
    point: int
    low: int
    high: int
    used: int

    @property
    def inside(self) -> bool:
        return self.low <= self.value <= self.high

    @property
    def error_used(self) -> float:
        """Return (used − reading) / reading: positive is the forbidden direction."""
        return (self.used - self.value) / self.value


def reading_range(point_dbicm: int, band: tuple[float, float]) -> tuple[int, int, int]:
    """Return (low, high, used) default max_connections for an estimated DBInstanceClassMemory and its band.

    An error e means estimate = reading × (1 + e), so the memory a real instance has is between
    ``dbicm / (1 + high)`` and ``dbicm / (1 + low)``; the budget uses the low end when the band's top
    is above zero (the estimate could be optimistic), else the estimate itself.
    """
    low_e, high_e = band
    low = default_max_connections(math.floor(point_dbicm / (1 + high_e)))
    high = default_max_connections(math.ceil(point_dbicm / (1 + low_e)))
    point = default_max_connections(point_dbicm)
    return low, high, (low if high_e > 0 else point)


def check_folds(readings: list[Reading], fit: Callable[[list[Reading], str], dict[str, FittedGroup]],
                values: dict[tuple[str, str], tuple[int, ...]], full: dict[str, FittedGroup]) -> list[FoldResult]:  # fmt: skip
    """Hold each fitted reading out (with every reading of its engine and nominal memory), refit everything,
    and return what the fold says of it, for each confident reading of its class.

    ``fit(readings, name)`` fits one group, its rule carrying its bands (the build's own function);
    ``values`` holds every confident reading per (engine, class); ``full`` is every group fitted on
    all the readings.
    """
    results = []
    for name, group in sorted(full.items()):
        for held in group.readings:
            fold = [r for r in readings if not (r.engine == held.engine and r.nominal == held.nominal)]
            rule = fit(fold, name)[name].rule
            band = rule.band_for(held.nominal)
            assert band is not None  # every fitted rule carries its bands
            point_dbicm = rule.dbicm(held.nominal, held.vcpu)
            low, high, used = reading_range(point_dbicm, band)
            point = default_max_connections(point_dbicm)
            for value in values.get((held.engine, held.instance_class), (held.postgres_n,)):
                results.append(FoldResult(held, value, point, low, high, used))
    return results


def held_readings(results: Sequence[FoldResult]) -> list[FoldResult]:
    """Return one result per class held out: its fitted reading (the lowest), so no class counts twice."""
    return [r for r in results if r.value == r.reading.postgres_n]


def coverage_summary(results: Sequence[FoldResult]) -> str:
    """Return one line: how many held-out readings their fold's range holds, and the error at the budget's value."""
    if not results:
        return "no folds"
    inside = sum(1 for r in results if r.inside)
    errors = [r.error_used for r in held_readings(results)]
    over = sum(1 for e in errors if e > OVER_LIMIT)
    return (f"{inside} of {len(results)} held-out readings inside the range their fold states "
            f"({inside / len(results) * 100:.1f} %); at the value the budget uses, over the {len(errors)} classes "
            f"(each at the reading it was fitted on): median absolute error "
            f"{statistics.median(abs(e) for e in errors) * 100:.2f} %, highest {max(errors) * 100:+.2f} %, "
            f"above the reading by more than 1 %: {over}")


__all__ = ["BELOW_PAD", "FAR_PAD", "NEAR_PAD", "Band", "FoldResult", "check_folds", "coverage_summary", "held_readings", "derive_bands", "reading_range", "sibling_spread"]
