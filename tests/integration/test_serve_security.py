"""What an attacker found in a real ``ops serve``, each one refused now (issue: serve security).

The Slack endpoints are on (an on-call file and ``SLACK_SIGNING_SECRET``); requests are
written on a raw socket where an HTTP client would not send them (a body declared and never
sent, a body trickled, a header byte that is not ASCII).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_escalation import EscalatingServer
from tests.slack_api import SlackServer, slack_server

SLACK_PATHS = ["/slack/interactions", "/slack/commands"]


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    yield from slack_server(["alerts", "search-oncall"])


@pytest.fixture
def server(tmp_path: Path, slack: SlackServer) -> Iterator[EscalatingServer]:
    """With a read timeout of 1 s, so that a body held back is cut off soon, and webhook
    bodies up to 4 KiB."""
    server = EscalatingServer(tmp_path, slack)
    server.config.write_text(
        server.config.read_text().replace(
            "serve:\n", "serve:\n  read_timeout: 1s\n  max_body: 4KiB\n", 1
        )
    )
    server.start()
    yield server
    server.stop()


def answer(connection: socket.socket) -> tuple[int, Any]:
    """The status and JSON body of the one response on ``connection``."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        assert chunk, f"connection closed without an answer: {received!r}"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(
        int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")
    )
    while len(body) < length:
        chunk = connection.recv(65536)
        assert chunk, f"connection closed in the answer's body: {received!r}"
        body += chunk
    return int(lines[0].split()[1]), json.loads(body)


def connect(server: EscalatingServer) -> socket.socket:
    # The timeout only bounds a hang (the bug: no answer at all), it is not what is tested.
    return socket.create_connection(("127.0.0.1", server.port), timeout=15)


@pytest.mark.parametrize("path", SLACK_PATHS)
def test_a_slack_body_declared_over_the_limit_is_refused_before_it_is_read(
    server: EscalatingServer, path: str
) -> None:
    """Was: the whole body read into memory, unsigned, before the 64 KiB check (200 MiB ->
    448 MB resident). Now the 413 comes before a byte of the body is sent."""
    with connect(server) as connection:
        connection.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {200 * 1024 * 1024}\r\n\r\n".encode()
        )
        assert answer(connection) == (
            413,
            {
                "ok": False,
                "error": f"POST {path}: body of 209715200 bytes is over the limit of 65536 bytes",
            },
        )


@pytest.mark.parametrize("path", SLACK_PATHS)
def test_a_chunked_slack_body_is_refused_as_soon_as_it_passes_the_limit(
    server: EscalatingServer, path: str
) -> None:
    """No length declared: the reading stops at the limit, the sender never finishes."""
    with connect(server) as connection:
        connection.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        )
        chunk = b"4000\r\n" + b"a" * 0x4000 + b"\r\n"  # 16 KiB each, and no last chunk
        for _ in range(5):
            connection.sendall(chunk)
        assert answer(connection) == (
            413,
            {"ok": False, "error": f"POST {path}: body is over the limit of 65536 bytes"},
        )


def test_a_chunked_webhook_body_past_twice_the_limit_is_refused_there(
    server: EscalatingServer,
) -> None:
    """The reader that /slack/* now shares with /alertmanager: a webhook body is read up to
    twice serve.max_body before its 413 (so that Alertmanager sees the answer), no further."""
    with connect(server) as connection:
        connection.sendall(
            b"POST /alertmanager HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            + f"Authorization: Bearer {server.token}\r\n\r\n".encode()
        )
        for _ in range(3):
            connection.sendall(b"1000\r\n" + b"a" * 0x1000 + b"\r\n")  # 4 KiB, never the end
        assert answer(connection) == (
            413,
            {
                "status": "error",
                "error": "POST /alertmanager: body is over the limit of 4096 bytes "
                "(serve.max_body in ops.yaml)",
            },
        )


@pytest.mark.parametrize("path", SLACK_PATHS)
def test_a_slack_body_trickled_a_byte_at_a_time_is_cut_off_at_the_read_timeout(
    server: EscalatingServer, path: str
) -> None:
    """Was: a byte every 0.5 s kept the connection for 50 s and more (slowloris)."""
    with connect(server) as connection:
        connection.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n".encode()
        )
        connection.settimeout(0.2)
        for _ in range(150):  # 30 s of trickling at most; the server must not wait that long
            connection.sendall(b"a")
            try:
                first = connection.recv(65536, socket.MSG_PEEK)
            except TimeoutError:
                continue
            assert first, "closed without an answer"
            break
        connection.settimeout(15)
        assert answer(connection) == (
            408,
            {"ok": False, "error": f"POST {path}: body not received within 1s"},
        )


@pytest.mark.parametrize("path", SLACK_PATHS)
def test_a_signature_that_is_not_ascii_is_a_401(server: EscalatingServer, path: str) -> None:
    """Was: an unauthenticated 500 with a traceback (hmac.compare_digest raised TypeError)."""
    body = b"payload=%7B%7D"
    with connect(server) as connection:
        connection.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"X-Slack-Request-Timestamp: {int(time.time())}\r\n".encode()
            + b"X-Slack-Signature: v0=\xe9\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        assert answer(connection) == (
            401,
            {
                "ok": False,
                "error": f"POST {path}: signature does not match (check SLACK_SIGNING_SECRET)",
            },
        )
    assert "Traceback" not in server.log.read_text()


LONE = "not text: a lone UTF-16 surrogate (a \\u escape without its pair)"


def test_a_lone_surrogate_in_a_webhook_is_a_400_naming_the_field(
    server: EscalatingServer,
) -> None:
    """Was: without a fingerprint a 500 with a traceback; in the group key a 200, then the
    message dead-lettered after three tries, never posted (the attacker's bodies)."""
    no_fingerprint = (
        '{"version":"4","status":"firing","groupKey":"surr-1","commonLabels":{"alertname":'
        '"Surr\\ud800","service":"x\\udfff"},"alerts":[{"status":"firing","labels":{"alertname":'
        '"Surr\\ud800","service":"x\\udfff"},"annotations":{"summary":"s\\ud800"},'
        '"startsAt":"2026-11-30T07:00:00Z"}]}'
    )
    assert server.post(no_fingerprint.encode()) == (
        400,
        {"status": "error", "error": f"POST /alertmanager: commonLabels.alertname: {LONE}"},
    )
    in_group_key = (
        '{"version":"4","status":"firing","groupKey":"g\\ud800-1","commonLabels":{"alertname":'
        '"SurrG"},"alerts":[{"status":"firing","fingerprint":"f2","labels":{"alertname":"SurrG"},'
        '"startsAt":"2026-11-30T07:00:00Z"}]}'
    )
    assert server.post(in_group_key.encode()) == (
        400,
        {"status": "error", "error": f"POST /alertmanager: groupKey: {LONE}"},
    )
    assert server.metric("ops_alerts_received_total") == 0
    assert "Traceback" not in server.log.read_text()
