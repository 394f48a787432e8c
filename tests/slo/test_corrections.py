"""Corrections: parsing with path-precise errors, and expansion into merged UTC intervals."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ops_toolkit.errors import ConfigError
from ops_toolkit.slo.corrections import Correction, intervals, merge, parse_moment, to_utc
from ops_toolkit.slo.spec import load_slo_files, parse_slo_file


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


OPS = """version: ops/v1
service: search
slos:
  - name: availability
    objective: 99.9
    sli:
      ratio:
        bad: http_requests_total{code=~"5.."}
        total: http_requests_total
    corrections:
{items}
"""


def ops_file(items: str) -> str:
    return OPS.replace("{items}", "\n".join("      " + line for line in items.strip().splitlines()))


def test_an_ops_v1_slo_carries_one_off_and_recurring_corrections() -> None:
    (slo,) = parse_slo_file(
        ops_file(
            """
- {start: 2026-11-03T14:00:00Z, end: "2026-11-03T15:30:00+00:00", reason: INC-231 deploy}
- {cron: "0 2 * * SUN", duration: 1h, timezone: Europe/Berlin, reason: weekly upgrade}
- {start: "2026-11-04 10:00", end: 2026-11-04T11:00, timezone: Europe/Berlin, reason: local}
"""
        ),
        "slos/search.yaml",
    ).slos
    one_off, weekly, local = slo.corrections
    assert one_off == Correction(
        "INC-231 deploy",
        start=utc(2026, 11, 3, 14),
        end=utc(2026, 11, 3, 15, 30),
        place="slos/search.yaml: slos[0].corrections[0]",
    )
    assert weekly == Correction(
        "weekly upgrade",
        cron="0 2 * * SUN",
        duration=3600,
        timezone="Europe/Berlin",
        place="slos/search.yaml: slos[0].corrections[1]",
    )
    assert (local.start, local.end) == (utc(2026, 11, 4, 9), utc(2026, 11, 4, 10))
    assert weekly.describe() == "every '0 2 * * SUN' (Europe/Berlin) for 1h: weekly upgrade"
    assert one_off.to_dict() == {
        "start": "2026-11-03T14:00:00Z",
        "end": "2026-11-03T15:30:00Z",
        "reason": "INC-231 deploy",
    }


def test_an_slo_without_corrections_has_none() -> None:
    text = OPS.replace("    corrections:\n{items}\n", "")
    (slo,) = parse_slo_file(text, "f.yaml").slos
    assert slo.corrections == ()


P = "f.yaml: slos[0].corrections[0]"


@pytest.mark.parametrize(
    ("items", "message"),
    [
        pytest.param(
            '- {cron: "0 2 * * FUNDAY", duration: 1h, reason: x}',
            f"{P}.cron: not a cron expression: '0 2 * * FUNDAY' (e.g. '0 2 * * SUN')",
            id="bad cron",
        ),
        pytest.param(
            '- {cron: "0 2 * * * *", duration: 1h, reason: x}',
            f"{P}.cron: not a cron expression: '0 2 * * * *' (e.g. '0 2 * * SUN')",
            id="six fields are not cron's five",
        ),
        pytest.param(
            '- {cron: "0 0 31 2 *", duration: 1h, reason: x}',
            f"{P}.cron: '0 0 31 2 *' never fires",
            id="a cron that never fires",
        ),
        pytest.param(
            '- {cron: "0,30 3 * * *", duration: 10m, reason: x}',
            f"{P}.cron: '0,30 3 * * *' fires every 30m; a recurring correction may start at "
            "most once an hour",
            id="a cron firing more than hourly",
        ),
        pytest.param(
            "- {start: 2026-11-03T15:00:00Z, end: 2026-11-03T14:00:00Z, reason: x}",
            f"{P}.end: must be after start (2026-11-03T15:00:00Z), got 2026-11-03T14:00:00Z",
            id="end before start",
        ),
        pytest.param(
            "- {start: 2026-11-03T15:00:00Z, end: 2026-11-03T15:00:00Z, reason: x}",
            f"{P}.end: must be after start (2026-11-03T15:00:00Z), got 2026-11-03T15:00:00Z",
            id="empty window",
        ),
        pytest.param(
            '- {cron: "0 2 * * *", duration: 1h, timezone: Europe/Berlln, reason: x}',
            f"{P}.timezone: unknown time zone 'Europe/Berlln' (e.g. UTC, Europe/Berlin)",
            id="unknown time zone",
        ),
        pytest.param(
            "- {start: 2026-11-03T14:00:00Z, end: 2026-11-03T15:00:00Z}",
            f"{P}.reason: is required: say why these events do not count "
            "(e.g. 'planned database upgrade')",
            id="missing reason",
        ),
        pytest.param(
            "- {start: 2026-11-03T14:00:00Z, end: 2026-11-03T15:00:00Z, reason: '  '}",
            f"{P}.reason: is required: say why these events do not count "
            "(e.g. 'planned database upgrade')",
            id="blank reason",
        ),
        pytest.param(
            "- {start: 2026-11-03T14:00:00Z, reason: x}",
            f"{P}.end: is required: a one-off correction has a start and an end",
            id="no end",
        ),
        pytest.param(
            "- {start: yesterday, end: 2026-11-03T15:00:00Z, reason: x}",
            f"{P}.start: expected an ISO 8601 time like 2026-11-03T14:00:00Z, got 'yesterday'",
            id="not a time",
        ),
        pytest.param(
            '- {cron: "0 2 * * *", reason: x}',
            f"{P}.duration: is required with cron: how long each window lasts (e.g. 1h)",
            id="cron without duration",
        ),
        pytest.param(
            '- {cron: "0 2 * * *", duration: 8d, reason: x}',
            f"{P}.duration: expected at most 7d, got '8d'",
            id="duration too long",
        ),
        pytest.param(
            '- {cron: "0 2 * * *", duration: soon, reason: x}',
            f"{P}.duration: expected a duration like 2h or 30m, got 'soon'",
            id="duration not a duration",
        ),
        pytest.param(
            '- {cron: "0 2 * * *", duration: 1h, start: 2026-11-03T14:00:00Z, reason: x}',
            f"{P}.start: a recurring correction (cron) has no start or end; give 'duration'",
            id="cron with start",
        ),
        pytest.param(
            "- {start: 2026-11-03T14:00:00Z, end: 2026-11-03T15:00:00Z, duration: 1h, reason: x}",
            f"{P}.duration: only a recurring correction (cron) has a duration; a one-off one "
            "gives 'end'",
            id="one-off with duration",
        ),
        pytest.param(
            "- {start: '0001-01-01T00:00:00+14:00', end: 2026-11-03T15:00:00Z, reason: x}",
            f"{P}.start: '0001-01-01T00:00:00+14:00' is out of range (years 1 to 9999 in UTC)",
            id="a time before year 1 in UTC",
        ),
        pytest.param(
            "- {start: 2026-11-03T14:00:00Z, end: 9999-12-31T23:00:00-14:00, reason: x}",
            f"{P}.end: '9999-12-31 23:00:00-14:00' is out of range (years 1 to 9999 in UTC)",
            id="a time after year 9999 in UTC",
        ),
        pytest.param(
            '- {start: 2026-11-03T14:00:00Z, end: 2026-11-03T15:00:00Z, reason: "ok\\n*Status* x"}',
            f"{P}.reason: must be one line without control or bidi characters",
            id="a reason with a line break",
        ),
        pytest.param(
            '- {start: 2026-11-03T14:00:00Z, end: 2026-11-03T15:00:00Z, reason: "\\e[2Jx\\u202e"}',
            f"{P}.reason: must be one line without control or bidi characters",
            id="a reason with an escape sequence",
        ),
        pytest.param(
            "- {start: 2026-11-03T14:00:00Z, end: 2026-11-03T15:00:00Z, reason: " + "x" * 501 + "}",
            f"{P}.reason: must be at most 500 characters, got 501",
            id="a reason too long",
        ),
        pytest.param(
            "- {reason: x}",
            f"{P}: give 'start' and 'end' (one-off), or 'cron' and 'duration' (recurring)",
            id="neither kind",
        ),
        pytest.param(
            "- {start: 2026-11-03T14:00:00Z, ends: 2026-11-03T15:00:00Z, reason: x}",
            f"{P}.ends: unknown key (did you mean 'end'?); valid keys: start, end, cron, "
            "duration, timezone, reason",
            id="unknown key",
        ),
    ],
)
def test_a_bad_correction_names_its_place(items: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_slo_file(ops_file(items), "f.yaml")
    assert str(caught.value) == message


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


SLOTH = """version: prometheus/v1
service: checkout
slos:
  - name: requests
    objective: 99.5
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
    alerting:
      name: CheckoutRequests
      page_alert: {labels: {severity: critical}}
      ticket_alert: {labels: {severity: warning}}
