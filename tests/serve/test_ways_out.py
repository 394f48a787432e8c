"""Webhook and email tiers go out through the outbox like Slack messages, retried alike."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ops_toolkit.notify.console import ConsoleNotifier
from ops_toolkit.notify.model import Planned
from ops_toolkit.notify.outside import OutsideSender
from ops_toolkit.serve.store import Store
from ops_toolkit.serve.worker import Deliverer
from tests.notify.test_email import Mailbox, smtp  # noqa: F401  (the SMTP server fixture)
from tests.notify.test_webhook import Receiver, receiver  # noqa: F401  (the HTTP receiver)


def deliverer(tmp_path: Path, environ: dict[str, str]) -> Deliverer:
    store = Store(str(tmp_path / "s.db"))
    notifier = ConsoleNotifier(str(tmp_path / "messages.jsonl"), stream=open("/dev/null", "w"))  # noqa: SIM115
    return Deliverer(store, notifier, pace=0, outside=OutsideSender(environ))


def webhook_entry(url: str) -> Planned:
    return Planned(
        "g1",
        "webhook:pagerduty",
        "webhook",
        {
            "text": "SearchErrors: tier 3 of 3",
            "webhook": "pagerduty",
            "url": url,
            "format": "pagerduty",
            "routing_key_env": "PD_KEY",
            "event": "trigger",
            "labels": {"alertname": "SearchErrors", "severity": "page"},
            "tier": 3,
            "runbook": None,
        },
    )


def test_a_pagerduty_tier_is_delivered_with_the_key_from_the_environment(
    tmp_path: Path,
    receiver: Receiver,  # noqa: F811
) -> None:
    sender = deliverer(tmp_path, {"PD_KEY": "R0UT1NG"})
    sender.store.enqueue([webhook_entry(receiver.url)], time.time())
    sender.run_once()
    ((entry,),) = [sender.store.entries()]
    assert entry.status == "sent"
    (body,) = receiver.bodies
    assert (body["routing_key"], body["event_action"], body["dedup_key"]) == (
        "R0UT1NG",
        "trigger",
        "g1",
    )
    assert body["payload"]["severity"] == "critical"
    assert "R0UT1NG" not in str(entry.message)  # the key never sits in the store


def test_a_failing_receiver_is_retried_and_a_missing_key_is_dead(
    tmp_path: Path,
    receiver: Receiver,  # noqa: F811
) -> None:
    receiver.replies.append((503, {}, {}))
    sender = deliverer(tmp_path, {"PD_KEY": "R0UT1NG"})
    sender.store.enqueue([webhook_entry(receiver.url)], time.time())
    sender.run_once()
    (entry,) = sender.store.entries()
    assert (entry.status, entry.last_error) == ("pending", "webhook pagerduty: HTTP 503")
    keyless = deliverer(
        tmp_path / "other" if (tmp_path / "other").mkdir() is None else tmp_path, {}
    )
    keyless.store.enqueue([webhook_entry(receiver.url)], time.time())
    keyless.run_once()
    (dead,) = keyless.store.entries(["dead"])
    assert dead.last_error == "webhook pagerduty: PD_KEY is not set (the PagerDuty routing key)"


def test_an_email_tier_is_delivered_over_smtp(
    tmp_path: Path,
    smtp: tuple[Mailbox, int],  # noqa: F811
) -> None:
    mailbox, port = smtp
    sender = deliverer(
        tmp_path,
        {
            "OPS_SMTP_HOST": "127.0.0.1",
            "OPS_SMTP_PORT": str(port),
            "OPS_SMTP_FROM": "ops@example.com",
        },
    )
    sender.store.enqueue(
        [
            Planned(
                "g1",
                "email",
                "email",
                {
                    "text": "x",
                    "to": ["ic@example.com"],
                    "subject": "[ops] SearchErrors: tier 3 of 3",
                    "body": "firing",
                },
            )
        ],
        time.time(),
    )
    sender.run_once()
    assert sender.store.entries()[0].status == "sent"
    ((_, recipients, content),) = mailbox.messages
    assert recipients == ["ic@example.com"]
    assert b"Subject: [ops] SearchErrors: tier 3 of 3" in content


@pytest.mark.parametrize("url", ["https://evil.example.com/x", "http://127.0.0.1:1/response"])
def test_response_urls_outside_slack_are_refused(tmp_path: Path, url: str) -> None:
    sender = deliverer(tmp_path, {})
    sender.store.enqueue(
        [Planned("r", "slack-response", "respond", {"url": url, "text": "x"})], time.time()
    )
    sender.run_once()
    (dead,) = sender.store.entries(["dead"])
    assert dead.last_error == f"response_url {url!r}: not a Slack URL"
