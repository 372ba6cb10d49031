"""Read a number out of an app server's configuration file, as far as it can be read without running it.

``gunicorn.conf.py`` is Python, ``config/puma.rb`` Ruby, ``config/sidekiq.yml`` YAML with ERB, a
uWSGI ``.ini`` an ini file with ``$(VAR)``. planner runs none of them. :func:`read_setting` finds the
setting's assignment and understands the forms these files take in practice: a literal
(``workers = 4``), a variable with a default (``int(os.environ.get("WORKERS", 4))``,
``ENV.fetch("WEB_CONCURRENCY") { 2 }``, ``<%= ENV["X"] || 5 %>``, ``$(UWSGI_PROCESSES)``), and a
count of the host's CPUs (``multiprocessing.cpu_count() * 2 + 1``), which no deployment states.
Anything else is :class:`Opaque`, quoted, so the user is told which line to turn into a number.
"""

from __future__ import annotations

import configparser
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Literal:
    """A setting written as a number (the largest, for a ``min, max`` range)."""

    value: int
    line: int


@dataclass(frozen=True)
class FromVariables:
    """A setting read from environment variables (the first set wins), else ``default``."""

    variables: tuple[str, ...]
    default: int | None
    line: int


@dataclass(frozen=True)
class HostCpus:
    """A setting computed from the host's CPU count."""

    text: str
    line: int


@dataclass(frozen=True)
class Opaque:
    """A setting planner cannot read without running the file."""

    text: str
    line: int


ConfigValue = Literal | FromVariables | HostCpus | Opaque

_CPU = re.compile(r"cpu_count|nproc|processor_count|NumCPU|available_processor", re.I)
# os.environ.get("X", 4) / os.getenv('X', "4") / os.environ["X"] / environ.get("X")
_PY_ENV = re.compile(r"""(?:os\.)?(?:environ\.get|getenv)\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*(?:,\s*['"]?([0-9]+)['"]?\s*)?\)"""
                     r"""|(?:os\.)?environ\[\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*\]""")
# ENV.fetch("X") { 5 } / ENV.fetch("X", 5) / ENV["X"] || 5 / ENV.fetch("X", "5").to_i
_RB_ENV = re.compile(r"""ENV\.fetch\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*(?:,\s*['"]?([0-9]+)['"]?\s*)?\)\s*(?:\{\s*['"]?([0-9]+)['"]?\s*\})?"""
                     r"""|ENV\[\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]\s*\](?:\s*\|\|\s*['"]?([0-9]+)['"]?)?""")
_INI_ENV = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def read_setting(text: str, fmt: str, names: tuple[str, ...], section: str = "") -> ConfigValue | None:
    """Return how the configuration ``text`` (in ``fmt``) sets the first of ``names`` it sets, or None."""
    if fmt == "ini":
        return _ini(text, names, section)
    lines = text.splitlines()
    assignments = _assignments(lines, fmt)
    for name in names:
        for number, expression in assignments.get(name, [])[-1:]:  # the last assignment wins
            return _expression(expression, fmt, number, assignments)
    return None


