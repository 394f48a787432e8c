"""Block Kit messages: content, escaping of hostile alert text, and Slack's limits."""

from __future__ import annotations

import json
import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ops_toolkit.alerts.webhook import parse_notification
from ops_toolkit.notify.message import (
    MAX_BLOCKS,
    MAX_HEADER,
    MAX_SECTION,
    BudgetInfo,
    code_block,
    escalation,
    escape,
    plain,
    safe_url,
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


HOSTILE = "X <!channel> <@U123> <http://evil.example|click> &amp;"


def mrkdwn_texts(message: dict[str, object]) -> list[str]:
    """The top-level text and every mrkdwn text of a message: where Slack parses markup."""
    texts = [str(message["text"])]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                texts.append(str(node["text"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message["blocks"])
    return texts


def hostile_notification(status: str = "firing") -> dict[str, object]:
    labels = {"service": HOSTILE, "team": HOSTILE, "slo": HOSTILE, "instance": HOSTILE}
    first = alert(HOSTILE, status, fingerprint="a", **labels)
    second = alert(HOSTILE, status, fingerprint="b", **{**labels, "instance": "y"})
    for item in (first, second):
        item["labels"]["severity"] = "page <!here>"
        item["annotations"] = {"summary": HOSTILE, "description": HOSTILE}
        item["generatorURL"] = "http://prometheus.example/graph?g0.expr=up|<!channel>"
    data = notification(first, second)
    data["externalURL"] = "javascript:alert(1)"
    return data


def test_alert_data_is_escaped_wherever_slack_parses_markup() -> None:
    for status in ("firing", "resolved"):
        parsed = parse_notification(hostile_notification(status))
        messages = [
            escalation(parsed, runbook_url="https://rb.example/a b", budget=BUDGET).as_dict(),
            thread_reply(parsed, 1_800_000_000).as_dict(),
        ]
        for message in messages:
            for text in mrkdwn_texts(message):
                assert "<" not in text and ">" not in text, text
    opening = escalation(
        parse_notification(hostile_notification()), runbook_url=None, budget=None
    ).as_dict()
    assert opening["text"] == (
        ":warning: FIRING: X &lt;!channel&gt; &lt;@U123&gt; &lt;http://evil.example|click&gt; "
        "&amp;amp; (page &lt;!here&gt;): X &lt;!channel&gt; &lt;@U123&gt; "
        "&lt;http://evil.example|click&gt; &amp;amp;"
    )


def test_buttons_with_unsafe_urls_are_dropped() -> None:
    parsed = parse_notification(hostile_notification())
    message = escalation(parsed, runbook_url="https://rb.example/a b", budget=None)
    assert not any(b["type"] == "actions" for b in message.blocks)
    assert message.blocks[-1]["elements"][0]["text"] == (
        ":book: Runbook (not a valid link): `https://rb.example/a b`"
    )


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://git.example/runbooks/a.md#diagnose", True),
        ("http://127.0.0.1:9090/graph?g0.expr=rate(x%5B5m%5D)&g0.tab=0", True),
        ("javascript:alert(1)", False),
        ("ftp://files.example/x", False),
        ("https://", False),
        ("https://a.example/x y", False),
        ("https://a.example/x|label", False),
        ("https://a.example/x>", False),
        ("https://a.example/<x", False),
        ("https://a.example/\x00", False),
        ("https://a.example/\u2028", False),
        ("https://a.example/" + "x" * 3000, False),
        ("https://[::1/", False),
    ],
)
def test_safe_url(url: str, safe: bool) -> None:
    assert (safe_url(url) == url) is safe


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("*bold* _italic_ ~strike~ `code`", "∗bold∗ ˍitalicˍ ∼strike∼ ˋcodeˋ"),
        ("search_api_errors stays as typed", "search_api_errors stays as typed"),
        ("up\n*Status*\nResolved", "up ∗Status∗ Resolved"),
        ("a\r\nb\u2028c\u2029d\x0be\x85f\tg", "a  b c d e f g"),
        ("file\u202etxt.exe \u2066x\u2069 \u200fy", "filetxt.exe x y"),
        ("in\u200bvis\u00adible\U000e0041\U000e0042 👨\u200d👩", "invisible 👨\u200d👩"),
        ("bell\x07 escape\x1b[31m del\x7f", "bell escape[31m del"),
        (":white_check_mark: resolved at 12:30:45", "∶white_check_mark: resolved at 12:30:45"),
        ("<!channel> & <@U1>", "&lt;!channel&gt; &amp; &lt;@U1&gt;"),
    ],
    ids=[
        "formatting characters become look-alikes",
        "underscores inside words are no italics and stay",
        "a newline cannot start a fake field line",
        "every kind of line break folds to a space",
        "bidi controls are dropped",
        "zero-width and tag characters are dropped, emoji joiners kept",
        "control characters are dropped",
        "emoji codes cannot fake a status icon, times stay",
        "mentions and links stay escaped",
    ],
)
def test_escape_makes_untrusted_text_inert_in_mrkdwn(text: str, escaped: str) -> None:
    assert escape(text) == escaped


