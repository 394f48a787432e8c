"""The embedded backend: one SQLite file in WAL mode, one connection per thread.

Writers take the write lock when their transaction begins (``BEGIN IMMEDIATE``), so the
store's read-then-write transactions never interleave, in one process or several.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ops_toolkit.serve.store.database import Dialect, Result

SQLITE = Dialect(
    name="sqlite",
    id_column="INTEGER PRIMARY KEY",
    real="REAL",
    bigint="INTEGER",
    lock_row="",
    skip_locked="",
)


def _create_private(path: str) -> None:
    """Create a new store file readable by its owner only (0600): it holds payloads, messages
    and diagnose output. SQLite gives its -wal and -shm files the database file's mode."""
    if path == ":memory:" or path.startswith("file:"):
        return
    with contextlib.suppress(OSError):  # it exists (kept as it is), or sqlite3 says why not
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600))


class SQLiteDatabase:
    """One SQLite file; each thread gets its own connection."""

    dialect = SQLITE

    def __init__(self, path: str, *, synchronous: str = "FULL") -> None:
        self.path = path
        self.shown = path
        self.synchronous = synchronous
        self._local = threading.local()
        _create_private(path)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={self.synchronous}")
        db.execute("PRAGMA busy_timeout=30000")
        return db

    @property
    def connection(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        connection: sqlite3.Connection | None = getattr(self._local, "db", None)
        if connection is None:
            connection = self._connect()
            self._local.db = connection
        return connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        return _run(self.connection, sql, params)

    @contextmanager
    def transaction(self) -> Iterator[_SQLiteTransaction]:
        db = self.connection
        db.execute("BEGIN IMMEDIATE")
        try:
            yield _SQLiteTransaction(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def probe_write(self, timeout: float) -> None:
        """In WAL mode reads go on while another process holds the write lock, so only
        taking the lock shows whether intake could commit now."""
        db = self.connection
        db.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")
        finally:
            db.execute("PRAGMA busy_timeout=30000")

    def close(self) -> None:
        connection: sqlite3.Connection | None = getattr(self._local, "db", None)
        if connection is not None:
            connection.close()
            self._local.db = None


class _SQLiteTransaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        return _run(self.db, sql, params)


def _run(db: sqlite3.Connection, sql: str, params: Sequence[Any]) -> Result:
    cursor = db.execute(sql, tuple(params))
    rows = cursor.fetchall() if cursor.description is not None else []
    return Result([tuple(row) for row in rows], cursor.rowcount)
