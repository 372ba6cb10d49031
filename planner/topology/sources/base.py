"""What every deployment source shares: where a value came from, what an object says, how it fails.

A topology may take its numbers from what is deployed (``sources:`` and ``from:``, see
docs/topology.md). Each source reader (:mod:`~planner.topology.sources.kubernetes`,
:mod:`~planner.topology.sources.terraform`, :mod:`~planner.topology.sources.compose`) indexes its
files once and answers one question, :meth:`Source.find`: what does the object named ``ref`` say
about a database, a service or a pooler? The answer, :class:`Found`, is written in the topology's
own keys (``replicas.max``, ``parameters.max_connections``), each value with its :class:`Origin`,
so the resolver (:mod:`~planner.topology.sources.resolve`) can merge it into the file as if the
user had typed it, and ``explain`` and the report can say where every number came from.

This module imports nothing of the topology schema: the readers build on it, the resolver builds on
the readers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, Union

from planner.errors import Problem

Role = Literal["database", "service", "pooler"]
KINDS = ("kubernetes", "terraform", "compose")


@dataclass(frozen=True)
class Origin:
    """Where a value came from: the object that says it, its field, and its file and line."""

    what: str  # the object as its source names it: "HorizontalPodAutoscaler/web", "aws_db_instance.main"
    file: str  # the file as the topology names it (relative to the topology): "deploy/rendered/web.yaml"
    line: int | None = None
    field: str | None = None  # the field inside the object: "spec.maxReplicas"

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        what = f"{self.what} {self.field}" if self.field else self.what
        return f"{what}, {where}"


@dataclass(frozen=True)
class Fact:
    """A value a source gives, as a topology would write it (int, string, "25%"), with its origin."""

    value: Any
    origin: Origin


@dataclass(frozen=True)
class Unknown:
    """A value a source holds but cannot give: known only after apply, or kept in a Secret.

    The resolver turns it into an input error at the key that needs it, unless the topology
    writes that key itself.
    """

    origin: Origin
    reason: str  # "is known only after apply", "comes from Secret/db (planner does not read Secrets)"


@dataclass(frozen=True)
class Link:
    """A value naming another source object (an RDS Proxy's target database).

    The resolver replaces it with the name of the topology entry whose ``from`` names ``ref``.
    """

    ref: str
    origin: Origin


Value = Union[Fact, Unknown, Link]


@dataclass
class Found:
    """What one source object says about a topology entry.

    ``facts`` maps a key path relative to the entry (``replicas.max``, ``lambda.concurrency``,
    ``parameters.max_connections``) to its value. ``env`` maps each container (or the one
    process, for sources without containers) to its environment, for ``{env: NAME}`` values;
    None when the object has no environment. ``notes`` are things a reviewer should know that
    are not values ("reserved_concurrent_executions is -1: unreserved"). ``env_unread`` maps a
    container to what sets variables planner cannot list ("Secret/db" in a Kubernetes ``envFrom``):
    a variable missing from ``env`` may still be set by one of them. ``images`` are the container
    images the object runs (how ``planner import`` tells a PostgreSQL client from a datastore);
    empty where the source says none (Terraform).
    """

    origin: Origin
    facts: dict[str, Value] = field(default_factory=dict)
    env: dict[str, dict[str, Fact | Unknown]] | None = None
    notes: list[str] = field(default_factory=list)
    env_unread: dict[str, list[str]] = field(default_factory=dict)
    images: tuple[str, ...] = ()


class RefError(Exception):
    """A ``from:`` reference that does not resolve, with the fix (the closest names that exist)."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class SourceFileError(Exception):
    """A source file that cannot be read as its kind: the problems, each naming the file (and line)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


class SourceFiles(Protocol):
    """How a source reads its files: from disk, or from a git revision (``diff git:REF:PATH``)."""

    def files(self, path: str, suffixes: tuple[str, ...] = ()) -> list[str]:
        """Return the files ``path`` names: itself, or a folder's files with one of ``suffixes``
        (".yaml"; none: all) in sorted order, recursively.

        Raises :class:`SourceFileError` if nothing is there.
        """

    def read(self, path: str) -> str:
        """Return the text of the file ``path`` (as :meth:`files` or :meth:`beside` returned it)."""

    def beside(self, file: str, path: str) -> str:
        """Return the name :meth:`read` takes for ``path`` relative to the folder of ``file`` (a Compose env_file)."""


@dataclass(frozen=True)
class SourceOverrides:
    """``--source KIND=PATH``: files on disk that replace what a topology's ``sources`` lists for a kind.

    A CI job renders the manifests of two branches into two folders and compares them with the
    same topology. Paths are relative to where planner runs, not to the topology.
    """

    paths: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.paths)


class Source(Protocol):
    """One kind of deployment source, indexed: answers what an object says."""

    kind: str  # one of KINDS

    def find(self, ref: str, role: Role) -> Found:
        """Return what the object ``ref`` says about a ``role`` entry; raise :class:`RefError` if none."""

    def names(self, role: Role) -> list[str]:
        """Return the references this source can resolve for a ``role`` entry (for imports and hints)."""
