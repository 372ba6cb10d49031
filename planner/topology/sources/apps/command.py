"""What a container runs: its command line, unwrapped to the programs that do the work.

A deployment rarely runs ``gunicorn -w 4 app:app`` as written. It runs ``sh -c "python manage.py
migrate && exec gunicorn -w ${WORKERS:-4} app:app"``, or ``dumb-init -- bundle exec puma -C
config/puma.rb``, or ``python -m celery -A proj worker``. :func:`invocations` peels that back: a
shell's ``-c`` script is split into its commands (``&&``, ``||``, ``;``, ``|``, new lines) with the
container's variables expanded as the shell would (``$VAR``, ``${VAR}``, ``${VAR:-default}``,
``${VAR-default}``; nothing inside single quotes), wrappers that only start the next program
(``exec``, ``env``, ``dumb-init``, ``tini``, ``gosu``, ``bundle exec``, ``poetry run``,
``ddtrace-run``, ...) are dropped, ``python -m MODULE`` becomes ``MODULE``, and ``VAR=value``
prefixes join the program's environment. What is left is one :class:`Invocation` per program.

A variable whose value planner cannot know (a Secret, an unset ``${VAR}`` without a default in a
Compose file) leaves a marker in the words (:data:`UNKNOWN_MARK`), so a flag whose value needs it is
reported as unknown, naming the variable, rather than read as something else.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Callable

from planner.topology.sources.base import UNKNOWN_MARK  # surrounds a variable planner cannot know: "\x00DB_POOL\x00"

SHELLS = {"sh", "bash", "ash", "dash", "zsh", "ksh"}
PYTHONS = re.compile(r"python(?:[0-9](?:\.[0-9]+)?)?")
# Programs that start the next one and add nothing planner needs, with how many words they take
# before it (their own options are skipped while they start with "-"; "--" ends them).
WRAPPERS: dict[str, int] = {
    "exec": 0, "command": 0, "nohup": 0, "nice": 0, "ionice": 0, "time": 0, "stdbuf": 0,
    "dumb-init": 0, "tini": 0, "/tini": 0, "catatonit": 0, "s6-setuidgid": 1, "setuidgid": 1,
    "gosu": 1, "su-exec": 1, "chpst": 0, "runuser": 0, "sudo": 0,
    "ddtrace-run": 0, "opentelemetry-instrument": 0, "newrelic-admin": 1,  # newrelic-admin run-program CMD
    "doppler": 1,  # doppler run -- CMD
    "dockerize": 0, "wait-for-it": 0, "wait-for-it.sh": 0, "wait-for": 0,
}
# Wrappers whose options take a value (so the value is not mistaken for the program).
_VALUED_OPTIONS: dict[str, set[str]] = {
    "dockerize": {"-wait", "-timeout", "-template", "-stdout", "-stderr", "-wait-retry-interval"},
    "wait-for-it": {"-t", "--timeout", "-h", "--host", "-p", "--port"},
    "wait-for-it.sh": {"-t", "--timeout", "-h", "--host", "-p", "--port"},
    "chpst": {"-u", "-U", "-e", "-n", "-l", "-L", "-m", "-d", "-o", "-p", "-f", "-c", "-r", "-t"},
    "runuser": {"-u", "-g", "-G", "-c", "--user", "--group"},
    "sudo": {"-u", "-g", "-E"},
    "nice": {"-n"},
    "ionice": {"-c", "-n"},
}
# Package runners: the first word names the runner, the second its "run the next program" verb.
RUNNERS = {("bundle", "exec"), ("poetry", "run"), ("pipenv", "run"), ("uv", "run"), ("pdm", "run"),
           ("rye", "run"), ("hatch", "run"), ("pixi", "run"), ("npx", ""), ("yarn", "exec"), ("pnpm", "exec"),
           ("conda", "run"), ("micromamba", "run")}
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.S)
_SEPARATORS = {"&&", "||", ";", "|", "&", ";;", "\n", "(", ")"}


@dataclass(frozen=True)
class Invocation:
    """One program a container starts: its name as written, its arguments, the variables set before it."""

    program: str  # the last part of the path: "gunicorn", "celery", "puma"; a python module for `python -m`
    args: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)  # VAR=value written before the program
    module: bool = False  # started as `python -m MODULE`
    script: str | None = None  # `python SCRIPT` / `node SCRIPT`: the script it runs

    @property
    def words(self) -> tuple[str, ...]:
        """Return the program and its arguments."""
        return (self.program, *self.args)


Lookup = Callable[[str], "str | None"]  # a variable's value; None if unset; UNKNOWN_MARK-wrapped name if unknowable


class CommandSyntaxError(ValueError):
    """A shell script the shell itself would refuse (an unclosed quote): the container would not start."""


def invocations(words: tuple[str, ...] | None, lookup: Lookup) -> list[Invocation]:
    """Return the programs the command ``words`` starts, in order (empty when there is no command).

    Raises :class:`CommandSyntaxError` for a shell script with an unclosed quote."""
    if not words:
        return []
    found: list[Invocation] = []
    _unwrap(list(words), lookup, found, {}, depth=0)
    return found


def _unwrap(words: list[str], lookup: Lookup, found: list[Invocation], env: dict[str, str], depth: int) -> None:
    """Peel wrappers off ``words`` and add the program they start to ``found``."""
    if depth > 8:  # a script that calls itself through shells: stop rather than loop
        return
    env = dict(env)
    while words:
        head = words[0]
        name = head.rsplit("/", 1)[-1]
        assignment = _ASSIGNMENT.fullmatch(head)
        if assignment and not head.startswith("-"):
            env[assignment.group(1)] = assignment.group(2)
            words = words[1:]
        elif name in SHELLS:
            script = _shell_script(words[1:])
            if script is None:  # `bash script.sh`: a script planner cannot read
                found.append(Invocation(name, tuple(words[1:]), env))
                return
            for command in split_script(script, lookup):
                _unwrap(command, lookup, found, env, depth + 1)
            return
        elif name == "env":
            words = [w for w in words[1:] if not (w.startswith("-") and not _ASSIGNMENT.fullmatch(w))]
        elif name in WRAPPERS:
            words = _skip_wrapper(name, words[1:])
        elif (name, words[1] if len(words) > 1 else None) in RUNNERS:
            words = words[2:]
        elif (name, "") in RUNNERS:
            words = words[1:]
        elif PYTHONS.fullmatch(name):
            _python(words[1:], lookup, found, env, depth)
            return
        elif name in ("node", "nodejs", "bun", "deno", "ruby", "java", "php"):
            script = next((w for w in words[1:] if not w.startswith("-")), None)
            found.append(Invocation(name, tuple(words[1:]), env, script=script))
            return
        else:
            found.append(Invocation(name, tuple(words[1:]), env))
            return


def _skip_wrapper(name: str, rest: list[str]) -> list[str]:
    """Return the words after a wrapper's own options and fixed arguments."""
    valued = _VALUED_OPTIONS.get(name, set())
    i = 0
    while i < len(rest) and rest[i].startswith("-"):
        if rest[i] == "--":
            return rest[i + 1:]
        i += 2 if rest[i] in valued else 1
    if name.startswith("wait-for") or name == "dockerize":
        # wait-for-it.sh HOST:PORT -- CMD: the command follows "--" (handled above) or nothing runs
        if "--" in rest:
            return rest[rest.index("--") + 1:]
        return [] if i < len(rest) and ":" in rest[i] else rest[i:]
    skip = WRAPPERS[name]
    if name == "newrelic-admin" and rest[i:i + 1] == ["run-program"]:
        skip = 1
    if name == "doppler" and rest[i:i + 1] == ["run"]:
        rest = rest[i + 1:]
        return rest[rest.index("--") + 1:] if "--" in rest else rest
    return rest[i + skip:]


