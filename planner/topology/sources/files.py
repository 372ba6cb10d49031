"""Read a topology's source files from disk, relative to the topology file.

:class:`DiskFiles` is the :class:`~planner.topology.sources.base.SourceFiles` of a topology on
disk. It names each file as the topology's own path does (``infra/deploy/web.yaml`` for
``deploy/web.yaml`` in ``infra/topology.yaml``), so a problem or a provenance line can be opened
from where planner ran; ``diff git:REF:PATH`` hands the resolver one that reads the same paths in a git revision
instead (:mod:`planner.adapters.git`). A folder means every file in it, recursively, with one of
the kind's suffixes, in sorted order, so two runs read the same documents in the same order.

Every path is confined to the topology's repository root (:func:`repository_root`): a topology in a
pull request decides which files planner reads, and what planner reads can reach CI logs, so a
path that resolves outside the root (``../../``, ``/etc/passwd``, a symlink inside the root that
points out of it) is an :class:`~planner.topology.sources.base.OutsideRoot` problem, as kustomize's
default load restrictor refuses it; ``--allow-outside-root`` lifts the limit for one run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from planner.errors import InputError, Problem
from planner.topology.parse import Unreadable, decode_bytes, read_bounded
from planner.topology.sources.base import OutsideRoot, SourceFileError

# No deployment is described by more files than this; more means the path points at a whole disk.
MAX_SOURCE_FILES = 20_000


def repository_root(path: Path) -> Path:
    """Return the root planner confines a topology's (or a source's) files to: the git work tree
    ``path`` lives in, else its folder (``path`` itself if it is a folder), with symlinks resolved.

    A folder that does not exist yet (``planner import -o deploy/shop.yaml``) is its own root unless
    an existing folder above it is in a work tree.
    """
    start = path.expanduser().resolve()
    if not start.is_dir() and (start.exists() or start.suffix):
        start = start.parent
    for folder in (start, *start.parents):
        if (folder / ".git").exists():  # a folder, or a file in a linked work tree or a submodule
            return folder
    return start


class DiskFiles:
    """Source files on disk; relative paths are taken from ``base`` (the topology's folder).

    ``roots`` are the folders every file read must resolve under (default: the repository root of
    ``base``); ``confined=False`` (``--allow-outside-root``) reads any path.
    """

    def __init__(self, base: Path, topology: str, roots: tuple[Path, ...] = (), confined: bool = True) -> None:
        self.base = base
        self.topology = topology  # named in problems: the file whose `sources` lists the path
        self.roots: tuple[Path, ...] | None = None
        if confined:
            self.roots = tuple(r.resolve() for r in roots) or (repository_root(base),)

    def _path(self, path: str) -> Path:
        full = Path(path).expanduser()  # Compose reads ~/x as the home folder's: so must the check
        return full if full.is_absolute() else self.base / full

    def confine(self, full: Path, written: str, file: str | None = None, key: str = "sources") -> None:
        """Raise :class:`OutsideRoot` if ``full`` (``written`` as the topology or a source wrote it)
        resolves, symlinks followed, outside every root; ``file`` and ``key`` say where it was written."""
        if self.roots is None:
            return
        try:
            real = full.resolve()
        except (OSError, RuntimeError):  # a symlink loop: nothing to read there, inside or out
            return
        if not any(real == root or real.is_relative_to(root) for root in self.roots):
            raise OutsideRoot(written, str(self.roots[0]), self.topology if file is None else file, key)

    def files(self, path: str, suffixes: tuple[str, ...] = ()) -> list[str]:
        """Return ``path`` if it is a file, or the files under the folder ``path`` with one of ``suffixes``.

        The names returned are ``path`` joined to the topology's folder, which :meth:`read` takes.
        """
        full = self._path(path)
        self.confine(full, path)
        if not full.is_dir():
            if not os.path.lexists(full):
                raise SourceFileError([Problem(self.topology, "sources", f"{path}: no such file or folder",
                                               hint=f"paths in sources are relative to the topology's folder ({self.base}); check the path")])
            return check_names([str(full)])  # not a regular file, a link to nothing: read() says which
        # rglob does not descend into linked folders (a link to `..` cannot loop); whatever else has the
        # suffix is listed (a FIFO, a link to nothing or one that loops), so that read() reports it
        # instead of skipping it silently
        found = sorted(str(p) for p in full.rglob("*") if (not suffixes or p.suffix.lower() in suffixes) and not p.is_dir())
        if len(found) > MAX_SOURCE_FILES:
            raise SourceFileError([Problem(self.topology, "sources", f"{path}: more than {MAX_SOURCE_FILES:,} files",
                                           hint="point sources at the rendered manifests or the plan, not a whole tree")])
        for name in found:  # a symlink in the folder that points out of the root is outside
            self.confine(Path(name), name)
        return check_names(found)

    def beside(self, file: str, path: str) -> str:
        """Return ``path`` relative to the folder of ``file`` (a name :meth:`files` returned)."""
        return str(Path(file).parent / path)

    def read(self, path: str) -> str:
        """Return the text of ``path`` (a name :meth:`files` returned, or one relative to where planner runs);
        a path outside the root is :class:`OutsideRoot`; a file that is not a regular one, too large, binary
        or not UTF-8 is a :class:`SourceFileError`."""
        full = Path(path).expanduser()
        self.confine(full, path)
        return read_source(full, path)


def check_names(names: list[str], shown: Callable[[str], str] = str) -> list[str]:
    """Return ``names``, refusing any that is not valid UTF-8 or holds a control character (raises
    :class:`SourceFileError`, one problem each, the name ``shown`` with its bytes escaped).

    Every file planner reads is named in its problems, provenance and reports: those are UTF-8
    (a Latin-1 ``caf\\xe9.yaml`` could not be written there) and one line per problem (a name
    with a line break would split one).
    """
    problems = []
    for name in names:
        try:
            name.encode("utf-8")
            if not any(ch < " " or ch == "\x7f" for ch in name):
                continue
        except UnicodeEncodeError:
            pass
        escaped = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")  # \xe9
        escaped = "".join(f"\\x{ord(ch):02x}" if ch < " " or ch == "\x7f" else ch for ch in escaped)  # \x0a
        problems.append(Problem(shown(escaped), "", "file name is not valid UTF-8 or holds a control character",
                                hint="rename the file (planner names each file it reads in its output)"))
    if problems:
        raise SourceFileError(problems)
    return names


# A file the sources name should be text: what to point at instead of a binary file.
SOURCE_HINT = "point sources at the rendered manifests, the plan's JSON or the Compose files"


def read_source(full: Path, name: str) -> str:
    """Return the text of the source file ``full`` (named ``name`` in problems), within planner's limits.

    A FIFO or device (an ``env_file`` that would block or never end) and a file over the size
    limit are refused before reading; raises :class:`SourceFileError`.
    """
    try:
        data = read_bounded(full)
    except Unreadable as e:
        hints = {"link": "fix the link, or remove it", "os": "check the path and its permissions",
                 "special": "replace it with a regular file", "directory": "name a file"}
        hint = hints.get(e.reason, SOURCE_HINT)
        raise SourceFileError([Problem(name, "", e.message, hint=hint)], missing=e.reason == "missing") from None
    return decode_source(data, name)


def decode_source(data: bytes, name: str) -> str:
    """Decode a source file's bytes as UTF-8 text; binary or another encoding is a :class:`SourceFileError`."""
    try:
        return decode_bytes(data, name, "text", SOURCE_HINT)
    except InputError as e:
        raise SourceFileError([p for p in e.problems if isinstance(p, Problem)]) from None
