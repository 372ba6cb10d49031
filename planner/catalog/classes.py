"""The :class:`Catalog`: the instance classes known to the planner, looked up by name, engine and family."""

from __future__ import annotations

import difflib
from typing import Iterator

from planner.errors import InputError
from planner.model import ENGINES, RDS_ENGINES, EngineMemory, InstanceClass


class CatalogLookupError(InputError):
    """An instance class or engine the catalogue does not know (an :class:`InputError`).

    Carries the pieces so that a caller that knows where the name was written (a topology file and
    line) can re-raise with that location.
    """

    def __init__(self, message: str, *, instance_class: str, engine: str | None = None,
                 suggestions: tuple[str, ...] = (), hint: str | None = None) -> None:  # fmt: skip
        self.instance_class = instance_class
        self.engine = engine
        self.suggestions = suggestions
        self.hint = hint
        self.detail = message
        super().__init__(f"{message} ({hint})" if hint else message)


def did_you_mean(options: list[str] | tuple[str, ...]) -> str:
    return "did you mean " + " or ".join(options) + "?"


def close_classes(name: str, names: list[str]) -> tuple[str, ...]:
    """Return the known class names closest to ``name`` (case and a missing ``db.`` forgiven)."""
    norm = name.strip().lower()
    if norm and not norm.startswith("db."):
        norm = "db." + norm
    if norm in names:
        return (norm,)
    return tuple(difflib.get_close_matches(norm, names, n=3, cutoff=0.6))


class Catalog:
    """The instance classes known to the planner, by name."""

    def __init__(self, classes: dict[str, InstanceClass], path: str) -> None:
        self._classes = dict(classes)
        self.path = path
        self._sorted = sorted(self._classes.values(), key=lambda c: (c.memory_gib, c.vcpu, c.instance_class))
        self._names = sorted(self._classes)

    def __len__(self) -> int:
        return len(self._classes)

    def __iter__(self) -> Iterator[InstanceClass]:
        return iter(self._sorted)

    def __contains__(self, instance_class: object) -> bool:
        return instance_class in self._classes

    def __repr__(self) -> str:
        return f"Catalog({len(self)} classes from {self.path!r})"

    def names(self) -> list[str]:
        """Return every class name, sorted alphabetically."""
        return list(self._names)

    def find(self, instance_class: str) -> InstanceClass | None:
        """Return the class called ``instance_class``, or None."""
        return self._classes.get(instance_class)

    def suggest(self, instance_class: str) -> tuple[str, ...]:
        """Return up to three known class names close to ``instance_class``."""
        return close_classes(instance_class, self._names)

    def get(self, instance_class: str) -> InstanceClass:
        """Return the class called ``instance_class``; :class:`InputError` (did you mean) if unknown."""
        found = self._classes.get(instance_class)
        if found is not None:
            return found
        suggestions = self.suggest(instance_class)
        hint = did_you_mean(suggestions) if suggestions else (
            "check the spelling (`planner catalog list` shows the classes), or describe the class in your "
            "own catalogue CSV and pass it with --catalog"
        )  # fmt: skip
        raise CatalogLookupError(
            f"unknown instance class {instance_class!r} (catalogue {self.path})",
            instance_class=instance_class,
            suggestions=suggestions,
            hint=hint,
        )

    def classes(self, engine: str | None = None, family: str | None = None) -> list[InstanceClass]:
        """Return the classes, sorted by memory, then vCPU, then name.

        ``engine`` keeps those that support it; ``family`` keeps one family or a comma-separated
        list of families ("m6g,r6g"). Unknown engines and families are an :class:`InputError`.
        """
        result = self._sorted
        if engine is not None:
            check_engine(engine)
            result = [c for c in result if c.supports(engine)]
        if family is not None:
            wanted = [f.strip() for f in family.split(",") if f.strip()]
            known = sorted({c.family for c in self._sorted})
            problems = []
            for name in wanted:
                if name not in known:
                    close = difflib.get_close_matches(name.lower(), known, n=3, cutoff=0.6)
                    hint = did_you_mean(close) if close else "families look like m6g, r6g, t4g"
                    problems.append(f"unknown instance family {name!r} in catalogue {self.path} ({hint})")
            if problems:
                raise InputError(problems)
            result = [c for c in result if c.family in wanted]
        return list(result)

    def dbicm(self, instance_class: str, engine: str) -> EngineMemory:
        """Return the DBInstanceClassMemory of ``instance_class`` under ``engine``.

        :class:`InputError` if the class is unknown or does not run ``engine`` (naming the engines
        it does support).
        """
        cls = self.get(instance_class)
        check_engine(engine)
        memory = cls.memory.get(engine)
        if memory is not None:
            return memory
        supported = [e for e in RDS_ENGINES if cls.supports(e)]
        if engine not in RDS_ENGINES:
            message = f"engine {engine} has no DBInstanceClassMemory: it is not an RDS engine"
            hint = "DBInstanceClassMemory exists on postgres and aurora-postgresql only"
        else:
            message = f"{instance_class} is not available for {engine} (catalogue {self.path})"
            if supported:
                hint = (f"{instance_class} supports {' and '.join(supported)}; "
                        f"change the engine or pick a class that runs {engine}")  # fmt: skip
            else:
                hint = f"{instance_class} supports no RDS PostgreSQL engine; pick a class that runs {engine}"
        raise CatalogLookupError(message, instance_class=instance_class, engine=engine, hint=hint)


def check_engine(engine: str) -> None:
    if engine in ENGINES:
        return
    close = difflib.get_close_matches(str(engine).lower(), ENGINES, n=2, cutoff=0.5)
    hint = did_you_mean(close) if close else "engines: " + ", ".join(ENGINES)
    raise CatalogLookupError(f"unknown engine {engine!r}", instance_class="", engine=engine, hint=hint)



__all__ = ["Catalog", "CatalogLookupError", "check_engine", "close_classes", "did_you_mean"]
