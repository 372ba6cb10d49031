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
from typing import Any, Literal, Mapping, NamedTuple, Protocol, Union

from planner.errors import Problem

Role = Literal["database", "service", "pooler"]
KINDS = ("kubernetes", "terraform", "compose")
# In a container's words (:attr:`Container.entrypoint`, :attr:`Container.args`), a variable the reader
# expanded but whose value planner cannot know (a Secret's) is written as its name between two of these:
# ``--workers=\x00WORKERS\x00``, so a flag that needs it is reported as unknown, naming the variable.
UNKNOWN_MARK = "\x00"


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


# The language of each family of Lambda runtime identifiers, by prefix
# (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html). ``provided`` (a custom runtime
# or an OS-only one, which Go and Rust functions use) says nothing of the language: it is not listed.
RUNTIME_LANGUAGES: tuple[tuple[str, str], ...] = (
    ("python", "python"),
    ("nodejs", "node"),
    ("java", "java"),
    ("ruby", "ruby"),
    ("dotnet", "dotnet"),
    ("go1.", "go"),
)


@dataclass(frozen=True)
class Container:
    """One process a workload runs, as the deployment describes it: what the recogniser reads.

    Every reader (Kubernetes, Compose, Terraform's Lambda functions and ECS task definitions) reduces
    what it reads to these, so that one recogniser (:mod:`planner.topology.sources.apps`), reading a
    table of known app servers and frameworks, turns any of them into processes, threads and a pool,
    whichever format the deployment is written in.

    ``entrypoint`` and ``args`` are the words as the container runs them, after the reader's own
    expansion (Kubernetes' ``$(VAR)``, Compose's ``${VAR}`` interpolation and shell-like splitting of
    a string); None means the image's own ``ENTRYPOINT``/``CMD``, which planner cannot see. A reader
    that knows the image's default is cleared (Compose clears ``CMD`` when ``entrypoint`` is set;
    Kubernetes ignores ``CMD`` when ``command`` is set) gives ``()`` instead of None. A variable the
    reader expands but cannot know is written between two :data:`UNKNOWN_MARK` characters.
    ``cpus`` is the container's CPU limit in cores (a number, possibly fractional), where the
    deployment sets one: what pins "one process per CPU" defaults (Celery) down. ``files`` maps a
    path inside the container to the text of a file mounted there that planner can read (a ConfigMap
    volume, a Compose bind mount): ``pgbouncer.ini``, ``gunicorn.conf.py``; an :class:`Unknown` where
    something is mounted there that planner cannot read (a Secret volume, a file outside the project).
    A path ending in ``/`` is a folder whose files planner cannot list (a Secret mounted whole, an
    ``emptyDir``): any file under it is unknown. ``one_shot`` marks a container that runs to completion before the others start (a Kubernetes init container, an ECS container that
    others wait for with ``dependsOn`` condition ``SUCCESS`` or ``COMPLETE``).

    A function on a serverless platform has no command line: ``runtime`` is the language runtime the
    platform runs its code in, as the deployment names it (a Lambda function's ``runtime``:
    ``python3.12``, ``nodejs20.x``, ``java21``; :attr:`language` says which language that is), and
    ``handler`` the function the platform calls (Lambda's ``handler``: ``app.lambda_handler``,
    ``index.handler``), which may name a framework's adapter. Both are None for a container that runs
    an image (a Lambda function packaged as an image gives ``image`` and, from its ``image_config``,
    ``entrypoint`` and ``args`` instead).
    """

    name: str
    image: str | None = None
    entrypoint: tuple[str, ...] | None = None
    args: tuple[str, ...] | None = None
    command_origin: Origin | None = None  # where entrypoint/args are written
    env: dict[str, Fact | Unknown] = field(default_factory=dict)
    env_unread: tuple[str, ...] = ()  # what may set variables planner cannot list ("Secret/db")
    cpus: Fact | Unknown | None = None
    files: Mapping[str, Fact | Unknown] = field(default_factory=dict)  # may read on lookup (a mounted folder)
    one_shot: bool = False
    runtime: Fact | None = None
    handler: Fact | None = None

    @property
    def language(self) -> str | None:
        """Return the language of :attr:`runtime` (``python3.12`` → ``python``), as the app server
        tables name languages; None without a runtime, or for one that names no language (a custom
        runtime, ``provided.al2023``)."""
        if self.runtime is None:
            return None
        name = str(self.runtime.value)
        return next((language for prefix, language in RUNTIME_LANGUAGES if name.startswith(prefix)), None)

    @property
    def command(self) -> tuple[str, ...] | None:
        """Return the words the container runs (entrypoint then args), or None if the image's
        entrypoint is unknown and no args are given; the args alone when only they are known."""
        if self.entrypoint is None:
            return self.args
        return self.entrypoint + (self.args or ())


