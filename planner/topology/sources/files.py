"""Read a topology's source files from disk, relative to the topology file.

:class:`DiskFiles` is the :class:`~planner.topology.sources.base.SourceFiles` of a topology on
disk. It names each file as the topology's own path does (``infra/deploy/web.yaml`` for
``deploy/web.yaml`` in ``infra/topology.yaml``), so a problem or a provenance line can be opened
from where planner ran; ``diff git:REF:PATH`` hands the resolver one that reads the same paths in a git revision
instead (:mod:`planner.adapters.git`). A folder means every file in it, recursively, with one of
the kind's suffixes, in sorted order, so two runs read the same documents in the same order.
"""

from __future__ import annotations

from pathlib import Path

from planner.errors import InputError, Problem
from planner.topology.parse import MAX_FILE_BYTES, decode_bytes
from planner.topology.sources.base import SourceFileError

# No deployment is described by more files than this; more means the path points at a whole disk.
MAX_SOURCE_FILES = 20_000


class DiskFiles:
    """Source files on disk; relative paths are taken from ``base`` (the topology's folder)."""

    def __init__(self, base: Path, topology: str) -> None:
        self.base = base
        self.topology = topology  # named in problems: the file whose `sources` lists the path

    def _path(self, path: str) -> Path:
        return Path(path) if Path(path).is_absolute() else self.base / path

    def files(self, path: str, suffixes: tuple[str, ...] = ()) -> list[str]:
        """Return ``path`` if it is a file, or the files under the folder ``path`` with one of ``suffixes``.

        The names returned are ``path`` joined to the topology's folder, which :meth:`read` takes.
        """
        full = self._path(path)
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
        return found

    def beside(self, file: str, path: str) -> str:
        """Return ``path`` relative to the folder of ``file`` (a name :meth:`files` returned)."""
        return str(Path(file).parent / path)

    def read(self, path: str) -> str:
        """Return the text of ``path`` (a name :meth:`files` returned, or one relative to where planner runs);
        a file too large, binary or not UTF-8 is a :class:`SourceFileError`."""
        full = Path(path)
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
