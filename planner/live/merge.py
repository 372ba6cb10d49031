"""Write what ``import rds`` found into a topology file, keeping the user's text.

The databases and proxies imported replace their own entries (keeping keys AWS does not know, such
as ``headroom`` or a proxy's ``clients``); every other line of the file (services, environments,
other databases, comments) is kept as written. A new file gets a header saying where it came from.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

from planner.errors import InputError
from planner.live.rds_import import DATABASE_KEYS, PROXY_CARRIED, Imported

_KEY = re.compile(r"""^(?P<indent> *)(?P<key>"[^"\n]*"|'[^'\n]*'|[A-Za-z0-9_.$@/][^:#\n]*?)[ \t]*:(?:[ \t]+(?P<rest>.*)|)$""")


def _filler(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _blocks(lines: list[str], start: int, end: int, indent: int) -> list[tuple[str, int, int]]:
    """Return (key, first line, end) of each mapping entry at ``indent`` in ``lines[start:end]``.

    An entry ends where the next one starts, less the blank and comment lines before it.
    """
    heads = []
    for i in range(start, end):
        match = _KEY.match(lines[i].rstrip("\r\n"))
        if match and len(match["indent"]) == indent:
            heads.append((match["key"].strip("'\""), i))
    blocks = []
    for n, (key, i) in enumerate(heads):
        stop = heads[n + 1][1] if n + 1 < len(heads) else end
        while stop > i + 1 and _filler(lines[stop - 1]):
            stop -= 1
        blocks.append((key, i, stop))
    return blocks


def _render(name: str, body: Mapping[str, Any], indent: int, comment: str = "", prefix: str | None = None) -> list[str]:
    """Return an entry as YAML lines at ``indent``; with ``prefix`` ("  # "), commented out."""
    import yaml

    class Dumper(yaml.SafeDumper):  # block mappings, flow lists: `clients: [web]` as people write it
        pass

    Dumper.add_representer(list, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))
    text = yaml.dump({name: dict(body)}, Dumper=Dumper, sort_keys=False, default_flow_style=False, width=100,
                     allow_unicode=True)  # fmt: skip
    lines = text.splitlines()
    if prefix is None:
        if comment:
            lines[0] += f"  # {comment}"
        return [" " * indent + line + "\n" for line in lines]
    return [f"{prefix}{line}\n" for line in lines]


def _commented(entries: Mapping[str, Mapping[str, Any]], indent: int, section: bool) -> list[str]:
    """Return proxies without clients as commented-out entries, each after a line saying what to do."""
    out: list[str] = []
    for key, body in entries.items():
        note = f"RDS Proxy {key} (imported): list its clients (the services that connect through it), then uncomment"
        if section:
            out += [f"{' ' * indent}# {note}\n"] + _render(key, body, indent, prefix=" " * indent + "# ")
        else:
            out += [f"# {note}\n", "# poolers:\n"] + _render(key, body, indent, prefix="# " + " " * indent)
    return out


