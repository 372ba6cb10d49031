"""The connection slots an engine version keeps back from application roles (spec v1.1 §3).

RDS changed its reserves twice, so the same ``max_connections`` leaves a different number of slots
to an ordinary role depending on the engine and its minor version:

- PostgreSQL's ``superuser_reserved_connections`` (3) is kept for real superusers everywhere; on RDS
  only AWS's ``rdsadmin`` is one.
- RDS for PostgreSQL 15 and older keep ``rds.rds_superuser_reserved_connections`` (2) for members of
  ``rds_superuser`` (the master user). RDS removed it in 16.
- PostgreSQL 16 brought ``reserved_connections`` (RDS default 2) for roles with the privileges of
  ``pg_use_reserved_connections``, which ``rds_superuser`` has by default.
- RDS added ``rds.rds_reserved_connections`` (4) for its own ``rds_reserved`` role in 17.1, 16.5,
  15.9, 14.14, 13.17 and 12.21. No customer role, the master user included, may use those slots.

This module owns that table: which parameters exist for an engine and version, their defaults,
who may use each reserve, and which values are estimates rather than AWS-documented or observed
facts. The topology validator asks it which parameters are allowed; the budget asks it for the
reserves of an instance. Facts and sources: ``docs/topology.md`` ("Reserved slots").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

SUPERUSER = "superuser_reserved_connections"
RDS_SUPERUSER = "rds.rds_superuser_reserved_connections"
RESERVED = "reserved_connections"
RDS_RESERVED = "rds.rds_reserved_connections"
RESERVE_PARAMETERS: tuple[str, ...] = (SUPERUSER, RDS_RESERVED, RDS_SUPERUSER, RESERVED)

# The first minor of each major that has rds.rds_reserved_connections (RDS release notes, 17.1 entry).
# Every generally available 17.x and later has it; 11 and older never got it.
RDS_RESERVED_SINCE: dict[int, int] = {12: 21, 13: 17, 14: 14, 15: 9, 16: 5}
FIRST_MAJOR_ALWAYS_RDS_RESERVED = 17

# Who may open the slots each parameter keeps back, and whether the master user (an rds_superuser
# member) is among them.
HOLDERS: dict[str, tuple[str, bool]] = {
    SUPERUSER: ("superusers only (on RDS: AWS's rdsadmin)", False),
    RDS_RESERVED: ("the rds_reserved role (AWS's own sessions)", False),
    RDS_SUPERUSER: ("rds_superuser members (the master user)", True),
    RESERVED: ("roles with pg_use_reserved_connections (rds_superuser, so the master user)", True),
}
SOURCE_DEFAULT = "default"
SOURCE_SET = "parameter"

_VERSION = re.compile(r"(?P<major>[0-9]+)(?:\.(?P<minor>[0-9]+))?(?:\.(?P<third>[0-9]+))?")


@dataclass(frozen=True)
class EngineVersion:
    """An engine version as written ("16", "15.8", "9.6.24", "11.22-rds.20240418").

    ``minor`` is None for a bare major, which means that major's newest minor release.
    PostgreSQL before 10 numbered majors "9.6": there ``major`` is 9 and the minor is the third part.
    """

    text: str
    major: int
    minor: int | None

    @property
    def newest_minor(self) -> bool:
        """Return whether only a major was given (its newest minor applies)."""
        return self.minor is None


def parse_engine_version(text: str) -> EngineVersion:
    """Return the major and minor of an engine version; ValueError if it does not start with a number."""
    match = _VERSION.match(text.strip())
    if match is None:
        raise ValueError(f"not an engine version: {text!r}")
    major = int(match["major"])
    minor_text = match["third"] if major < 10 else match["minor"]
    return EngineVersion(text.strip(), major, int(minor_text) if minor_text is not None else None)


def has_rds_reserved(version: EngineVersion) -> bool:
    """Return whether RDS for PostgreSQL ``version`` has ``rds.rds_reserved_connections``."""
    if version.major >= FIRST_MAJOR_ALWAYS_RDS_RESERVED:
        return True
    since = RDS_RESERVED_SINCE.get(version.major)
    if since is None:
        return False
    return version.minor is None or version.minor >= since


@dataclass(frozen=True)
class Reserve:
    """One reserved-slot parameter of an instance: its value, who may use the slots, how sure we are."""

    parameter: str
    value: int
    source: str  # default | parameter (set in the topology)
    estimated: bool = False  # the default is inferred, not documented or observed for this engine/version
    note: str = ""  # why it is an estimate, or what the version rule was

    @property
    def holder(self) -> str:
        """Return who may open these slots."""
        return HOLDERS[self.parameter][0]

    @property
    def master_user_may_use(self) -> bool:
        """Return whether the master user (an rds_superuser member) may open these slots."""
        return HOLDERS[self.parameter][1]


@dataclass(frozen=True)
class DefaultReserve:
    """A reserve parameter an engine version has, with its default value."""

    parameter: str
    value: int
    estimated: bool = False
    note: str = ""


def _postgres_defaults(version: EngineVersion) -> list[DefaultReserve]:
    defaults = [DefaultReserve(SUPERUSER, 3)]
    if has_rds_reserved(version):
        if version.major <= 15:
            note = (f"rds.rds_reserved_connections exists on {version.major}.{RDS_RESERVED_SINCE[version.major]} and later; "
                    "its default on 12–15 is not documented: 4, as read on 16 and 18")
            defaults.append(DefaultReserve(RDS_RESERVED, 4, True, note))
        else:
            defaults.append(DefaultReserve(RDS_RESERVED, 4))
    if version.major <= 15:
        defaults.append(DefaultReserve(RDS_SUPERUSER, 2))
    else:
        early = version.major == 16 and version.minor is not None and version.minor < RDS_RESERVED_SINCE[16]
        note = "reserved_connections 2 is read on 16.5+ and 18; on 16.1–16.4 it is assumed" if early else ""
        defaults.append(DefaultReserve(RESERVED, 2, early, note))
    return defaults


def _aurora_defaults(version: EngineVersion) -> list[DefaultReserve]:
    if version.major <= 15:
        return [DefaultReserve(SUPERUSER, 3), DefaultReserve(RDS_SUPERUSER, 2)]
    note = "Aurora PostgreSQL 16+ reserves are not documented: assumed to mirror RDS for PostgreSQL 16.5+"
    return [DefaultReserve(SUPERUSER, 3), DefaultReserve(RDS_RESERVED, 4, True, note), DefaultReserve(RESERVED, 2, True, note)]


def _self_managed_defaults(version: EngineVersion) -> list[DefaultReserve]:
    defaults = [DefaultReserve(SUPERUSER, 3)]
    if version.major >= 16:
        defaults.append(DefaultReserve(RESERVED, 0))
    return defaults


def default_reserves(engine: str, version: EngineVersion) -> list[DefaultReserve]:
    """Return the reserve parameters ``engine`` ``version`` has, with their default values."""
    if engine == "postgres":
        return _postgres_defaults(version)
    if engine == "aurora-postgresql":
        return _aurora_defaults(version)
    return _self_managed_defaults(version)


def parameter_problem(engine: str, version: EngineVersion, parameter: str) -> tuple[str, str] | None:
    """Return (what is wrong, the fix) if ``parameter`` does not exist on ``engine`` ``version``, else None."""
    if parameter not in RESERVE_PARAMETERS or parameter == SUPERUSER:
        return None
    on = f"{engine} {version.text}"
    if parameter.startswith("rds.") and engine == "self-managed":
        return (f"{parameter} exists only on RDS and Aurora, not on a self-managed database",
                "remove it, or set the engine to postgres or aurora-postgresql")
    if parameter == RESERVED and version.major < 16:
        return (f"reserved_connections does not exist before PostgreSQL 16 (engine_version is {version.text})",
                'remove it, or set engine_version: "16" or later')
    if parameter == RDS_SUPERUSER and engine == "postgres" and version.major >= 16:
        return (f"rds.rds_superuser_reserved_connections does not exist on {on}: RDS removed it in 16, "
                "where PostgreSQL's reserved_connections keeps slots for rds_superuser",
                "set reserved_connections instead")
    if parameter == RDS_RESERVED and engine == "postgres" and not has_rds_reserved(version):
        since = RDS_RESERVED_SINCE.get(version.major)
        where = f"{version.major}.{since}" if since else "17.1, 16.5, 15.9, 14.14, 13.17 and 12.21"
        return (f"rds.rds_reserved_connections does not exist on {on}: RDS added it in {where}",
                f'remove it, or set engine_version to {where.split(",")[0]} or later' if since else "remove it")
    return None


def reserves_for(engine: str, version: EngineVersion, parameters: Mapping[str, int | str]) -> tuple[Reserve, ...]:
    """Return every reserve of an instance: the engine version's defaults, with the topology's overrides.

    A reserve parameter set in the topology that the version's defaults do not list (Aurora 16+ with
    ``rds.rds_superuser_reserved_connections``, whose existence there is unconfirmed) is added as
    written: counting it can only make ``usable`` smaller, never optimistic.
    """
    reserves: list[Reserve] = []
    listed: set[str] = set()
    for default in default_reserves(engine, version):
        listed.add(default.parameter)
        if default.parameter in parameters:
            reserves.append(Reserve(default.parameter, int(parameters[default.parameter]), SOURCE_SET))
        else:
            reserves.append(Reserve(default.parameter, default.value, SOURCE_DEFAULT, default.estimated, default.note))
    for parameter in RESERVE_PARAMETERS:
        if parameter in parameters and parameter not in listed and parameter_problem(engine, version, parameter) is None:
            reserves.append(Reserve(parameter, int(parameters[parameter]), SOURCE_SET))
    return tuple(reserves)


def version_note(engine: str, version: EngineVersion) -> str | None:
    """Return what a bare major version was taken to mean, for ``explain``; None for a full version."""
    if engine == "self-managed" or not version.newest_minor:
        return None
    if engine == "postgres" and version.major in RDS_RESERVED_SINCE:
        since = RDS_RESERVED_SINCE[version.major]
        return (f'engine_version "{version.text}" without a minor means its newest minor: the reserves of '
                f"{version.major}.{since} and later apply (write e.g. \"{version.major}.{since - 1}\" for an older minor)")
    return f'engine_version "{version.text}" without a minor means its newest minor'


__all__ = [
    "RDS_RESERVED",
    "RDS_SUPERUSER",
    "RESERVED",
    "RESERVE_PARAMETERS",
    "SUPERUSER",
    "EngineVersion",
    "Reserve",
    "DefaultReserve",
    "default_reserves",
    "has_rds_reserved",
    "parameter_problem",
    "parse_engine_version",
    "reserves_for",
    "version_note",
]
