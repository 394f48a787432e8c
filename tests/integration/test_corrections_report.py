"""Corrections in the report and the gate, against a real Prometheus with generated data.

The worked example's availability SLO has a known outage 18 days before the data's end
(3 h at 4% errors) and a fast burn in the last hour (3% errors for an hour from 50 minutes
before the end). A correction over an outage takes its events out of both good and bad, so
the budget equals the generator's truth with those events removed.

Counts in (since, until] as ``Dataset.total`` gives them are what ``increase`` over a range
ending on a sample reads (samples every 60 s, windows on whole minutes), so the bounds are
those of ``test_slo_report.py``: 0.1% relative on counts, 0.002 absolute on the budget.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.metrics.prometheus import PrometheusSource
from ops_toolkit.slo.corrections import Correction
from ops_toolkit.slo.evaluate import evaluate, query_plan
from ops_toolkit.slo.model import SLO
from ops_toolkit.slo.spec import load_slos
from tests.conftest import ROOT
from tests.integration.conftest import LoadedPrometheus

DAY = 86400
PERIOD = 30 * DAY


def availability(*corrections: Correction) -> SLO:
    (slo,) = [s for s in load_slos([str(ROOT / "slos")]) if s.name == "availability"]
    return dataclasses.replace(slo, corrections=corrections)


def moment(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def without(
    loaded: LoadedPrometheus, since: float, until: float, spans: list[tuple[float, float]]
) -> tuple[int, int, int, int]:
    """(bad, total) in (since, until] with the events of ``spans`` removed, and the removed
    (bad, total): the generator's truth."""
    bad, total = loaded.truth("availability", since, until)
    out_bad = out_total = 0
    for begin, end in spans:
        b, t = loaded.truth("availability", begin, end)
        out_bad, out_total = out_bad + b, out_total + t
    return bad - out_bad, total - out_total, out_bad, out_total


def test_a_correction_over_the_outage_gives_the_budget_without_it(
    worked_prometheus: LoadedPrometheus,
) -> None:
    at = worked_prometheus.end
    outage = (at - 18 * DAY, at - 18 * DAY + 3 * 3600)
    correction = Correction("INC-1 outage", start=moment(outage[0]), end=moment(outage[1]))
    source = PrometheusSource(worked_prometheus.url)
    plain, corrected = evaluate([availability(), availability(correction)], source, at)

    bad, total, out_bad, out_total = without(worked_prometheus, at - PERIOD, at, [outage])
    assert out_bad > 0.04 * out_total * 0.9  # the span really holds the outage
    assert corrected.period is not None and corrected.excluded is not None
    assert corrected.period.total == pytest.approx(total, rel=1e-3)
    assert corrected.period.bad == pytest.approx(bad, rel=1e-3, abs=1)
    assert corrected.excluded.total == pytest.approx(out_total, rel=1e-3)
    assert corrected.excluded.bad == pytest.approx(out_bad, rel=1e-3, abs=1)
    expected = 1 - (bad / total) / corrected.slo.budget
    assert corrected.budget_remaining == pytest.approx(expected, abs=0.002)
    # The outage cost budget, and the correction gives it back.
    assert plain.budget_remaining is not None and corrected.budget_remaining is not None
    assert corrected.budget_remaining - plain.budget_remaining > 0.1
    assert plain.excluded is None and plain.corrected == ()
    assert [(s.start, s.end, s.reason) for s in corrected.corrected] == [
        (moment(outage[0]), moment(outage[1]), "INC-1 outage")
    ]
    # Windows that do not hold the span are not touched.
    assert corrected.windows == plain.windows


