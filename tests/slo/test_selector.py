"""PromQL vector selectors, read as Prometheus reads them (``slo/selector.py``).

The tables take their facts from Prometheus's own parser tests (promql/parser/parse_test.go
and lex_test.go): which selectors parse, into what, and which do not. The messages are ours:
each names the column in the selector. The real promtool judges the same texts.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ops_toolkit.cli import main
from ops_toolkit.demo.servers import require_binary
from ops_toolkit.errors import ConfigError, SelectorError
from ops_toolkit.slo.evaluate import query_plan
from ops_toolkit.slo.formats.latency import latency_from_counters
from ops_toolkit.slo.model import LatencySLI, RatioSLI
from ops_toolkit.slo.rules import generate
from ops_toolkit.slo.selector import (
    NOT_METRIC_NAMES,
    Matcher,
    Selector,
    is_selector,
    parse,
    parse_braces,
    quote,
    render,
)
from ops_toolkit.slo.spec import parse_slo_file
from ops_toolkit.slo.windows import BURN_WINDOWS

M = Matcher
# An attacker's bad events: braces balance, and pasted into sum(increase(<selector>[5m])) it
# is valid PromQL that counts something else. Reading the grammar refuses it.
INJECTION = 'x{a="}"}[5m]) * 0 or rate(y{b="{"}'

VALID = [
    pytest.param("foo", Selector("foo", ()), id="a metric name alone"),
    pytest.param("min", Selector("min", ()), id="an aggregation's keyword is a metric name"),
    pytest.param("offset", Selector("offset", ()), id="so is offset"),
    pytest.param('foo:bar{a="bc"}', Selector("foo:bar", (M("a", "=", "bc"),)), id="colons"),
    pytest.param(":x{a='b'}", Selector(":x", (M("a", "=", "b"),)), id="a colon first"),
    pytest.param("foo{NaN='bc'}", Selector("foo", (M("NaN", "=", "bc"),)), id="NaN label"),
    pytest.param("foo{bar='}'}", Selector("foo", (M("bar", "=", "}"),)), id="brace in value"),
    pytest.param(
        'foo{a="b", foo!="bar", test=~"test", bar!~"baz"}',
        Selector(
            "foo",
            (
                M("a", "=", "b"),
                M("foo", "!=", "bar"),
                M("test", "=~", "test"),
                M("bar", "!~", "baz"),
            ),
        ),
        id="the four operators",
    ),
    pytest.param(
        'foo{a="b", foo!="bar",}',
        Selector("foo", (M("a", "=", "b"), M("foo", "!=", "bar"))),
        id="a trailing comma",
    ),
    pytest.param(
        '{__name__=~"bar", __name__!~"baz"}',
        Selector(None, (M("__name__", "=~", "bar"), M("__name__", "!~", "baz"))),
        id="__name__ twice inside the braces",
    ),
    pytest.param(
        '{__name__="bar", __name__="baz"}',
        Selector(None, (M("__name__", "=", "bar"), M("__name__", "=", "baz"))),
        id="__name__ equal twice inside the braces",
    ),
    pytest.param(
        '{__name__="up", job="x"}',
        Selector(None, (M("__name__", "=", "up"), M("job", "=", "x"))),
        id="the name as a matcher",
    ),
    pytest.param("x{}", Selector("x", ()), id="empty braces after a name"),
    pytest.param(
        ' \tx \n{ a = "b" ,\r\n c =~ `d` , }\n',
        Selector("x", (M("a", "=", "b"), M("c", "=~", "d"))),
        id="whitespace between every token",
    ),
    pytest.param(
        r'x{a="\a\b\f\n\r\t\v\\\""}',
        Selector("x", (M("a", "=", '\a\b\f\n\r\t\v\\"'),)),
        id="Go's one-letter escapes and the own quote",
    ),
    pytest.param(r"x{a='it\'s'}", Selector("x", (M("a", "=", "it's"),)), id="single quotes"),
    pytest.param(
        r'x{a="\x41\101\u00e9\U0001F600\xc3\xa9"}',
        Selector("x", (M("a", "=", "AAé\U0001f600é"),)),
        id="hex, octal, 4- and 8-digit unicode escapes; \\x bytes that make UTF-8",
    ),
    pytest.param(
        "x{a=`C:\\temp\\n\"'`}",
        Selector("x", (M("a", "=", "C:\\temp\\n\"'"),)),
        id="backticks are raw",
    ),
    pytest.param(
        "x{a=`two\nlines`}", Selector("x", (M("a", "=", "two\nlines"),)), id="raw newline"
    ),
    pytest.param('x{a="\u00e9\u4e2d"}', Selector("x", (M("a", "=", "é中"),)), id="UTF-8 as is"),
    pytest.param('{a!=""}', Selector(None, (M("a", "!=", ""),)), id="not empty is non-empty"),
    pytest.param(
        '{a=~".+"}', Selector(None, (M("a", "=~", ".+"),)), id="a regex that needs a value"
    ),
    pytest.param('{a!~".*"}', Selector(None, (M("a", "!~", ".*"),)), id="not anything"),
    pytest.param(
        '{a=~"a{,3}"}', Selector(None, (M("a", "=~", "a{,3}"),)), id="RE2 reads a{,3} literally"
    ),
    pytest.param(
        r'{a=~"\\pL+"}', Selector(None, (M("a", "=~", r"\pL+"),)), id="RE2 that Python lacks"
    ),
    pytest.param('x{a=""}', Selector("x", (M("a", "=", ""),)), id="empty matchers with a name"),
    pytest.param(
        '{by="x", on="y"}',
        Selector(None, (M("by", "=", "x"), M("on", "=", "y"))),
        id="keywords are label names",
    ),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_prometheus_selectors_parse_into_name_and_matchers(text: str, expected: Selector) -> None:
    assert parse(text) == expected
    assert is_selector(text)


INVALID = [
    pytest.param("", 1, "expected a metric name or '{', got the end", id="empty"),
    pytest.param("  ", 3, "expected a metric name or '{', got the end", id="blank"),
    pytest.param("{", 2, "expected a label name or '}', got the end", id="an open brace"),
    pytest.param("}", 1, "expected a metric name or '{', got '}'", id="a close brace"),
    pytest.param("some{", 6, "expected a label name or '}', got the end", id="unclosed"),
    pytest.param("some}", 5, "expected the end after the metric name, got '}'", id="close only"),
    pytest.param(
        "some_metric{a=b}", 15, "expected a quoted string after '=', got 'b'", id="unquoted value"
    ),
    pytest.param(
        'some_metric{a:b="b"}',
        14,
        "expected =, !=, =~ or !~ after label 'a', got ':'",
        id="a colon in a label name",
    ),
    pytest.param('foo{a*"b"}', 6, "expected =, !=, =~ or !~ after label 'a', got '*'", id="*"),
    pytest.param('foo{a>="b"}', 6, "expected =, !=, =~ or !~ after label 'a', got '>'", id=">="),
    pytest.param(
        "foo{gibberish}",
        14,
        "expected =, !=, =~ or !~ after label 'gibberish', got '}'",
        id="no op",
    ),
    pytest.param("foo{1}", 5, "expected a label name or '}', got '1'", id="a digit first"),
    pytest.param("foo{__name__= =}", 15, "expected a quoted string after '=', got '='", id="= ="),
    pytest.param("foo{,}", 5, "expected a label name or '}', got ','", id="a comma alone"),
    pytest.param('x{a="b",,}', 9, "expected a label name or '}', got ','", id="two commas"),
    pytest.param(
        'foo{__name__ == "bar"}', 15, "expected a quoted string after '=', got '='", id="=="
    ),
    pytest.param(
        'foo{__name__="bar" lol}',
        20,
        "expected ',' or '}' after a matcher, got 'l'",
        id="no comma between matchers",
    ),
    pytest.param(
        'foo{"a"=}',
        5,
        "expected a label name or '}', got '\"'",
        id="a quoted label name (Prometheus 3)",
    ),
    pytest.param(
        '{"foo"}',
        2,
        "expected a label name or '}', got '\"'",
        id="a quoted metric name (Prometheus 3)",
    ),
    pytest.param(
        "{}",
        1,
        "vector selector must contain at least one non-empty matcher "
        "(a metric name, or a matcher that needs a value)",
        id="nothing selected",
    ),
    pytest.param(
        '{x=""}',
        1,
        "vector selector must contain at least one non-empty matcher "
        "(a metric name, or a matcher that needs a value)",
        id="only an empty value",
    ),
    pytest.param(
        ' {x=~".*"}',
        2,
        "vector selector must contain at least one non-empty matcher "
        "(a metric name, or a matcher that needs a value)",
        id="only a regex matching empty",
    ),
    pytest.param(
        '{x!~".+"}',
        1,
        "vector selector must contain at least one non-empty matcher "
        "(a metric name, or a matcher that needs a value)",
        id="only a negated regex",
    ),
    pytest.param(
        '{x!="a"}',
        1,
        "vector selector must contain at least one non-empty matcher "
        "(a metric name, or a matcher that needs a value)",
        id="only a not-equal",
    ),
    pytest.param(
        'foo{a="b", __name__="bar"}',
        12,
        "metric name must not be set twice: 'foo' or 'bar'",
        id="the name inside and outside",
    ),
    pytest.param(
        'foo{__name__=~"b.*"}',
        5,
        "metric name must not be set twice: 'foo' or 'b.*'",
        id="a name regex with a name",
    ),
    pytest.param("bool", 1, "'bool' is a PromQL keyword, not a metric name", id="bool"),
    pytest.param('on{a="b"}', 1, "'on' is a PromQL keyword, not a metric name", id="on"),
    pytest.param(" Inf", 2, "'Inf' is a PromQL keyword, not a metric name", id="Inf"),
    pytest.param("NaN", 1, "'NaN' is a PromQL keyword, not a metric name", id="NaN"),
    pytest.param(r'x{a="\q"}', 6, r"unknown escape sequence '\q'", id="unknown escape"),
    pytest.param(r"x{a='\"'}", 6, r"unknown escape sequence '\"'", id="the other quote"),
    pytest.param(
        r'x{a="\400"}', 6, "escape sequence is an invalid Unicode code point", id="octal > 255"
    ),
    pytest.param(r'x{a="\18"}', 8, "illegal character '8' in escape sequence", id="not octal"),
    pytest.param(r'x{a="\xZZ"}', 8, "illegal character 'Z' in escape sequence", id="not hex"),
    pytest.param(
        r'x{a="\ud800"}', 6, "escape sequence is an invalid Unicode code point", id="a surrogate"
    ),
    pytest.param(
        r'x{a="\U00110000"}', 6, "escape sequence is an invalid Unicode code point", id="> U+10FFFF"
    ),
    pytest.param(r'x{a="\u12"}', 10, "illegal character '\"' in escape sequence", id="short \\u"),
    pytest.param('x{a="\\', 6, "escape sequence not terminated", id="a backslash at the end"),
    pytest.param(r'x{a="\x4', 6, "escape sequence not terminated", id="hex at the end"),
    pytest.param('x{a="b}', 5, "unterminated quoted string", id="unterminated"),
    pytest.param('x{a="b\ufffd"}', 7, "invalid UTF-8 rune", id="U+FFFD reads as a bad rune"),
    pytest.param("x{a=`\ufffd`}", 5, "invalid UTF-8 rune", id="in a raw string too"),
    pytest.param('x{a="b\nc"}', 5, "unterminated quoted string", id="a newline in quotes"),
    pytest.param("x{a=`b}", 5, "unterminated raw string", id="unterminated raw"),
    pytest.param(
        INJECTION,
        9,
        "a range [...] is not part of a series selector",
        id="the attacker's: braces balance, PromQL does not",
    ),
    pytest.param(
        'x{a="b"} or vector(1)', 10, "expected the end after '}', got 'o'", id="an expression"
    ),
    pytest.param('x{a="b"}[5m]', 9, "a range [...] is not part of a series selector", id="a range"),
    pytest.param(
        "rate(x[5m])", 5, "rate(...) is a function call, not a series selector", id="a function"
    ),
    pytest.param("x y", 3, "expected the end after the metric name, got 'y'", id="two names"),
]
# Refused here though Prometheus takes them (the module docstring says why): the differential
# test shows promtool accepting each.
STRICTER = [
    pytest.param("x # c\n", 3, "a '#' comment is not allowed in a selector", id="a comment"),
    pytest.param(
        r'x{a="\xff"}',
        5,
        "its escapes make bytes that are not UTF-8",
        id="bytes that are not UTF-8",
    ),
]


@pytest.mark.parametrize(("text", "column", "reason"), INVALID + STRICTER)
def test_malformed_selectors_name_the_column_and_the_reason(
    text: str, column: int, reason: str
) -> None:
    with pytest.raises(SelectorError) as raised:
        parse(text)
    assert (raised.value.column, raised.value.reason) == (column, reason)
    assert str(raised.value) == f"column {column} of {text!r}: {reason}"
    assert isinstance(raised.value, ConfigError)
    assert not is_selector(text)


def test_a_lone_surrogate_in_a_value_is_not_utf8() -> None:
    """YAML's "\\ud800" escape gives Python text that no UTF-8 file can hold."""
    with pytest.raises(SelectorError) as raised:
        parse('x{a="\ud800"}')
    assert (raised.value.column, raised.value.reason) == (6, "invalid UTF-8 rune")


