"""``ops serve`` as a real process: HTTP contract, crash safety, and a real Alertmanager.

Slack is the local Slack-compatible API (tests/slack_api.py) driven by the real WebClient.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ops_toolkit.demo.servers import AlertmanagerServer
from tests.alerts.payloads import alert, notification
from tests.conftest import ROOT
from tests.integration.serving import ServeProcess, eventually
from tests.slack_api import Fault, SlackServer, slack_server

TOKEN = "webhook-s3cret"


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    yield from slack_server(["alerts", "search-oncall", "search-alerts", "search-quality"])


class OpsServer(ServeProcess):
    """One ``ops serve`` over the worked example, posting to the local Slack API."""

    def __init__(
        self, tmp_path: Path, slack: SlackServer, extra: str = "", serve_extra: str = ""
    ) -> None:
        config = tmp_path / "ops.yaml"
        # The shipped routes without their escalation policy: these tests are about delivery;
        # tests/integration/test_escalation.py covers the tiers.
        routes = tmp_path / "routes.yaml"
        routes.write_text(
            "".join(
                line
                for line in (ROOT / "alerts" / "routes.yaml").read_text().splitlines(True)
                if not line.strip().startswith("escalation:")
            )
        )
        config.write_text(
            "serve:\n"
            f"  state: {tmp_path / 'state.db'}\n"
            "  pace_seconds: 0.05\n" + serve_extra + f"routes: {routes}\n"
            f"runbooks: {ROOT / 'runbooks'}\n"
            "runbook_base_url: https://git.example.com/search/ops/-/blob/main\n"
            f"slos: [{ROOT / 'slos'}]\n" + extra
        )
        env = {
            **os.environ,
            "OPS_WEBHOOK_TOKEN": TOKEN,
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_API_URL": slack.url,
        }
        super().__init__(config, env, tmp_path / "serve.log", TOKEN)

    @classmethod
    def escalating(cls, tmp_path: Path, slack: SlackServer, oncall: str, routes: str) -> OpsServer:
        """A server whose routes escalate through ``oncall``'s tiers (both given as text)."""
        server = cls(tmp_path, slack)
        (tmp_path / "oncall.yaml").write_text(oncall, encoding="utf-8")
        (tmp_path / "routes.yaml").write_text(routes, encoding="utf-8")
        server.config.write_text(
            f"serve: {{state: {tmp_path / 'state.db'}, pace_seconds: 0.05}}\n"
            f"routes: {tmp_path / 'routes.yaml'}\noncall: {tmp_path / 'oncall.yaml'}\n",
            encoding="utf-8",
        )
        return server


@pytest.fixture
def ops_server(tmp_path: Path, slack: SlackServer) -> Iterator[OpsServer]:
    server = OpsServer(tmp_path, slack).start()
    yield server
    server.stop()


def test_the_http_contract(ops_server: OpsServer, slack: SlackServer) -> None:
    assert ops_server.post(notification(), token=None) == (
        401,
        {"status": "error", "error": "POST /alertmanager: missing or wrong bearer token"},
    )
    assert ops_server.post(notification(), token="wrong")[0] == 401
    status, body = ops_server.post(b"{not json")
    assert status == 400 and body["error"].startswith("POST /alertmanager: body is not JSON: ")
    bad = notification()
    bad["alerts"][0]["startsAt"] = "2026-13-01"
    assert ops_server.post(bad) == (
        400,
        {
            "status": "error",
            "error": "POST /alertmanager: alerts[0].startsAt: not an RFC 3339 time: '2026-13-01'",
        },
    )
    assert ops_server.post(b"x" * (33 * 1024 * 1024))[0] == 413
    eventually(lambda: len(slack.state.posts("alerts")) == 1)  # the refusal is not silent
    for _ in range(10):
        assert ops_server.post(notification())[0] == 200
    eventually(lambda: len(slack.state.posts("search-oncall")) == 1)
    time.sleep(1)
    assert len(slack.state.posts("search-oncall")) == 1
    metrics = urllib.request.urlopen(f"{ops_server.url}/metrics", timeout=5).read().decode()
    assert "ops_alerts_received_total 10.0" in metrics
    assert "ops_duplicates_dropped_total 9.0" in metrics
    assert "ops_messages_posted_total 2.0" in metrics
    assert "ops_bodies_refused_total 1.0" in metrics
    health = json.load(urllib.request.urlopen(f"{ops_server.url}/healthz", timeout=5))
    assert health == {
        "status": "ok",
        "intake": "ok",
        "delivery": "ok",
        "outbox_depth": 0,
        "outbox_oldest_age_seconds": 0.0,
        "inbox_depth": 0,
        "dead": 0,
        "inbox_dead": 0,
        "budgets": f"off: {ops_server.config} has no 'prometheus:', so alert messages carry no "
        "SLO budget; add 'prometheus: http://HOST:9090' to ops.yaml to turn budgets on",
    }
    # said once at start too, where whoever starts it looks
    assert ops_server.log.read_text().count(f"SLO budgets off: {ops_server.config} has no") == 1


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_healthz_is_503_only_when_intake_cannot_commit(tmp_path: Path) -> None:
    with SlackServer(["alerts"]) as missing_channels:  # '#search-oncall' does not exist
        server = OpsServer(tmp_path, missing_channels).start()
        try:
            assert server.post(notification())[0] == 200
            eventually(lambda: json.loads(get(f"{server.url}/healthz")[1])["dead"] == 1)
            status, body = get(f"{server.url}/healthz")
            assert status == 200 and json.loads(body)["delivery"] == "degraded"
            assert b"ops_delivery_degraded 1.0" in get(f"{server.url}/metrics")[1]
            log = server.log.read_text()
            assert (
                "outbox entry 1 (post to #search-oncall): dead letter: Slack: no channel "
                "#search-oncall visible to the bot; invite it or fix alerts/routes.yaml"
            ) in log
            # another process holds the store's write lock: reads go on, and that is
            # contention, not an outage (intake answers 503 with Retry-After meanwhile)
            holder = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
            try:
                anonymous = server.health()
                detailed = server.health(TOKEN)
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            assert (anonymous[0], anonymous[1]["status"], anonymous[1]["intake"]) == (
                200,
                "ok",
                "busy",
            )
            assert anonymous[1]["delivery"] == "degraded"
            assert detailed == anonymous
            assert get(f"{server.url}/healthz")[0] == 200
            assert json.loads(get(f"{server.url}/healthz")[1])["intake"] == "ok"
            assert "store unavailable" not in server.log.read_text()
        finally:
            server.stop()


