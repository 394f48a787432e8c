"""Param values substituted into PromQL string literals round-trip through the real
Prometheus: every printable ASCII character, controls and non-ASCII, in both quote styles."""

from __future__ import annotations

import string

import pytest

from ops_toolkit.metrics.model import escape_promql_string
from ops_toolkit.metrics.prometheus import PrometheusSource
from tests.integration.conftest import LoadedPrometheus

VALUES = [
    *string.printable[:95],  # every printable ASCII character, one at a time
    string.printable[:95],  # and all of them at once
    "\\'",
    '\\"',
    "``",
    "a\nb\r\tc\x00\x01\x7f",
    "é漢字😀",
    "\u2028\u0085\ufeff",
    "${SERVICE}",
    '"} or vector(1) #',
]


@pytest.mark.parametrize("quote", ['"', "'"], ids=["double quotes", "single quotes"])
def test_a_value_round_trips_through_a_promql_string(
    worked_prometheus: LoadedPrometheus, quote: str
) -> None:
    source = PrometheusSource(worked_prometheus.url, timeout=10)
    # label_join uses its separator as is (label_replace would expand "$1" in it)
    ab = 'label_replace(label_replace(vector(1), "a", "<", "", ""), "b", ">", "", "")'
    queries = [
        f'label_join({ab}, "v", {quote}{escape_promql_string(value)}{quote}, "a", "b")'
        for value in VALUES
    ]
    answers = source.query_many(queries, at=float(worked_prometheus.end))
    for value, answer in zip(VALUES, answers, strict=True):
        assert not isinstance(answer, Exception), (value, answer)
        assert [s.labels.get("v") for s in answer] == [f"<{value}>"], value


def test_a_label_matcher_with_an_escaped_value_matches_exactly(
    worked_prometheus: LoadedPrometheus,
) -> None:
    source = PrometheusSource(worked_prometheus.url, timeout=10)
    for value in ("search-api", "search-api'", 'search-api"', "search-api`"):
        query = f'count(http_requests_total{{service="{escape_promql_string(value)}"}})'
        samples = source.query(query, at=float(worked_prometheus.end))
        assert [s.value for s in samples] == ([2.0] if value == "search-api" else []), value


def test_a_lone_surrogate_becomes_the_replacement_character() -> None:
    assert escape_promql_string("a\ud800b") == "a\\ufffdb"
