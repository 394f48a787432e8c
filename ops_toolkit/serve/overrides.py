"""Ad-hoc on-call overrides, kept in the ``ops serve`` store so every replica sees them.

``oncall.yaml`` holds the rotations (reviewed, in Git); an override made at 3 a.m. ("I'll
take tonight") is a row here, added by ``ops oncall override`` and removed by
``ops oncall override --remove ID``. The table lives in the same SQLite file as the
escalation store.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from ops_toolkit.escalate.schedule import Override

SCHEMA = """
CREATE TABLE IF NOT EXISTS oncall_overrides (
    id INTEGER PRIMARY KEY,
    schedule TEXT NOT NULL,
    user TEXT NOT NULL,
    starts_at REAL NOT NULL,
    ends_at REAL NOT NULL,
    created_at REAL NOT NULL,
    created_by TEXT NOT NULL,
    removed_at REAL
);
CREATE INDEX IF NOT EXISTS oncall_overrides_by_schedule
    ON oncall_overrides(schedule, ends_at);
"""


class OverrideStore:
    def __init__(self, where: str | sqlite3.Connection) -> None:
        """A store file's path, or an open connection to it (``ops serve``'s own)."""
        if isinstance(where, sqlite3.Connection):
            self.db = where
            return
        self.db = sqlite3.connect(where, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA busy_timeout=30000")
        self.db.executescript(SCHEMA)

    def add(
        self, schedule: str, user: str, start: datetime, end: datetime, now: float, by: str
    ) -> int:
        cursor = self.db.execute(
            "INSERT INTO oncall_overrides (schedule, user, starts_at, ends_at, created_at, "
            "created_by) VALUES (?, ?, ?, ?, ?, ?)",
            (schedule, user, start.timestamp(), end.timestamp(), now, by),
        )
        return int(cursor.lastrowid or 0)

    def remove(self, override_id: int, now: float) -> str | None:
        """Remove an override; the schedule it belonged to, or None when there was none."""
        row = self.db.execute(
            "SELECT schedule FROM oncall_overrides WHERE id = ? AND removed_at IS NULL",
            (override_id,),
        ).fetchone()
        if row is None:
            return None
        self.db.execute(
            "UPDATE oncall_overrides SET removed_at = ? WHERE id = ?", (now, override_id)
        )
        return str(row[0])

    def overrides(self, schedule: str, start: float, end: float) -> list[Override]:
        """Overrides of ``schedule`` overlapping [start, end)."""
        rows = self.db.execute(
            "SELECT id, user, starts_at, ends_at, created_at FROM oncall_overrides "
            "WHERE schedule = ? AND removed_at IS NULL AND starts_at < ? AND ends_at > ? "
            "ORDER BY id",
            (schedule, end, start),
        ).fetchall()
        return [
            Override(
                str(user),
                datetime.fromtimestamp(float(s), UTC),
                datetime.fromtimestamp(float(e), UTC),
                created_at=float(created),
                id=int(override_id),
            )
            for override_id, user, s, e, created in rows
        ]

    def close(self) -> None:
        self.db.close()