def _assignments(lines: list[str], fmt: str) -> dict[str, list[tuple[int, str]]]:
    """Return name → [(line, expression)] for every top-level assignment of the file."""
    found: dict[str, list[tuple[int, str]]] = {}
    if fmt == "python":
        pattern = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.+?)\s*(?:#.*)?$")
    elif fmt == "ruby":  # `workers 4`, `threads 1, 5`, `workers(4)`, `threads_count = ENV.fetch(...)`
        pattern = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\s*=\s*(.+?)|\((.+)\)|\s+(.+?))\s*(?:#.*)?$")
    else:  # yaml: `:concurrency: 5` or `concurrency: 5` at the top level
        pattern = re.compile(r"^(:?[A-Za-z_][A-Za-z0-9_]*):\s*(.+?)\s*(?:#.*)?$")
    for number, line in enumerate(lines, 1):
        if line[:1].isspace() or line.lstrip().startswith("#"):
            continue  # only top-level statements: one inside `if`/`def` may not run
        match = pattern.match(line)
        if match:
            expression = next(group for group in match.groups()[1:] if group is not None)
            found.setdefault(match.group(1), []).append((number, expression))
    return found


def _expression(text: str, fmt: str, line: int, assignments: dict[str, list[tuple[int, str]]],
                depth: int = 0) -> ConfigValue:
    """Return what one assigned expression is: a literal, variables with a default, CPUs, or opaque."""
    text = text.strip().strip(",")
    if fmt == "yaml":
        text = re.sub(r"^<%=\s*(.*?)\s*%>$", r"\1", text.strip("'\""))
    parts = [p.strip() for p in text.split(",")] if fmt == "ruby" and "," in text and "(" not in text else [text]
    values = [_single(p, fmt, line, assignments, depth) for p in parts]
    literals = [v for v in values if isinstance(v, Literal)]
    if len(literals) == len(values):
        return Literal(max(v.value for v in literals), line)  # threads 1, 5: the ceiling
    return next((v for v in values if not isinstance(v, Literal)), values[-1])


def _single(text: str, fmt: str, line: int, assignments: dict[str, list[tuple[int, str]]], depth: int) -> ConfigValue:
    bare = re.sub(r"^(?:int|Integer)\((.*)\)$", r"\1", text.strip()).strip()
    bare = re.sub(r"\.to_i$", "", bare).strip().strip("'\"")
    if bare.isdigit():
        return Literal(int(bare), line)
    if _CPU.search(text):
        return HostCpus(text, line)
    matches = list((_PY_ENV if fmt == "python" else _RB_ENV).finditer(text))
    if matches:
        variables = []
        default = None
        for match in matches:
            groups = [g for g in match.groups()]
            if fmt == "python":
                variables.append(groups[0] or groups[2])
                default = int(groups[1]) if groups[1] else default
            else:
                variables.append(groups[0] or groups[3])
                number = groups[1] or groups[2] or groups[4]
                default = int(number) if number else default
        tail = re.search(r"(?:\|\||\bor\b)\s*([0-9]+)\s*\)?$", text)
        if tail and default is None:
            default = int(tail.group(1))
        if _arithmetic_outside(text, matches):
            return Opaque(text, line)
        return FromVariables(tuple(variables), default, line)
    if depth < 3 and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", bare) and bare in assignments:
        number, expression = assignments[bare][-1]
        return _expression(expression, fmt, number, assignments, depth + 1)
    return Opaque(text, line)


def _arithmetic_outside(text: str, matches: list[re.Match[str]]) -> bool:
    """Return whether the expression does arithmetic on the variables (``int(os.getenv("X", 2)) * 2``)."""
    rest = text
    for match in matches:
        rest = rest.replace(match.group(0), "")
    rest = re.sub(r"\b(?:int|Integer|str|to_i|or|\|\||[0-9]+)\b|[()\s{}.'\"|]", "", rest)
    return bool(re.search(r"[*+/-]", rest))


def _ini(text: str, names: tuple[str, ...], section: str) -> ConfigValue | None:
    """Return a uWSGI-style ini setting (``processes = $(UWSGI_PROCESSES)`` reads that variable)."""
    parser = configparser.ConfigParser(interpolation=None, strict=False, allow_no_value=True)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    if not parser.has_section(section):
        return None
    lines = text.splitlines()
    for name in names:
        value = parser.get(section, name, fallback=None)
        if value is None:
            continue
        line = next((i for i, l in enumerate(lines, 1) if re.match(rf"\s*{re.escape(name)}\s*=", l)), 0)
        value = value.strip()
        if value.isdigit():
            return Literal(int(value), line)
        variables = _INI_ENV.findall(value)
        if variables and _INI_ENV.sub("", value).strip() == "":
            return FromVariables(tuple(variables), None, line)
        if "%k" in value or _CPU.search(value):  # uWSGI's %k magic variable is the CPU count
            return HostCpus(value, line)
        return Opaque(value, line)
    return None
