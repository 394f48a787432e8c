"""The report's query plan: a query shared by several SLOs is asked once, answered for all."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.durations import format_duration
from ops_toolkit.metrics.model import Sample
from ops_toolkit.metrics.prometheus import PrometheusSource
from ops_toolkit.slo.evaluate import evaluate, query_plan
from ops_toolkit.slo.queries import count_queries
from ops_toolkit.slo.spec import parse_slo_file
from ops_toolkit.slo.windows import BURN_WINDOWS
from tests.integration.conftest import LoadedPrometheus

OBJECTIVES = (99.0, 99.5, 99.9, 99.95)


def same_selectors(objectives: Sequence[float]) -> str:
    """One service's availability at several objectives: the same two selectors each."""
    lines = ["version: ops/v1", "service: search-api", "slos:"]
    for objective in objectives:
        lines += [
            f"  - name: availability-{str(objective).replace('.', '-')}",
            f"    objective: {objective}",
            "    sli:",
            "      ratio:",
            '        bad: http_requests_total{service="search-api",code=~"5.."}',
            '        total: http_requests_total{service="search-api"}',
        ]
    return "\n".join(lines) + "\n"


class CountingSource(PrometheusSource):
    """The real client, counting the queries it is asked (a batch counts its parts)."""

    def __init__(self, url: str) -> None:
        super().__init__(url, timeout=60)
        self.asked: list[str] = []

    def query_many(
        self, queries: Sequence[str], at: float | None = None
    ) -> list[list[Sample] | Exception]:
        for query in queries:
            self.asked += query.split(" or ")
        return super().query_many(queries, at)


def test_slos_over_the_same_selectors_ask_each_query_once(
    worked_prometheus: LoadedPrometheus,
) -> None:
    """Before: 4 objectives x 8 windows x 2 queries = 64 asked; then the 16 of one SLO; now 8,
    its bad and total counts merged into one query per window."""
    slos = parse_slo_file(same_selectors(OBJECTIVES), "same.yaml").slos
    source = CountingSource(worked_prometheus.url)
    shared = evaluate(slos, source, worked_prometheus.end)
    assert len(source.asked) == 1 + len(BURN_WINDOWS)
    assert len(set(source.asked)) == len(source.asked)
    alone = [
        evaluate([slo], PrometheusSource(worked_prometheus.url), worked_prometheus.end)[0]
        for slo in slos
    ]
    assert [s.period for s in shared] == [s.period for s in alone]
    assert [s.budget_remaining for s in shared] == [s.budget_remaining for s in alone]


def test_the_plan_says_which_slos_each_query_serves() -> None:
    slos = parse_slo_file(same_selectors(OBJECTIVES[:2]), "same.yaml").slos
    plan = query_plan(slos, 1_767_225_600)
    assert len(plan) == 1 + len(BURN_WINDOWS)
    first = plan[0]
    assert first.query == (
        'sum by (ops_counted) (label_replace(increase(http_requests_total{service="search-api"}'
        '[30d]), "ops_counted", "1", "code", "5.."))'
    )
    assert first.range == "30d"
    assert first.serves == (
        ("search-api/availability-99-0", 0, "counted"),
        ("search-api/availability-99-5", 0, "counted"),
        ("search-api/availability-99-0", 0, "total"),
        ("search-api/availability-99-5", 0, "total"),
    )


MERGED = [
    ('code=~"5.."', "bad"),
    ('code!~"5.."', "good"),
    ('code="500"', "bad"),
    ('code!="200"', "bad"),
]


