"""``planner inspect --sample``: ``pg_stat_activity`` read again and again over a window, and the samples file.

The window is sampled in one read-only session, one query per interval
(:data:`planner.adapters.postgres.SAMPLE_QUERY`) and nothing else, never past its duration. Each sample is
kept compactly: per group of sessions (``application_name``, user, client address, database) how many it
held, how many were active, idle, idle in a transaction or hidden, and the longest idle-in-transaction
time; sessions idle in a transaction past ``--idle-after`` are kept one by one (their pid, for the
advice). A window that ends early (the server restarted, Ctrl-C) keeps what it sampled and says so.

The samples file (``inspect --sample ... --output FILE``, read by ``recommend --observed FILE``; docs/samples.md), version 1::

    {"format": "planner-activity-samples", "version": 1,
     "server": {"where": "watcher@db.example.com:5432/shop", "user": "watcher", "pid": 4242,
                "version_num": 160004, "max_connections": 200},
     "window": {"started": "2026-12-07T10:00:00.125Z", "every_seconds": 1.0, "requested_seconds": 1800.0,
                "planned_samples": 1800, "samples": 1800, "missed": 0, "stopped": null, "reason": null},
     "idle_after_seconds": 300.0,
     "topology": {"path": "shop.yaml", "database": "main"},
     "groups": [["web@prod", "app", "10.0.3.7", "shop"], ...],
     "columns": ["group", "held", "active", "idle", "idle_in_transaction", "hidden", "longest_idle_in_transaction_seconds"],
     "samples": [{"at": 0.0, "counts": [[0, 15, 2, 13, 0, 0, 0.0], ...]}, {"at": 1.0, "counts": [...]}, ...],
     "idle_in_transaction": [{"pid": 5150, "application_name": "web@prod", "user": "app", "database": "shop",
                              "client": "10.0.3.7", "superuser": false, "longest_seconds": 412.5, "at_end": true}]}

``at`` is seconds since ``started`` (the server's clock); ``counts`` lists the groups seen in that sample (a
group not listed held nothing then); a group's client is ``""`` where the connected role may not see it
(``hidden`` counts those sessions: their state is unknown). ``stopped`` is null for a whole window,
``"interrupted"`` (Ctrl-C) or ``"lost"`` (the session was cut; ``reason`` says how).

Pure: no PostgreSQL and no pandas here (:mod:`planner.live.usage` analyses the samples).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping

from planner.adapters.server import IDLE_IN_TRANSACTION, ActivitySample
from planner.errors import ExternalError, InputError, Problem, SessionLost
from planner.live.history import parse_time
from planner.live.inspect import format_duration, parse_duration

SAMPLES_FORMAT = "planner-activity-samples"
SAMPLES_VERSION = 1
COLUMNS = ("group", "held", "active", "idle", "idle_in_transaction", "hidden", "longest_idle_in_transaction_seconds")
DEFAULT_EVERY = "1s"
MIN_EVERY_SECONDS = 0.1  # each sample is a query on the server being measured: not more than ten a second
MAX_WINDOW_SECONDS = 24 * 3600
MAX_SAMPLES = 100_000
ACTIVE = ("active", "fastpath function call")
INTERRUPTED, LOST = "interrupted", "lost"


def format_interval(seconds: float) -> str:
    """Return an interval as people give it: ``250ms`` below a second, else as :func:`format_duration` says it."""
    return f"{round(seconds * 1000)}ms" if seconds < 1 else format_duration(seconds)


@dataclass(frozen=True)
class Window:
    """A sampling window: its length and the interval between samples, in seconds."""

    duration: float
    every: float

    @property
    def count(self) -> int:
        """Return how many samples the window takes: one at its start, then one per interval before its end."""
        return max(1, math.floor(self.duration / self.every + 1e-9))

    def describe(self) -> str:
        """Return the window in words: ``30 samples every 1.0s over 30s``."""
        return f"{self.count:,} samples every {format_interval(self.every)} over {format_duration(self.duration)}"


def plan_window(sample: str, every: str | None) -> Window:
    """Return the window ``--sample DURATION --every INTERVAL`` asks for; InputError (exit 2) when it is not one."""
    duration = parse_duration(sample, "--sample")
    interval = parse_duration(every or DEFAULT_EVERY, "--every")
    if interval < MIN_EVERY_SECONDS:
        raise InputError(f"--every: {every} is too often: give 100ms or more (each sample is a query on the server it measures)")
    if duration <= 0:
        raise InputError(f"--sample: {sample!r} is not a window: give how long to sample, e.g. --sample 30m")
    if duration > MAX_WINDOW_SECONDS:
        raise InputError(f"--sample: {sample} is longer than a day: give 24h or less (run again for more)")
    if interval > duration:
        raise InputError(f"--every: {every} is longer than the --sample {sample} window: give a shorter --every or a longer --sample")
    window = Window(duration, interval)
    if window.count > MAX_SAMPLES:
        raise InputError(f"--sample {sample} --every {every or DEFAULT_EVERY} is {window.count:,} samples: at most "
                         f"{MAX_SAMPLES:,} in one run; give a longer --every")  # fmt: skip
    return window


@dataclass(frozen=True)
class Group:
    """Sessions alike: one application_name, user, client address and database ("" where unknown or hidden)."""

    application_name: str
    user: str
    client: str
    database: str


@dataclass
class StaleSession:
    """A session seen idle in a transaction for longer than the threshold."""

    pid: int
    application_name: str
    user: str
    database: str
    client: str
    superuser: bool
    longest_seconds: float
    at_end: bool = False  # still so in the last sample


Counts = tuple[int, int, int, int, int, int, float]  # group, held, active, idle, idle in transaction, hidden, longest


@dataclass
class Samples:
    """What a window sampled (the samples file's content), filled one sample at a time."""

    where: str
    window: Window
    idle_after: float
    user: str = ""
    self_pid: int = 0
    version_num: int = 0
    max_connections: int = 0
    started: datetime | None = None
    groups: list[Group] = field(default_factory=list)
    at: list[float] = field(default_factory=list)
    counts: list[list[Counts]] = field(default_factory=list)
    stale: dict[int, StaleSession] = field(default_factory=dict)
    stopped: str | None = None  # None | interrupted | lost
    reason: str | None = None  # why it stopped, or why samples were missed
    topology: Mapping[str, str] | None = None
    _index: dict[Group, int] = field(default_factory=dict, repr=False)

    @property
    def taken(self) -> int:
        """Return how many samples were taken."""
        return len(self.at)

    @property
    def missed(self) -> int:
        """Return the samples the window planned that were not taken (and, for a stopped window, not due yet)."""
        return 0 if self.stopped else max(0, self.window.count - self.taken)

    @property
    def partial(self) -> bool:
        """Return whether the window was cut short (Ctrl-C, a lost session)."""
        return self.stopped is not None

    @property
    def seconds(self) -> float:
        """Return the time the samples stand for: one interval each (the whole window when none was missed)."""
        return self.taken * self.window.every

    def group_id(self, group: Group) -> int:
        """Return the index of ``group`` in :attr:`groups`, adding it when it is new."""
        index = self._index.get(group)
        if index is None:
            index = self._index[group] = len(self.groups)
            self.groups.append(group)
        return index

    def add(self, sample: ActivitySample) -> None:
        """Count one sample's sessions per group (this session left out) and note stale idle transactions."""
        if self.started is None:
            self.started = sample.at
            self.self_pid, self.version_num, self.max_connections = sample.self_pid, sample.version_num, sample.max_connections
        per: dict[int, list[float]] = {}
        stale_now: set[int] = set()
        for s in sample.sessions:
            if s.pid == sample.self_pid:
                self.user = s.user or self.user
                continue
            group = Group(s.application_name, s.user or "", "" if s.hidden else (s.client or ""), s.database or "")
            row = per.setdefault(self.group_id(group), [0, 0, 0, 0, 0, 0.0])
            row[0] += 1
            if s.hidden:
                row[4] += 1
            elif s.state in ACTIVE:
                row[1] += 1
            elif s.state == "idle":
                row[2] += 1
            elif s.state in IDLE_IN_TRANSACTION:
                row[3] += 1
                seconds = s.state_seconds or 0.0
                row[5] = max(row[5], seconds)
                if seconds > self.idle_after:
                    stale_now.add(s.pid)
                    known = self.stale.get(s.pid)
                    if known is None:
                        self.stale[s.pid] = StaleSession(s.pid, s.application_name, s.user or "", s.database or "",
                                                         s.client or "", s.superuser, seconds)  # fmt: skip
                    else:
                        known.longest_seconds = max(known.longest_seconds, seconds)
        for pid, known in self.stale.items():
            known.at_end = pid in stale_now
        assert self.started is not None
        self.at.append(round((sample.at - self.started).total_seconds(), 3))
        self.counts.append([(g, int(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]), round(r[5], 1)) for g, r in sorted(per.items())])

    def stop_sentence(self) -> str | None:
        """Return what cut the window short, in one line; None for a whole window."""
        if self.stopped is None:
            return None
        what = "interrupted (Ctrl-C)" if self.stopped == INTERRUPTED else f"the session was lost: {self.reason}"
        return (f"sampling stopped after {self.taken:,} of {self.window.count:,} samples ({format_duration(self.seconds)} of "
                f"{format_duration(self.window.duration)}): {what}; the result is partial")  # fmt: skip


