"""``Loop.wake`` is never lost: work announced while a round runs, or at the very moment its
wait ends, is taken by a round at once, not after the poll interval (an hour here).

Deterministic: the wakes are made from inside the step and from inside the wait (a hooked
Event), at exactly the instants in question; the waits on events below only bound a hang.
"""

from __future__ import annotations

import threading

from ops_toolkit.serve.worker import Loop

IDLE = 3600.0  # what each round asks to wait: a lost wake would be noticed an hour later


class Work:
    """Items announced (put, then wake) and taken by rounds: what each round saw."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waiting: list[str] = []
        self.rounds: list[list[str]] = []
        self.taken = threading.Event()

    def put(self, item: str, loop: Loop) -> None:
        with self.lock:
            self.waiting.append(item)
        loop.wake()

    def take(self, expected: set[str]) -> None:
        with self.lock:
            seen, self.waiting = self.waiting, []
            self.rounds.append(seen)
            if expected <= {item for found in self.rounds for item in found}:
                self.taken.set()


def test_a_wake_while_a_round_runs_makes_another_round_at_once() -> None:
    work = Work()
    loop: Loop

    def step() -> float:
        work.take({"late"})
        if len(work.rounds) == 1:
            work.put("late", loop)  # announced after this round looked: it must not wait
        return IDLE

    loop = Loop("wake-in-round", step)
    loop.start()
    try:
        assert work.taken.wait(timeout=30)
    finally:
        loop.stop()
    assert work.rounds[:2] == [[], ["late"]]


def test_a_wake_as_the_wait_ends_is_taken_by_the_next_round() -> None:
    work = Work()
    loop: Loop

    class WakeAsTheWaitEnds(threading.Event):
        """At the instant the first wait ends, another item is announced (put, wake)."""

        def __init__(self) -> None:
            super().__init__()
            self.waits = 0

        def wait(self, timeout: float | None = None) -> bool:
            woken = super().wait(timeout)
            self.waits += 1
            if self.waits == 1:
                work.put("at the edge", loop)
            return woken

    def step() -> float:
        work.take({"at the edge"})
        return 0.0 if len(work.rounds) == 1 else IDLE  # the first wait ends at once

    loop = Loop("wake-at-edge", step, woken=WakeAsTheWaitEnds())
    loop.start()
    try:
        assert work.taken.wait(timeout=30)
    finally:
        loop.stop()
    assert work.rounds[:2] == [[], ["at the edge"]]
