"""The intake's admission check reads the inbox depth off the event loop, once for many."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

from ops_toolkit.serve.server import InboxDepth


class Stats:
    """A store's stats: counts its reads and notes the thread each ran on."""

    def __init__(self, fail: bool = False) -> None:
        self.threads: list[int] = []
        self.fail = fail

    def __call__(self) -> dict[str, float]:
        self.threads.append(threading.get_ident())
        if self.fail:
            raise sqlite3.DatabaseError("database disk image is malformed")
        return {"inbox_depth": 7.0, "outbox_depth": 1.0}


def test_requests_within_max_age_share_one_read_made_off_the_event_loop() -> None:
    """Before: each request ran the store's five queries on the event loop itself."""
    stats, now = Stats(), [100.0]
    depth = InboxDepth(stats, max_age=0.05, clock=lambda: now[0])

    async def requests() -> list[float]:
        first = await asyncio.gather(*(depth.get() for _ in range(20)))
        now[0] += 0.01
        second = await depth.get()
        now[0] += 0.1
        third = await depth.get()  # answered from the last reading, a new one under way
        await depth.settled()
        return [*first, second, third]

    async def main() -> tuple[list[float], int]:
        return await requests(), threading.get_ident()

    answers, loop_thread = asyncio.run(main())
    assert answers == [7.0] * 22
    assert len(stats.threads) == 2  # the first read, and one after max_age
    assert loop_thread not in stats.threads


def test_a_read_that_fails_fails_every_request_it_serves() -> None:
    depth = InboxDepth(Stats(fail=True), clock=lambda: 0.0)

    async def main() -> list[BaseException | float]:
        return await asyncio.gather(depth.get(), depth.get(), return_exceptions=True)

    answers = asyncio.run(main())
    assert [type(a) for a in answers] == [sqlite3.DatabaseError] * 2
    assert [str(a) for a in answers] == ["database disk image is malformed"] * 2


def test_a_request_answers_from_the_last_reading_while_the_next_one_runs() -> None:
    """Before: every max_age, one request waited for the store's five queries."""
    order: list[str] = []
    release = threading.Event()

    def slow() -> dict[str, float]:
        if order:  # the second read is slow: the store is busy
            release.wait(2)
            order.append("read again")
            return {"inbox_depth": 9.0}
        order.append("read")
        return {"inbox_depth": 7.0}

    now = [0.0]
    depth = InboxDepth(slow, max_age=0.05, clock=lambda: now[0])

    async def main() -> list[float]:
        first = await depth.get()
        now[0] += 0.1
        second = await depth.get()
        order.append("answered")
        release.set()
        await depth.settled()
        return [first, second, await depth.get()]

    assert asyncio.run(main()) == [7.0, 7.0, 9.0]
    assert order == ["read", "answered", "read again"]


def test_after_a_failed_read_requests_wait_for_the_next_one() -> None:
    reads = iter([{"inbox_depth": 7.0}, None, {"inbox_depth": 3.0}])

    def flaky() -> dict[str, float]:
        found = next(reads)
        if found is None:
            raise sqlite3.OperationalError("database is locked")
        return found

    now = [0.0]
    depth = InboxDepth(flaky, max_age=0.05, clock=lambda: now[0])

    async def main() -> list[object]:
        answers: list[object] = [await depth.get()]
        now[0] += 0.1
        answers.append(await depth.get())  # the last good reading; the refresh fails
        await depth.settled()
        try:
            answers.append(await depth.get())  # within max_age of the failed read: fails
        except sqlite3.OperationalError as error:
            answers.append(str(error))
        now[0] += 0.1
        answers.append(await depth.get())
        return answers

    assert asyncio.run(main()) == [7.0, 7.0, "database is locked", 3.0]
