"""Escalation and thread messages as Slack Block Kit, built by pure code within Slack's limits.

Limits kept: 50 blocks a message, 3,000 characters a section, 150 a header, 10 fields of
2,000, 75 a button label. Alert text is escaped so ``<!channel>``, ``<@U123>`` or
``<http://x|y>`` inside labels and annotations stays plain text.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ops_toolkit.alerts.webhook import Alert, Notification
from ops_toolkit.formatting import percent

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_FIELD = 2000
MAX_BUTTON = 75
MAX_URL = 3000
MAX_ALERT_SECTIONS = 10
UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class BudgetInfo:
    """An SLO's budget at the time of the alert, to attach to the message."""

    slo: str
    objective: float
    remaining: float | None
    burn_rates: Mapping[str, float | None]
    status: str
    source: str = "queries"  # where the numbers came from: "rules" or "queries"


@dataclass(frozen=True)
class Message:
    text: str
    blocks: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": list(self.blocks)}


def escape(text: str) -> str:
    """Slack mrkdwn control characters made inert."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def safe_url(url: str) -> str | None:
    """``url`` when it can be a Slack link or button as is, else None (the caller drops it).

    http(s) with a host, at most 3,000 characters, and none of the characters that end or
    split a Slack link (``|``, ``<``, ``>``), whitespace or control characters: a hostile
    annotation can then neither break out of ``<url|label>`` nor point at ``javascript:``.
    """
    from urllib.parse import urlsplit

    if len(url) > MAX_URL or any(c in "|<>" or c.isspace() or not c.isprintable() for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme in ("http", "https") and parts.hostname else None


def link(url: str, label: str) -> str:
    """A mrkdwn link when ``url`` is safe, else the escaped URL as code."""
    safe = safe_url(url)
    return f"<{safe}|{escape(label)}>" if safe else f"`{escape(url)}`"


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, MAX_SECTION)}}


def context(text: str) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": truncate(text, MAX_SECTION)}],
    }


def when_text(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(timestamp))


def budget_text(budget: BudgetInfo | str | None) -> str | None:
    if budget is None:
        return None
    if isinstance(budget, str):
        return f":grey_question: SLO budget {UNAVAILABLE} (Prometheus did not answer)"
    rates = " · ".join(
        f"{w} {r:.1f}x"
        for w, r in budget.burn_rates.items()
        if r is not None and w in ("1h", "6h", "1d", "3d")
    )
    return (
        f":chart_with_downwards_trend: *{escape(budget.slo)}* ({budget.objective:g}%): budget "
        f"remaining *{percent(budget.remaining)}*, {budget.status}"
        + (f" · burn {rates}" if rates else "")
        + f" · from {budget.source}"
    )


def _status_word(notification: Notification) -> tuple[str, str]:
    if notification.status == "resolved":
        return "RESOLVED", ":white_check_mark:"
    severity = notification.labels().get("severity", "")
    return "FIRING", ":rotating_light:" if severity in ("page", "critical") else ":warning:"


def _alert_line(alert: Alert, common: Mapping[str, str]) -> str:
    own = {k: v for k, v in alert.labels.items() if common.get(k) != v and k != "alertname"}
    labels = ", ".join(f"{k}={v}" for k, v in sorted(own.items()))
    summary = alert.annotations.get("summary", "")
    state = "resolved" if alert.status == "resolved" else "firing"
    line = f"• [{state}] {escape(alert.name)}"
    if labels:
        line += f" `{escape(labels)}`"
    if summary:
        line += f": {escape(summary)}"
    return truncate(line, 600)


def escalation(
    notification: Notification,
    *,
    runbook_url: str | None,
    budget: BudgetInfo | str | None,
    mention: str = "",
) -> Message:
    """The message that opens (or, resolved, closes) an alert group's thread."""
    word, icon = _status_word(notification)
    labels = notification.labels()
    severity = labels.get("severity", "")
    name = notification.alert_name or "alert"
    header = f"{word}: {name}" + (f" ({severity})" if severity else "")
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(header, MAX_HEADER), "emoji": True},
        }
    ]
    annotations = notification.common_annotations or (
        notification.alerts[0].annotations if notification.alerts else {}
    )
    summary = annotations.get("summary", "")
    description = annotations.get("description", "")
    body = "\n".join(
        x for x in (f"*{escape(summary)}*" if summary else "", escape(description)) if x
    )
    if mention and notification.status == "firing":
        body = f"{mention} {body}".strip()
    if body:
        blocks.append(section(body))
    started = min((a.starts_at for a in notification.alerts), default=0.0)
    fields = [
        ("Service", labels.get("service", "—")),
        ("Team", labels.get("team", "—")),
        ("Started", when_text(started) if started else "—"),
        (
            "Alerts",
            f"{len(notification.firing)} firing of {len(notification.alerts) + notification.truncated_alerts}",
        ),
    ]
    blocks.append(
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": truncate(f"*{k}*\n{escape(v)}", MAX_FIELD)}
                for k, v in fields
            ],
        }
    )
    budget_line = budget_text(budget)
    if budget_line:
        blocks.append(context(budget_line))
    if len(notification.alerts) > 1 or notification.truncated_alerts:
        shown = notification.alerts[:MAX_ALERT_SECTIONS]
        lines = [_alert_line(a, notification.common_labels) for a in shown]
        more = len(notification.alerts) - len(shown) + notification.truncated_alerts
        text = "\n".join(lines)
        while len(text) > MAX_SECTION - 40 and lines:
            lines.pop()
            more += 1
            text = "\n".join(lines)
        if more:
            text += f"\n+{more} more"
        blocks.append(section(text))
    if runbook_url and not runbook_url.startswith(("http://", "https://")):
        blocks.append(
            context(f":book: Runbook: `{escape(runbook_url)}` (set runbook_base_url to link it)")
        )
    elif runbook_url and safe_url(runbook_url) is None:
        blocks.append(context(f":book: Runbook (not a valid link): `{escape(runbook_url)}`"))
    buttons = _buttons(notification, runbook_url)
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    # The top-level text is mrkdwn (notifications, screen readers): alert data escaped here too.
    fallback = (
        f"{icon} {word}: {escape(name)}"
        + (f" ({escape(severity)})" if severity else "")
        + (f": {escape(summary)}" if summary else "")
    )
    if mention and notification.status == "firing":
        fallback = f"{mention} {fallback}"
    return Message(truncate(fallback, MAX_SECTION), tuple(blocks[:MAX_BLOCKS]))


