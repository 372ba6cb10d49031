"""Write examples/observed/lambda-proxy.json: an example observations file for examples/lambda-proxy.yaml.

Usage: python scripts/example_observations.py [--out examples/observed/lambda-proxy.json]

The file is what `planner observe lambda-proxy-writer lambda-proxy-reader --days 42 -o FILE` writes,
with **made-up series** (this repository has no production to observe): the writer's 5-minute
maxima grow 6 connections a day from 380 with a daily cycle (up to +220 in the afternoon, UTC),
weekends at 70 %, noise (σ 12) and a six-hour gap on day 17; the reader stays between 8 and 14. Seeded, so the
file is the same on every run. The README's "After launch" section and docs/production.png show
what planner makes of it; tests hold both to today's output.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 10, 19, tzinfo=timezone.utc)  # a Monday
DAYS = 42
PERIOD = 300


def writer_value(k: int, rng: random.Random) -> float | None:
    """The writer's maximum in period ``k``: growth, a daily cycle, quieter weekends, noise, one gap."""
    moment = START + timedelta(seconds=PERIOD * k)
    day = k * PERIOD / 86_400
    if 17 * 86_400 + 6 * 3600 <= k * PERIOD < 17 * 86_400 + 12 * 3600:
        return None
    cycle = max(0.0, math.sin(2 * math.pi * ((moment.hour + moment.minute / 60) / 24) - 1.2))
    weekend = 0.7 if moment.weekday() >= 5 else 1.0
    return max(0.0, round((380 + 6 * day + 220 * cycle) * weekend + rng.gauss(0, 12)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "examples" / "observed" / "lambda-proxy.json")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from planner.live.observe import observation, observations_document

    rng = random.Random(20261207)
    end = START + timedelta(days=DAYS)
    periods = DAYS * 86_400 // PERIOD
    writer = [(START + timedelta(seconds=PERIOD * k), v) for k in range(periods) if (v := writer_value(k, rng)) is not None]
    reader = [(START + timedelta(seconds=PERIOD * k), float(8 + rng.randint(0, 6))) for k in range(periods)]
    peaks = [
        observation("lambda-proxy-writer", "cluster", "writer", writer, DAYS, "eu-west-1", end, PERIOD),
        observation("lambda-proxy-reader", "cluster", "reader", reader, DAYS, "eu-west-1", end, PERIOD),
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(observations_document(peaks), separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"written: {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
