"""Issue 20 item 6: every equation `explain` prints evaluates to what it shows.

Each line with `EXPRESSION = NUMBER` is read as a person reads it: the labels (`max_connections`,
`replicas`, `default_pool_size`, `node-pg pool`) dropped, the numbers and operators kept
(× − + / and `%` as "per cent", floor, ceil, max, min), a parenthesised aside that starts with `=`
(`500 (= max(1, ceil(1000 × 0.5)))`) dropped after it is checked on its own, and the result compared.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, run_cli

FUNCTIONS = {"floor": math.floor, "ceil": math.ceil, "max": max, "min": min}
_WORD = re.compile(r"(?<![\w.])[A-Za-z_][\w.@-]*(?:\s*\(assumed\))?")
_NUMBER_RESULT = re.compile(r"\s*(-?[\d,]+(?:\.\d+)?)")
_ASIDE = re.compile(r"\(=\s*")


def _asides(text: str) -> tuple[str, list[str]]:
    """Return ``text`` without its ``(= …)`` asides, and the asides' expressions (balanced parentheses)."""
    out, asides = "", []
    i = 0
    while i < len(text):
        match = _ASIDE.match(text, i)
        if not match:
            out += text[i]
            i += 1
            continue
        depth, j = 1, match.end()
        while j < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            j += 1
        asides.append(text[match.end():j - 1])
        i = j
    return out, asides


def evaluate(expression: str) -> float:
    """Return the value of a printed expression, its labels dropped."""
    text = expression.replace("×", "*").replace("−", "-").replace("÷", "/")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # 1,166
    text = re.sub(r"(\d+(?:\.\d+)?)\s*%", r"(\1/100)", text)
    text = _WORD.sub(lambda m: m.group(0) if m.group(0) in FUNCTIONS else " ", text)
    text = re.sub(r"\(\s*\)", " ", text)  # a label in parentheses, dropped: "()"
    if not re.fullmatch(r"[\d\s.+\-*/(),a-z]*", text) or not re.search(r"\d", text):
        raise ValueError(f"not arithmetic: {expression!r} -> {text!r}")
    return float(eval(text, {"__builtins__": {}}, FUNCTIONS))  # noqa: S307 - digits, operators and four functions only


def equations(output: str) -> list[tuple[str, str, float]]:
    """Return (line, expression, shown result) for every line that prints an equation."""
    found = []
    for line in output.splitlines():
        parts = line.split(" = ")
        if len(parts) < 2:
            continue
        result = _NUMBER_RESULT.match(parts[-1])
        expression = parts[-2].rsplit(": ", 1)[-1]  # "importer@dev: 200 × 10": the label before a colon
        if result is None or not re.search(r"\d\s*[×−+/*]|[×−+/*]\s*\d|floor|ceil|max\(|min\(", expression):
            continue
        found.append((line, expression, float(result.group(1).replace(",", ""))))
    return found


def _explained() -> list[tuple[str, str]]:
    outputs = []
    for example in sorted(EXAMPLES.glob("*.yaml")):
        for args in ([], ["--scenario", "peak"]):
            code, out, err = run_cli(["explain", str(example), *args])
            assert code in (0, 1), err
            outputs.append((f"{example.name} {' '.join(args)}".strip(), out))
    return outputs


def test_every_printed_equation_evaluates_to_what_it_shows() -> None:
    checked = 0
    wrong = []
    for name, output in _explained():
        for line, expression, shown in equations(output):
            bare, asides = _asides(expression)
            for aside in asides:
                # an aside shows how a number before it was reached: it must give that number
                number = re.findall(r"([\d,]+(?:\.\d+)?)\s*$", expression[:expression.index(aside)].rsplit("(=", 1)[0])
                if number and not math.isclose(evaluate(aside), float(number[-1].replace(",", ""))):
                    wrong.append(f"{name}: {line.strip()} (aside {aside} is not {number[-1]})")
            value = evaluate(bare)
            checked += 1
            if not math.isclose(value, shown, abs_tol=1e-9):
                wrong.append(f"{name}: {line.strip()} ({bare.strip()} is {value:g}, not {shown:g})")
    assert checked >= 40, checked  # the examples print dozens: a parser that finds none proves nothing
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(("line", "ok"), [
    ("    the master user (rds_superuser) may open 823 − (3 + 4) = 816: do not count on it", True),
    ("    the master user (rds_superuser) may open 823 − 3 + 4 = 816: do not count on it", False),
    ("  alarm_at = floor(60 × (1 − 20%)) = 48", True),
    ("    importer@dev: account concurrency (assumed) 200 (= max(1, ceil(1000 × 0.2))) × node-pg pool 10 = 2000", True),
    ("  server connections = replicas 3 × pairs 1 × (default_pool_size 40 + reserve_pool_size 5) = 135", True),
    ("  server connections = replicas 3 × pairs 1 × (default_pool_size 40 + reserve_pool_size 5) = 136", False),
])
def test_the_reader_itself_tells_right_from_wrong(line: str, ok: bool) -> None:
    ((_, expression, shown),) = equations(line)
    assert math.isclose(evaluate(_asides(expression)[0]), shown) is ok
