"""SLO reports from a real Prometheus, checked against the generator's true counts.

Bound on the difference: ``increase`` extrapolates from the samples inside the window; with
samples every 60 s the counts of a window of length w can differ from the truth by at most
one sample interval's events, i.e. a relative error of about 60/w (3e-5 for 30 days, 0 for
windows that start on a sample). The test allows 0.1% relative on counts and 0.002 absolute
on budget remaining.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.errors import ConfigError, MetricsError
from ops_toolkit.metrics.prometheus import PrometheusSource
from ops_toolkit.slo.evaluate import evaluate
from ops_toolkit.slo.spec import load_slos, parse_slo_file
from ops_toolkit.slo.windows import BURN_WINDOWS
from tests.conftest import ROOT
from tests.integration.conftest import LoadedPrometheus

DAY = 86400


def truth(loaded: LoadedPrometheus, key: str, since: float, until: float) -> tuple[int, int]:
    """(bad, total) events of the worked example's SLO ``key`` in (since, until]."""
    return loaded.truth(key, since, until)


def test_report_matches_the_generators_truth(
    worked_prometheus: LoadedPrometheus, wall_clock: datetime
) -> None:
    slos = load_slos([str(ROOT / "slos")])
    at = worked_prometheus.end
    statuses = evaluate(slos, PrometheusSource(worked_prometheus.url), at)
    month_start = (
        datetime.fromtimestamp(at, UTC)
        .replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        .timestamp()
    )
    checked = 0
    for status in statuses:
        slo = status.slo
        since = at - slo.window.seconds if slo.window.rolling else month_start
        bad, total = worked_prometheus.truth(slo.name, since, at)
        assert status.period is not None
        assert status.period.total == pytest.approx(total, rel=1e-3), slo.name
        assert status.period.bad == pytest.approx(bad, rel=1e-3, abs=1), slo.name
        expected_remaining = 1 - (bad / total) / slo.budget
        assert status.budget_remaining == pytest.approx(expected_remaining, abs=0.002), slo.name
        for window in BURN_WINDOWS:
            w_bad, w_total = worked_prometheus.truth(slo.name, at - window, at)
            counts = status.windows[window]
            if w_total == 0:
                assert counts is None
                continue
            assert counts is not None
            assert counts.total == pytest.approx(w_total, rel=1e-3)
            assert counts.bad == pytest.approx(w_bad, rel=1e-3, abs=1)
            checked += 1
    assert checked >= 20
    by_name = {s.slo.name: s.status for s in statuses}
    # The generator's scenario: a 3% error incident in the last hour pages; the rest is fine.
    assert by_name["availability"] == "critical"
    assert by_name["answer-latency"] == "ok"


