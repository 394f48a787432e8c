"""SQLite's write lock held by another connection past the busy timeout (a CLI command, a
backup, a second process on the file) is contention, not an outage: intake answers 503
with Retry-After (Alertmanager retries), /healthz keeps the replica, the loops wait and try
again without counting a failed attempt, and nothing is lost or posted twice.

A real ``ops serve`` on a real SQLite file; the lock is held by a second real connection
(``BEGIN EXCLUSIVE``) while ``store.busy_timeout`` is short.
"""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ops_toolkit.config import parse_config
from ops_toolkit.errors import StoreBusy
from ops_toolkit.serve.store import Store
from ops_toolkit.serve.store.sqlite import SQLiteDatabase
from tests.alerts.payloads import alert, notification
from tests.integration.serving import eventually
from tests.integration.test_serve import OpsServer
from tests.slack_api import SlackServer, slack_server

BUSY = "busy: another connection held the write lock past store.busy_timeout (0.3s)"


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    yield from slack_server(["alerts", "search-oncall"])


def group(name: str) -> dict[str, Any]:
    return notification(alert(name, fingerprint=name), group_key=f"{{}}:{{alertname={name!r}}}")


def post(server: OpsServer, body: dict[str, Any]) -> tuple[int, str | None, dict[str, Any]]:
    """POST /alertmanager with the token: (status, Retry-After, answer)."""
    request = urllib.request.Request(
        f"{server.url}/alertmanager",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "authorization": f"Bearer {server.token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers.get("Retry-After"), json.load(answer)
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Retry-After"), json.load(error)


def test_a_lock_held_past_the_busy_timeout_is_contention_not_an_outage(
    tmp_path: Path, slack: SlackServer
) -> None:
    state = tmp_path / "state.db"
    server = OpsServer(tmp_path, slack, extra="store:\n  busy_timeout: 0.3s\n").start()
    locker = sqlite3.connect(state, isolation_level=None)
    try:
        # A payload in the inbox, due in two seconds (as a retry is): the processing loop
        # reads it at once, and meets the lock when it tries to claim it.
        locker.execute("BEGIN IMMEDIATE")
        locker.execute(
            "INSERT INTO inbox (received_at, body, next_attempt_at) VALUES (?, ?, ?)",
            (time.time(), json.dumps(group("SearchErrorsStored")), time.time() + 2),
        )
        locker.execute("COMMIT")
        locker.execute("BEGIN EXCLUSIVE")  # held until the ROLLBACK below

        eventually(
            lambda: f"processing: {state}: {BUSY}; retrying in " in server.log.read_text(),
            what=server.log.read_text(),
        )
        assert post(server, group("SearchErrorsDuring")) == (
            503,
            "5",
            {
                "status": "error",
                "error": f"POST /alertmanager: cannot store the payload now: {state}: {BUSY}; "
                "retry later",
            },
        )
        status, health = server.health()
        assert (status, health["status"], health["intake"]) == (200, "ok", "busy")
        assert slack.state.top_level("search-oncall") == []

        locker.execute("ROLLBACK")
        # Alertmanager retries what got a 503.
        eventually(lambda: post(server, group("SearchErrorsDuring"))[0] == 200)
        eventually(lambda: len(slack.state.top_level("search-oncall")) == 2)
        posted = [m["text"] for m in slack.state.top_level("search-oncall")]
        assert [("Stored" in text, "During" in text) for text in posted] == [
            (True, False),
            (False, True),
        ]
        eventually(lambda: server.health()[1]["outbox_depth"] == 0)
        status, health = server.health()
        assert (status, health["intake"], health["inbox_dead"], health["dead"]) == (
            200,
            "ok",
            0,
            0,
        )
        assert server.metric("ops_inbox_retries_total") == 0  # no attempt was charged
        assert "Traceback" not in server.log.read_text()
    finally:
        locker.close()
        server.stop()


@pytest.mark.parametrize(
    ("written", "seconds"),
    [("", 30.0), ("store:\n  busy_timeout: 250ms\n", 0.25), ("store: {busy_timeout: 2}\n", 2.0)],
    ids=["default", "a duration", "seconds"],
)
def test_store_busy_timeout_is_read_from_ops_yaml(written: str, seconds: float) -> None:
    assert parse_config(written, "ops.yaml").store.busy_timeout == seconds


def test_a_writer_of_another_connection_makes_a_write_store_busy(tmp_path: Path) -> None:
    """The store's own write (an accept) under a real second connection's exclusive lock:
    StoreBusy naming the file and the timeout, and the transaction is not left open."""
    path = str(tmp_path / "state.db")
    store = Store(path, busy_timeout=0.1)
    locker = sqlite3.connect(path, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreBusy) as raised:
            store.accept([(json.dumps(group("SearchErrors")), 1)], 1_800_000_000.0)
        assert str(raised.value) == (
            f"{path}: busy: another connection held the write lock past store.busy_timeout (0.1s)"
        )
        locker.execute("ROLLBACK")
        assert store.accept([(json.dumps(group("SearchErrors")), 1)], 1_800_000_000.0) == [1]
    finally:
        locker.close()
        store.close()


def test_a_slack_request_the_store_cannot_take_is_a_503_that_names_no_store(
    tmp_path: Path, slack: SlackServer
) -> None:
    """Before a Slack request is verified its sender is anonymous, and verifying it needs
    the store (the replay check): a store that cannot take it was a 500, with a traceback
    in the log. Now a 503 saying only that the store is busy, the reason in one log line."""
    from tests.integration.test_escalation import EscalatingServer

    state = tmp_path / "state.db"
    server = EscalatingServer(tmp_path, slack)
    server.config.write_text(server.config.read_text() + "store:\n  busy_timeout: 0.3s\n")
    server.start()
    locker = sqlite3.connect(state, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        try:
            refused = server.press("ack", "U0PRIMARY1")
        finally:
            locker.execute("ROLLBACK")
        assert refused == (
            503,
            {"ok": False, "error": "POST /slack/interactions: store busy; retry later"},
        )
        assert server.press("ack", "U0PRIMARY1")[0] == 200  # the lock is gone: carried out
        log = server.log.read_text()
        assert log.count(f"POST /slack/interactions: store busy: StoreBusy: {state}: {BUSY}") == 1
        assert "Traceback" not in log
    finally:
        locker.close()
        server.stop()


def test_a_busy_timeout_under_a_millisecond_still_waits(tmp_path: Path) -> None:
    """``busy_timeout: 0.1ms`` is positive (ops.yaml takes it) but rounded to 0 ms, which
    SQLite reads as no wait at all: the store waits at least 1 ms, as on PostgreSQL."""
    store = Store(str(tmp_path / "state.db"), busy_timeout=0.0001)
    assert store.accept([(json.dumps(group("SearchErrors")), 1)], 1_800_000_000.0) == [1]
    connection = SQLiteDatabase(str(tmp_path / "state.db"), busy_timeout=0.0001)._connect()
    try:
        assert connection.execute("PRAGMA busy_timeout").fetchone() == (1,)
    finally:
        connection.close()
