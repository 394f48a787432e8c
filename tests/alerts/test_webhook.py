"""Webhook payload validation: valid forms, and each error with its field path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ops_toolkit.alerts.webhook import decode_body, parse_notification
from ops_toolkit.errors import PayloadError
from tests.alerts.payloads import alert, notification


def test_a_v4_payload_parses() -> None:
    data = notification(alert(), alert(fingerprint="f2", instance="b"))
    data["notification_reason"] = "new"
    data["routeLabels"] = {"x": "y"}
    parsed = parse_notification(data)
    assert parsed.status == "firing" and len(parsed.alerts) == 2
    assert parsed.alert_name == "SearchAvailabilityBudgetBurn"
    assert parsed.alerts[0].starts_at == pytest.approx(1795953600.123456)
    assert parsed.alerts[0].ends_at is None
    assert len(set(parsed.event_keys())) == 2


def test_the_same_event_has_the_same_key_and_a_resolution_another() -> None:
    firing = parse_notification(notification())
    again = parse_notification(notification())
    resolved = parse_notification(notification(alert(status="resolved")))
    assert firing.event_keys() == again.event_keys()
    assert firing.event_keys() != resolved.event_keys()


def broken(change: Any) -> dict[str, Any]:
    data = notification(
        alert(), alert(fingerprint="f2"), alert(fingerprint="f3"), alert(fingerprint="f4")
    )
    change(data)
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param([], "POST /alertmanager: expected a JSON object", id="not an object"),
        pytest.param(
            broken(lambda d: d.update(version="3")),
            "POST /alertmanager: version: expected \"4\" (Alertmanager webhook v4), got '3'",
            id="version",
        ),
        pytest.param(
            broken(lambda d: d["alerts"][3].update(startsAt="2026-13-01")),
            "POST /alertmanager: alerts[3].startsAt: not an RFC 3339 time: '2026-13-01'",
            id="bad time names the alert",
        ),
        pytest.param(
            broken(lambda d: d["alerts"][3].update(startsAt="2026-13-01T00:00:00Z")),
            "POST /alertmanager: alerts[3].startsAt: not an RFC 3339 time: '2026-13-01T00:00:00Z'",
            id="month 13",
        ),
        pytest.param(
            broken(lambda d: d["alerts"][2].update(startsAt="9999-12-31T23:59:59-23:59")),
            "POST /alertmanager: alerts[2].startsAt: time out of range (years 1 to 9999 in UTC): "
            "'9999-12-31T23:59:59-23:59'",
            id="a time past year 9999 in UTC",
        ),
        pytest.param(
            broken(lambda d: d["alerts"][0].update(endsAt="0001-01-01T00:00:00+23:59")),
            "POST /alertmanager: alerts[0].endsAt: time out of range (years 1 to 9999 in UTC): "
            "'0001-01-01T00:00:00+23:59'",
            id="a time before year 1 in UTC",
        ),
        pytest.param(
            broken(lambda d: d.update(truncatedAlerts=1e30)),
            "POST /alertmanager: truncatedAlerts: expected a whole number from 0 to 1000000000, "
            "got 1e+30",
            id="an absurd float count",
        ),
        pytest.param(
            broken(lambda d: d.update(truncatedAlerts=10**4000)),
            "POST /alertmanager: truncatedAlerts: expected a whole number from 0 to 1000000000, "
            "got 1000000000000000000000000000000000000...",
            id="a count of 4,000 digits",
        ),
        pytest.param(
            broken(lambda d: d.update(alerts=[])),
            "POST /alertmanager: alerts: expected a non-empty list",
            id="no alerts",
        ),
        pytest.param(
            broken(lambda d: d["alerts"][1]["labels"].update(severity=3)),
            "POST /alertmanager: alerts[1].labels.severity: expected a string, got int",
            id="label not a string",
        ),
        pytest.param(
            broken(lambda d: d["alerts"][0].update(status="pending")),
            "POST /alertmanager: alerts[0].status: expected firing or resolved, got 'pending'",
            id="alert status",
        ),
        pytest.param(
            broken(lambda d: d.pop("groupKey")),
            "POST /alertmanager: groupKey: is required",
            id="group key",
        ),
        pytest.param(
            broken(lambda d: d.update(truncatedAlerts=-1)),
            "POST /alertmanager: truncatedAlerts: expected a whole number from 0 to 1000000000, "
            "got -1",
            id="truncated alerts",
        ),
    ],
)
def test_bad_payloads_name_the_field(data: Any, message: str) -> None:
    with pytest.raises(PayloadError) as raised:
        parse_notification(data)
    assert str(raised.value) == message


def test_times_are_remembered_with_their_errors_but_never_a_long_text() -> None:
    """Times are parsed once per distinct text (issue 15); an error still names the field
    it is in now, and a hostile megabyte "time" is refused without being kept."""
    from ops_toolkit.alerts.webhook import _cached_seconds

    _cached_seconds.cache_clear()
    first = broken(lambda d: d["alerts"][1].update(startsAt="2026-13-01"))
    second = broken(lambda d: d["alerts"][3].update(endsAt="2026-13-01"))
    for data, where in ((first, "alerts[1].startsAt"), (second, "alerts[3].endsAt")):
        with pytest.raises(PayloadError) as caught:
            parse_notification(data)
        assert str(caught.value) == (
            f"POST /alertmanager: {where}: not an RFC 3339 time: '2026-13-01'"
        )
    kept = _cached_seconds.cache_info().currsize
    assert kept == 3  # the alerts' one start time, Alertmanager's zero end, the bad text
    huge = "2026-11-29T12:00:00" + "9" * 1_000_000 + "Z"
    with pytest.raises(PayloadError) as caught:
        parse_notification(broken(lambda d: d["alerts"][0].update(startsAt=huge)))
    assert str(caught.value).startswith("POST /alertmanager: alerts[0].startsAt: not an RFC 3339")
    assert _cached_seconds.cache_info().currsize == kept


def escaped(data: dict[str, Any], text: str, into: str) -> str:
    """``data`` as JSON with ``into`` (a marker in it) replaced by ``text`` as written."""
    return json.dumps(data).replace(into, text)


LONE = "not text: a lone UTF-16 surrogate (a \\u escape without its pair)"


@pytest.mark.parametrize(
    ("where", "written", "message"),
    [
        ("label", "x\\ud800", f"alerts[0].labels.service: {LONE}"),
        ("label", "\\udfffx", f"alerts[0].labels.service: {LONE}"),
        ("label", "\\ude00\\ud83d", f"alerts[0].labels.service: {LONE}"),  # the pair reversed
        ("group", "g\\uD800", f"groupKey: {LONE}"),
        ("key", "k\\ud800", f"alerts[0].labels.k\\ud800: {LONE}"),
    ],
    ids=[
        "a high surrogate alone in a label value",
        "a low surrogate alone",
        "a low then a high surrogate is no pair",
        "in the group key, upper-case hex (was: accepted, then dead-lettered)",
        "in a label name: the path shows it escaped",
    ],
)
def test_a_lone_surrogate_is_refused_naming_the_field(
    where: str, written: str, message: str
) -> None:
    """Was: a 500 with a traceback (no fingerprint), or 200 then never posted (groupKey)."""
    data = notification()
    marker = "MARKER"
    if where == "label":
        data["alerts"][0]["labels"]["service"] = marker
    elif where == "group":
        data["groupKey"] = marker
    else:
        data["alerts"][0]["labels"][marker] = "v"
    with pytest.raises(PayloadError) as caught:
        decode_body(escaped(data, written, marker))
    assert str(caught.value) == f"POST /alertmanager: {message}"
    str(caught.value).encode("utf-8")  # the answer itself can be sent


@pytest.mark.parametrize(
    ("written", "decoded"),
    [
        ("\\ud83d\\ude00", "\U0001f600"),
        ("\\\\ud800", "\\ud800"),
        ("\\\\\\ud83d\\ude00", "\\\U0001f600"),
        ("\\u00e9\\u003c", "\u00e9<"),
    ],
    ids=[
        "a surrogate pair is one character (an emoji written escaped)",
        "an escaped backslash before ud800 is text",
        "an escaped backslash, then a pair",
        "other escapes",
    ],
)
def test_text_with_escapes_that_are_not_lone_surrogates_is_accepted(
    written: str, decoded: str
) -> None:
    data = notification()
    data["alerts"][0]["labels"]["service"] = "MARKER"
    parsed = parse_notification(decode_body(escaped(data, written, "MARKER")))
    assert parsed.alerts[0].labels["service"] == decoded


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "{not json",
            "body is not JSON: Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)",
        ),
        ('{"a": 1, "a": 2}', "body is not JSON this server accepts: duplicate key 'a'"),
        ("[" * 100_000 + "]" * 100_000, "body is not JSON this server accepts: nested too deep"),
    ],
    ids=["not JSON", "a key twice", "nested too deep"],
)
def test_a_body_that_is_not_json_says_why(text: str, message: str) -> None:
    with pytest.raises(PayloadError) as caught:
        decode_body(text)
    assert str(caught.value) == f"POST /alertmanager: {message}"
