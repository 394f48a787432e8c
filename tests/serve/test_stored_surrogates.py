"""Payloads stored before intake refused lone UTF-16 surrogates (``"\\ud800"``) are read
with intake's rule, repaired: each lone surrogate becomes U+FFFD, as Alertmanager's Go
reads it, and the alert is posted with "�" where the broken character was. Before, they
were dead letters (at once, or after three tries), never posted. Only a body the repair
would change in meaning (two keys of one object becoming one) is still a dead letter,
with the reason.

The rows are written as the old intake wrote them (``Store.accept`` with the text as
received), on SQLite and on a real PostgreSQL; the end-to-end case runs a real ``ops
serve`` against the local Slack-compatible API.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops_toolkit.escalate.route import Route, Routing
from ops_toolkit.serve.store import Store
from ops_toolkit.serve.worker import Processor
from tests.integration.serving import eventually
from tests.integration.test_serve import OpsServer
from tests.slack_api import SlackServer, slack_server

NOW = 1_800_000_000.0
# The attacker's two bodies (tests/integration/test_serve_security.py), which intake now
# refuses with a 400: without a fingerprint (a 500 then), and in the group key (a 200, then
# a dead letter after three tries).
NO_FINGERPRINT = (
    '{"version":"4","status":"firing","groupKey":"surr-1","commonLabels":{"alertname":'
    '"Surr\\ud800","service":"x\\udfff"},"alerts":[{"status":"firing","labels":{"alertname":'
    '"Surr\\ud800","service":"x\\udfff"},"annotations":{"summary":"s\\ud800"},'
    '"startsAt":"2026-11-30T07:00:00Z"}]}'
)
IN_GROUP_KEY = (
    '{"version":"4","status":"firing","groupKey":"g\\ud800-1","commonLabels":{"alertname":'
    '"SurrG"},"alerts":[{"status":"firing","fingerprint":"f2","labels":{"alertname":"SurrG"},'
    '"startsAt":"2026-11-30T07:00:00Z"}]}'
)
# Two label names that differ only in their lone surrogates: replaced, they are one key.
COLLIDING = (
    '{"version":"4","status":"firing","groupKey":"c-1","commonLabels":{"alertname":"Coll"},'
    '"alerts":[{"status":"firing","fingerprint":"f3","labels":{"alertname":"Coll",'
    '"team\\ud800":"a","team\\udfff":"b"},"startsAt":"2026-11-30T07:00:00Z"}]}'
)
NOT_REPAIRABLE = (
    "does not parse: POST /alertmanager: alerts[0].labels.team\\udfff: not text: a lone "
    "UTF-16 surrogate (a \\u escape without its pair) that cannot be replaced with U+FFFD: "
    "the object has that key already"
)


def test_stored_lone_surrogates_become_the_replacement_character(state: str) -> None:
    store = Store(state)
    try:
        ids = store.accept([(NO_FINGERPRINT, 1), (IN_GROUP_KEY, 1), (COLLIDING, 1)], NOW)
        processor = Processor(
            store, Routing(Route("#alerts")), lambda n: None, lambda labels: None, clock=lambda: NOW
        )
        assert processor.run_once() == 2
        assert store.unprocessed() == []
        assert store.dead_inbox() == [(ids[2], NOW, NOT_REPAIRABLE)]
        entries = sorted(store.entries(), key=lambda e: e.id)
        assert [(e.group_key, e.action, e.channel) for e in entries] == [
            ("surr-1", "post", "#alerts"),
            ("g\ufffd-1", "post", "#alerts"),
        ]
        assert "Surr\ufffd" in entries[0].message["text"]
        assert "SurrG" in entries[1].message["text"]
    finally:
        store.close()


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    yield from slack_server(["alerts", "search-oncall"])


def test_ops_serve_posts_a_stored_payload_with_a_lone_surrogate(
    tmp_path: Path, slack: SlackServer
) -> None:
    server = OpsServer(tmp_path, slack).start()
    try:
        store = Store(str(tmp_path / "state.db"))
        store.accept([(NO_FINGERPRINT, 1)], time.time())  # as the old intake stored it
        store.close()
        eventually(lambda: len(slack.state.top_level("alerts")) == 1)
        (posted,) = slack.state.top_level("alerts")
        assert "Surr\ufffd" in posted["text"]
        eventually(lambda: server.health()[1]["outbox_depth"] == 0)
        assert server.health()[1]["inbox_dead"] == 0
        assert "Traceback" not in server.log.read_text()
    finally:
        server.stop()
