"""Read a topology file as it is in a git revision: ``git:REF:PATH``.

A CI job compares a pull request with its merge base without checking the base out:
``planner diff git:origin/main:infra/topology.yaml infra/topology.yaml``. This module runs
``git`` (argument lists, never a shell) in the repository of the current directory and turns
each way that can fail into one :class:`~planner.errors.InputError` line with the fix.

``PATH`` is from the repository's root, as ``git show REF:PATH`` reads it; ``./PATH`` is
relative to the current directory. The file format comes from ``PATH``'s suffix, and every
problem in the file names ``git:REF:PATH``.
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
import subprocess
from pathlib import Path, PurePosixPath

from planner.errors import InputError, Problem
from planner.model import Topology
from planner.topology import load_topology, parse_topology
from planner.topology.parse import FORMATS, MAX_FILE_BYTES, decode_bytes, too_large
from planner.topology.sources.base import OutsideRoot, SourceFileError, SourceOverrides
from planner.topology.sources.files import SOURCE_HINT, check_names, decode_source

__all__ = ["GIT_PREFIX", "GitFiles", "GitSpec", "is_git_spec", "load_topology_spec", "parse_git_spec", "read_topology_ref"]

GIT_PREFIX = "git:"
EXAMPLE = "git:origin/main:infra/topology.yaml"
# Local git commands answer in milliseconds; a minute means something is wrong (a lock, a hook).
GIT_TIMEOUT_SECONDS = 60


@dataclasses.dataclass(frozen=True)
class GitSpec:
    """A parsed ``git:REF:PATH``: the revision, the path inside it, and the spec as written."""

    ref: str
    path: str
    spec: str

    @property
    def object_name(self) -> str:
        """Return ``REF:PATH``, git's name for the file in that revision."""
        return f"{self.ref}:{self.path}"


def is_git_spec(spec: str) -> bool:
    """Return whether ``spec`` names a file in a git revision rather than on disk."""
    return spec.startswith(GIT_PREFIX)


def parse_git_spec(spec: str) -> GitSpec:
    """Split ``git:REF:PATH`` into its parts, refusing what git would misread (raises InputError)."""

    def fail(message: str) -> InputError:
        return InputError(Problem(spec, "", message, hint=f"write git:REF:PATH, e.g. {EXAMPLE}"))

    rest = spec[len(GIT_PREFIX):]
    # Refs cannot contain ':' (git check-ref-format), so the first one ends REF.
    ref, sep, path = rest.partition(":")
    if not sep:
        raise fail("no PATH after the revision")
    if not ref:
        raise fail("the revision is empty")  # git would read ":PATH" as the index, not a commit
    if not path:
        raise fail("the path is empty")
    if ref.startswith("-"):
        raise fail(f"the revision {ref!r} starts with '-'")  # git would take it for an option
    if any(ch in spec for ch in "\0\n\r"):
        raise fail("contains a NUL or line break")  # cat-file reads names line by line
    return GitSpec(ref, path, spec)