def test_escape_keeps_line_breaks_in_multiline_text_when_asked() -> None:
    assert escape("first *line*\r\nsecond\u2028third", lines=True) == (
        "first ∗line∗\nsecond\nthird"
    )


def test_plain_text_is_one_line_without_controls() -> None:
    assert plain("Search\nRunbook: x\u202e\x1b") == "Search Runbook: x"
    assert plain("a\r\nb", lines=True) == "a\nb"


@pytest.mark.parametrize(
    ("output", "block"),
    [
        ("ok *not bold* `x`", "```ok *not bold* `x`\u200b```"),
        (
            "done\n```\n<!here> *x*\n```",
            "```done\n`\u200b`\u200b`\n&lt;!here&gt; *x*\n`\u200b`\u200b`\u200b```",
        ),
        ("`start", "```\u200b`start```"),
        ("tab\there\x1b[0m\u202e", "```tab\there[0m```"),
    ],
    ids=[
        "formatting kept readable",
        "a fence inside cannot close the block",
        "edge backticks",
        "controls dropped",
    ],
)
def test_code_block_cannot_be_closed_by_its_content(output: str, block: str) -> None:
    assert code_block(output) == block
    assert "```" not in block[3:-3]


def test_a_newline_in_a_label_cannot_fake_a_field_or_formatting() -> None:
    hostile = alert(
        "Search\u202eErrors",
        service="search\n*Status*\nResolved ~all good~",
        team="_search_ `x`",
    )
    hostile["annotations"] = {
        "summary": "first\n*Status* RESOLVED",
        "description": "line one\n*Owner* :white_check_mark: someone",
    }
    message = escalation(parse_notification(notification(hostile)), runbook_url=None, budget=None)
    assert message.blocks[0]["text"]["text"] == "FIRING: SearchErrors (page)"
    assert message.blocks[1]["text"]["text"] == (
        "*first ∗Status∗ RESOLVED*\nline one\n∗Owner∗ ∶white_check_mark: someone"
    )
    fields = [f["text"] for f in message.blocks[2]["fields"]]
    assert fields[:2] == [
        "*Service*\nsearch ∗Status∗ Resolved ∼all good∼",
        "*Team*\nˍsearchˍ ˋxˋ",
    ]
    assert message.text == ":rotating_light: FIRING: SearchErrors (page): first ∗Status∗ RESOLVED"


@given(st.text())
def test_escaped_text_holds_no_markup_line_break_or_hidden_character(text: str) -> None:
    escaped = escape(text)
    assert not set(escaped) & set("<>*~`\n\r\u2028\u2029\u202e\u2066")
    hidden = {"Cc", "Cf"}
    assert not [c for c in escaped if unicodedata.category(c) in hidden and c != "\u200d"]
    assert re.search(r"(?<![^\W_])_|_(?![^\W_])", escaped) is None  # no "_" at a word edge
    assert re.search(r":[a-z][a-z0-9_+'-]*:", escaped) is None  # no emoji code


@given(st.text())
def test_a_code_block_has_exactly_its_own_two_fences(text: str) -> None:
    block = code_block(text)
    assert block.startswith("```") and block.endswith("```")
    assert "```" not in block[3:-3] and not block[3:-3].startswith("`")
    assert "\u202e" not in block and "\x1b" not in block
    assert not block[3:-3].endswith("`")
