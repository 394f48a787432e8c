"""The store with payloads as large as a webhook body may be (32 MiB)."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

from ops_toolkit.serve.store import Store


def test_more_alerts_than_sqlite_takes_variables_are_checked_for_replays(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "state.db"), synchronous="OFF")
    # SQLite's own default (Debian builds allow 250,000): what most installations have
    store.db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 32_766)
    keys = [f"key-{index}" for index in range(40_000)]  # SQLite allows 32,766 per statement
    assert store.all_seen(keys) is False
    (first, again) = store.accept([("{}", 40_000), ("{}", 40_000)], 1000.0)
    assert store.process(first, keys, [], 1000.0) is True
    assert store.all_seen(keys) is True
    assert store.all_seen([*keys, "new"]) is False
    assert store.process(again, keys, [], 1001.0) is False


def test_a_new_store_and_its_wal_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    """Was: ops-state.db, -wal and -shm 0644 under umask 022 (they hold payloads, messages)."""
    old = os.umask(0o022)
    try:
        store = Store(str(tmp_path / "ops-state.db"))
        store.db.execute("SELECT count(*) FROM inbox").fetchone()
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == {"ops-state.db": 0o600, "ops-state.db-wal": 0o600, "ops-state.db-shm": 0o600}
