"""The threads of one ``ops serve`` take turns to write; the intake's commit goes first.

Left to SQLite, a writer finding the write lock taken slept in the busy handler (up to
100 ms between tries) however soon the lock was free: most of the intake's p99 (issue 15).
"""

from __future__ import annotations

import threading
from pathlib import Path

from ops_toolkit.serve.store import Store
from ops_toolkit.serve.store.sqlite import SQLiteDatabase

Order = list[tuple[str, str]]


def traced(store: Store, order: Order) -> None:
    """Record this thread's BEGIN and COMMIT statements, in the order SQLite is asked."""
    name = threading.current_thread().name
    database = store.database
    assert isinstance(database, SQLiteDatabase)
    database.connection.set_trace_callback(
        lambda sql: (
            order.append((name, sql.split()[0])) if sql.startswith(("BEGIN", "COMMIT")) else None
        )
    )


def holding(store: Store, order: Order, held: threading.Event, go: threading.Event) -> None:
    traced(store, order)
    with store.transaction() as db:
        db.execute("INSERT INTO counters (name, value) VALUES ('held', 1)")
        held.set()
        go.wait(30)


def test_a_waiting_writer_asks_sqlite_only_once_the_other_has_committed(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "s.db"))
    order: Order = []
    held, go = threading.Event(), threading.Event()
    loop = threading.Thread(target=holding, args=(store, order, held, go), name="processing")
    loop.start()
    held.wait(30)

    def intake() -> None:
        traced(store, order)
        store.accept([("{}", 1)], 1.0)

    writer = threading.Thread(target=intake, name="intake")
    writer.start()
    writer.join(0.3)  # time to reach the write lock the loop holds
    go.set()
    loop.join()
    writer.join()
    assert order == [
        ("processing", "BEGIN"),
        ("processing", "COMMIT"),
        ("intake", "BEGIN"),
        ("intake", "COMMIT"),
    ]


def test_the_intake_commit_goes_before_a_loop_that_waited_longer(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "s.db"))
    order: Order = []
    held, go = threading.Event(), threading.Event()
    first = threading.Thread(target=holding, args=(store, order, held, go), name="processing")
    first.start()
    held.wait(30)

    def delivery() -> None:
        traced(store, order)
        with store.transaction() as db:
            db.execute("INSERT INTO counters (name, value) VALUES ('delivery', 1)")

    def intake() -> None:
        traced(store, order)
        store.accept([("{}", 1)], 1.0)

    waiting = threading.Thread(target=delivery, name="delivery")
    waiting.start()
    waiting.join(0.3)  # waits first
    writer = threading.Thread(target=intake, name="intake")
    writer.start()
    writer.join(0.3)
    go.set()
    for thread in (first, waiting, writer):
        thread.join()
    assert [name for name, statement in order if statement == "BEGIN"] == [
        "processing",
        "intake",
        "delivery",
    ]


def test_the_prunes_and_the_due_query_use_an_index(tmp_path: Path) -> None:
    """Each processed payload prunes old events and inbox rows in its write transaction,
    and the deliverer asks for due entries every few ms: none may scan a whole table."""
    database = Store(str(tmp_path / "s.db")).database
    assert isinstance(database, SQLiteDatabase)
    db = database.connection
    plans = {
        "events": "DELETE FROM events WHERE seen_at < 1",
        "inbox": "DELETE FROM inbox WHERE (processed = 1 AND received_at < 1) "
        "OR (processed = 2 AND received_at < 1)",
        "due": "SELECT * FROM outbox AS o WHERE o.status IN ('pending', 'sending') AND "
        "o.next_attempt_at <= 1 AND NOT EXISTS (SELECT 1 FROM outbox AS e WHERE e.group_key = "
        "o.group_key AND e.channel = o.channel AND e.id < o.id AND e.status IN ('pending', "
        "'sending')) ORDER BY o.id LIMIT 50",
    }
    details = {
        name: [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}")]
        for name, sql in plans.items()
    }
    assert details["events"] == ["SEARCH events USING INDEX events_seen_at (seen_at<?)"]
    assert all("SCAN" not in line for line in details["inbox"]), details["inbox"]
    assert (
        "SEARCH e USING INDEX outbox_group (group_key=? AND channel=? AND id<?)" in details["due"]
    )