@dataclass
class Found:
    """What one source object says about a topology entry.

    ``facts`` maps a key path relative to the entry (``replicas.max``, ``lambda.concurrency``,
    ``parameters.max_connections``) to its value. ``containers`` are the processes the object runs
    (:class:`Container`), each with its environment for ``{env: NAME}`` values; None when the object
    has no environment to read (an RDS database, a Lambda function whose variables are known only
    after apply). ``notes`` are things a reviewer should know that are not values
    ("reserved_concurrent_executions is -1: unreserved"). ``depends_on`` maps the other objects of the
    same source this one waits for (Compose ``depends_on`` and ``links``) to the condition it waits
    for (``service_started``, ``service_healthy``, ``service_completed_successfully``): evidence of
    which database or pooler a container talks to.
    """

    origin: Origin
    facts: dict[str, Value] = field(default_factory=dict)
    containers: tuple[Container, ...] | None = None
    notes: list[str] = field(default_factory=list)
    depends_on: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, dict[str, Fact | Unknown]] | None:
        """Return each container's environment by container name (None: the object has none)."""
        if self.containers is None:
            return None
        return {c.name: c.env for c in self.containers if not c.one_shot}

    @property
    def env_unread(self) -> dict[str, list[str]]:
        """Return, per container, what sets variables planner cannot list ("Secret/db" in an
        ``envFrom``): a variable missing from ``env`` may still be set by one of them."""
        return {c.name: list(c.env_unread) for c in self.containers or () if c.env_unread and not c.one_shot}

    @property
    def images(self) -> tuple[str, ...]:
        """Return the images the object's long-running containers run (how ``planner import`` tells a
        PostgreSQL client from a datastore); empty where the source says none (Terraform)."""
        return tuple(c.image for c in self.containers or () if c.image and not c.one_shot)

    def container(self, name: str) -> Container | None:
        """Return the container ``name``, if the object runs one by that name."""
        return next((c for c in self.containers or () if c.name == name), None)


@dataclass(frozen=True)
class External:
    """A host name that leads out of the deployment: a Kubernetes ``ExternalName`` Service.

    ``host`` is the DNS name it stands for (``orders.abc123.eu-west-1.rds.amazonaws.com``): a client
    whose ``DATABASE_URL`` names the Service reaches that host, which may be the database planner
    plans (an RDS endpoint) or something else entirely; ``origin`` is the Service's ``externalName``.
    """

    host: str
    origin: Origin


class Unplanned(NamedTuple):
    """A database the deployment describes whose engine planner does not plan (MySQL, Oracle, SQL Server, ...).

    ``engine`` is what the deployment says the database is: an RDS engine (``mysql``,
    ``aurora-mysql``, ``sqlserver-ee``), a container's image (``mysql:8.0``), or the engine and the
    operator of a database object planner does not read (``mysql (InnoDBCluster of MySQL Operator
    for Kubernetes, …)``, ``postgres (PostgresCluster of Crunchy PGO, …)``). ``planner import``
    names each in a note, so that no database of the deployment is dropped in silence.
    """

    ref: str  # what `from:` would name: "aws_db_instance.legacy", "compose/mysql"
    engine: str
    origin: Origin


