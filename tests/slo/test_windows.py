"""The burn-rate table per period: factors fixed, windows scaled, short periods refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ops_toolkit.durations import format_duration
from ops_toolkit.slo import budget
from ops_toolkit.slo.windows import scaled_windows, shortest_period

DAY, HOUR, MINUTE = 86400, 3600, 60


def table(days: float) -> list[tuple[str, str, str, float, str]]:
    return [
        (p.severity, format_duration(p.long), format_duration(p.short), p.factor, p.for_name)
        for p in scaled_windows(int(days * DAY))
    ]


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        pytest.param(
            30,
            [
                ("page", "1h", "5m", 14.4, "2m"),
                ("page", "6h", "30m", 6.0, "15m"),
                ("ticket", "1d", "2h", 3.0, "1h"),
                ("ticket", "3d", "6h", 1.0, "3h"),
            ],
            id="30d is exactly the Workbook table",
        ),
        pytest.param(
            90,
            [
                ("page", "3h", "15m", 14.4, "7m"),
                ("page", "18h", "1h30m", 6.0, "45m"),
                ("ticket", "3d", "6h", 3.0, "3h"),
                ("ticket", "9d", "18h", 1.0, "9h"),
            ],
            id="90d: windows three times longer",
        ),
        pytest.param(
            28,
            [
                ("page", "56m", "5m", 14.4, "2m"),
                ("page", "5h36m", "28m", 6.0, "14m"),
                ("ticket", "22h24m", "1h52m", 3.0, "56m"),
                ("ticket", "2d19h12m", "5h36m", 1.0, "2h48m"),
            ],
            id="28d",
        ),
        pytest.param(
            7,
            [
                ("page", "14m", "5m", 14.4, "2m"),
                ("page", "1h24m", "7m", 6.0, "3m"),
                ("ticket", "5h36m", "28m", 3.0, "14m"),
                ("ticket", "16h48m", "1h24m", 1.0, "42m"),
            ],
            id="7d: short windows at least 5m",
        ),
        pytest.param(
            3,
            [
                ("page", "6m", "5m", 14.4, "2m"),
                ("page", "36m", "5m", 6.0, "2m"),
                ("ticket", "2h24m", "12m", 3.0, "6m"),
                ("ticket", "7h12m", "36m", 1.0, "18m"),
            ],
            id="3d",
        ),
    ],
)
def test_the_table_per_period(days: int, expected: list[tuple[str, str, str, float, str]]) -> None:
    assert table(days) == expected


def test_a_period_too_short_for_5m_windows_is_refused_with_the_reason() -> None:
    assert format_duration(shortest_period()) == "2d6h"
    assert table(2.25)[0][1] == "5m"
    with pytest.raises(ValueError) as raised:
        scaled_windows(2 * DAY)
    assert str(raised.value) == (
        "2d is too short for burn-rate alerts: the 1h window scaled to it is under 5m, the "
        "resolution of the recorded event counts; use a window of at least 2d6h or give "
        "alerting.windows"
    )


periods = st.integers(min_value=shortest_period() // MINUTE, max_value=400 * DAY // MINUTE).map(
    lambda minutes: minutes * MINUTE
)


@given(period=periods, burn=st.floats(min_value=0.0, max_value=1.0))
def test_no_alert_fires_at_a_burn_rate_that_keeps_the_budget(period: int, burn: float) -> None:
    windows = scaled_windows(period)
    rates = {w: burn for pair in windows for w in (pair.long, pair.short)}
    assert not any(budget.fires(pair, rates) for pair in windows)
    assert budget.status(1.0 - burn, rates, windows) in ("ok", "exhausted")


@given(period=periods)
def test_each_tier_spends_the_workbook_share_of_the_budget(period: int) -> None:
    windows = scaled_windows(period)
    shares = [pair.budget_share(period) for pair in windows]
    # Whole-minute rounding moves a share by at most half a minute of the long window.
    for pair, share, expected in zip(windows, shares, (0.02, 0.05, 0.10, 0.10), strict=True):
        assert share == pytest.approx(expected, abs=pair.factor * 30 / period + 1e-12)
        assert 5 * MINUTE <= pair.short <= pair.long <= period
        assert MINUTE <= pair.for_seconds <= pair.short
    rates = {w: 14.5 for pair in windows for w in (pair.long, pair.short)}
    assert budget.status(0.5, rates, windows) == "critical"