@pytest.mark.parametrize(
    "fault",
    ["hang", "hang_after_store"],
    ids=["killed before Slack stored it", "killed after Slack stored it"],
)
def test_killed_between_accepting_and_posting_posts_exactly_once(
    tmp_path: Path, slack: SlackServer, fault: str
) -> None:
    server = OpsServer(tmp_path, slack).start()
    try:
        slack.state.faults.append(Fault("chat.postMessage", fault, 1, seconds=60))
        assert server.post(notification())[0] == 200
        eventually(lambda: any(m == "chat.postMessage" for m, _ in slack.state.calls))
        server.kill()
        slack.state.faults.clear()
        server.start()
        eventually(lambda: len(slack.state.posts("search-oncall")) == 1)
        time.sleep(1.5)
        assert len(slack.state.posts("search-oncall")) == 1
    finally:
        server.stop()


def test_killed_before_processing_loses_nothing(tmp_path: Path, slack: SlackServer) -> None:
    server = OpsServer(tmp_path, slack)
    server.env["SLACK_API_URL"] = "http://127.0.0.1:9/api/"  # Slack unreachable for now
    server.start()
    try:
        for index in range(5):
            group = notification(alert(fingerprint=f"k{index}"), group_key=f"group-{index}")
            assert server.post(group)[0] == 200
        server.kill()
        server.env["SLACK_API_URL"] = slack.url
        server.start()
        eventually(lambda: len(slack.state.posts("search-oncall")) == 5, timeout=30)
    finally:
        server.stop()


def test_an_alert_through_a_real_alertmanager_reaches_the_right_channel(
    tmp_path: Path, ops_server: OpsServer, slack: SlackServer
) -> None:
    manager = AlertmanagerServer(
        str(tmp_path / "am"), f"{ops_server.url}/alertmanager", TOKEN
    ).start()
    try:
        labels = {
            "alertname": "SearchAvailabilityBudgetBurn",
            "service": "search",
            "slo": "availability",
            "severity": "page",
            "team": "search",
        }
        manager.fire(labels, {"summary": "search/availability is burning its budget fast"})
        eventually(lambda: len(slack.state.top_level("search-oncall")) == 1, timeout=30)
        (message,) = slack.state.top_level("search-oncall")
        actions = next(b for b in message["blocks"] if b["type"] == "actions")["elements"]
        assert actions[0]["url"] == (
            "https://git.example.com/search/ops/-/blob/main/runbooks/search-errors.md"
        )
        assert message["text"].startswith(
            "<!here> :rotating_light: FIRING: SearchAvailabilityBudgetBurn"
        )
        manager.fire(
            labels, {"summary": "search/availability is burning its budget fast"}, resolved=True
        )
        eventually(lambda: slack.state.top_level("search-oncall")[0]["updates"] == 1, timeout=30)
        opening = slack.state.top_level("search-oncall")[0]
        assert opening["blocks"][0]["text"]["text"].startswith(
            "RESOLVED: SearchAvailabilityBudgetBurn"
        )
        eventually(lambda: len(slack.state.replies("search-oncall", opening["ts"])) == 1)
        assert slack.state.replies("search-oncall", opening["ts"])[0]["text"].startswith(
            ":white_check_mark: Resolved at"
        )
        assert slack.state.posts("alerts") == []
    finally:
        manager.stop()


