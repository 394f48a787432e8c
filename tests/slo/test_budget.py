"""Error-budget maths: table tests with the Workbook's numbers."""

from __future__ import annotations

import pytest

from ops_toolkit.slo import budget
from ops_toolkit.slo.budget import Counts
from ops_toolkit.slo.windows import BURN_ALERTS

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
    assert budget.status(None, {}, 30 * DAY) == "no_data"


@pytest.mark.parametrize(
    ("period_days", "factors"),
    [
        pytest.param(30, [14.4, 6.0, 3.0, 1.0], id="30 days: 14.4, 6, 3, 1"),
        pytest.param(28, [13.44, 5.6, 2.8, 0.933333], id="28 days: 13.44, 5.6, 2.8, 0.933"),
        pytest.param(7, [3.36, 1.4, 0.7, 0.233333], id="7 days"),
    ],
)
def test_burn_factors_are_recomputed_for_the_period(period_days: int, factors: list[float]) -> None:
    assert [a.factor(period_days * DAY) for a in BURN_ALERTS] == pytest.approx(factors, abs=1e-6)


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
    assert budget.status(remaining, rates, 30 * DAY) == expected


def test_projection_of_a_calendar_period() -> None:
    # Half the month gone, 40% of the budget spent so far; burning at 1x from now on.
    so_far = Counts(bad=40, total=100_000)
    projected = budget.projected_remaining(so_far, 1.0, 15 * DAY, 30 * DAY, 0.001)
    assert projected == pytest.approx(1 - (0.4 * 15 + 1.0 * 15) / 30)
