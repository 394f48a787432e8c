"""On-call schedules: rotations, layers, restrictions, overrides, and handoffs across DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ops_toolkit.escalate.oncall import parse_oncall
from ops_toolkit.escalate.schedule import Override, Schedule

BERLIN = """
schedules:
  - name: primary
    timezone: Europe/Berlin
    layers:
      - rotation: weekly
        handoff: "09:00"
        start: 2026-03-02
        participants: [U0AAAAAA1, U0BBBBBB2]
"""


def schedule(text: str = BERLIN, name: str = "primary") -> Schedule:
    return parse_oncall(text, "oncall.yaml").schedule(name)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("moment", "user"),
    [
        (utc(2026, 3, 2, 7, 59), None),
        (utc(2026, 3, 2, 8, 0), "U0AAAAAA1"),
        (utc(2026, 3, 9, 7, 59), "U0AAAAAA1"),
        (utc(2026, 3, 9, 8, 0), "U0BBBBBB2"),
        (utc(2026, 3, 30, 6, 59), "U0BBBBBB2"),
        (utc(2026, 3, 30, 7, 0), "U0AAAAAA1"),
        (utc(2026, 10, 26, 7, 59), "U0BBBBBB2"),
        (utc(2026, 10, 26, 8, 0), "U0AAAAAA1"),
    ],
    ids=[
        "nobody before the first shift",
        "the first participant from the first handoff (09:00 CET = 08:00 UTC)",
        "still the first a minute before the next handoff",
        "the second from the next handoff",
        "before the spring change's handoff: 09:00 CEST is 07:00 UTC, not 08:00",
        "after the spring change the handoff is at 07:00 UTC",
        "before the autumn change's handoff (09:00 CET again = 08:00 UTC)",
        "after the autumn change the handoff is back at 08:00 UTC",
    ],
)
def test_weekly_rotation_hands_off_at_local_time(moment: datetime, user: str | None) -> None:
    assert schedule().who(moment) == user


def test_shifts_around_the_spring_change_are_an_hour_shorter() -> None:
    shifts = schedule().shifts(utc(2026, 3, 24), utc(2026, 4, 8))
    assert [(s.start, s.end, s.user) for s in shifts] == [
        (utc(2026, 3, 24), utc(2026, 3, 30, 7), "U0BBBBBB2"),
        (utc(2026, 3, 30, 7), utc(2026, 4, 6, 7), "U0AAAAAA1"),
        (utc(2026, 4, 6, 7), utc(2026, 4, 8), "U0BBBBBB2"),
    ]
    week = schedule().shifts(utc(2026, 3, 23, 8), utc(2026, 3, 30, 8))[0]
    assert week.end - week.start == timedelta(days=7, hours=-1)


def test_daily_handoff_inside_the_spring_gap_moves_forward_by_the_gap() -> None:
    text = """
schedules:
  - name: nightly
    timezone: Europe/Berlin
    layers:
      - {rotation: daily, handoff: "02:30", start: 2026-03-27, participants: [U0AAAAAA1, U0BBBBBB2]}
"""
    nightly = schedule(text, "nightly")
    # 29 March 2026 02:30 does not exist in Berlin; the handoff happens at 03:30 CEST (01:30 UTC).
    handoffs = nightly.handoffs(utc(2026, 3, 28, 12), utc(2026, 3, 30, 12))
    assert [(h.start, h.user) for h in handoffs] == [
        (utc(2026, 3, 29, 1, 30), "U0AAAAAA1"),
        (utc(2026, 3, 30, 0, 30), "U0BBBBBB2"),
    ]


def test_daily_handoff_in_the_autumn_repeat_happens_at_its_first_occurrence() -> None:
    text = """
schedules:
  - name: nightly
    timezone: Europe/Berlin
    layers:
      - {rotation: daily, handoff: "02:30", start: 2026-10-23, participants: [U0AAAAAA1, U0BBBBBB2]}
"""
    nightly = schedule(text, "nightly")
    # 25 October 2026 02:30 happens twice; the first is 02:30 CEST = 00:30 UTC.
    handoffs = nightly.handoffs(utc(2026, 10, 24, 12), utc(2026, 10, 26, 12))
    assert [(h.start, h.user) for h in handoffs] == [
        (utc(2026, 10, 25, 0, 30), "U0AAAAAA1"),
        (utc(2026, 10, 26, 1, 30), "U0BBBBBB2"),
    ]


def test_every_n_days_in_a_zone_behind_utc_counts_local_dates() -> None:
    text = """
schedules:
  - name: ic
    timezone: America/New_York
    layers:
      - {rotation: every 3 days, handoff: "08:00", start: 2026-03-06, participants: [U0AAAAAA1, U0BBBBBB2]}
