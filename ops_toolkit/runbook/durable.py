"""Syncs to disk that go on while ops does: a step's record and the last audit line.

Each runs on one of two long-lived threads (starting a thread per step cost more than the
sync it waited for), so that the two syncs a step needs overlap each other and the start of
the step's shell, and the disk's latency is paid about once per step, not twice in a row.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor

_workers: ThreadPoolExecutor | None = None


class PendingSync:
    """``fdatasync(handle)`` (the data and the file's new size: all an append needs) under
    way on a worker thread; the handle is closed after it when ``close`` says so."""

    def __init__(self, handle: int, *, close: bool) -> None:
        global _workers
        if _workers is None:
            _workers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ops-sync")
        self._done: Future[OSError | None] = _workers.submit(_sync, handle, close)

    def wait(self) -> OSError | None:
        """Once the data is on disk: None, or why it could not be put there."""
        return self._done.result()


def _sync(handle: int, close: bool) -> OSError | None:
    try:
        os.fdatasync(handle)
    except OSError as exc:
        return exc
    finally:
        if close:
            os.close(handle)
    return None
