"""The step benchmark's bootstrap interval: it brackets the ratio of the medians, and it is
as wide as the rounds disagree (bench/step_overhead.py)."""

from __future__ import annotations

import importlib.util
import statistics
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[2] / "bench" / "step_overhead.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("step_overhead", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("step_overhead", module)
    spec.loader.exec_module(module)
    return module


def test_rounds_that_agree_give_a_point() -> None:
    low, high = _bench().interval([1.5] * 21, [3.0] * 21)
    assert (low, high) == (0.5, 0.5)


def test_the_interval_brackets_the_ratio_of_the_medians_and_widens_with_spread() -> None:
    interval = _bench().interval
    ops = [1.0 + 0.05 * (i % 7) for i in range(51)]
    rundoc = [3.0 + 0.1 * (i % 5) for i in range(51)]
    ratio = statistics.median(ops) / statistics.median(rundoc)
    low, high = interval(ops, rundoc)
    assert low <= ratio <= high
    noisy = [value * (1.5 if i % 2 else 0.6) for i, value in enumerate(ops)]
    noisy_low, noisy_high = interval(noisy, rundoc)
    assert noisy_high - noisy_low > high - low


def test_the_interval_is_the_same_for_the_same_rounds() -> None:
    interval = _bench().interval
    ops = [1.0 + 0.1 * (i % 3) for i in range(21)]
    rundoc = [3.0 + 0.2 * (i % 4) for i in range(21)]
    assert interval(ops, rundoc) == interval(ops, rundoc)


def test_rounds_are_enough_for_each_row_unless_asked_for() -> None:
    rounds = _bench().rounds
    assert [rounds(10), rounds(100), rounds(1000)] == [151, 9, 5]
    assert rounds(10, 601) == 601  # --rounds: a longer, tighter run of one row


def test_the_one_step_and_n_step_runs_take_turns_at_going_first() -> None:
    in_turn = _bench().in_turn
    order: list[int] = []

    def run(steps: int) -> tuple[float, float]:
        order.append(steps)
        return float(steps), 0.0

    assert [in_turn(number, run, 10) for number in range(4)] == [((10.0, 0.0), (1.0, 0.0))] * 4
    assert order == [1, 10, 10, 1, 1, 10, 10, 1]  # the marginal is always N-step minus 1-step
