"""Escalation buttons and status lines on the messages, and how the console shows them."""

from __future__ import annotations

import io
from pathlib import Path

from ops_toolkit.notify.actions import action_block, page_text, with_status
from ops_toolkit.notify.console import ConsoleNotifier

OPENING = {
    "text": "FIRING: SearchErrors",
    "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "FIRING: SearchErrors"}},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Runbook"},
                    "url": "https://x/r.md",
                    "action_id": "runbook",
                }
            ],
        },
    ],
}


def test_the_status_line_and_buttons_replace_the_previous_ones() -> None:
    first = with_status(OPENING, "3f2a9c0d1e4b", "Acknowledged by <@U1> at 10:02 UTC")
    second = with_status(first, "3f2a9c0d1e4b", "Silence 4h by <@U1>", silenced=True)
    kinds = [b.get("block_id") or b["type"] for b in second["blocks"]]
    assert kinds == ["header", "actions", "ops_status", "ops_escalation"]
    assert second["blocks"][2]["elements"][0]["text"] == "Silence 4h by <@U1>"
    labels = [e["text"]["text"] for e in second["blocks"][3]["elements"]]
    assert labels == ["Acknowledge", "Escalate now", "Resolve", "Unsilence", "Run diagnose"]
    assert OPENING["blocks"][-1]["type"] == "actions" and len(OPENING["blocks"]) == 2  # not mutated


def test_every_button_carries_the_ref() -> None:
    block = action_block("3f2a9c0d1e4b")
    assert {e["value"] for e in block["elements"]} == {"3f2a9c0d1e4b"}
    assert [e["action_id"] for e in block["elements"]] == [
        "ack",
        "escalate",
        "resolve",
        "silence_1h",
        "silence_4h",
        "silence_24h",
        "diagnose",
    ]


def test_a_page_for_a_schedule_with_nobody_on_call_says_so() -> None:
    assert page_text("SearchErrors", 1, 3, 0, [], nobody=True) == (
        ":rotating_light: *SearchErrors*: tier 1 of 3, please acknowledge. "
        "(the schedule has nobody on call now)"
    )


def test_the_console_shows_buttons_without_urls(tmp_path: Path) -> None:
    # Regression: the console notifier read every button's 'url' and failed on action buttons.
    stream = io.StringIO()
    ConsoleNotifier(str(tmp_path / "m.jsonl"), stream).post(
        "#search-oncall", with_status(OPENING, "3f2a9c0d1e4b", None), 1, None
    )
    assert stream.getvalue().splitlines() == [
        "[#search-oncall] post: FIRING: SearchErrors",
        "    Runbook: https://x/r.md",
        "    [Acknowledge] [Escalate now] [Resolve] [Silence 1h] [Silence 4h] [Silence 24h] [Run diagnose]",
    ]


def test_once_acknowledged_the_button_gives_way_to_who_and_when() -> None:
    """The opening message kept its Acknowledge button after an acknowledgement."""
    from ops_toolkit.notify.actions import with_status

    message = {
        "text": "FIRING",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}],
    }
    ack = "Acknowledged by <@U0PRIMARY1> at 20:28 UTC"
    later = with_status(
        message, "abc", "Silenced 1h by <@U0LEAD0001> at 21:00 UTC", acknowledged=ack
    )
    assert [(b["type"], b.get("block_id")) for b in later["blocks"]] == [
        ("section", None),
        ("context", "ops_status"),
        ("context", "ops_acknowledged"),
        ("actions", "ops_escalation"),
    ]
    assert later["blocks"][2]["elements"][0]["text"] == ack
    assert [e["action_id"] for e in later["blocks"][3]["elements"]] == [
        "escalate",
        "resolve",
        "silence_1h",
        "silence_4h",
        "silence_24h",
        "diagnose",
    ]
    # just acknowledged: the status line says it once; updating again does not pile up blocks
    now = with_status(
        with_status(message, "abc", ack, acknowledged=ack), "abc", ack, acknowledged=ack
    )
    assert [b.get("block_id") for b in now["blocks"]] == [None, "ops_status", "ops_escalation"]
    # not acknowledged: the button is there
    fresh = with_status(message, "abc", None)
    assert fresh["blocks"][-1]["elements"][0]["action_id"] == "ack"
