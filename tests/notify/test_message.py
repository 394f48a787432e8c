"""Block Kit messages: content, escaping of hostile alert text, and Slack's limits."""

from __future__ import annotations

import json

from ops_toolkit.alerts.webhook import parse_notification
from ops_toolkit.notify.message import (
    MAX_BLOCKS,
    MAX_HEADER,
    MAX_SECTION,
    BudgetInfo,
    escalation,
    thread_reply,
)
from tests.alerts.payloads import alert, notification

BUDGET = BudgetInfo(
    "search/availability", 99.9, 0.503, {"1h": 26.0, "6h": 5.16, "1d": 1.76, "3d": None}, "critical"
)


def test_the_opening_message_has_header_fields_budget_and_buttons() -> None:
    message = escalation(
        parse_notification(notification()),
        runbook_url="https://git.example/rb.md",
        budget=BUDGET,
        mention="<!here>",
    )
    blocks = message.blocks
    assert blocks[0]["text"]["text"] == "FIRING: SearchAvailabilityBudgetBurn (page)"
    text = json.dumps(blocks, ensure_ascii=False)
    assert "budget remaining *50.3%*, critical · burn 1h 26.0x · 6h 5.2x · 1d 1.8x" in text
    actions = next(b for b in blocks if b["type"] == "actions")["elements"]
    assert [(a["text"]["text"], a["url"]) for a in actions] == [
        (":book: Runbook", "https://git.example/rb.md"),
        ("Graph", "http://127.0.0.1:9090/graph?g0.expr=x"),
        ("Alertmanager", "http://127.0.0.1:9093"),
    ]
    assert message.text.startswith("<!here> :rotating_light: FIRING: SearchAvailabilityBudgetBurn")


def test_budget_unavailable_is_said() -> None:
    message = escalation(parse_notification(notification()), runbook_url=None, budget="unavailable")
    assert "SLO budget unavailable" in json.dumps(message.blocks)


def test_hostile_alert_text_stays_plain() -> None:
    data = notification()
    data["commonAnnotations"]["summary"] = "<!channel> <@U123> <http://evil|click> & co"
    data["commonLabels"]["service"] = "<!everyone>"
    message = escalation(parse_notification(data), runbook_url=None, budget=None)
    text = json.dumps(message.as_dict())
    assert "<!channel>" not in text and "<@U123>" not in text and "<http://evil" not in text
    assert "&lt;!channel&gt; &lt;@U123&gt; &lt;http://evil|click&gt; &amp; co" in text
    assert "&lt;!everyone&gt;" in text


def test_a_large_group_stays_within_slacks_limits() -> None:
    alerts = [alert(fingerprint=f"f{i}", instance="i" * 200 + str(i)) for i in range(300)]
    data = notification(*alerts)
    data["truncatedAlerts"] = 12
    data["commonAnnotations"] = {"summary": "s" * 5000, "description": "d" * 5000}
    data["commonLabels"]["alertname"] = "A" * 400
    message = escalation(parse_notification(data), runbook_url=None, budget=BUDGET)
    assert len(message.blocks) <= MAX_BLOCKS
    assert len(message.blocks[0]["text"]["text"]) <= MAX_HEADER
    for block in message.blocks:
        if "text" in block and block["type"] == "section":
            assert len(block["text"]["text"]) <= MAX_SECTION
    listing = message.blocks[-2]["text"]["text"]
    assert listing.endswith("more") and "+" in listing.splitlines()[-1]
    more = int(listing.splitlines()[-1].split()[0].lstrip("+"))
    shown = len(listing.splitlines()) - 1
    assert shown + more == 312


def test_thread_replies() -> None:
    resolved = parse_notification(notification(alert(status="resolved")))
    reply = thread_reply(resolved, 1795957200.0)
    assert reply.text.startswith(":white_check_mark: Resolved at 2026-11-29 13:00 UTC")
    firing = thread_reply(parse_notification(notification()), 1795957200.0)
    assert firing.text.startswith(":repeat: Still firing at 2026-11-29 13:00 UTC: 1 alert(s)")