"""
    ic = schedule(text, "ic")
    # US DST starts 8 March 2026: 08:00 EST is 13:00 UTC before it, 08:00 EDT 12:00 UTC after.
    assert ic.who(utc(2026, 3, 6, 12, 59)) is None
    assert ic.who(utc(2026, 3, 6, 13, 0)) == "U0AAAAAA1"
    assert ic.who(utc(2026, 3, 9, 11, 59)) == "U0AAAAAA1"
    assert ic.who(utc(2026, 3, 9, 12, 0)) == "U0BBBBBB2"
    assert ic.who(utc(2026, 3, 12, 12, 0)) == "U0AAAAAA1"


LAYERED = """
schedules:
  - name: support
    timezone: Asia/Kolkata
    layers:
      - name: base
        rotation: weekly
        handoff: "10:00"
        start: 2026-01-05
        participants: [U0BASE001]
      - name: weekend-days
        rotation: daily
        handoff: "00:00"
        start: 2026-01-03
        days: [sat, sun]
        hours: "08:00-20:00"
        participants: [U0WKND001, U0WKND002]
      - name: nights
        rotation: weekly
        handoff: "22:00"
        start: 2026-01-05
        hours: "22:00-06:00"
        participants: [night@example.com]
"""


@pytest.mark.parametrize(
    ("local", "user"),
    [
        ("2026-01-07T12:00", "U0BASE001"),
        ("2026-01-10T07:59", "U0BASE001"),
        ("2026-01-10T08:00", "U0WKND002"),
        ("2026-01-11T19:59", "U0WKND001"),
        ("2026-01-10T23:00", "night@example.com"),
        ("2026-01-08T05:59", "night@example.com"),
        ("2026-01-08T06:00", "U0BASE001"),
    ],
    ids=[
        "a weekday noon: the base layer",
        "a Saturday before the weekend hours: the base layer",
        "Saturday 08:00: the weekend layer wins (its second day's participant)",
        "Sunday evening: the weekend layer's next participant",
        "Saturday night: the later night layer wins over the weekend hours' gap",
        "a night that wraps midnight belongs to the previous evening's span",
        "06:00: the night layer ends, the base layer shows through",
    ],
)
def test_a_later_layer_wins_where_it_covers(local: str, user: str) -> None:
    support = schedule(LAYERED, "support")
    moment = datetime.fromisoformat(local).replace(tzinfo=support.zone)
    assert support.who(moment) == user


def test_shifts_follow_layer_restrictions() -> None:
    support = schedule(LAYERED, "support")
    zone = support.zone
    shifts = support.shifts(
        datetime(2026, 1, 10, 6, tzinfo=zone), datetime(2026, 1, 10, 23, tzinfo=zone)
    )
    assert [(s.start.astimezone(zone).strftime("%H:%M"), s.user) for s in shifts] == [
        ("06:00", "U0BASE001"),
        ("08:00", "U0WKND002"),
        ("20:00", "U0BASE001"),
        ("22:00", "night@example.com"),
    ]


def test_overrides_win_and_the_latest_override_wins_over_an_earlier_one() -> None:
    primary = schedule()
    overrides = [
        Override("U0CCCCCC3", utc(2026, 3, 10), utc(2026, 3, 12), created_at=1.0),
        Override("U0DDDDDD4", utc(2026, 3, 11), utc(2026, 3, 11, 12), created_at=2.0),
    ]
    shifts = primary.shifts(utc(2026, 3, 9, 12), utc(2026, 3, 13), overrides)
    assert [(s.start, s.user) for s in shifts] == [
        (utc(2026, 3, 9, 12), "U0BBBBBB2"),
        (utc(2026, 3, 10), "U0CCCCCC3"),
        (utc(2026, 3, 11), "U0DDDDDD4"),
        (utc(2026, 3, 11, 12), "U0CCCCCC3"),
        (utc(2026, 3, 12), "U0BBBBBB2"),
    ]


def test_overrides_in_the_file_are_local_times_of_the_schedule() -> None:
    text = (
        BERLIN
        + """    overrides:
      - {user: cover@example.com, from: "2026-03-28T09:00", to: "2026-03-30T09:00"}
"""
    )
    primary = schedule(text)
    assert primary.who(utc(2026, 3, 28, 7, 59)) == "U0BBBBBB2"
    assert primary.who(utc(2026, 3, 28, 8, 0)) == "cover@example.com"
    # The override's end is 09:00 CEST on the 30th (after the change): 07:00 UTC.
    assert primary.who(utc(2026, 3, 30, 6, 59)) == "cover@example.com"
    assert primary.who(utc(2026, 3, 30, 7, 0)) == "U0AAAAAA1"


def test_handoffs_list_each_change_of_person_once() -> None:
    handoffs = schedule().handoffs(utc(2026, 3, 9, 8, 0), utc(2026, 3, 23, 8, 0))
    assert [(h.start, h.user) for h in handoffs] == [
        (utc(2026, 3, 16, 8, 0), "U0AAAAAA1"),
        (utc(2026, 3, 23, 8, 0), "U0BBBBBB2"),
    ]


def test_the_shipped_oncall_file_is_valid_and_has_the_worked_example() -> None:
    from ops_toolkit.escalate.oncall import load_oncall
    from tests.conftest import ROOT

    config = load_oncall(str(ROOT / "alerts" / "oncall.yaml"))
    policy = config.policy("search")
    assert [t.schedule for t in policy.tiers] == [
        "search-primary",
        "search-secondary",
        "incident-commander",
    ]
    assert policy.offsets()[:3] == [0.0, 600.0, 1200.0]