def test_every_keyword_refused_as_a_name_is_one_promtool_refuses(tmp_path: Path) -> None:
    """The list comes from Prometheus's grammar (metric_identifier); promtool confirms it,
    and confirms that the keywords it does take as names (sum, by, offset...) are fine."""
    refused = sorted(NOT_METRIC_NAMES)
    taken = ["sum", "by", "without", "offset", "and", "or", "unless", "start", "end", "topk"]
    verdicts = _promtool_verdicts(tmp_path, [*refused, *(f"{n}{{a='b'}}" for n in taken)])
    assert verdicts == [False] * len(refused) + [True] * len(taken)


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("x", "x"),
        ("x{}", "x"),
        (" x { b = 'q\"' , a=~`\\d` , } ", 'x{b="q\\"",a=~"\\\\d"}'),
        ('{__name__="up"}', '{__name__="up"}'),
        ('x{a="\\x41\\n\\t"}', 'x{a="A\\n\\t"}'),
        ('x{a="\\x01\\x7f\\u0085\\u2028"}', 'x{a="\\x01\\x7f\\u0085\\u2028"}'),
        ('x{a="é\\U0001F600"}', 'x{a="é\U0001f600"}'),
    ],
)
def test_selectors_render_canonically(text: str, rendered: str) -> None:
    """No spaces, double quotes, the matchers' order kept; escapes as Go's strconv.Quote."""
    assert render(parse(text)) == rendered


