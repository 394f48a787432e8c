"""A sync to disk put off until it is needed: a step's record and the last audit line.

A line is written at once (so it survives ops being killed) and synced only when ``wait``
is called, just before the step can act: the shell started ahead (``process.start_held``)
spends that time starting up on the other core. The sync runs on the calling thread. Two
long-lived sync threads did it before, so that the two syncs overlapped; on a machine with
two cores, the three other things a step keeps busy (ops, the shell starting up, the disk's
journal thread) left those threads waiting for a core, about 0.2 ms each time, and ext4
commits two files' syncs one after the other anyway. Inline, steps 3-9 of a 10-step run took
1.2 ms each instead of 1.5 ms (issue 15, bench/step_overhead.py). The price is on a disk
whose sync takes milliseconds: there the two are now paid in turn.
"""

from __future__ import annotations

import os


class PendingSync:
    """``fdatasync(handle)`` (the data and the file's new size: all an append needs), done
    by ``wait``; the handle is closed after it when ``close`` says so."""

    def __init__(self, handle: int, *, close: bool) -> None:
        self._handle, self._close = handle, close
        self._failure: OSError | None = None
        self._done = False

    def wait(self) -> OSError | None:
        """Once the data is on disk: None, or why it could not be put there."""
        if not self._done:
            self._done = True
            try:
                os.fdatasync(self._handle)
            except OSError as exc:
                self._failure = exc
            finally:
                if self._close:
                    os.close(self._handle)
        return self._failure
