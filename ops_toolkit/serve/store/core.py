"""The escalation store: the inbox, seen events, the outbox, threads, slots and policies.

A payload is in the inbox, committed, before the webhook is answered; processing it writes
its outbox entries and marks it done in one transaction; a delivered entry records its
message's ``ts`` in the same transaction that marks it sent. So a crash at any point loses
nothing, and replays find the work already done.

One contract over two backends (``database.py``): SQLite, one ``ops serve``; PostgreSQL,
replicas sharing the database. Whatever must happen once across replicas is settled by the
database in the transaction that does it: unique keys (event keys, report slots),
compare-and-set (outbox claims, with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), and rows
locked before they are read and changed (an inbox payload, a policy's armed states).
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from ops_toolkit.errors import ConfigError
from ops_toolkit.notify.model import Planned
from ops_toolkit.serve.store.backends import open_database
from ops_toolkit.serve.store.database import Database, Result, Transaction
from ops_toolkit.serve.store.schema import migrate

PENDING = ("pending", "sending")
SEEN_CHUNK = 500
PRUNE_EVERY = 60.0  # seconds between removals of old inbox rows and event keys
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
    claimed_by: str | None = None  # the replica planning it now (``claim_inbox``)
    claimed_at: float | None = None


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


class Store:
    """The store ``ops serve`` keeps its state in: a SQLite file or a PostgreSQL database.

    ``where`` is a ``--state`` value (a path, ``sqlite:PATH``, ``postgresql://...``) or an
    open ``Database``. Opening applies the schema's migrations (``schema.py``).
    """

    def __init__(
        self, where: str | Database, *, synchronous: str = "FULL", busy_timeout: float = 30.0
    ) -> None:
        import sqlite3

        self.database = (
            open_database(where, synchronous=synchronous, busy_timeout=busy_timeout)
            if isinstance(where, str)
            else where
        )
        self.path = self.database.shown
        self._pruned_at = -math.inf  # when processing last removed old inbox rows and keys
        try:
            migrate(self.database)
        except sqlite3.Error as exc:
            self.database.close()
            raise ConfigError(
                f"{self.path}: cannot open the store: {exc} (check --state, OPS_STATE, or "
                "serve.state in ops.yaml)"
            ) from None
        except BaseException:
            self.database.close()
            raise

    @property
    def kind(self) -> str:
        """The backend: ``sqlite`` or ``postgresql``."""
        return self.database.dialect.name

    @property
    def db(self) -> Any:
        """This thread's SQLite connection (SQLite only: for tests that reach under the store)."""
        return self.database.connection  # type: ignore[attr-defined]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        """One statement in a transaction of its own (``?`` placeholders)."""
        return self.database.execute(sql, params)

    def transaction(self) -> AbstractContextManager[Transaction]:
        """A write transaction (for escalations and overrides, which keep their SQL)."""
        return self.database.transaction()

    def close(self) -> None:
        self.database.close()

    # -- intake --------------------------------------------------------------------------

    def accept(self, payloads: Sequence[tuple[str, int]], now: float) -> list[int]:
        """Commit (body, alert count) payloads to the inbox in one transaction; their ids.

        Webhooks wait for this commit: it goes before the loops' waiting writes (``urgent``).
        """
        with self.database.transaction(urgent=True) as db:
            ids = [
                int(
                    db.execute(
                        "INSERT INTO inbox (received_at, body) VALUES (?, ?) RETURNING id",
                        (now, body),
                    ).scalar()
                )
                for body, _ in payloads
            ]
            _bump(db, "alerts_received", sum(count for _, count in payloads))
        return ids

    def probe_write(self, timeout: float = 1.0) -> None:
        """Raise unless a write transaction can start within ``timeout`` (for /healthz)."""
        self.database.probe_write(timeout)

    def inbox_depth(self) -> int:
        return int(self.execute("SELECT COUNT(*) FROM inbox WHERE processed = 0").scalar())

    def unprocessed(self, limit: int = 100) -> list[InboxEntry]:
        """Pending payloads in arrival order, including those waiting for a retry."""
        rows = self.execute(
            "SELECT id, body, attempts, next_attempt_at, claimed_by, claimed_at FROM inbox "
            "WHERE processed = 0 ORDER BY id LIMIT ?",
            (limit,),
        ).rows
        return [
            InboxEntry(
                int(r[0]),
                str(r[1]),
                int(r[2]),
                float(r[3]),
                None if r[4] is None else str(r[4]),
                None if r[5] is None else float(r[5]),
            )
            for r in rows
        ]

    def claim_inbox(self, entry: InboxEntry, me: str, now: float) -> bool:
        """Take a pending payload to plan it: True when this call took it.

        Compare-and-set on the holder ``entry`` was read with, as outbox claims are: of two
        replicas that read it unclaimed (or held by a replica that is gone) one takes it,
        the other's update finds another holder and changes nothing. Not flushed at its
        commit: a claim a power loss undoes only lets the payload be planned again, and its
        processing is recorded once (``process``) whoever plans it.
        """
        with self.database.transaction(sync=False) as db:
            result = db.execute(
                "UPDATE inbox SET claimed_by = ?, claimed_at = ? "
                "WHERE id = ? AND processed = 0 AND COALESCE(claimed_by, '') = ?",
                (me, now, entry.id, entry.claimed_by or ""),
            )
            return int(result.rowcount) == 1

    def retry_inbox(self, inbox_id: int, when: float, error: str) -> None:
        """A payload whose processing failed: try again at ``when``."""
        with self.transaction() as db:
            db.execute(
                "UPDATE inbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?, "
                "claimed_by = NULL, claimed_at = NULL WHERE id = ? AND processed = 0",
                (when, error, inbox_id),
            )
            _bump(db, "inbox_retries", 1)

    def kill_inbox(self, inbox_id: int, error: str) -> None:
        """A payload given up on: kept (with the reason) for 'ops outbox' and counted."""
        with self.transaction() as db:
            db.execute(
                "UPDATE inbox SET processed = 2, attempts = attempts + 1, last_error = ? "
                "WHERE id = ? AND processed = 0",
                (error, inbox_id),
            )
            _bump(db, "inbox_dead_letters", 1)

    def dead_inbox(self, limit: int = 200) -> list[tuple[int, float, str]]:
        """(id, received at, reason) of payloads given up on, newest first."""
        rows = self.execute(
            "SELECT id, received_at, last_error FROM inbox WHERE processed = 2 "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        ).rows
        return [(int(r[0]), float(r[1]), str(r[2] or "")) for r in rows]

    def requeue_inbox(self, ids: Sequence[int] | None, now: float) -> int:
        """Dead payloads back to processing (all when ``ids`` is None); how many."""
        where = "processed = 2"
        if ids is not None:
            where += f" AND id IN ({','.join('?' for _ in ids)})"
        with self.transaction() as db:
            result = db.execute(
                "UPDATE inbox SET processed = 0, attempts = 0, next_attempt_at = ?, "
                f"claimed_by = NULL, claimed_at = NULL WHERE {where}",
                (now, *(ids or ())),
            )
            return int(result.rowcount)

    def count(self, name: str, amount: int = 1) -> None:
        """Bump one of the counters shown in /metrics."""
        with self.transaction() as db:
            _bump(db, name, amount)

    def all_seen(self, keys: Sequence[str]) -> bool:
        """Whether every key was seen, asked in chunks: SQLite bounds the variables of one
        statement (32,766), and a webhook body may carry more alerts than that."""
        distinct = sorted(set(keys))
        for start in range(0, len(distinct), SEEN_CHUNK):
            chunk = distinct[start : start + SEEN_CHUNK]
            marks = ",".join("?" for _ in chunk)
            seen = self.execute(f"SELECT COUNT(*) FROM events WHERE key IN ({marks})", chunk)
            if int(seen.scalar()) != len(chunk):
                return False
        return bool(distinct)

    def thread_known(self, group_key: str, channel: str) -> bool:
        row = self.execute(
            "SELECT 1 FROM threads WHERE group_key = ? AND channel = ?", (group_key, channel)
        ).fetchone()
        return row is not None

    def process(
        self, inbox_id: int, event_keys: Iterable[str], planned: Sequence[Planned], now: float
    ) -> bool:
        """Record a payload's events and outbox entries, once; False when all were seen.

        The payload's row is locked first, so two replicas processing it at once do it
        once; event keys go in sorted, so two payloads sharing keys never deadlock.
        """
        lock = self.database.dialect.lock_row
        # Not flushed at its commit (``sync=False``): undone by a power loss, the payload is
        # processed again from the inbox, and nothing went out meanwhile, since the claim of
        # an outbox entry is a flushed commit, which takes this one along.
        with self.database.transaction(sync=False) as db:
            if db.execute(f"SELECT processed FROM inbox WHERE id = ?{lock}", (inbox_id,)).scalar():
                return False
            # One batch for the keys: on PostgreSQL one round trip instead of one per key.
            keys = sorted(set(event_keys))
            new = (
                db.executemany(
                    "INSERT INTO events (key, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    [(key, now) for key in keys],
                )
                if keys
                else 0
            )
            if new:
                _insert_outbox(db, planned, now)
            else:
                _bump(db, "duplicates_dropped", 1)
            db.execute("UPDATE inbox SET processed = 1 WHERE id = ?", (inbox_id,))
            if new and now - self._pruned_at >= PRUNE_EVERY:
                # Old rows go once a minute, not with every payload: two statements (two
                # round trips on PostgreSQL) of a payload's twenty (issue 15).
                self._pruned_at = now
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
        with self.transaction() as db:
            return _insert_outbox(db, planned, now)

    # -- schedules and policies --------------------------------------------------------

    def last_slot(self, name: str) -> float | None:
        value = self.execute("SELECT MAX(slot) FROM report_slots WHERE name = ?", (name,)).scalar()
        return None if value is None else float(value)

    def slots(self, name: str) -> list[tuple[float, bool]]:
        """(slot, posted) of a schedule, oldest first."""
        rows = self.execute(
            "SELECT slot, posted FROM report_slots WHERE name = ? ORDER BY slot", (name,)
        ).rows
        return [(float(slot), bool(posted)) for slot, posted in rows]

    def claim_slot(
        self, name: str, slot: float, planned: Sequence[Planned], now: float, *, post: bool = True
    ) -> list[int] | None:
        """Record a schedule's slot and its messages at once; None when the slot was taken."""
        with self.transaction() as db:
            result = db.execute(
                "INSERT INTO report_slots (name, slot, posted, recorded_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING",
                (name, slot, int(post), now),
            )
            if result.rowcount != 1:
                return None
            return _insert_outbox(db, planned, now) if post else []

    def policy_armed(self, slo: str, thresholds: Sequence[float]) -> dict[float, bool]:
        rows = dict(
            self.execute("SELECT threshold, armed FROM policy_state WHERE slo = ?", (slo,)).rows
        )
        return {t: bool(rows.get(t, 1)) for t in thresholds}

    def policy_update(
        self, slo: str, armed: dict[float, bool], planned: Sequence[Planned], now: float
    ) -> bool:
        """New armed states of a policy's thresholds, and the notices they fire, at once.

        The notices go out only when this call changes a state: a replica that read the
        same budget a moment after another finds the states already changed, and sends
        nothing. False when nothing changed.
        """
        lock = self.database.dialect.lock_row
        with self.transaction() as db:
            for threshold in sorted(armed):
                db.execute(
                    "INSERT INTO policy_state (slo, threshold, armed, changed_at) "
                    "VALUES (?, ?, 1, ?) ON CONFLICT DO NOTHING",
                    (slo, threshold, now),
                )
            marks = ",".join("?" for _ in armed)
            stored = dict(
                db.execute(
                    f"SELECT threshold, armed FROM policy_state WHERE slo = ? AND threshold IN "
                    f"({marks}) ORDER BY threshold{lock}",
                    (slo, *sorted(armed)),
                ).rows
            )
            changed = [t for t, state in armed.items() if bool(stored.get(t, 1)) != state]
            for threshold in changed:
                db.execute(
                    "UPDATE policy_state SET armed = ?, changed_at = ? "
                    "WHERE slo = ? AND threshold = ?",
                    (int(armed[threshold]), now, slo, threshold),
                )
            if changed:
                _insert_outbox(db, planned, now)
        return bool(changed)

    # -- delivery ------------------------------------------------------------------------

    def due(
        self,
        now: float,
        limit: int = 50,
        ids: Collection[int] | None = None,
        *,
        skip_channels: Collection[str] = (),
    ) -> list[OutboxEntry]:
        """Entries ready to send, oldest first, never ahead of an earlier one of their group.

        ``skip_channels``: channels the deliverer may not send to yet (paced, or told to wait
        by a 429). Left out here, a backlog in one of them neither hides another channel's
        entries behind ``limit`` nor costs a read (and a JSON decoding) of each of its entries
        every time the deliverer wakes.
        """
        skipped = sorted(skip_channels)
        not_in = f" AND o.channel NOT IN ({','.join('?' for _ in skipped)})" if skipped else ""
        rows = self.execute(
            f"""
            SELECT {OUTBOX_COLUMNS} FROM outbox AS o
            WHERE o.status IN ('pending', 'sending') AND o.next_attempt_at <= ?{not_in}
              AND NOT EXISTS (
                SELECT 1 FROM outbox AS e
                WHERE e.group_key = o.group_key AND e.channel = o.channel AND e.id < o.id
                  AND e.status IN ('pending', 'sending'))
            ORDER BY o.id LIMIT ?
            """,
            (now, *skipped, limit),
        ).rows
        entries = [_entry(r) for r in rows]
        return entries if ids is None else [e for e in entries if e.id in ids]

    def next_due_at(self, *, skip_channels: Collection[str] = ()) -> float | None:
        """When the next entry outside ``skip_channels`` is due (None: there is none)."""
        skipped = sorted(skip_channels)
        not_in = f" AND channel NOT IN ({','.join('?' for _ in skipped)})" if skipped else ""
        value = self.execute(
            f"SELECT MIN(next_attempt_at) FROM outbox WHERE status IN ('pending', 'sending')"
            f"{not_in}",
            skipped,
        ).scalar()
        return None if value is None else float(value)

    def claim(self, entry: OutboxEntry, me: str, now: float) -> bool:
        """Take ``entry`` for sending unless another deliverer took it first (compare and set).

        On PostgreSQL the entry is locked with ``SKIP LOCKED``: a replica never waits on an
        entry another one is claiming, it moves on.
        """
        with self.transaction() as db:
            result = db.execute(
                "UPDATE outbox SET status = 'sending', attempts = attempts + 1, claimed_by = ?, "
                "claimed_at = ? WHERE id = (SELECT id FROM outbox WHERE id = ? AND status = ? "
                f"AND COALESCE(claimed_by, '') = ?{self.database.dialect.skip_locked})",
                (me, now, entry.id, entry.status, entry.claimed_by or ""),
            )
            return bool(result.rowcount == 1)

    def mark_sent(self, entry: OutboxEntry, ts: str, channel_id: str) -> None:
        with self.transaction() as db:
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
        with self.transaction() as db:
            db.execute(
                "UPDATE outbox SET status = 'pending', next_attempt_at = ?, last_error = ? WHERE id = ?",
                (when, error, entry_id),
            )
            if count_retry:
                _bump(db, "retries", 1)

    def kill(self, entry_id: int, error: str) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE outbox SET status = 'dead', last_error = ? WHERE id = ?", (error, entry_id)
            )
            _bump(db, "dead_letters", 1)

    def thread(self, group_key: str, channel: str) -> tuple[str | None, str | None]:
        """(channel id, ts) of the message that opened a group's thread in ``channel``."""
        row = self.execute(
            "SELECT channel_id, ts FROM threads WHERE group_key = ? AND channel = ?",
            (group_key, channel),
        ).fetchone()
        return (None, None) if row is None else (row[0], row[1])

    def entries(self, statuses: Sequence[str] | None = None, limit: int = 200) -> list[OutboxEntry]:
        if statuses:
            marks = ",".join("?" for _ in statuses)
            rows = self.execute(
                f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE status IN ({marks}) "
                "ORDER BY id DESC LIMIT ?",
                (*statuses, limit),
            ).rows
        else:
            rows = self.execute(
                f"SELECT {OUTBOX_COLUMNS} FROM outbox ORDER BY id DESC LIMIT ?", (limit,)
            ).rows
        return [_entry(r) for r in rows]

    def entries_by_id(self, ids: Sequence[int]) -> dict[int, OutboxEntry]:
        """The entries with these ids (missing ids are absent), e.g. to say why one was not
        re-queued."""
        if not ids:
            return {}
        marks = ",".join("?" for _ in ids)
        rows = self.execute(
            f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id IN ({marks})", tuple(ids)
        ).rows
        return {entry.id: entry for entry in map(_entry, rows)}

    def requeue(self, ids: Sequence[int] | None, now: float) -> int:
        """Dead entries back to pending (all of them when ``ids`` is None); how many."""
        with self.transaction() as db:
            if ids is None:
                result = db.execute(
                    "UPDATE outbox SET status = 'pending', next_attempt_at = ?, created_at = ? "
                    "WHERE status = 'dead'",
                    (now, now),
                )
            else:
                marks = ",".join("?" for _ in ids)
                result = db.execute(
                    f"UPDATE outbox SET status = 'pending', next_attempt_at = ?, created_at = ? "
                    f"WHERE status = 'dead' AND id IN ({marks})",
                    (now, now, *ids),
                )
            return int(result.rowcount)

    def stats(self, now: float) -> dict[str, float]:
        depth, oldest = self.execute(
            "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE status IN ('pending', 'sending')"
        ).rows[0]
        dead = self.execute("SELECT COUNT(*) FROM outbox WHERE status = 'dead'").scalar()
        inbox_dead = self.execute("SELECT COUNT(*) FROM inbox WHERE processed = 2").scalar()
        counters = dict(self.execute("SELECT name, value FROM counters").rows)
        return {
            "outbox_depth": float(depth),
            "outbox_oldest_age_seconds": 0.0 if oldest is None else max(0.0, now - float(oldest)),
            "outbox_dead": float(dead),
            "inbox_depth": float(self.inbox_depth()),
            "inbox_dead": float(inbox_dead),
            **{name: float(counters.get(name, 0)) for name in COUNTER_NAMES},
        }


OUTBOX_COLUMNS = (
    "id, created_at, group_key, channel, action, message, status, attempts, next_attempt_at, "
    "last_error, ts, claimed_by, claimed_at"
)


def _insert_outbox(db: Transaction, planned: Sequence[Planned], now: float) -> list[int]:
    ids = []
    for entry in planned:
        result = db.execute(
            "INSERT INTO outbox (created_at, group_key, channel, action, message, next_attempt_at) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (now, entry.group_key, entry.channel, entry.action, json.dumps(entry.message), now),
        )
        ids.append(int(result.scalar()))
        if entry.action == "post":
            db.execute(
                "INSERT INTO threads (group_key, channel) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (entry.group_key, entry.channel),
            )
    return ids


def insert_outbox(db: Transaction, planned: Sequence[Planned], now: float) -> list[int]:
    """Outbox entries inside a caller's transaction (escalation pages and status updates)."""
    return _insert_outbox(db, planned, now)


def _bump(db: Transaction, name: str, amount: int) -> None:
    if amount:
        db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = counters.value + excluded.value",
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
