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
        third = await depth.get()
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