def test_serve_refuses_to_run_without_a_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OPS_WEBHOOK_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-m", "ops_toolkit", "serve", "--listen", "127.0.0.1:1"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert result.stderr == (
        "Error: OPS_WEBHOOK_TOKEN is not set: set it (Alertmanager sends it as a bearer token) or "
        "pass --insecure-no-auth for a local try\n"
    )


def test_alerts_run_their_runbooks_diagnose_steps_and_reply_in_the_thread(
    tmp_path: Path, slack: SlackServer, worked_prometheus: Any
) -> None:
    server = OpsServer(
        tmp_path, slack, f"auto_diagnose: true\nprometheus: {worked_prometheus.url}\n"
    )
    server.start()
    try:
        health = json.load(urllib.request.urlopen(f"{server.url}/healthz", timeout=5))
        assert health["budgets"] == "on"
        assert "SLO budgets" not in server.log.read_text()
        assert server.post(notification())[0] == 200
        hostile = notification(
            alert(fingerprint="h", component="x; touch PWNED"), group_key="hostile"
        )
        assert server.post(hostile)[0] == 200

        def replies() -> list[dict[str, Any]]:
            return [m for m in slack.state.posts("search-oncall") if m.get("thread_ts")]

        eventually(lambda: len(replies()) == 2, timeout=90)
        ran = next(m for m in replies() if "ran unattended" in m["text"])
        refused = next(m for m in replies() if "Could not run" in m["text"])
        openings = {m["ts"] for m in slack.state.top_level("search-oncall")}
        assert {ran["thread_ts"], refused["thread_ts"]} == openings
        body = json.dumps(ran["blocks"])
        assert "*error-ratio* succeeded" in body and "*health-endpoint* failed" in body
        assert "rollback" not in body  # a confirm step is never part of a diagnose run
        assert "param SERVICE: value 'x; touch PWNED' does not match pattern" in refused["text"]
        assert not (ROOT / "PWNED").exists()
    finally:
        server.stop()


def big_group(count: int) -> dict[str, Any]:
    """A group the size of a real kube-state-metrics storm (each alert ~900 bytes)."""
    alerts = [
        alert(
            "KubePodNotReady",
            fingerprint=f"{index:016x}",
            namespace=f"search-{index % 40}",
            pod=f"search-api-{index:05d}-7d9f8c6b5d-x{index % 97:02d}",
            container="api",
            instance=f"10.{index // 65536}.{index // 256 % 256}.{index % 256}:8080",
            job="kube-state-metrics",
            node=f"ip-10-0-{index % 250}-{index % 200}.eu-west-1.compute.internal",
            uid=f"{index:08x}-1b2c-4d3e-8f9a-0b1c2d3e4f5a",
            created_by_kind="ReplicaSet",
            created_by_name=f"search-api-{index % 12}-7d9f8c6b5d",
            host_ip=f"10.0.{index % 250}.{index % 200}",
            pod_ip=f"10.244.{index % 250}.{index % 200}",
            priority_class="production-high",
        )
        for index in range(count)
    ]
    for item in alerts:
        item["annotations"]["description"] = (
            "Pod has been in a non-ready state for 15 minutes. " * 3
        )
    return notification(*alerts, group_key='{}:{alertname="KubePodNotReady"}')


def test_a_real_sized_group_of_3000_alerts_is_accepted_and_posted(
    ops_server: OpsServer, slack: SlackServer
) -> None:
    body = json.dumps(big_group(3000)).encode()
    assert 2.5 * 1024 * 1024 < len(body) < 32 * 1024 * 1024
    status, answer = ops_server.post(body)
    assert (status, answer["alerts"]) == (200, 3000)
    eventually(lambda: len(slack.state.top_level("search-oncall")) == 1, timeout=60)
    (message,) = slack.state.top_level("search-oncall")
    listing = next(
        b["text"]["text"] for b in message["blocks"] if "more" in b.get("text", {}).get("text", "")
    )
    shown = listing.count("• [firing]")
    assert listing.endswith(f"\n+{3000 - shown} more") and shown > 0


