"""What an attacker found in a real ``ops serve``, each one refused now (issue: serve security).

The Slack endpoints are on (an on-call file and ``SLACK_SIGNING_SECRET``); requests are
written on a raw socket where an HTTP client would not send them (a body declared and never
sent, a body trickled, a header byte that is not ASCII).
"""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.alerts.payloads import alert, notification
from tests.integration.serving import eventually
from tests.integration.test_escalation import EscalatingServer
from tests.integration.test_serve import OpsServer
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


GATE_RUNBOOK = """---
title: Waits for the test's gate
owner: team-test
alerts: [GateAlert]
params:
  POD: {{default: none, pattern: "^[a-z0-9-]+$", from_label: pod}}
---
# Waits for the test's gate

## Diagnose

```sh {{"name":"wait-for-gate","tag":"diagnose"}}
touch "{started}/$POD"
while [ ! -e "{gate}" ]; do sleep 0.05; done
echo "diagnosed $POD"
```
"""


class GatedServer(OpsServer):
    """``auto_diagnose`` over one runbook whose diagnose step waits until the test opens
    the gate (a file), so that runs queue behind it in a known order, with no timing."""

    def __init__(self, tmp_path: Path, slack: SlackServer, serve_extra: str = "") -> None:
        super().__init__(tmp_path, slack, "auto_diagnose: true\n", serve_extra)
        self.started = tmp_path / "started"
        self.started.mkdir()
        self.gate = tmp_path / "gate"
        runbooks = tmp_path / "runbooks"
        runbooks.mkdir()
        (runbooks / "gate.md").write_text(GATE_RUNBOOK.format(started=self.started, gate=self.gate))
        self.config.write_text(
            "".join(
                f"runbooks: {runbooks}\n" if line.startswith("runbooks:") else line
                for line in self.config.read_text().splitlines(True)
            )
        )
        self.runs = Path(f"{tmp_path / 'state.db'}.runs") / "runs"

    def alert(self, group: str, pod: str) -> None:
        body = notification(alert("GateAlert", fingerprint=group, pod=pod), group_key=group)
        assert self.post(body)[0] == 200

    def run_records(self) -> int:
        return len(list(self.runs.glob("*.json")))


def replies(slack: SlackServer) -> list[str]:
    """The text of each thread reply, in the order posted, after checking that each is in
    the thread of an alert group's opening message."""
    posts = slack.state.posts("search-oncall")
    openings = {m["ts"] for m in posts if not m.get("thread_ts")}
    threaded = [m for m in posts if m.get("thread_ts")]
    assert all(m["thread_ts"] in openings for m in threaded)
    return [str(m["text"]) for m in threaded]


def test_auto_diagnose_runs_wait_in_a_bounded_queue_and_like_runs_are_coalesced(
    tmp_path: Path, slack: SlackServer
) -> None:
    """Was: every new group queued a run, unbounded (300 groups: the last reply hours late)."""
    server = GatedServer(tmp_path, slack, "  diagnose_queue: 2\n").start()
    try:
        server.alert("g-a", "p0")
        eventually(lambda: (server.started / "p0").exists(), timeout=30)
        server.alert("g-b", "p1")  # waits
        server.alert("g-c", "p1")  # the same runbook and labels: joins g-b's run
        server.alert("g-d", "p2")  # waits: the queue is full now
        server.alert("g-e", "p3")  # over the bound: told so
        skipped = (
            ":mag: Diagnose steps of `gate` not run: 2 diagnose runs were already waiting "
            "(serve.diagnose_queue in ops.yaml)"
        )
        eventually(lambda: skipped in replies(slack), timeout=30)
        server.gate.touch()
        eventually(lambda: len(replies(slack)) == 5, timeout=60)
        ran = [text for text in replies(slack) if "ran unattended" in text]
        assert len(ran) == 4 and all(text.endswith(": succeeded") for text in ran)
        assert sorted(p.name for p in server.started.iterdir()) == ["p0", "p1", "p2"]
        assert server.run_records() == 3  # g-b and g-c shared one run
        assert "diagnose run for GateAlert not run: 2 diagnose runs were already waiting" in (
            server.log.read_text()
        )
    finally:
        server.gate.touch()
        server.stop()


def test_runs_still_waiting_when_ops_serve_stops_reply_that_they_were_not_run(
    tmp_path: Path, slack: SlackServer
) -> None:
    """Was: dropped on stop without a word (~260 of 300 in the attacker's storm)."""
    server = GatedServer(tmp_path, slack).start()
    try:
        server.alert("g-a", "p0")
        eventually(lambda: (server.started / "p0").exists(), timeout=30)
        server.alert("g-b", "p1")
        server.alert("g-c", "p2")
        eventually(lambda: "queued (2 waiting)" in server.log.read_text(), timeout=30)
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        eventually(
            lambda: (
                "ops serve stopped: 2 diagnose runs waiting were not run" in server.log.read_text()
            ),
            timeout=30,
        )
        server.gate.touch()  # the run under way ends, and with it the server
        server.process.wait(timeout=60)  # (uvicorn ends by the signal it was stopped with)
        assert "Traceback" not in server.log.read_text()
        server.start()  # whatever was not yet posted is in the outbox
        not_run = ":mag: Diagnose steps of `gate` not run: ops serve stopped"
        eventually(lambda: replies(slack).count(not_run) == 2, timeout=30)
        eventually(lambda: len(replies(slack)) == 3, timeout=30)
        assert sum("ran unattended" in text for text in replies(slack)) == 1
        assert sorted(p.name for p in server.started.iterdir()) == ["p0"]
    finally:
        server.gate.touch()
        server.stop()
