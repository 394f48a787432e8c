"""The ASGI app on a real socket (uvicorn in a thread) when the store cannot be read:
503s that say why, never a 500."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from ops_toolkit.demo.servers import free_port
from ops_toolkit.serve.server import AppSettings, GroupCommitWriter, create_app
from ops_toolkit.serve.store import Store
from tests.alerts.payloads import notification


def broken_stats() -> dict[str, float]:
    raise sqlite3.DatabaseError("database disk image is malformed")


@pytest.fixture
def app_url(tmp_path: Path) -> Iterator[str]:
    yield from serving(tmp_path, AppSettings(token=None, stats=broken_stats))


def serving(tmp_path: Path, settings: AppSettings, store: Store | None = None) -> Iterator[str]:
    writer = GroupCommitWriter(store or Store(str(tmp_path / "state.db")), lambda: None)
    app = create_app(writer, settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    writer.start()
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    writer.stop()


def call(url: str, data: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_a_store_that_cannot_be_read_is_a_503_for_intake_and_metrics(app_url: str) -> None:
    status, body = call(f"{app_url}/alertmanager", json.dumps(notification()).encode())
    assert (status, json.loads(body)) == (
        503,
        {
            "status": "error",
            "error": "POST /alertmanager: store unavailable; retry later",
        },
    )
    status, body = call(f"{app_url}/metrics")
    assert status == 503
    text = body.decode()
    # anonymous (and no token configured): who the store is stays in the log
    assert text.startswith("# store unavailable\n")
    assert "ops_intake_up 0.0" in text


@pytest.mark.parametrize(
    ("depth", "answer"),
    [
        (3.0, (200, {"status": "accepted", "id": 1, "alerts": 1})),
        (
            6.0,
            (503, {"status": "error", "error": "POST /alertmanager: inbox is full; retry later"}),
        ),
    ],
)
def test_admission_reads_only_the_inbox_depth_when_told_how(
    tmp_path: Path, depth: float, answer: tuple[int, dict[str, object]]
) -> None:
    """The store's stats are five queries; admission needs the inbox depth alone (issue 15).
    Here the stats fail: read, they would make every webhook a 503 (DatabaseError)."""
    settings = AppSettings(
        token=None, inbox_limit=5, stats=broken_stats, depth=lambda: {"inbox_depth": depth}
    )
    served = serving(tmp_path, settings)
    url = next(served)
    try:
        status, body = call(f"{url}/alertmanager", json.dumps(notification()).encode())
        assert (status, json.loads(body)) == answer
    finally:
        next(served, None)
