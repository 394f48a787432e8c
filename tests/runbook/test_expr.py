"""The when-expression language: evaluation table and parse errors."""

from __future__ import annotations

import pytest

from ops_toolkit.runbook.expr import ExpressionError, evaluate, parse_expression, variables_in

VARIABLES = {"MODE": "fast", "COUNT": "3", "EMPTY": "", "FLAG": "false", "HOST": "db-01"}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        pytest.param("MODE == 'fast'", True, id="equality with a quoted string"),
        pytest.param('$MODE != "fast"', False, id="inequality with a dollar variable"),
        pytest.param("${HOST} =~ '^db-[0-9]+$'", True, id="regex search"),
        pytest.param("COUNT == 3", True, id="numbers compare as text"),
        pytest.param("EMPTY", False, id="empty string is false"),
        pytest.param("FLAG", False, id="the word false is false"),
        pytest.param("UNSET", False, id="unset variables are empty"),
        pytest.param("not UNSET", True, id="negation"),
        pytest.param("MODE == 'slow' or COUNT == '3'", True, id="or"),
        pytest.param("MODE == 'fast' and (FLAG or EMPTY)", False, id="and with parentheses"),
        pytest.param("not (MODE == 'slow') and HOST", True, id="not binds tighter than and"),
        pytest.param(r"'it\'s' == 'it\'s'", True, id="escaped quotes"),
    ],
)
def test_expressions_evaluate_over_variables(expression: str, expected: bool) -> None:
    assert evaluate(parse_expression(expression), VARIABLES) is expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        pytest.param("", "empty expression", id="empty"),
        pytest.param("MODE ==", "expression ends too early", id="dangling operator"),
        pytest.param("MODE = 'x'", "unexpected '=' at column 6", id="single equals"),
        pytest.param("(MODE", "expression ends too early", id="unclosed parenthesis"),
        pytest.param("MODE 'x'", "unexpected \"'x'\" at column 6", id="two atoms"),
        pytest.param("$(rm -rf /)", "unexpected '$' at column 1", id="no shell substitution"),
        pytest.param(
            "A =~ '('",
            "bad regular expression at column 3: missing ), unterminated subpattern at position 0",
            id="bad regex",
        ),
        pytest.param(
            "A =~ B",
            "the right side of '=~' at column 3 must be a quoted regular expression written"
            " in the runbook, not a variable",
            id="regex from a variable (ReDoS through a param or label)",
        ),
        pytest.param(
            "A =~ $B",
            "the right side of '=~' at column 3 must be a quoted regular expression written"
            " in the runbook, not a variable",
            id="regex from a dollar variable",
        ),
        pytest.param(
            "(" * 3000 + "A" + ")" * 3000,
            "nested more than 50 deep at column 51; simplify the expression",
            id="deep parentheses",
        ),
        pytest.param(
            "not " * 5000 + "A",
            "nested more than 50 deep at column 201; simplify the expression",
            id="deep not",
        ),
    ],
)
def test_bad_expressions_name_the_column(expression: str, message: str) -> None:
    with pytest.raises(ExpressionError) as raised:
        parse_expression(expression)
    assert str(raised.value) == message


def test_variables_in_lists_every_name_read() -> None:
    node = parse_expression("A == 'x' or not ($B and ${C} =~ 'c' and D)")
    assert variables_in(node) == {"A", "B", "C", "D"}


def test_nesting_up_to_the_limit_still_parses() -> None:
    node = parse_expression("(" * 50 + "MODE == 'fast'" + ")" * 50)
    assert evaluate(node, VARIABLES) is True
