"""Validate ``lints``: warnings a team has read and acknowledged, at the top or per service.

``lints: {ignore: [pool-above-concurrency, estimated], reason: "threads are async; SHOW max_connections
is in the runbook"}`` at the top of a topology covers every warning of those codes; the same key under
a service covers that service's warnings only. A reason is required, as for a waiver: an
acknowledgement nobody can trace is a silence. Acknowledged warnings are counted in one line of
``check``'s output instead of listed; the arithmetic and the exit code never change.
"""

from __future__ import annotations

from typing import Any

from planner.model import LINT_CODES, LintIgnore
from planner.topology.values import suggest
from planner.topology.waivers import WaiverRules

LINTS_KEYS = ("ignore", "reason")
EXAMPLE = 'lints: {ignore: [pool-above-concurrency], reason: "reviewed in OPS-42: the workers are async"}'


class LintIgnoreRules(WaiverRules):
    """Check the ``lints`` keys of a topology and of its services."""

    def lint_ignores(self, data: dict[str, Any]) -> tuple[LintIgnore, ...]:
        """Return every valid acknowledgement: the top-level one, then each service's, in the file's order."""
        found: list[LintIgnore] = []
        top = self.lint_ignore(data.get("lints"), "lints", None)
        if top is not None:
            found.append(top)
        services = data.get("services")
        if isinstance(services, dict):
            for name, spec in services.items():
                if isinstance(spec, dict) and "lints" in spec:
                    one = self.lint_ignore(spec["lints"], f"services.{name}.lints", str(name))
                    if one is not None:
                        found.append(one)
        return tuple(found)

    def lint_ignore(self, spec: Any, path: str, service: str | None) -> LintIgnore | None:
        """Check one ``lints`` mapping: known codes to ignore and a reason."""
        if spec is None:
            return None
        spec = self.mapping(spec, path, EXAMPLE.removeprefix("lints: "), null_ok=False)
        if spec is None:
            return None
        before = len(self.problems)
        self.check_keys(spec, path, LINTS_KEYS)
        codes = spec.get("ignore")
        if not isinstance(codes, list) or not codes:
            self.add(f"{path}.ignore", "ignore lists the warning codes to acknowledge",
                     f"write e.g. {EXAMPLE} (the codes: docs/topology.md#warnings)")
            codes = []
        for index, code in enumerate(codes):
            if code not in LINT_CODES:
                self.add(f"{path}.ignore[{index}]", f"unknown warning code {code!r}", suggest(str(code), LINT_CODES, "codes"))
        reason = None
        if "reason" in spec:
            reason = self.string(spec["reason"], f"{path}.reason", 'reason: "reviewed in OPS-42: the workers are async"')
        else:
            self.add(f"{path}.reason", "an acknowledgement needs a reason, as a waiver does", f"write e.g. {EXAMPLE}")
        if len(self.problems) > before or reason is None:
            return None
        return LintIgnore(tuple(str(c) for c in codes), reason, service, path)
