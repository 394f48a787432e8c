"""Two ``ops serve`` replicas on one store behind two peered Alertmanagers, with real faults.

This is how a team runs ops past one machine: an Alertmanager HA cluster whose members each
send every notification, to a receiver with one webhook per replica, so each notification
arrives several times, at every replica. The replicas share one store and must turn that
into one Slack message per event, in order within each alert group, while a replica is
SIGKILLed, Slack answers 429 for a while, and (on PostgreSQL) the database restarts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ops_toolkit.demo.servers import free_port, wait_ready
from tests.conftest import ROOT
from tests.integration.conftest import ClusterFactory
from tests.slack_api import Fault, SlackServer, slack_server

TOKEN = "ha-webhook-s3cret"
GROUPS = 20
CHANNEL = "ha-alerts"
ROUTES = f"""
default: {{channel: "#alerts"}}
routes:
  - match: {{service: ha}}
    channel: "#{CHANNEL}"
"""


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    yield from slack_server(["alerts", CHANNEL])


class Replica:
    """One ``ops serve`` process on a shared store, started, SIGKILLed and restarted by pid."""

    def __init__(self, workdir: Path, config: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.config = config
        self.env = env
        self.port = free_port()
        self.log = workdir / f"serve-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Replica:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ops_toolkit",
                    "serve",
                    "--config",
                    str(self.config),
                    "--listen",
                    f"127.0.0.1:{self.port}",
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        wait_ready(f"{self.url}/healthz", self.process, 30, str(self.log))
        return self

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)

    def metric(self, name: str) -> float:
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=5) as response:
            for line in response.read().decode().splitlines():
                if line.startswith(f"{name} "):
                    return float(line.split()[1])
        raise AssertionError(f"{name} not in {self.url}/metrics")

    def health(self) -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=5) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)


class Installation:
    """The shared ops.yaml and the replicas started from it."""

    def __init__(self, tmp_path: Path, slack: SlackServer, state: str, extra: str = "") -> None:
        self.tmp_path = tmp_path
        self.state = state
        routes = tmp_path / "routes.yaml"
        routes.write_text(ROUTES)
        self.config = tmp_path / "ops.yaml"
        self.config.write_text(
            f"serve:\n  state: {state}\n  pace_seconds: 0.05\n"
            f"routes: {routes}\nrunbooks: {ROOT / 'runbooks'}\n" + extra
        )
        self.env = {
            **os.environ,
            "OPS_WEBHOOK_TOKEN": TOKEN,
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_API_URL": slack.url,
        }
        self.replicas: list[Replica] = []

    def replica(self) -> Replica:
        replica = Replica(self.tmp_path, self.config, self.env)
        self.replicas.append(replica)
        return replica

    def stop(self) -> None:
        for replica in self.replicas:
            replica.stop()


def eventually(check: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    assert check(), what


def group_name(index: int) -> str:
    return f"HaGroup{index:02d}"


def labels_of(index: int) -> dict[str, str]:
    return {"alertname": group_name(index), "service": "ha", "slo": "availability"}


def opening_posts(slack: SlackServer, name: str) -> list[dict[str, Any]]:
    return [m for m in slack.state.top_level(CHANNEL) if f": {name}" in m["text"]]


def post_calls(slack: SlackServer, name: str) -> list[dict[str, Any]]:
    """Every chat.postMessage that opened a thread for ``name``, answered 429 or not."""
    with slack.state.lock:
        calls = list(slack.state.calls)
    return [
        arguments
        for method, arguments in calls
        if method == "chat.postMessage"
        and not arguments.get("thread_ts")
        and f": {name}" in str(arguments.get("text", ""))
    ]


def assert_each_group_once_in_order(slack: SlackServer) -> None:
    """One opening per group, posted firing and updated to resolved once, and one reply
    (the resolution) in its thread: nothing lost, nothing twice, nothing out of order."""
    for index in range(GROUPS):
        name = group_name(index)
        (opening,) = opening_posts(slack, name)
        assert all("FIRING" in call["text"] for call in post_calls(slack, name)), name
        assert opening["updates"] == 1, name
        assert opening["blocks"][0]["text"]["text"].startswith(f"RESOLVED: {name}"), name
        replies = slack.state.replies(CHANNEL, opening["ts"])
        assert [r["text"].split(" at ")[0] for r in replies] == [":white_check_mark: Resolved"]
    assert len(slack.state.top_level(CHANNEL)) == GROUPS
    assert slack.state.posts("alerts") == []


def all_delivered(slack: SlackServer) -> bool:
    openings = slack.state.top_level(CHANNEL)
    return len(openings) >= GROUPS and all(
        m["updates"] >= 1 and slack.state.replies(CHANNEL, m["ts"]) for m in openings
    )


def fire_all(cluster: Any, starts: datetime, indexes: range, *, resolved: bool = False) -> None:
    for index in indexes:
        cluster.fire(
            labels_of(index),
            {"summary": f"{group_name(index)} is burning"},
            starts_at=starts,
            resolved=resolved,
        )


def sqlite_state(tmp_path: Path) -> str:
    return str(tmp_path / "state.db")


def test_clustered_alertmanagers_send_each_notification_to_every_replica(
    tmp_path: Path, slack: SlackServer, alertmanager_cluster: ClusterFactory
) -> None:
    installation = Installation(tmp_path, slack, sqlite_state(tmp_path))
    first, second = installation.replica().start(), installation.replica().start()
    try:
        cluster = alertmanager_cluster([f"{r.url}/alertmanager" for r in (first, second)], TOKEN)
        for member in cluster.members:
            peers = member.status()["cluster"]["peers"]
            assert sorted(p["address"] for p in peers) == sorted(
                f"127.0.0.1:{m.cluster_port}" for m in cluster.members
            )
        fire_all(cluster, datetime.now(UTC), range(1))
        eventually(lambda: len(opening_posts(slack, group_name(0))) == 1)
        # each member's receiver posts to both replicas: the same event arrives at least twice
        eventually(lambda: first.metric("ops_duplicates_dropped_total") >= 1)
        time.sleep(1.0)
        assert len(opening_posts(slack, group_name(0))) == 1
    finally:
        installation.stop()


def test_two_replicas_one_killed_and_slack_rate_limiting_deliver_each_group_once_in_order(
    tmp_path: Path, slack: SlackServer, alertmanager_cluster: ClusterFactory
) -> None:
    installation = Installation(tmp_path, slack, sqlite_state(tmp_path))
    doomed, survivor = installation.replica().start(), installation.replica().start()
    try:
        run_ha_scenario(
            installation,
            slack,
            alertmanager_cluster,
            doomed,
            survivor,
            fault=lambda: doomed.kill(),
        )
    finally:
        installation.stop()


def run_ha_scenario(
    installation: Installation,
    slack: SlackServer,
    alertmanager_cluster: ClusterFactory,
    first: Replica,
    second: Replica,
    *,
    fault: Callable[[], None],
) -> None:
    """Fire GROUPS groups at both Alertmanagers while Slack answers 429 for a while, apply
    ``fault`` once the first messages went out, resolve every group, and check Slack."""
    cluster = alertmanager_cluster([f"{r.url}/alertmanager" for r in (first, second)], TOKEN)
    slack.state.faults.append(Fault("chat.postMessage", "429", 8, retry_after=1))
    starts = datetime.now(UTC).replace(microsecond=0)
    half = GROUPS // 2
    fire_all(cluster, starts, range(half))
    eventually(lambda: len(slack.state.top_level(CHANNEL)) >= 2, what="first posts")
    fault()
    fire_all(cluster, starts, range(half, GROUPS))
    eventually(lambda: len(slack.state.top_level(CHANNEL)) == GROUPS, timeout=120)
    fire_all(cluster, starts, range(GROUPS), resolved=True)
    eventually(lambda: all_delivered(slack), timeout=120, what="every group resolved")
    time.sleep(2.0)  # a duplicate would come now, from a replica or an Alertmanager's retry
    assert_each_group_once_in_order(slack)
    status, health = second.health()
    assert status == 200 and health["dead"] == 0 and health["inbox_dead"] == 0, health
    assert second.metric("ops_duplicates_dropped_total") >= 1  # duplicates did arrive
