"""Tests for planner.formula: the RDS parameter formula language."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner.errors import EXIT_INPUT, FormulaError, InputError
from planner.formula import (
    KNOWN_VARIABLES,
    MAX_DEPTH,
    Formula,
    evaluate_formula,
    parse_formula,
    substitute,
    variables_used,
)

RDS_DEFAULT = "LEAST({DBInstanceClassMemory/9531392},5000)"
AURORA_MYSQL = "GREATEST({log(DBInstanceClassMemory/805306368)*45},{log(DBInstanceClassMemory/8187281408)*1000})"
STEP = 9531392
GIB = 1024**3


def mem(value: int, vcpu: int = 2) -> dict[str, int]:
    return {"DBInstanceClassMemory": value, "DBInstanceVCPU": vcpu}


@pytest.mark.parametrize(
    ("memory", "expected"),
    [
        (0, 0),
        (STEP - 1, 0),
        (STEP, 1),
        (100 * STEP - 1, 99),
        (100 * STEP, 100),
        (8011837440, 840),  # an 8 GiB class as RDS reports it
        (4999 * STEP, 4999),
        (5000 * STEP - 1, 4999),
        (5000 * STEP, 5000),
        (5000 * STEP + 1, 5000),
        (5001 * STEP, 5000),
        (768 * GIB, 5000),  # ~10^12 bytes: still exact
    ],
)
def test_rds_postgres_default(memory: int, expected: int) -> None:
    assert evaluate_formula(RDS_DEFAULT, mem(memory)) == expected


@pytest.mark.parametrize(
    ("memory", "expected"),
    [(GIB, 34), (31457280, 1), (31457280 - 1, 0), (64 * GIB, 2184), (10**12 + 7, 10**12 // 31457280)],
)
def test_old_postgres_default(memory: int, expected: int) -> None:
    assert evaluate_formula("{DBInstanceClassMemory/31457280}", mem(memory)) == expected


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("500", 500),
        ("  500  ", 500),
        ("007", 7),
        ("{5}", 5),
        ("{7/2}", 3),
        ("{2*3*4/5}", 4),  # left to right: (24)/5, not 2*3*(4/5)
        ("{2*(3*4/5)}", 4),
        ("{100/7*7}", 98),
        ("{DBInstanceVCPU*100}", 400),
        ("{DBInstanceClassMemory*3/4}", 3 * GIB),
        ("GREATEST(1, 7, 3)", 7),
        ("LEAST(9)", 9),
        ("SUM({DBInstanceVCPU*25}, -50)", 50),
        ("SUM(-50, -50)", -100),  # a negative result is returned; the caller decides
        ("LEAST(GREATEST({DBInstanceVCPU*10},100), SUM(20, {DBInstanceVCPU}), 1000)", 24),
        ("least({DBInstanceVCPU},5)", 4),
        ("Greatest(1,2)", 2),
        ("sUm(1,2,3)", 6),
        (" LEAST ( { DBInstanceClassMemory / 9531392 } ,\t5000 )\n", 4 * GIB // STEP),
        ("{log(1)}", 0),
        ("{log(8)}", 3),
        ("{log(1024)*100}", 1000),
        ("{log(DBInstanceVCPU)}", 2),
        ("{LOG(16)}", 4),
        ("{log(8)/2}", 2),  # 1.5 rounds half up
        ("{log(3)}", 2),  # 1.58...
        ("{log(5)}", 2),  # 2.32...
        ("{log(log(256))}", 3),
        ("GREATEST({log(0)},7)", 7),  # log(0) is -infinity, discarded by GREATEST
    ],
)
def test_evaluate(formula: str, expected: int) -> None:
    assert evaluate_formula(formula, mem(4 * GIB, vcpu=4)) == expected


@pytest.mark.parametrize(
    ("memory", "expected"),
    [
        (3_500_000_000, 90),  # db.t3.medium: 4 * 805306368 <= DBICM < 5 * 805306368
        (1_700_000_000, 45),  # db.t3.small
        (16_642_998_272, 1000),  # db.r6g.large: 2 * 8187281408 <= DBICM < 3 * 8187281408
        (33_000_000_000, 2000),  # db.r6g.xlarge
        (66_000_000_000, 3000),  # db.r6g.2xlarge
    ],
)
def test_aurora_mysql_log_table(memory: int, expected: int) -> None:
    assert evaluate_formula(AURORA_MYSQL, mem(memory)) == expected


@pytest.mark.parametrize(
    ("formula", "vcpu", "expected"),
    [
        ("{DBInstanceVCPU/2}", 7, 3),
        ("{DBInstanceVCPU/2}", -7, -3),  # Python's -7 // 2 would be -4
        ("{DBInstanceVCPU/3}", -1, 0),
        ("{7/DBInstanceVCPU}", -2, -3),
        ("{DBInstanceVCPU*DBInstanceVCPU/DBInstanceVCPU}", -7, -7),
    ],
)
def test_division_truncates_toward_zero(formula: str, vcpu: int, expected: int) -> None:
    # Only a variable can be negative inside braces, so the negative operands come from it.
    assert evaluate_formula(formula, mem(0, vcpu=vcpu)) == expected


def test_evaluate_accepts_int_and_digit_string() -> None:
    assert evaluate_formula(300, {}) == 300
    assert evaluate_formula(-5, {}) == -5
    assert evaluate_formula("42", {}) == 42


@given(a=st.integers(0, 10**15), b=st.integers(0, 10**6), c=st.integers(1, 10**12))
def test_integer_arithmetic_is_exact(a: int, b: int, c: int) -> None:
    assert evaluate_formula(f"{{{a}*{b}/{c}}}", {}) == a * b // c
    assert evaluate_formula(f"{{DBInstanceClassMemory*{b}/{c}}}", mem(a)) == a * b // c


@given(st.text(alphabet="{}()*/,+-% 0123456789LEASTGREATESTSUMlogDBInstanceClassMemoryVCPU", max_size=60))
def test_any_text_gives_an_int_or_a_formula_error(text: str) -> None:
    try:
        result = evaluate_formula(text, mem(8 * GIB))
    except FormulaError as error:
        assert 0 <= error.position <= len(text)
    else:
        assert isinstance(result, int)


@pytest.mark.parametrize(
    ("formula", "position", "message"),
    [
        ("", 0, "empty formula"),
        ("   ", 0, "empty formula"),
        ("LEAST(DBInstanceClassMemory/9531392,5000)", 6, "write {DBInstanceClassMemory/9531392}"),
        ("DBInstanceClassMemory", 0, "arithmetic must be inside braces: write {DBInstanceClassMemory}"),
        ("LEAST(5000*2, 1)", 10, "arithmetic must be inside braces: write {5000*2}"),
        ("{DBInstanceVCPU}*2", 16, "arithmetic must be inside braces: write {DBInstanceVCPU*2}"),
        (
            "{DBInstanceClassMem/2}",
            1,
            "unknown variable 'DBInstanceClassMem' (did you mean 'DBInstanceClassMemory'? "
            "known: DBInstanceClassMemory, DBInstanceVCPU)",
        ),
        ("{dbinstancevcpu}", 1, "did you mean 'DBInstanceVCPU'?"),
        ("{Foo}", 1, "unknown variable 'Foo' (known: DBInstanceClassMemory, DBInstanceVCPU)"),
        ("{AllocatedStorage/2}", 1, "'AllocatedStorage' is not supported by the planner"),
        ("foo", 0, "unknown name 'foo'"),
        ("MAX(1,2)", 0, "unknown function 'MAX' (known: LEAST, GREATEST, SUM)"),
        ("GREATES(1,2)", 0, "did you mean 'GREATEST'?"),
        ("log(8)", 0, "log(...) must be inside braces"),
        ("{LEAST(1,2)}", 1, "cannot be used inside braces"),
        ("{DBInstanceClassMemory/9531392", 0, "unbalanced '{': no matching '}'"),
        ("LEAST({DBInstanceClassMemory/9531392},5000", 5, "unbalanced '(': no matching ')'"),
        ("{(DBInstanceVCPU*2}", 1, "unbalanced '(': no matching ')' before '}'"),
        ("{DBInstanceVCPU)}", 15, "unbalanced ')': no matching '('"),
        ("{5}}", 3, "unbalanced '}': no matching '{'"),
        ("LEAST(1,2))", 10, "unbalanced ')': no matching '('"),
        ("LEAST({DBInstanceVCPU,5000)", 21, "',' inside {...}: close the brace"),
        ("{}", 0, "empty braces"),
        ("{ }", 0, "empty braces"),
        ("{()}", 1, "empty parentheses"),
        ("{log()}", 4, "log() needs an argument"),
        ("{log 8}", 1, "log must be followed by '('"),
        ("{{1}}", 1, "braces cannot be nested"),
        ("{DBInstanceVCPU+1}", 15, "'+' is not supported"),
        ("5+3", 1, "to add values use SUM"),
        ("{DBInstanceVCPU-1}", 15, "'-' is not supported here"),
        ("{-5}", 1, "'-' is not supported here"),
        ("-5", 0, "a leading '-' is allowed only on an integer literal function argument"),
        ("SUM(-{5}, 1)", 4, "a leading '-' is allowed only"),
        ("{DBInstanceVCPU%2}", 15, "'%' is not supported"),
        ("{2**10}", 2, "'**' is not supported"),
        ("{5/}", 3, "expected a number, a variable, log(...) or '('"),
        ("{*5}", 1, "expected a number"),
        ("{5 6}", 3, "expected '*', '/' or '}', found '6'"),
        ("LEAST(1 2)", 8, "expected ',' or ')' after an argument of LEAST"),
        ("LEAST()", 6, "LEAST() needs at least one argument"),
        ("LEAST(1,,2)", 8, "empty argument"),
        ("SUM(1,)", 6, "empty argument"),
        ("500 600", 4, "unexpected '600' after a complete value"),
        ("500,600", 3, "combine values with LEAST, GREATEST or SUM"),
        ("{DBInstanceClassMemory*0.75}", 24, "decimal numbers are not supported"),
        ("{5}; DROP", 3, "unexpected character ';'"),
        ("\u00a0500", 0, "unexpected character"),
        ("9" * 1001, 1000, "the limit is 1000"),
    ],
)
def test_syntax_errors(formula: str, position: int, message: str) -> None:
    with pytest.raises(FormulaError) as excinfo:
        parse_formula(formula)
    assert excinfo.value.position == position
    assert message in excinfo.value.detail
    assert f"at position {position}" in str(excinfo.value)


@pytest.mark.parametrize(
    ("formula", "variables", "position", "message"),
    [
        ("{DBInstanceClassMemory/0}", mem(GIB), 22, "division by zero"),
        ("{100/(DBInstanceVCPU/4)}", mem(GIB, vcpu=2), 4, "division by zero"),
        ("LEAST({DBInstanceClassMemory/9531392},5000)", {}, 7, "no value for variable 'DBInstanceClassMemory'"),
        ("{DBInstanceVCPU}", {"DBInstanceVCPU": 2.5}, 1, "must be an integer"),
        ("{log(0)}", {}, 0, "the result is infinite"),
        ("{log(0)*0}", {}, 7, "undefined result"),
        ("{log(DBInstanceVCPU)}", mem(0, vcpu=-1), 1, "log of a negative number"),
    ],
)
def test_evaluation_errors(formula: str, variables: dict[str, int], position: int, message: str) -> None:
    formula_object = parse_formula(formula)  # parses fine: the problem is in the values
    with pytest.raises(FormulaError) as excinfo:
        formula_object.evaluate(variables)
    assert (excinfo.value.position, message in excinfo.value.detail) == (position, True)


@pytest.mark.parametrize("value", [True, 1.5, None, [1]])
def test_non_formula_values_are_rejected(value: object) -> None:
    with pytest.raises(FormulaError, match="expected an integer or a formula"):
        evaluate_formula(value, {})  # type: ignore[arg-type]


def test_formula_error_is_an_input_error() -> None:
    with pytest.raises(InputError) as excinfo:
        evaluate_formula("{oops}", {})
    assert excinfo.value.exit_code == EXIT_INPUT


@pytest.mark.parametrize(("depth", "ok"), [(MAX_DEPTH, True), (MAX_DEPTH + 1, False), (5000, False)])
def test_nesting_depth_is_limited_without_recursion_error(depth: int, ok: bool) -> None:
    parens = "{" + "(" * (depth - 1) + "1" + ")" * (depth - 1) + "}"
    calls = "SUM(" * depth + "1" + ")" * depth
    for text in (parens, calls):
        if len(text) > 1000:
            text = text[:1000]
        if ok:
            assert evaluate_formula(text, {}) == 1
        else:
            with pytest.raises(FormulaError, match="nesting is deeper than 50|unbalanced"):
                parse_formula(text)


def test_long_chain_of_operations_is_not_recursive() -> None:
    assert evaluate_formula("{" + "*".join(["1"] * 490) + "}", {}) == 1


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        (RDS_DEFAULT, "LEAST({8011837440/9531392},5000)"),
        ("{DBInstanceVCPU*DBInstanceVCPU}", "{2*2}"),
        ("GREATEST({log(DBInstanceClassMemory / 805306368)*45}, 10)", "GREATEST({log(8011837440 / 805306368)*45}, 10)"),
        ("500", "500"),
    ],
)
def test_substitute(formula: str, expected: str) -> None:
    assert substitute(formula, mem(8011837440)) == expected


def test_substitute_reports_missing_variable() -> None:
    with pytest.raises(FormulaError, match="no value for variable 'DBInstanceVCPU'"):
        substitute("{DBInstanceVCPU}", {"DBInstanceClassMemory": 1})


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("500", set()),
        (RDS_DEFAULT, {"DBInstanceClassMemory"}),
        ("SUM({DBInstanceVCPU*2},{DBInstanceClassMemory/9531392},{DBInstanceVCPU})", set(KNOWN_VARIABLES)),
    ],
)
def test_variables_used(formula: str, expected: set[str]) -> None:
    assert variables_used(formula) == expected


def test_parsed_formula_is_reusable() -> None:
    formula = parse_formula(RDS_DEFAULT)
    assert isinstance(formula, Formula) and formula.text == RDS_DEFAULT
    assert [formula.evaluate(mem(n * STEP)) for n in (1, 2, 6000)] == [1, 2, 5000]
