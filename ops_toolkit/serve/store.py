"""The escalation store: SQLite (WAL) holding the inbox, seen events, the outbox and threads.

A payload is in the inbox, committed, before the webhook is answered; processing it writes
its outbox entries and marks it done in one transaction; a delivered entry records its
message's ``ts`` in the same transaction that marks it sent. So a crash at any point loses
nothing, and replays find the work already done.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ops_toolkit.notify.model import Planned

SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY,
    received_at REAL NOT NULL,
    body TEXT NOT NULL,
    processed INTEGER NOT NULL DEFAULT 0,   -- 0 pending, 1 done, 2 dead letter
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS inbox_pending ON inbox(processed, id);
CREATE TABLE IF NOT EXISTS events (
    key TEXT PRIMARY KEY,
    seen_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    created_at REAL NOT NULL,
    group_key TEXT NOT NULL,
    channel TEXT NOT NULL,
    action TEXT NOT NULL,            -- post | reply | update
    message TEXT NOT NULL,           -- JSON: text and blocks
    status TEXT NOT NULL DEFAULT 'pending',   -- pending | sending | sent | dead
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error TEXT,
    ts TEXT,
    claimed_by TEXT,                 -- host:pid of the deliverer sending it
    claimed_at REAL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(status, next_attempt_at, id);
CREATE TABLE IF NOT EXISTS threads (
    group_key TEXT NOT NULL,
    channel TEXT NOT NULL,
    channel_id TEXT,
    ts TEXT,
    PRIMARY KEY (group_key, channel)
);
CREATE TABLE IF NOT EXISTS report_slots (
    name TEXT NOT NULL,
    slot REAL NOT NULL,
    posted INTEGER NOT NULL,         -- 0: the baseline recorded on first start
    recorded_at REAL NOT NULL,
    PRIMARY KEY (name, slot)
);
CREATE TABLE IF NOT EXISTS policy_state (
    slo TEXT NOT NULL,
    threshold REAL NOT NULL,
    armed INTEGER NOT NULL,
    changed_at REAL NOT NULL,
    PRIMARY KEY (slo, threshold)
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

PENDING = ("pending", "sending")
SEEN_CHUNK = 500
INBOX_COLUMNS = {  # added after the first release: stores written before get them on open
    "attempts": "INTEGER NOT NULL DEFAULT 0",
    "next_attempt_at": "REAL NOT NULL DEFAULT 0",
    "last_error": "TEXT",
}
COUNTER_NAMES = (
    "alerts_received",
    "duplicates_dropped",
    "messages_posted",
    "retries",
    "dead_letters",
    "inbox_retries",
    "inbox_dead_letters",
    "enrichment_failures",
    "bodies_refused",
)


@dataclass(frozen=True)
class InboxEntry:
    """A stored payload waiting to be processed (``attempts`` failed so far)."""

    id: int
    body: str
    attempts: int
    next_attempt_at: float


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    created_at: float
    group_key: str
    channel: str
    action: str
    message: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    ts: str | None
    claimed_by: str | None = None
    claimed_at: float | None = None


def _create_private(path: str) -> None:
    """Create a new store file readable by its owner only (0600): it holds payloads, messages
    and diagnose output. SQLite gives its -wal and -shm files the database file's mode."""
    if path == ":memory:" or path.startswith("file:"):
        return
    with contextlib.suppress(OSError):  # it exists (kept as it is), or sqlite3 says why not
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600))


