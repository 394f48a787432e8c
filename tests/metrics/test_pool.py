"""The query pool: results in order, a bug in a worker raised in the caller's thread."""

from __future__ import annotations

import threading

import pytest

from ops_toolkit.metrics.pool import concurrent_map


@pytest.mark.parametrize("workers", [1, 3, 8], ids=lambda n: f"{n} workers")
def test_results_come_back_in_the_order_of_the_items(workers: int) -> None:
    assert concurrent_map(lambda n: n * n, list(range(20)), workers) == [n * n for n in range(20)]


def test_the_workers_are_daemon_threads_so_an_interrupted_command_can_exit() -> None:
    seen: list[bool] = []
    concurrent_map(lambda _: seen.append(threading.current_thread().daemon), [1, 2, 3], 3)
    assert seen == [True, True, True]


def test_an_exception_in_a_worker_is_raised_in_the_caller() -> None:
    def fail_on_two(n: int) -> int:
        if n == 2:
            raise ZeroDivisionError("two")
        return n

    with pytest.raises(ZeroDivisionError, match="two"):
        concurrent_map(fail_on_two, [1, 2, 3, 4], 2)