def _bodies(imported: Imported, doc: Mapping[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Return (databases, active poolers, poolers without clients) as entries merged with the file's."""
    old_dbs = doc.get("databases") if isinstance(doc.get("databases"), dict) else {}
    old_poolers = doc.get("poolers") if isinstance(doc.get("poolers"), dict) else {}
    databases = {}
    for db in imported.databases:
        old = old_dbs.get(db.name) if isinstance(old_dbs.get(db.name), dict) else {}
        databases[db.name] = {**db.entry(), **{k: v for k, v in old.items() if k not in DATABASE_KEYS}}
    active, waiting = {}, {}
    for proxy in imported.proxies:
        old = old_poolers.get(proxy.name) if isinstance(old_poolers.get(proxy.name), dict) else {}
        body = {**proxy.entry(), **{k: old[k] for k in PROXY_CARRIED if k in old}}
        if body.get("clients"):
            active[proxy.name] = {k: body[k] for k in ("kind", "database", "clients", "endpoint", "environments",
                                                       "max_connections_percent") if k in body}  # fmt: skip
        else:
            waiting[proxy.name] = {"kind": "rds-proxy", "database": proxy.database, "clients": [],
                                   "max_connections_percent": proxy.max_connections_percent}
    return databases, active, waiting


def merge_yaml(text: str, imported: Imported, origins: Mapping[str, str]) -> str:
    """Return ``text`` (a YAML topology) with the imported databases and proxies written into it."""
    import yaml

    try:
        doc = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise InputError(f"cannot merge into a file that is not valid YAML ({str(exc).splitlines()[0]}): fix it, "
                         "or write to a new file with -o") from exc  # fmt: skip
    doc = doc or {}
    if not isinstance(doc, dict):
        raise InputError("cannot merge into a YAML file whose top level is not a mapping: write to a new file with -o")
    databases, active, waiting = _bodies(imported, doc)
    for name in waiting:
        imported.notes.append(f"RDS Proxy {name} is written commented out under poolers: list its clients "
                              "(the services that connect through it), then uncomment it")  # fmt: skip
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    top = {key: (i, stop) for key, i, stop in _blocks(lines, 0, len(lines), 0)}
    edits: list[tuple[int, int, list[str]]] = []
    appended: list[str] = []
    for section, entries, extra in (("databases", databases, {}), ("poolers", active, waiting)):
        extra = {k: v for k, v in extra.items() if f"# RDS Proxy {k} (imported)" not in text}
        if not entries and not extra:
            continue
        if section not in top:
            if entries:
                appended += [f"{section}:\n"]
                for key, body in entries.items():
                    appended += _render(key, body, 2, origins.get(key, ""))
            appended += _commented(extra, 2, bool(entries))
            continue
        start, stop = top[section]
        match = _KEY.match(lines[start].rstrip("\r\n"))
        rest = (match["rest"] or "") if match else ""
        if rest and not rest.lstrip().startswith("#"):  # a flow mapping: rewrite the section in block style
            current = dict(doc.get(section) or {})
            current.update(entries)
            new = [f"{section}:\n"] + [line for key, body in current.items()
                                       for line in _render(key, body, 2, origins.get(key, ""))]  # fmt: skip
            edits.append((start, stop, new + _commented(extra, 2, True)))
            continue
        children = [i for i in range(start + 1, stop) if not _filler(lines[i])]
        indent = len(lines[children[0]]) - len(lines[children[0]].lstrip(" ")) if children else 2
        blocks = _blocks(lines, start + 1, stop, indent)
        for key, first, end in blocks:
            if key in entries:
                edits.append((first, end, _render(key, entries.pop(key), indent, origins.get(key, ""))))
        at = blocks[-1][2] if blocks else start + 1
        new = [line for key, body in entries.items() for line in _render(key, body, indent, origins.get(key, ""))]
        new += _commented(extra, indent, True)
        if new:
            edits.append((at, at, new))
    for first, end, new in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        lines[first:end] = new
    if appended:
        if lines and lines[-1].strip():
            lines.append("\n")
        lines += appended
    return "".join(lines)


def merge_json(text: str, imported: Imported) -> str:
    """Return ``text`` (a JSON topology) with the imported databases and proxies written into it."""
    try:
        doc = json.loads(text) if text.strip() else {"version": 1}
    except json.JSONDecodeError as exc:
        raise InputError(f"cannot merge into a file that is not valid JSON (line {exc.lineno}: {exc.msg})") from exc
    if not isinstance(doc, dict):
        raise InputError("cannot merge into a JSON file whose top level is not an object")
    databases, active, waiting = _bodies(imported, doc)
    for name in waiting:
        imported.notes.append(f"RDS Proxy {name} is not written: add poolers.{name} with kind rds-proxy, "
                              f"database {waiting[name]['database']}, its clients and max_connections_percent "
                              f"{waiting[name]['max_connections_percent']}")  # fmt: skip
    doc.setdefault("version", 1)
    doc["databases"] = {**(doc.get("databases") or {}), **databases}
    if active:
        doc["poolers"] = {**(doc.get("poolers") or {}), **active}
    return json.dumps(doc, indent=2) + "\n"


def new_topology(imported: Imported, origins: Mapping[str, str], header: str) -> str:
    """Return a new YAML topology holding the imported databases and proxies (and no services yet)."""
    lines = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return merge_yaml(lines + "version: 1\n", imported, origins)


__all__ = ["merge_json", "merge_yaml", "new_topology"]
