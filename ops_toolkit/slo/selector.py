"""PromQL vector selectors (``metric{label="v", other=~"a|b"}``): read into a typed value,
written back canonically. Pure; the one reader every SLO format and generator uses.

The grammar is Prometheus's own (``promql/parser/lex.go`` and ``generated_parser.y``):

- a metric name ``[a-zA-Z_:][a-zA-Z0-9_:]*``, then optionally matchers in braces, or the
  braces alone; whitespace (space, tab, newline, carriage return) between any two tokens;
- a matcher is a label name ``[a-zA-Z_][a-zA-Z0-9_]*``, one of ``=``, ``!=``, ``=~``,
  ``!~``, and a string in double or single quotes (Go escapes: ``\\a \\b \\f \\n \\r \\t \\v
  \\\\``, the string's own quote, ``\\x`` with 2 hex digits, ``\\u`` with 4, ``\\U`` with 8,
  and 3 octal digits; no newline) or in backticks (raw, no escapes); a trailing comma is
  allowed, an empty matcher list is ``{}``;
- the names that are PromQL keywords and not also metric identifiers in its grammar
  (``bool``, ``on``, ``ignoring``, ``group_left``, ``group_right``, ``atan2``, ``inf``,
  ``nan``, in any case) cannot be a metric name;
- a metric name outside the braces and a ``__name__`` matcher inside are refused
  ("metric name must not be set twice");
- a selector must have one matcher that does not match the empty value (the metric name is
  one). This is enforced, as Prometheus does, because the selectors read here end up in
  the recording rules ops generates: ``{code=~".*"}`` would pass ``ops slo validate`` and
  then make Prometheus refuse the whole rule file. Whether a regex matches the empty
  value is decided with Python's ``re``; where RE2 and Python could disagree (a pattern
  Python cannot compile, or ``{,n}`` which RE2 reads literally) the matcher is taken to
  need a value, so no selector Prometheus accepts is refused on a guess.

Two choices stricter than Prometheus, both because a selector's text is pasted as written
into generated expressions (``sum(increase(<selector>[5m]))``): a ``#`` comment is refused
(it would swallow the rest of the line), and so are ``\\x``/octal escapes whose bytes are
not UTF-8 (no series can carry such a value, and the text could not be written back out).
Regexes are not otherwise checked: Python's ``re`` is not RE2, and promtool reports them.
Prometheus 3's quoted UTF-8 names (``{"my.metric"}``) are not read: the Prometheus these
rules are checked with (2.42) refuses them.
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache
from typing import Literal, NamedTuple

from ops_toolkit.errors import SelectorError

MatchOp = Literal["=", "!=", "=~", "!~"]
MATCH_OPS: tuple[MatchOp, ...] = ("=~", "!~", "!=", "=")  # two-character ones first
_OPS: dict[str, MatchOp] = {op: op for op in MATCH_OPS}
METRIC_NAME = "__name__"
METRIC = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Keywords the lexer turns into tokens that the grammar's metric_identifier does not take
# (checked with promtool: `sum(increase(on{a="b"}[5m]))` fails, `...(sum{a="b"}...)` passes).
NOT_METRIC_NAMES = frozenset(
    ("bool", "on", "ignoring", "group_left", "group_right", "atan2", "inf", "nan")
)
_SPACES = re.compile(r"[ \t\n\r]*")
_PLAIN_STRING = {
    quote: re.compile(f"([^{quote}\\\\\n\ud800-\udfff\ufffd]*){quote}") for quote in "\"'"
}
_PLAIN_MATCHER = re.compile(
    r"[ \t\n\r]*([A-Za-z_][A-Za-z0-9_]*)[ \t\n\r]*(=~|!~|!=|=)[ \t\n\r]*"
    + "(?:"
    + "|".join(f"{quote}([^{quote}\\\\\n\ud800-\udfff\ufffd]*){quote}" for quote in "\"'")
    + r")[ \t\n\r]*(?:,|(?=\}))"
)
# Go's lexer reads a lone surrogate, and U+FFFD itself, as utf8.RuneError: "invalid UTF-8 rune"
_BAD_RUNE = re.compile("[\ud800-\udfff\ufffd]")
_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
}
_QUOTED = {value: key for key, value in _SIMPLE_ESCAPES.items()}
_QUOTED['"'] = '"'
_OCTAL = "01234567"
_HEX = "0123456789abcdefABCDEF"
_HEX_DIGITS = {"x": 2, "u": 4, "U": 8}
BACKSLASH = "\\"


class Matcher(NamedTuple):
    """One label matcher; ``value`` is the string's value, escapes resolved."""

    label: str
    op: MatchOp
    value: str

    def matches_empty(self) -> bool | None:
        """Whether a series without this label passes it; None when not known for sure."""
        if self.op in ("=", "!="):
            return (self.value == "") == (self.op == "=")
        matched = _regex_matches_empty(self.value)
        if matched is None:
            return None
        return matched if self.op == "=~" else not matched


