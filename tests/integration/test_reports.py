"""Budget reports in chat and the error-budget policy, against the worked example's Prometheus
and the local Slack-compatible API."""

from __future__ import annotations

import re
import struct
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.config import parse_config
from ops_toolkit.metrics.prometheus import PrometheusSource
from ops_toolkit.reports.scheduled import PolicyRunner, ReportPublisher
from ops_toolkit.serve.store import Store
from tests.conftest import ROOT
from tests.integration.conftest import LoadedPrometheus
from tests.slack_api import SlackServer, slack_server

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    yield from slack_server(["search-alerts", "search-oncall"])


def write_config(tmp_path: Path, prometheus: str, extra: str = "") -> Path:
    path = tmp_path / "ops.yaml"
    path.write_text(
        f"serve: {{state: {tmp_path / 'state.db'}, messages: {tmp_path / 'messages.jsonl'}, pace_seconds: 0.05}}\n"
        f"slos: [{ROOT / 'slos'}]\nprometheus: {prometheus}\n"
        "runbook_base_url: https://git.example.com/search/ops/-/blob/main\n" + extra
    )
    return path


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_post_a_report_with_its_chart(
    tmp_path: Path,
    worked_prometheus: LoadedPrometheus,
    slack: SlackServer,
    monkeypatch: pytest.MonkeyPatch,
    wall_clock: datetime,
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_API_URL", slack.url)
    config = write_config(tmp_path, worked_prometheus.url)
    chart = tmp_path / "burndown.png"
    result = CliRunner().invoke(
        main,
        [
            "slo",
            "report",
            "--config",
            str(config),
            "--at",
            str(worked_prometheus.end),
            "--format",
            "json",
            "--post",
            "#search-alerts",
            "--chart",
            str(chart),
        ],
    )
    assert result.exit_code == 0, result.output
    assert png_size(chart) == (1200, 600)
    (report,) = slack.state.top_level("search-alerts")
    assert report["blocks"][0]["text"]["text"] == "SLO budget report"
    assert (
        "windows 30d, calendar month · 4 SLOs: 1 critical · 3 ok"
        in report["blocks"][1]["elements"][0]["text"]
    )
    lines = report["blocks"][2]["text"]["text"].splitlines()
    assert lines[0].startswith(":rotating_light: *search/availability*")
    assert (
        "<https://git.example.com/search/ops/-/blob/main/runbooks/search-errors.md|runbook>"
        in lines[0]
    )
    (upload,) = slack.state.files
    assert upload["thread_ts"] == report["ts"] and upload["content"] == chart.read_bytes()


def test_html_report_is_one_self_contained_page(worked_prometheus: LoadedPrometheus) -> None:
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
            "html",
        ],
    )
    assert result.exit_code == 0, result.output
    page = result.output
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert page.count("<svg") == 4  # a burn-down per SLO
    for external in ("src=", "<script", "<link", "@import", "url("):
        assert external not in page


def test_each_slot_posts_once_across_restarts_and_a_missed_slot_once(
    tmp_path: Path, worked_prometheus: LoadedPrometheus
) -> None:
    config = parse_config(
        write_config(
            tmp_path,
            worked_prometheus.url,
            (
                "reports:\n  - {name: weekly, cron: '0 9 * * MON', timezone: Europe/Berlin, "
                "slos: ['search/*'], channel: '#search-alerts'}\n"
            ),
        ).read_text(),
        "ops.yaml",
    )
    store = Store(str(tmp_path / "state.db"))

    def publisher() -> ReportPublisher:
        return ReportPublisher(config, store, lambda: PrometheusSource(worked_prometheus.url))

    def travel(*parts: int) -> time_machine.travel:
        return time_machine.travel(datetime(*parts, tzinfo=BERLIN), tick=False)

    with travel(2026, 11, 23, 10, 0):
        assert publisher().run_due(time.time()) == []  # first start: baseline, nothing posted
    with travel(2026, 11, 30, 9, 5):
        first = publisher().run_due(time.time())
        assert len(first) == 1
        assert publisher().run_due(time.time()) == []  # a restart in the same slot: nothing
    with travel(2026, 12, 14, 10, 0):  # down over two Mondays: only the latest is posted
        assert len(publisher().run_due(time.time())) == 1
        assert publisher().run_due(time.time()) == []
    slots = store.db.execute("SELECT slot, posted FROM report_slots ORDER BY slot").fetchall()
    assert [(datetime.fromtimestamp(s, BERLIN).strftime("%m-%d %H:%M"), p) for s, p in slots] == [
        ("11-23 09:00", 0),
        ("11-30 09:00", 1),
        ("12-14 09:00", 1),
    ]