"""


def test_corrections_yaml_attaches_to_slos_of_any_format(tmp_path: Path) -> None:
    write(tmp_path, "checkout.yaml", SLOTH)
    write(tmp_path, "search.yaml", ops_file("- {start: 2026-11-01, end: 2026-11-02, reason: a}"))
    write(
        tmp_path,
        "corrections.yaml",
        """corrections:
  checkout/requests:
    - {cron: "0 3 * * *", duration: 30m, reason: nightly batch}
  search/availability:
    - {start: 2026-11-05T00:00:00Z, end: 2026-11-05T01:00:00Z, reason: b}
""",
    )
    slos = {s.key: s for f in load_slo_files([str(tmp_path)]) for s in f.slos}
    assert [c.reason for c in slos["checkout/requests"].corrections] == ["nightly batch"]
    assert [c.reason for c in slos["search/availability"].corrections] == ["a", "b"]
    assert slos["checkout/requests"].corrections[0].place == (
        f"{tmp_path}/corrections.yaml: corrections.checkout/requests[0]"
    )
    # The file beside an SLO file given alone applies too, and may name SLOs not loaded.
    (alone,) = load_slo_files([str(tmp_path / "search.yaml")])
    assert [c.reason for c in alone.slos[0].corrections] == ["a", "b"]


def test_corrections_yaml_refuses_an_unknown_slo_with_a_suggestion(tmp_path: Path) -> None:
    write(tmp_path, "checkout.yaml", SLOTH)
    write(
        tmp_path,
        "corrections.yaml",
        "corrections:\n  checkout/request:\n    - {start: 2026-11-05, end: 2026-11-06, reason: x}\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_slo_files([str(tmp_path)])
    assert str(caught.value) == (
        f"{tmp_path}/corrections.yaml: corrections.checkout/request: no SLO 'checkout/request' "
        "(did you mean 'checkout/requests'?) (keys are service/slo)"
    )


def test_corrections_yaml_errors_name_the_path(tmp_path: Path) -> None:
    write(tmp_path, "checkout.yaml", SLOTH)
    write(
        tmp_path,
        "corrections.yaml",
        'corrections:\n  checkout/requests:\n    - {cron: "61 * * * *", duration: 1h, reason: x}\n',
    )
    errors: list[ConfigError] = []
    files = load_slo_files([str(tmp_path)], errors)
    assert [str(e) for e in errors] == [
        f"{tmp_path}/corrections.yaml: corrections.checkout/requests[0].cron: not a cron "
        "expression: '61 * * * *' (e.g. '0 2 * * SUN')"
    ]
    assert [s.key for f in files for s in f.slos] == ["checkout/requests"]


def test_a_corrections_file_with_a_yaml_error_names_the_line(tmp_path: Path) -> None:
    write(tmp_path, "checkout.yaml", SLOTH)
    write(tmp_path, "corrections.yaml", "corrections:\n  checkout/requests: [\n")
    with pytest.raises(ConfigError, match=r"corrections.yaml:3: not valid YAML"):
        load_slo_files([str(tmp_path)])


# -- expansion ----------------------------------------------------------------------------


def recurring(cron: str, duration: int, zone: str = "UTC") -> Correction:
    return Correction("r", cron=cron, duration=duration, timezone=zone)


def one_off(start: datetime, end: datetime) -> Correction:
    return Correction("o", start=start, end=end)


@pytest.mark.parametrize(
    ("corrections", "start", "end", "expected"),
    [
        pytest.param(
            [one_off(utc(2026, 1, 1, 10), utc(2026, 1, 1, 12))],
            utc(2026, 1, 1, 11),
            utc(2026, 1, 2),
            [(utc(2026, 1, 1, 11), utc(2026, 1, 1, 12))],
            id="a one-off correction is clipped to the range",
        ),
        pytest.param(
            [one_off(utc(2026, 1, 1, 10), utc(2026, 1, 1, 12))],
            utc(2026, 1, 1, 12),
            utc(2026, 1, 2),
            [],
            id="one ending at the range's start adds nothing",
        ),
        pytest.param(
            [
                one_off(utc(2026, 1, 1, 11), utc(2026, 1, 1, 13)),
                one_off(utc(2026, 1, 1, 10), utc(2026, 1, 1, 12)),
                one_off(utc(2026, 1, 1, 13), utc(2026, 1, 1, 14)),
                one_off(utc(2026, 1, 1, 20), utc(2026, 1, 1, 21)),
            ],
            utc(2026, 1, 1),
            utc(2026, 1, 2),
            [
                (utc(2026, 1, 1, 10), utc(2026, 1, 1, 14)),
                (utc(2026, 1, 1, 20), utc(2026, 1, 1, 21)),
            ],
            id="overlapping and touching spans merge, sorted",
        ),
        pytest.param(
            [recurring("0 23 * * *", 7200)],
            utc(2026, 1, 2),
            utc(2026, 1, 3, 0, 30),
            [(utc(2026, 1, 2), utc(2026, 1, 2, 1)), (utc(2026, 1, 2, 23), utc(2026, 1, 3, 0, 30))],
            id="a recurring window begun before the range still counts",
        ),
        pytest.param(
            [recurring("0 2 * * *", 3600, "Europe/Berlin")],
            utc(2026, 1, 10),
            utc(2026, 1, 11),
            [(utc(2026, 1, 10, 1), utc(2026, 1, 10, 2))],
            id="winter: 02:00 Berlin is 01:00 UTC",
        ),
        pytest.param(
            [recurring("0 2 * * *", 3600, "Europe/Berlin")],
            utc(2026, 7, 10),
            utc(2026, 7, 11),
            [(utc(2026, 7, 10, 0), utc(2026, 7, 10, 1))],
            id="summer: 02:00 Berlin is 00:00 UTC",
        ),
        pytest.param(
            [recurring("30 2 * * *", 3600, "Europe/Berlin")],
            utc(2026, 3, 28, 12),
            utc(2026, 3, 30, 12),
            [
                (utc(2026, 3, 29, 1), utc(2026, 3, 29, 2)),
                (utc(2026, 3, 30, 0, 30), utc(2026, 3, 30, 1, 30)),
            ],
            id="spring forward: 02:30 does not exist, the window starts at the jump",
        ),
        pytest.param(
            [recurring("30 2 * * *", 3600, "Europe/Berlin")],
            utc(2026, 10, 24, 12),
            utc(2026, 10, 26, 12),
            [
                (utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)),
                (utc(2026, 10, 26, 1, 30), utc(2026, 10, 26, 2, 30)),
            ],
            id="fall back: 02:30 happens twice, the window starts once, at the first",
        ),
        pytest.param(
            [recurring("0 1 * * *", 3 * 3600, "America/New_York")],
            utc(2026, 3, 8),
            utc(2026, 3, 9),
            [(utc(2026, 3, 8, 6), utc(2026, 3, 8, 9))],
            id="a duration is elapsed time across the change of clocks",
        ),
        pytest.param(
            [recurring("0 0 * * *", 3600, "Pacific/Apia")],
            utc(2011, 12, 29, 12),
            utc(2011, 12, 31, 12),
            [
                (utc(2011, 12, 30, 10), utc(2011, 12, 30, 11)),
                (utc(2011, 12, 31, 10), utc(2011, 12, 31, 11)),
            ],
            id="Samoa skipped 30 December 2011: its midnight starts as the day jumps",
        ),
    ],
)
def test_intervals(
    corrections: list[Correction],
    start: datetime,
    end: datetime,
    expected: list[tuple[datetime, datetime]],
) -> None:
    assert intervals(corrections, start, end) == expected


def test_to_utc_in_and_around_a_gap() -> None:
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    assert to_utc(datetime(2026, 3, 29, 1, 59), berlin) == utc(2026, 3, 29, 0, 59)
    assert to_utc(datetime(2026, 3, 29, 2, 0), berlin) == utc(2026, 3, 29, 1)
    assert to_utc(datetime(2026, 3, 29, 2, 59, 59), berlin) == utc(2026, 3, 29, 1)
    assert to_utc(datetime(2026, 3, 29, 3, 0), berlin) == utc(2026, 3, 29, 1)
    assert to_utc(datetime(2026, 10, 25, 2, 30), berlin) == utc(2026, 10, 25, 0, 30)


def test_parse_moment_reads_offsets_dates_and_naive_times() -> None:
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    assert parse_moment("2026-11-03T14:00:00Z", berlin) == utc(2026, 11, 3, 14)
    assert parse_moment("2026-11-03T14:00+02:00", berlin) == utc(2026, 11, 3, 12)
    assert parse_moment("2026-11-03T14:00", berlin) == utc(2026, 11, 3, 13)
    with pytest.raises(ValueError, match="expected an ISO 8601 time"):
        parse_moment(12, berlin)


ZONES = st.sampled_from(
    ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]
)
CRONS = st.sampled_from(
    ["0 2 * * *", "30 2 * * *", "*/45 * * * *", "0 0 * * SUN", "15 1 1 * *", "0 */6 * * 1-5"]
)
MOMENTS = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


@st.composite
def corrections_strategy(draw: st.DrawFn) -> Correction:
    if draw(st.booleans()):
        begin = draw(MOMENTS)
        return one_off(begin, begin + timedelta(minutes=draw(st.integers(1, 5000))))
    return recurring(draw(CRONS), 60 * draw(st.integers(1, 600)), draw(ZONES))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(corrections_strategy(), max_size=4),
    MOMENTS,
    st.integers(min_value=0, max_value=14 * 24 * 60),
)
def test_intervals_are_sorted_disjoint_and_inside_the_range(
    corrections: list[Correction], start: datetime, minutes: int
) -> None:
    end = start + timedelta(minutes=minutes)
    found = intervals(corrections, start, end)
    for begin, finish in found:
        assert start <= begin < finish <= end
    for (_, first_end), (second_begin, _) in itertools.pairwise(found):
        assert first_end < second_begin
    # Merging again changes nothing, and every one-off inside the range is covered.
    assert merge(found) == found
    for correction in corrections:
        if correction.start is not None and correction.end is not None:
            begin, finish = max(correction.start, start), min(correction.end, end)
            if begin < finish:
                assert any(a <= begin and finish <= b for a, b in found)


@settings(max_examples=60, deadline=None)
@given(CRONS, ZONES, MOMENTS, st.integers(1, 600))
def test_each_recurring_window_starts_at_its_cron_wall_time(
    cron: str, zone: str, start: datetime, minutes: int
) -> None:
    from zoneinfo import ZoneInfo

    from croniter import croniter

    end = start + timedelta(days=3)
    found = intervals([recurring(cron, 60 * minutes, zone)], start, end)
    tz = ZoneInfo(zone)
    for begin, _ in found:
        if begin == start:
            continue  # clipped: began before the range
        local = begin.astimezone(tz).replace(tzinfo=None)
        # Either the wall time matches the cron, or it is a jump over skipped wall times.
        assert (
            croniter.match(cron, local)
            or begin.astimezone(tz).utcoffset()
            != (begin - timedelta(seconds=1)).astimezone(tz).utcoffset()
        ), (begin, local)
