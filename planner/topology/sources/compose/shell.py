"""Split a string ``command`` or ``entrypoint`` into words, as Compose does (mattn/go-shellwords).

Compose runs no shell on ``command: gunicorn -w 4 app:app``: it splits the string into words with
go-shellwords (v1.0.12, without its environment and backtick options). Its rules differ from
POSIX ``sh``: a backslash escapes any character, also inside double quotes; the words end at the
first ``;``, ``&``, ``|``, ``<`` or ``>`` outside quotes (``echo a && echo b`` runs ``echo a``); a
``(`` is an error unless it follows ``$``. Source: https://github.com/mattn/go-shellwords
(``shellwords.go``) and compose-spec/compose-go ``types/command.go``.
"""

from __future__ import annotations


class ShellSyntaxError(Exception):
    """A string go-shellwords refuses ("invalid command line string"): an unclosed quote, a ``(``."""


def split(line: str) -> list[str]:
    """Return the words of ``line``; raises :class:`ShellSyntaxError`."""
    args: list[str] = []
    buf = ""
    escaped = double = single = back = dollar = False
    got = False  # a word is under way
    for char in line:
        if escaped:
            buf += char
            escaped = False
            got = True
            continue
        if char == "\\":
            if single:
                buf += char
            else:
                escaped = True
            continue
        if char in " \t\r\n":
            if single or double or back or dollar:
                buf += char
            elif got:
                args.append(buf)
                buf = ""
                got = False
            continue
        if char == "`" and not single and not double and not dollar:
            back = not back
        elif char == ")" and not single and not double and not back:
            dollar = not dollar
        elif char == "(" and not single and not double and not back:
            if not dollar and buf.endswith("$"):
                dollar = True
                buf += char
                continue
            raise ShellSyntaxError("a ( that does not follow $")
        elif char == '"' and not single and not dollar:
            if double:
                got = True
            double = not double
            continue
        elif char == "'" and not double and not dollar:
            if single:
                got = True
            single = not single
            continue
        elif char in ";&|<>" and not (single or double or back or dollar):
            if char == ">" and buf and buf[0].isdigit():
                got = False  # "2>file": the descriptor is not a word
            break
        got = True
        buf += char
    if got:
        args.append(buf)
    if escaped or single or double or back or dollar:
        raise ShellSyntaxError("an unclosed quote, or a backslash at the end")
    return args