def _button(label: str, url: str, action: str, primary: bool = False) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": truncate(label, MAX_BUTTON)},
        "url": url,
        "action_id": action,
    }
    if primary:
        button["style"] = "primary"
    return button


def _buttons(notification: Notification, runbook_url: str | None) -> list[dict[str, Any]]:
    """Runbook, Graph and Alertmanager buttons, each only when its URL is safe."""
    buttons = []
    runbook = safe_url(runbook_url or "")
    if runbook:
        buttons.append(_button(":book: Runbook", runbook, "runbook", primary=True))
    generator = next((url for a in notification.alerts if (url := safe_url(a.generator_url))), None)
    if generator:
        buttons.append(_button("Graph", generator, "graph"))
    external = safe_url(notification.external_url)
    if external:
        buttons.append(_button("Alertmanager", external, "alertmanager"))
    return buttons


def thread_reply(notification: Notification, now: float) -> Message:
    """A short reply in the group's thread: new alerts firing, or the group resolved."""
    if notification.status == "resolved":
        text = f":white_check_mark: Resolved at {when_text(now)}: all {len(notification.alerts)} alert(s) of this group."
    else:
        firing = notification.firing
        names = ", ".join(sorted({escape(a.name) for a in firing}))
        text = f":repeat: Still firing at {when_text(now)}: {len(firing)} alert(s) ({names})."
    lines = [
        _alert_line(a, notification.common_labels) for a in notification.alerts[:MAX_ALERT_SECTIONS]
    ]
    more = max(0, len(notification.alerts) - MAX_ALERT_SECTIONS) + notification.truncated_alerts
    detail = "\n".join(lines) + (f"\n+{more} more" if more else "")
    return Message(truncate(text, MAX_SECTION), (section(text), section(detail)))


def refused_notice(size: int, limit: int, count: int, now: float) -> Message:
    """Tells the default channel that webhook bodies were refused as too large (413).

    Alertmanager never retries a 4xx, so these alerts are lost unless someone acts.
    """
    several = f"{count} Alertmanager webhooks were" if count > 1 else "An Alertmanager webhook was"
    text = (
        f":warning: {several} refused at {when_text(now)}: the last body was "
        f"{size / 1048576:.1f} MiB, over the {limit / 1048576:.1f} MiB limit. Their alerts "
        "were not delivered and Alertmanager will not resend them. Raise `serve.max_body` "
        "in ops.yaml or set `max_alerts` in the webhook receiver, and check Alertmanager."
    )
    return Message(text, (section(text),))
