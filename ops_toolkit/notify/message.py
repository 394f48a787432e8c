"""Escalation and thread messages as Slack Block Kit, built by pure code within Slack's limits.

Limits kept: 50 blocks a message, 3,000 characters a section, 150 a header, 10 fields of
2,000, 75 a button label. Alert text goes through :func:`escape` so ``<!channel>``,
``<@U123>``, ``<http://x|y>``, ``*bold*``, a line break or U+202E inside labels and
annotations stays plain text; step output goes through :func:`code_block`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ops_toolkit.alerts.webhook import Alert, Notification
from ops_toolkit.formatting import BIDI_CONTROLS, percent

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


LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


# Slack has no escape for its formatting characters (a backslash shows as is), so each one
# is replaced by a look-alike that is never a delimiter: the text reads the same.
LOOKALIKES = {"*": "\u2217", "~": "\u223c", "`": "\u02cb", "_": "\u02cd"}
_DROPPED = {
    code: None
    for code in [*range(0x20), *range(0x7F, 0xA0), *map(ord, BIDI_CONTROLS)]
    if chr(code) not in LINE_BREAKS + "\t"
}
_ONE_LINE = str.maketrans({**_DROPPED, **{c: " " for c in LINE_BREAKS + "\t"}})
_LINES = str.maketrans({**_DROPPED, "\r": None, **{c: "\n" for c in LINE_BREAKS if c != "\r"}})
_FORMATTING = re.compile(r"[*~`]|(?<![^\W_])_|_(?![^\W_])")  # "_" inside a word is no italic
_EMOJI_CODE = re.compile(r":(?=[a-z][a-z0-9_+'-]*:)")  # :white_check_mark: faking a status
_FENCE = re.compile(r"`(?=`)")
# Other invisible format characters (Unicode's Cf: zero-width spaces, soft hyphens, tag
# characters that smuggle text) are dropped too, but for U+200D, the joiner that emoji
# sequences are made of. Written out, as computing it takes 0.2 s at import.
_HIDDEN = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200c"
    "\u200e-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f]"
)


def plain(text: str, *, lines: bool = False) -> str:
    """Untrusted text made safe to show as plain text (email, webhooks, plain_text blocks).

    Control and bidirectional-override characters are dropped; line breaks become spaces
    unless ``lines``, so a label value cannot start a line of its own (a fake ``Status:``).
    """
    text = text.translate(_LINES if lines else _ONE_LINE)
    if not _HIDDEN.search(text):
        return text
    return _HIDDEN.sub("", text)


def escape(text: str, *, lines: bool = False) -> str:
    """Untrusted text (labels, annotations, step names, params) made inert in Slack mrkdwn.

    The one function for all such text: mentions and links (``<!channel>``, ``<@U1>``,
    ``<http://x|y>``) stay plain text; bold, italic, strike and code markers and emoji codes
    become look-alikes; line breaks become spaces unless ``lines`` (a description), and
    control and bidi characters are dropped (see :func:`plain`).
    """
    text = plain(text, lines=lines)
    text = _FORMATTING.sub(lambda m: LOOKALIKES[m.group()], text)
    text = _EMOJI_CODE.sub("\u2236", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def code_block(text: str) -> str:
    """Untrusted output as a mrkdwn code block that it cannot close early.

    The text stays as it was, readable and copyable, but for control and bidi characters
    (dropped), ``&<>`` (escaped: Slack parses mentions even in code) and runs of backticks,
    split by a zero-width space so that no run of three can end the block.
    """
    body = plain(text, lines=True).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    body = _FENCE.sub("`\u200b", body)
    if body.startswith("`"):
        body = "\u200b" + body
    if body.endswith("`"):
        body += "\u200b"
    return f"```{body}```"


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
            "text": {
                "type": "plain_text",
                "text": truncate(plain(header), MAX_HEADER),
                "emoji": True,
            },
        }
    ]
    annotations = notification.common_annotations or (
        notification.alerts[0].annotations if notification.alerts else {}
    )
    summary = annotations.get("summary", "")
    description = annotations.get("description", "")
    body = "\n".join(
        x for x in (f"*{escape(summary)}*" if summary else "", escape(description, lines=True)) if x
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
