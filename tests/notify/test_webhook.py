"""The generic webhook: PagerDuty Events API v2 bodies and plain JSON, sent over real HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ops_toolkit.errors import NotifyError
from ops_toolkit.notify.webhook import WebhookSender, dedup_key, pagerduty_event, plain_event

T0 = 1_780_000_000.0
LABELS = {"alertname": "SearchErrors", "service": "search", "severity": "page", "team": "search"}


class Receiver:
    """A local HTTP endpoint answering with queued (status, headers, body) replies."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []  # of each request, as the bodies
        self.replies: list[tuple[int, dict[str, str], dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                receiver.headers.append(dict(self.headers.items()))
                status, headers, body = (
                    receiver.replies.pop(0)
                    if receiver.replies
                    else (202, {}, {"status": "success", "message": "Event processed"})
                )
                data = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {**headers, "Content-Type": "application/json"}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v2/enqueue"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


def test_a_trigger_has_the_events_v2_shape() -> None:
    event = pagerduty_event(
        "trigger",
        routing_key="R0UT1NGKEY",
        group_key='{}:{alertname="SearchErrors"}',
        summary="SearchErrors: search-api returns 5xx",
        source="ops-toolkit",
        labels=LABELS,
        timestamp=T0,
        links={"Runbook": "https://git.example.com/runbooks/search-errors.md"},
    )
    assert event == {
        "routing_key": "R0UT1NGKEY",
        "event_action": "trigger",
        "dedup_key": '{}:{alertname="SearchErrors"}',
        "payload": {
            "summary": "SearchErrors: search-api returns 5xx",
            "source": "ops-toolkit",
            "severity": "critical",
            "timestamp": "2026-05-28T20:26:40Z",
            "component": "search",
            "group": "search",
            "class": "SearchErrors",
            "custom_details": LABELS,
        },
        "client": "ops-toolkit",
        "links": [{"href": "https://git.example.com/runbooks/search-errors.md", "text": "Runbook"}],
    }


def test_acknowledge_and_resolve_carry_only_the_key() -> None:
    event = pagerduty_event(
        "resolve", routing_key="K", group_key="g", summary="s", source="x", labels={}, timestamp=T0
    )
    assert event == {"routing_key": "K", "event_action": "resolve", "dedup_key": "g"}


def test_long_group_keys_become_a_stable_255_character_key() -> None:
    key = dedup_key("x" * 300)
    assert len(key) <= 255 and key == dedup_key("x" * 300) and key != dedup_key("y" * 300)


def test_events_reach_the_receiver(receiver: Receiver) -> None:
    body = plain_event(
        "page", group_key="g1", summary="SearchErrors", labels=LABELS, timestamp=T0, tier=2
    )
    WebhookSender(timeout=5).send("ops-hook", receiver.url, body)
    assert receiver.bodies == [body]
    assert body["tier"] == 2 and body["timestamp"] == "2026-05-28T20:26:40Z"


@pytest.mark.parametrize(
    ("reply", "message", "retry_after", "permanent"),
    [
        (
            (429, {"Retry-After": "7"}, {}),
            "webhook pd: rate limited; retry after 7s",
            7.0,
            False,
        ),
        ((503, {}, {}), "webhook pd: HTTP 503", None, False),
        (
            (
                400,
                {},
                {
                    "status": "invalid event",
                    "message": "Event object is invalid",
                    "errors": ["'routing_key' is missing"],
                },
            ),
            "webhook pd: HTTP 400: Event object is invalid ('routing_key' is missing)",
            None,
            True,
        ),
    ],
    ids=["429 waits as asked", "5xx retries", "4xx is permanent with the receiver's reason"],
)
def test_failures_say_whether_to_retry(
    receiver: Receiver,
    reply: tuple[int, dict[str, str], dict[str, Any]],
    message: str,
    retry_after: float | None,
    permanent: bool,
) -> None:
    receiver.replies.append(reply)
    with pytest.raises(NotifyError) as caught:
        WebhookSender(timeout=5).send("pd", receiver.url, {"x": 1})
    assert (str(caught.value), caught.value.retry_after, caught.value.permanent) == (
        message,
        retry_after,
        permanent,
    )


def test_an_unreachable_receiver_is_a_retryable_error() -> None:
    with pytest.raises(NotifyError) as caught:
        WebhookSender(timeout=5).send("pd", "http://127.0.0.1:9/v2/enqueue", {"x": 1})
    assert str(caught.value) == "webhook pd: cannot connect: ConnectionError"
    assert not caught.value.permanent
