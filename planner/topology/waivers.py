"""Validate the ``waivers`` section: breaches a team accepts, each with a reason and an expiry date.

A waiver turns a breach of one instance, of every instance of a database, or of a pooler (in one
scenario, or in all) into a warning until it expires; :mod:`planner.budget.gate` applies it. Here
only its shape is checked: what it names must exist, and a reason and a date are required, since a
waiver without them is a permanent silence nobody can trace.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from planner.model import SCENARIOS, Database, Waiver
from planner.topology.parsed import describe
from planner.topology.poolers import PoolerRules
from planner.topology.values import suggest

TARGET_KEYS = ("instance", "database", "pooler")
WAIVER_KEYS = (*TARGET_KEYS, "scenario", "reason", "expires")
EXAMPLE = "- {instance: main/writer, scenario: rollout, reason: 'resize booked, OPS-123', expires: 2026-12-31}"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class WaiverRules(PoolerRules):
    """Check the waivers of a topology against its databases, their instances and its poolers."""

    def waivers(self, data: dict[str, Any], databases: dict[str, Database | None] | None,
                pooler_names: list[str] | None) -> tuple[Waiver, ...]:
        """Check the ``waivers`` list (optional); return the valid ones (the others are problems)."""
        spec = data.get("waivers")
        if spec is None:
            return ()
        if not isinstance(spec, list):
            self.add("waivers", f"waivers must be a list, not {describe(spec)}", f"write e.g. waivers:\n  {EXAMPLE}")
            return ()
        waivers = []
        for index, item in enumerate(spec):
            waiver = self.waiver(item, f"waivers[{index}]", index, databases, pooler_names)
            if waiver is not None:
                waivers.append(waiver)
        return tuple(waivers)

    def waiver(self, spec: Any, path: str, index: int, databases: dict[str, Database | None] | None,
               pooler_names: list[str] | None) -> Waiver | None:
        """Check one waiver: exactly one target that exists, a scenario, a reason and an expiry date."""
        spec = self.mapping(spec, path, EXAMPLE.removeprefix("- "), null_ok=False)
        if spec is None:
            return None
        before = len(self.problems)
        self.check_keys(spec, path, WAIVER_KEYS)
        targets = [key for key in TARGET_KEYS if key in spec]
        target: tuple[str, str] | None = None
        if len(targets) != 1:
            named = " and ".join(targets) if targets else "none"
            self.add(path, f"a waiver names one instance, database or pooler (it names {named})",
                     "write instance: main/writer, database: main or pooler: bouncer")
        else:
            target = self.target(targets[0], spec[targets[0]], f"{path}.{targets[0]}", databases, pooler_names)
        scenario = None
        if "scenario" in spec:
            scenario = self.choice(spec["scenario"], f"{path}.scenario", SCENARIOS)
        reason = None
        if "reason" not in spec:
            self.missing(f"{path}.reason", "say why the breach is accepted and who follows it up, e.g. reason: 'resize booked, OPS-123'")
        else:
            reason = self.string(spec["reason"], f"{path}.reason", "reason: 'resize booked, OPS-123'")
        expires = None
        if "expires" not in spec:
            self.missing(f"{path}.expires", "give the last day it holds, e.g. expires: 2026-12-31")
        else:
            expires = self.day(spec["expires"], f"{path}.expires")
        if len(self.problems) > before or target is None or reason is None or expires is None:
            return None
        kind, name = target
        return Waiver(kind, name, scenario, reason.strip(), expires, index, self.line_of(path))  # type: ignore[arg-type]

    def target(self, key: str, value: Any, path: str, databases: dict[str, Database | None] | None,
               pooler_names: list[str] | None) -> tuple[str, str] | None:
        """Return (kind, name) of what a waiver covers, if it exists."""
        if key == "pooler":
            if pooler_names == [] and isinstance(value, str):
                self.add(path, f"unknown pooler {value!r}", "the topology has no poolers: name an instance or a database")
                return None
            name = self.reference(value, path, pooler_names, "pooler")
            return None if name is None else ("pooler", name)
        db_names = [n for n, db in databases.items() if db is not None] if databases is not None else None
        if key == "database":
            name = self.reference(value, path, db_names, "database")
            return None if name is None else ("database", name)
        text = self.string(value, path, "instance: main/writer")
        if text is None:
            return None
        database, _, role = text.partition("/")
        known = self.instances(databases)
        if known is not None and text not in known:
            hint = suggest(text, known, "instances") if known else "the topology has no database"
            if not role:
                hint = f"write {database}/writer or {database}/reader-N, or database: {database} for all its instances"
            self.add(path, f"unknown instance {text!r}", hint)
            return None
        return ("instance", text)

    @staticmethod
    def instances(databases: dict[str, Database | None] | None) -> list[str] | None:
        """Return every instance name (``main/writer``, ``main/reader-1``), as check's reports name them."""
        if databases is None:
            return None
        names = []
        for name, db in databases.items():
            if db is not None:
                names += [f"{name}/writer"] + [f"{name}/reader-{k}" for k in range(1, db.readers + 1)]
        return names

    def day(self, value: Any, path: str) -> date | None:
        """Return a date written as YAML/TOML's date or an ISO ``YYYY-MM-DD`` string (JSON has no dates)."""
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        self.add(path, f"expires must be a date (YYYY-MM-DD), not {describe(value)}", "write e.g. expires: 2026-12-31")
        return None
