"""What the store needs from a database, whichever it is: statements, transactions, a probe.

The store's SQL is written once, with ``?`` placeholders, in the subset SQLite and
PostgreSQL share (``INSERT ... ON CONFLICT``, ``RETURNING``); a ``Dialect`` supplies the few
words that differ (column types, ``FOR UPDATE SKIP LOCKED``). Results are read whole
before the statement returns, so a pooled connection goes back to its pool at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Dialect:
    """The words of SQL that differ between the backends."""

    name: str
    id_column: str  # an integer key the database assigns
    real: str  # a double-precision float (times in unix seconds)
    bigint: str  # a 64-bit integer (counters)
    lock_row: str  # appended to a SELECT that reads a row before changing it
    skip_locked: str  # appended to a SELECT that claims rows another replica may be claiming


@dataclass
class Result:
    """A statement's rows (read whole) and the number of rows it changed."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    rowcount: int = 0

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows

    def scalar(self) -> Any:
        """The first column of the first row (None when there is no row)."""
        return self.rows[0][0] if self.rows else None


class Transaction(Protocol):
    """Statements inside one transaction: all committed at its end, or none."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """One statement (no result rows) for each of ``rows``; the rows changed in all.
        PostgreSQL sends them in one round trip (psycopg's pipeline), not one each."""
        ...


class Database(Protocol):
    """One backend's connection(s) to one store."""

    dialect: Dialect
    shown: str  # the store's location for messages: the URL without its password

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        """One statement in a transaction of its own."""
        ...

    def transaction(
        self, *, urgent: bool = False, sync: bool = True
    ) -> AbstractContextManager[Transaction]:
        """A write transaction: SQLite takes the write lock at its start (BEGIN IMMEDIATE),
        so read-then-write inside is safe; on PostgreSQL lock rows with ``lock_row``.
        ``urgent``: requests wait for it (the intake's commit); SQLite starts it before the
        other writers of the process that wait (PostgreSQL has no single write lock).

        ``sync=False``: the commit returns before it is flushed to disk (SQLite's
        synchronous=NORMAL in WAL mode, PostgreSQL's synchronous_commit off). The database
        stays consistent, and the next flushed commit flushes it too (one log, written in
        order), but a power loss before that may undo it. Only for work that is redone from
        what is on disk when undone, and that nothing outside acts on before a flushed
        commit: the processing of a stored payload (the payload stays unprocessed; the
        deliverer's claim is flushed before anything is sent)."""
        ...

    def probe_write(self, timeout: float) -> None:
        """Raise unless a write transaction could commit now (for /healthz)."""
        ...

    def close(self) -> None: ...