def _run(args: list[str], spec: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run ``git -C CWD ARGS`` and return the finished process; git missing or hung → InputError."""
    # English messages whatever the user's locale; no pager, no prompts.
    env = {**os.environ, "LC_ALL": "C", "LANGUAGE": "C", "GIT_TERMINAL_PROMPT": "0"}
    try:
        return subprocess.run(
            ["git", "--no-pager", "-C", str(cwd), *args],
            input=stdin, capture_output=True, env=env, timeout=GIT_TIMEOUT_SECONDS, check=False,
        )
    except FileNotFoundError:
        raise InputError(Problem(spec, "", "git is not installed (or not on PATH)", hint="install git, or check the file out and pass its path")) from None
    except subprocess.TimeoutExpired:
        raise InputError(Problem(spec, "", f"git did not answer within {GIT_TIMEOUT_SECONDS} s", hint="check for a stale .git/index.lock or a hung hook")) from None
    except OSError as exc:
        raise InputError(Problem(spec, "", f"cannot run git: {exc.strerror or exc}", hint="check that git is installed and executable")) from exc


def _fatal(result: subprocess.CompletedProcess[bytes]) -> str:
    """Return git's own one-line reason for a failure (its last 'fatal:' line, else its last line)."""
    lines = [line.strip() for line in result.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    fatal = [line.removeprefix("fatal: ") for line in lines if line.startswith("fatal: ")]
    return (fatal or lines or [f"git exited with {result.returncode}"])[-1]


def _fetch_hint(ref: str, spec: str, cwd: Path) -> str:
    """Return how to make ``ref`` known: CI clones are often shallow or hold a single branch."""
    if _run(["rev-parse", "--is-shallow-repository"], spec, cwd).stdout.strip() == b"true":
        return "this clone is shallow: run `git fetch --unshallow`, or check out with fetch-depth: 0 in GitHub Actions"
    remote, _, branch = ref.partition("/")
    remotes = _run(["remote"], spec, cwd).stdout.decode("utf-8", "replace").split()
    if branch and remote in remotes:
        return f"fetch it first: `git fetch {remote} {branch}`; in GitHub Actions, check out with fetch-depth: 0"
    return "check the name with `git branch -a` and `git tag`, or fetch it first; in GitHub Actions, check out with fetch-depth: 0"


def read_git_file(spec: str, cwd: str | Path | None = None) -> tuple[GitSpec, bytes]:
    """Return the bytes of the file ``git:REF:PATH`` names, read from the repository at ``cwd``.

    Each failure is one InputError naming the spec: no repository, an unknown revision, a path
    that is not in it (or is a directory), a file over the size limit, git missing.
    """
    parsed = parse_git_spec(spec)
    where = Path(cwd) if cwd is not None else Path.cwd()

    def fail(message: str, hint: str | None) -> InputError:
        return InputError(Problem(spec, "", message, hint=hint))

    repo = _run(["rev-parse", "--git-dir"], spec, where)
    if repo.returncode != 0:
        reason = _fatal(repo)
        if "not a git repository" in reason:
            raise fail(f"{where} is not in a git repository", "run planner from inside the repository, or pass file paths")
        raise fail(f"git cannot open the repository: {reason}", None)

    # ^{tree} accepts commits, tags and trees alike, and refuses anything else.
    rev = _run(["rev-parse", "--verify", "--quiet", f"{parsed.ref}^{{tree}}"], spec, where)
    if rev.returncode != 0:
        raise fail(f"unknown revision {parsed.ref!r} in the repository at {where}", _fetch_hint(parsed.ref, spec, where))

    # The object name goes in on stdin: nothing in it can be read as an option.
    check = _run(["cat-file", "--batch-check=%(objecttype) %(objectsize)"], spec, where, (parsed.object_name + "\n").encode())
    # "blob 1234" for a file; "REF:PATH missing" (or "ambiguous") otherwise.
    words = check.stdout.decode("utf-8", "replace").split()
    if check.returncode != 0 or len(words) != 2 or not words[1].isdigit():
        raise fail(
            f"{parsed.path!r} is not in {parsed.ref}",
            f"paths are from the repository's root, or ./PATH from the current directory; list them with `git ls-tree -r --name-only {parsed.ref}`",
        )
    kind, size = words
    if kind != "blob":
        raise fail(f"{parsed.path!r} is a {'directory' if kind == 'tree' else kind} in {parsed.ref}, not a file", "name the topology file itself")
    if int(size) > MAX_FILE_BYTES:
        raise fail(too_large(int(size)), "a topology is a few kilobytes: check that this is the right file")

    # --end-of-options (git >= 2.24): belt and braces over the '-' check in parse_git_spec
    shown = _run(["show", "--end-of-options", parsed.object_name, "--"], spec, where)
    if shown.returncode != 0:
        raise fail(f"git show failed: {_fatal(shown)}", None)
    return parsed, shown.stdout


def read_topology_ref(spec: str, cwd: str | Path | None = None, overrides: SourceOverrides | None = None) -> Topology:
    """Read, parse and validate the topology ``git:REF:PATH`` in the repository at ``cwd``.

    Problems in the file name ``git:REF:PATH`` with the line, as for a file on disk. The files its
    ``sources`` name are read in the same revision (``overrides`` replace them with files on disk).
    """
    parsed = parse_git_spec(spec)
    fmt = FORMATS.get(PurePosixPath(parsed.path).suffix.lower())
    if fmt is None:  # decided before running git: the spec alone is wrong
        raise InputError(Problem(spec, "", "cannot tell the file format from the path's suffix", hint="name a .yaml, .yml, .toml or .json file"))
    parsed, data = read_git_file(spec, cwd)
    files = GitFiles(parsed, Path(cwd) if cwd is not None else Path.cwd())
    topology = parse_topology(decode_bytes(data, spec), spec, fmt, files, overrides)
    # Without `name:`, the validator takes the stem of what it was given ("git:HEAD:topo");
    # the stem of PATH is what the same file on disk would be called.
    if topology.name == Path(spec).stem:
        topology = dataclasses.replace(topology, name=PurePosixPath(parsed.path).stem)
    return topology


def load_topology_spec(spec: str, cwd: str | Path | None = None, overrides: SourceOverrides | None = None) -> Topology:
    """Load a topology from a file path, or from ``git:REF:PATH``; ``overrides`` replace its sources' paths."""
    if is_git_spec(spec):
        return read_topology_ref(spec, cwd, overrides)
    return load_topology(Path(spec), overrides)


class GitFiles:
    """The files a topology's ``sources`` name, read in the revision the topology was read from.

    Paths are relative to the topology's folder in that revision; files are named
    ``git:REF:PATH`` in problems and provenance, as the topology is. One ``git cat-file --batch``
    reads all the files a source lists.
    """

    def __init__(self, topology: GitSpec, cwd: Path) -> None:
        self.topology = topology
        self.cwd = cwd
        self.cache: dict[str, bytes] = {}
        self.sizes: dict[str, int] = {}  # files over the size limit, never read: their size

    def _object(self, path: str) -> str:
        """Return the path inside the revision of ``path`` given relative to the topology's folder;
        one that leaves the repository (absolute, or ``..`` above its root) is :class:`OutsideRoot`."""
        folder = posixpath.dirname(self.topology.path)
        joined = posixpath.normpath(posixpath.join(folder, path))
        if _leaves(path, joined):
            raise self._outside(path, self.topology.spec, "sources")
        # git reads REF:./PATH from the current directory: keep the topology's ./ if it had one
        return "./" + joined if self.topology.path.startswith("./") and not joined.startswith("../") else joined

    def _outside(self, written: str, file: str, key: str) -> OutsideRoot:
        return OutsideRoot(written, self.topology.ref, file, key,
                           reason=f"leaves the repository in {self.topology.ref}: planner reads only the revision's files")

    def _name(self, inside: str) -> str:
        return f"{GIT_PREFIX}{self.topology.ref}:{inside}"

    def files(self, path: str, suffixes: tuple[str, ...] = ()) -> list[str]:
        """Return ``git:REF:PATH`` for the file ``path``, or for each file under the folder ``path``."""
        inside = self._object(path)
        check = _run(["cat-file", "--batch-check=%(objecttype)"], self.topology.spec, self.cwd,
                     f"{self.topology.ref}:{inside}\n".encode())
        kind = check.stdout.decode("utf-8", "replace").strip()
        if kind == "blob":
            self._fetch([inside])
            return [self._name(inside)]
        if kind != "tree":
            raise SourceFileError([Problem(self.topology.spec, "sources", f"{path}: not in {self.topology.ref} ({inside})",
                                           hint=f"list the revision's files with `git ls-tree -r --name-only {self.topology.ref}`")])
        listed = _run(["ls-tree", "-r", "-z", "--name-only", "--end-of-options", f"{self.topology.ref}:{inside}"],
                      self.topology.spec, self.cwd)
        names = sorted(posixpath.join(inside, n) for n in self._names(listed.stdout, inside)
                       if not suffixes or posixpath.splitext(n)[1].lower() in suffixes)
        self._fetch(names)
        return [self._name(n) for n in names]

    def _names(self, listing: bytes, inside: str) -> list[str]:
        """Return the file names of ``git ls-tree -z`` output under ``inside``, refusing any that
        :func:`check_names` refuses (cat-file would also misread a name holding a line break)."""
        names = [raw.decode("utf-8", "surrogateescape") for raw in listing.split(b"\0") if raw]
        return check_names(names, lambda name: self._name(posixpath.join(inside, name)))

    def _fetch(self, names: list[str]) -> None:
        """Read the blobs ``names`` (paths inside the revision) in one git call, into the cache.

        Their sizes are asked first: a blob over the size limit is never read (read() refuses it).
        """
        wanted = [n for n in names if self._name(n) not in self.cache and self._name(n) not in self.sizes]
        if not wanted:
            return
        request = "".join(f"{self.topology.ref}:{n}\n" for n in wanted).encode()
        checked = _run(["cat-file", "--batch-check=%(objecttype) %(objectsize)"], self.topology.spec, self.cwd, request)
        for name, line in zip(wanted, checked.stdout.decode("utf-8", "replace").splitlines()):
            kind, _, size = line.partition(" ")
            if kind == "blob" and size.isdigit() and int(size) > MAX_FILE_BYTES:
                self.sizes[self._name(name)] = int(size)
        wanted = [n for n in wanted if self._name(n) not in self.sizes]
        if not wanted:
            return
        request = "".join(f"{self.topology.ref}:{n}\n" for n in wanted).encode()
        out = _run(["cat-file", "--batch"], self.topology.spec, self.cwd, request).stdout
        at = 0
        for name in wanted:
            end = out.index(b"\n", at)
            header = out[at:end].split()
            at = end + 1
            if len(header) != 3 or header[1] != b"blob":
                continue  # missing: read() reports it
            size = int(header[2])
            self.cache[self._name(name)] = out[at:at + size]
            at += size + 1

    def beside(self, file: str, path: str) -> str:
        """Return ``git:REF:PATH`` for ``path`` relative to the folder of ``file`` (``git:REF:...``), read ahead."""
        inside = file[len(self._name("")):]
        joined = posixpath.normpath(posixpath.join(posixpath.dirname(inside), path))
        if not _leaves(path, joined):  # read() refuses one that does
            self._fetch([joined])
        return self._name(joined)

    def read(self, path: str) -> str:
        """Return the text of a file :meth:`files` or :meth:`beside` named (``git:REF:PATH``)."""
        inside = path[len(self._name("")):] if path.startswith(self._name("")) else path
        if _leaves(inside, posixpath.normpath(inside)):
            raise self._outside(inside, self.topology.spec, "sources")
        if path in self.sizes:
            raise SourceFileError([Problem(path, "", too_large(self.sizes[path]), hint=SOURCE_HINT)])
        data = self.cache.get(path)
        if data is None:
            raise SourceFileError([Problem(path, "", "not in the revision", hint="check the path in sources")], missing=True)
        return decode_source(data, path)


def _leaves(written: str, joined: str) -> bool:
    """Return whether a path (``written``, ``joined`` to the folder it is relative to and normalized)
    leaves the repository's tree: absolute, from a home folder, or ``..`` above the root."""
    return posixpath.isabs(written) or written.startswith("~") or joined == ".." or joined.startswith("../")