class Store:
    """One SQLite file; each thread gets its own connection."""

    def __init__(self, path: str, *, synchronous: str = "FULL") -> None:
        self.path = path
        self.synchronous = synchronous
        self._local = threading.local()
        _create_private(path)
        try:
            with self._connect() as db:
                db.executescript(SCHEMA)
                have = {row[1] for row in db.execute("PRAGMA table_info(inbox)")}
                for name, kind in INBOX_COLUMNS.items():
                    if name not in have:
                        db.execute(f"ALTER TABLE inbox ADD COLUMN {name} {kind}")
        except sqlite3.Error as exc:
            from ops_toolkit.errors import ConfigError

            raise ConfigError(
                f"{path}: cannot open the store: {exc} (check serve.state in ops.yaml or --state)"
            ) from None

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={self.synchronous}")
        db.execute("PRAGMA busy_timeout=30000")
        return db

    @property
    def db(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "db", None)
        if connection is None:
            connection = self._connect()
            self._local.db = connection
        return connection

    def _transaction(self) -> Any:
        return _Transaction(self.db)

    def transaction(self) -> Any:
        """BEGIN IMMEDIATE ... COMMIT on this thread's connection (for escalations)."""
        return _Transaction(self.db)

    # -- intake --------------------------------------------------------------------------

    def accept(self, payloads: Sequence[tuple[str, int]], now: float) -> list[int]:
        """Commit (body, alert count) payloads to the inbox in one transaction; their ids."""
        with self._transaction() as db:
            ids = []
            for body, _ in payloads:
                cursor = db.execute(
                    "INSERT INTO inbox (received_at, body) VALUES (?, ?)", (now, body)
                )
                ids.append(int(cursor.lastrowid or 0))
            _bump(db, "alerts_received", sum(count for _, count in payloads))
        return ids

    def probe_write(self, timeout: float = 1.0) -> None:
        """Raise unless a write transaction can start within ``timeout`` (for /healthz).

        In WAL mode reads go on while another process holds the write lock, so only taking
        the lock shows whether intake could commit now.
        """
        db = self.db
        db.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")
        finally:
            db.execute("PRAGMA busy_timeout=30000")

    def inbox_depth(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM inbox WHERE processed = 0").fetchone()[0])

    def unprocessed(self, limit: int = 100) -> list[InboxEntry]:
        """Pending payloads in arrival order, including those waiting for a retry."""
        rows = self.db.execute(
            "SELECT id, body, attempts, next_attempt_at FROM inbox WHERE processed = 0 "
            "ORDER BY id LIMIT ?",
            (limit,),
        ).fetchall()
        return [InboxEntry(int(r[0]), str(r[1]), int(r[2]), float(r[3])) for r in rows]

    def retry_inbox(self, inbox_id: int, when: float, error: str) -> None:
        """A payload whose processing failed: try again at ``when``."""
        with self._transaction() as db:
            db.execute(
                "UPDATE inbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? "
                "WHERE id = ? AND processed = 0",
                (when, error, inbox_id),
            )
            _bump(db, "inbox_retries", 1)

    def kill_inbox(self, inbox_id: int, error: str) -> None:
        """A payload given up on: kept (with the reason) for 'ops outbox' and counted."""
        with self._transaction() as db:
            db.execute(
                "UPDATE inbox SET processed = 2, attempts = attempts + 1, last_error = ? "
                "WHERE id = ? AND processed = 0",
                (error, inbox_id),
            )
            _bump(db, "inbox_dead_letters", 1)

    def dead_inbox(self, limit: int = 200) -> list[tuple[int, float, str]]:
        """(id, received at, reason) of payloads given up on, newest first."""
        rows = self.db.execute(
            "SELECT id, received_at, last_error FROM inbox WHERE processed = 2 "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [(int(r[0]), float(r[1]), str(r[2] or "")) for r in rows]

    def requeue_inbox(self, ids: Sequence[int] | None, now: float) -> int:
        """Dead payloads back to processing (all when ``ids`` is None); how many."""
        where = "processed = 2"
        if ids is not None:
            where += f" AND id IN ({','.join('?' for _ in ids)})"
        with self._transaction() as db:
            cursor = db.execute(
                f"UPDATE inbox SET processed = 0, attempts = 0, next_attempt_at = ? WHERE {where}",
                (now, *(ids or ())),
            )
            return int(cursor.rowcount)

    def count(self, name: str, amount: int = 1) -> None:
        """Bump one of the counters shown in /metrics."""
        with self._transaction() as db:
            _bump(db, name, amount)

    def all_seen(self, keys: Sequence[str]) -> bool:
        """Whether every key was seen, asked in chunks: SQLite bounds the variables of one
        statement (32,766), and a webhook body may carry more alerts than that."""
        distinct = sorted(set(keys))
        for start in range(0, len(distinct), SEEN_CHUNK):
            chunk = distinct[start : start + SEEN_CHUNK]
            marks = ",".join("?" for _ in chunk)
            row = self.db.execute(
                f"SELECT COUNT(*) FROM events WHERE key IN ({marks})", chunk
            ).fetchone()
            if int(row[0]) != len(chunk):
                return False
        return bool(distinct)

    def thread_known(self, group_key: str, channel: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM threads WHERE group_key = ? AND channel = ?", (group_key, channel)
        ).fetchone()
        return row is not None

    def process(
        self, inbox_id: int, event_keys: Iterable[str], planned: Sequence[Planned], now: float
    ) -> bool:
        """Record a payload's events and outbox entries, once; False when all were seen."""
        with self._transaction() as db:
            if db.execute("SELECT processed FROM inbox WHERE id = ?", (inbox_id,)).fetchone()[0]:
                return False
            new = 0
            for key in event_keys:
                cursor = db.execute(
                    "INSERT OR IGNORE INTO events (key, seen_at) VALUES (?, ?)", (key, now)
                )
                new += cursor.rowcount
            if new:
                _insert_outbox(db, planned, now)
            else:
                _bump(db, "duplicates_dropped", 1)
            db.execute("UPDATE inbox SET processed = 1 WHERE id = ?", (inbox_id,))
            if new:
                db.execute(
                    "DELETE FROM inbox WHERE (processed = 1 AND received_at < ?) "
                    "OR (processed = 2 AND received_at < ?)",
                    (now - 86400, now - 30 * 86400),
                )
                # Alertmanager retries and repeats within hours; keys older than 30 days can go.
                db.execute("DELETE FROM events WHERE seen_at < ?", (now - 30 * 86400,))
        return bool(new)

    def enqueue(self, planned: Sequence[Planned], now: float) -> list[int]:
        """Outbox entries that do not come from a webhook (reports, policy notices)."""
        with self._transaction() as db:
            return _insert_outbox(db, planned, now)

    # -- schedules and policies --------------------------------------------------------

    def last_slot(self, name: str) -> float | None:
        row = self.db.execute(
            "SELECT MAX(slot) FROM report_slots WHERE name = ?", (name,)
        ).fetchone()
        return None if row[0] is None else float(row[0])

    def claim_slot(
        self, name: str, slot: float, planned: Sequence[Planned], now: float, *, post: bool = True
    ) -> list[int] | None:
        """Record a schedule's slot and its messages at once; None when the slot was taken."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO report_slots (name, slot, posted, recorded_at) VALUES (?, ?, ?, ?)",
                (name, slot, int(post), now),
            )
            if cursor.rowcount != 1:
                return None
            return _insert_outbox(db, planned, now) if post else []

    def policy_armed(self, slo: str, thresholds: Sequence[float]) -> dict[float, bool]:
        rows = dict(
            self.db.execute(
                "SELECT threshold, armed FROM policy_state WHERE slo = ?", (slo,)
            ).fetchall()
        )
        return {t: bool(rows.get(t, 1)) for t in thresholds}

    def policy_update(
        self, slo: str, armed: dict[float, bool], planned: Sequence[Planned], now: float
    ) -> None:
        """New armed states of a policy's thresholds, and the notices they fire, at once."""
        with self._transaction() as db:
            for threshold, state in armed.items():
                db.execute(
                    "INSERT INTO policy_state (slo, threshold, armed, changed_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(slo, threshold) DO UPDATE SET armed = excluded.armed, "
                    "changed_at = CASE WHEN armed != excluded.armed THEN excluded.changed_at ELSE changed_at END",
                    (slo, threshold, int(state), now),
                )
            _insert_outbox(db, planned, now)

    # -- delivery ------------------------------------------------------------------------

    def due(
        self, now: float, limit: int = 50, ids: Collection[int] | None = None
    ) -> list[OutboxEntry]:
        """Entries ready to send, oldest first, never ahead of an earlier one of their group."""
        rows = self.db.execute(
            """
            SELECT * FROM outbox AS o
            WHERE o.status IN ('pending', 'sending') AND o.next_attempt_at <= ?
              AND NOT EXISTS (
                SELECT 1 FROM outbox AS e
                WHERE e.group_key = o.group_key AND e.channel = o.channel AND e.id < o.id
                  AND e.status IN ('pending', 'sending'))
            ORDER BY o.id LIMIT ?
            """,
            (now, limit),
        ).fetchall()
        entries = [_entry(r) for r in rows]
        return entries if ids is None else [e for e in entries if e.id in ids]

    def next_due_at(self) -> float | None:
        row = self.db.execute(
            "SELECT MIN(next_attempt_at) FROM outbox WHERE status IN ('pending', 'sending')"
        ).fetchone()
        return None if row[0] is None else float(row[0])

    def claim(self, entry: OutboxEntry, me: str, now: float) -> bool:
        """Take ``entry`` for sending unless another deliverer took it first (compare and set)."""
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE outbox SET status = 'sending', attempts = attempts + 1, claimed_by = ?, "
                "claimed_at = ? WHERE id = ? AND status = ? AND COALESCE(claimed_by, '') = ?",
                (me, now, entry.id, entry.status, entry.claimed_by or ""),
            )
            return bool(cursor.rowcount == 1)

    def mark_sent(self, entry: OutboxEntry, ts: str, channel_id: str) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE outbox SET status = 'sent', ts = ?, last_error = NULL WHERE id = ?",
                (ts, entry.id),
            )
            if entry.action == "post":
                db.execute(
                    "UPDATE threads SET ts = ?, channel_id = ? WHERE group_key = ? AND channel = ?",
                    (ts, channel_id, entry.group_key, entry.channel),
                )
            _bump(db, "messages_posted", 1)

    def reschedule(
        self, entry_id: int, when: float, error: str, *, count_retry: bool = True
    ) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE outbox SET status = 'pending', next_attempt_at = ?, last_error = ? WHERE id = ?",
                (when, error, entry_id),
            )
            if count_retry:
                _bump(db, "retries", 1)

    def kill(self, entry_id: int, error: str) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE outbox SET status = 'dead', last_error = ? WHERE id = ?", (error, entry_id)
            )
            _bump(db, "dead_letters", 1)

    def thread(self, group_key: str, channel: str) -> tuple[str | None, str | None]:
        """(channel id, ts) of the message that opened a group's thread in ``channel``."""
        row = self.db.execute(
            "SELECT channel_id, ts FROM threads WHERE group_key = ? AND channel = ?",
            (group_key, channel),
        ).fetchone()
        return (None, None) if row is None else (row[0], row[1])

    def entries(self, statuses: Sequence[str] | None = None, limit: int = 200) -> list[OutboxEntry]:
        if statuses:
            marks = ",".join("?" for _ in statuses)
            rows = self.db.execute(
                f"SELECT * FROM outbox WHERE status IN ({marks}) ORDER BY id DESC LIMIT ?",
                (*statuses, limit),
            ).fetchall()
        else:
            rows = self.db.execute(
                "SELECT * FROM outbox ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [_entry(r) for r in rows]

    def entries_by_id(self, ids: Sequence[int]) -> dict[int, OutboxEntry]:
        """The entries with these ids (missing ids are absent), e.g. to say why one was not
        re-queued."""
        if not ids:
            return {}
        marks = ",".join("?" for _ in ids)
        rows = self.db.execute(f"SELECT * FROM outbox WHERE id IN ({marks})", tuple(ids))
        return {entry.id: entry for entry in map(_entry, rows.fetchall())}

    def requeue(self, ids: Sequence[int] | None, now: float) -> int:
        """Dead entries back to pending (all of them when ``ids`` is None); how many."""
        with self._transaction() as db:
            if ids is None:
                cursor = db.execute(
                    "UPDATE outbox SET status = 'pending', next_attempt_at = ?, created_at = ? "
                    "WHERE status = 'dead'",
                    (now, now),
                )
            else:
                marks = ",".join("?" for _ in ids)
                cursor = db.execute(
                    f"UPDATE outbox SET status = 'pending', next_attempt_at = ?, created_at = ? "
                    f"WHERE status = 'dead' AND id IN ({marks})",
                    (now, now, *ids),
                )
            return int(cursor.rowcount)

    def stats(self, now: float) -> dict[str, float]:
        depth, oldest = self.db.execute(
            "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE status IN ('pending', 'sending')"
        ).fetchone()
        dead = self.db.execute("SELECT COUNT(*) FROM outbox WHERE status = 'dead'").fetchone()[0]
        inbox_dead = self.db.execute("SELECT COUNT(*) FROM inbox WHERE processed = 2").fetchone()[0]
        counters = dict(self.db.execute("SELECT name, value FROM counters").fetchall())
        return {
            "outbox_depth": float(depth),
            "outbox_oldest_age_seconds": 0.0 if oldest is None else max(0.0, now - float(oldest)),
            "outbox_dead": float(dead),
            "inbox_depth": float(self.inbox_depth()),
            "inbox_dead": float(inbox_dead),
            **{name: float(counters.get(name, 0)) for name in COUNTER_NAMES},
        }


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")


def _insert_outbox(db: sqlite3.Connection, planned: Sequence[Planned], now: float) -> list[int]:
    ids = []
    for entry in planned:
        cursor = db.execute(
            "INSERT INTO outbox (created_at, group_key, channel, action, message, next_attempt_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (now, entry.group_key, entry.channel, entry.action, json.dumps(entry.message), now),
        )
        ids.append(int(cursor.lastrowid or 0))
        if entry.action == "post":
            db.execute(
                "INSERT OR IGNORE INTO threads (group_key, channel) VALUES (?, ?)",
                (entry.group_key, entry.channel),
            )
    return ids


def insert_outbox(db: sqlite3.Connection, planned: Sequence[Planned], now: float) -> list[int]:
    """Outbox entries inside a caller's transaction (escalation pages and status updates)."""
    return _insert_outbox(db, planned, now)


def _bump(db: sqlite3.Connection, name: str, amount: int) -> None:
    if amount:
        db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            (name, amount),
        )


def _entry(row: Sequence[Any]) -> OutboxEntry:
    return OutboxEntry(
        id=int(row[0]),
        created_at=float(row[1]),
        group_key=str(row[2]),
        channel=str(row[3]),
        action=str(row[4]),
        message=json.loads(row[5]),
        status=str(row[6]),
        attempts=int(row[7]),
        next_attempt_at=float(row[8]),
        last_error=row[9],
        ts=row[10],
        claimed_by=row[11],
        claimed_at=None if row[12] is None else float(row[12]),
    )