class Selector(NamedTuple):
    """``name`` is the metric name written before the braces (None without one);
    ``matchers`` are those in the braces, in their order."""

    name: str | None
    matchers: tuple[Matcher, ...]

    @property
    def metric(self) -> str | None:
        """The metric name, before the braces or as the one ``__name__="..."`` matcher."""
        if self.name is not None:
            return self.name
        named = [m.value for m in self.matchers if m.label == METRIC_NAME and m.op == "="]
        return named[0] if len(named) == 1 else None

    @property
    def labels(self) -> tuple[Matcher, ...]:
        """The matchers other than the metric name's (when ``metric`` names it)."""
        if self.name is not None or self.metric is None:
            return self.matchers
        return tuple(m for m in self.matchers if not (m.label == METRIC_NAME and m.op == "="))

    def all_matchers(self) -> tuple[Matcher, ...]:
        """Every matcher, the name as ``__name__="name"``: what Prometheus selects by."""
        if self.name is None:
            return self.matchers
        return (*self.matchers, Matcher(METRIC_NAME, "=", self.name))

    def same_series(self, other: Selector) -> bool:
        """Selects the same series however written (order, quotes, spacing, escapes)."""
        return sorted(set(self.all_matchers())) == sorted(set(other.all_matchers()))


@lru_cache(maxsize=8192)
def parse(text: str) -> Selector:
    """``text`` as a vector selector; a ``SelectorError`` (column and reason) otherwise.

    Cached: the rules, their tests and the report read the same selectors many times."""
    return _Reader(text).selector()


def parse_braces(text: str) -> tuple[Matcher, ...]:
    """``{...}`` alone, for a selector whose metric name is given apart (a histogram's):
    ``{}`` and matchers that all match the empty value are fine, ``__name__`` is not."""
    return _Reader(text).braces_only()


def is_selector(text: str) -> bool:
    """Whether ``text`` parses, for callers that only choose between readings."""
    try:
        parse(text)
    except SelectorError:
        return False
    return True


def render(selector: Selector) -> str:
    """The canonical text: no spaces, double quotes, matchers in their order."""
    name = selector.name or ""
    if not selector.matchers:
        return name or "{}"
    return f"{name}{{{render_matchers(selector.matchers)}}}"


def render_matchers(matchers: tuple[Matcher, ...] | list[Matcher]) -> str:
    """``a="b",c=~"d"``: the inside of the braces."""
    return ",".join(render_matcher(m) for m in matchers)


def render_matcher(matcher: Matcher) -> str:
    """``a=~"b"``: one matcher, its value quoted."""
    return f"{matcher.label}{matcher.op}{quote(matcher.value)}"


