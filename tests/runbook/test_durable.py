"""A put-off sync (``durable.PendingSync``): done once, when waited for, on the caller's thread."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import pytest

from ops_toolkit.runbook import durable
from ops_toolkit.runbook.durable import PendingSync


def test_the_sync_happens_at_the_wait_on_the_callers_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[tuple[int, str]] = []
    real = os.fdatasync

    def fdatasync(handle: int) -> None:
        synced.append((handle, threading.current_thread().name))
        real(handle)

    monkeypatch.setattr(durable.os, "fdatasync", fdatasync)
    handle = os.open(tmp_path / "journal", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.write(handle, b"line\n")
    pending = PendingSync(handle, close=False)
    assert synced == []  # nothing yet: the line waits for the step to be about to act
    assert pending.wait() is None
    assert pending.wait() is None  # once only
    assert synced == [(handle, threading.current_thread().name)]
    os.close(handle)


def test_a_failed_sync_is_returned_each_time_and_the_handle_closed(tmp_path: Path) -> None:
    reader, writer = os.pipe()  # a pipe cannot be synced: EINVAL, as a failing disk would say
    pending = PendingSync(reader, close=True)
    failure = pending.wait()
    assert isinstance(failure, OSError) and failure.errno == errno.EINVAL
    assert pending.wait() is failure
    with pytest.raises(OSError):
        os.fstat(reader)  # closed after its sync, as ``close`` asked
    os.close(writer)