def test_values_are_quoted_as_go_quotes_them() -> None:
    """What must be escaped is; what need not be (printable UTF-8) is kept."""
    assert quote('a"b\\c\n\x00é\ufffd\U000e0001') == '"a\\"b\\\\c\\n\\x00é\\ufffd\\U000e0001"'


def test_braces_alone_take_empty_matchers_but_not_a_name() -> None:
    """A latency SLI's selector: the histogram's name comes apart, so ``{}`` is fine."""
    assert parse_braces(" {} ") == ()
    assert parse_braces('{a=~".*"}') == (M("a", "=~", ".*"),)
    with pytest.raises(SelectorError) as raised:
        parse_braces('x{a="b"}')
    assert str(raised.value) == "column 1 of 'x{a=\"b\"}': expected '{', got 'x'"
    with pytest.raises(SelectorError) as raised:
        parse_braces('{a="b", __name__="c"}')
    assert raised.value.reason == "metric name must not be set twice: the histogram names it"
    assert raised.value.column == 9


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        ('x{a="b",c=~"d"}', " x{ c=~'d', a=`b` }", True),
        ('{__name__="x",a="b"}', 'x{a="b"}', True),
        ('x{a="b"}', 'x{a="b",a="b"}', True),
        ('x{a="b"}', 'x{a!="b"}', False),
        ('x{a="b"}', 'y{a="b"}', False),
    ],
)
def test_same_series_is_the_same_matchers_however_written(
    left: str, right: str, same: bool
) -> None:
    assert parse(left).same_series(parse(right)) is same


