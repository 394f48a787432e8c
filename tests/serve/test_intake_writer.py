"""The group-commit writer outlives requests that went away, and retries a lost race."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from ops_toolkit.errors import StoreConflict
from ops_toolkit.serve.server import INTAKE_CONFLICT_RETRIES, GroupCommitWriter
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


class LosingStore(Store):
    """A real SQLite store whose group commits first lose ``losses`` races (a fake of the
    one thing SQLite cannot do: roll a writer back as PostgreSQL's deadlock check does)."""

    def __init__(self, path: str, losses: int) -> None:
        super().__init__(path)
        self.losses = losses

    def accept(self, payloads: Sequence[tuple[str, int]], now: float) -> list[int]:
        if self.losses:
            self.losses -= 1
            raise StoreConflict(f"{self.path}: deadlock with another writer (SQLSTATE 40P01)")
        return super().accept(payloads, now)


@pytest.mark.parametrize(
    ("losses", "outcome"),
    [
        (INTAKE_CONFLICT_RETRIES, 1),
        (INTAKE_CONFLICT_RETRIES + 1, "deadlock with another writer (SQLSTATE 40P01)"),
    ],
    ids=["committed on its last retry", "a 503 once the retries are spent"],
)
def test_a_lost_race_is_retried_in_place_a_bounded_number_of_times(
    tmp_path: Path, losses: int, outcome: int | str
) -> None:
    store = LosingStore(str(tmp_path / "state.db"), losses)
    writer = GroupCommitWriter(store, lambda: None)
    writer.start()
    try:
        future = writer.submit('{"first": 1}', 1)
        if isinstance(outcome, int):
            assert future.result(timeout=10) == outcome
        else:
            with pytest.raises(StoreConflict, match=re.escape(outcome)):
                future.result(timeout=10)
        assert writer.conflicts == INTAKE_CONFLICT_RETRIES
    finally:
        writer.stop()
