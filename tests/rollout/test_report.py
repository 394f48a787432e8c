"""The rollout report's SLO budgets when some could not be read: each cause once."""

from __future__ import annotations

from dataclasses import replace

from ops_toolkit.rollout.plan import parse_plan
from ops_toolkit.rollout.report import Unreported, markdown, summarise, unreported
from ops_toolkit.slo.evaluate import failed
from ops_toolkit.slo.spec import load_slos
from tests.conftest import ROOT

AT = 1796000000.0
DOWN = "cannot reach Prometheus at http://127.0.0.1:9: connection refused"


def test_each_cause_is_said_once_without_each_slo_s_query_and_the_read_ones_stay_in_the_table() -> (
    None
):
    availability, latency, accuracy, freshness = load_slos([str(ROOT / "slos" / "search.yaml")])
    budgets = [
        failed(availability, AT, f"search/availability: query 'sum(x[30d])' failed: {DOWN}"),
        replace(failed(latency, AT, ""), status="ok", error=None),
        failed(accuracy, AT, f"search/answer-accuracy: query 'sum(y[1d])' failed: {DOWN}"),
        failed(freshness, AT, 'search/ingestion-freshness: no bucket le="300"'),
    ]
    assert unreported(budgets) == Unreported(
        (DOWN, 'no bucket le="300"'),
        ("search/availability", "search/answer-accuracy", "search/ingestion-freshness"),
    )
    assert unreported(budgets[1:2]) is None
    plan = parse_plan(
        "version: ops/v1\nkind: Rollout\nname: search\nservice: search\n"
        "stages:\n  - {name: pilot}\n",
        "rollouts/search.yaml",
    )
    page = markdown(summarise(plan, []), budgets)
    assert page.endswith(
        "## SLO budgets now\n\n| SLO | budget left | status | source |\n|---|---|---|---|\n"
        "| search/answer-latency | — | ok | queries |\n\n"
        f'Could not read the SLO budgets: {DOWN}; no bucket le="300"\n\nNot reported:\n\n'
        "- search/availability\n- search/answer-accuracy\n- search/ingestion-freshness\n"
    )
