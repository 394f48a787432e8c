"""Error-budget maths: table tests with the Workbook's numbers."""

from __future__ import annotations

import pytest

from ops_toolkit.slo import budget
from ops_toolkit.slo.budget import Counts
from ops_toolkit.slo.windows import scaled_windows

DAY = 86400


@pytest.mark.parametrize(
    ("counts", "objective_budget", "sli", "burn", "remaining", "left"),
    [
        pytest.param(
            Counts(bad=10, total=100_000),
            0.001,
            0.9999,
            0.1,
            0.9,
            90.0,
            id="a tenth of the budget spent",
        ),
        pytest.param(
            Counts(bad=100, total=100_000),
            0.001,
            0.999,
            1.0,
            0.0,
            0.0,
            id="exactly the budget spent",
        ),
        pytest.param(
            Counts(bad=300, total=100_000),
            0.001,
            0.997,
            3.0,
            -2.0,
            -200.0,
            id="overspent: remaining goes below zero",
        ),
        pytest.param(Counts(bad=0, total=5), 0.01, 1.0, 0.0, 1.0, 0.05, id="no bad events"),
    ],
)
def test_window_maths(
    counts: Counts, objective_budget: float, sli: float, burn: float, remaining: float, left: float
) -> None:
    assert budget.sli(counts) == pytest.approx(sli)
    assert budget.burn_rate(counts, objective_budget) == pytest.approx(burn)
    assert budget.budget_remaining(counts, objective_budget) == pytest.approx(remaining)
    assert budget.bad_events_left(counts, objective_budget) == pytest.approx(left)


def test_zero_events_is_no_data_never_a_perfect_score() -> None:
    empty = Counts(bad=0, total=0)
    assert budget.sli(empty) is None
    assert budget.burn_rate(empty, 0.001) is None
    assert budget.budget_remaining(empty, 0.001) is None
    assert budget.bad_events_left(empty, 0.001) is None
    assert budget.status(None, {}, scaled_windows(30 * DAY)) == "no_data"


H, M = 3600, 60


@pytest.mark.parametrize(
    ("remaining", "rates", "expected"),
    [
        pytest.param(0.5, {H: 15.0, 5 * M: 15.0}, "critical", id="1h and 5m above 14.4 page"),
        pytest.param(0.5, {H: 15.0, 5 * M: 2.0}, "ok", id="a long window alone does not fire"),
        pytest.param(0.5, {6 * H: 7.0, 30 * M: 6.5}, "critical", id="6h and 30m above 6 page"),
        pytest.param(0.5, {DAY: 3.5, 2 * H: 4.0}, "warning", id="1d and 2h above 3 ticket"),
        pytest.param(0.5, {3 * DAY: 1.2, 6 * H: 1.1}, "warning", id="3d and 6h above 1 ticket"),
        pytest.param(0.0, {H: 0.0}, "exhausted", id="no budget left"),
        pytest.param(-0.3, {H: 20.0, 5 * M: 20.0}, "exhausted", id="exhausted outranks critical"),
        pytest.param(0.9, {H: None, 5 * M: 20.0}, "ok", id="a window without data does not fire"),
    ],
)
def test_status(remaining: float, rates: dict[int, float | None], expected: str) -> None:
    assert budget.status(remaining, rates, scaled_windows(30 * DAY)) == expected


@pytest.mark.parametrize(
    ("rates", "expected"),
    [
        pytest.param({14 * M: 15.0, 5 * M: 15.0}, "critical", id="7d: 14m and 5m above 14.4 page"),
        pytest.param({H: 15.0, 5 * M: 15.0}, "ok", id="7d: the 30d table's 1h window is not its"),
        pytest.param({16 * H + 48 * M: 1.1, 84 * M: 1.1}, "warning", id="7d: 16h48m/1h24m ticket"),
        pytest.param(
            {16 * H + 48 * M: 0.9, 84 * M: 0.9}, "ok", id="7d: burn 0.9 keeps the budget: quiet"
        ),
    ],
)
def test_status_follows_the_windows_of_a_7d_period(
    rates: dict[int, float | None], expected: str
) -> None:
    assert budget.status(0.5, rates, scaled_windows(7 * DAY)) == expected


def test_projection_of_a_calendar_period() -> None:
    # Half the month gone, 40% of the budget spent so far; burning at 1x from now on.
    so_far = Counts(bad=40, total=100_000)
    projected = budget.projected_remaining(so_far, 1.0, 15 * DAY, 30 * DAY, 0.001)
    assert projected == pytest.approx(1 - (0.4 * 15 + 1.0 * 15) / 30)


@pytest.mark.parametrize(
    ("totals", "minimum", "expected"),
    [
        pytest.param({H: 2.0}, 0, "critical", id="off by default: 1 bad of 2 pages"),
        pytest.param({H: 2.0}, 100, "ok", id="2 events in the 1h window, minimum 100: quiet"),
        pytest.param({H: 100.0}, 100, "critical", id="exactly the minimum pages"),
        pytest.param({}, 100, "ok", id="unknown window total with a minimum: quiet"),
    ],
)
def test_min_events_per_alert_window(
    totals: dict[int, float | None], minimum: int, expected: str
) -> None:
    rates = {H: 500.0, 5 * M: 500.0}
    windows = scaled_windows(30 * DAY)
    assert budget.status(0.5, rates, windows, totals=totals, min_events=minimum) == expected
