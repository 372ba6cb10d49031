"""The RDS DB-parameter-group formula language: tokenizer, recursive-descent parser, evaluator.

RDS lets a parameter such as ``max_connections`` be a formula, e.g. the PostgreSQL default
``LEAST({DBInstanceClassMemory/9531392},5000)``. Grammar (whitespace allowed between tokens)::

    formula := value
    value   := INT | "{" expr "}" | FUNC "(" arg ("," arg)* ")"   FUNC: LEAST, GREATEST, SUM
    arg     := value | "-" INT                                    (function names: any case)
    expr    := term (("*" | "/") term)*                           (left-associative)
    term    := INT | VARIABLE | "log" "(" expr ")" | "(" expr ")"  (variables: exact case)

Integer arithmetic stays exact (Python ints; ``/`` truncates toward zero). ``log`` is base 2 and
returns a float; once a float is involved ``*`` and ``/`` are float operations, and each ``{...}``
rounds a float value half up to an integer. ``log(0)`` is -infinity, which ``GREATEST`` discards:
Aurora MySQL's ``max_connections`` formula needs that on small classes.

Nothing here calls ``eval``. Every problem is a :class:`FormulaError` whose ``position`` is the
**0-based** character offset into the formula text as given (leading whitespace included).
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from dataclasses import dataclass
from typing import Callable, Mapping, NamedTuple, Union

from planner.errors import FormulaError

KNOWN_VARIABLES: tuple[str, ...] = ("DBInstanceClassMemory", "DBInstanceVCPU")
MAX_LENGTH = 1000
MAX_DEPTH = 50  # nested '{' and '(' together; keeps the recursive descent far from RecursionError

Value = Union[int, float]  # a float only once log() is involved
FUNCTIONS: dict[str, Callable[[list[Value]], Value]] = {"LEAST": min, "GREATEST": max, "SUM": sum}
# Real RDS variables the planner has no value for: say so rather than "unknown variable".
_RDS_ONLY_VARIABLES = ("AllocatedStorage", "DBInstanceClassHugePagesDefault", "EndPointPort", "TrueIfReplica")
_KNOWN_LIST = ", ".join(KNOWN_VARIABLES)
_OPENER = {"}": "{", ")": "("}

# ASCII only: \d would accept digits such as '٣' that RDS does not.
_TOKEN = re.compile(r"\s*(?:(?P<int>[0-9]+)|(?P<name>[A-Za-z_]\w*)|(?P<op>\*\*|[-{}(),*/+%]))", re.ASCII)
_SPACE = re.compile(r"\s*", re.ASCII)
_DIGITS = re.compile(r"\s*[0-9]+\s*", re.ASCII)
_UNSUPPORTED_OPS = {
    "+": "'+' is not supported: only * and / are allowed inside {...}; to add values use SUM(a, b)",
    "-": "'-' is not supported here: only * and / are allowed inside {...}; a negative number is "
    "allowed only as a literal function argument, e.g. SUM({...}, -50)",
    "%": "'%' is not supported: only * and / are allowed inside {...} (/ already truncates)",
    "**": "'**' is not supported: only * and / are allowed inside {...}; write the product out: {2*2*2}",
}


class _Token(NamedTuple):
    kind: str  # "int", "name", "end", or the operator/punctuation itself
    text: str
    pos: int


class _Env(NamedTuple):
    text: str
    variables: Mapping[str, int]

    def fail(self, pos: int, message: str) -> FormulaError:
        return FormulaError(self.text, pos, message)


def _div_trunc(a: int, b: int) -> int:
    # Python's // floors; RDS truncates toward zero. They differ only for negative operands.
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


@dataclass(frozen=True, slots=True)
class _Int:
    value: int
    pos: int

    def evaluate(self, env: _Env) -> Value:
        return self.value


@dataclass(frozen=True, slots=True)
class _Var:
    name: str
    pos: int

    def evaluate(self, env: _Env) -> Value:
        if self.name not in env.variables:
            raise env.fail(self.pos, f"no value for variable {self.name!r} for this instance class")
        value = env.variables[self.name]
        # A float here would silently break exact integer arithmetic on ~10^12 byte counts.
        if not isinstance(value, int) or isinstance(value, bool):
            raise env.fail(self.pos, f"variable {self.name!r} must be an integer, got {value!r}")
        return value


@dataclass(frozen=True, slots=True)
class _Log:
    arg: _Node
    pos: int

    def evaluate(self, env: _Env) -> Value:
        value = self.arg.evaluate(env)
        if value < 0:
            raise env.fail(self.pos, f"log of a negative number ({value})")
        return -math.inf if value == 0 else math.log2(value)


@dataclass(frozen=True, slots=True)
class _Chain:
    first: _Node
    rest: tuple[tuple[str, int, _Node], ...]  # (operator, position, operand): a loop, not recursion

    def evaluate(self, env: _Env) -> Value:
        result = self.first.evaluate(env)
        for op, pos, node in self.rest:
            right = node.evaluate(env)
            if op == "/" and right == 0:
                raise env.fail(pos, "division by zero (the divisor evaluates to 0)")
            if isinstance(result, int) and isinstance(right, int):
                result = result * right if op == "*" else _div_trunc(result, right)
                continue
            try:
                result = result * right if op == "*" else result / right
            except OverflowError:
                raise env.fail(pos, "number too large to combine with log(...)") from None
            if math.isnan(result):
                raise env.fail(pos, "undefined result: -infinity from log(0) times 0 or over infinity")
        return result


@dataclass(frozen=True, slots=True)
class _Brace:
    expr: _Node
    pos: int

    def evaluate(self, env: _Env) -> Value:
        value = self.expr.evaluate(env)
        if isinstance(value, float) and math.isfinite(value):
            return math.floor(value + 0.5)  # half up: reproduces Aurora MySQL's log-based table
        return value  # an int, or an infinity left for GREATEST/LEAST to discard


@dataclass(frozen=True, slots=True)
class _Call:
    name: str  # upper case
    args: tuple[_Node, ...]
    pos: int

    def evaluate(self, env: _Env) -> Value:
        result = FUNCTIONS[self.name]([arg.evaluate(env) for arg in self.args])
        if isinstance(result, float) and math.isnan(result):
            raise env.fail(self.pos, f"undefined result: {self.name} of +infinity and -infinity")
        return result


_Node = Union[_Int, _Var, _Log, _Chain, _Brace, _Call]


@dataclass(frozen=True)
class Formula:
    """A parsed formula: ``text`` as written and the tree that :meth:`evaluate` walks."""

    text: str
    root: _Node
    variables: tuple[_Var, ...]  # every variable reference, in text order

    def evaluate(self, variables: Mapping[str, int]) -> int:
        """Evaluate with ``variables``; raise FormulaError if a value is missing or undefined."""
        env = _Env(self.text, variables)
        result = self.root.evaluate(env)
        if isinstance(result, float):  # only an infinity gets past the braces
            raise env.fail(self.root.pos, "the result is infinite (log(0) is -infinity): "
                           "combine it with a finite value, e.g. GREATEST({...}, 10)")
        return result


def _did_you_mean(name: str, candidates: tuple[str, ...]) -> str:
    # A case-only mismatch is the likeliest typo and difflib scores it poorly, so check it first.
    close = [c for c in candidates if c.lower() == name.lower()]
    close = close or difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = self._tokenize()
        self.i = 0
        self.open: list[_Token] = []  # unclosed '{' and '(': for "unbalanced" messages and depth
        self.variables: list[_Var] = []

    def fail(self, pos: int, message: str) -> FormulaError:
        return FormulaError(self.text, pos, message)

    def _tokenize(self) -> list[_Token]:
        tokens: list[_Token] = []
        pos = 0
        while match := _TOKEN.match(self.text, pos):
            kind = match.lastgroup or ""
            tokens.append(_Token(match[kind] if kind == "op" else kind, match[kind], match.start(kind)))
            pos = match.end()
        pos = _SPACE.match(self.text, pos).end()  # type: ignore[union-attr]  # \s* always matches
        if pos < len(self.text):
            char = self.text[pos]
            hint = ("decimal numbers are not supported: use integers, e.g. {X*3/4} for {X*0.75}"
                    if char == "." else "formulas use integers, {...} with * and /, log(...), "
                    "LEAST/GREATEST/SUM(...)")
            raise self.fail(pos, f"unexpected character {char!r}: {hint}")
        return [*tokens, _Token("end", "end of formula", len(self.text))]

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.peek()
        self.i += 1
        return token

    def push(self, opener: _Token) -> None:
        if len(self.open) >= MAX_DEPTH:
            raise self.fail(opener.pos, f"nesting is deeper than {MAX_DEPTH} levels: simplify the formula")
        self.open.append(opener)

    def close(self, found: _Token, expected: str) -> None:
        """Consume the closer of the innermost open bracket, or explain why it is missing."""
        opener = self.open[-1]
        closer = "}" if opener.kind == "{" else ")"
        if found.kind == closer:
            self.take()
            self.open.pop()
        elif found.kind in _UNSUPPORTED_OPS:
            raise self.fail(found.pos, _UNSUPPORTED_OPS[found.kind])
        elif found.kind in _OPENER and all(o.kind != _OPENER[found.kind] for o in self.open):
            raise self.fail(found.pos, f"unbalanced {found.text!r}: no matching {_OPENER[found.kind]!r}")
        elif found.kind in ("end", "}", ")"):
            where = "" if found.kind == "end" else f" before {found.text!r}"
            raise self.fail(opener.pos, f"unbalanced {opener.text!r}: no matching {closer!r}{where}")
        elif found.kind == "," and opener.kind == "{":
            raise self.fail(found.pos, "',' inside {...}: close the brace with '}' before the next argument")
        else:
            raise self.fail(found.pos, f"expected {expected}, found {found.text!r}")

    def brace_hint(self, start: int) -> str:
        """Suggest ``{...}`` around the function argument (or whole formula) starting at ``start``."""
        depth, end = 0, len(self.text)
        for j in range(start, len(self.text)):
            if self.text[j] in ",)" and depth == 0:
                end = j
                break
            depth += {"(": 1, ")": -1}.get(self.text[j], 0)
        inner = self.text[start:end].replace("{", "").replace("}", "").strip()
        return f"arithmetic must be inside braces: write {{{inner}}}"

    def parse(self) -> Formula:
        if self.peek().kind == "end":
            raise self.fail(0, "empty formula: write an integer such as 100, {...} or LEAST(...)")
        root = self.value(top=True)
        token = self.peek()
        if token.kind in ("}", ")"):
            raise self.fail(token.pos, f"unbalanced {token.text!r}: no matching {_OPENER[token.kind]!r}")
        if token.kind == ",":
            raise self.fail(token.pos, "unexpected ',': combine values with LEAST, GREATEST or SUM(a, b)")
        if token.kind != "end":
            raise self.fail(token.pos, f"unexpected {token.text!r} after a complete value: remove it "
                            "or combine values with LEAST, GREATEST or SUM(a, b)")
        return Formula(self.text, root, tuple(self.variables))

    def value(self, top: bool) -> _Node:
        """Parse a value outside braces: a literal, a negative literal argument, {...} or a call."""
        token = self.peek()
        if token.kind == "-":
            if top or self.peek(1).kind != "int":
                raise self.fail(token.pos, "a leading '-' is allowed only on an integer literal function "
                                "argument, e.g. SUM({...}, -50)")
            node: _Node = _Int(-int(self.peek(1).text), token.pos)
            self.i += 2
        elif token.kind == "int":
            node = _Int(int(self.take().text), token.pos)
        elif token.kind == "{":
            node = self.brace()
        elif token.kind == "name":
            node = self.call(token)
        elif token.kind in _UNSUPPORTED_OPS:
            raise self.fail(token.pos, _UNSUPPORTED_OPS[token.kind])
        else:
            raise self.fail(token.pos, f"expected an integer, {{...}} or LEAST/GREATEST/SUM(...), "
                            f"found {token.text!r}")
        after = self.peek()
        if after.kind in ("*", "/"):
            raise self.fail(after.pos, self.brace_hint(token.pos))
        if after.kind in _UNSUPPORTED_OPS:
            raise self.fail(after.pos, _UNSUPPORTED_OPS[after.kind])
        return node

    def call(self, token: _Token) -> _Call:
        name = token.text
        if self.peek(1).kind != "(":
            if name in KNOWN_VARIABLES:
                raise self.fail(token.pos, self.brace_hint(token.pos))
            suggestion = _did_you_mean(name, KNOWN_VARIABLES + tuple(FUNCTIONS))
            raise self.fail(token.pos, f"unknown name {name!r} ({suggestion}expected an integer, "
                            "{...} or LEAST/GREATEST/SUM(...))")
        if name.lower() == "log":
            raise self.fail(token.pos, "log(...) must be inside braces: write {log(...)}")
        if name.upper() not in FUNCTIONS:
            suggestion = _did_you_mean(name.upper(), tuple(FUNCTIONS))
            raise self.fail(token.pos, f"unknown function {name!r} ({suggestion}"
                            f"known: {', '.join(FUNCTIONS)})")
        self.take()
        self.push(self.take())
        if self.peek().kind == ")":
            raise self.fail(self.peek().pos, f"{name}() needs at least one argument")
        args: list[_Node] = []
        while True:
            arg = self.peek()
            if arg.kind == "," or (arg.kind == ")" and args):
                raise self.fail(arg.pos, f"empty argument in {name}(...): remove the extra ','")
            if arg.kind == "end":
                self.close(arg, "")
            args.append(self.value(top=False))
            if self.peek().kind != ",":
                self.close(self.peek(), f"',' or ')' after an argument of {name}")
                return _Call(name.upper(), tuple(args), token.pos)
            self.take()

    def brace(self) -> _Brace:
        opener = self.take()
        self.push(opener)
        if self.peek().kind == "}":
            raise self.fail(opener.pos, "empty braces: put an expression inside, "
                            "e.g. {DBInstanceClassMemory/9531392}")
        expr = self.expr()
        self.close(self.peek(), "'*', '/' or '}'")
        return _Brace(expr, opener.pos)

    def expr(self) -> _Node:
        first = self.term()
        rest: list[tuple[str, int, _Node]] = []
        while self.peek().kind in ("*", "/"):
            op = self.take()
            rest.append((op.kind, op.pos, self.term()))
        return _Chain(first, tuple(rest)) if rest else first

    def term(self) -> _Node:
        token = self.take()
        if token.kind == "int":
            return _Int(int(token.text), token.pos)
        if token.kind == "(":
            return self.group(token, "empty parentheses: put an expression inside ( )")
        if token.kind == "name" and token.text.lower() == "log":
            if self.peek().kind != "(":
                raise self.fail(token.pos, "log must be followed by '(': write log(...)")
            arg = self.group(self.take(), "log() needs an argument, e.g. log(DBInstanceClassMemory/805306368)")
            return _Log(arg, token.pos)
        if token.kind == "name" and token.text in KNOWN_VARIABLES:
            self.variables.append(_Var(token.text, token.pos))
            return self.variables[-1]
        if token.kind == "name" and token.text.upper() in FUNCTIONS and self.peek().kind == "(":
            raise self.fail(token.pos, f"{token.text}(...) cannot be used inside braces: "
                            f"write {token.text.upper()}({{...}}, ...)")
        if token.kind == "name" and token.text in _RDS_ONLY_VARIABLES:
            raise self.fail(token.pos, f"variable {token.text!r} is not supported by the planner "
                            f"(known: {_KNOWN_LIST})")
        if token.kind == "name":
            suggestion = _did_you_mean(token.text, KNOWN_VARIABLES)
            raise self.fail(token.pos, f"unknown variable {token.text!r} ({suggestion}known: {_KNOWN_LIST})")
        if token.kind in _UNSUPPORTED_OPS:
            raise self.fail(token.pos, _UNSUPPORTED_OPS[token.kind])
        if token.kind == "{":
            raise self.fail(token.pos, "braces cannot be nested: use ( ) for grouping inside {...}")
        if token.kind == "end":
            self.close(token, "")
        raise self.fail(token.pos, f"expected a number, a variable, log(...) or '(', found {token.text!r}")

    def group(self, opener: _Token, empty_message: str) -> _Node:
        self.push(opener)
        if self.peek().kind == ")":
            raise self.fail(opener.pos, empty_message)
        inner = self.expr()
        self.close(self.peek(), "'*', '/' or ')'")
        return inner


def parse_formula(text: str) -> Formula:
    """Parse ``text``; raise FormulaError (0-based ``position``) on anything RDS would reject."""
    if not isinstance(text, str):
        raise FormulaError(repr(text), 0, f"expected a formula string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise FormulaError(text[:40] + "...", MAX_LENGTH,
                           f"formula is {len(text)} characters long; the limit is {MAX_LENGTH}")
    return _parsed(text)


@functools.lru_cache(maxsize=256)
def _parsed(text: str) -> Formula:
    # a Formula is immutable, and plan, recommend and the report evaluate the same few formulas
    # on thousands of candidate budgets: parse each text once
    return _Parser(text).parse()


def evaluate_formula(text: str | int, variables: Mapping[str, int]) -> int:
    """Evaluate a parameter value: an int or a digit-only string as is, otherwise as a formula."""
    if isinstance(text, bool) or not isinstance(text, (int, str)):
        # YAML makes `true` or `100.5` non-strings; RDS accepts neither for an integer parameter.
        raise FormulaError(repr(text), 0, f"expected an integer or a formula, got {type(text).__name__}")
    if isinstance(text, int):
        return text
    if len(text) <= MAX_LENGTH and _DIGITS.fullmatch(text):
        return int(text)
    return parse_formula(text).evaluate(variables)


def substitute(text: str, variables: Mapping[str, int]) -> str:
    """Return ``text`` with each variable replaced by its value (for ``planner explain``).

    ``LEAST({DBInstanceClassMemory/9531392},5000)`` becomes ``LEAST({8011837440/9531392},5000)``.
    """
    env = _Env(text, variables)
    out = text
    for node in reversed(parse_formula(text).variables):  # right to left: offsets stay valid
        out = out[: node.pos] + str(node.evaluate(env)) + out[node.pos + len(node.name):]
    return out


def variables_used(text: str) -> set[str]:
    """Return the names of the variables that ``text`` refers to."""
    return {node.name for node in parse_formula(text).variables}
