"""Schedules across time zones and DST, and the error-budget policy's crossings. Pure."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ops_toolkit.reports.scheduled import latest_slot, policy_step, select_slos
from ops_toolkit.slo.spec import parse_slo_file

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def at(zone: ZoneInfo, *parts: int) -> float:
    return datetime(*parts, tzinfo=zone).timestamp()


@pytest.mark.parametrize(
    ("cron", "zone", "now", "expected"),
    [
        pytest.param(
            "0 9 * * MON",
            "Europe/Berlin",
            at(BERLIN, 2026, 11, 30, 8, 59),
            at(BERLIN, 2026, 11, 23, 9, 0),
            id="just before Monday 09:00: last week's",
        ),
        pytest.param(
            "0 9 * * MON",
            "Europe/Berlin",
            at(BERLIN, 2026, 11, 30, 9, 0, 30),
            at(BERLIN, 2026, 11, 30, 9, 0),
            id="at 09:00:30: this week's",
        ),
        pytest.param(
            "0 9 * * *",
            "Europe/Berlin",
            at(BERLIN, 2026, 3, 29, 10, 0),
            at(BERLIN, 2026, 3, 29, 9, 0),
            id="spring forward: 09:00 local, UTC+2",
        ),
        pytest.param(
            "0 9 * * *",
            "Europe/Berlin",
            at(BERLIN, 2026, 10, 25, 9, 30),
            at(BERLIN, 2026, 10, 25, 9, 0),
            id="fall back: 09:00 local, UTC+1",
        ),
        pytest.param(
            "30 2 * * *",
            "Europe/Berlin",
            at(BERLIN, 2026, 3, 29, 12, 0),
            at(BERLIN, 2026, 3, 29, 3, 0),
            id="02:30 does not exist on the spring-forward day: it runs at 03:00, as cron does",
        ),
        pytest.param(
            "0 9 * * MON",
            "America/New_York",
            at(BERLIN, 2026, 11, 30, 14, 0),
            at(NEW_YORK, 2026, 11, 23, 9, 0),
            id="another zone: New York is 6h behind Berlin",
        ),
    ],
)
def test_latest_slot(cron: str, zone: str, now: float, expected: float) -> None:
    assert latest_slot(cron, zone, now) == expected


def test_the_spring_forward_day_is_23_hours() -> None:
    before = latest_slot("0 9 * * *", "Europe/Berlin", at(BERLIN, 2026, 3, 28, 10, 0))
    after = latest_slot("0 9 * * *", "Europe/Berlin", at(BERLIN, 2026, 3, 29, 10, 0))
    assert after - before == 23 * 3600


def test_policy_crossing_down_staying_down_recovering_and_crossing_again() -> None:
    armed = {50.0: True, 25.0: True, 0.0: True}
    fired, armed = policy_step(60.0, armed, 5.0)
    assert fired == []
    fired, armed = policy_step(45.0, armed, 5.0)
    assert (fired, armed) == ([50.0], {50.0: False, 25.0: True, 0.0: True})
    fired, armed = policy_step(40.0, armed, 5.0)
    assert fired == []  # staying down: no repeat
    fired, armed = policy_step(52.0, armed, 5.0)
    assert (fired, armed[50.0]) == ([], False)  # above 50 but within the hysteresis
    fired, armed = policy_step(56.0, armed, 5.0)
    assert (fired, armed[50.0]) == ([], True)  # recovered: re-armed
    fired, armed = policy_step(20.0, armed, 5.0)
    assert fired == [25.0, 50.0]  # crossing two at once: both fire, the notice names the lowest
    fired, armed = policy_step(-3.0, armed, 5.0)
    assert fired == [0.0]


def test_selectors() -> None:
    text = (
        "version: ops/v1\nservice: a\nslos:\n  - {name: x, objective: 99, sli: {ratio: {bad: b, total: t}}}\n"
        "  - {name: y, objective: 99, sli: {ratio: {bad: b, total: t}}}\n"
    )
    slos = parse_slo_file(text, "a.yaml").slos
    assert [s.name for s in select_slos(slos, ["a/y"])] == ["y"]
    assert [s.name for s in select_slos(slos, ["a/*"])] == ["x", "y"]
    assert [s.name for s in select_slos(slos, ["*"])] == ["x", "y"]
    assert select_slos(slos, ["b/*"]) == []