def _shell_script(args: list[str]) -> str | None:
    """Return the ``-c`` script of a shell's arguments (``-c``, ``-ec``, ``-xc``, ``-lc``), or None."""
    for i, word in enumerate(args):
        if word.startswith("-") and not word.startswith("--") and "c" in word[1:]:
            return args[i + 1] if i + 1 < len(args) else None
        if not word.startswith("-"):
            return None
    return None


def _python(args: list[str], lookup: Lookup, found: list[Invocation], env: dict[str, str], depth: int) -> None:
    """Add what ``python [options] (-m MODULE | SCRIPT) ...`` runs."""
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "-m":
        i += 2 if args[i] in ("-W", "-X") else 1
    if i < len(args) and args[i] == "-m" and i + 1 < len(args):
        found.append(Invocation(args[i + 1], tuple(args[i + 2:]), env, module=True))
    elif i < len(args):
        script = args[i]
        name = script.rsplit("/", 1)[-1]
        # a console script started through python (python /usr/local/bin/gunicorn) is that program
        program = name if "." not in name else "python"
        found.append(Invocation(program, tuple(args[i + 1:]) if program != "python" else tuple(args[i:]), env,
                                script=script if program == "python" else None))
    else:
        found.append(Invocation("python", (), env))


def split_script(script: str, lookup: Lookup) -> list[list[str]]:
    """Return the commands of a shell script, each as its words, variables expanded from ``lookup``.

    Control words (``if``, ``then``, ``do``, ...) are dropped so the command inside still counts;
    a function definition leaves the words planner could split; an unclosed quote, which the shell
    refuses too, raises :class:`CommandSyntaxError`.
    """
    expanded = expand_shell(script, lookup)
    lexer = shlex.shlex(expanded, posix=True, punctuation_chars=";&|()")
    lexer.whitespace = " \t\r"  # new lines separate commands: keep them as tokens
    lexer.whitespace_split = True
    commands: list[list[str]] = []
    current: list[str] = []
    try:
        tokens = list(_tokens(lexer))
    except ValueError:  # shlex: "No closing quotation" (sh: "Unterminated quoted string")
        raise CommandSyntaxError("its shell script has an unclosed quote, which the shell refuses: the container "
                                 "would not start") from None
    for token in tokens:
        if token in _SEPARATORS or token == ";":
            if current:
                commands.append(current)
            current = []
        elif not current and token in ("if", "then", "else", "elif", "do", "while", "until", "!", "{", "}"):
            continue
        elif not current and token in ("fi", "done", "esac"):
            continue
        else:
            current.append(token)
    if current:
        commands.append(current)
    return commands


