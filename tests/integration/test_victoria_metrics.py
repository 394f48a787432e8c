"""VictoriaMetrics (Debian's single-node ``victoria-metrics``) against Prometheus on the same
samples: ``ops slo report``, ``ops slo gate`` and ``promql`` steps give the same budgets.

Both servers hold the very ``Dataset`` object (Prometheus through promtool's backfill,
VictoriaMetrics through ``/api/v1/import/prometheus``), so any difference comes from the
query engines. On this data they differ in one way that matters for counts: PromQL's
``increase`` extrapolates from the first and last samples inside the window to its edges,
MetricsQL's takes the difference to the last sample *before* the window and does not
extrapolate. The last two tests pin the other differences the README lists: a counter born
inside the window, and a query for the last 30 s.

Tolerance, and why:
- At the pinned end every window but the 30-day one starts on a sample: Prometheus's range
  ``[at-w, at]`` includes that sample, so it has nothing to extrapolate and both count the
  exact difference. The 30-day window starts one 60 s step before the first sample, which
  Prometheus extrapolates over: at most one step's events out of 30 days, 60/2592000 = 2.3e-5
  relative on the counts. So: counts within 5e-5 relative, budgets within 1e-4 absolute, burn
  rates within 1e-9 relative, statuses equal. VictoriaMetrics is also exact against the
  generator's truth.
- Between samples (30 s before the end's sample) Prometheus extrapolates to both edges while
  VictoriaMetrics counts from the sample before the window; each is off the truth by at most
  one step's events at each edge, so a window's counts differ by at most twice the most
  events one step holds (lumpy counters such as ingestion runs, one every 15 minutes, make
  that a large share of a short window): budgets within 1e-4, statuses equal.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.demo.data import Dataset
from ops_toolkit.demo.servers import PrometheusServer, VictoriaMetricsServer, require_binary
from ops_toolkit.metrics.prometheus import PrometheusSource
from ops_toolkit.slo.evaluate import evaluate
from ops_toolkit.slo.spec import load_slos
from tests.conftest import ROOT
from tests.integration.conftest import LoadedPrometheus, LoadedVictoriaMetrics
from tests.integration.test_promql_steps import promql, run


def report(url: str, at: float) -> dict[str, dict[str, object]]:
    result = CliRunner().invoke(
        main,
        ["slo", "report", str(ROOT / "slos"), "--prometheus", url, "--at", str(at), "-o", "json"],
    )
    assert result.exit_code == 0, result.output
    return {document["slo"]: document for document in json.loads(result.stdout)}


def test_report_budgets_agree_with_prometheus_at_the_pinned_end(
    worked_prometheus: LoadedPrometheus, worked_victoria: LoadedVictoriaMetrics
) -> None:
    at = worked_prometheus.end
    from_prometheus = report(worked_prometheus.url, at)
    from_victoria = report(worked_victoria.url, at)
    assert (
        set(from_victoria)
        == set(from_prometheus)
        == {
            "availability",
            "answer-latency",
            "answer-accuracy",
            "ingestion-freshness",
        }
    )
    for name, expected in from_prometheus.items():
        got = from_victoria[name]
        assert got["status"] == expected["status"], name
        assert got["total"] == pytest.approx(expected["total"], rel=5e-5), name
        assert got["bad"] == pytest.approx(expected["bad"], rel=5e-5, abs=1), name
        assert got["budget_remaining"] == pytest.approx(expected["budget_remaining"], abs=1e-4)
        assert got["burn_rates"] == pytest.approx(expected["burn_rates"], rel=1e-9), name
    # MetricsQL counts from the sample before the window: the generator's truth, exactly.
    rolling = 30 * 86400
    bad, total = worked_prometheus.truth("availability", at - rolling, at)
    assert (from_victoria["availability"]["bad"], from_victoria["availability"]["total"]) == (
        bad,
        total,
    )
    assert from_victoria["availability"]["status"] == "critical"  # the last hour's incident


# The series whose events an SLO counts (bad events are some of them).
TOTAL_SERIES = {
    "availability": "http_requests_total",
    "answer-latency": "http_request_duration_seconds_count",
    "answer-accuracy": "search_answer_feedback_total",
    "ingestion-freshness": "ingest_pipeline_runs_total",
}


def most_events_in_one_step(dataset: Dataset, name: str) -> int:
    series = dataset.matching(name, {})
    return max(sum(values) for values in zip(*(s.increments for s in series), strict=True))


def test_report_budgets_agree_between_samples(
    worked_prometheus: LoadedPrometheus, worked_victoria: LoadedVictoriaMetrics
) -> None:
    """Each engine is off by at most one step's events at each edge of a window, so the two
    differ by at most twice the most events one step holds, in every window."""
    at = worked_prometheus.end - 30
    slos = load_slos([str(ROOT / "slos")])
    from_prometheus = evaluate(slos, PrometheusSource(worked_prometheus.url), at)
    from_victoria = evaluate(slos, PrometheusSource(worked_victoria.url), at)
    compared = 0
    for expected, got in zip(from_prometheus, from_victoria, strict=True):
        name = expected.slo.name
        assert got.status == expected.status, name
        assert got.budget_remaining == pytest.approx(expected.budget_remaining, abs=1e-4), name
        bound = 2 * most_events_in_one_step(worked_prometheus.dataset, TOTAL_SERIES[name])
        for window, counts in expected.windows.items():
            other = got.windows[window]
            if counts is None or other is None:
                assert counts == other, (name, window)
                continue
            assert abs(other.total - counts.total) <= bound, (name, window)
            assert abs(other.bad - counts.bad) <= bound, (name, window)
            compared += 1
    assert compared >= 20


def gate(url: str, at: int, minimum: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main,
        [
            "slo",
            "gate",
            "search/answer-latency",
            str(ROOT / "slos"),
            "--prometheus",
            url,
            "--at",
            str(at),
            "--min-remaining",
            minimum,
        ],
    )
    return result.exit_code, result.output.replace(url, "URL")


def test_the_gate_passes_and_blocks_alike(
    worked_prometheus: LoadedPrometheus, worked_victoria: LoadedVictoriaMetrics
) -> None:
    at = worked_prometheus.end
    for minimum, code in (("0.1", 0), ("0.99", 3)):
        from_prometheus = gate(worked_prometheus.url, at, minimum)
        from_victoria = gate(worked_victoria.url, at, minimum)
        assert from_victoria[0] == from_prometheus[0] == code, from_victoria[1]
        assert from_victoria[1] == from_prometheus[1]
    assert "is below the gate (minimum 99.0%)" in gate(worked_victoria.url, at, "0.99")[1]


def test_promql_steps_show_the_same_tables_and_verdicts(
    tmp_path: Path, worked_prometheus: LoadedPrometheus, worked_victoria: LoadedVictoriaMetrics
) -> None:
    body = (
        promql("codes", 'count by (code) (http_requests_total{service="$SERVICE"})')
        + promql(
            "errors-last-hour",
            'sum(increase(http_requests_total{service="$SERVICE",code=~"$CODE"}[1h]))',
        )
        + promql(
            "error-ratio",
            'sum(rate(http_requests_total{service="$SERVICE",code=~"$CODE"}[5m]))'
            ' / sum(rate(http_requests_total{service="$SERVICE"}[5m]))',
            expect="< 0.01",
        )
    )
    at = worked_prometheus.end
    steps = {}
    for name, url in (("prometheus", worked_prometheus.url), ("victoria", worked_victoria.url)):
        record = run(tmp_path / name, url, body, at=at)
        steps[name] = {
            step: (result.status, result.output, result.message)
            for step, result in record.steps.items()
        }
    assert steps["victoria"] == steps["prometheus"]
    bad = worked_prometheus.dataset.total(
        "http_requests_total", {"service": "search-api", "code": "500"}, at - 3600, at
    )
    assert steps["victoria"]["errors-last-hour"][:2] == ("succeeded", f"{{}}  {bad}\n")
    assert steps["victoria"]["error-ratio"][0] == "failed"  # the last hour's 3% incident


def backfill_files(path: str, tsdb: str) -> None:
    result = subprocess.run(
        [require_binary("promtool"), "tsdb", "create-blocks-from", "openmetrics", path, tsdb],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_a_series_born_inside_the_window_is_counted_only_by_victoria_metrics(
    tmp_path: Path,
) -> None:
    """The one difference that moves budgets (README, "Metrics from VictoriaMetrics, Thanos,
    Mimir"): a counter that first appears inside the window, as a ``code="500"`` series does
    at a service's first error. It reads 5, then one more each minute for 9 minutes: 14
    events since it was created at 0. MetricsQL counts the first sample from zero (14);
    PromQL cannot see the first 5 and extrapolates the 9 it saw by half a step (9.5)."""
    born = 1794819600
    lines = [f"born_total {5 + step} {born + 60 * step}" for step in range(10)]
    (tmp_path / "om").mkdir()
    (tmp_path / "om" / "born.om").write_text("\n".join([*lines, "# EOF", ""]))
    (tmp_path / "vm.txt").write_text("\n".join(f"{line}000" for line in lines) + "\n")
    backfill_files(str(tmp_path / "om" / "born.om"), str(tmp_path / "tsdb"))
    prometheus = PrometheusServer(str(tmp_path / "p"), str(tmp_path / "tsdb")).start()
    victoria = VictoriaMetricsServer(str(tmp_path / "v")).start()
    try:
        victoria.import_prometheus([str(tmp_path / "vm.txt")])
        at = born + 540
        query = "sum(increase(born_total[1h]))"
        (from_prometheus,) = PrometheusSource(prometheus.url).query(query, at)
        (from_victoria,) = PrometheusSource(victoria.url).query(query, at)
    finally:
        prometheus.stop()
        victoria.stop()
    assert (from_prometheus.value, from_victoria.value) == (9.5, 14.0)


def test_a_query_for_now_is_answered_at_now(tmp_path: Path) -> None:
    """With its default ``-search.latencyOffset`` (30 s) VictoriaMetrics answers a query for
    the last 30 s as of 30 s earlier while stamping the time asked; ops asks with
    ``nocache=1`` so that a report's pinned time is the time evaluated. A counter sampled
    every 10 s up to the last whole 10 s, read at its last sample: its last value (12), not
    the one 30 s before (9)."""
    end = int(time.time()) // 10 * 10
    (tmp_path / "now.txt").write_text(
        "".join(f"fresh_total {step} {(end - 120 + 10 * step) * 1000}\n" for step in range(13))
    )
    victoria = VictoriaMetricsServer(str(tmp_path / "v"), latency_offset=None).start()
    try:
        victoria.import_prometheus([str(tmp_path / "now.txt")])
        source = PrometheusSource(victoria.url)
        (last,) = source.query("fresh_total", end)
        (increase,) = source.query("increase(fresh_total[1m])", end)
    finally:
        victoria.stop()
    assert (last.value, increase.value) == (12.0, 6.0)
