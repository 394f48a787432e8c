"""Run blocking queries concurrently on daemon threads, so Ctrl-C ends the command at once.

``concurrent.futures.ThreadPoolExecutor`` joins its workers when the interpreter exits, so
after Ctrl-C a command against a hanging Prometheus still waited out every query's timeout
(18 s with ``--timeout 20``) before it could exit. Here the workers are daemon threads: the
main thread waits for them interruptibly, and an interrupted command exits without them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def concurrent_map(
    func: Callable[[Item], Result], items: Sequence[Item], workers: int
) -> list[Result]:
    """``[func(item) for item in items]``, at most ``workers`` at a time, in order.

    An exception ``func`` raises (a bug: callers turn expected failures into values) is
    raised here, in the caller's thread, after the other workers finish.
    """
    if len(items) <= 1 or workers <= 1:
        return [func(item) for item in items]
    results: list[Result | None] = [None] * len(items)
    failures: list[BaseException] = []
    indexes = iter(range(len(items)))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                index = next(indexes, None)
                if index is None or failures:
                    return
            try:
                results[index] = func(items[index])
            except BaseException as exc:  # re-raised in the caller's thread below
                with lock:
                    failures.append(exc)
                return

    threads = [
        threading.Thread(target=work, name="query", daemon=True)
        for _ in range(min(workers, len(items)))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()  # interruptible: Ctrl-C raises KeyboardInterrupt here
    if failures:
        raise failures[0]
    return results  # type: ignore[return-value]  # every slot was filled: no failure