def _tokens(lexer: shlex.shlex) -> list[str]:
    out: list[str] = []
    for token in lexer:
        # shlex returns new lines inside a token list as part of words; split them out as separators
        parts = token.split("\n")
        for i, part in enumerate(parts):
            if i:
                out.append("\n")
            if part:
                out.append(part)
    return out


_SHELL_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-=+?])((?:[^{}]|\{[^{}]*\})*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


def expand_shell(text: str, lookup: Lookup) -> str:
    """Return ``text`` with its shell variables expanded, except inside single quotes.

    ``${VAR:-d}``/``${VAR-d}`` take ``d`` when VAR is unset (``:-`` also when empty), ``${VAR:+x}``
    gives ``x`` when it is set; an unset variable without a default is empty, as in the shell.
    """
    out: list[str] = []
    quoted = False
    start = 0
    for i, char in enumerate(text):
        if char == "'" and not _escaped(text, i):
            segment = text[start:i]
            out.append(segment if quoted else _expand_segment(segment, lookup))
            out.append(char)
            quoted = not quoted
            start = i + 1
    tail = text[start:]
    out.append(tail if quoted else _expand_segment(tail, lookup))
    return "".join(out)


def _escaped(text: str, i: int) -> bool:
    return i > 0 and text[i - 1] == "\\"


def _expand_segment(text: str, lookup: Lookup) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(4)
        operator, word = match.group(2), match.group(3)
        value = lookup(name)
        if operator is None:
            return value or ""
        if operator in (":-", ":="):
            return value if value else _expand_segment(word or "", lookup)
        if operator in ("-", "="):
            return value if value is not None else _expand_segment(word or "", lookup)
        if operator in (":+", "+"):
            return _expand_segment(word or "", lookup) if (value if operator == ":+" else value is not None) else ""
        return value or ""  # ${VAR:?message}: the shell would stop if unset; the value when set

    return _SHELL_VARIABLE.sub(replace, text)


def unknown_names(text: str) -> list[str]:
    """Return the names of the unknowable variables a word depends on (its :data:`UNKNOWN_MARK` markers)."""
    return re.findall(f"{UNKNOWN_MARK}([A-Za-z_][A-Za-z0-9_]*){UNKNOWN_MARK}", text)


def mark_unknown(name: str) -> str:
    """Return the marker a lookup gives for a variable whose value cannot be known."""
    return f"{UNKNOWN_MARK}{name}{UNKNOWN_MARK}"


def split_words(text: str) -> list[str]:
    """Return ``text`` split as a shell splits arguments (``GUNICORN_CMD_ARGS``), or on spaces if it cannot."""
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()
