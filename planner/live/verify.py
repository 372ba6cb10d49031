"""``planner verify``: make a plan falsifiable on a real server.

The scenario's connections are opened source by source, each tagged with its
``application_name``, as an ordinary role, until the server refuses one or all are open. The
first refusal (its ordinal, its source, PostgreSQL's own message) is set next to the prediction
of :func:`planner.live.predict_refusal` for the server's settings; the run passes when they
agree exactly. Everything opened is closed, whatever happens (Ctrl-C included).

``--local`` starts a throwaway server whose settings are the instance's planned ones, from the
binaries closest to the topology's engine version (a 16+ topology runs PostgreSQL 16+ where one is
here, e.g. from the ``pgserver`` package; see :func:`planner.adapters.localpg.choose_binaries`).
Community PostgreSQL has no ``rds.*`` reserves (and 15 and older no ``reserved_connections``), so
those slots are folded into ``superuser_reserved_connections``: an ordinary role meets exactly the
same limit. Large instances are scaled down (``--scale K``): max_connections and every source's
demand are divided by K, rounded up; reserved slots stay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

from planner.adapters.server import ServerSettings, classify_refusal, role_allowance
from planner.errors import ExternalError, InputError
from planner.live.inspect import locate, predict_refusal
from planner.reserves import RESERVED, SUPERUSER, parse_engine_version

if TYPE_CHECKING:
    from planner.adapters.localpg import Binaries
    from planner.budget import InstanceBudget
    from planner.model import Topology

VERIFY_ROLE = "planner_verify"
LOCAL_LIMIT = 200  # connections a laptop's throwaway server comfortably holds
Progress = Callable[[int], None]


@dataclass(frozen=True)
class PlannedSource:
    """One source of the scenario: its planned demand and the connections verify opens for it."""

    source: str
    kind: str
    planned: int | None  # full size; None = unbounded
    count: int  # connections to open (scaled; for an unbounded pool: enough to fill the server)


@dataclass(frozen=True)
class VerifyPlan:
    """What the plan says about one instance in one scenario, at the scale verify runs it."""

    topology: "Topology"
    instance: "InstanceBudget"
    scenario: str
    scale: int
    scale_auto: bool
    sources: tuple[PlannedSource, ...]

    @property
    def max_connections(self) -> int:
        """Return max_connections at the verify scale."""
        return -(-self.instance.max_connections.value // self.scale)

    @property
    def reserved(self) -> int:
        return self.instance.reserved

    @property
    def total(self) -> int:
        return sum(s.count for s in self.sources)


def default_scale(max_connections: int, reserved: int, limit: int = LOCAL_LIMIT) -> int:
    """Return the smallest K that brings max_connections to ``limit`` or fewer, keeping it above ``reserved``."""
    scale = max(1, -(-max_connections // limit))
    while scale > 1 and -(-max_connections // scale) <= reserved:
        scale -= 1
    return scale


def build_plan(topology: "Topology", instance: "InstanceBudget", scenario: str, scale: int | None, local: bool) -> VerifyPlan:
    """Return the connections verify opens for ``scenario`` on ``instance``, scaled for ``--local``."""
    where = instance.name
    m, reserved = instance.max_connections.value, instance.reserved
    if m <= reserved:
        raise InputError(f"{topology.path}: {where}: max_connections {m} does not exceed the {reserved} reserved slots: PostgreSQL would not start")
    if not local and scale not in (None, 1):
        raise InputError("--scale: applies to --local only (a server given with --dsn has the settings it has)")
    auto = scale is None
    k = default_scale(m, reserved) if local and scale is None else (scale or 1)
    if -(-m // k) <= reserved:
        raise InputError(f"--scale {k}: max_connections {m} ÷ {k} = {-(-m // k)} leaves nothing above the {reserved} reserved slots (choose a smaller --scale)")
    sources: list[PlannedSource] = []
    for demand in instance.demand_by_source:
        if demand.unbounded_in(scenario):
            if not local:
                raise InputError(f"{topology.path}: {demand.source} has an unbounded pool: verify --dsn opens at most the scenario's count, and it has none (set a pool size, or use --local)")
            sources.append(PlannedSource(demand.source, demand.kind, None, -(-m // k)))
        else:
            planned = demand.demand[scenario]
            sources.append(PlannedSource(demand.source, demand.kind, planned, -(-planned // k)))
    return VerifyPlan(topology, instance, scenario, k, auto, tuple(sources))


def local_settings(plan: VerifyPlan, server_major: int) -> tuple[dict[str, int], list[str]]:
    """Return postgresql.conf settings that give an ordinary role the planned limit, and why."""
    settings = {"max_connections": plan.max_connections}
    notes: list[str] = []
    superuser = 0
    folded: list[tuple[str, int]] = []  # reserves community PostgreSQL lacks (the rds.* ones, reserved_connections before 16)
    for name, value in plan.instance.reserved_slots:
        if name == SUPERUSER:
            superuser = value
        elif name == RESERVED and server_major >= 16:
            if value:
                settings[RESERVED] = value
        elif value:
            folded.append((name, value))
    settings[SUPERUSER] = superuser + sum(v for _, v in folded)
    if folded:
        parts = " + ".join([str(superuser)] + [f"{n} {v}" for n, v in folded])
        notes.append(
            f"superuser_reserved_connections {settings['superuser_reserved_connections']} = {parts}: "
            f"PostgreSQL {server_major} has no {' or '.join(n for n, _ in folded)}, so its slots are folded in "
            "(an ordinary role meets the same limit)"
        )
    if plan.scale > 1:
        how = "chosen so the throwaway server needs at most 200 connections" if plan.scale_auto else "--scale"
        notes.append(
            f"scaled down by {plan.scale} ({how}): max_connections {plan.instance.max_connections.value} → {plan.max_connections}, "
            f"each source's demand ÷ {plan.scale} rounded up, reserved slots unscaled"
        )
        result = plan.instance.scenarios.get(plan.scenario)
        full_over = result is None or result.demand is None or result.demand > plan.instance.usable
        if full_over != (plan.total > plan.max_connections - plan.reserved):
            notes.append(
                "at this scale the verdict differs from full size (rounding, unscaled reserved slots): "
                "run with --scale 1 for the exact numbers"
            )
    return settings, notes


# --------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class Refusal:
    """The first connection the server refused."""

    ordinal: int
    source: str
    source_ordinal: int
    message: str
    sqlstate: str | None = None  # 53300 where libpq kept it (it keeps none for a failed login)

    @property
    def meaning(self) -> str:
        """Return who could still connect after this refusal, by its wording."""
        return classify_refusal(self.message).who


@dataclass
class Outcome:
    """What happened: connections opened per source, the first refusal, the other sessions."""

    opened: dict[str, int] = field(default_factory=dict)
    refused: Refusal | None = None
    others_before: int = 0
    others_after: int | None = None


def open_connections(dsn: str, sources: Sequence[PlannedSource], others_expected: int, progress: Progress | None = None) -> Outcome:
    """Open the sources' connections in order until one is refused; close them all before returning."""
    from planner.adapters.postgres import SlotRefused, count_other_clients, open_tagged, settle_others

    outcome = Outcome(opened={s.source: 0 for s in sources}, others_before=others_expected)
    held: list[Any] = []
    at = "the start"
    try:
        ordinal = 0
        for source in sources:
            for k in range(1, source.count + 1):
                ordinal += 1
                at = f"connection #{ordinal} ({source.source} #{k})"
                try:
                    conn = open_tagged(dsn, source.source)
                except SlotRefused as exc:
                    outcome.refused = Refusal(ordinal, source.source, k, exc.message, exc.sqlstate)
                    break
                held.append(conn)
                outcome.opened[source.source] += 1
                if len(held) == 1:  # the sessions that were there before the run, once settled
                    outcome.others_before = settle_others(conn, others_expected)
                if progress is not None:
                    progress(1)
            if outcome.refused is not None:
                break
        if held:
            at = "the count of sessions after the run"
            outcome.others_after = count_other_clients(held[0], [c.info.backend_pid for c in held])
    except ExternalError as exc:  # the server went away or cut a connection: say where, after closing the rest
        closed = f"closed the {len(held)} connection(s) it had opened" if held else "had opened none"
        raise ExternalError(f"{exc}; verify stopped at {at} and {closed}") from exc
    finally:
        for conn in held:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing is best effort; the server drops the rest
                pass
    return outcome


