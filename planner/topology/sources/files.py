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

from pathlib import Path

from planner.errors import InputError, Problem
from planner.topology.parse import MAX_FILE_BYTES, decode_bytes
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
        if full.is_file():
            return [str(full)]
        if not full.is_dir():
            raise SourceFileError([Problem(self.topology, "sources", f"{path}: no such file or folder",
                                           hint=f"paths in sources are relative to the topology's folder ({self.base}); check the path")])
        found = sorted(str(p) for p in full.rglob("*")
                       if p.is_file() and (not suffixes or p.suffix.lower() in suffixes))
        if len(found) > MAX_SOURCE_FILES:
            raise SourceFileError([Problem(self.topology, "sources", f"{path}: more than {MAX_SOURCE_FILES:,} files",
                                           hint="point sources at the rendered manifests or the plan, not a whole tree")])
        for name in found:  # a symlink in the folder that points out of the root is outside
            self.confine(Path(name), name)
        return found

    def beside(self, file: str, path: str) -> str:
        """Return ``path`` relative to the folder of ``file`` (a name :meth:`files` returned)."""
        return str(Path(file).parent / path)

    def read(self, path: str) -> str:
        """Return the text of ``path`` (a name :meth:`files` returned, or one relative to where planner runs);
        a file too large, binary or not UTF-8 is a :class:`SourceFileError`."""
        full = Path(path).expanduser()
        self.confine(full, path)
        try:
            size = full.stat().st_size
            if size > MAX_FILE_BYTES:
                raise SourceFileError([Problem(path, "", f"file too large ({size:,} bytes; the limit is {MAX_FILE_BYTES:,})",
                                               hint="point sources at the files that describe the deployment")])
            data = full.read_bytes()
        except OSError as e:
            raise SourceFileError([Problem(path, "", f"cannot read: {e.strerror or e}", hint="check the path and its permissions")]) from e
        try:
            return decode_bytes(data, path)
        except InputError as e:
            raise SourceFileError([p for p in e.problems if isinstance(p, Problem)]) from None