@pytest.mark.parametrize(("matcher", "kind"), MERGED, ids=[m for m, _ in MERGED])
def test_a_merged_query_counts_what_the_two_queries_asked_apart_count(
    worked_prometheus: LoadedPrometheus, matcher: str, kind: str
) -> None:
    """The counted selector adds one matcher to the total's: one query reads the series once
    and marks the counted ones with label_replace, whose anchored RE2 regex is the
    matcher's. Each window's counts equal those of the two queries as written."""
    text = (
        "version: ops/v1\nservice: search-api\nslos:\n  - name: availability\n"
        "    objective: 99.9\n    sli:\n      ratio:\n"
        f"        {kind}: 'http_requests_total{{service=\"search-api\",{matcher}}}'\n"
        "        total: 'http_requests_total{service=\"search-api\"}'\n"
    )
    (slo,) = parse_slo_file(text, "one.yaml").slos
    source = CountingSource(worked_prometheus.url)
    at = worked_prometheus.end
    (status,) = evaluate([slo], source, at)
    assert len(source.asked) == 1 + len(BURN_WINDOWS)
    assert all('"ops_counted", "1", "code"' in query for query in source.asked)
    plain = PrometheusSource(worked_prometheus.url)
    for window, counts in [(0, status.period), *status.windows.items()]:
        span = format_duration(window or 30 * 86400)
        _, counted_query, total_query = count_queries(slo.sli, span)
        counted = sum(s.value for s in plain.query(counted_query, at))
        total = sum(s.value for s in plain.query(total_query, at))
        assert counts is not None and total > 0
        bad = counted if kind == "bad" else total - counted
        assert (counts.bad, counts.total) == (bad, total), window


def test_explain_prints_the_plan_and_queries_nothing(tmp_path: Path) -> None:
    """With --direct nothing is asked (auto mode asks which recorded series are fresh:
    tests/integration/test_auto_source.py)."""
    path = tmp_path / "same.yaml"
    path.write_text(same_selectors(OBJECTIVES[:2]))
    result = CliRunner().invoke(
        main,
        ["slo", "report", str(path), "--explain", "--direct", "--at", "1767225600"],
        env={"OPS_PROMETHEUS_URL": "http://127.0.0.1:9"},  # nothing listens: not asked
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:4] == [
        "8 queries (32 before sharing), all at one pinned time",
        '[30d] sum by (ops_counted) (label_replace(increase(http_requests_total{service="search-'
        'api"}[30d]), "ops_counted", "1", "code", "5.."))',
        "    search-api/availability-99-0: period counted, period total",
        "    search-api/availability-99-5: period counted, period total",
    ]
    assert len(lines) == 1 + 8 * 3 + 3
    assert lines[-3:] == [
        "Sources at 2026-01-01T00:00:00Z (rules: recorded series; queries: direct):",
        "    search-api/availability-99-0: queries: --direct: direct queries for every SLO",
        "    search-api/availability-99-5: queries: --direct: direct queries for every SLO",
    ]


def per_service(services: Sequence[str]) -> str:
    """The same availability SLO for several services: selectors differ in one label."""
    lines = ["version: ops/v1", "service: fleet", "slos:"]
    for number, service in enumerate(services):
        lines += [
            f"  - name: availability-{number}",
            "    objective: 99.9",
            "    sli:",
            "      ratio:",
            f'        bad: http_requests_total{{code=~"5..",service="{service}"}}',
            f'        total: http_requests_total{{service="{service}"}}',
        ]
    return "\n".join(lines) + "\n"


def test_selectors_differing_in_one_label_are_asked_as_one_grouped_query(
    worked_prometheus: LoadedPrometheus,
) -> None:
    """Before: 3 services x 8 windows x 2 queries = 48 asked; now 2 grouped per window.

    'search.api' is a literal in the grouped regex: it must not match search-api's data.
    """
    slos = parse_slo_file(per_service(["search-api", "search.api", "absent"]), "f.yaml").slos
    source = CountingSource(worked_prometheus.url)
    grouped = evaluate(slos, source, worked_prometheus.end)
    assert len(source.asked) == 1 + len(BURN_WINDOWS)  # bad and total merged, then grouped
    assert all("sum by (service, ops_counted) (label_replace(" in q for q in source.asked)
    alone = [
        evaluate([slo], PrometheusSource(worked_prometheus.url), worked_prometheus.end)[0]
        for slo in slos
    ]
    assert [s.period for s in grouped] == [s.period for s in alone]
    assert [s.windows for s in grouped] == [s.windows for s in alone]
    assert grouped[0].period is not None and grouped[0].period.total > 1_000_000
    assert (grouped[1].period, grouped[2].period) == (None, None)


