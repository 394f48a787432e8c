"""SlackNotifier: the real slack_sdk WebClient against the local Slack-compatible server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from ops_toolkit.errors import NotifyError
from ops_toolkit.notify.slack import SlackNotifier
from tests.slack_api import Fault, SlackServer, slack_server

MESSAGE = {
    "text": "hello",
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}],
}


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    yield from slack_server(["alerts", "search-oncall"])


def notifier(slack: SlackServer, timeout: float = 5) -> SlackNotifier:
    return SlackNotifier("xoxb-test", base_url=slack.url, timeout=timeout)


def test_post_update_and_find_by_outbox_id(slack: SlackServer) -> None:
    client = notifier(slack)
    channel, ts = client.post("#alerts", MESSAGE, 7, None)
    assert channel == "C00000001"
    reply_channel, reply_ts = client.post("#alerts", {"text": "reply"}, 8, ts)
    client.update(channel, ts, {"text": "resolved"})
    assert client.find("#alerts", 7, None) == (channel, ts)
    assert client.find("#alerts", 8, ts) == (reply_channel, reply_ts)
    assert client.find("#alerts", 9, None) is None
    (top,) = slack.state.top_level("alerts")
    assert (top["text"], top["updates"]) == ("resolved", 1)
    assert top["metadata"] == {"event_type": "ops_outbox", "event_payload": {"outbox_id": 7}}


def test_429_carries_retry_after(slack: SlackServer) -> None:
    slack.state.faults.append(Fault("chat.postMessage", "429", 1, retry_after=7))
    with pytest.raises(NotifyError) as raised:
        notifier(slack).post("#alerts", MESSAGE, 1, None)
    assert raised.value.retry_after == 7
    assert str(raised.value) == "Slack chat_postMessage: rate limited; retry after 7s"


def test_500_is_retryable(slack: SlackServer) -> None:
    slack.state.faults.append(Fault("chat.postMessage", "500", 1))
    with pytest.raises(NotifyError) as raised:
        notifier(slack).post("#alerts", MESSAGE, 1, None)
    assert (raised.value.permanent, raised.value.retry_after) == (False, None)
    assert str(raised.value) == "Slack chat_postMessage: HTTP 500"


def test_a_hang_times_out_with_an_unknown_outcome(slack: SlackServer) -> None:
    slack.state.faults.append(Fault("chat.postMessage", "hang_after_store", 1, seconds=3))
    started = time.monotonic()
    with pytest.raises(NotifyError) as raised:
        notifier(slack, timeout=1).post("#alerts", MESSAGE, 5, None)
    assert time.monotonic() - started < 3
    assert "outcome unknown" in str(raised.value)
    assert notifier(slack).find("#alerts", 5, None) is not None  # it was posted after all


def test_unknown_channels_are_permanent_errors(slack: SlackServer) -> None:
    with pytest.raises(NotifyError) as raised:
        notifier(slack).post("#nope", MESSAGE, 1, None)
    assert raised.value.permanent
    assert str(raised.value) == (
        "Slack: no channel #nope visible to the bot; invite it or fix alerts/routes.yaml"
    )