def test_the_metric_is_the_name_or_the_one_name_matcher() -> None:
    assert parse('x{a="b"}').metric == "x"
    assert parse('{__name__="x",a="b"}').metric == "x"
    assert parse('{__name__="x",a="b"}').labels == (M("a", "=", "b"),)
    assert parse('{__name__=~"x.*"}').metric is None
    assert parse('{__name__="x",__name__="y"}').metric is None


# -- properties ------------------------------------------------------------------------

NAMES = st.from_regex(r"[A-Za-z_:][A-Za-z0-9_:]{0,8}", fullmatch=True).filter(
    lambda name: name.lower() not in NOT_METRIC_NAMES
)
LABELS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
VALUES = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
OPS = st.sampled_from(["=", "!=", "=~", "!~"])
SPACE = st.text(" \t\r\n", max_size=2)


def _quote_meta(text: str) -> str:
    """A regex matching ``text`` literally (Go's regexp.QuoteMeta): random text is seldom
    a valid regex, and regexes are promtool's to check, not this reader's."""
    return "".join(f"\\{char}" if char in r"\.+*?()|[]{}^$" else char for char in text)


@st.composite
def selectors(draw: st.DrawFn) -> Selector:
    """Valid selectors: a name, or a matcher that needs a value among the matchers."""
    matchers = [
        M(label, op, _quote_meta(value) if "~" in op else value)
        for label, op, value in draw(st.lists(st.tuples(LABELS, OPS, VALUES), max_size=4))
    ]
    name = draw(st.none() | NAMES)
    if name is None:
        needed = M(draw(LABELS), "=", draw(VALUES.filter(bool)))
        matchers.insert(draw(st.integers(0, len(matchers))), needed)
    else:
        matchers = [m for m in matchers if m.label != "__name__"]
    return Selector(name, tuple(matchers))


