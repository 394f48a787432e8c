"""The SQLite store's lock: replicas share it, a migration takes it alone."""

from __future__ import annotations

import os
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
        hold_for_serve(state)
    assert str(refused.value) == (
        f"{state}: 'ops store migrate' is moving this store (lock {state}.lock); "
        "start ops serve on the migration's target instead"
    )
    migration.release()
    hold_for_serve(state).release()
