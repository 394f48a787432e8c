"""promql steps against a real Prometheus loaded with the worked example's history."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ops_toolkit.runbook.audit import AuditLog
from ops_toolkit.runbook.execute import RunOptions, World, start_run
from ops_toolkit.runbook.parse import parse_runbook
from ops_toolkit.runbook.state import StateStore
from tests.integration.conftest import LoadedPrometheus
from tests.runbook.fakes import ScriptedUI

FENCE = "```"


class PinnedSource:
    """A metrics source whose instant queries default to ``at``: the test data's end, since
    Prometheus holds generated history that ends at a pinned instant, not live data."""

    def __init__(self, source: Any, at: float | None) -> None:
        self.source, self.at = source, at

    def query(self, promql: str, at: float | None = None) -> Any:
        return self.source.query(promql, self.at if at is None else at)

    def query_many(self, queries: Any, at: float | None = None) -> Any:
        return self.source.query_many(queries, self.at if at is None else at)


def run(  # type: ignore[no-untyped-def]
    tmp_path: Path,
    prometheus_url: str,
    body: str,
    params: dict[str, str] | None = None,
    at: float | None = None,
):
    from ops_toolkit.metrics.prometheus import PrometheusSource

    text = (
        "---\ntitle: Q\nowner: o\nparams:\n  SERVICE: {default: search-api, pattern: '^[a-z-]+$'}\n"
        "  CODE: {default: '5..'}\n---\n" + body
    )
    runbook = parse_runbook(text, str(tmp_path / "q.md"))
    source = PinnedSource(PrometheusSource(prometheus_url, timeout=5), at)
    world = World(
        ui=ScriptedUI(),
        store=StateStore(str(tmp_path / "s")),
        audit=AuditLog(str(tmp_path / "s" / "a.jsonl")),
        env=dict(os.environ),
        metrics=lambda: source,
    )
    return start_run(runbook, RunOptions(params=params or {}, keep_going=True), world)


def promql(name: str, query: str, **attributes: str) -> str:
    return f"{FENCE}promql {json.dumps({'name': name, **attributes})}\n{query}\n{FENCE}\n\n"


def test_promql_steps_show_tables_and_check_expectations(
    tmp_path: Path, worked_prometheus: LoadedPrometheus
) -> None:
    body = (
        promql("codes", 'count by (code) (http_requests_total{service="$SERVICE"})')
        + promql("ok", 'count(http_requests_total{service="$SERVICE"})', expect="== 2")
        + promql("too-many", 'count(http_requests_total{service="$SERVICE"})', expect="< 2")
        + promql("nothing", 'http_requests_total{service="nope"}', expect="> 0")
        + promql("nothing-ok", 'http_requests_total{service="nope"}', expect="> 0 or empty")
        + promql("broken", "sum(rate(http_requests_total[5m])")
    )
    record = run(tmp_path, worked_prometheus.url, body, at=worked_prometheus.end)
    steps = record.steps
    assert steps["codes"].status == "succeeded"
    assert steps["codes"].output == '{code="200"}  1\n{code="500"}  1\n'
    assert (steps["ok"].status, steps["too-many"].status) == ("succeeded", "failed")
    assert steps["too-many"].message == "1 of 1 sample(s) fail '< 2', e.g. {} = 2"
    assert (steps["nothing"].status, steps["nothing"].message) == (
        "failed",
        "no samples; expected > 0",
    )
    assert steps["nothing-ok"].status == "succeeded"
    assert steps["broken"].status == "failed"
    assert steps["broken"].message.startswith(
        f"Prometheus at {worked_prometheus.url} rejected the query: HTTP 400: bad_data: "
    )


def test_param_values_are_escaped_inside_promql_strings(
    tmp_path: Path, worked_prometheus: LoadedPrometheus
) -> None:
    body = promql("hostile", 'count(http_requests_total{code="$CODE"}) or vector(0)', expect="== 0")
    record = run(
        tmp_path,
        worked_prometheus.url,
        body,
        {"CODE": '5.."}) or vector(1) #'},
        at=worked_prometheus.end,
    )
    assert record.steps["hostile"].status == "succeeded", record.steps["hostile"].message


def test_an_unreachable_prometheus_fails_the_step_with_the_reason(tmp_path: Path) -> None:
    record = run(tmp_path, "http://127.0.0.1:9", promql("q", "up"))
    assert record.steps["q"].message == (
        "cannot reach Prometheus at http://127.0.0.1:9: connection refused (is it running? "
        "check --prometheus / OPS_PROMETHEUS_URL)"
    )
