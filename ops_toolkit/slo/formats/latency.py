"""Recognising a latency SLI written as two counters: a histogram's bucket and its count.

Pyrra and OpenSLO write "requests faster than 1.5 s" as ``x_bucket{...,le="1.5"}`` over
``x_count{...}``; ops models that as a ``LatencySLI``, so a missing bucket is explained and
``ops slo convert`` writes it back the way ops/v1 spells it.
"""

from __future__ import annotations

import math
import re

from ops_toolkit.slo.model import LatencySLI

_SELECTOR = re.compile(r"\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*(?:\{(.*)\})?\s*", re.DOTALL)
_MATCHER = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')


def matchers(body: str) -> list[tuple[str, str, str]] | None:
    """``a="b",c=~"d"`` -> ``[("a", "=", "b"), ("c", "=~", "d")]``; None when not matchers."""
    found, position, text = [], 0, body.strip()
    while position < len(text):
        match = _MATCHER.match(text, position)
        if not match:
            return None
        found.append((match.group(1), match.group(2), match.group(3)))
        position = match.end()
    return found


def split_bucket(selector: str) -> tuple[str, str, float] | None:
    """``x_bucket{a="b",le="1.5"}`` -> ``("x", '{a="b"}', 1.5)``; None for anything else."""
    match = _SELECTOR.fullmatch(selector)
    if not match or not match.group(1).endswith("_bucket"):
        return None
    parsed = matchers(match.group(2) or "")
    if parsed is None:
        return None
    bounds = [value for label, op, value in parsed if label == "le" and op == "="]
    if len(bounds) != 1 or sum(1 for m in parsed if m[0] == "le") != 1:
        return None
    try:
        below = float(bounds[0])
    except ValueError:
        return None
    if not 0 < below < math.inf:
        return None
    rest = ",".join(f'{label}{op}"{value}"' for label, op, value in parsed if label != "le")
    return match.group(1)[: -len("_bucket")], "{" + rest + "}", below


def same_series(left: str, right: str) -> bool:
    """Two selectors with the same name and the same matchers, in any order and spacing."""
    a, b = _SELECTOR.fullmatch(left), _SELECTOR.fullmatch(right)
    if not a or not b or a.group(1) != b.group(1):
        return False
    first, second = matchers(a.group(2) or ""), matchers(b.group(2) or "")
    return first is not None and second is not None and sorted(first) == sorted(second)


def latency_from_counters(good: str, total: str) -> LatencySLI | None:
    """The latency SLI that ``good`` (a bucket) over ``total`` (its count) means, if it is one."""
    split = split_bucket(good)
    if split is None:
        return None
    histogram, selector, below = split
    if not same_series(total, f"{histogram}_count{selector}"):
        return None
    return LatencySLI(histogram=histogram, selector=selector, below=below)
