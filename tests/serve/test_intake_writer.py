"""The group-commit writer outlives requests that went away."""

from __future__ import annotations

from pathlib import Path

from ops_toolkit.serve.server import GroupCommitWriter
from ops_toolkit.serve.store import Store


def test_a_cancelled_request_does_not_stop_the_writer(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "state.db"))
    writer = GroupCommitWriter(store, lambda: None)
    gone = writer.submit('{"first": 1}', 1)
    assert gone.cancel()  # the client disconnected while its payload waited
    writer.start()
    try:
        later = writer.submit('{"second": 1}', 1)
        assert later.result(timeout=10) == 2
        assert writer.thread.is_alive()
        assert [e.body for e in store.unprocessed()] == ['{"first": 1}', '{"second": 1}']
    finally:
        writer.stop()
