"""Turn a topology file into plain Python values plus a key path -> line index.

This module knows files, not the topology schema: it reads bytes safely (size, binary, encoding),
tells the format from the suffix, and hands the text to the YAML, TOML or JSON reader
(:mod:`planner.topology.read_yaml`, :mod:`planner.topology.read_toml`, :mod:`planner.topology.read_json`).
Each reader rejects duplicate keys, enforces the limits of :mod:`planner.topology.parsed` and
records the 1-based line of every key path it sees (``services.web.replicas``,
``services.web.environments[1]``). :mod:`planner.topology` validates the values.
"""

from __future__ import annotations

import errno
import importlib
import os
import stat
from dataclasses import replace
from pathlib import Path
from typing import Callable

from planner.errors import InputError, Problem
from planner.topology.parsed import (
    MAX_ALIAS_NODES,
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_NODES,
    ParsedFile,
    ParseResult,
    StopParsing,
    describe,
    gc_paused,
    join_path,
    short_text,
)

__all__ = [
    "FORMATS", "MAX_ALIAS_NODES", "MAX_DEPTH", "MAX_FILE_BYTES", "MAX_NODES", "ParsedFile",
    "Unreadable", "decode_bytes", "describe", "detect_format", "gc_paused", "join_path", "parse_text",
    "read_bounded", "read_text", "short_text", "too_large",
]

