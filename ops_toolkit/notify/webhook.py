"""A generic webhook way out: PagerDuty Events API v2 events or plain JSON, over HTTP.

The builders are pure; ``WebhookSender`` is the edge. An event's ``dedup_key`` is the alert
group's key, so PagerDuty folds a trigger, its acknowledgement and its resolve into one
incident, and a retried trigger (an unknown outcome) never opens a second one. Failures are
``NotifyError``: 429 carries its Retry-After, 4xx is permanent, 5xx and timeouts retry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ops_toolkit.errors import NotifyError

PAGERDUTY_ACTIONS = ("trigger", "acknowledge", "resolve")
PAGERDUTY_SEVERITIES = ("critical", "error", "warning", "info")
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255


def dedup_key(group_key: str) -> str:
    """A stable key of at most 255 characters for an alert group."""
    if len(group_key) <= MAX_DEDUP_KEY:
        return group_key
    return "ops-" + hashlib.sha256(group_key.encode()).hexdigest()


def severity_of(labels: Mapping[str, str]) -> str:
    """PagerDuty's severity from the ``severity`` label (page -> critical, ticket -> warning)."""
    value = labels.get("severity", "").lower()
    aliases = {"page": "critical", "ticket": "warning", "warn": "warning"}
    value = aliases.get(value, value)
    return value if value in PAGERDUTY_SEVERITIES else "error"


def pagerduty_event(
    action: str,
    *,
    routing_key: str,
    group_key: str,
    summary: str,
    source: str,
    labels: Mapping[str, str],
    timestamp: float,
    links: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An Events API v2 body; acknowledge and resolve carry only the key and the action."""
    if action not in PAGERDUTY_ACTIONS:
        raise ValueError(f"PagerDuty event_action must be one of {PAGERDUTY_ACTIONS}")
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": dedup_key(group_key),
    }
    if action != "trigger":
        return event
    event["payload"] = {
        "summary": summary[:MAX_SUMMARY] or "alert",
        "source": source or "ops-toolkit",
        "severity": severity_of(labels),
        "timestamp": datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z"),
        "component": labels.get("service") or None,
        "group": labels.get("team") or None,
        "class": labels.get("alertname") or None,
        "custom_details": dict(labels),
    }
    event["payload"] = {k: v for k, v in event["payload"].items() if v is not None}
    event["client"] = "ops-toolkit"
    if links:
        event["links"] = [{"href": href, "text": text} for text, href in links.items()]
    return event


def plain_event(
    action: str,
    *,
    group_key: str,
    summary: str,
    labels: Mapping[str, str],
    timestamp: float,
    tier: int | None = None,
    links: Mapping[str, str] | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """The plain JSON shape, for any receiver: what happened, to which group, when; and the
    delivery's ``idempotency_key``, the same on a retry, for the receiver to drop repeats."""
    return {
        "idempotency_key": idempotency_key,
        "event": action,
        "group_key": group_key,
        "summary": summary,
        "labels": dict(labels),
        "tier": tier,
        "links": dict(links or {}),
        "timestamp": datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z"),
    }


class WebhookSender:
    """POSTs JSON bodies; the only code here that does IO."""

    def __init__(self, timeout: float = 10.0) -> None:
        import requests

        self.session = requests.Session()
        self.timeout = timeout

    def send(
        self, name: str, url: str, body: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> None:
        """POST ``body``; ``idempotency_key`` also goes as the ``Idempotency-Key`` header (the
        IETF draft's name, as Stripe and others take it), the same on every retry."""
        import requests

        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        try:
            response = self.session.post(url, json=body, timeout=self.timeout, headers=headers)
        except requests.Timeout:
            raise NotifyError(f"webhook {name}: timed out; outcome unknown") from None
        except requests.RequestException as exc:
            raise NotifyError(f"webhook {name}: cannot connect: {type(exc).__name__}") from None
        if response.status_code < 300:
            return
        reason = _reason(response)
        if response.status_code == 429:
            retry = _seconds(response.headers.get("Retry-After"))
            raise NotifyError(
                f"webhook {name}: rate limited; retry after {retry:g}s", retry_after=retry
            )
        if response.status_code >= 500:
            raise NotifyError(f"webhook {name}: HTTP {response.status_code}{reason}")
        raise NotifyError(f"webhook {name}: HTTP {response.status_code}{reason}", permanent=True)


def _reason(response: Any) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    if isinstance(data, dict) and data.get("message"):
        errors = data.get("errors")
        detail = f" ({'; '.join(map(str, errors))})" if isinstance(errors, list) else ""
        return f": {data['message']}{detail}"
    return ""


def _seconds(value: str | None) -> float:
    try:
        return max(0.0, float(value or 1))
    except ValueError:
        return 1.0