def test_a_body_over_the_limit_is_refused_and_the_refusal_posted(
    tmp_path: Path, slack: SlackServer
) -> None:
    server = OpsServer(tmp_path, slack, serve_extra="  max_body: 4KiB\n").start()
    try:
        body = json.dumps(big_group(10)).encode()
        for _ in range(2):
            assert server.post(body) == (
                413,
                {
                    "status": "error",
                    "error": f"POST /alertmanager: body of {len(body)} bytes is over the limit "
                    "of 4096 bytes (serve.max_body in ops.yaml)",
                },
            )
        eventually(lambda: len(slack.state.top_level("alerts")) == 1)
        (notice,) = slack.state.top_level("alerts")
        assert notice["text"].startswith(":warning: An Alertmanager webhook was refused at ")
        assert "Raise `serve.max_body` in ops.yaml or set `max_alerts`" in notice["text"]
        metrics = get(f"{server.url}/metrics")[1].decode()
        assert "ops_bodies_refused_total 2.0" in metrics
        assert "refused a webhook body of" in server.log.read_text()
    finally:
        server.stop()


def test_input_that_crashed_the_handler_is_a_400_naming_the_field(
    ops_server: OpsServer,
) -> None:
    late = notification()
    late["alerts"][0]["startsAt"] = "9999-12-31T23:59:59-23:59"
    assert ops_server.post(late) == (
        400,
        {
            "status": "error",
            "error": "POST /alertmanager: alerts[0].startsAt: time out of range (years 1 to "
            "9999 in UTC): '9999-12-31T23:59:59-23:59'",
        },
    )
    assert ops_server.post(b"[" * 100_000 + b"]" * 100_000) == (
        400,
        {
            "status": "error",
            "error": "POST /alertmanager: body is not JSON this server accepts: nested too deep",
        },
    )
    # A key twice: which one counts would be the JSON library's choice (attack 16).
    doubled = json.dumps(notification()).replace(
        '"status": "firing"', '"status": "firing", "status": "resolved"', 1
    )
    assert ops_server.post(doubled.encode()) == (
        400,
        {
            "status": "error",
            "error": "POST /alertmanager: body is not JSON this server accepts: "
            "duplicate key 'status'",
        },
    )
    utf16 = json.dumps(notification()).encode("utf-16")
    status, answer = ops_server.post(utf16)
    assert status == 400 and answer["error"].startswith("POST /alertmanager: body is not UTF-8: ")
    huge = json.dumps(notification()).replace('"truncatedAlerts": 0', '"truncatedAlerts": 1e30')
    assert ops_server.post(huge.encode())[0] == 400


def raw_connection(server: OpsServer) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=20)
    return connection


def test_slow_clients_are_cut_off(tmp_path: Path, slack: SlackServer) -> None:
    server = OpsServer(tmp_path, slack, serve_extra="  read_timeout: 1s\n").start()
    try:
        # headers trickled (slowloris): the server closes the connection
        with raw_connection(server) as slow_headers:
            slow_headers.sendall(b"POST /alertmanager HTTP/1.1\r\nHost: x\r\n")
            assert slow_headers.recv(1024) == b""
        # a connection that never sends anything is closed too
        with raw_connection(server) as silent:
            assert silent.recv(1024) == b""
        # a body that stops half-way gets a 408
        with raw_connection(server) as slow_body:
            slow_body.sendall(
                f"POST /alertmanager HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{".encode()
            )
            answer = b""
            while chunk := slow_body.recv(4096):
                answer += chunk
                if b"}" in answer.split(b"\r\n\r\n", 1)[-1]:
                    break
        head, _, payload = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 ")
        assert json.loads(payload) == {
            "status": "error",
            "error": "POST /alertmanager: body not received within 1s",
        }
        # and the server still takes alerts
        assert server.post(notification())[0] == 200
    finally:
        server.stop()


def test_the_bearer_scheme_is_case_insensitive_and_a_lone_signing_secret_is_explained(
    tmp_path: Path, slack: SlackServer
) -> None:
    """Was: 'bearer TOKEN' refused (RFC 7235 says the scheme is case-insensitive); and with
    SLACK_SIGNING_SECRET but no on-call file the Slack endpoints answered 404, unexplained."""
    server = OpsServer(tmp_path, slack)
    server.env["SLACK_SIGNING_SECRET"] = "signing-secret-value"
    server.cwd = tmp_path  # no alerts/oncall.yaml here
    server.start()
    try:
        assert server.post(notification(), scheme="bearer")[0] == 200
        assert server.post(notification(), scheme="BEARER")[0] == 200
        assert server.post(notification(), scheme="Basic")[0] == 401
        assert server.post(notification(), token=TOKEN[:-1])[0] == 401
    finally:
        server.stop()
    assert (
        "SLACK_SIGNING_SECRET is set but there is no on-call file: /slack/interactions and "
        "/slack/commands are off (404); put 'oncall: PATH' in ops.yaml or create "
        "alerts/oncall.yaml to turn them on"
    ) in server.log.read_text()
