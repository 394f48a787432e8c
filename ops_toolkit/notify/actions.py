"""Escalation buttons, page texts and status lines as Block Kit. Pure.

Every escalation message carries the same buttons; each button's value is the escalation's
ref, so the server knows what was pressed without trusting anything else in the payload.
Who pressed what is shown on the opening message (a context line) and in the thread.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from ops_toolkit.notify.message import MAX_BLOCKS, MAX_SECTION, escape, truncate

ACTION_BLOCK_ID = "ops_escalation"
STATUS_BLOCK_ID = "ops_status"
ACK_BLOCK_ID = "ops_acknowledged"
BUTTONS = (
    ("ack", "Acknowledge", "primary"),
    ("escalate", "Escalate now", None),
    ("resolve", "Resolve", None),
    ("silence_1h", "Silence 1h", None),
    ("silence_4h", "Silence 4h", None),
    ("silence_24h", "Silence 24h", None),
    ("diagnose", "Run diagnose", None),
)


def action_block(ref: str, *, silenced: bool = False, acknowledged: bool = False) -> dict[str, Any]:
    """The buttons; while a silence is on, one Unsilence replaces the three Silence ones;
    once acknowledged, Acknowledge is gone (``with_status`` says who acknowledged)."""
    elements: list[dict[str, Any]] = []
    for action_id, label, style in BUTTONS:
        if acknowledged and action_id == "ack":
            continue
        if silenced and action_id.startswith("silence"):
            if action_id == "silence_1h":
                elements.append(_button("unsilence", "Unsilence", ref, None))
            continue
        elements.append(_button(action_id, label, ref, style))
    return {"type": "actions", "block_id": ACTION_BLOCK_ID, "elements": elements}


def _button(action_id: str, label: str, ref: str, style: str | None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        "value": ref,
    }
    if style:
        button["style"] = style
    return button


def with_status(
    message: dict[str, Any],
    ref: str,
    line: str | None,
    *,
    silenced: bool = False,
    acknowledged: str | None = None,
    resolved: bool = False,
    buttons: bool = True,
) -> dict[str, Any]:
    """The opening message with its status line (who did what) and the escalation buttons.

    ``acknowledged`` (``Acknowledged by <@U1> at 10:02 UTC``) takes the Acknowledge button's
    place, and stays while later actions (a silence, a resolve) change the status line: a
    button that can no longer do anything read as if nobody had acknowledged. Once
    ``resolved``, no button is left: each would only answer "it is resolved". Without
    ``buttons`` (no signing secret: nothing could verify a press) none is added at all."""
    updated = copy.deepcopy(message)
    kept = [
        b
        for b in updated.get("blocks", [])
        if b.get("block_id") not in (ACTION_BLOCK_ID, STATUS_BLOCK_ID, ACK_BLOCK_ID)
    ]
    extra = (
        []
        if resolved or not buttons
        else [action_block(ref, silenced=silenced, acknowledged=acknowledged is not None)]
    )
    if acknowledged and line != acknowledged:  # else the status line says it already
        extra.insert(0, _context(ACK_BLOCK_ID, acknowledged))
    if line:
        status = {
            "type": "context",
            "block_id": STATUS_BLOCK_ID,
            "elements": [{"type": "mrkdwn", "text": truncate(line, MAX_SECTION)}],
        }
        extra.insert(0, status)
    updated["blocks"] = kept[: MAX_BLOCKS - len(extra)] + extra
    return updated


def _context(block_id: str, text: str) -> dict[str, Any]:
    return {
        "type": "context",
        "block_id": block_id,
        "elements": [{"type": "mrkdwn", "text": truncate(text, MAX_SECTION)}],
    }


def page_text(
    name: str,
    tier: int,
    tiers: int,
    repeat: int,
    mentions: Sequence[str],
    *,
    nobody: bool = False,
    escalated_by: str | None = None,
) -> str:
    """``:rotating_light: <@U1> *SearchErrors*: tier 2 of 3, nobody acknowledged tier 1.``

    ``escalated_by``: who paged this tier by hand (``ops escalation escalate``, the Escalate
    button), said instead of a reason that was not the reason (``<@U1>`` or a CLI user)."""
    who = " ".join(mentions)
    if escalated_by:
        why = f"escalated by hand by {escalated_by}"
    elif repeat:
        why = f"still not acknowledged (repeat {repeat})"
    elif tier > 1:
        why = f"nobody acknowledged tier {tier - 1}"
    else:
        why = "please acknowledge"
    missing = " (the schedule has nobody on call now)" if nobody else ""
    head = " ".join(x for x in (":rotating_light:", who, f"*{escape(name)}*") if x)
    return truncate(f"{head}: tier {tier} of {tiers}, {why}.{missing}", MAX_SECTION)


def page_message(text: str, ref: str | None) -> dict[str, Any]:
    """A thread reply (a page, or a status line); pages carry the buttons too."""
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    if ref is not None:
        blocks.append(action_block(ref))
    return {"text": text, "blocks": blocks}
