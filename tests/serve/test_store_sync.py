"""Which commits are flushed to disk before they return (issue 15).

The intake's commit is: a webhook is answered only once its payload is on disk. The
processing of a payload is not (``transaction(sync=False)``): undone by a power loss, it is
redone from the inbox, and nothing went out on its strength meanwhile, because the
deliverer's claim of an outbox entry is a flushed commit, and a flushed commit flushes the
log before it (SQLite's WAL and PostgreSQL's WAL are each written in order).
"""

from __future__ import annotations

import json
from pathlib import Path

from ops_toolkit.notify.model import Planned
from ops_toolkit.serve.store import Store
from ops_toolkit.serve.store.postgres import PostgresDatabase
from tests.alerts.payloads import notification

NOW = 1_800_000_000.0


def test_processing_commits_unflushed_between_flushed_intake_and_claim(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "s.db"))
    asked: list[str] = []
    store.db.set_trace_callback(
        lambda sql: asked.append(sql) if sql.startswith(("PRAGMA synchronous", "BEGIN")) else None
    )
    (inbox_id,) = store.accept([(json.dumps(notification()), 1)], NOW)
    store.process(inbox_id, ["k1"], [Planned("g", "#alerts", "post", {"text": "x"})], NOW)
    store.process(inbox_id, ["k1"], [], NOW)  # a replay: nothing new
    (entry,) = store.due(NOW)
    assert store.claim(entry, "me", NOW)
    assert asked == [
        "BEGIN IMMEDIATE",  # the intake, at the store's level (FULL)
        "PRAGMA synchronous=NORMAL",
        "BEGIN IMMEDIATE",  # processing
        "BEGIN IMMEDIATE",  # the replay: still NORMAL, no pragma again
        "PRAGMA synchronous=FULL",
        "BEGIN IMMEDIATE",  # the claim: flushed, and with it everything before
    ]
    assert store.db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL


def test_a_store_that_never_flushes_is_not_made_to(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "s.db"), synchronous="OFF")
    (inbox_id,) = store.accept([(json.dumps(notification()), 1)], NOW)
    store.process(inbox_id, ["k1"], [], NOW)
    assert store.db.execute("PRAGMA synchronous").fetchone() == (0,)  # OFF


def test_postgresql_turns_off_the_flush_for_that_transaction_only(postgres_database: str) -> None:
    database = PostgresDatabase(postgres_database, pool_size=1)  # one connection: one session
    try:
        database.execute("SET synchronous_commit = on")  # the session's own setting
        with database.transaction(sync=False) as tx:
            assert tx.execute("SHOW synchronous_commit").scalar() == "off"
        with database.transaction() as tx:
            assert tx.execute("SHOW synchronous_commit").scalar() == "on"
    finally:
        database.close()
