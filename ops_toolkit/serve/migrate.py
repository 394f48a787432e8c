"""Moving an installation from its SQLite store to PostgreSQL (``ops store migrate``).

The cutover is: stop ``ops serve``, migrate, start the replicas on PostgreSQL. Everything
the store holds moves with its keys: outbox entries keep their ids (a posted message
carries its entry's id in Slack, which is how a replica finds out that a post whose outcome
was unknown went out), sent entries stay sent and pending ones pending, the seen event keys
come along (an Alertmanager repeat after the cutover is still a duplicate), and so do
threads, escalations and their jobs, overrides, schedules' slots, policy states, the inbox
and the counters. So nothing is lost and nothing is sent again.

Refusals, each one line:

- while an ``ops serve`` holds the SQLite store (``serve/lock.py``): its outbox would go
  on changing after the copy;
- a source whose schema is newer than this ops knows (an older ops must not guess at it);
- a target that already holds data. There is deliberately no ``--force``: replicas that ran
  on the target have posted messages and written ids the copy would collide with or undo,
  and merging two histories is not a migration. The copy runs in one transaction, so an
  interrupted migration leaves the target empty and can simply be run again; a finished one
  makes a re-run refuse (the target is no longer empty) without changing anything.

The source is only read, never changed: it is opened read-only (SQLite's ``mode=ro``: no
switch to WAL, no schema upgrade), through its real path when ``--from`` is a symlink, so a
migration that fails or is abandoned leaves the SQLite store exactly as ``ops serve`` left
it, to start again on. A source of an older schema is upgraded on the way instead: the
target has this release's schema, and a column the older source lacks takes the target's
default, which is what the source's own upgrade would have given its rows.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ops_toolkit.errors import ConfigError, StoreError
from ops_toolkit.serve.store.backends import open_database, parse_state
from ops_toolkit.serve.store.database import Database, Transaction
from ops_toolkit.serve.store.schema import LATEST, migrate, schema_version

TABLES = (
    "outbox",
    "threads",
    "events",
    "inbox",
    "escalations",
    "escalation_log",
    "jobs",
    "slack_requests",
    "oncall_overrides",
    "report_slots",
    "policy_state",
    "counters",
)
"""Every table of the store's schema but ``schema_version`` (the target has its own)."""

WITH_IDS = ("outbox", "inbox", "escalations", "escalation_log", "jobs", "oncall_overrides")
"""Tables whose ``id`` the database assigns: the copy keeps them and moves the target's
counter past them, so the next id a replica assigns is a new one."""

ROWS_PER_STATEMENT = 200


@dataclass(frozen=True)
class Migrated:
    """What ``migrate_store`` moved: rows per table, and the outbox entries still to send."""

    source: str
    target: str
    schema_version: int
    rows: dict[str, int]
    pending: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.source,
            "to": self.target,
            "schema_version": self.schema_version,
            "tables": dict(self.rows),
            "outbox_pending": self.pending,
        }


def migrate_store(source: str, target: str, target_from: str = "--to") -> Migrated:
    """Copy the SQLite store ``source`` into the empty PostgreSQL database ``target``;
    ``target_from`` is where the target was given (``--to``, ``OPS_STATE``), as messages
    name it."""
    from ops_toolkit.serve.lock import hold_alone

    path = sqlite_path(source)
    postgres_url(target, target_from)
    real = os.path.realpath(path)
    # ops serve holds the lock beside the name it was given: a symlink's or the file's.
    locks = [hold_alone(path)]
    try:
        if real != os.path.abspath(path):
            locks.append(hold_alone(real))
        with ReadOnlySource(path, real) as from_db:
            to_db = open_database(target)
            try:
                return _copy(from_db, to_db, target_from)
            finally:
                to_db.close()
    finally:
        for lock in reversed(locks):
            lock.release()