@st.composite
def spelled(draw: st.DrawFn, value: str) -> str:
    """``value`` as a PromQL string, in one of its many spellings."""
    if "`" not in value and "\ufffd" not in value and draw(st.booleans()):
        return f"`{value}`"
    quote_char = draw(st.sampled_from(['"', "'"]))
    out = []
    for char in value:
        must = char in (quote_char, "\\", "\n", "\ufffd")  # Go reads U+FFFD as a bad rune
        way = draw(st.sampled_from(["as is", "short", "x", "u", "U", "octal"]))
        if way == "as is" and not must:
            out.append(char)
        elif way == "short" and char in "\a\b\f\n\r\t\v\\" + quote_char:
            out.append(
                "\\"
                + {"\a": "a", "\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t", "\v": "v"}.get(
                    char, char
                )
            )
        elif way == "x":
            out.append("".join(f"\\x{byte:02x}" for byte in char.encode()))
        elif way == "octal":
            out.append("".join(f"\\{byte:03o}" for byte in char.encode()))
        elif way == "u" and ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return quote_char + "".join(out) + quote_char


@st.composite
def written(draw: st.DrawFn) -> tuple[str, Selector]:
    """A valid selector and one way to write it: spacing, quotes, escapes, trailing comma."""
    selector = draw(selectors())
    parts = []
    for label, op, value in selector.matchers:
        parts.append(
            f"{draw(SPACE)}{label}{draw(SPACE)}{op}{draw(SPACE)}{draw(spelled(value))}{draw(SPACE)}"
        )
    inside = ",".join(parts) + ("," if parts and draw(st.booleans()) else "")
    braces = f"{{{inside}}}" if parts or draw(st.booleans()) else ""
    text = f"{draw(SPACE)}{selector.name or ''}{draw(SPACE)}{braces}{draw(SPACE)}"
    return text, selector


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(written())
def test_written_selectors_parse_into_their_value_and_render_back_to_it(
    case: tuple[str, Selector],
) -> None:
    text, selector = case
    assert parse(text) == selector
    assert parse(render(parse(text))) == selector


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(selectors())
def test_rendered_selectors_read_back_the_same(selector: Selector) -> None:
    assert parse(render(selector)) == selector


PROMQL_CHARS = st.sampled_from(
    [*"{}()[]\"'`=!~,#\\ \n\tax_:0159é\x00", "\\x", "\\u", "__name__", "le"]
)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text() | st.lists(PROMQL_CHARS, max_size=30).map("".join))
def test_parse_raises_nothing_but_its_own_error(text: str) -> None:
    try:
        parsed = parse(text)
    except SelectorError as error:
        assert 1 <= error.column <= len(text) + 1
        assert "\n" not in error.reason
        return
    assert parse(render(parsed)) == parsed


# -- against the real promtool --------------------------------------------------------


