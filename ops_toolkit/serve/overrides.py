"""Ad-hoc on-call overrides, kept in the ``ops serve`` store so every replica sees them.

``oncall.yaml`` holds the rotations (reviewed, in Git); an override made at 3 a.m. ("I'll
take tonight") is a row here, added by ``ops oncall override`` and removed by
``ops oncall override --remove ID``. The table lives in the escalation store (SQLite or
PostgreSQL; ``serve/store/schema.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ops_toolkit.escalate.schedule import Override
from ops_toolkit.serve.store import Store


class OverrideStore:
    def __init__(self, where: str | Store) -> None:
        """A ``--state`` value (a path or URL), or an open store (``ops serve``'s own)."""
        self.owned = isinstance(where, str)
        self.store = Store(where) if isinstance(where, str) else where

    def add(
        self, schedule: str, user: str, start: datetime, end: datetime, now: float, by: str
    ) -> int:
        result = self.store.execute(
            'INSERT INTO oncall_overrides (schedule, "user", starts_at, ends_at, created_at, '
            "created_by) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (schedule, user, start.timestamp(), end.timestamp(), now, by),
        )
        return int(result.scalar())

    def remove(self, override_id: int, now: float) -> str | None:
        """Remove an override; the schedule it belonged to, or None when there was none."""
        removed = self.store.execute(
            "UPDATE oncall_overrides SET removed_at = ? WHERE id = ? AND removed_at IS NULL "
            "RETURNING schedule",
            (now, override_id),
        ).scalar()
        return None if removed is None else str(removed)

    def overrides(self, schedule: str, start: float, end: float) -> list[Override]:
        """Overrides of ``schedule`` overlapping [start, end)."""
        rows = self.store.execute(
            'SELECT id, "user", starts_at, ends_at, created_at FROM oncall_overrides '
            "WHERE schedule = ? AND removed_at IS NULL AND starts_at < ? AND ends_at > ? "
            "ORDER BY id",
            (schedule, end, start),
        ).rows
        return [
            _override(override_id, user, s, e, created) for override_id, user, s, e, created in rows
        ]

    def listing(self, schedule: str | None, now: float) -> list[tuple[str, Override, str]]:
        """Overrides not yet over at ``now`` (of ``schedule``, or of every schedule), by start:
        (schedule, override with its id, who made it)."""
        rows = self.store.execute(
            'SELECT id, schedule, "user", starts_at, ends_at, created_at, created_by '
            "FROM oncall_overrides WHERE removed_at IS NULL AND ends_at > ? "
            "AND (? = '' OR schedule = ?) ORDER BY starts_at, id",
            (now, schedule or "", schedule or ""),
        ).rows
        return [
            (
                str(name),
                _override(override_id, user, s, e, created),
                str(by),
            )
            for override_id, name, user, s, e, created, by in rows
        ]

    def close(self) -> None:
        if self.owned:
            self.store.close()


def _override(override_id: Any, user: Any, starts: Any, ends: Any, created: Any) -> Override:
    """An ``Override`` from a row of ``oncall_overrides`` (times as unix seconds)."""
    return Override(
        str(user),
        datetime.fromtimestamp(float(starts), UTC),
        datetime.fromtimestamp(float(ends), UTC),
        created_at=float(created),
        id=int(override_id),
    )
