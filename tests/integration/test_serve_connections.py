"""``ops serve`` under a flood of idle connections, with a lowered open-file limit.

Each connection is an open file: 300 connections that never finished their headers once
used up a server limited to 256 open files (``accept() ... Too many open files``) and a
real webhook, sent meanwhile, timed out.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.alerts.payloads import notification
from tests.conftest import ROOT
from tests.integration.serving import ServeProcess

TOKEN = "webhook-s3cret"
FLOOD = 300  # connections, more than the server's 256 open files
HALF_SENT = b"POST /alertmanager HTTP/1.1\r\n"


def limited_server(
    tmp_path: Path, open_files: tuple[int, int], serve_extra: str = ""
) -> ServeProcess:
    config = tmp_path / "ops.yaml"
    config.write_text(
        "serve:\n"
        f"  state: {tmp_path / 'state.db'}\n"
        f"  messages: {tmp_path / 'messages.jsonl'}\n" + serve_extra + "notifier: console\n"
        f"runbooks: {ROOT / 'runbooks'}\n"
        f"slos: [{ROOT / 'slos'}]\n"
    )
    env = {**os.environ, "OPS_WEBHOOK_TOKEN": TOKEN}
    server = ServeProcess(config, env, tmp_path / "serve.log", TOKEN)
    server.cwd = tmp_path  # no alerts/oncall.yaml: the webhook path alone
    server.open_files = open_files
    return server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServeProcess]:
    started = limited_server(tmp_path, (256, 256)).start()
    yield started
    started.stop()


def flood(stack: ExitStack, port: int, source: str) -> list[socket.socket]:
    """``FLOOD`` connections from ``source`` that each send half a request line's headers."""
    held = []
    for _ in range(FLOOD):
        connection = stack.enter_context(socket.socket())
        connection.settimeout(20)
        connection.bind((source, 0))
        connection.connect(("127.0.0.1", port))
        connection.sendall(HALF_SENT)
        held.append(connection)
    return held


def answer(connection: socket.socket) -> tuple[bytes, bytes]:
    """The status line and headers, and the body, of the one response on ``connection``."""
    received = b""
    while chunk := connection.recv(4096):
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return head, body


def test_idle_connections_from_one_address_leave_room_for_a_webhook_from_another(
    server: ServeProcess,
) -> None:
    with ExitStack() as stack:
        flood(stack, server.port, "127.0.0.2")
        status, body = server.post(notification())  # from 127.0.0.1
        assert (status, body["status"]) == (200, "accepted")
        # another connection from the flooding address is over its cap: a 503 to retry
        with socket.create_connection(
            ("127.0.0.1", server.port), timeout=20, source_address=("127.0.0.2", 0)
        ) as extra:
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            head, payload = answer(extra)
    assert head.startswith(b"HTTP/1.1 503 ")
    assert {b"retry-after: 5", b"connection: close"} <= set(head.split(b"\r\n"))
    assert json.loads(payload) == {
        "status": "error",
        "error": "ops serve: too many connections from 127.0.0.2 (48, "
        "serve.max_connections_per_client); retry later",
    }
    assert server.post(notification())[0] == 200  # and the flood leaves nothing behind


def test_a_webhook_from_the_flooding_address_is_told_to_retry_rather_than_left_hanging(
    server: ServeProcess,
) -> None:
    with ExitStack() as stack:
        flood(stack, server.port, "127.0.0.1")
        status, body = server.post(notification())
    assert (status, body) == (
        503,
        {
            "status": "error",
            "error": "ops serve: too many connections from 127.0.0.1 (48, "
            "serve.max_connections_per_client); retry later",
        },
    )
    assert server.post(notification())[0] == 200


def test_the_caps_are_configurable_and_one_over_the_open_files_is_refused_at_start(
    tmp_path: Path,
) -> None:
    server = limited_server(
        tmp_path, (256, 256), "  max_connections: 10\n  max_connections_per_client: 10\n"
    ).start()
    try:
        with ExitStack() as stack:
            for _ in range(10):
                connection = stack.enter_context(
                    socket.create_connection(
                        ("127.0.0.1", server.port), timeout=20, source_address=("127.0.0.2", 0)
                    )
                )
                connection.sendall(HALF_SENT)
            assert server.post(notification()) == (
                503,
                {
                    "status": "error",
                    "error": "ops serve: too many connections (10, serve.max_connections); "
                    "retry later",
                },
            )
    finally:
        server.stop()
    (tmp_path / "over").mkdir()
    over = limited_server(tmp_path / "over", (256, 256), "  max_connections: 1000\n")
    over.launch()
    assert over.process is not None
    assert over.process.wait(timeout=30) == 1
    assert over.log.read_text().splitlines()[-1] == (
        f"Error: {over.config}: serve.max_connections: 1000 is more than the open-file limit "
        "allows (256 open files leave room for 192 connections); raise the limit (ulimit -n, "
        "or LimitNOFILE= in systemd) or lower max_connections"
    )


def test_the_soft_open_file_limit_is_raised_to_the_hard_one(tmp_path: Path) -> None:
    server = limited_server(tmp_path, (256, 512)).start()
    try:
        assert server.process is not None
        limits = Path(f"/proc/{server.process.pid}/limits").read_text().splitlines()
        (line,) = [row for row in limits if row.startswith("Max open files")]
        assert line.split()[3:5] == ["512", "512"]
    finally:
        server.stop()