@dataclass(frozen=True)
class VerifyReport:
    """A finished run: the plan, the server, what it did, and whether the prediction held."""

    plan: VerifyPlan
    target: str  # local | dsn
    where: str
    settings: ServerSettings
    role: str
    role_reserved: int
    notes: tuple[str, ...]
    outcome: Outcome
    data_directory: str | None = None
    binaries: "Binaries | None" = None  # --local: the server binaries that ran

    @property
    def predicted(self) -> int | None:
        return predict_refusal(self.settings.max_connections, self.role_reserved, self.outcome.others_before, self.plan.total)

    @property
    def passed(self) -> bool:
        refused = self.outcome.refused.ordinal if self.outcome.refused else None
        return refused == self.predicted


def engine_major(instance: "InstanceBudget") -> int | None:
    """Return the major of the instance's engine_version (None when it names none)."""
    try:
        return parse_engine_version(instance.engine_version).major if instance.engine_version else None
    except ValueError:
        return None


def verify_local(plan: VerifyPlan, progress: Progress | None = None) -> VerifyReport:
    """Run ``plan`` on a throwaway server with the planned settings; remove the server after."""
    from planner.adapters.localpg import choose_binaries, local_postgres
    from planner.adapters.postgres import create_login_role, read_control

    binaries, older = choose_binaries(engine_major(plan.instance))
    settings, notes = local_settings(plan, binaries.major)
    if older:
        notes.insert(0, older)
    with local_postgres(settings, prefix="planner-verify-", bindir=binaries.bindir) as server:
        admin = server.socket_conninfo()
        create_login_role(admin, VERIFY_ROLE)
        control = read_control(admin)
        dsn = server.socket_conninfo(VERIFY_ROLE)
        outcome = open_connections(dsn, plan.sources, 0, progress)
        where = f"throwaway PostgreSQL {control.settings.server_version} on 127.0.0.1, removed afterwards"
        return VerifyReport(
            plan, "local", where, control.settings, VERIFY_ROLE, control.settings.reserved_for(False),
            tuple(notes), outcome, str(server.root), binaries,
        )


