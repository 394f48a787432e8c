"""``store.busy_timeout`` on PostgreSQL: before, it applied to SQLite only, and a write
waiting for a row another connection kept locked waited for ever (intake and the loops with
it). Now each pooled connection's session has ``lock_timeout`` set from it, and a write held
up past it ends in the same ``StoreBusy`` as on SQLite (503 with Retry-After, loops retry).

The real PostgreSQL the tests start (tests/postgres.py); the lock is held by a second real
connection (``SELECT ... FOR UPDATE`` in an open transaction).
"""

from __future__ import annotations

import threading

import psycopg
import pytest

from ops_toolkit.config import parse_config
from ops_toolkit.errors import StoreBusy
from ops_toolkit.serve.store import Store
from ops_toolkit.serve.store.schema import LATEST, MIGRATION_LOCK, migrate
from ops_toolkit.urls import redact_url

# Bounds a hang only: without lock_timeout the blocked write would wait for ever, so the
# locker lets go after this and the write then succeeds (the test fails, it does not hang).
RELEASE_AFTER = 30.0


def test_a_row_lock_held_past_the_busy_timeout_makes_a_write_store_busy(
    postgres_database: str,
) -> None:
    config = parse_config(
        f"serve: {{state: '{postgres_database}'}}\nstore: {{busy_timeout: 300ms}}\n", "ops.yaml"
    )
    store = Store(config.serve.state, busy_timeout=config.store.busy_timeout)
    locker = psycopg.connect(postgres_database)
    release = threading.Timer(RELEASE_AFTER, locker.rollback)
    try:
        assert store.execute("SHOW lock_timeout").scalar() == "300ms"
        store.count("bodies_refused")
        locker.execute("SELECT value FROM counters WHERE name = 'bodies_refused' FOR UPDATE")
        release.start()
        with pytest.raises(StoreBusy) as raised:
            store.count("bodies_refused")  # the same row: waits for the locker's transaction
        assert str(raised.value) == (
            f"{redact_url(postgres_database)}: busy: another connection held a lock past "
            "store.busy_timeout (0.3s)"
        )
        release.cancel()
        locker.rollback()
        store.count("bodies_refused")  # the lock is gone: the write goes through
        value = "SELECT value FROM counters WHERE name = 'bodies_refused'"
        assert store.execute(value).scalar() == 2  # the refused write left nothing behind
    finally:
        release.cancel()
        locker.close()
        store.close()


def test_a_replica_migrating_waits_for_another_past_the_busy_timeout(
    postgres_database: str,
) -> None:
    """Start-up is not work: a replica whose migration waits for another replica's (the
    advisory lock) waits its turn, whatever store.busy_timeout says."""
    Store(postgres_database, busy_timeout=0.3).close()  # the schema exists
    store = Store(postgres_database, busy_timeout=0.3)
    locker = psycopg.connect(postgres_database)
    release = threading.Timer(1.0, locker.rollback)  # the other replica's migration ends
    try:
        locker.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        release.start()
        # waited for the lock past the 0.3 s busy timeout (StoreBusy before), then found the
        # schema current
        assert migrate(store.database) == LATEST
    finally:
        release.cancel()
        locker.close()
        store.close()