class RefError(Exception):
    """A ``from:`` reference that does not resolve, with the fix (the closest names that exist)."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class SourceFileError(Exception):
    """A source file that cannot be read as its kind: the problems, each naming the file (and line).

    ``missing`` says the file is not there at all, which an optional file (a Compose ``.env``, an
    ``env_file`` with ``required: false``) may be; a file that is there but cannot be read may not.
    """

    def __init__(self, problems: list[Problem], missing: bool = False) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems
        self.missing = missing


class OutsideRoot(SourceFileError):
    """A path a topology or a source names that resolves outside the repository root.

    A topology in a pull request decides which files planner reads, and what planner reads can reach
    CI logs: so, as kustomize's default load restrictor does, planner reads only files under the
    topology's repository root unless ``--allow-outside-root`` says otherwise. ``written`` is the
    path as the topology or the source wrote it; a caller that knows where it was written (a Compose
    ``env_file`` line) re-states the problem there with :meth:`at`.
    """

    def __init__(self, written: str, root: str, file: str = "", key: str = "", line: int | None = None,
                 reason: str | None = None) -> None:
        self.written = written
        self.root = root
        self.reason = reason or f"resolves outside the repository root {root}: planner reads only files under it"
        self.hint = ("move the file, or pass --allow-outside-root" if reason is None
                     else "name a file inside the repository")
        super().__init__([Problem(file, key, f"{written}: {self.reason}", line, self.hint)])

    def at(self, file: str, key: str, line: int | None, written: str | None = None) -> Problem:
        """Return the problem as written at ``file:line``, key ``key`` (the path as that file spells it)."""
        return Problem(file, key, f"{written or self.written}: {self.reason}", line, self.hint)


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
    """How this run reads sources: ``--source KIND=PATH`` files on disk that replace what a topology's
    ``sources`` lists for a kind, ``--profile`` and ``--allow-outside-root``.

    A CI job renders the manifests of two branches into two folders and compares them with the
    same topology. Paths are relative to where planner runs, not to the topology.
    """

    paths: dict[str, tuple[str, ...]] = field(default_factory=dict)
    profiles: tuple[str, ...] | None = None  # --profile NAME: the Compose profiles to activate
    outside_root: bool = False  # --allow-outside-root: read files outside the topology's repository root too

    def __bool__(self) -> bool:
        return bool(self.paths) or self.profiles is not None


class Source(Protocol):
    """One kind of deployment source, indexed: answers what an object says."""

    kind: str  # one of KINDS

    def find(self, ref: str, role: Role) -> Found:
        """Return what the object ``ref`` says about a ``role`` entry; raise :class:`RefError` if none."""

    def names(self, role: Role) -> list[str]:
        """Return the references this source can resolve for a ``role`` entry (for imports and hints)."""

    def hosts(self) -> dict[str, str | External]:
        """Return the host names by which containers reach this source's objects, each mapped to the
        reference of the object that answers there: a Compose service's name, ``container_name``,
        ``hostname`` and network aliases; a Kubernetes Service's DNS names (``db``, ``db.prod``,
        ``db.prod.svc``, ``db.prod.svc.cluster.local``) to the workload its selector picks, or to the
        operator object behind it (a CloudNativePG ``Cluster`` for ``NAME-rw``). A name that leads
        out of the deployment (an ``ExternalName`` Service, which may name an RDS endpoint) maps to
        an :class:`External` with the host it stands for, never to a reference. Empty where the
        source knows no addresses (Terraform: an RDS endpoint is known only after apply). How a
        client is told from a bystander: its ``DATABASE_URL`` names the database's, or a pooler's, host."""

    def warnings(self) -> list[str]:
        """Return what is wrong in the files but does not stop planner from reading them (an
        autoscaler whose target is in none of the manifests): shown by ``check`` and ``import``."""

    def unplanned(self) -> list[Unplanned]:
        """Return the databases the files describe whose engine planner does not plan (an RDS for
        MySQL instance, an Aurora MySQL cluster, a ``mysql`` container), in file order: ``import``
        names each in a note. :meth:`names` does not list them for ``database``, and :meth:`find` on
        one raises :class:`RefError` saying its engine is not planned."""