def sample_window(
    samples: Samples, read: Callable[[], ActivitySample], *, clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep, progress: Callable[[int], None] | None = None,
) -> Samples:
    """Take the window's samples with ``read`` (one query each), on the interval's ticks, never past the window.

    A read slower than the interval skips the ticks it overran (no burst to catch up). A failed query (a
    statement timeout) is a missed sample; a lost session or Ctrl-C ends the window with what it has.
    """
    window = samples.window
    start = clock()
    tick = 0
    try:
        while tick < window.count:
            wait = start + tick * window.every - clock()
            if wait > 0:
                sleep(wait)
            try:
                samples.add(read())
            except SessionLost as exc:
                samples.stopped, samples.reason = LOST, _reason(exc)
                break
            except ExternalError as exc:
                samples.reason = _reason(exc)
            tick = max(tick + 1, math.ceil((clock() - start) / window.every - 1e-9))
            if progress is not None:
                progress(min(tick, window.count))
    except KeyboardInterrupt:
        samples.stopped, samples.reason = INTERRUPTED, "interrupted (Ctrl-C)"
    if samples.stopped is None and samples.missed and samples.reason is None:
        samples.reason = f"a sample took longer than the interval ({window.describe()}): the ticks it overran were skipped"
    return samples


def _reason(exc: ExternalError) -> str:
    """Return the server's words of an error, without the ``PostgreSQL at WHERE:`` the report already names."""
    text = str(exc)
    return text.split(": ", 1)[1] if text.startswith("PostgreSQL at ") and ": " in text else text


