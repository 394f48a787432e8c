"""Scheduled reports across ``ops serve`` restarts and ``ops slo report --once``, with the real
server, the worked example's Prometheus and the local Slack-compatible API.

Before: serve's first start records the latest slot as a baseline (not posted), and
``--once`` in that slot said "this slot was already posted" when nothing had been.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from tests.integration.conftest import LoadedPrometheus
from tests.integration.test_serve import OpsServer, eventually
from tests.slack_api import SlackServer, slack_server


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    yield from slack_server(["alerts", "search-oncall", "search-alerts", "search-quality"])


def reporting_server(
    tmp_path: Path, slack: SlackServer, prometheus: LoadedPrometheus, cron: str
) -> OpsServer:
    return OpsServer(
        tmp_path,
        slack,
        extra=(
            f"prometheus: {prometheus.url}\n"
            f"reports:\n  - {{name: daily, cron: '{cron}', slos: ['search/*'], "
            "channel: '#search-alerts'}\n"
        ),
    )


def slots(tmp_path: Path) -> list[tuple[float, int]]:
    """The report's slots (the on-call handoffs keep theirs in the same table)."""
    with sqlite3.connect(tmp_path / "state.db") as db:
        rows = db.execute(
            "SELECT slot, posted FROM report_slots WHERE name = 'daily' ORDER BY slot"
        ).fetchall()
    return [(float(slot), int(posted)) for slot, posted in rows]


def reports(slack: SlackServer) -> list[str]:
    return [
        m["blocks"][0]["text"]["text"]
        for m in slack.state.top_level("search-alerts")
        if isinstance(m.get("blocks"), list)
    ]


def test_once_posts_the_slot_serve_only_recorded_and_serve_does_not_post_it_again(
    tmp_path: Path,
    slack: SlackServer,
    worked_prometheus: LoadedPrometheus,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = reporting_server(tmp_path, slack, worked_prometheus, "0 8 * * *")
    server.start()
    try:
        eventually(lambda: len(slots(tmp_path)) == 1)  # the first start's baseline
    finally:
        server.stop()
    ((baseline, posted),) = slots(tmp_path)
    assert posted == 0 and reports(slack) == []
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_API_URL", slack.url)
    args = ["slo", "report", "--once", "--name", "daily", "--config", str(server.config)]
    first = CliRunner().invoke(main, args)
    assert (first.exit_code, first.stderr) == (0, "posted 1 message(s)\n")
    assert reports(slack) == ["SLO budget report: daily"]
    again = CliRunner().invoke(main, args)
    assert (again.exit_code, again.stderr) == (
        0,
        "report 'daily': this slot was already posted (use --force to post again)\n",
    )
    assert slots(tmp_path) == [(baseline, 1)]
    server.start()  # serve's round finds the slot posted: nothing more
    try:
        time.sleep(1.5)  # its first round runs at start
        assert reports(slack) == ["SLO budget report: daily"]
    finally:
        server.stop()


def test_a_slot_missed_while_serve_was_down_is_posted_once_on_start(
    tmp_path: Path, slack: SlackServer, worked_prometheus: LoadedPrometheus
) -> None:
    """Every minute is a slot: serve starts (baseline), stops, stays down until the next
    slot has passed, and posts that slot once when it starts again."""
    server = reporting_server(tmp_path, slack, worked_prometheus, "* * * * *")
    server.start()
    try:
        eventually(lambda: len(slots(tmp_path)) == 1)
    finally:
        server.stop()
    ((baseline, posted),) = slots(tmp_path)
    assert posted == 0
    time.sleep(max(0.0, baseline + 61 - time.time()))  # down while the next slot passes
    server.start()
    try:
        eventually(lambda: len(reports(slack)) == 1, timeout=30)
    finally:
        server.stop()
    recorded = slots(tmp_path)
    assert recorded[0] == (baseline, 0)
    assert [p for _, p in recorded[1:]] == [1] * (len(recorded) - 1)
    # one post per slot posted, the missed one among them; none for the baseline
    assert len(reports(slack)) == len(recorded) - 1 >= 1
    assert recorded[1][0] >= baseline + 60
