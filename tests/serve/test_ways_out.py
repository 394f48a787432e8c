"""Webhook and email tiers go out through the outbox like Slack messages, retried alike."""

from __future__ import annotations

import email
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


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def restarted(sender: Deliverer, clock: Clock) -> Deliverer:
    """Another deliverer (a replica, or ops serve after a crash) on the same store, later:
    what it sends it knows only from the stored entry."""
    clock.now += 3600
    return Deliverer(
        Store(str(sender.store.path)),
        sender.notifier,
        pace=0,
        outside=sender.outside,
        clock=clock,
        max_age=86_400,
    )


def plain_entry(url: str) -> Planned:
    return Planned(
        "g1",
        "webhook:ops-hook",
        "webhook",
        {"text": "SearchErrors: tier 2", "webhook": "ops-hook", "url": url, "event": "page"},
    )


@pytest.mark.parametrize("format", ["plain", "pagerduty"])
def test_a_retried_webhook_delivery_carries_the_same_idempotency_key(
    tmp_path: Path,
    receiver: Receiver,  # noqa: F811
    format: str,
) -> None:
    """The receiver got the first attempt but its answer was a 503 (as when ops serve dies
    before recording a send): the retry, by another deliverer, carries the same key."""
    clock = Clock()
    first = Deliverer(
        Store(str(tmp_path / "s.db")),
        ConsoleNotifier(str(tmp_path / "messages.jsonl"), stream=open("/dev/null", "w")),  # noqa: SIM115
        pace=0,
        outside=OutsideSender({"PD_KEY": "R0UT1NG"}),
        clock=clock,
    )
    entry = webhook_entry(receiver.url) if format == "pagerduty" else plain_entry(receiver.url)
    first.store.enqueue([entry, entry], clock.now)  # two entries: two deliveries
    receiver.replies.append((503, {}, {}))
    first.run_once()
    second = restarted(first, clock)
    second.run_once()  # the first entry again; the second waits for it (same group)
    second.run_once()
    assert [e.status for e in first.store.entries()] == ["sent", "sent"]
    keys = [headers["Idempotency-Key"] for headers in receiver.headers]
    assert len(keys) == 3 and keys[0].startswith("ops-") and len(keys[0]) == 36
    assert keys[0] == keys[1]  # the retry of the first, after the 503
    assert keys[2] != keys[0]  # the other entry is another delivery
    if format == "plain":
        assert [body["idempotency_key"] for body in receiver.bodies] == keys
    else:  # PagerDuty: its dedup_key folds the repeat; its body takes no field of ours
        assert {body["dedup_key"] for body in receiver.bodies} == {"g1"}
        assert all("idempotency_key" not in body for body in receiver.bodies)


def test_a_retried_email_carries_the_same_message_id_and_another_store_another(
    tmp_path: Path,
    smtp: tuple[Mailbox, int],  # noqa: F811
) -> None:
    """Was: the Message-ID was the outbox id alone, so a new store's first email (id 1 again)
    had the Message-ID of an earlier page, and a mail system dropped it as a duplicate."""
    mailbox, port = smtp
    environ = {"OPS_SMTP_HOST": "127.0.0.1", "OPS_SMTP_PORT": str(port)}
    environ["OPS_SMTP_FROM"] = "ops@example.com"
    page = Planned(
        "g1",
        "email",
        "email",
        {"text": "x", "to": ["ic@example.com"], "subject": "[ops] tier 3", "body": "firing"},
    )
    clock = Clock()
    notifier = ConsoleNotifier(str(tmp_path / "messages.jsonl"), stream=open("/dev/null", "w"))  # noqa: SIM115
    sender = Deliverer(
        Store(str(tmp_path / "s.db")), notifier, pace=0, outside=OutsideSender(environ), clock=clock
    )
    sender.store.enqueue([page], clock.now)
    mailbox.defer = 1  # received, then 451: the outcome the deliverer sees is a failure
    sender.run_once()
    restarted(sender, clock).run_once()
    assert sender.store.entries()[0].status == "sent"
    clock.now += 60
    other = Deliverer(
        Store(str(tmp_path / "other.db")),
        notifier,
        pace=0,
        outside=OutsideSender(environ),
        clock=clock,
    )
    other.store.enqueue([page], clock.now)  # outbox id 1 too, in a new store
    other.run_once()
    ids = [email.message_from_bytes(content)["Message-ID"] for _, _, content in mailbox.messages]
    assert len(ids) == 3 and ids[0] == ids[1] != ids[2]
    assert ids[0].startswith("<ops-") and ids[0].endswith("@example.com>")