def _promtool_verdict(tmp_path: Path, text: str) -> tuple[bool, str]:
    """Whether promtool takes ``text`` where the generated rules put a selector,
    ``sum(increase(<selector>[5m]))`` (a range is only allowed after a selector), and what
    it said."""
    path = tmp_path / "selector.rules.yaml"
    rule = {"record": "r", "expr": f"sum(increase({text}[5m]))"}
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [rule]}]}))
    result = subprocess.run(
        [require_binary("promtool"), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        errors="replace",  # it echoes the expression, bytes that are not UTF-8 included
        check=False,
    )
    return result.returncode == 0, result.stdout + result.stderr


def _promtool_verdicts(tmp_path: Path, selectors: list[str]) -> list[bool]:
    return [_promtool_verdict(tmp_path, text)[0] for text in selectors]


def test_promtool_takes_every_valid_selector_and_its_rendering(tmp_path: Path) -> None:
    texts = [p.values[0] for p in VALID]
    rendered = [render(parse(text)) for text in texts]
    rules = [
        {"record": f"r{n}", "expr": f"sum(increase({text}[5m]))"}
        for n, text in enumerate([*texts, *rendered])
    ]
    path = tmp_path / "valid.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": rules}]}))
    result = subprocess.run(
        [require_binary("promtool"), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def test_promtool_refuses_every_malformed_selector_and_takes_the_stricter_ones(
    tmp_path: Path,
) -> None:
    """All but the injection, which is made to be valid PromQL where the rules paste it."""
    invalid = [p.values[0] for p in INVALID if p.values[0] != INJECTION]
    stricter = [p.values[0] for p in STRICTER]
    verdicts = _promtool_verdicts(tmp_path, [*invalid, *stricter, INJECTION])
    taken = [text for text, ok in zip(invalid, verdicts, strict=False) if ok]
    assert taken == []
    assert verdicts[len(invalid) :] == [True] * (len(stricter) + 1)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(written())
def test_promtool_takes_generated_selectors_as_written_and_as_rendered(
    tmp_path: Path, case: tuple[str, Selector]
) -> None:
    text, selector = case
    assert _promtool_verdicts(tmp_path, [text, render(selector)]) == [True, True]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A valid selector's text with up to two characters inserted, deleted or replaced."""
    text, _ = draw(written())
    for _ in range(draw(st.integers(1, 2))):
        at = draw(st.integers(0, len(text)))
        change = draw(st.sampled_from(["insert", "delete", "replace"]))
        char = draw(PROMQL_CHARS)
        if change == "insert":
            text = text[:at] + char + text[at:]
        else:
            text = text[:at] + (char if change == "replace" else "") + text[at + 1 :]
    return text


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(mutated())
def test_promtool_and_the_reader_agree_on_damaged_selectors(tmp_path: Path, text: str) -> None:
    """Valid or not, the same verdict, but for the two known differences: a regex promtool
    cannot compile (not checked here) and escapes making bytes that are not UTF-8 (refused
    here only)."""
    try:
        parse(text)
    except SelectorError as error:
        ours, why = False, error.reason
    else:
        ours, why = True, ""
    theirs, output = _promtool_verdict(tmp_path, text)
    if ours and not theirs:
        assert "error parsing regexp" in output
    elif theirs and not ours:
        assert why == "its escapes make bytes that are not UTF-8"


# -- in the SLO files -------------------------------------------------------------------


def test_an_injected_expression_is_refused_at_its_yaml_path(tmp_path: Path) -> None:
    """It passed validate, and the generated rules counted the injected expression as the
    SLO's bad events (promtool accepted them)."""
    path = tmp_path / "s.yaml"
    path.write_text(
        "version: ops/v1\nservice: search\nslos:\n  - name: availability\n"
        "    objective: 99.9\n    window: 30d\n    sli:\n      ratio:\n"
        '        bad: \'x{a="}"}[5m]) * 0 or rate(y{b="{"}\'\n'
        "        total: http_requests_total\n"
    )
    result = CliRunner().invoke(main, ["slo", "validate", str(path)])
    assert (result.exit_code, result.output) == (
        1,
        f"Error: {path}: slos[0].sli.ratio.bad: not a series selector: column 9 of "
        '\'x{a="}"}[5m]) * 0 or rate(y{b="{"}\': a range [...] is not part of a series '
        "selector\n",
    )


# -- where a caller was wrong: each failed before the one reader ----------------------

RATIO = (
    "version: ops/v1\nservice: search\nslos:\n  - name: availability\n"
    "    objective: 99.9\n    sli:\n      ratio:\n        bad: {bad}\n        total: {total}\n"
)


@pytest.mark.parametrize(
    ("bad", "total", "message"),
    [
        pytest.param(
            "x_total",
            "'{code=~\".*\"}'",
            "f.yaml: slos[0].sli.ratio.total: not a series selector: column 1 of "
            "'{code=~\".*\"}': vector selector must contain at least one non-empty matcher "
            "(a metric name, or a matcher that needs a value)",
            id="a selector of every series (Prometheus refuses the rule file)",
        ),
        pytest.param(
            "'x_total{__name__=\"y_total\"}'",
            "x_total",
            "f.yaml: slos[0].sli.ratio.bad: not a series selector: column 9 of "
            "'x_total{__name__=\"y_total\"}': metric name must not be set twice: 'x_total' or "
            "'y_total'",
            id="two metric names (rules read y_total, Prometheus refused)",
        ),
        pytest.param(
            "'x_total{code=\"5\\q\"}'",
            "x_total",
            "f.yaml: slos[0].sli.ratio.bad: not a series selector: column 16 of "
            "'x_total{code=\"5\\\\q\"}': unknown escape sequence '\\q'",
            id="an escape Go does not know",
        ),
        pytest.param(
            "x_total",
            "'on'",
            "f.yaml: slos[0].sli.ratio.total: not a series selector: column 1 of 'on': "
            "'on' is a PromQL keyword, not a metric name",
            id="a keyword as the metric",
        ),
    ],
)
def test_selectors_prometheus_refuses_are_refused_at_their_yaml_path(
    bad: str, total: str, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_slo_file(RATIO.format(bad=bad, total=total), "f.yaml")
    assert str(raised.value) == message


LATENCY = (
    "version: ops/v1\nservice: search\nslos:\n  - name: latency\n    objective: 99\n"
    "    sli:\n      latency: {{histogram: {histogram}, selector: '{selector}', below: 1.5}}\n"
)


@pytest.mark.parametrize(
    ("histogram", "selector", "message"),
    [
        pytest.param(
            "h",
            '{a="1"}[5m]) * 0 or up{b="2"}',
            "f.yaml: slos[0].sli.latency.selector: not label matchers in braces: column 8 of "
            "'{a=\"1\"}[5m]) * 0 or up{b=\"2\"}': expected the end after '}', got '['",
            id="an injection that starts and ends with a brace",
        ),
        pytest.param(
            "h",
            '{a="1}',
            "f.yaml: slos[0].sli.latency.selector: not label matchers in braces: column 4 of "
            "'{a=\"1}': unterminated quoted string",
            id="an unterminated string (the rules would not parse)",
        ),
        pytest.param(
            "lat\u00e9ncy",
            "{}",
            "f.yaml: slos[0].sli.latency.histogram: expected the histogram's metric name "
            "without _bucket, got 'laténcy'",
            id="a name Prometheus cannot read (Python's \\w took it)",
        ),
    ],
)
def test_a_latency_selector_is_read_as_matchers_in_braces(
    histogram: str, selector: str, message: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_slo_file(LATENCY.format(histogram=histogram, selector=selector), "f.yaml")
    assert str(raised.value) == message


def test_a_latency_selector_may_be_empty_braces_or_match_empty() -> None:
    (slo,) = parse_slo_file(LATENCY.format(histogram="h", selector='{route=~".*"}'), "f.yaml").slos
    assert slo.sli == LatencySLI("h", '{route=~".*"}', 1.5)


def test_a_bucket_and_its_count_in_other_quotes_are_a_latency_sli() -> None:
    """The latency reader took double quotes only: these were a ratio of two counters."""
    assert latency_from_counters(
        "x_bucket{le='1.5', job=`shop`}", 'x_count{job="shop"}'
    ) == LatencySLI("x", '{job="shop"}', 1.5)
    assert latency_from_counters('{__name__="x_bucket",le="2"}', "x_count") == LatencySLI(
        "x", "{}", 2.0
    )


def test_a_pyrra_latency_in_single_quotes_is_read() -> None:
    """It was refused: 'expected a histogram's _bucket series with one le=... matcher'."""
    text = (
        "apiVersion: pyrra.dev/v1alpha1\nkind: ServiceLevelObjective\n"
        "metadata: {name: checkout, namespace: shop}\nspec:\n  target: '99.5'\n  window: 4w\n"
        "  indicator:\n    latency:\n"
        "      success: {metric: \"request_seconds_bucket{job='shop', le='0.5'}\"}\n"
        "      total: {metric: 'request_seconds_count{job=\"shop\"}'}\n"
    )
    (slo,) = parse_slo_file(text, "f.yaml").slos
    assert slo.sli == LatencySLI("request_seconds", '{job="shop"}', 0.5)


def test_a_pyrra_metric_names_the_column() -> None:
    text = (
        "apiVersion: pyrra.dev/v1alpha1\nkind: ServiceLevelObjective\n"
        "metadata: {name: checkout}\nspec:\n  target: '99.5'\n  window: 4w\n"
        "  indicator:\n    ratio:\n      errors: {metric: 'x{code=~\"5..\"'}\n"
        "      total: {metric: x}\n"
    )
    with pytest.raises(ConfigError) as raised:
        parse_slo_file(text, "f.yaml")
    assert str(raised.value) == (
        "f.yaml: spec.indicator.ratio.errors.metric: not a series selector: column 14 of "
        "'x{code=~\"5..\"': expected ',' or '}' after a matcher, got the end"
    )


QUOTED = (
    "version: ops/v1\nservice: shop\nslos:\n  - name: availability\n    objective: 99.9\n"
    "    sli:\n      ratio:\n"
    "        bad: \"requests_total{job='shop', code=~'5..', path=`/a\\\"b\\\\\\\\c`}\"\n"
    '        total: "requests_total{job=\'shop\', path=`/a\\"b\\\\\\\\c`}"\n'
)


def test_selectors_in_other_quotes_get_promtool_tests_that_pass(tmp_path: Path) -> None:
    """The rules' reader took double quotes only: such an SLO silently had no tests. Its
    series now carry the values, a quote and a backslash included, escaped for promtool."""
    file = parse_slo_file(QUOTED, str(tmp_path / "shop.yaml"))
    assert file.slos[0].sli == RatioSLI(
        total="requests_total{job='shop', path=`/a\"b\\\\c`}",
        bad="requests_total{job='shop', code=~'5..', path=`/a\"b\\\\c`}",
    )
    for name, text in generate([file], None, True).items():
        (tmp_path / name).write_text(text)
    tests = yaml.safe_load((tmp_path / "shop.rules.test.yaml").read_text())["tests"]
    assert [t["name"] for t in tests][:3] == [
        "shop/availability: fast burn pages",
        "shop/availability: slow burn opens a ticket",
        "shop/availability: healthy fires nothing",
    ]
    assert tests[0]["input_series"][0]["series"] == (
        'requests_total{code="500",job="shop",path="/a\\"b\\\\\\\\c"}'
    )
    promtool = require_binary("promtool")
    for args in (["check", "rules", "shop.rules.yaml"], ["test", "rules", "shop.rules.test.yaml"]):
        result = subprocess.run(
            [promtool, *args], capture_output=True, text=True, check=False, cwd=tmp_path
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_plan_groups_selectors_in_other_quotes_and_escapes_their_values(
    tmp_path: Path,
) -> None:
    """The planner's reader took double quotes without escapes: these were asked one by
    one, as written. Grouped, each value is a literal of the regex, quoted for PromQL; the
    real promtool parses every planned query."""
    text = "version: ops/v1\nservice: fleet\nslos:\n" + "".join(
        f"  - name: availability-{number}\n    objective: 99.9\n    sli:\n      ratio:\n"
        f"        bad: 'x_total{{code=~`5..`,service=`{service}`}}'\n"
        f"        total: 'x_total{{service=`{service}`}}'\n"
        for number, service in enumerate(("a.b", 'c"d\\e'))
    )
    slos = parse_slo_file(text, "f.yaml").slos
    plan = query_plan(slos, 1_767_225_600)
    assert len(plan) == 1 + len(BURN_WINDOWS)
    assert plan[0].query == (
        'sum by (service, ops_counted) (label_replace(increase(x_total{service=~"a\\\\.b|'
        'c\\"d\\\\\\\\e"}[30d]), "ops_counted", "1", "code", "5.."))'
    )
    rules = [{"record": f"r{n}", "expr": p.query} for n, p in enumerate(plan)]
    path = tmp_path / "plan.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "plan", "rules": rules}]}))
    result = subprocess.run(
        [require_binary("promtool"), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_plan_groups_selectors_that_name_the_metric_in_braces(tmp_path: Path) -> None:
    """The planner took a name before the braces only. ``__name__`` itself is never the
    grouping label nor the merged matcher: increase() drops it."""
    text = "version: ops/v1\nservice: fleet\nslos:\n" + "".join(
        f"  - name: availability-{service}\n    objective: 99.9\n    sli:\n      ratio:\n"
        f'        bad: \'{{__name__="x_total",service="{service}",code="500"}}\'\n'
        f'        total: \'{{__name__="x_total",service="{service}"}}\'\n'
        for service in ("a", "b")
    )
    plan = query_plan(parse_slo_file(text, "f.yaml").slos, 1_767_225_600)
    assert len(plan) == 1 + len(BURN_WINDOWS)
    assert plan[0].query == (
        'sum by (service, ops_counted) (label_replace(increase({__name__="x_total",'
        'service=~"a|b"}[30d]), "ops_counted", "1", "code", "500"))'
    )
    rules = [{"record": f"r{n}", "expr": p.query} for n, p in enumerate(plan)]
    path = tmp_path / "plan.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "plan", "rules": rules}]}))
    result = subprocess.run(
        [require_binary("promtool"), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_total_without_braces_is_merged_with_its_counted_selector() -> None:
    """The planner took a name with braces only: 'x_total' and 'x_total{code="500"}' were
    asked apart. A regex Python cannot compile is not copied into ops's own query: that
    query is asked as written, so Prometheus's error is about the user's matcher."""
    slos = parse_slo_file(RATIO.format(bad="'x_total{code=\"500\"}'", total="x_total"), "f.yaml")
    plan = query_plan(slos.slos, 1_767_225_600)
    assert len(plan) == 1 + len(BURN_WINDOWS)
    assert plan[0].query == (
        'sum by (ops_counted) (label_replace(increase(x_total[30d]), "ops_counted", "1", '
        '"code", "500"))'
    )
    broken = parse_slo_file(RATIO.format(bad="'x_total{code=~\"(\"}'", total="x_total"), "f")
    plan = query_plan(broken.slos, 1_767_225_600)
    assert [p.query for p in plan[:2]] == [
        'sum(increase(x_total{code=~"("}[30d]))',
        "sum(increase(x_total[30d]))",
    ]
