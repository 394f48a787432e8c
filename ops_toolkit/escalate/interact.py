"""Requests from Slack: signature verification, button interactions and slash commands. Pure.

Slack signs each request: ``v0=HMAC-SHA256(signing secret, "v0:{timestamp}:{body}")`` in
``X-Slack-Signature``, the Unix time in ``X-Slack-Request-Timestamp``. A request older or
newer than five minutes is stale; the comparison is constant-time (slack-sdk's
``SignatureVerifier``). The signature itself is the replay key: the server remembers the
ones it has accepted for longer than the window and refuses them a second time.

Interactions arrive as ``payload=<JSON>`` (form-encoded) of type ``block_actions``; slash
commands as form fields (``command``, ``text``, ``user_id``, ``response_url``, ...).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ops_toolkit import strictjson
from ops_toolkit.errors import PayloadError, SignatureError

WINDOW_SECONDS = 300
INTERACTIONS = "POST /slack/interactions"
COMMANDS = "POST /slack/commands"

# Button action ids -> what they do; the button's value is the escalation's ref.
ACTIONS: dict[str, str] = {
    "ack": "Acknowledge",
    "escalate": "Escalate now",
    "resolve": "Resolve",
    "silence_1h": "Silence 1h",
    "silence_4h": "Silence 4h",
    "silence_24h": "Silence 24h",
    "unsilence": "Unsilence",
    "diagnose": "Run diagnose",
}
SILENCE_SECONDS = {"silence_1h": 3600, "silence_4h": 4 * 3600, "silence_24h": 24 * 3600}
REF = re.compile(r"^([0-9a-f]{12}|[0-9]{1,12})$")  # an escalation's ref, or its number
SLASH_USAGE = "Usage: /ops oncall [SCHEDULE] | /ops ack ID | /ops runbook NAME"


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float, place: str) -> str:
    """The request's signature (its replay key) when it is Slack's and fresh.

    ``SignatureError`` (an HTTP 401) says why not; ``headers`` keys are lower-case.
    """
    from slack_sdk.signature import Clock, SignatureVerifier

    class Pinned(Clock):
        def now(self) -> float:
            return now

    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not timestamp or not signature:
        raise SignatureError(
            f"{place}: missing X-Slack-Signature or X-Slack-Request-Timestamp header"
        )
    # ASCII digits only (str.isdigit takes '17²', which int() refuses) and at most 12 of
    # them (int() of 5,000 digits is refused too, and no fresh time is that long).
    if not re.fullmatch(r"[0-9]{1,12}", timestamp):
        raise SignatureError(f"{place}: X-Slack-Request-Timestamp is not a Unix time")
    age = now - int(timestamp)
    if abs(age) > WINDOW_SECONDS:
        raise SignatureError(
            f"{place}: stale request: signed {abs(age):.0f}s {'ago' if age > 0 else 'ahead'} "
            f"(limit {WINDOW_SECONDS}s)"
        )
    verifier = SignatureVerifier(secret, clock=Pinned())
    try:
        # A signature is ASCII (v0= and hex digits): hmac.compare_digest raises TypeError on
        # any other text, which was an unauthenticated HTTP 500 with a traceback.
        valid = signature.isascii() and verifier.is_valid(body, timestamp, signature)
    except UnicodeDecodeError:  # a body that is not UTF-8 cannot be Slack's
        valid = False
    if not valid:
        raise SignatureError(f"{place}: signature does not match (check SLACK_SIGNING_SECRET)")
    return signature


def sign(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The headers Slack would send with ``body`` (for the demo and for tools)."""
    from slack_sdk.signature import SignatureVerifier

    signature = SignatureVerifier(secret).generate_signature(timestamp=str(timestamp), body=body)
    assert signature is not None
    return {
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }


@dataclass(frozen=True)
class Interaction:
    """One button press."""

    action: str  # a key of ACTIONS
    ref: str  # the escalation's ref (the button's value)
    user_id: str
    user_name: str
    channel_id: str | None
    message_ts: str | None
    response_url: str | None
    action_ts: str  # Slack's time of the press: a double click has two, the same value


def _form(body: bytes, place: str) -> dict[str, str]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError(f"{place}: body is not UTF-8") from None
    fields: dict[str, str] = {}
    for key, value in urllib.parse.parse_qsl(text, keep_blank_values=True):
        if key in fields:  # which one counts would be the reader's choice: refuse both
            raise PayloadError(f"{place}: form field {key!r} given twice")
        fields[key] = value
    return fields


