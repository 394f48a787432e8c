"""A webhook whose group commit loses a race to another writer (a real PostgreSQL deadlock)
is committed on a retry in place, not answered 503.

Was: the deadlock's ``StoreConflict`` went to the request as a 503 at once, although the
database worked and the commit would have gone through a moment later.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import psycopg

from ops_toolkit.serve.server import AppSettings
from ops_toolkit.serve.store import Store
from tests.alerts.payloads import notification
from tests.serve.test_server_errors import call, serving


def waiting_for_a_lock(admin: psycopg.Connection[tuple[object, ...]], other_than: int) -> bool:
    """Whether a backend other than ``other_than`` waits for a lock now."""
    row = admin.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> %s",
        (other_than,),
    ).fetchone()
    return bool(row and row[0])


def test_a_deadlocked_group_commit_is_retried_in_place(
    tmp_path: Path, postgres_database: str
) -> None:
    store = Store(postgres_database)
    store.accept([("{}", 1)], 1_800_000_000.0)  # the counter row exists from here on
    served = serving(tmp_path, AppSettings(token=None), store)
    url = next(served)
    holder = psycopg.connect(postgres_database, autocommit=True)
    watcher = psycopg.connect(postgres_database, autocommit=True)
    answer: list[tuple[int, bytes]] = []
    try:
        # The holder outwaits the intake at deadlock detection, so the intake is the victim.
        holder.execute("SET deadlock_timeout = '60s'")
        holder.execute("BEGIN")
        holder.execute("UPDATE counters SET value = value WHERE name = 'alerts_received'")
        # The intake inserts its inbox row, then waits for the counter row the holder has ...
        request = threading.Thread(
            target=lambda: answer.append(
                call(f"{url}/alertmanager", json.dumps(notification()).encode())
            )
        )
        request.start()
        holder_pid = holder.info.backend_pid
        deadline = time.monotonic() + 30
        while not waiting_for_a_lock(watcher, holder_pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert waiting_for_a_lock(watcher, holder_pid), "the intake never waited"
        # ... and the holder now waits for the inbox the intake holds: a deadlock, which
        # PostgreSQL breaks by rolling back the intake's group commit (40P01).
        holder.execute("LOCK TABLE inbox IN SHARE MODE")
        holder.execute("COMMIT")
        request.join(timeout=60)
    finally:
        holder.close()
        watcher.close()
        next(served, None)
    ((status, body),) = answer
    assert (status, json.loads(body)) == (200, {"status": "accepted", "id": 3, "alerts": 1})
    assert [e.id for e in store.unprocessed()] == [1, 3]  # id 2 went with the rolled back try
    store.close()
