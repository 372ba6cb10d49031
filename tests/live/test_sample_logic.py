"""The pure parts of ``inspect --sample`` and ``recommend --observed``: the window, its ticks, the samples file,
the caps. Samples are built from the dataclasses a server read fills (no server here: tests/live/test_sample.py
runs the real one)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path

import pytest

from planner.adapters.server import ActivitySample, Session
from planner.advice.observed import MeasuredService, observed_cap
from planner.errors import ExternalError, SessionLost
from planner.live.sample import Samples, Window, plan_window, read_samples, sample_window, samples_json
from planner.model import Pool, Service

from ..conftest import refusal

T0 = datetime(2026, 12, 7, 10, tzinfo=timezone.utc)
TOPOLOGY = """
version: 1
databases:
  main: {engine: self-managed, engine_version: "15", parameters: {max_connections: 60}}
services:
  web: {replicas: 2, max_surge: 0, threads: 2, pool: {driver: psycopg-pool, size: 8}}
"""


@pytest.mark.parametrize(("sample", "every", "duration", "interval", "count"), [
    ("30s", None, 30.0, 1.0, 30),
    ("30m", "5s", 1800.0, 5.0, 360),
    ("1s", "250ms", 1.0, 0.25, 4),
    ("10s", "3s", 10.0, 3.0, 3),  # samples at 0, 3 and 6 s, each standing for its 3 s: a fourth would stand for 9-12 s
    ("2s", "2s", 2.0, 2.0, 1),
    ("24h", "1s", 86400.0, 1.0, 86400),
])
def test_window(sample: str, every: str | None, duration: float, interval: float, count: int) -> None:
    window = plan_window(sample, every)
    assert (window.duration, window.every, window.count) == (duration, interval, count)


def clock_and_sleep(durations: list[float] | None = None):  # type: ignore[no-untyped-def]
    """Return a clock that ``sleep`` advances, and a read that takes ``durations`` (seconds) one after the other."""
    now = [0.0]
    taken: list[float] = []

    def read() -> ActivitySample:
        taken.append(now[0])
        now[0] += (durations or [0.01]).pop(0) if durations else 0.01
        return ActivitySample(T0 + timedelta(seconds=now[0]), 150004, 100, 1, (Session(1, "client backend", "watcher", "planner inspect", "db", "local", "active"),))

    return now, taken, read


def test_samples_fall_on_the_ticks_and_never_past_the_window() -> None:
    now, taken, read = clock_and_sleep()
    samples = sample_window(Samples("w", Window(2.0, 0.5), 300), read, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert taken == [0.0, 0.5, 1.0, 1.5] and samples.taken == 4 and samples.missed == 0 and samples.stopped is None


def test_a_slow_sample_skips_the_ticks_it_overran_and_says_so() -> None:
    now, taken, read = clock_and_sleep([0.01, 1.2, 0.01, 0.01])
    samples = sample_window(Samples("w", Window(3.0, 0.5), 300), read, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert taken == [0.0, 0.5, 2.0, 2.5]  # the ticks at 1.0 and 1.5 s passed while the second sample ran: no burst
    assert (samples.taken, samples.missed) == (4, 2) and "took longer than the interval" in (samples.reason or "")


def test_a_failed_query_is_a_missed_sample_and_a_lost_session_ends_the_window() -> None:
    now, taken, base = clock_and_sleep()
    outcomes: list[Exception | None] = [None, ExternalError("PostgreSQL at w: canceling statement due to statement timeout"), None,
                                        SessionLost("PostgreSQL at w: server closed the connection unexpectedly"), None]

    def read() -> ActivitySample:
        outcome = outcomes.pop(0)
        if outcome is not None:
            now[0] += 0.01
            raise outcome
        return base()

    samples = sample_window(Samples("w", Window(5.0, 1.0), 300), read, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert (samples.taken, samples.stopped, samples.reason) == (2, "lost", "server closed the connection unexpectedly")
    assert samples.stop_sentence() == ("sampling stopped after 2 of 5 samples (2.0s of 5.0s): the session was lost: server closed "
                                       "the connection unexpectedly; the result is partial")


def test_ctrl_c_ends_the_window_with_what_it_has() -> None:
    now, taken, base = clock_and_sleep()

    def sleep(seconds: float) -> None:
        if len(taken) == 3:
            raise KeyboardInterrupt
        now[0] += seconds

    samples = sample_window(Samples("w", Window(10.0, 1.0), 300), base, clock=lambda: now[0], sleep=sleep)
    assert (samples.taken, samples.stopped, samples.missed) == (3, "interrupted", 0)


def written(tmp_path: Path) -> Path:
    """A samples file of three samples: web@prod holding 4 (1, 2, 1 active), one session idle in a transaction."""
    samples = Samples("watcher@db:5432/shop", Window(3.0, 1.0), 1.0, topology={"path": "shop.yaml", "database": "main"})
    for k, active in enumerate((1, 2, 1)):
        sessions = [Session(1, "client backend", "watcher", "planner inspect", "shop", "local", "active")]
        sessions += [Session(10 + j, "client backend", "app", "web@prod", "shop", "10.0.0.5", "active" if j < active else "idle")
                     for j in range(4)]  # fmt: skip
        sessions.append(Session(20, "client backend", "app", "worker", "shop", "10.0.0.6", "idle in transaction", state_seconds=2.0 + k))
        samples.add(ActivitySample(T0 + timedelta(seconds=k), 150004, 60, 1, tuple(sessions)))
    path = tmp_path / "samples.json"
    path.write_text(samples_json(samples))
    return path


def test_the_samples_file_reads_back_as_it_was_written(tmp_path: Path) -> None:
    path = written(tmp_path)
    doc = json.loads(path.read_text())
    assert (doc["format"], doc["version"], doc["groups"]) == ("planner-activity-samples", 1, [["web@prod", "app", "10.0.0.5", "shop"],
                                                                                               ["worker", "app", "10.0.0.6", "shop"]])
    assert doc["samples"][1] == {"at": 1.0, "counts": [[0, 4, 2, 2, 0, 0, 0.0], [1, 1, 0, 0, 1, 0, 3.0]]}
    assert doc["idle_in_transaction"] == [{"pid": 20, "application_name": "worker", "user": "app", "database": "shop", "client": "10.0.0.6",
                                           "superuser": False, "longest_seconds": 4.0, "at_end": True}]
    again = read_samples(path)
    assert (again.counts, again.at, again.topology, again.stale[20].longest_seconds) == (
        [[(0, 4, 1, 3, 0, 0, 0.0), (1, 1, 0, 0, 1, 0, 2.0)], [(0, 4, 2, 2, 0, 0, 0.0), (1, 1, 0, 0, 1, 0, 3.0)],
         [(0, 4, 1, 3, 0, 0, 0.0), (1, 1, 0, 0, 1, 0, 4.0)]], [0.0, 1.0, 2.0], {"path": "shop.yaml", "database": "main"}, 4.0)


@pytest.mark.parametrize(("change", "problem"), [
    (lambda text: text[:40], "not JSON: "),
    (lambda text: text.replace('"version": 1', '"version": 2'), "version: samples file version 2 is not one this planner reads (1)"),
    (lambda text: '{"version": 2, "observations": []}', "is a CloudWatch observations file (planner observe)"),
    (lambda text: text.replace('[0,4,2,2,0,0,0.0]', '[0,4,2,2,1,0,0.0]'),
     "samples[1].counts[0]: active 2 + idle 2 + idle in transaction 1 + hidden 0 is more than held 4"),
    (lambda text: text.replace('[0,4,2,2,0,0,0.0]', '[7,4,2,2,0,0,0.0]'), "samples[1].counts[0][0]: group 7 is not in groups (0 to 1)"),
    (lambda text: text.replace('"at":2.0', '"at":0.5'), "samples[2].at: 0.5 comes before the sample above it (1)"),
    (lambda text: text.replace('"every_seconds": 1.0', '"every_seconds": -1'), "window.every_seconds: -1 is not a number of at least 0.1"),
])
def test_a_bad_samples_file_exits_2_at_its_key(tmp_path: Path, change, problem: str) -> None:  # type: ignore[no-untyped-def]
    path = written(tmp_path)
    path.write_text(change(path.read_text()))
    (topology := tmp_path / "shop.yaml").write_text(TOPOLOGY)
    lines = refusal(["recommend", str(topology), "--observed", str(path)])
    assert len(lines) == 1 and lines[0].startswith(f"{path}") and problem in lines[0], lines


def test_recommend_observed_usage_errors(tmp_path: Path) -> None:
    path = written(tmp_path)
    (topology := tmp_path / "shop.yaml").write_text(TOPOLOGY)
    assert refusal(["recommend", str(topology), "--margin", "10"]) == [
        "--margin: is the margin above the concurrency --observed measured; give --observed FILE too"]
    missing = tmp_path / "none.json"
    assert refusal(["recommend", str(topology), "--observed", str(missing)]) == [
        f"{missing}: samples file not found (write one with planner inspect --dsn URL --sample 30m --output FILE)"]
    (two := tmp_path / "two.yaml").write_text(TOPOLOGY.replace("  main: {", "  other: {engine: self-managed}\n  main: {")
                                              .replace("pool: {driver: psycopg-pool, size: 8}}", "pool: {driver: psycopg-pool, size: 8}, database: main}"))
    doc = json.loads(path.read_text())
    doc["topology"] = None
    path.write_text(json.dumps(doc))
    (line,) = refusal(["recommend", str(two), "--observed", str(path)])
    assert line == f"--observed: {path} does not say which database of {two} it sampled: choose it with --database (other, main)"


@pytest.mark.parametrize(("p99", "processes", "threads", "pool", "margin", "cap"), [
    (3, 1, 2, 8, Fraction(1, 4), 4),  # ceil(3 × 1.25)
    (3, 1, 6, 8, Fraction(1, 4), 6),  # never below the threads
    (8, 4, 1, 10, Fraction(1, 4), 3),  # ceil(8 / 4) = 2 per process, × 1.25 → 3
    (3, 1, 2, 4, Fraction(1, 4), None),  # 4 is today's pool: nothing to cap
    (0, 1, 1, 5, Fraction(0), 1),  # never below one
    (7, 1, 1, 10, Fraction(1, 2), None),  # ceil(10.5) = 11 is above the pool
])
def test_observed_cap(p99: int, processes: int, threads: int, pool: int, margin: Fraction, cap: int | None) -> None:
    service = Service("web", "long-running", processes=processes, threads=threads, pool=Pool("custom", pool))
    assert observed_cap(service, MeasuredService("web", p99, p99, ("web",)), margin) == cap


def test_the_documented_example_is_a_samples_file_planner_reads(tmp_path: Path) -> None:
    text = (Path(__file__).parents[2] / "docs" / "samples.md").read_text()
    example = text.split("```json\n", 1)[1].split("```", 1)[0]
    (path := tmp_path / "samples.json").write_text(example)
    samples = read_samples(path)
    assert (samples.taken, len(samples.groups), samples.stale[5150].at_end, samples.topology) == (3, 3, True, {"path": "shop.yaml", "database": "main"})
    from planner.live.usage import usage_by

    web = usage_by(samples)[0]
    assert (web.key, web.held_max, web.active_median, web.active_max, web.busy_per_client_p99) == (("web@prod", "app"), 15, 3, 4, 4)
