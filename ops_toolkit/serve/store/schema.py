"""The store's schema, as numbered migrations applied when a store is opened.

``schema_version`` holds one row per applied migration. Opening a store applies, in one
transaction, every migration it lacks (a newer ops upgrades an older store in place,
keeping its data) and refuses a store whose version is newer than the last one here (an
older ops must not write tables it does not know): the message names both versions and
what to do. On PostgreSQL an advisory lock makes replicas starting together apply each
migration once.

Version 1 is the schema as ops wrote it before versioning: a SQLite store of that time has
its tables and no ``schema_version``; version 1 creates what is missing (``IF NOT EXISTS``)
and adds the inbox columns added since the first release, then stamps it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ops_toolkit.errors import StoreError
from ops_toolkit.serve.store.database import Database, Dialect, Transaction

# An arbitrary constant: the key of the advisory lock PostgreSQL replicas take to migrate.
MIGRATION_LOCK = 7_301_160_001

VERSION_1 = """
CREATE TABLE IF NOT EXISTS inbox (
    id {id},
    received_at {real} NOT NULL,
    body TEXT NOT NULL,
    processed INTEGER NOT NULL DEFAULT 0,   -- 0 pending, 1 done, 2 dead letter
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at {real} NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS inbox_pending ON inbox(processed, id);
CREATE TABLE IF NOT EXISTS events (
    key TEXT PRIMARY KEY,
    seen_at {real} NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id {id},
    created_at {real} NOT NULL,
    group_key TEXT NOT NULL,
    channel TEXT NOT NULL,
    action TEXT NOT NULL,            -- post | reply | update | upload | webhook | email
    message TEXT NOT NULL,           -- JSON: text and blocks
    status TEXT NOT NULL DEFAULT 'pending',   -- pending | sending | sent | dead
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at {real} NOT NULL,
    last_error TEXT,
    ts TEXT,
    claimed_by TEXT,                 -- host:pid of the deliverer sending it
    claimed_at {real}
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
    slot {real} NOT NULL,
    posted INTEGER NOT NULL,         -- 0: the baseline recorded on first start
    recorded_at {real} NOT NULL,
    PRIMARY KEY (name, slot)
);
CREATE TABLE IF NOT EXISTS policy_state (
    slo TEXT NOT NULL,
    threshold {real} NOT NULL,
    armed INTEGER NOT NULL,
    changed_at {real} NOT NULL,
    PRIMARY KEY (slo, threshold)
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value {bigint} NOT NULL
);
CREATE TABLE IF NOT EXISTS escalations (
    id {id},
    ref TEXT NOT NULL UNIQUE,
    group_key TEXT NOT NULL,
    channel TEXT NOT NULL,
    policy TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at {real} NOT NULL,
    step INTEGER NOT NULL,
    due_at {real},
    acknowledged_by TEXT,
    changed_at {real} NOT NULL,
    version INTEGER NOT NULL DEFAULT 0,
    name TEXT NOT NULL,              -- the alert name, for pages and lists
    labels TEXT NOT NULL,            -- JSON: the group's labels (silence matchers)
    runbook TEXT,                    -- the link shown in messages
    runbook_path TEXT,               -- the local file, for Run diagnose
    message TEXT NOT NULL,           -- JSON: the opening message, to re-render with status
    silence_id TEXT,
    silenced_until {real},
    last_action TEXT                 -- "Acknowledged by <@U...> at 10:02 UTC"
);
CREATE INDEX IF NOT EXISTS escalations_due ON escalations(status, due_at);
CREATE TABLE IF NOT EXISTS escalation_log (
    id {id},
    escalation_id {bigint} NOT NULL,
    at {real} NOT NULL,
    actor TEXT NOT NULL,             -- slack:U0123 | cli:dana | ops-serve
    action TEXT NOT NULL,
    outcome TEXT NOT NULL            -- done | unchanged | refused | failed
);
CREATE TABLE IF NOT EXISTS jobs (
    id {id},
    escalation_id {bigint},
    kind TEXT NOT NULL,              -- silence | unsilence | diagnose | runbook
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',   -- pending | done | failed
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at {real} NOT NULL,
    created_at {real} NOT NULL,
    result TEXT
);
CREATE INDEX IF NOT EXISTS jobs_due ON jobs(status, next_at);
CREATE TABLE IF NOT EXISTS slack_requests (
    signature TEXT PRIMARY KEY,
    seen_at {real} NOT NULL
);
CREATE TABLE IF NOT EXISTS oncall_overrides (
    id {id},
    schedule TEXT NOT NULL,
    "user" TEXT NOT NULL,
    starts_at {real} NOT NULL,
    ends_at {real} NOT NULL,
    created_at {real} NOT NULL,
    created_by TEXT NOT NULL,
    removed_at {real}
);
CREATE INDEX IF NOT EXISTS oncall_overrides_by_schedule ON oncall_overrides(schedule, ends_at)
"""

INBOX_COLUMNS = {  # added after the first release: SQLite stores written before lack them
    "attempts": "INTEGER NOT NULL DEFAULT 0",
    "next_attempt_at": "REAL NOT NULL DEFAULT 0",
    "last_error": "TEXT",
}

# Every processed payload deletes old inbox rows and event keys; without these indexes each
# of those deletes read the whole table.
VERSION_2 = """
CREATE INDEX IF NOT EXISTS events_seen_at ON events(seen_at);
CREATE INDEX IF NOT EXISTS inbox_received ON inbox(processed, received_at)
"""


def statements(script: str, dialect: Dialect) -> list[str]:
    """A script's statements, with the dialect's column types filled in."""
    text = script.format(id=dialect.id_column, real=dialect.real, bigint=dialect.bigint)
    return [s.strip() for s in text.split(";") if s.strip()]


def _version_1(tx: Transaction, dialect: Dialect) -> None:
    for statement in statements(VERSION_1, dialect):
        tx.execute(statement)
    if dialect.name == "sqlite":
        have = {row[1] for row in tx.execute("PRAGMA table_info(inbox)").rows}
        for name, kind in INBOX_COLUMNS.items():
            if name not in have:
                tx.execute(f"ALTER TABLE inbox ADD COLUMN {name} {kind}")


def _version_2(tx: Transaction, dialect: Dialect) -> None:
    for statement in statements(VERSION_2, dialect):
        tx.execute(statement)


# The deliverer's due query asks, for each candidate, whether an earlier entry of its group
# is pending: without this index each candidate scanned every pending entry (quadratic in a
# storm queued behind one channel's pacing; issue 15).
VERSION_3 = """
CREATE INDEX IF NOT EXISTS outbox_group ON outbox(group_key, channel, id)
"""


def _version_3(tx: Transaction, dialect: Dialect) -> None:
    for statement in statements(VERSION_3, dialect):
        tx.execute(statement)


# Planning a payload is claimed first (compare-and-set on who holds it, as the outbox's
# claims are), so of two replicas one plans it and the other skips it.
VERSION_4 = """
ALTER TABLE inbox ADD COLUMN claimed_by TEXT;
ALTER TABLE inbox ADD COLUMN claimed_at {real}
"""


def _version_4(tx: Transaction, dialect: Dialect) -> None:
    for statement in statements(VERSION_4, dialect):
        tx.execute(statement)


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Transaction, Dialect], None]


MIGRATIONS = (
    Migration(1, "inbox, events, outbox, threads, schedules, escalations, overrides", _version_1),
    Migration(2, "indexes for the cleanup of old inbox rows and event keys", _version_2),
    Migration(3, "an index for the outbox's due query (earlier entries of a group)", _version_3),
    Migration(4, "who plans an inbox payload (a claim, so replicas plan it once)", _version_4),
)
LATEST = MIGRATIONS[-1].version


def _current(tx: Transaction) -> int:
    return int(tx.execute("SELECT MAX(version) FROM schema_version").scalar() or 0)


def migrate(database: Database, *, target: int = LATEST, now: float | None = None) -> int:
    """Bring the store's schema to ``target`` (the latest by default); the version before.

    Raises ``StoreError`` when the store is newer than ``target``.
    """
    moment = time.time() if now is None else now
    with database.transaction() as tx:
        if database.dialect.name == "postgresql":
            # a replica starting beside one that is migrating waits its turn, however long
            # (store.busy_timeout is for the work's writes, not for the start-up)
            tx.execute("SET LOCAL lock_timeout = 0")
            tx.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
        tx.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
            f"applied_at {database.dialect.real} NOT NULL, description TEXT NOT NULL)"
        )
        before = _current(tx)
        if before > target:
            raise StoreError(
                f"{database.shown}: the store's schema is version {before}, newer than this "
                f"ops knows (version {target}): a newer ops has upgraded it. Run that newer "
                "ops here too (every replica the same release); an older one cannot use it"
            )
        for migration in MIGRATIONS:
            if before < migration.version <= target:
                migration.apply(tx, database.dialect)
                tx.execute(
                    "INSERT INTO schema_version (version, applied_at, description) "
                    "VALUES (?, ?, ?)",
                    (migration.version, moment, migration.description),
                )
    return before


def schema_version(database: Database) -> int:
    """The store's version (0 for an empty or unversioned one)."""
    found = database.execute(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
        if database.dialect.name == "postgresql"
        else "SELECT COUNT(*) FROM sqlite_master WHERE name = 'schema_version'"
    ).scalar()
    if not found:
        return 0
    return int(database.execute("SELECT MAX(version) FROM schema_version").scalar() or 0)
