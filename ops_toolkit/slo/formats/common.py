"""Checks every SLO file reader shares: names, labels, objectives, selectors, PromQL counters.

Each check takes a ``Node`` so its error names the file and the YAML path.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from ops_toolkit.errors import SelectorError
from ops_toolkit.slo.model import SeverityAlert, WrittenQuery
from ops_toolkit.slo.selector import is_selector, parse
from ops_toolkit.yamlpath import Node, show

NAME = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")
LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ALERT_NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def name(node: Node, key: str) -> str:
    value = node.text(key)
    assert value is not None
    if not NAME.fullmatch(value):
        raise node.child(key).error(f"expected lowercase letters, digits and '-', got {value!r}")
    return value


# Labels ops sets on every series it generates (recording rules and alerts): the SLO's own
# labels cannot take them, since ops selects its series by them.
SERIES_LABELS = ("service", "slo")
# Labels ops sets on its alerts only: the burn pair's tier and windows, a NoData alert's
# series. An SLO's labels may use these names (Sloth's README labels SLOs `tier: "2"`): they
# stay on every recording series, and on the alerts ops's own value is kept under that name.
ALERT_LABELS = ("tier", "long", "short", "missing")
RESERVED_LABELS = (*SERIES_LABELS, *ALERT_LABELS)
_MEANING = {
    "service": "the SLO's service",
    "slo": "the SLO's name",
    "tier": "page or ticket",
    "long": "the burn pair's long window",
    "short": "the burn pair's short window",
    "missing": "a NoData alert's series",
}


def label_problem(key: object, reserved: tuple[str, ...] = SERIES_LABELS) -> str | None:
    """Why ``key`` cannot be a label of this place (``reserved``: names ops sets there)."""
    if not isinstance(key, str) or not LABEL.fullmatch(key):
        return "not a usable Prometheus label name (letters, digits and '_', not first a digit)"
    if key in reserved:
        where = "every series" if key in SERIES_LABELS else "every alert"
        rename = f"{key}_name" if key in SERIES_LABELS else f"alert_{key}"
        return (
            f"ops sets {key!r} on {where} it generates ({_MEANING[key]}); rename this label, "
            f"e.g. to {rename!r}"
        )
    return None


def labels(node: Node, reserved: tuple[str, ...] = SERIES_LABELS) -> dict[str, str]:
    """Prometheus labels of an SLO's series (or, with ``reserved=RESERVED_LABELS``, of its
    alerts); names ops sets there are refused, saying what to rename them to."""
    if node.value is None:
        return {}
    node.mapping(node.value.keys() if isinstance(node.value, dict) else ())
    found = {}
    for key in node.value:
        problem = label_problem(key, reserved)
        if problem is not None:
            raise node.child(str(key)).error(problem)
        found[key] = node.text(key) or ""
    return found


def written(total: Node, counted: Node) -> dict[str, WrittenQuery]:
    """The SLO's queries as written, by role: ``counted`` is the bad or good query (one
    query that yields both, as a raw ratio or a threshold, is both ``total`` and ``counted``)."""
    total_query = WrittenQuery(total.source, total.path, str(total.value).strip())
    counted_query = WrittenQuery(counted.source, counted.path, str(counted.value).strip())
    return {"total": total_query, "bad": counted_query, "good": counted_query}


def strings(node: Node) -> dict[str, str]:
    """A mapping of strings, such as alert annotations (any key, values as text)."""
    if node.value is None:
        return {}
    node.mapping(node.value.keys() if isinstance(node.value, dict) else ())
    return {str(key): node.text(str(key), required=False) or "" for key in node.value}


def flag(node: Node) -> bool:
    if node.value is None:
        return False
    if not isinstance(node.value, bool):
        raise node.error(f"expected true or false, got {show(node.value)}")
    return node.value


MAX_WINDOW = 3650 * 86400  # ten years: longer is a typo, and overflows date arithmetic


def brief(value: object) -> str:
    """``show(value)``, cut to 40 characters (a 400-digit number is a typo, not a message)."""
    text = show(value)
    return text if len(text) <= 40 else text[:37] + "..."


def number(node: Node) -> float:
    """A finite number (an integer too large for a float is an error, not an overflow)."""
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise node.error(f"expected a number, got {brief(value)}")
    try:
        result = float(value)
    except OverflowError:
        result = math.inf
    if not math.isfinite(result):
        raise node.error(f"expected a finite number, got {brief(value)}")
    return result


def objective_percent(node: Node) -> float:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise node.error(f"expected a number between 0 and 100 (exclusive), got {brief(value)}")
    if not 0 < value < 100:  # compared before float(): a 400-digit integer overflows it
        raise node.error(f"expected a number between 0 and 100 (exclusive), got {brief(value)}")
    return float(value)


def selector(node: Node, key: str) -> str:
    """The series selector at ``key``, read as PromQL reads one (``slo/selector.py``); the
    error names the column in it. The text is kept as written: the rules paste it."""
    value = node.text(key)
    assert value is not None
    try:
        parse(value)
    except SelectorError as error:
        raise node.child(key).error(f"not a series selector: {error}") from None
    return value


def alert_tier(node: Node, keys: Mapping[str, str]) -> SeverityAlert:
    """A per-severity alert: ``keys`` maps ops's field names to the format's key names."""
    if node.value is None:
        return SeverityAlert()
    node.mapping(keys.values())
    return SeverityAlert(
        name=node.text(keys["name"], required=False) if "name" in keys else None,
        labels=labels(node.child(keys["labels"]), RESERVED_LABELS),
        annotations=strings(node.child(keys["annotations"])),
        disable=flag(node.child(keys["disabled"])),
    )


# -- PromQL counters -----------------------------------------------------------------------


def closing(text: str, start: int) -> int:
    """Index of the bracket closing ``text[start]``, skipping quoted strings; -1 if none."""
    depth, quote, index = 0, "", start
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 2
                continue
            if char == quote:
                quote = ""
        elif char in "\"'`":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return -1


_PAIRS = {")": "(", "]": "[", "}": "{"}


def query_problem(query: str) -> str | None:
    """Why a query written in an SLO file cannot be embedded in ops's queries, or None.

    ops wraps a raw query (``sum(...)``) and joins several into one request (``... or ...``),
    so the query must be one closed expression: a ``#`` comment would swallow whatever ops
    writes after it, and an unbalanced bracket or quote would close ops's wrapper early.
    Quoted strings are skipped (a ``#`` or ``)`` in a label value is data).
    """
    stack: list[tuple[str, int]] = []
    quote, quote_column, index = "", 0, 0
    while index < len(query):
        char = query[index]
        column = index + 1
        if quote:
            if char == "\\" and quote != "`":
                index += 2
                continue
            if char == quote:
                quote = ""
        elif char in "\"'`":
            quote, quote_column = char, column
        elif char == "#":
            return (
                f"has a '#' comment at column {column}; ops wraps and joins queries, so a "
                "comment would swallow what follows: remove it"
            )
        elif char in "([{":
            stack.append((char, column))
        elif char in ")]}":
            if not stack:
                return f"has a {char!r} at column {column} that closes nothing"
            opening, opened_at = stack.pop()
            if opening != _PAIRS[char]:
                return (
                    f"has a {char!r} at column {column} that does not match the {opening!r} "
                    f"at column {opened_at}"
                )
        index += 1
    if quote:
        return f"has a string opened at column {quote_column} that is never closed"
    if stack:
        opening, opened_at = stack[-1]
        return f"has a {opening!r} at column {opened_at} that is never closed"
    return None


_SUM = re.compile(r"sum\s*(?:(?:by|without)\s*\([\w\s,]*\)\s*)?\(")
_GROUPING = re.compile(r"(?:by|without)\s*\([\w\s,]*\)")
_COUNTER_FUNCTION = re.compile(r"(rate|increase)\s*\(")


def unwrap_sum(query: str) -> str | None:
    """The argument of ``sum(...)``/``sum by (...) (...)`` spanning all of ``query``, else None.

    Grouping is dropped on purpose: an SLO's budget sums every series of its SLI.
    """
    text = query.strip()
    found = _SUM.match(text)
    if not found:
        return None
    end = closing(text, found.end() - 1)
    if end < 0:
        return None
    rest = text[end + 1 :].strip()
    if rest and not _GROUPING.fullmatch(rest):
        return None
    return text[found.end() : end].strip()


def unwrap_counter_function(query: str) -> tuple[str, str] | None:
    """``rate(sel[range])`` or ``increase(sel[range])`` -> ``(sel, range)``, else None."""
    text = query.strip()
    found = _COUNTER_FUNCTION.match(text)
    if not found:
        return None
    if closing(text, found.end() - 1) != len(text) - 1:
        return None
    inner = text[found.end() : -1].strip()
    if not inner.endswith("]"):
        return None
    start = inner.rfind("[")
    if start < 0:
        return None
    return inner[:start].strip(), inner[start + 1 : -1].strip()


def counter_over_window(query: str, placeholder: str) -> str | None:
    """The counter selector of ``sum(rate(sel[<placeholder>]))`` and its spellings, else None.

    Accepts ``rate`` or ``increase`` over the window placeholder, with or without an outer
    ``sum``/``sum by (...)``: all of them count the selector's events in the window.
    """
    body = unwrap_sum(query)
    called = unwrap_counter_function(body if body is not None else query)
    if called is None:
        return None
    series, span = called
    return series if span == placeholder and is_selector(series) else None


def split_difference(query: str) -> tuple[str, str] | None:
    """``(a - b)`` or ``a - b`` at the top level -> ``(a, b)``; None for anything else."""
    text = query.strip()
    while text.startswith("(") and closing(text, 0) == len(text) - 1:
        text = text[1:-1].strip()
    depth, quote = 0, ""
    for index, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'`":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "-" and depth == 0:
            left, right = text[:index].strip(), text[index + 1 :].strip()
            return (left, right) if left and right else None
    return None