def quote(value: str) -> str:
    """``value`` as a double-quoted PromQL string (as Go's strconv.Quote writes it)."""
    if value.isprintable() and '"' not in value and "\\" not in value and "\ufffd" not in value:
        return f'"{value}"'  # nothing to escape: most values
    out = []
    for char in value:
        if char in _QUOTED:
            out.append("\\" + _QUOTED[char])
        elif (char.isprintable() or char == " ") and char != "\ufffd":
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def regex_compiles(pattern: str) -> bool:
    """Whether Python's ``re`` compiles ``pattern`` (RE2 may still refuse it): checked before
    ops copies a user's regex into a query of its own making, so that a bad one is sent as
    the user wrote it and Prometheus's error is about their text, not ops's."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            re.compile(pattern)
    except (re.error, RecursionError, OverflowError, ValueError):
        return False
    return True


def _regex_matches_empty(pattern: str) -> bool | None:
    """Prometheus anchors a matcher's regex at both ends: does it match ``""``?"""
    if "{," in pattern:  # RE2 reads `a{,3}` as literal text, Python as a repetition
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "possible nested set" and the like
            compiled = re.compile(pattern)
    except (re.error, RecursionError, OverflowError, ValueError):
        return None
    return compiled.fullmatch("") is not None


def _shown(char: str) -> str:
    if not char:
        return "the end"
    return f"'{char}'" if char.isprintable() and char != " " else repr(char)