# --------------------------------------------------------------------------- the samples file


def samples_document(samples: Samples) -> dict[str, Any]:
    """Return the samples file's document (module docstring)."""
    started = samples.started
    return {
        "format": SAMPLES_FORMAT, "version": SAMPLES_VERSION,
        "server": {"where": samples.where, "user": samples.user, "pid": samples.self_pid, "version_num": samples.version_num,
                   "max_connections": samples.max_connections},
        "window": {
            "started": None if started is None else started.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "every_seconds": samples.window.every, "requested_seconds": samples.window.duration,
            "planned_samples": samples.window.count, "samples": samples.taken, "missed": samples.missed,
            "stopped": samples.stopped, "reason": samples.reason,
        },
        "idle_after_seconds": samples.idle_after,
        "topology": None if samples.topology is None else dict(samples.topology),
        "groups": [[g.application_name, g.user, g.client, g.database] for g in samples.groups],
        "columns": list(COLUMNS),
        "samples": [{"at": at, "counts": [list(c) for c in counts]} for at, counts in zip(samples.at, samples.counts)],
        "idle_in_transaction": [
            {"pid": s.pid, "application_name": s.application_name, "user": s.user, "database": s.database, "client": s.client,
             "superuser": s.superuser, "longest_seconds": round(s.longest_seconds, 1), "at_end": s.at_end}
            for s in sorted(samples.stale.values(), key=lambda s: -s.longest_seconds)
        ],
    }  # fmt: skip