def _field(data: Mapping[str, Any], key: str, place: str, path: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise PayloadError(f"{place}: {path}{key}: expected a non-empty string")
    return value


def parse_interaction(body: bytes) -> Interaction:
    """A ``block_actions`` payload's first action; ``PayloadError`` names the field."""
    form = _form(body, INTERACTIONS)
    if "payload" not in form:
        raise PayloadError(f"{INTERACTIONS}: payload: is required (form field)")
    try:
        data = strictjson.loads(form["payload"])
    except strictjson.DuplicateKeyError as exc:
        raise PayloadError(f"{INTERACTIONS}: payload: {exc}") from None
    except RecursionError:
        raise PayloadError(f"{INTERACTIONS}: payload: nested too deep") from None
    except ValueError as exc:
        raise PayloadError(f"{INTERACTIONS}: payload: not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PayloadError(f"{INTERACTIONS}: payload: expected a JSON object")
    if data.get("type") != "block_actions":
        raise PayloadError(
            f"{INTERACTIONS}: payload.type: expected block_actions, got {data.get('type')!r}"
        )
    actions = data.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise PayloadError(f"{INTERACTIONS}: payload.actions: expected a non-empty list")
    action = actions[0]
    action_id = _field(action, "action_id", INTERACTIONS, "payload.actions[0].")
    if action_id not in ACTIONS:
        raise PayloadError(
            f"{INTERACTIONS}: payload.actions[0].action_id: unknown action {action_id!r}; "
            f"valid: {', '.join(ACTIONS)}"
        )
    value = _field(action, "value", INTERACTIONS, "payload.actions[0].")
    if not REF.match(value):
        raise PayloadError(
            f"{INTERACTIONS}: payload.actions[0].value: expected an escalation ref, got {value!r}"
        )
    user = data.get("user")
    if not isinstance(user, dict):
        raise PayloadError(f"{INTERACTIONS}: payload.user: expected an object")
    user_id = _field(user, "id", INTERACTIONS, "payload.user.")
    channel = data.get("channel") if isinstance(data.get("channel"), dict) else {}
    container = data.get("container") if isinstance(data.get("container"), dict) else {}
    assert isinstance(channel, dict) and isinstance(container, dict)
    response_url = data.get("response_url")
    return Interaction(
        action=action_id,
        ref=value,
        user_id=user_id,
        user_name=str(user.get("username") or user.get("name") or user_id),
        channel_id=_optional(channel.get("id") or container.get("channel_id")),
        message_ts=_optional(container.get("message_ts")),
        response_url=_optional(response_url),
        action_ts=str(action.get("action_ts") or ""),
    )


def _optional(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class SlashCommand:
    """``/ops oncall [SCHEDULE]``, ``/ops ack ID``, ``/ops runbook NAME``."""

    name: str  # oncall | ack | runbook
    argument: str | None
    user_id: str
    user_name: str
    channel_id: str | None
    response_url: str | None


SUBCOMMANDS = ("oncall", "ack", "runbook")


def parse_command(body: bytes) -> SlashCommand:
    """A slash command's fields; a wrong sub-command is a ``PayloadError`` with the usage."""
    form = _form(body, COMMANDS)
    _field(form, "command", COMMANDS, "")
    user_id = _field(form, "user_id", COMMANDS, "")
    words = form.get("text", "").split()
    if not words or words[0] not in SUBCOMMANDS:
        given = f"unknown sub-command {words[0]!r}. " if words else ""
        raise PayloadError(f"{given}{SLASH_USAGE}")
    name, rest = words[0], words[1:]
    if name in ("ack", "runbook") and len(rest) != 1:
        raise PayloadError(
            f"/ops {name} takes one {'ID' if name == 'ack' else 'NAME'}. {SLASH_USAGE}"
        )
    if name == "ack" and not REF.match(rest[0]):
        raise PayloadError(
            f"/ops ack: expected an escalation ref (like 3f2a9c0d1e4b) or number, got {rest[0]!r}"
        )
    if name == "oncall" and len(rest) > 1:
        raise PayloadError(f"/ops oncall takes at most one SCHEDULE. {SLASH_USAGE}")
    return SlashCommand(
        name=name,
        argument=rest[0] if rest else None,
        user_id=user_id,
        user_name=form.get("user_name") or user_id,
        channel_id=form.get("channel_id") or None,
        response_url=form.get("response_url") or None,
    )