def verify_dsn(plan: VerifyPlan, dsn: str, confirm: Callable[[str], None], progress: Progress | None = None) -> VerifyReport:
    """Run ``plan`` against the server of ``dsn`` as its user, after ``confirm`` (which may abort)."""
    from planner.adapters.postgres import describe_target, read_control

    control = read_control(dsn)
    where = describe_target(dsn)
    if control.superuser:
        raise InputError(
            f"--dsn: {control.user} is a superuser: superusers may take the reserved slots, so the refusal the plan predicts "
            "cannot happen for them; connect as the application's ordinary role"
        )
    notes: list[str] = []
    allowance = role_allowance(control.settings, control.user, False, control.rds_superuser, control.use_reserved)
    reserved = allowance.must_leave_free
    if reserved != control.settings.reserved:
        notes.append(
            f"{control.user} may use some reserved slots ({' and '.join(allowance.may_use)}): it must leave {reserved} free, "
            f"not {control.settings.reserved}"
        )
    if control.settings.usable != plan.instance.usable or control.settings.max_connections != plan.instance.max_connections.value:
        notes.append(
            f"this server's budget differs from the plan's: max_connections {control.settings.max_connections} "
            f"(plan {plan.instance.max_connections.value}), usable {control.settings.usable} (plan {plan.instance.usable}); "
            "the prediction is for this server's settings"
        )
    confirm(
        f"verify opens up to {plan.total} connections to {where} as {control.user} ({control.others} other sessions are "
        "connected now) and closes them; while it runs, other clients of ordinary roles may be refused. Continue?"
    )
    outcome = open_connections(dsn, plan.sources, control.others, progress)
    return VerifyReport(plan, "dsn", where, control.settings, control.user, reserved, tuple(notes), outcome)


def locate_prediction(report: VerifyReport) -> tuple[str, int] | None:
    """Return which source (and its own ordinal) the predicted refusal falls on."""
    if report.predicted is None:
        return None
    return locate(report.predicted, [(p.source, p.count) for p in report.plan.sources])
