"""Participants given as emails become Slack ids through users.lookupByEmail (real client)."""

from __future__ import annotations

from ops_toolkit.notify.slack import SlackNotifier
from tests.slack_api import SlackServer


def test_emails_are_looked_up_once_and_unknown_ones_stay_unresolved() -> None:
    with SlackServer(["alerts"]) as server:
        server.state.users["dana@example.com"] = "U0DANA0001"
        notifier = SlackNotifier("xoxb-test", base_url=server.url)
        assert notifier.known_email("dana@example.com") is None  # never asks Slack
        assert notifier.lookup_email("dana@example.com") == "U0DANA0001"
        assert notifier.lookup_email("dana@example.com") == "U0DANA0001"
        assert notifier.known_email("dana@example.com") == "U0DANA0001"
        assert notifier.lookup_email("gone@example.com") is None
        calls = [m for m, _ in server.state.calls if m == "users.lookupByEmail"]
        assert len(calls) == 2
