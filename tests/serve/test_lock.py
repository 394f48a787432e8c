"""The SQLite store's lock: replicas share it, a migration takes it alone."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

import pytest

from ops_toolkit.errors import ConfigError
from ops_toolkit.serve.lock import hold_alone, hold_for_serve


def test_replicas_share_the_store_and_a_migration_waits_for_all_of_them(tmp_path: Path) -> None:
    state = str(tmp_path / "state.db")
    first, second = hold_for_serve(state), hold_for_serve(state)
    with pytest.raises(ConfigError) as refused:
        hold_alone(state)
    assert str(refused.value) == (
        f"{state}: ops serve (pid {os.getpid()}) holds this store; stop every ops serve on it, "
        "then migrate"
    )
    first.release()
    with pytest.raises(ConfigError):
        hold_alone(state)
    second.release()
    hold_alone(state).release()


def test_ops_serve_does_not_start_on_a_store_being_migrated(tmp_path: Path) -> None:
    state = str(tmp_path / "state.db")
    migration = hold_alone(state)
    with pytest.raises(ConfigError) as refused:
        hold_for_serve(state, patience=0.2)
    assert str(refused.value) == (
        f"{state}: 'ops store migrate' is moving this store (lock {state}.lock); "
        "start ops serve on the migration's target instead"
    )
    migration.release()
    hold_for_serve(state).release()


def test_a_replica_starting_while_another_clears_the_pids_is_not_taken_for_a_migration(
    tmp_path: Path,
) -> None:
    """Two replicas started together: one held the lock alone for an instant (clearing the
    old pids) just as the other asked for its shared lock, and the other refused to start,
    saying a migration ran (seen in bench/intake.py's two replicas on one SQLite file)."""
    state = str(tmp_path / "state.db")
    sibling = os.open(f"{state}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(sibling, fcntl.LOCK_EX)
    let_go = threading.Timer(0.3, lambda: fcntl.flock(sibling, fcntl.LOCK_SH))
    let_go.start()
    try:
        held = hold_for_serve(state)
    finally:
        let_go.join()
    held.release()
    os.close(sibling)