def test_once_runs_a_schedule_by_hand_once_per_slot(
    tmp_path: Path, worked_prometheus: LoadedPrometheus
) -> None:
    config = write_config(
        tmp_path,
        worked_prometheus.url,
        (
            "reports:\n  - {name: daily, cron: '0 8 * * *', slos: ['search/*'], channel: '#search-alerts'}\n"
        ),
    )
    args = ["slo", "report", "--once", "--config", str(config), "--name", "daily", "--console"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "posted 1 message(s)" in first.output
    again = CliRunner().invoke(main, args)
    assert (
        "report 'daily': this slot was already posted (use --force to post again)" in again.output
    )
    unknown = CliRunner().invoke(
        main, ["slo", "report", "--once", "--config", str(config), "--name", "dialy", "--console"]
    )
    assert unknown.exit_code == 1
    assert unknown.output.endswith("no report named 'dialy' (did you mean 'daily'?)\n")
    lines = (tmp_path / "messages.jsonl").read_text().splitlines()
    assert len(lines) == 1


def test_the_policy_notifies_once_and_remembers_across_restarts(
    tmp_path: Path, worked_prometheus: LoadedPrometheus, wall_clock: datetime
) -> None:
    remaining = worked_prometheus.remaining("availability", 99.9)
    high, low = round(remaining * 100) + 5, round(remaining * 100) - 5  # crossed; not crossed
    config = parse_config(
        write_config(
            tmp_path,
            worked_prometheus.url,
            (
                f"policies:\n  - {{slos: [search/availability], thresholds: [{high}%, {low}%], "
                "channel: '#search-oncall', mention: '@here'}\n"
            ),
        ).read_text(),
        "ops.yaml",
    )
    store = Store(str(tmp_path / "state.db"))

    def runner() -> PolicyRunner:
        return PolicyRunner(config, store, lambda: PrometheusSource(worked_prometheus.url))

    assert runner().run(worked_prometheus.end) == 1
    assert runner().run(worked_prometheus.end) == 0
    (notice,) = store.entries()
    assert notice.channel == "#search-oncall"
    assert notice.message["text"].startswith(
        f"<!here> :warning: *search/availability*: error budget fell below {high}%"
    )
    assert store.policy_armed("search/availability", [float(high), float(low)]) == {
        high: False,
        low: True,
    }


def test_the_gate_reads_the_policy(
    tmp_path: Path, worked_prometheus: LoadedPrometheus, wall_clock: datetime
) -> None:
    # The gate's bound comes from the generator's truth, 5 points either side of it: a
    # fixed bound once failed after 18:00 UTC, when the data followed the wall clock.
    remaining = worked_prometheus.remaining("availability", 99.9)
    assert 0.1 < remaining < 0.9  # the scenario: a budget well used but not spent
    gate = round(remaining * 100) + 5
    freeze = write_config(
        tmp_path,
        worked_prometheus.url,
        f"policies:\n  - {{slos: ['search/*'], channel: '#search-oncall', gate: {gate}%}}\n",
    )
    args = [
        "slo",
        "gate",
        "search/availability",
        "--config",
        str(freeze),
        "--at",
        str(worked_prometheus.end),
    ]
    blocked = CliRunner().invoke(main, args)
    assert blocked.exit_code == 3, blocked.output
    shown = re.search(
        r"budget remaining (\d+\.\d)% is below the gate \(minimum (.*?)%\)", blocked.output
    )
    assert shown, blocked.output
    assert float(shown.group(1)) == pytest.approx(remaining * 100, abs=0.2)
    assert shown.group(2) == f"{gate:.1f}"
    passed = CliRunner().invoke(
        main, [*args, "--min-remaining", f"{remaining - 0.05:.3f}", "--allow-burning"]
    )
    assert passed.exit_code == 0, passed.output


def test_once_queues_in_the_store_ops_state_names(
    tmp_path: Path, worked_prometheus: LoadedPrometheus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It once ignored OPS_STATE (which ops serve reads) and posted from serve.state's store."""
    config = write_config(
        tmp_path,
        worked_prometheus.url,
        "reports:\n  - {name: daily, cron: '0 8 * * *', slos: ['search/*'], channel: '#search-alerts'}\n",
    )
    served = tmp_path / "served.db"
    monkeypatch.setenv("OPS_STATE", str(served))
    args = ["slo", "report", "--once", "--config", str(config), "--name", "daily", "--console"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert served.exists() and not (tmp_path / "state.db").exists()
    given = tmp_path / "given.db"
    result = CliRunner().invoke(main, [*args, "--state", str(given)])
    assert result.exit_code == 0, result.output
    assert given.exists() and not (tmp_path / "state.db").exists()