def test_report_json_has_exactly_the_documented_keys(worked_prometheus: LoadedPrometheus) -> None:
    result = CliRunner().invoke(
        main,
        [
            "slo",
            "report",
            str(ROOT / "slos"),
            "--prometheus",
            worked_prometheus.url,
            "--at",
            str(worked_prometheus.end),
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    documents = json.loads(result.stdout)
    assert next(d["slo"] for d in documents) == "availability"  # worst first
    assert set(documents[0]) == {
        "service",
        "slo",
        "objective",
        "window",
        "at",
        "sli",
        "good",
        "bad",
        "total",
        "budget_remaining",
        "bad_events_left",
        "burn_rates",
        "status",
        "runbook",
        "excluded_events",
        "excluded_bad",
        "corrections",
        "source",
        "source_note",
    }
    assert documents[0]["source"] == "queries"  # no recorded series in this Prometheus
    assert set(documents[0]["burn_rates"]) == {"5m", "30m", "1h", "2h", "6h", "1d", "3d"}
    assert documents[0]["objective"] == 99.9
    assert 0 <= documents[0]["sli"] <= 1


def test_report_table_and_markdown(worked_prometheus: LoadedPrometheus) -> None:
    args = [
        "slo",
        "report",
        str(ROOT / "slos"),
        "--prometheus",
        worked_prometheus.url,
        "--at",
        datetime.fromtimestamp(worked_prometheus.end, UTC).isoformat(),
    ]
    table = CliRunner().invoke(main, args, env={"COLUMNS": "160"})
    assert table.exit_code == 0, table.output
    assert "availability" in table.output and "critical" in table.output
    markdown = CliRunner().invoke(main, [*args, "--format", "markdown"])
    assert markdown.output.startswith("## SLO error budgets at ")
    assert "| search | availability | 99.9% / 30d |" in markdown.output


def test_the_gate_passes_and_blocks(
    worked_prometheus: LoadedPrometheus, wall_clock: datetime
) -> None:
    base = [
        "slo",
        "gate",
        "search/answer-latency",
        str(ROOT / "slos"),
        "--prometheus",
        worked_prometheus.url,
        "--at",
        str(worked_prometheus.end),
    ]
    passed = CliRunner().invoke(main, [*base, "--min-remaining", "0.1"])
    assert passed.exit_code == 0, passed.output
    assert "holds (minimum 10.0%)" in passed.output
    blocked = CliRunner().invoke(main, [*base, "--min-remaining", "0.99"])
    assert blocked.exit_code == 3
    assert "is below the gate (minimum 99.0%)" in blocked.output
    unknown = CliRunner().invoke(
        main,
        [
            "slo",
            "gate",
            "search/availabilty",
            str(ROOT / "slos"),
            "--prometheus",
            worked_prometheus.url,
        ],
    )
    assert unknown.exit_code == 1
    assert unknown.output == (
        f"Error: no SLO 'search/availabilty' in {ROOT / 'slos'} (did you mean 'search/availability'?)\n"
    )


def one_slo(sli: str, objective: float = 99.0) -> str:
    return f"version: ops/v1\nservice: t\nslos:\n  - name: x\n    objective: {objective}\n    sli: {sli}\n"


def test_a_metric_that_does_not_exist_is_no_data(worked_prometheus: LoadedPrometheus) -> None:
    slos = parse_slo_file(one_slo("{ratio: {bad: nope_total, total: nope_total}}"), "t.yaml").slos
    (status,) = evaluate(slos, PrometheusSource(worked_prometheus.url), worked_prometheus.end)
    assert (status.status, status.period, status.budget_remaining) == ("no_data", None, None)


def test_an_invalid_selector_names_the_slo_query_and_server_message(
    worked_prometheus: LoadedPrometheus,
) -> None:
    slos = parse_slo_file(one_slo("{ratio: {bad: 'x{a=~\"(\"}', total: x}}"), "t.yaml").slos
    with pytest.raises(MetricsError) as raised:
        evaluate(slos, PrometheusSource(worked_prometheus.url), worked_prometheus.end)
    message = str(raised.value)
    assert message.startswith("t/x: query 'sum(increase(x{a=~\"(\"}[30d]))' failed: Prometheus at ")
    assert "rejected the query: HTTP 400: bad_data: " in message


def test_keep_going_marks_the_failed_slo_and_reports_the_rest(
    worked_prometheus: LoadedPrometheus,
) -> None:
    good = load_slos([str(ROOT / "slos")])[:1]
    bad = parse_slo_file(one_slo("{ratio: {bad: 'x{a=~\"(\"}', total: x}}"), "t.yaml").slos
    statuses = evaluate(
        [*good, *bad],
        PrometheusSource(worked_prometheus.url),
        worked_prometheus.end,
        keep_going=True,
    )
    assert [s.status for s in statuses] == ["critical", "error"]


def test_a_latency_bound_without_a_bucket_says_so(worked_prometheus: LoadedPrometheus) -> None:
    sli = "{latency: {histogram: http_request_duration_seconds, selector: '{service=\"search-api\"}', below: 1.2}}"
    slos = parse_slo_file(one_slo(sli), "t.yaml").slos
    with pytest.raises(ConfigError) as raised:
        evaluate(slos, PrometheusSource(worked_prometheus.url), worked_prometheus.end)
    assert str(raised.value) == (
        "t.yaml: slos[0].sli.latency.below: histogram http_request_duration_seconds"
        '{service="search-api"} has no bucket le="1.2"; its buckets are: 0.25, 0.5, 1, 1.5, 5, +Inf'
    )


def test_prometheus_down_is_an_error_naming_the_slo(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["slo", "report", str(ROOT / "slos"), "--prometheus", "http://127.0.0.1:9"]
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error: search/availability: query 'sum(increase(")
    assert "cannot reach Prometheus at http://127.0.0.1:9: connection refused" in result.output


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers: a Prometheus that hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


def test_a_slow_prometheus_times_out_with_a_clear_error(silent_server: str) -> None:
    result = CliRunner().invoke(
        main,
        ["slo", "report", str(ROOT / "slos"), "--prometheus", silent_server, "--timeout", "0.5"],
    )
    assert result.exit_code == 1
    assert f"Prometheus at {silent_server} did not answer within 0.5s" in result.output


def test_validate_cli(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(one_slo("{ratio: {bad: x}}"))
    result = CliRunner().invoke(main, ["slo", "validate", str(bad)])
    assert result.exit_code == 1
    assert result.output == f"Error: {bad}: slos[0].sli.ratio.total: is required\n"
    ok = CliRunner().invoke(main, ["slo", "validate", str(ROOT / "slos"), "--json"])
    document = json.loads(ok.stdout)
    assert next(r["slo"] for r in document["slos"]) == "availability"
    assert document["findings"] == []  # the same shape as with --prometheus


LIVE_FILE = """\
version: ops/v1
service: live
slos:
  - name: typo-in-total
    objective: 99
    sli: {ratio: {bad: 'http_requests_total{code=~"5.."}', total: 'http_request_total{service="search-api"}'}}
  - name: typo-in-bad
    objective: 99
    sli: {ratio: {bad: 'http_requests_total{cod=~"5.."}', total: 'http_requests_total'}}
  - name: whole-bound
    objective: 99
    sli: {latency: {histogram: http_request_duration_seconds, selector: '{service="search-api"}', below: 1}}
  - name: missing-bound
    objective: 99
    sli: {latency: {histogram: http_request_duration_seconds, selector: '{service="search-api"}', below: 2}}
  - name: trickle
    objective: 99.9
    sli: {ratio: {good: 'ingest_pipeline_runs_total{outcome="on_time"}', total: ingest_pipeline_runs_total}}
  - name: trickle-with-minimum
    objective: 99.9
    alerting: {min_events: 70}
    sli: {ratio: {good: 'ingest_pipeline_runs_total{outcome="on_time"}', total: ingest_pipeline_runs_total}}
"""


def test_validate_against_live_data_names_each_selector_that_matches_nothing(
    worked_prometheus: LoadedPrometheus, tmp_path: Path
) -> None:
    path = tmp_path / "live.yaml"
    path.write_text(LIVE_FILE)
    result = CliRunner().invoke(
        main,
        [
            "slo",
            "validate",
            str(path),
            "--prometheus",
            worked_prometheus.url,
            "--at",
            str(worked_prometheus.end),
        ],
    )
    assert result.exit_code == 1
    *problems, low_traffic = result.stderr.splitlines(keepends=True)
    # Four pipeline runs an hour: one late run would burn ~250x a 99.9% budget and page.
    found = re.search(r"low traffic: (\d+) events", low_traffic)
    assert found is not None and 3 <= int(found.group(1)) <= 5, low_traffic
    runs = int(found.group(1))
    assert low_traffic == (
        f"Warning: {path}: slos[4].alerting.min_events: low traffic: {runs} events in the last "
        f"1h, so one bad event would burn {1 / runs / 0.001:.1f}x and fire the 1h/5m page "
        "(above 14.4x); set alerting.min_events to at least 70\n"
    )
    assert "".join(problems) == (
        f'Error: {path}: slos[0].sli.ratio.total: http_request_total{{service="search-api"}} '
        "matched no series in the last 30d\n"
        f'Warning: {path}: slos[1].sli.ratio.bad: http_requests_total{{cod=~"5.."}} matched no '
        "series in the last 30d: either no bad event happened or the selector is wrong (the "
        "rules count it as 0 bad events)\n"
        f"Error: {path}: slos[3].sli.latency.below: histogram http_request_duration_seconds"
        '{service="search-api"} has no bucket le="2" or le="2.0"; its buckets are: 0.25, 0.5, 1, '
        "1.5, 5, +Inf\n"
    )


def test_validate_against_live_data_passes_the_worked_example(
    worked_prometheus: LoadedPrometheus,
) -> None:
    args = ["slo", "validate", str(ROOT / "slos"), "--prometheus", worked_prometheus.url]
    result = CliRunner().invoke(main, [*args, "--at", str(worked_prometheus.end)])
    assert result.exit_code == 0, result.output
    assert result.stderr == "4 SLO(s) in 1 file(s): valid and against live data\n"
    as_json = CliRunner().invoke(main, [*args, "--at", str(worked_prometheus.end), "--json"])
    assert json.loads(as_json.stdout)["findings"] == []
