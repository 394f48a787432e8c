"""Nothing stuck, nothing lost: a failing enrichment, a poisoned inbox entry or a malformed
outbox entry never holds back the others; each retry and each dead letter is logged once
and counted."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from ops_toolkit.escalate.route import Route, Routing
from ops_toolkit.notify.message import BudgetInfo
from ops_toolkit.notify.model import Planned
from tests.alerts.payloads import alert, notification
from tests.serve.test_delivery import make_rig
from tests.slack_api import Fault, SlackServer, slack_server


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    yield from slack_server(["alerts", "search-oncall", "other"])


class PoisonedRouting(Routing):
    """Routing that fails for alerts labelled poison=yes: a bug reached by one payload."""

    def targets(self, labels: Mapping[str, str]) -> list[Route]:
        if labels.get("poison") == "yes":
            raise KeyError("poison")
        return super().targets(labels)


def serve_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "ops.serve"]


def test_a_budget_lookup_that_crashes_never_holds_back_the_alert(
    tmp_path: Path, slack: SlackServer, caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_rig(str(tmp_path / "state.db"), slack)

    def broken(labels: Mapping[str, str]) -> BudgetInfo:
        raise AttributeError("'str' object has no attribute 'get'")

    rig.processor.budget = broken
    rig.send(notification())
    rig.deliver()
    (opening,) = slack.state.top_level("alerts")
    assert ":grey_question: SLO budget unavailable" in str(opening["blocks"])
    assert serve_lines(caplog) == [
        "SLO budget of SearchAvailabilityBudgetBurn unavailable: "
        "AttributeError: 'str' object has no attribute 'get'"
    ]
    stats = rig.store.stats(rig.clock())
    assert (stats["enrichment_failures"], stats["inbox_depth"]) == (1.0, 0.0)


def test_a_runbook_lookup_that_crashes_sends_the_alert_without_a_runbook(
    tmp_path: Path, slack: SlackServer
) -> None:
    rig = make_rig(str(tmp_path / "state.db"), slack)

    def broken(n: object) -> str:
        raise OSError("runbooks/ is gone")

    rig.processor.runbook_for = broken  # type: ignore[assignment]
    rig.send(notification())
    rig.deliver()
    (opening,) = slack.state.top_level("alerts")
    assert "runbook" not in str(opening["blocks"]).lower()
    assert rig.store.stats(rig.clock())["enrichment_failures"] == 1.0


def test_a_poisoned_entry_is_retried_then_dead_lettered_while_the_others_go_on(
    tmp_path: Path, slack: SlackServer, caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_rig(str(tmp_path / "state.db"), slack, PoisonedRouting(Route("#alerts")))
    poisoned = notification(alert(poison="yes"), group_key="poisoned")
    rig.send(poisoned)
    rig.send(notification(alert(fingerprint="g"), group_key="healthy"))
    same_group = notification(alert(fingerprint="p2"), group_key="poisoned")
    rig.send(same_group)
    rig.deliver()
    # the healthy group went out at once; the poisoned one's later payload keeps its order
    assert len(slack.state.top_level("alerts")) == 1
    assert rig.store.stats(rig.clock())["inbox_depth"] == 2.0
    rig.clock.now += 2
    rig.processor.run_once()
    rig.clock.now += 4
    rig.processor.run_once()
    rig.deliver()
    assert serve_lines(caplog) == [
        "inbox entry 1 (SearchAvailabilityBudgetBurn): attempt 1 of 3 failed, retrying in 2s: "
        "KeyError: 'poison'",
        "inbox entry 1 (SearchAvailabilityBudgetBurn): attempt 2 of 3 failed, retrying in 4s: "
        "KeyError: 'poison'",
        "inbox entry 1 (SearchAvailabilityBudgetBurn): dead letter after 3 attempts: "
        "KeyError: 'poison'",
    ]
    # then the group's next payload is processed: the alert is not lost with its neighbour
    assert len(slack.state.top_level("alerts")) == 2
    stats = rig.store.stats(rig.clock())
    assert {k: stats[k] for k in ("inbox_depth", "inbox_retries", "inbox_dead_letters")} == {
        "inbox_depth": 0.0,
        "inbox_retries": 2.0,
        "inbox_dead_letters": 1.0,
    }
    assert rig.store.dead_inbox() == [
        (1, rig.clock.now - 6, "3 attempts failed: KeyError: 'poison'")
    ]


def test_an_enrichment_that_breaks_the_message_is_dropped_on_the_last_attempt(
    tmp_path: Path, slack: SlackServer
) -> None:
    rig = make_rig(str(tmp_path / "state.db"), slack)
    # A lookup that answers nonsense: building the message with it fails every time.
    nonsense = BudgetInfo("search/availability", 99.9, "lots", {}, "ok")  # type: ignore[arg-type]
    rig.processor.budget = lambda labels: nonsense
    rig.send(notification())
    for _ in range(2):
        rig.clock.now += 10
        rig.processor.run_once()
    rig.deliver()
    (opening,) = slack.state.top_level("alerts")
    assert ":grey_question: SLO budget unavailable" in str(opening["blocks"])
    stats = rig.store.stats(rig.clock())
    assert (stats["inbox_retries"], stats["inbox_dead_letters"]) == (2.0, 0.0)


def test_a_payload_that_no_longer_parses_is_a_counted_dead_letter(
    tmp_path: Path, slack: SlackServer, caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_rig(str(tmp_path / "state.db"), slack)
    rig.store.accept([('{"version": "3"}', 1)], rig.clock())
    rig.processor.run_once()
    assert serve_lines(caplog) == [
        "inbox entry 1: dead letter: does not parse: POST /alertmanager: version: "
        "expected \"4\" (Alertmanager webhook v4), got '3'"
    ]
    assert rig.store.stats(rig.clock())["inbox_dead"] == 1.0


def test_each_retry_and_dead_letter_of_delivery_is_one_log_line(
    tmp_path: Path, slack: SlackServer, caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_rig(str(tmp_path / "state.db"), slack)
    rig.deliverer.base_backoff = 10
    slack.state.faults.append(Fault("chat.postMessage", "500", 100))
    rig.send(notification())
    rig.deliver(rounds=1)
    rig.clock.now += 601
    rig.deliver(rounds=1)
    first, dead = serve_lines(caplog)
    assert first.startswith(
        "outbox entry 1 (post to #alerts): attempt 1 failed, retrying in "
    ) and first.endswith("s: Slack chat_postMessage: HTTP 500")
    assert 5.0 <= float(first.split("retrying in ")[1].split("s:")[0]) <= 10.0
    assert dead == (
        "outbox entry 1 (post to #alerts): dead letter: older than 600s: "
        "Slack chat_postMessage: HTTP 500"
    )


def test_a_malformed_outbox_entry_is_retried_then_dead_not_stuck_sending(
    tmp_path: Path, slack: SlackServer, caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_rig(str(tmp_path / "state.db"), slack)
    rig.store.enqueue(
        [Planned("chart", "#alerts", "upload", {"filename": "x.png", "text": "chart"})],
        rig.clock(),
    )
    rig.send(notification(group_key="other"))
    for _ in range(3):
        rig.deliver(rounds=1)
        rig.clock.now += 5
    (dead,) = rig.store.entries(["dead"])
    assert dead.last_error == "unexpected KeyError: 'content_b64'"
    assert len(slack.state.top_level("alerts")) == 1
    assert serve_lines(caplog)[-1] == (
        "outbox entry 1 (upload to #alerts): dead letter: unexpected KeyError: 'content_b64'"
    )
    assert rig.store.stats(rig.clock())["outbox_depth"] == 0.0


def test_a_slack_answer_without_a_ts_is_a_clear_retried_error(
    tmp_path: Path, slack: SlackServer
) -> None:
    rig = make_rig(str(tmp_path / "state.db"), slack)
    slack.state.faults.append(Fault("chat.postMessage", "answer", 1, body=b'{"ok": true}'))
    rig.send(notification())
    rig.deliver(rounds=1)
    (entry,) = rig.store.entries(["pending"])
    assert entry.last_error == (
        "Slack chat_postMessage: answer without a message ts; outcome unknown"
    )
    rig.clock.now += 60
    rig.deliver()
    assert len(slack.state.top_level("alerts")) == 1


@pytest.fixture(autouse=True)
def _capture_serve_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ops.serve")


def test_an_html_page_instead_of_a_slack_answer_is_retried(
    tmp_path: Path, slack: SlackServer
) -> None:
    rig = make_rig(str(tmp_path / "state.db"), slack)
    page = b"<html><body>502 Bad Gateway</body></html>"
    slack.state.faults.append(
        Fault("chat.postMessage", "answer", 1, body=page, content_type="text/html")
    )
    rig.send(notification())
    rig.deliver(rounds=1)
    (entry,) = rig.store.entries(["pending"])
    assert entry.last_error is not None and entry.last_error.startswith("Slack chat_postMessage: ")
    rig.clock.now += 60
    rig.deliver()
    assert len(slack.state.top_level("alerts")) == 1


def test_an_absurd_retry_after_never_silences_a_channel_for_long(
    tmp_path: Path, slack: SlackServer
) -> None:
    rig = make_rig(str(tmp_path / "state.db"), slack)
    slack.state.faults.append(Fault("chat.postMessage", "429", 1, retry_after="1e12"))
    rig.send(notification())
    rig.deliver(rounds=1)
    assert rig.deliverer.next_allowed["#alerts"] == rig.clock.now + 300
    rig.clock.now += 301
    rig.deliver()
    assert len(slack.state.top_level("alerts")) == 1


def test_a_failing_follow_up_never_stops_processing(
    tmp_path: Path, slack: SlackServer, caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_rig(str(tmp_path / "state.db"), slack)

    def diagnose(notification: object) -> None:
        raise RuntimeError("diagnose queue is full")

    rig.processor.on_new = diagnose  # type: ignore[assignment]
    rig.send(notification(alert(fingerprint="a"), group_key="a"))
    rig.send(notification(alert(fingerprint="b"), group_key="b"))
    rig.deliver()
    assert len(slack.state.top_level("alerts")) == 2
    assert serve_lines(caplog)[0] == (
        "inbox entry 1: follow-up of SearchAvailabilityBudgetBurn failed: "
        "RuntimeError: diagnose queue is full"
    )


def test_a_channel_list_that_pages_forever_is_an_error_not_a_hang(
    tmp_path: Path, slack: SlackServer
) -> None:
    rig = make_rig(str(tmp_path / "state.db"), slack)
    endless = b'{"ok": true, "channels": [], "response_metadata": {"next_cursor": "again"}}'
    slack.state.faults.append(Fault("conversations.list", "answer", 1000, body=endless))
    rig.send(notification())
    rig.deliver(rounds=1)
    (entry,) = rig.store.entries(["pending"])
    assert entry.last_error == (
        "Slack conversations_list: paging did not end after 2 pages looking for #alerts"
    )