FORMATS: dict[str, str] = {".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".json": "json"}
SUFFIXES: dict[str, str] = {"yaml": ".yaml", "toml": ".toml", "json": ".json"}
# Keys only a topology has at its top: text that parses into a mapping with one of them is one.
TOPOLOGY_KEYS = ("version", "databases", "services")

# --------------------------------------------------------------------------- reading


def detect_format(filename: str, fmt: str | None, text: str | None = None) -> str:
    """Return "yaml", "toml" or "json" for ``fmt`` or, if None, for the filename's suffix.

    Without a known suffix, ``text`` (when given) is looked at to say which name to give the file.
    """
    if fmt is not None:
        if fmt.lower() in ("yaml", "toml", "json"):
            return fmt.lower()
        raise InputError(Problem(filename, "", f"unknown format {fmt!r}", hint="use yaml, toml or json"))
    suffix = Path(filename).suffix.lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    what = f"suffix {suffix!r}" if suffix else "no suffix"
    looks = sniff_format(text, None) if text is not None else None
    hint = (f"this looks like {looks.upper()}: rename it to {Path(filename).stem}{SUFFIXES[looks]}" if looks
            else "name the file .yaml, .yml, .toml or .json")
    raise InputError(Problem(filename, "", f"cannot tell the file format: {what}", hint=hint))


def sniff_format(text: str, not_format: str | None) -> str | None:
    """Return the format other than ``not_format`` that reads ``text`` as a topology, or None.

    Only called once the file's own format failed, so the cost of reading it again does not
    matter. JSON is tried first and YAML last: YAML reads JSON too, and JSON text is JSON.
    """
    for fmt in ("json", "toml", "yaml"):
        reader = _reader(fmt)
        if fmt == not_format:
            continue
        if fmt == "yaml" and not_format == "json" and text.lstrip().startswith(("{", "[")):
            continue  # broken JSON that YAML happens to read is still JSON to fix, not YAML
        try:
            with gc_paused():
                data, _, _ = reader(text, "")
        except (StopParsing, InputError, ValueError, RecursionError):
            continue  # not this format either
        if isinstance(data, dict) and any(key in data for key in TOPOLOGY_KEYS):
            return fmt
    return None


def _with_format_hint(problem: Problem, text: str, fmt: str) -> Problem:
    """Return ``problem`` with "this looks like TOML: rename it" when the text is another format."""
    looks = sniff_format(text, fmt)
    if looks is None:
        return problem
    name = Path(problem.file)
    hint = (f"this looks like {looks.upper()}, not {fmt.upper()}: rename it to {name.stem}{SUFFIXES[looks]}; "
            "the format follows the file's suffix")
    return replace(problem, hint=hint)


class Unreadable(Exception):
    """A file :func:`read_bounded` refused: ``reason`` is "missing", "link", "directory", "special",
    "large" or "os"; ``message`` says it in words."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def too_large(size: int) -> str:
    """Return the message for a file of ``size`` bytes over :data:`MAX_FILE_BYTES`: its size and the limit."""
    return f"file is too large ({size / 2**20:.1f} MiB; the limit is {MAX_FILE_BYTES // 2**20} MiB)"


def _nonblocking(path: str, flags: int) -> int:
    # a FIFO opens at once instead of waiting for a writer; a regular file reads the same either way
    return os.open(path, flags | os.O_NONBLOCK)


def read_bounded(path: Path) -> bytes:
    """Return the bytes of the regular file at ``path``; raise :class:`Unreadable` for anything else.

    What is not a regular file (a folder, a FIFO that would wait for a writer, ``/dev/zero`` that
    never ends) and a file over :data:`MAX_FILE_BYTES` are refused from their metadata, before a
    byte is read; the read itself stops at the limit, for a file that grows or lies about its size
    (``/proc`` files say 0).
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise Unreadable("link", f"a symbolic link to nothing ({os.readlink(path)} does not exist)") from None
        raise Unreadable("missing", "file not found") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise Unreadable("link", "a symbolic link that loops (it leads back to itself)") from None
        raise Unreadable("os", f"cannot read the file: {e.strerror or e}") from None
    if stat.S_ISDIR(st.st_mode):
        raise Unreadable("directory", "is a directory")
    if not stat.S_ISREG(st.st_mode):
        raise Unreadable("special", "not a regular file (a FIFO, device or socket)")
    if st.st_size > MAX_FILE_BYTES:
        raise Unreadable("large", too_large(st.st_size))
    try:
        with open(path, "rb", opener=_nonblocking) as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # replaced since the stat above
                raise Unreadable("special", "not a regular file (a FIFO, device or socket)")
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise Unreadable("os", f"cannot read the file: {e.strerror or e}") from None
    if len(data) > MAX_FILE_BYTES:
        raise Unreadable("large", f"file is larger than {MAX_FILE_BYTES // 2**20} MiB")
    return data


def read_text(path: Path) -> str:
    """Read a topology file as UTF-8 text, refusing what is not one (raises InputError)."""
    hints = {
        "missing": "check the path",
        "directory": "give the path of a .yaml, .toml or .json file",
        "special": "give the path of a .yaml, .toml or .json file",
        "large": "a topology is a few kilobytes: check that this is the right file",
    }
    try:
        data = read_bounded(path)
    except Unreadable as e:
        message = "is a directory, not a topology file" if e.reason == "directory" else e.message
        raise InputError(Problem(str(path), "", message, hint=hints.get(e.reason))) from None
    return decode_bytes(data, str(path))


# What a binary file most often is, by its first bytes: named, the fix is plain.
_MAGIC = ((b"\x1f\x8b", "a gzip-compressed file", "decompress it (gunzip)"),
          (b"PK\x03\x04", "a zip archive", "extract it"),
          (b"\x89PNG", "a PNG image", None))


def decode_bytes(data: bytes, filename: str, what: str = "a topology",
                 hint: str = "give the path of a .yaml, .toml or .json text file") -> str:
    """Decode file bytes as UTF-8 (a BOM is allowed); binary or other encodings raise InputError.

    ``what`` names what the file should have been ("a topology", "text") and ``hint`` where to
    point instead, in the problem for a binary file.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(
            Problem(filename, "", "file is UTF-16, not UTF-8", hint="save the file as UTF-8")
        )
    for magic, kind, fix in _MAGIC:
        if data.startswith(magic):
            raise InputError(Problem(filename, "", f"{kind}, not {what}", line=1,
                                     hint=f"{fix}, or {hint}" if fix else hint))
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise InputError(
            Problem(filename, "", f"binary file (contains NUL bytes), not {what}", line=line, hint=hint)
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise InputError(
            Problem(filename, "", f"not valid UTF-8: byte 0x{data[e.start]:02X} at column {column}",
                    line=line, hint="save the file as UTF-8")
        ) from None
    return text.removeprefix("\ufeff")


# --------------------------------------------------------------------------- dispatch


def _reader(fmt: str) -> Callable[[str, str], ParseResult]:
    """Return the parser of ``fmt`` ("yaml", "toml" or "json"), imported on first use: a YAML topology
    does not pay for the TOML and JSON readers at every start-up of the CI gate."""
    module = importlib.import_module(f"planner.topology.read_{fmt}")
    reader: Callable[[str, str], ParseResult] = getattr(module, f"parse_{fmt}")
    return reader


def parse_text(text: str, filename: str, fmt: str) -> ParsedFile:
    """Parse ``text`` in format ``fmt`` into a mapping and its key lines (raises InputError)."""
    if not text.strip():
        raise InputError(_empty(filename))
    try:
        with gc_paused():
            data, lines, problems = _reader(fmt)(text, filename)
    except StopParsing as e:
        raise InputError(_with_format_hint(e.problem, text, fmt)) from None
    if data is None:
        raise InputError(_empty(filename))
    if not isinstance(data, dict):
        raise InputError(_with_format_hint(
            Problem(filename, "", f"the top level must be a mapping of keys, not {describe(data)}",
                    line=1, hint="start the file with `version: 1`, then databases and services"),
            text, fmt))
    return ParsedFile(data, lines, problems)


def _empty(filename: str) -> Problem:
    return Problem(filename, "", "file is empty",
                   hint="a topology needs at least `version: 1`, databases and services")
