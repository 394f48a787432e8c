"""deploy/alertmanager/alertmanager-ha.yml run for real: two peered Alertmanagers, one ops.

Both members load the shipped file with three changes only: the webhook URL points at a
local ``ops serve`` instead of the cluster Service, the token file is a temporary one, and
the group timers are seconds instead of minutes. Prometheus sends every alert to every
member, as here; the alert reaches the channel its labels route to once, with the bearer
token from ``credentials_file``, and its resolution updates that message.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ops_toolkit.demo.servers import LocalServer, free_port, post_alerts
from tests.deploy.manifests import ALERTMANAGER_HA
from tests.integration.test_serve import TOKEN, OpsServer, eventually
from tests.slack_api import SlackServer, slack_server

LABELS = {
    "alertname": "SearchAvailabilityBudgetBurn",
    "service": "search",
    "slo": "availability",
    "severity": "page",
    "team": "search",
}


class ClusterMember(LocalServer):
    """One ``prometheus-alertmanager`` of a cluster gossiping on loopback."""

    def __init__(self, workdir: Path, config: Path, gossip: int, peers: list[int]) -> None:
        self.workdir = str(workdir)
        self.port = free_port()
        self.config = config
        self.gossip = gossip
        self.peers = peers

    def start(self) -> ClusterMember:
        self.launch(
            "prometheus-alertmanager",
            [
                f"--config.file={self.config}",
                f"--storage.path={self.workdir}/data",
                f"--web.listen-address=127.0.0.1:{self.port}",
                f"--cluster.listen-address=127.0.0.1:{self.gossip}",
                *(f"--cluster.peer=127.0.0.1:{peer}" for peer in self.peers),
                "--cluster.peer-timeout=2s",
                "--cluster.gossip-interval=100ms",
                "--cluster.pushpull-interval=1s",
            ],
            "alertmanager",
            30,
        )
        return self

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as response:
            return json.load(response)

    def fire(self, alert: dict[str, Any]) -> None:
        post_alerts(self.url, [alert])


def ha_config(tmp_path: Path, ops_url: str) -> Path:
    config = yaml.safe_load(ALERTMANAGER_HA.read_text())
    (webhook,) = config["receivers"][0]["webhook_configs"]
    webhook["url"] = f"{ops_url}/alertmanager"
    token = tmp_path / "webhook-token"
    token.write_text(TOKEN)
    webhook["http_config"]["authorization"]["credentials_file"] = str(token)
    config["route"].update(group_wait="1s", group_interval="2s")
    path = tmp_path / "alertmanager-ha.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    yield from slack_server(["alerts", "search-oncall", "search-alerts", "search-quality"])


def test_two_peered_alertmanagers_with_the_ha_example_post_an_alert_once(
    tmp_path: Path, slack: SlackServer
) -> None:
    ops = OpsServer(tmp_path, slack).start()
    members: list[ClusterMember] = []
    try:
        config = ha_config(tmp_path, ops.url)
        gossip = [free_port(), free_port()]
        for index, port in enumerate(gossip):
            others = [p for p in gossip if p != port]
            members.append(ClusterMember(tmp_path / f"am{index}", config, port, others).start())
        eventually(
            lambda: all(len(m.get("/api/v2/status")["cluster"]["peers"]) == 2 for m in members)
        )
        alert = {"labels": LABELS, "annotations": {"summary": "burning fast"}}
        for member in members:  # as Prometheus does: every alert to every member
            member.fire(alert)
        eventually(lambda: len(slack.state.top_level("search-oncall")) == 1, timeout=30)
        time.sleep(6)  # past both members' group_interval and the second one's peer wait
        assert len(slack.state.top_level("search-oncall")) == 1
        assert slack.state.posts("alerts") == []
        resolved = {**alert, "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        for member in members:
            member.fire(resolved)
        eventually(lambda: slack.state.top_level("search-oncall")[0]["updates"] == 1, timeout=30)
        opening = slack.state.top_level("search-oncall")[0]
        assert opening["blocks"][0]["text"]["text"].startswith(
            "RESOLVED: SearchAvailabilityBudgetBurn"
        )
    finally:
        for member in members:
            member.stop()
        ops.stop()
