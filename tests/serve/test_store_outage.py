"""PostgreSQL stopped and restarted under a running ``ops serve`` (a real process, the real
slack_sdk client against the local Slack-compatible API): intake answers 503 with the
reason, /healthz says why, the loops back off without dying, and when the database is
back nothing accepted is lost and nothing is posted twice."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.alerts.payloads import alert, notification
from tests.integration.test_serve import OpsServer, eventually, get
from tests.postgres import PASSWORD, PostgresServer
from tests.slack_api import Fault, SlackServer, slack_server


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    yield from slack_server(["alerts", "search-oncall"])


@pytest.fixture
def database() -> Iterator[PostgresServer]:
    """A PostgreSQL of this test's own, to stop and restart."""
    with PostgresServer() as server:
        yield server


def ops_on(database_url: str, tmp_path: Path, slack: SlackServer) -> OpsServer:
    server = OpsServer(tmp_path, slack)
    config = server.config.read_text().replace(
        f"  state: {tmp_path / 'state.db'}\n", f'  state: "{database_url}"\n'
    )
    assert database_url in config
    server.config.write_text(config)
    return server


def group(name: str) -> dict[str, object]:
    return notification(alert(name, fingerprint=name), group_key=f"{{}}:{{alertname={name!r}}}")


def test_a_database_outage_under_ops_serve_loses_nothing_and_sends_nothing_twice(
    tmp_path: Path, slack: SlackServer, database: PostgresServer
) -> None:
    url = database.create_database()
    shown = url.replace(PASSWORD, "***")
    server = ops_on(url, tmp_path, slack).start()
    try:
        # The first message is posted, but its answer never comes (the connection drops
        # after Slack stored it): while ops serve waits, the database goes away.
        slack.state.faults.append(Fault("chat.postMessage", "hang_after_store", 1, seconds=2))
        assert server.post(group("SearchErrorsBefore"))[0] == 200
        eventually(lambda: len(slack.state.top_level("search-oncall")) == 1)
        database.stop()

        status, body = server.post(group("SearchErrorsDuring"))
        assert status == 503
        assert body["error"].startswith(
            f"POST /alertmanager: cannot store the payload now: {shown}: database unavailable: "
        )
        assert body["error"].endswith("; retry later")
        # anonymous: only that the store is unavailable; the store's identity with the token
        assert server.health() == (503, {"status": "unavailable", "intake": "store unavailable"})
        status, health = server.health(server.token)
        assert status == 503
        reason = health["detail"]
        assert reason.startswith(f"StoreError: {shown}: database unavailable: ")
        assert PASSWORD not in body["error"] + reason

        time.sleep(3)  # the hung post fails meanwhile; its outcome cannot be recorded
        assert server.process is not None and server.process.poll() is None
        database.start()

        # Alertmanager retries what got a 503.
        eventually(lambda: server.post(group("SearchErrorsDuring"))[0] == 200, timeout=30)
        eventually(lambda: len(slack.state.top_level("search-oncall")) == 2, timeout=30)
        eventually(lambda: get(f"{server.url}/healthz")[0] == 200)
        eventually(lambda: json.loads(get(f"{server.url}/healthz")[1])["outbox_depth"] == 0)
        posted = [m["text"] for m in slack.state.top_level("search-oncall")]
        assert [("SearchErrorsBefore" in t, "SearchErrorsDuring" in t) for t in posted] == [
            (True, False),
            (False, True),
        ]
        log = server.log.read_text()
        assert "Traceback" not in log
        assert f"delivery: {shown}: database unavailable: " in log
        assert PASSWORD not in log
    finally:
        server.stop()


def test_a_payload_is_not_charged_an_attempt_for_the_database_being_away(
    postgres_database: str,
) -> None:
    """The escalation write made while planning fails as it does when the connection drops
    (a StoreError); the database answers again at once, so recording a failed attempt
    would succeed: it must not be recorded (three such blips made a dead letter)."""
    from ops_toolkit.errors import StoreError
    from ops_toolkit.escalate.route import Route, Routing
    from ops_toolkit.serve.store import Store
    from ops_toolkit.serve.worker import Processor

    store = Store(postgres_database)
    (inbox_id,) = store.accept([(json.dumps(group("SearchErrors")), 1)], 1_800_000_000.0)
    processor = Processor(store, Routing(Route("#alerts")), lambda n: None, lambda labels: None)
    blips = ["server closed the connection unexpectedly"]

    def escalation_write(*args: object) -> None:
        if blips:
            raise StoreError(f"{store.path}: database unavailable: {blips.pop()}")

    processor.on_routed = escalation_write
    with pytest.raises(StoreError, match="database unavailable"):
        processor.run_once()
    (entry,) = store.unprocessed()
    assert (entry.id, entry.attempts) == (inbox_id, 0)  # still pending, not one try closer
    assert processor.run_once() == 1
    assert [e.channel for e in store.entries()] == ["#alerts"]
    store.close()
