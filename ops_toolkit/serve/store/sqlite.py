"""The embedded backend: one SQLite file in WAL mode, one connection per thread.

Writers take the write lock when their transaction begins (``BEGIN IMMEDIATE``), so the
store's read-then-write transactions never interleave, in one process or several.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ops_toolkit.errors import ConfigError, StoreBusy
from ops_toolkit.serve.store.database import Dialect, Result

log = logging.getLogger("ops.serve")
BUSY_TIMEOUT = 30.0  # seconds a writer waits for another connection's lock (store.busy_timeout)

SQLITE = Dialect(
    name="sqlite",
    id_column="INTEGER PRIMARY KEY",
    real="REAL",
    bigint="INTEGER",
    lock_row="",
    skip_locked="",
)


def make_folder(path: str) -> None:
    """Create the missing folder of the store file at ``path`` (and its lock), its owner's
    only (0700), as the file is: ``serve.state: state/ops.db`` in a fresh checkout once
    failed with "state/ops.db.lock: cannot open the store's lock: No such file or
    directory"."""
    folder = os.path.dirname(path)
    if not folder or os.path.isdir(folder):
        return
    try:
        os.makedirs(folder, mode=0o700)
    except FileExistsError:
        if not os.path.isdir(folder):
            raise ConfigError(f"{path}: {folder} is a file, not a folder") from None
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot create its folder {folder}: {exc.strerror or exc}"
        ) from None
    log.info("created the store's folder %s (mode 0700)", folder)


def _create_private(path: str) -> None:
    """Create a new store file readable by its owner only (0600): it holds payloads, messages
    and diagnose output. SQLite gives its -wal and -shm files the database file's mode."""
    if path == ":memory:" or path.startswith("file:"):
        return
    make_folder(path)
    with contextlib.suppress(OSError):  # it exists (kept as it is), or sqlite3 says why not
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600))


class SQLiteDatabase:
    """One SQLite file; each thread gets its own connection."""

    dialect = SQLITE

    def __init__(
        self, path: str, *, synchronous: str = "FULL", busy_timeout: float = BUSY_TIMEOUT
    ) -> None:
        self.path = path
        self.shown = path
        self.synchronous = synchronous
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._turn = _WriteTurn()
        # A commit not flushed at once (``sync=False``): NORMAL, unless the store is set to
        # flush less than that anyway (OFF, for throwaway stores).
        self._lazy = "OFF" if synchronous.upper() in ("OFF", "0") else "NORMAL"
        _create_private(path)

    def _connect(self) -> sqlite3.Connection:
        with self._busy_is_contention():
            db = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={self.synchronous}")
            db.execute(f"PRAGMA busy_timeout={self._busy_ms}")
        return db

    @property
    def _busy_ms(self) -> int:
        """At least 1 ms: a positive timeout under half a millisecond rounded to 0, which
        SQLite reads as "do not wait at all"."""
        return max(1, round(self.busy_timeout * 1000))

    @contextmanager
    def _busy_is_contention(self, waited: str | None = None) -> Iterator[None]:
        """SQLite's "database is locked" after the busy timeout as ``StoreBusy``: another
        connection holds the write lock (contention), which the loops and intake retry,
        not an outage nor a payload's fault."""
        try:
            yield
        except sqlite3.OperationalError as error:
            if not is_busy(error):
                raise
            waited = waited or f"store.busy_timeout ({self.busy_timeout:g}s)"
            raise StoreBusy(
                f"{self.shown}: busy: another connection held the write lock past {waited}"
            ) from None

    @property
    def connection(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use)."""
        connection: sqlite3.Connection | None = getattr(self._local, "db", None)
        if connection is None:
            connection = self._connect()
            self._local.db = connection
            self._local.synchronous = self.synchronous
        return connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        with self._busy_is_contention():
            return _run(self.connection, sql, params)

    @contextmanager
    def transaction(
        self, *, urgent: bool = False, sync: bool = True
    ) -> Iterator[_SQLiteTransaction]:
        """In this process's turn to write (``_WriteTurn``), the intake's first. A COMMIT
        that fails (busy) rolls back too: the connection is never left in a transaction."""
        with self._busy_is_contention():
            db = self.connection
            self._turn.acquire(urgent=urgent)
            try:
                self._synchronous(db, self.synchronous if sync else self._lazy)
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield _SQLiteTransaction(db)
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            finally:
                self._turn.release()

    def _synchronous(self, db: sqlite3.Connection, level: str) -> None:
        """Set this thread's connection's synchronous level, when it is another (a pragma
        outside a transaction; the level is per connection)."""
        if getattr(self._local, "synchronous", self.synchronous) != level:
            db.execute(f"PRAGMA synchronous={level}")
            self._local.synchronous = level

    def probe_write(self, timeout: float) -> None:
        """In WAL mode reads go on while another process holds the write lock, so only
        taking the lock shows whether intake could commit now."""
        with self._busy_is_contention(f"{timeout:g}s"):
            db = self.connection
            if not self._turn.acquire(timeout=timeout):
                raise StoreBusy(
                    f"{self.shown}: busy: a writer of this process held the write lock "
                    f"past {timeout:g}s"
                )
            db.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
            try:
                db.execute("BEGIN IMMEDIATE")
                db.execute("ROLLBACK")
            finally:
                db.execute(f"PRAGMA busy_timeout={self._busy_ms}")
                self._turn.release()

    def close(self) -> None:
        connection: sqlite3.Connection | None = getattr(self._local, "db", None)
        if connection is not None:
            connection.close()
            self._local.db = None


def is_busy(error: sqlite3.Error) -> bool:
    """Whether ``error`` is SQLITE_BUSY or SQLITE_LOCKED (any extended code): a lock another
    connection holds, not a broken store."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "database is locked" in str(error)


class _SQLiteTransaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        return _run(self.db, sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        return int(self.db.executemany(sql, rows).rowcount)


def _run(db: sqlite3.Connection, sql: str, params: Sequence[Any]) -> Result:
    cursor = db.execute(sql, tuple(params))
    rows = cursor.fetchall() if cursor.description is not None else []
    return Result([tuple(row) for row in rows], cursor.rowcount)


class _WriteTurn:
    """Whose turn it is to write, among the threads of this process; intake goes first.

    The threads of ``ops serve`` (intake writer, processing, delivery, timers) each have a
    connection, and SQLite lets one write at a time. Left to SQLite, a writer that finds the
    lock taken sleeps in its busy handler (1, 2, 5, ... up to 100 ms between tries) however
    soon the lock is free: that sleep was most of the intake's p99 (issue 15). Waiting here
    instead, the next writer starts as soon as the last one commits, and an ``urgent`` one
    (the intake's group commit, which webhooks wait for) before the loops that are waiting:
    a webhook waits for at most the one transaction under way. Other processes (the CLI on
    the same file) still meet SQLite's busy timeout. Re-entrant, like a lock would be.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._owner: int | None = None
        self._depth = 0
        self._urgent = 0

    def acquire(self, *, urgent: bool = False, timeout: float | None = None) -> bool:
        me = threading.get_ident()
        with self._changed:
            if self._owner == me:
                self._depth += 1
                return True
            self._urgent += urgent
            try:
                free = self._changed.wait_for(
                    lambda: self._owner is None and (urgent or not self._urgent), timeout
                )
            finally:
                self._urgent -= urgent
                if urgent:
                    self._changed.notify_all()  # the loops may go when no intake waits
            if not free:
                return False
            self._owner, self._depth = me, 1
            return True

    def release(self) -> None:
        with self._changed:
            self._depth -= 1
            if not self._depth:
                self._owner = None
                self._changed.notify_all()