class _Reader:
    """A cursor over the text; every error names the column (1-based, in characters)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0
        self.columns: list[int] = []  # where each matcher read so far starts

    def fail(self, reason: str, at: int | None = None) -> SelectorError:
        return SelectorError(self.text, (self.at if at is None else at) + 1, reason)

    def peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def skip_space(self) -> None:
        spaces = _SPACES.match(self.text, self.at)
        assert spaces is not None  # a star always matches
        self.at = spaces.end()
        if self.peek() == "#":
            raise self.fail("a '#' comment is not allowed in a selector")

    def selector(self) -> Selector:
        self.skip_space()
        name = None
        start = self.at
        found = METRIC.match(self.text, self.at)
        if found:
            name = found.group()
            if name.lower() in NOT_METRIC_NAMES:
                raise self.fail(f"{name!r} is a PromQL keyword, not a metric name", start)
            self.at = found.end()
            self.skip_space()
        elif self.peek() != "{":
            raise self.fail(f"expected a metric name or '{{', got {_shown(self.peek())}")
        after = "the metric name"
        matchers: tuple[Matcher, ...] = ()
        if self.peek() == "{":
            matchers, after = self.matchers(), "'}'"
            self.skip_space()
        if self.peek() == "(" and after == "the metric name":
            raise self.fail(f"{name}(...) is a function call, not a series selector")
        if self.peek() == "[":
            raise self.fail("a range [...] is not part of a series selector")
        if self.peek():
            raise self.fail(f"expected the end after {after}, got {_shown(self.peek())}")
        if name is not None:
            for matcher, column in zip(matchers, self.columns, strict=True):
                if matcher.label == METRIC_NAME:
                    raise self.fail(
                        f"metric name must not be set twice: {name!r} or {matcher.value!r}",
                        column,
                    )
        elif all(m.matches_empty() is True for m in matchers):
            raise self.fail(
                "vector selector must contain at least one non-empty matcher "
                "(a metric name, or a matcher that needs a value)",
                start,
            )
        return Selector(name, matchers)

    def braces_only(self) -> tuple[Matcher, ...]:
        self.skip_space()
        if self.peek() != "{":
            raise self.fail(f"expected '{{', got {_shown(self.peek())}")
        matchers = self.matchers()
        self.skip_space()
        if self.peek():
            raise self.fail(f"expected the end after '}}', got {_shown(self.peek())}")
        for matcher, column in zip(matchers, self.columns, strict=True):
            if matcher.label == METRIC_NAME:
                raise self.fail("metric name must not be set twice: the histogram names it", column)
        return matchers

    def matchers(self) -> tuple[Matcher, ...]:
        """From ``{`` to its ``}``."""
        self.at += 1
        found: list[Matcher] = []
        while True:
            plain = _PLAIN_MATCHER.match(self.text, self.at)
            if plain:  # the common spelling at once; anything else token by token below
                label_name, op_text, double, single = plain.group(1, 2, 3, 4)
                self.columns.append(plain.start(1))
                value = double if double is not None else single
                found.append(Matcher(label_name, _OPS[op_text], value))
                self.at = plain.end()
                continue
            self.skip_space()
            if self.peek() == "}":
                self.at += 1
                return tuple(found)
            label = LABEL.match(self.text, self.at)
            if not label:
                raise self.fail(f"expected a label name or '}}', got {_shown(self.peek())}")
            self.columns.append(self.at)
            self.at = label.end()
            self.skip_space()
            op = next((op for op in MATCH_OPS if self.text.startswith(op, self.at)), None)
            if op is None:
                raise self.fail(
                    f"expected =, !=, =~ or !~ after label {label.group()!r}, "
                    f"got {_shown(self.peek())}"
                )
            self.at += len(op)
            self.skip_space()
            if not self.peek() or self.peek() not in "\"'`":
                raise self.fail(f"expected a quoted string after {op!r}, got {_shown(self.peek())}")
            found.append(Matcher(label.group(), op, self.string()))
            self.skip_space()
            if self.peek() == ",":
                self.at += 1
            elif self.peek() != "}":
                raise self.fail(f"expected ',' or '}}' after a matcher, got {_shown(self.peek())}")

    def string(self) -> str:
        quote_char, start = self.peek(), self.at
        self.at += 1
        if quote_char == "`":
            end = self.text.find("`", self.at)
            if end < 0:
                raise self.fail("unterminated raw string", start)
            value = self.text[self.at : end]
            if _BAD_RUNE.search(value):
                raise self.fail("invalid UTF-8 rune", start)
            self.at = end + 1
            return value
        plain = _PLAIN_STRING[quote_char].match(self.text, self.at)
        if plain:  # no escape, nothing to refuse: the common case, read at once
            self.at = plain.end()
            return plain.group(1)
        out = bytearray()
        while True:
            char = self.peek()
            if not char or char == "\n":
                raise self.fail("unterminated quoted string", start)
            if "\ud800" <= char <= "\udfff" or char == "\ufffd":
                raise self.fail("invalid UTF-8 rune", self.at)
            self.at += 1
            if char == quote_char:
                break
            if char == "\\":
                out += self.escape(quote_char)
            else:
                out += char.encode()
        try:
            return out.decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail("its escapes make bytes that are not UTF-8", start) from None

    def escape(self, quote_char: str) -> bytes:
        """After a backslash: the bytes it stands for."""
        start = self.at - 1
        char = self.peek()
        if not char:
            raise self.fail("escape sequence not terminated", start)
        self.at += 1
        if char in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[char].encode()
        if char == quote_char:
            return char.encode()
        if char in _OCTAL:
            self.at -= 1
            digits, valid = 3, _OCTAL
        elif char in _HEX_DIGITS:
            digits, valid = _HEX_DIGITS[char], _HEX
        else:
            raise self.fail(f"unknown escape sequence {_shown(BACKSLASH + char)}", start)
        for position in range(self.at, self.at + digits):
            if position >= len(self.text):
                raise self.fail("escape sequence not terminated", start)
            if self.text[position] not in valid:
                raise self.fail(
                    f"illegal character {_shown(self.text[position])} in escape sequence",
                    position,
                )
        value = int(self.text[self.at : self.at + digits], 16 if valid is _HEX else 8)
        self.at += digits
        if char in "uU":
            if value > 0x10FFFF or 0xD800 <= value < 0xE000:
                raise self.fail("escape sequence is an invalid Unicode code point", start)
            return chr(value).encode()
        if value > 255:
            raise self.fail("escape sequence is an invalid Unicode code point", start)
        return bytes((value,))
