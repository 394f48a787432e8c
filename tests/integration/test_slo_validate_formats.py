"""``ops slo validate --prometheus`` on OpenSLO and Sloth files: healthy SLIs pass, and a
query that matches nothing is named by the file's own key and the query as written."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from tests.cli.test_slo_validate_files import BAD, PROBLEM
from tests.conftest import ROOT
from tests.integration.conftest import LoadedPrometheus

REQUESTS = 'http_requests_total{service="search-api"}'
NO_ERRORS = 'http_requests_total{service="search-api",code="599"}'  # no such series


def openslo(name: str, method: str, indicator: str, objective: str) -> str:
    return f"""apiVersion: openslo/v1
kind: SLO
metadata:
  name: {name}
spec:
  service: healthy
  budgetingMethod: {method}
  timeWindow: [{{duration: 7d, isRolling: true}}]
  indicator:
    metadata: {{name: {name}}}
    spec:
{indicator}
  objectives:
    - {objective}
"""


def source(query: str) -> str:
    return f"{{metricSource: {{type: Prometheus, spec: {{query: '{query}'}}}}}}"


# Each SLI below has had no bad event in the data: its bad-events query reads 0. One-minute
# slices: 14 in the 14m page window of a 7d period, enough traffic for a 99% objective.
HEALTHY = "---\n".join(
    [
        openslo(
            "threshold-slices",
            "Timeslices",
            f"      thresholdMetric: {source(f'sum(rate({REQUESTS}[5m]))')}",
            "{target: 0.99, op: gte, value: 0, timeSliceTarget: 0.9, timeSliceWindow: 1m}",
        ),
        openslo(
            "threshold-minutes",
            "Occurrences",
            f"      thresholdMetric: {source(f'sum(rate({REQUESTS}[5m]))')}",
            "{target: 0.99, op: gte, value: 0}",
        ),
        openslo(
            "raw-slices",
            "Timeslices",
            "      ratioMetric:\n        rawType: failure\n"
            f"        raw: {source(f'0 * sum(rate({REQUESTS}[5m]))')}",
            "{target: 0.99, timeSliceTarget: 0.9, timeSliceWindow: 1m}",
        ),
        openslo(
            "ratio-slices",
            "Timeslices",
            "      ratioMetric:\n        counter: true\n"
            f"        bad: {source(NO_ERRORS)}\n"
            f"        total: {source(REQUESTS)}",
            "{target: 0.99, timeSliceTarget: 0.9, timeSliceWindow: 1m}",
        ),
    ]
)


def validate(path: Path, loaded: LoadedPrometheus) -> tuple[int, str]:
    args = ["slo", "validate", str(path), "--prometheus", loaded.url, "--at", str(loaded.end)]
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.stderr


def test_healthy_time_slice_threshold_and_raw_slis_pass(
    worked_prometheus: LoadedPrometheus, tmp_path: Path
) -> None:
    path = tmp_path / "healthy.yaml"
    path.write_text(HEALTHY)
    assert validate(path, worked_prometheus) == (
        0,
        "4 SLO(s) in 1 file(s): valid and against live data\n",
    )


def test_a_query_matching_nothing_is_named_by_the_files_own_key_and_text(
    worked_prometheus: LoadedPrometheus, tmp_path: Path
) -> None:
    typo = 'http_request_total{service="search-api"}'
    path = tmp_path / "typo.yaml"
    path.write_text(
        openslo(
            "raw-slices",
            "Timeslices",
            f"      ratioMetric:\n        rawType: failure\n        raw: {source(typo)}",
            "{target: 0.99, timeSliceTarget: 0.9, timeSliceWindow: 1m}",
        )
    )
    assert validate(path, worked_prometheus) == (
        1,
        f"Error: {path}: spec.indicator.spec.ratioMetric.raw.metricSource.spec.query: {typo} "
        "matched no series in the last 7d\n",
    )


SLOTH = """version: prometheus/v1
service: healthy
slos:
  - name: gauge-errors
    objective: 99
    sli:
      events:
        error_query: sum(increase(http_requests_total{service="search-api",code="599"}[{{.window}}])) or vector(0)
        total_query: sum(increase(http_requests_total{service="search-api"}[{{.window}}])) * 1
  - name: absent-errors
    objective: 99
    sli:
      events:
        error_query: sum(increase(http_requests_total{service="search-api",code="599"}[{{.window}}])) * 1
        total_query: sum(increase(http_requests_total{service="search-api"}[{{.window}}])) * 1
