"""Webhook payload validation: valid forms, and each error with its field path."""

from __future__ import annotations

from typing import Any

import pytest

from ops_toolkit.alerts.webhook import parse_notification
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
