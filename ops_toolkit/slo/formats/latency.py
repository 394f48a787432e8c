"""Recognising a latency SLI written as two counters: a histogram's bucket and its count.

Pyrra and OpenSLO write "requests faster than 1.5 s" as ``x_bucket{...,le="1.5"}`` over
``x_count{...}``; ops models that as a ``LatencySLI``, so a missing bucket is explained and
``ops slo convert`` writes it back the way ops/v1 spells it.
"""

from __future__ import annotations

import math

from ops_toolkit.errors import SelectorError
from ops_toolkit.slo.model import LatencySLI
from ops_toolkit.slo.selector import Selector, parse, render_matchers


def _read(text: str) -> Selector | None:
    try:
        return parse(text)
    except SelectorError:
        return None


def split_bucket(selector: str) -> tuple[str, str, float] | None:
    """``x_bucket{a="b",le="1.5"}`` -> ``("x", '{a="b"}', 1.5)``; None for anything else.

    The other matchers come back written canonically (``slo/selector.py``)."""
    parsed = _read(selector)
    metric = parsed.metric if parsed else None
    if parsed is None or metric is None or not metric.endswith("_bucket"):
        return None
    bounds = [m.value for m in parsed.labels if m.label == "le" and m.op == "="]
    if len(bounds) != 1 or sum(1 for m in parsed.labels if m.label == "le") != 1:
        return None
    try:
        below = float(bounds[0])
    except ValueError:
        return None
    if not 0 < below < math.inf:
        return None
    rest = render_matchers([m for m in parsed.labels if m.label != "le"])
    return metric[: -len("_bucket")], "{" + rest + "}", below


def same_series(left: str, right: str) -> bool:
    """Two selectors of the same series, however written (order, spacing, quotes)."""
    first, second = _read(left), _read(right)
    return first is not None and second is not None and first.same_series(second)


def latency_from_counters(good: str, total: str) -> LatencySLI | None:
    """The latency SLI that ``good`` (a bucket) over ``total`` (its count) means, if it is one."""
    split = split_bucket(good)
    if split is None:
        return None
    histogram, selector, below = split
    if not same_series(total, f"{histogram}_count{selector}"):
        return None
    return LatencySLI(histogram=histogram, selector=selector, below=below)
