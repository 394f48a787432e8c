"""Slack request signatures, button payloads and slash commands."""

from __future__ import annotations

import json
import urllib.parse

import pytest

from ops_toolkit.errors import PayloadError, SignatureError
from ops_toolkit.escalate.interact import (
    INTERACTIONS,
    parse_command,
    parse_interaction,
    sign,
    verify,
)

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = 1_780_000_000
BODY = b"payload=%7B%22type%22%3A%22block_actions%22%7D"


def lowered(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def test_a_fresh_request_signed_with_the_secret_is_accepted_and_keyed_by_its_signature() -> None:
    headers = lowered(sign(SECRET, BODY, NOW - 10))
    assert verify(SECRET, headers, BODY, NOW, INTERACTIONS) == headers["x-slack-signature"]


def test_the_signature_is_slacks_documented_v0_hmac() -> None:
    # Slack's documented example (api.slack.com/authentication/verifying-requests-from-slack).
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
        b"channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
        b"command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
        b"commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
        b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    headers = sign(SECRET, body, 1531420618)
    assert headers["X-Slack-Signature"] == (
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    )


@pytest.mark.parametrize(
    ("headers", "body", "message"),
    [
        (
            sign("another-secret", BODY, NOW),
            BODY,
            "signature does not match (check SLACK_SIGNING_SECRET)",
        ),
        (
            sign(SECRET, BODY, NOW),
            BODY + b"&x=1",
            "signature does not match (check SLACK_SIGNING_SECRET)",
        ),
        (sign(SECRET, BODY, NOW - 301), BODY, "stale request: signed 301s ago (limit 300s)"),
        (sign(SECRET, BODY, NOW + 400), BODY, "stale request: signed 400s ahead (limit 300s)"),
        ({}, BODY, "missing X-Slack-Signature or X-Slack-Request-Timestamp header"),
        (
            {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0=00"},
            BODY,
            "X-Slack-Request-Timestamp is not a Unix time",
        ),
        (
            sign(SECRET, BODY, NOW),
            b"\xff\xfe",
            "signature does not match (check SLACK_SIGNING_SECRET)",
        ),
        (
            {"X-Slack-Request-Timestamp": "17\u00b2", "X-Slack-Signature": "v0=00"},
            BODY,
            "X-Slack-Request-Timestamp is not a Unix time",
        ),
        (
            {"X-Slack-Request-Timestamp": "9" * 5000, "X-Slack-Signature": "v0=00"},
            BODY,
            "X-Slack-Request-Timestamp is not a Unix time",
        ),
        (
            {"X-Slack-Request-Timestamp": "\u0661\u0662\u0663", "X-Slack-Signature": "v0=00"},
            BODY,
            "X-Slack-Request-Timestamp is not a Unix time",
        ),
        (
            {"X-Slack-Request-Timestamp": str(NOW), "X-Slack-Signature": "v0=\u00e9"},
            BODY,
            "signature does not match (check SLACK_SIGNING_SECRET)",
        ),
    ],
    ids=[
        "signed with another secret",
        "body changed after signing",
        "stale: older than five minutes",
        "from the future beyond the window",
        "headers missing",
        "timestamp not a number",
        "body not UTF-8",
        "a superscript digit (was a 500: isdigit but not int)",
        "5,000 digits (was a 500: over int's digit limit)",
        "Arabic-Indic digits",
        "a non-ASCII signature (was a 500: compare_digest raised TypeError)",
    ],
)
def test_bad_requests_are_refused_with_the_reason(
    headers: dict[str, str], body: bytes, message: str
) -> None:
    with pytest.raises(SignatureError) as caught:
        verify(SECRET, lowered(headers), body, NOW, INTERACTIONS)
    assert str(caught.value) == f"{INTERACTIONS}: {message}"


def interaction(**overrides: object) -> bytes:
    payload: dict[str, object] = {
        "type": "block_actions",
        "user": {"id": "U0SEARCH01", "username": "dana"},
        "channel": {"id": "C00000001"},
        "container": {"type": "message", "message_ts": "1780000000.000100"},
        "response_url": "https://hooks.slack.com/actions/T1/1/abc",
        "actions": [{"action_id": "ack", "value": "3f2a9c0d1e4b", "action_ts": "1780000001.5"}],
    }
    payload.update(overrides)
    return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()


def test_a_button_press_is_parsed() -> None:
    pressed = parse_interaction(interaction())
    assert (pressed.action, pressed.ref, pressed.user_id, pressed.user_name) == (
        "ack",
        "3f2a9c0d1e4b",
        "U0SEARCH01",
        "dana",
    )
    assert (pressed.channel_id, pressed.message_ts, pressed.action_ts) == (
        "C00000001",
        "1780000000.000100",
        "1780000001.5",
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"nothing=here", "payload: is required (form field)"),
        (
            b"payload=%7Bnot",
            "payload: not JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        ),
        (
            interaction(type="view_submission"),
            "payload.type: expected block_actions, got 'view_submission'",
        ),
        (interaction(actions=[]), "payload.actions: expected a non-empty list"),
        (
            interaction(actions=[{"action_id": "delete", "value": "1"}]),
            "payload.actions[0].action_id: unknown action 'delete'; valid: ack, escalate, resolve, silence_1h, silence_4h, silence_24h, unsilence, diagnose",
        ),
        (
            interaction(actions=[{"action_id": "ack", "value": "x"}]),
            "payload.actions[0].value: expected an escalation ref, got 'x'",
        ),
        (interaction(user={}), "payload.user.id: expected a non-empty string"),
        (
            b"payload="
            + urllib.parse.quote('{"type": "block_actions", "type": "view_submission"}').encode(),
            "payload: duplicate key 'type'",
        ),
        (interaction() + b"&payload=%7B%7D", "form field 'payload' given twice"),
    ],
    ids=[
        "no payload field",
        "payload not JSON",
        "not a block action",
        "no actions",
        "unknown action",
        "value not an id",
        "no user id",
        "a JSON key twice",
        "a form field twice",
    ],
)
def test_bad_interactions_name_the_field(body: bytes, message: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_interaction(body)
    assert str(caught.value) == f"{INTERACTIONS}: {message}"


def command(text: str) -> bytes:
    return urllib.parse.urlencode(
        {
            "command": "/ops",
            "text": text,
            "user_id": "U0SEARCH01",
            "user_name": "dana",
            "channel_id": "C00000001",
            "response_url": "https://hooks.slack.com/commands/T1/2/def",
        }
    ).encode()


@pytest.mark.parametrize(
    ("text", "name", "argument"),
    [
        ("oncall", "oncall", None),
        ("oncall search-primary", "oncall", "search-primary"),
        ("ack 42", "ack", "42"),
        ("  runbook   search-errors ", "runbook", "search-errors"),
    ],
    ids=["who is on call everywhere", "one schedule", "acknowledge by id", "extra spaces"],
)
def test_slash_commands(text: str, name: str, argument: str | None) -> None:
    parsed = parse_command(command(text))
    assert (parsed.name, parsed.argument, parsed.user_id) == (name, argument, "U0SEARCH01")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Usage: /ops oncall [SCHEDULE] | /ops ack ID | /ops runbook NAME"),
        (
            "restart db",
            "unknown sub-command 'restart'. Usage: /ops oncall [SCHEDULE] | /ops ack ID | /ops runbook NAME",
        ),
        (
            "ack",
            "/ops ack takes one ID. Usage: /ops oncall [SCHEDULE] | /ops ack ID | /ops runbook NAME",
        ),
        (
            "ack all",
            "/ops ack: expected an escalation ref (like 3f2a9c0d1e4b) or number, got 'all'",
        ),
    ],
    ids=["empty", "unknown sub-command", "ack without an id", "ack with a non-number"],
)
def test_slash_command_mistakes_answer_with_the_usage(text: str, message: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_command(command(text))
    assert str(caught.value) == message


def test_a_slash_command_with_a_field_twice_is_refused() -> None:
    with pytest.raises(PayloadError) as caught:
        parse_command(command("oncall") + b"&user_id=U0OTHER001")
    assert str(caught.value) == "POST /slack/commands: form field 'user_id' given twice"