def test_a_correction_over_the_last_hours_burn_stops_the_page(
    worked_prometheus: LoadedPrometheus,
) -> None:
    at = worked_prometheus.end
    burn = (at - 50 * 60, at + 10 * 60)  # the incident, still open at the report's time
    correction = Correction("INC-2 deploy", start=moment(burn[0]), end=moment(burn[1]))
    source = PrometheusSource(worked_prometheus.url)
    plain, corrected = evaluate([availability(), availability(correction)], source, at)
    assert plain.status == "critical"
    assert corrected.status == "ok"
    for window in (3600, 6 * 3600, DAY):
        bad, total, _, _ = without(worked_prometheus, at - window, at, [(burn[0], at)])
        counts = corrected.windows[window]
        assert counts is not None
        assert counts.total == pytest.approx(total, rel=1e-3)
        assert counts.bad == pytest.approx(bad, rel=1e-3, abs=1)
    assert corrected.windows[300] is None  # every event of the last 5 minutes is corrected


def test_recurring_corrections_follow_their_time_zone(
    worked_prometheus: LoadedPrometheus,
) -> None:
    at = worked_prometheus.end
    nightly = Correction("nightly batch", cron="0 3 * * *", duration=1800, timezone="Europe/Berlin")
    source = PrometheusSource(worked_prometheus.url)
    (status,) = evaluate([availability(nightly)], source, at)
    # The truth, independently of the model: each local 03:00 in Berlin, for 30 minutes.
    berlin = ZoneInfo("Europe/Berlin")
    day = moment(at - PERIOD - DAY).astimezone(berlin).date()
    spans = []
    while (start := datetime(day.year, day.month, day.day, 3, tzinfo=berlin).timestamp()) < at:
        begin, end = max(start, at - PERIOD), min(start + 1800, at)
        if begin < end:
            spans.append((begin, end))
        day += timedelta(days=1)
    assert 29 <= len(spans) <= 31
    bad, total, _, out_total = without(worked_prometheus, at - PERIOD, at, spans)
    assert status.period is not None and status.excluded is not None
    assert status.period.total == pytest.approx(total, rel=1e-3)
    assert status.period.bad == pytest.approx(bad, rel=1e-3, abs=1)
    assert status.excluded.total == pytest.approx(out_total, rel=1e-3)
    assert [(s.start.timestamp(), s.end.timestamp()) for s in status.corrected] == spans


def test_the_plan_pins_each_span_with_at_and_asks_it_once(
    worked_prometheus: LoadedPrometheus,
) -> None:
    at = worked_prometheus.end
    begin = at - 2 * DAY
    correction = Correction("INC-3", start=moment(begin), end=moment(begin + 3600))
    plan = query_plan([availability(correction)], at)
    pinned = [q for q in plan if f"@ {begin + 3600}" in q.query]
    # One counted and one total query for the span, shared by the period, 3d and 30d... windows
    # that hold all of it.
    assert [q.query for q in pinned] == [
        f'sum(increase(http_requests_total{{service="search-api",code=~"5.."}}[1h] @ {begin + 3600}))',
        f'sum(increase(http_requests_total{{service="search-api"}}[1h] @ {begin + 3600}))',
    ]
    assert sorted({window for q in pinned for _, window, _ in q.serves}) == [0, 3 * DAY]
    assert {part for q in pinned for _, _, part in q.serves} == {
        "counted corrected out",
        "total corrected out",
    }


def corrected_dir(tmp_path: Path, at: int) -> Path:
    slos = tmp_path / "slos"
    slos.mkdir()
    shutil.copy(ROOT / "slos" / "search.yaml", slos / "search.yaml")
    start, end = moment(at - 50 * 60), moment(at + 10 * 60)
    (slos / "corrections.yaml").write_text(
        "corrections:\n"
        "  search/availability:\n"
        f"    - {{start: {start.isoformat()}, end: {end.isoformat()}, reason: INC-2 deploy}}\n"
    )
    return slos