class ReadOnlySource:
    """The SQLite store to migrate, opened read-only at its real path (``mode=ro``).

    Opening a WAL store read-only makes SQLite create its ``-wal`` and ``-shm`` files when
    they are not there (the store itself is untouched); those it created, still empty, are
    removed on close, so the folder is left as it was found.
    """

    def __init__(self, path: str, real: str) -> None:
        self.shown = path
        self.real = real
        self._created = [
            side for side in (f"{real}-wal", f"{real}-shm") if not os.path.exists(side)
        ]
        uri = f"file:{quote(real)}?mode=ro"
        try:
            self._db = sqlite3.connect(uri, uri=True, isolation_level=None)
            self.tables = {str(r[0]) for r in self._db.execute("SELECT name FROM sqlite_master")}
        except sqlite3.Error as exc:  # not SQLite, or damaged: as Store says it
            self.close()
            raise ConfigError(f"--from {path}: cannot open the store: {exc}") from None
        version = self._version()
        if version > LATEST:
            self.close()
            raise StoreError(
                f"--from {path}: the store's schema is version {version}, newer than this ops "
                f"knows (version {LATEST}): migrate with the ops release that wrote it"
            )

    def _version(self) -> int:
        if "schema_version" not in self.tables:
            return 0  # a store from before versioning
        return int(self._db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._db.execute(sql).fetchall()]

    def columns(self, table: str) -> set[str]:
        return {str(row[1]) for row in self.rows(f"PRAGMA table_info({table})")}

    def close(self) -> None:
        db: sqlite3.Connection | None = getattr(self, "_db", None)
        if db is not None:
            db.close()
            self._db = None  # type: ignore[assignment]
        wal = f"{self.real}-wal"
        if wal in self._created and os.path.exists(wal) and not os.path.getsize(wal):
            for side in self._created:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(side)

    def __enter__(self) -> ReadOnlySource:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def sqlite_path(source: str) -> str:
    """``--from``: an existing SQLite file (``sqlite:PATH`` or a path)."""
    location = parse_state(source)
    if location.scheme != "sqlite":
        raise ConfigError(
            f"--from {location.shown}: expected the SQLite store ops serve used "
            "(sqlite:PATH or a path)"
        )
    if not os.path.isfile(location.target):
        raise ConfigError(
            f"--from {location.shown}: no such store; pass the file 'ops serve' used "
            "(serve.state in ops.yaml)"
        )
    return location.target


def postgres_url(target: str, target_from: str = "--to") -> str:
    """``--to`` (or ``OPS_STATE``): a PostgreSQL URL."""
    location = parse_state(target)
    if location.scheme not in ("postgresql", "postgres"):
        raise ConfigError(
            f"{_given(target_from, location.shown)}: expected a PostgreSQL database "
            "(postgresql://USER:PASSWORD@HOST:PORT/DATABASE)"
        )
    return target


def _given(target_from: str, shown: str) -> str:
    """``--to URL`` or ``OPS_STATE=URL``: the target as the person gave it."""
    return f"{target_from}={shown}" if target_from.isupper() else f"{target_from} {shown}"


def _copy(source: ReadOnlySource, target: Database, target_from: str = "--to") -> Migrated:
    migrate(target)
    have = source.tables
    held = {t: _count(target, t) for t in TABLES}
    if any(held.values()):
        listed = ", ".join(f"{t} {n}" for t, n in held.items() if n)
        raise StoreError(
            f"{_given(target_from, target.shown)}: the database already holds a store "
            f"({listed}); migrate "
            "into an empty database (a finished migration is not run twice, and replicas "
            "that ran there have posted messages of their own)"
        )
    rows: dict[str, int] = {}
    with target.transaction() as tx:
        for table in TABLES:
            if table not in have:  # a store that never used this feature
                rows[table] = 0
                continue
            columns = source.columns(table) & _target_columns(tx, table)
            rows[table] = _copy_table(source, tx, table, sorted(columns))
        for table in WITH_IDS:
            tx.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
            )
    copied = {t: _count(target, t) for t in TABLES}
    if copied != rows:  # a check, not a hope: the counts the target reports after commit
        raise StoreError(f"{_given(target_from, target.shown)}: copied {copied}, expected {rows}")
    pending = int(
        target.execute(
            "SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sending')"
        ).scalar()
    )
    return Migrated(source.shown, target.shown, schema_version(target), rows, pending)


def _target_columns(tx: Transaction, table: str) -> set[str]:
    rows = tx.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
        "AND table_schema = current_schema()",
        (table,),
    ).rows
    return {str(row[0]) for row in rows}


def _count(database: Database, table: str) -> int:
    return int(database.execute(f"SELECT COUNT(*) FROM {table}").scalar())


def _copy_table(source: ReadOnlySource, tx: Transaction, table: str, columns: Sequence[str]) -> int:
    """All rows of ``table``, in chunks of multi-row INSERTs; how many."""
    names = ", ".join(f'"{c}"' for c in columns)
    rows = source.rows(f"SELECT {names} FROM {table}")
    one = "(" + ", ".join("?" for _ in columns) + ")"
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start : start + ROWS_PER_STATEMENT]
        try:
            tx.execute(
                f"INSERT INTO {table} ({names}) VALUES {', '.join(one for _ in chunk)}",
                [value for row in chunk for value in row],
            )
        except Exception as error:  # the driver's own classes: the file's values are wrong
            if type(error).__module__.split(".")[0] != "psycopg" or _unavailable(error):
                raise
            # A value no store of ops writes (text in a number column, a NUL, an integer
            # past 64 bits): the file was damaged or edited. The transaction is undone.
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise StoreError(
                f"--from {source.shown}: table {table}, rows {start + 1} to {start + len(chunk)}: "
                "a value "
                f"PostgreSQL refuses ({type(error).__name__}: {first_line}); nothing was copied"
            ) from None
    return len(rows)


def _unavailable(error: Exception) -> bool:
    import psycopg

    return isinstance(error, psycopg.OperationalError)
