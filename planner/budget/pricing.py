"""The monthly on-demand price of a whole database: its writer, its standby or standbys, its readers.

How the catalogue's rates are keyed (``data/README.md``: AWS's price list feed, one rate per class and
deployment) and what each deployment bills:

- ``single-az``: every instance at the Single-AZ rate.
- ``multi-az``: the writer at the Multi-AZ rate, which covers the writer and its standby (the feed's
  Multi-AZ rate is twice the Single-AZ one).
- ``multi-az-cluster``: one rate for the deployment, taken as the writer and its two readable standbys
  (the feed's rate is about three times the Single-AZ one; the feed does not say what it covers).
  Readers beyond the two standbys are read replicas.
- ``aurora-standard``, ``aurora-io-optimized``: every instance, writer and readers, at the rate of the
  cluster's storage configuration.

Read replicas of RDS for PostgreSQL are priced as Single-AZ instances: a topology cannot say that a
replica is itself Multi-AZ. Only instance hours: storage, I/O, backups and Serverless v2 ACUs are not in
the catalogue. A rate the catalogue lacks is never guessed: the line says unknown, and why.
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.model import (
    DEFAULT_DEPLOYMENT,
    DEPLOYMENT_LABELS,
    MULTI_AZ_CLUSTER_READERS,
    SERVERLESS_CLASS,
    Database,
    InstanceClass,
    Price,
    price_for,
)

HOURS_PER_MONTH = 730  # AWS's convention for monthly prices


def monthly(usd_per_hour: float) -> float:
    """Return an hourly rate as a month of 730 hours, rounded to the cent."""
    return round(usd_per_hour * HOURS_PER_MONTH, 2)


@dataclass(frozen=True)
class PriceLine:
    """``count`` instances (or one deployment) of one class at one deployment's rate, or why it is unknown."""

    what: str  # "writer", "writer and standby", "writer and 2 readable standbys", "reader", "reader"
    count: int
    instance_class: str
    deployment: str  # whose rate applies
    price: Price | None
    missing: str = ""  # why there is no price ("" when there is one)

    @property
    def each_usd_month(self) -> float | None:
        """Return one instance's (or the deployment's) month, rounded to the cent."""
        return None if self.price is None else monthly(self.price.usd_per_hour)

    @property
    def usd_month(self) -> float | None:
        """Return the line's month: ``count`` × the rounded monthly rate, so the printed sum adds up."""
        each = self.each_usd_month
        return None if each is None else round(self.count * each, 2)

    def text(self) -> str:
        """Return the line as it reads in a sum: "2 readers × $116.80 (Single-AZ)"."""
        what = self.what if self.count == 1 else f"{self.count} {self.what}s ×"
        rate = DEPLOYMENT_LABELS.get(self.deployment, self.deployment)
        each = self.each_usd_month
        amount = f"${each:,.2f}" if each is not None else "unknown"
        return f"{what} {amount} ({self.instance_class}, {rate})"


@dataclass(frozen=True)
class DatabasePrice:
    """The month of a whole database on given classes: its lines, their sum, and what is unknown."""

    lines: tuple[PriceLine, ...]

    @property
    def usd_month(self) -> float | None:
        """Return the sum of the lines, or None when any line has no price (a partial sum would mislead)."""
        amounts = [line.usd_month for line in self.lines]
        if not amounts or any(a is None for a in amounts):
            return None
        return round(sum(a for a in amounts if a is not None), 2)

    @property
    def missing(self) -> str:
        """Return why the total is unknown ("" when it is known)."""
        return "; ".join(line.missing for line in self.lines if line.missing)

    def text(self) -> str:
        """Return how the month adds up: "writer and standby $X (...) + 2 readers × $Y (...) = $Z/month"."""
        total = self.usd_month
        parts = " + ".join(line.text() for line in self.lines)
        if total is None:
            return f"{parts} = unknown ({self.missing})"
        return f"{parts} = ${total:,.2f}/month"


def _line(what: str, count: int, cls: InstanceClass | None, name: str, engine: str, deployment: str) -> PriceLine:
    """Return one line, with the catalogue's rate of ``cls`` in ``deployment`` or why there is none."""
    if name == SERVERLESS_CLASS:
        return PriceLine(what, count, name, deployment, None, "Aurora Serverless v2 is billed per ACU-hour; the catalogue has no ACU prices")
    if cls is None:
        return PriceLine(what, count, name, deployment, None, f"{name} is not in the catalogue")
    price = price_for(cls, engine, deployment)
    if price is None:
        label = DEPLOYMENT_LABELS.get(deployment, deployment)
        return PriceLine(what, count, name, deployment, None, f"the catalogue has no {label} price for {name}")
    return PriceLine(what, count, name, deployment, price)


def database_price(db: Database, engine: str, deployment: str, writer: InstanceClass | None, writer_name: str,
                   reader: InstanceClass | None, reader_name: str) -> DatabasePrice:  # fmt: skip
    """Return the month of ``db`` (its readers count) on ``writer`` with readers on ``reader``, in ``deployment``.

    ``engine`` and ``deployment`` are the ones being planned (``plan --engine``/``--deployment``);
    the ``*_name`` arguments name a class the catalogue may not hold, so the line can say so.
    """
    single = DEFAULT_DEPLOYMENT["postgres"]
    if deployment == "multi-az":
        lines = [_line("writer and standby", 1, writer, writer_name, engine, deployment)]
        replicas, replica_rate = db.readers, single
    elif deployment == "multi-az-cluster":
        lines = [_line(f"writer and {MULTI_AZ_CLUSTER_READERS} readable standbys", 1, writer, writer_name, engine, deployment)]
        replicas, replica_rate = max(0, db.readers - MULTI_AZ_CLUSTER_READERS), single
    else:  # Single-AZ, and Aurora, where every instance is billed at the cluster's rate
        lines = [_line("writer", 1, writer, writer_name, engine, deployment)]
        replicas, replica_rate = db.readers, deployment
    if replicas:
        what = "reader" if deployment not in ("multi-az", "multi-az-cluster") else "read replica"
        lines.append(_line(what, replicas, reader, reader_name, engine, replica_rate))
    return DatabasePrice(tuple(lines))
