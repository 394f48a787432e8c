"""Ways out other than Slack, for the outbox: webhook and email entries.

An outbox entry of action ``webhook`` carries the target's URL, format and the *name* of the
environment variable holding its routing key (never the key itself: the store is not a
secret store); ``email`` carries recipients, subject and body. Both are retried by the
outbox like Slack messages, so across a crash (sent, but not yet recorded as sent) they are
at least once. Each delivery carries a key that makes the repeat harmless to its receiver:
``delivery_key``, derived from the outbox entry, the same on every retry and by whichever
replica sends it. A webhook sends it as an ``Idempotency-Key`` header and, in the plain
format, as the body's ``idempotency_key`` (PagerDuty's own ``dedup_key`` folds a retried
event into the same incident, and its body takes no other fields); an email as its
Message-ID, which mail systems use to drop the duplicate.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from ops_toolkit.errors import NotifyError


def delivery_key(outbox_id: int, created_at: float, group_key: str, channel: str) -> str:
    """The idempotency key of an outbox entry's delivery: the same on every retry of that
    entry, and another for any other entry, also of another store (ids start again at 1 in
    a new one, so the id alone would make a receiver drop a new page as a duplicate)."""
    import hashlib

    origin = "\0".join((str(outbox_id), repr(created_at), group_key, channel))
    return "ops-" + hashlib.sha256(origin.encode()).hexdigest()[:32]


class OutsideSender:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ
        self._webhooks: Any = None

    def send(
        self, action: str, outbox_id: int, group_key: str, message: dict[str, Any], key: str
    ) -> None:
        """Deliver one entry; ``key``: its ``delivery_key``, the same on every retry."""
        if action == "webhook":
            self._webhook(group_key, message, key)
        elif action == "email":
            self._email(message, key)
        elif action == "respond":
            self._respond(message)
        else:
            raise NotifyError(
                f"outbox entry {outbox_id}: unknown way out {action!r}", permanent=True
            )

    def _webhook(self, group_key: str, message: dict[str, Any], key: str) -> None:
        from ops_toolkit.notify.webhook import WebhookSender, pagerduty_event, plain_event

        if self._webhooks is None:
            self._webhooks = WebhookSender()
        name = str(message.get("webhook", "webhook"))
        labels = message.get("labels") or {}
        links = {"Runbook": message["runbook"]} if message.get("runbook") else None
        now = time.time()
        if message.get("format") == "pagerduty":
            variable = str(message.get("routing_key_env") or "")
            routing_key = self.environ.get(variable)
            if not routing_key:
                raise NotifyError(
                    f"webhook {name}: {variable} is not set (the PagerDuty routing key)",
                    permanent=True,
                )
            body = pagerduty_event(
                str(message.get("event", "trigger")),
                routing_key=routing_key,
                group_key=group_key,
                summary=str(message.get("text", "")),
                source="ops-toolkit",
                labels=labels,
                timestamp=now,
                links=links,
            )
        else:
            body = plain_event(
                str(message.get("event", "page")),
                group_key=group_key,
                summary=str(message.get("text", "")),
                labels=labels,
                timestamp=now,
                tier=message.get("tier"),
                links=links,
                idempotency_key=key,
            )
        self._webhooks.send(name, str(message["url"]), body, idempotency_key=key)

    def _respond(self, message: dict[str, Any]) -> None:
        """An ephemeral answer through a Slack ``response_url`` (only Slack's own hosts)."""
        import urllib.parse

        import requests

        url = str(message.get("url", ""))
        allowed = {"hooks.slack.com"}
        api = self.environ.get("SLACK_API_URL")
        if api:
            allowed.add(urllib.parse.urlsplit(api).netloc)
        if urllib.parse.urlsplit(url).netloc not in allowed:
            raise NotifyError(f"response_url {url[:80]!r}: not a Slack URL", permanent=True)
        body = {k: v for k, v in message.items() if k != "url"}
        try:
            response = requests.post(url, json=body, timeout=10)
        except requests.RequestException as exc:
            raise NotifyError(f"response_url: cannot connect: {type(exc).__name__}") from None
        if response.status_code >= 500:
            raise NotifyError(f"response_url: HTTP {response.status_code}")
        if response.status_code >= 400:
            raise NotifyError(f"response_url: HTTP {response.status_code}", permanent=True)

    def _email(self, message: dict[str, Any], key: str) -> None:
        from ops_toolkit.errors import ConfigError
        from ops_toolkit.notify.email import EmailSender, SmtpSettings, email_message

        try:
            settings = SmtpSettings.from_environment(self.environ)
        except ConfigError as exc:
            raise NotifyError(f"email: {exc}", permanent=True) from None
        EmailSender(settings).send(
            email_message(
                sender=settings.sender,
                to=list(message["to"]),
                subject=str(message["subject"]),
                text=str(message["body"]),
                key=key,
                timestamp=time.time(),
            )
        )