def samples_json(samples: Samples) -> str:
    """Return the samples file's text: one line per group, sample and session, so that a long window stays readable."""
    parts = []
    for key, value in samples_document(samples).items():
        if key in ("groups", "samples", "idle_in_transaction") and value:
            items = ",\n".join("  " + json.dumps(item, separators=(",", ":"), ensure_ascii=False) for item in value)
            parts.append(f" {json.dumps(key)}: [\n{items}\n ]")
        else:
            parts.append(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


_FIX = "use the file planner inspect --sample DURATION --output FILE writes"


def read_samples(path: str | Path) -> Samples:
    """Read a samples file; InputError (exit 2) naming each problem at its key path."""
    label = str(path)
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(Problem(label, "", "samples file not found", hint="write one with planner inspect --dsn URL --sample 30m --output FILE")) from None
    except IsADirectoryError:
        raise InputError(Problem(label, "", "is a directory, not a samples file", hint=_FIX)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(Problem(label, "", f"cannot read the samples file: {exc}")) from None
    except json.JSONDecodeError as exc:
        raise InputError(Problem(label, "", f"not JSON: {exc.msg}", line=exc.lineno, hint=_FIX)) from None
    if isinstance(doc, dict) and "observations" in doc:
        raise InputError(Problem(label, "", "is a CloudWatch observations file (planner observe)",
                                 hint="--observed here takes the samples of planner inspect --sample --output FILE; "
                                      "observations go to planner check --observed"))  # fmt: skip
    if not isinstance(doc, dict) or doc.get("format") != SAMPLES_FORMAT:
        raise InputError(Problem(label, "format", f"not a samples file (format {SAMPLES_FORMAT!r} expected)", hint=_FIX))
    if doc.get("version") != SAMPLES_VERSION:
        raise InputError(Problem(label, "version", f"samples file version {doc.get('version')!r} is not one this planner reads "
                                 f"({SAMPLES_VERSION})", hint="sample again with this planner's inspect --sample"))  # fmt: skip
    return _Reader(label, doc).samples()


class _Reader:
    """Validates a samples document, collecting every problem with its key path."""

    def __init__(self, label: str, doc: Mapping[str, Any]) -> None:
        self.label, self.doc = label, doc
        self.problems: list[Problem] = []

    def problem(self, where: str, message: str, hint: str = _FIX) -> None:
        self.problems.append(Problem(self.label, where, message, hint=hint))

    def number(self, value: Any, where: str, minimum: float = 0.0, whole: bool = False) -> float:
        ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) and value >= minimum
        if ok and whole and not float(value).is_integer():
            ok = False
        if not ok:
            self.problem(where, f"{value!r} is not a {'whole ' if whole else ''}number{f' of at least {minimum:g}' if minimum else ''}")
            return minimum
        return float(value)

    def section(self, key: str) -> Mapping[str, Any]:
        value = self.doc.get(key)
        if not isinstance(value, Mapping):
            self.problem(key, "missing object")
            return {}
        return value

    def samples(self) -> Samples:
        server, window_doc = self.section("server"), self.section("window")
        every = self.number(window_doc.get("every_seconds"), "window.every_seconds", MIN_EVERY_SECONDS)
        duration = self.number(window_doc.get("requested_seconds"), "window.requested_seconds", every)
        idle_after = self.number(self.doc.get("idle_after_seconds"), "idle_after_seconds")
        started = None
        if window_doc.get("started") is not None:
            try:
                started = parse_time(str(window_doc.get("started")))
            except ValueError:
                self.problem("window.started", f"{window_doc.get('started')!r} is not an ISO 8601 time in UTC")
        stopped = window_doc.get("stopped")
        if stopped not in (None, INTERRUPTED, LOST):
            self.problem("window.stopped", f"{stopped!r} is not null, {INTERRUPTED!r} or {LOST!r}")
        topology = self.doc.get("topology")
        if topology is not None and not (isinstance(topology, Mapping) and all(isinstance(v, str) for v in topology.values())):
            self.problem("topology", "not an object of names", hint='write {"path": "shop.yaml", "database": "main"} or null')
            topology = None
        samples = Samples(
            str(server.get("where") or "?"), Window(duration, every), idle_after, str(server.get("user") or ""),
            int(self.number(server.get("pid", 0), "server.pid", whole=True)),
            int(self.number(server.get("version_num", 0), "server.version_num", whole=True)),
            int(self.number(server.get("max_connections", 0), "server.max_connections", whole=True)), started,
            stopped=stopped if stopped in (INTERRUPTED, LOST) else None,
            reason=window_doc.get("reason") if isinstance(window_doc.get("reason"), str) else None, topology=topology,
        )  # fmt: skip
        self.groups(samples)
        self.rows(samples)
        self.stale(samples)
        if self.problems:
            raise InputError(list(self.problems[:20]))  # the first twenty: a broken file says so soon enough
        return samples

    def groups(self, samples: Samples) -> None:
        groups = self.doc.get("groups")
        if not isinstance(groups, list):
            self.problem("groups", "missing list of groups")
            return
        for i, group in enumerate(groups):
            if not (isinstance(group, list) and len(group) == 4 and all(isinstance(x, str) for x in group)):
                self.problem(f"groups[{i}]", f"{group!r} is not [application_name, user, client, database]")
                group = ["?", "?", "?", f"?{i}"]
            samples.group_id(Group(*group))
            if len(samples.groups) != i + 1:
                self.problem(f"groups[{i}]", f"{group!r} is listed twice")
                samples.groups.append(Group(*group))

    def rows(self, samples: Samples) -> None:
        rows = self.doc.get("samples")
        if not isinstance(rows, list):
            self.problem("samples", "missing list of samples")
            return
        previous = -1.0
        for i, row in enumerate(rows):
            where = f"samples[{i}]"
            if not isinstance(row, Mapping) or not isinstance(row.get("counts"), list):
                self.problem(where, 'a sample is {"at": SECONDS, "counts": [[group, held, active, idle, idle_in_transaction, hidden, longest], ...]}')
                continue
            at = self.number(row.get("at"), f"{where}.at")
            if at < previous:
                self.problem(f"{where}.at", f"{at:g} comes before the sample above it ({previous:g}): samples are in time order")
            previous = at
            counts: list[Counts] = []
            for j, count in enumerate(row["counts"]):
                counts_at = f"{where}.counts[{j}]"
                if not (isinstance(count, list) and len(count) == len(COLUMNS)):
                    self.problem(counts_at, f"{count!r} is not [{', '.join(COLUMNS)}]")
                    continue
                values = [self.number(v, f"{counts_at}[{k}]", whole=k < 6) for k, v in enumerate(count)]
                group, held, active, idle, tx, hidden = (int(v) for v in values[:6])
                if group >= len(samples.groups):
                    self.problem(f"{counts_at}[0]", f"group {group} is not in groups (0 to {len(samples.groups) - 1})")
                elif active + idle + tx + hidden > held:
                    self.problem(counts_at, f"active {active} + idle {idle} + idle in transaction {tx} + hidden {hidden} is more than held {held}")
                else:
                    counts.append((group, held, active, idle, tx, hidden, values[6]))
            samples.at.append(at)
            samples.counts.append(counts)

    def stale(self, samples: Samples) -> None:
        items = self.doc.get("idle_in_transaction", [])
        if not isinstance(items, list):
            self.problem("idle_in_transaction", "not a list")
            return
        for i, item in enumerate(items):
            where = f"idle_in_transaction[{i}]"
            texts = ("application_name", "user", "database", "client")
            if not isinstance(item, Mapping) or not all(isinstance(item.get(k, ""), str) for k in texts):
                self.problem(where, 'a session is {"pid": 5150, "application_name": ..., "user": ..., "longest_seconds": 412.5, ...}')
                continue
            pid = int(self.number(item.get("pid"), f"{where}.pid", whole=True))
            seconds = self.number(item.get("longest_seconds"), f"{where}.longest_seconds")
            samples.stale[pid] = StaleSession(pid, *(str(item.get(k, "")) for k in texts), bool(item.get("superuser")), seconds,
                                              bool(item.get("at_end")))  # fmt: skip


__all__ = [
    "DEFAULT_EVERY", "INTERRUPTED", "LOST", "SAMPLES_FORMAT", "SAMPLES_VERSION", "Group", "format_interval", "Samples", "StaleSession", "Window",
    "plan_window", "read_samples", "sample_window", "samples_document", "samples_json",
]