def test_latency_slos_of_several_services_group_their_bucket_and_count_queries(
    worked_prometheus: LoadedPrometheus,
) -> None:
    text = "version: ops/v1\nservice: fleet\nslos:\n" + "".join(
        f"  - name: latency-{number}\n    objective: 99\n    sli:\n      latency:\n"
        f"        histogram: http_request_duration_seconds\n"
        f"        selector: '{{service=\"{service}\"}}'\n        below: 1.5\n"
        for number, service in enumerate(("search-api", "absent"))
    )
    slos = parse_slo_file(text, "latency.yaml").slos
    source = CountingSource(worked_prometheus.url)
    grouped = evaluate(slos, source, worked_prometheus.end)
    assert len(source.asked) == 2 * (1 + len(BURN_WINDOWS))  # buckets and counts, grouped
    assert all("sum by (service) (increase(" in query for query in source.asked)
    alone = [
        evaluate([slo], PrometheusSource(worked_prometheus.url), worked_prometheus.end)[0]
        for slo in slos
    ]
    assert [s.period for s in grouped] == [s.period for s in alone]
    assert grouped[0].period is not None and grouped[1].period is None


def test_the_plan_shows_a_grouped_query_and_every_slo_it_serves() -> None:
    slos = parse_slo_file(per_service(["search-api", "search.api"]), "f.yaml").slos
    plan = query_plan(slos, 1_767_225_600)
    assert len(plan) == 1 + len(BURN_WINDOWS)
    assert plan[0].query == (
        "sum by (service, ops_counted) (label_replace(increase(http_requests_total"
        '{service=~"search-api|search\\\\.api"}[30d]), "ops_counted", "1", "code", "5.."))'
    )
    assert plan[0].serves == (
        ("fleet/availability-0", 0, "counted"),
        ("fleet/availability-0", 0, "total"),
        ("fleet/availability-1", 0, "counted"),
        ("fleet/availability-1", 0, "total"),
    )


def test_selectors_in_backticks_are_grouped_and_count_what_they_count_asked_apart(
    worked_prometheus: LoadedPrometheus,
) -> None:
    """The planner read double quotes without escapes only: these selectors were asked one
    by one (32 queries). Read by slo/selector.py they are merged and grouped like any other;
    the absent service's value, a quote and a backslash, is escaped in the grouped regex."""
    text = "version: ops/v1\nservice: fleet\nslos:\n" + "".join(
        f"  - name: availability-{number}\n    objective: 99.9\n    sli:\n      ratio:\n"
        f"        bad: 'http_requests_total{{code=~`5..`, service=`{service}`}}'\n"
        f"        total: 'http_requests_total{{service=`{service}`}}'\n"
        for number, service in enumerate(("search-api", 'a"b\\c'))
    )
    slos = parse_slo_file(text, "f.yaml").slos
    source = CountingSource(worked_prometheus.url)
    grouped = evaluate(slos, source, worked_prometheus.end)
    assert len(source.asked) == 1 + len(BURN_WINDOWS)
    assert all("sum by (service, ops_counted) (label_replace(" in q for q in source.asked)
    alone = [
        evaluate([slo], PrometheusSource(worked_prometheus.url), worked_prometheus.end)[0]
        for slo in slos
    ]
    assert [s.period for s in grouped] == [s.period for s in alone]
    assert [s.windows for s in grouped] == [s.windows for s in alone]
    assert grouped[0].period is not None and grouped[0].period.total > 1_000_000
    assert grouped[1].period is None