"""


def test_sloth_bad_queries_reading_zero_pass_and_absent_ones_warn_in_sloths_terms(
    worked_prometheus: LoadedPrometheus, tmp_path: Path
) -> None:
    path = tmp_path / "sloth.yaml"
    path.write_text(SLOTH)
    assert validate(path, worked_prometheus) == (
        0,
        f"Warning: {path}: slos[1].sli.events.error_query: sum(increase(http_requests_total"
        '{service="search-api",code="599"}[{{.window}}])) * 1 matched no series in the last '
        "30d: either no bad event happened or the query is wrong (while it is absent the SLO "
        "reads as no data: add 'or vector(0)')\n"
        "2 SLO(s) in 1 file(s): valid and against live data\n",
    )


TRICKLE_SLOTH = """version: prometheus/v1
service: ingest
slos:
  - name: runs
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(ingest_pipeline_runs_total{outcome="late"}[{{.window}}]))
        total_query: sum(rate(ingest_pipeline_runs_total[{{.window}}]))
"""
ON_TIME = 'ingest_pipeline_runs_total{outcome="on_time"}'
TRICKLE_OPENSLO = openslo(
    "runs",
    "Occurrences",
    "      ratioMetric:\n        counter: true\n"
    f"        good: {source(ON_TIME)}\n"
    f"        total: {source('ingest_pipeline_runs_total')}",
    "{target: 0.999}",
).replace("duration: 7d", "duration: 30d")


@pytest.mark.parametrize(
    ("text", "place", "format_name"),
    [
        pytest.param(TRICKLE_SLOTH, "slos[0]", "Sloth", id="Sloth"),
        pytest.param(TRICKLE_OPENSLO, "metadata.name", "OpenSLO", id="OpenSLO"),
    ],
)
def test_low_traffic_advice_is_in_the_files_terms(
    text: str, place: str, format_name: str, worked_prometheus: LoadedPrometheus, tmp_path: Path
) -> None:
    """Was: 'set alerting.min_events to at least 70', a key neither format has."""
    path = tmp_path / "trickle.yaml"
    path.write_text(text)
    code, stderr = validate(path, worked_prometheus)
    found = re.search(r"low traffic: (\d+) events", stderr)
    assert found is not None, stderr
    runs = int(found.group(1))
    assert (code, stderr) == (
        0,
        f"Warning: {path}: {place}: low traffic: {runs} events in the last 1h, so one bad event "
        f"would burn {1 / runs / 0.001:.1f}x and fire the 1h/5m page (above 14.4x); "
        f"{format_name} has no minimum of events for alerts; ops/v1 has: convert the file "
        f"(ops slo convert {path} --to ops) and set alerting.min_events to at least 70\n"
        "1 SLO(s) in 1 file(s): valid and against live data\n",
    )


def test_no_low_traffic_warning_for_an_slo_whose_alerts_are_disabled(
    worked_prometheus: LoadedPrometheus, tmp_path: Path
) -> None:
    """A newcomer's Sloth SLO with both alert tiers disabled was warned that one bad event
    'would fire the 1h/5m page': no page exists. With the page tier alone disabled, the
    warning names the ticket pair, the alert that remains."""
    silent = TRICKLE_SLOTH + "    alerting:\n      page_alert: {disable: true}\n"
    silent += "      ticket_alert: {disable: true}\n"
    path = tmp_path / "silent.yaml"
    path.write_text(silent)
    assert validate(path, worked_prometheus) == (
        0,
        "1 SLO(s) in 1 file(s): valid and against live data\n",
    )
    ticket_only = TRICKLE_SLOTH + "    alerting:\n      page_alert: {disable: true}\n"
    path.write_text(ticket_only)
    code, stderr = validate(path, worked_prometheus)
    assert code == 0
    assert "low traffic" not in stderr or "ticket" in stderr, stderr
    assert "1h/5m page" not in stderr, stderr


def test_a_bad_file_stays_an_error_when_checked_against_live_data(
    tmp_path: Path, worked_prometheus: LoadedPrometheus
) -> None:
    """The live findings were put in place of the files' problems: with --prometheus (or
    ops.yaml's prometheus:) a bad file beside good ones passed as valid."""
    shutil.copy(ROOT / "slos" / "search.yaml", tmp_path / "good.yaml")
    (tmp_path / "bad.yaml").write_text(BAD, encoding="utf-8")
    result = CliRunner().invoke(
        main,
        ["slo", "validate", str(tmp_path), "--prometheus", worked_prometheus.url, "-o", "json"],
    )
    assert result.exit_code == 1
    errors = [f for f in json.loads(result.stdout)["findings"] if f["level"] == "error"]
    assert errors == [{"level": "error", "message": f"{tmp_path}/bad.yaml: {PROBLEM}"}]
