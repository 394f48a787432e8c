"""SLO model -> PromQL: the event counts of an SLI over a window. Pure."""

from __future__ import annotations

from ops_toolkit.durations import format_duration
from ops_toolkit.slo.model import SLI, LatencySLI, RatioSLI, RawSLI


def promql_range(seconds: int) -> str:
    return format_duration(seconds)


def with_matcher(selector: str, matcher: str) -> str:
    """``{a="b"}`` plus ``le="1"`` -> ``{a="b",le="1"}``."""
    inner = selector.strip()[1:-1].strip().rstrip(",")
    return "{" + (f"{inner},{matcher}" if inner else matcher) + "}"


def count_queries(sli: SLI, window: str) -> tuple[str, str, str]:
    """``(counted, counted_query, total_query)``; ``counted`` says whether it counts bad or good."""
    match sli:
        case RatioSLI(total=total, bad=bad, good=good):
            counted, selector = ("bad", bad) if bad is not None else ("good", good)
            return (
                counted,
                f"sum(increase({selector}[{window}]))",
                f"sum(increase({total}[{window}]))",
            )
        case LatencySLI(histogram=histogram, selector=selector):
            bucket = with_matcher(selector, sli.le_matcher)
            return (
                "good",
                f"sum(increase({histogram}_bucket{bucket}[{window}]))",
                f"sum(increase({histogram}_count{selector}[{window}]))",
            )
        case RawSLI(bad_query=bad, total_query=total):
            return (
                "bad",
                f"sum({bad.replace('{{window}}', window)})",
                f"sum({total.replace('{{window}}', window)})",
            )
    raise AssertionError(sli)


def bucket_query(sli: LatencySLI) -> str:
    """The bucket bounds a histogram has, to explain a ``below`` that matches none."""
    return f"count by (le) ({sli.histogram}_bucket{sli.selector})"


BATCH_LABEL = "ops_query"


def batch_query(queries: list[str]) -> str:
    """One PromQL expression answering several single-number queries, each tagged by index.

    A report needs 16 numbers per SLO; sending them as one request saves 15 round trips
    and as many JSON documents, while Prometheus does the same work.
    """
    return " or ".join(
        f'label_replace({query}, "{BATCH_LABEL}", "{index}", "", "")'
        for index, query in enumerate(queries)
    )