def test_report_json_and_table_say_what_was_excluded(
    worked_prometheus: LoadedPrometheus, tmp_path: Path
) -> None:
    at = worked_prometheus.end
    slos = corrected_dir(tmp_path, at)
    args = [str(slos), "--prometheus", worked_prometheus.url, "--at", str(at)]
    result = CliRunner().invoke(main, ["slo", "report", *args, "-o", "json"])
    assert result.exit_code == 0, result.output
    documents = {d["slo"]: d for d in json.loads(result.output)}
    _, _, out_bad, out_total = without(worked_prometheus, at - PERIOD, at, [(at - 3000, at)])
    document = documents["availability"]
    assert document["excluded_events"] == pytest.approx(out_total, rel=1e-3)
    assert document["excluded_bad"] == pytest.approx(out_bad, rel=1e-3, abs=1)
    assert document["corrections"] == [
        {
            "start": moment(at - 3000).isoformat().replace("+00:00", "Z"),
            "end": moment(at).isoformat().replace("+00:00", "Z"),
            "reason": "INC-2 deploy",
        }
    ]
    assert document["status"] == "ok"
    assert documents["answer-latency"]["excluded_events"] is None
    assert documents["answer-latency"]["corrections"] == []

    table = CliRunner().invoke(main, ["slo", "report", *args, "-o", "wide"])
    assert table.exit_code == 0, table.output
    assert f"{round(out_total):,} events corrected out (1 window)" in table.output

    markdown = CliRunner().invoke(main, ["slo", "report", *args, "-o", "markdown"])
    assert markdown.exit_code == 0, markdown.output
    stamp = moment(at - 3000).strftime("%Y-%m-%d %H:%M")
    assert (
        f"- **search/availability**: {round(out_total):,} events corrected out: "
        f"{stamp} to {moment(at).strftime('%H:%M')} UTC (INC-2 deploy)"
    ) in markdown.output


def test_the_gate_uses_the_corrected_budget(
    worked_prometheus: LoadedPrometheus, tmp_path: Path
) -> None:
    at = worked_prometheus.end
    slos = corrected_dir(tmp_path, at)
    options = ["--prometheus", worked_prometheus.url, "--at", str(at), "--min-remaining", "25%"]
    plain = CliRunner().invoke(
        main, ["slo", "gate", "search/availability", str(ROOT / "slos"), *options]
    )
    assert plain.exit_code == 3, plain.output  # the last hour's burn stops it
    gate = CliRunner().invoke(main, ["slo", "gate", "search/availability", str(slos), *options])
    assert gate.exit_code == 0, gate.output
    _, _, _, out_total = without(worked_prometheus, at - PERIOD, at, [(at - 3000, at)])
    assert (
        f"search/availability: {round(out_total):,} events corrected out (1 window)" in gate.output
    )


def test_the_burn_down_leaves_corrected_events_out_and_carries_the_spans(
    worked_prometheus: LoadedPrometheus,
) -> None:
    from ops_toolkit.slo.burndown import burndown

    at = worked_prometheus.end
    outage = (at - 18 * DAY, at - 18 * DAY + 3 * 3600)
    correction = Correction("INC-1 outage", start=moment(outage[0]), end=moment(outage[1]))
    source = PrometheusSource(worked_prometheus.url)
    plain, corrected = evaluate([availability(), availability(correction)], source, at)
    plain_chart, chart = burndown(plain, source), burndown(corrected, source)
    assert plain_chart is not None and chart is not None
    assert chart.corrected == (outage,)
    assert plain_chart.corrected == ()
    # The last point is the report's budget; before the outage both lines agree.
    assert chart.points[-1][1] == pytest.approx(corrected.budget_remaining, abs=0.002)
    assert plain_chart.points[-1][1] == pytest.approx(plain.budget_remaining, abs=0.002)
    before = [i for i, (t, _) in enumerate(chart.points) if t < outage[0]]
    assert before
    for i in before:
        # Same bad events; the corrected line spreads them over fewer expected events.
        assert chart.points[i][1] <= plain_chart.points[i][1] + 1e-9
    assert chart.points[-1][1] - plain_chart.points[-1][1] > 0.1
