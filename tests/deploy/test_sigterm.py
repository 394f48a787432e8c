"""What a replica does when Kubernetes or systemd stops it: a real ``ops serve`` and SIGTERM.

It stops accepting connections, answers the request in flight (a webhook accepted then is
committed), and exits by SIGTERM, which systemd and the kubelet count as a clean stop. The
deploy files wait ``terminationGracePeriodSeconds``/``TimeoutStopSec`` for this before
SIGKILL; test_manifests.py checks that wait against serve's own bounds. The store is named
by ``OPS_STATE`` only, as in the Deployment.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ops_toolkit.demo.servers import free_port, wait_ready
from tests.alerts.payloads import notification
from tests.deploy.manifests import containers

TOKEN = "s3cret-webhook-token"


def readiness_path() -> str:
    (serve,) = [c for c in containers() if c.command_line[1:2] == ["serve"]]
    path: str = serve.body["readinessProbe"]["httpGet"]["path"]
    return path


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_sigterm_answers_the_webhook_in_flight_commits_it_and_exits(tmp_path: Path) -> None:
    port = free_port()
    state = tmp_path / "store" / "ops.db"
    state.parent.mkdir()
    config = tmp_path / "ops.yaml"
    config.write_text(f"serve:\n  messages: {tmp_path / 'messages.jsonl'}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPS_"))}
    env.update(OPS_STATE=str(state), OPS_WEBHOOK_TOKEN=TOKEN)
    log = tmp_path / "serve.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ops_toolkit",
                "serve",
                "--config",
                str(config),
                "--listen",
                f"127.0.0.1:{port}",
            ],
            cwd=tmp_path,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}{readiness_path()}"
        wait_ready(url, process, 30, str(log))
        with urllib.request.urlopen(url, timeout=10) as response:
            assert (response.status, json.load(response)["intake"]) == (200, "ok")
        body = json.dumps(notification()).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
            connection.sendall(
                b"POST /alertmanager HTTP/1.1\r\nHost: ops\r\n"
                + f"Authorization: Bearer {TOKEN}\r\n".encode()
                + b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
            )
            # the handler asks for the body: the request is in flight
            assert connection.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
            process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 20
            while not refuses_connections(port):  # new connections are refused now
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
            assert process.poll() is None  # still finishing the request in flight
            connection.sendall(body)
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
                chunk = connection.recv(4096)
                if not chunk:
                    break
                answer += chunk
        head, _, payload = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK"), answer
        assert json.loads(payload) == {"status": "accepted", "id": 1, "alerts": 1}
        assert process.wait(60) == -signal.SIGTERM, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    with sqlite3.connect(state) as db:  # the store OPS_STATE named, and no other
        assert db.execute("SELECT COUNT(*) FROM inbox").fetchone() == (1,)
    assert not (tmp_path / "ops-state.db").exists()


def test_ops_state_names_the_store_outbox_commands_read_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from ops_toolkit.cli import main
    from ops_toolkit.serve.store import Store

    path = tmp_path / "shared.db"
    Store(str(path)).accept([("{}", 1)], 1000.0)
    monkeypatch.chdir(tmp_path)  # no ops-state.db, no ops.yaml here
    runner = CliRunner()
    found = runner.invoke(main, ["outbox", "list", "--json"], env={"OPS_STATE": str(path)})
    missing = runner.invoke(main, ["outbox", "list"], env={"OPS_STATE": "missing.db"})
    assert (found.exit_code, json.loads(found.stdout)) == (0, [])
    assert missing.output == (
        "Error: missing.db: no such store; pass the one 'ops serve' uses (--state, OPS_STATE, or "
        "serve.state in ops.yaml)\n"
    )
