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
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ops_toolkit.reports.scheduled import latest_slot
from ops_toolkit.serve.store import Store
from tests.alerts.payloads import alert, notification
from tests.conftest import ROOT
from tests.integration.conftest import ClusterFactory, LoadedPrometheus, loaded_prometheus
from tests.integration.serving import ServeProcess
from tests.integration.serving import eventually as wait_for
from tests.postgres import PostgresServer
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


class Replica(ServeProcess):
    """One ``ops serve`` process on a shared store, started, SIGKILLed and restarted by pid."""

    def __init__(self, workdir: Path, config: Path, env: dict[str, str]) -> None:
        super().__init__(config, env, workdir / "serve.log", TOKEN)
        self.log = workdir / f"serve-{self.port}.log"


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

    def start_together(self, count: int) -> list[Replica]:
        """``count`` replicas launched at once, so that their first rounds race."""
        replicas = [self.replica() for _ in range(count)]
        for replica in replicas:
            replica.launch()
        return [replica.ready() for replica in replicas]

    def stop(self) -> None:
        for replica in self.replicas:
            replica.stop()


def eventually(check: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
    """The shared wait, with the longer bound replicas and a restarting database need."""
    wait_for(check, timeout, what)


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
    tmp_path: Path, slack: SlackServer, alertmanager_cluster: ClusterFactory, store_state: str
) -> None:
    installation = Installation(tmp_path, slack, store_state)
    doomed, survivor = installation.replica().start(), installation.replica().start()
    try:
        run_ha_scenario(
            installation,
            slack,
            alertmanager_cluster,
            survivor,
            doomed,
            fault=doomed.kill,
            recover=doomed.start,
        )
    finally:
        installation.stop()


def test_postgresql_restarted_under_two_replicas_loses_and_repeats_nothing(
    tmp_path: Path, slack: SlackServer, alertmanager_cluster: ClusterFactory
) -> None:
    with PostgresServer() as database:  # its own: restarting it disturbs no other test
        installation = Installation(tmp_path, slack, database.create_database())
        first, second = installation.replica().start(), installation.replica().start()

        def stop() -> None:
            database.stop()
            # intake cannot commit: 503 (Alertmanager retries), and /healthz says why
            eventually(lambda: first.health()[0] == 503, timeout=30, what="503 while down")
            assert first.health()[1] == {"status": "unavailable", "intake": "store unavailable"}
            health = first.health(TOKEN)[1]  # the detail, for the token's holder
            assert health["status"] == "unavailable"
            assert "database unavailable" in health["detail"], health
            assert "ops-test-secret" not in json.dumps(health)

        try:
            run_ha_scenario(
                installation,
                slack,
                alertmanager_cluster,
                first,
                second,
                fault=stop,
                recover=database.start,
            )
        finally:
            installation.stop()


def run_ha_scenario(
    installation: Installation,
    slack: SlackServer,
    alertmanager_cluster: ClusterFactory,
    witness: Replica,
    other: Replica,
    *,
    fault: Callable[[], object],
    recover: Callable[[], object],
) -> None:
    """Fire half the groups at both Alertmanagers while Slack answers 429 for a while; once
    the first messages went out, ``fault``; fire the other half meanwhile; ``recover``;
    resolve every group, and check Slack. ``witness`` runs throughout."""
    cluster = alertmanager_cluster([f"{r.url}/alertmanager" for r in (witness, other)], TOKEN)
    slack.state.faults.append(Fault("chat.postMessage", "429", 8, retry_after=1))
    starts = datetime.now(UTC).replace(microsecond=0)
    half = GROUPS // 2
    fire_all(cluster, starts, range(half))
    eventually(lambda: len(slack.state.top_level(CHANNEL)) >= 2, what="first posts")
    fault()
    fire_all(cluster, starts, range(half, GROUPS))
    time.sleep(3.0)  # the Alertmanagers flush the new groups into the fault, and retry
    recover()
    eventually(lambda: len(slack.state.top_level(CHANNEL)) == GROUPS, timeout=120)
    fire_all(cluster, starts, range(GROUPS), resolved=True)
    eventually(lambda: all_delivered(slack), timeout=120, what="every group resolved")
    time.sleep(2.0)  # a duplicate would come now, from a replica or an Alertmanager's retry
    assert_each_group_once_in_order(slack)
    status, health = witness.health()
    assert status == 200 and health["dead"] == 0 and health["inbox_dead"] == 0, health
    assert witness.metric("ops_duplicates_dropped_total") >= 1  # duplicates did arrive


@pytest.fixture(scope="module")
def current_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadedPrometheus]:
    """The worked example's data ending now: ``ops serve`` evaluates reports and policies at
    its own clock, so their data must reach it; the expectations come from this data."""
    base = tmp_path_factory.mktemp("current-prometheus")
    with loaded_prometheus(base, int(time.time()) // 60 * 60) as loaded:
        yield loaded


ONCALL_ROUTES = """
default: {channel: "#alerts"}
routes:
  - match: {service: search}
    channel: "#ha-oncall"
    escalation: ha
"""


def oncall_file(handoff: datetime) -> str:
    """A policy of three tiers two seconds apart, and a schedule whose daily handoff was
    ``handoff`` (a few minutes ago), announced in #ha-handoffs."""
    return f"""
schedules:
  - name: primary
    timezone: UTC
    channel: "#ha-handoffs"
    layers:
      - {{rotation: daily, handoff: "{handoff:%H:%M}", start: {handoff:%Y-%m-%d},
         participants: [U0FIRST001, U0SECOND01]}}
policies:
  - name: ha
    tiers:
      - {{schedule: primary, wait: 2s}}
      - {{users: [U0SECOND01], wait: 2s}}
      - {{users: [U0LEAD0001]}}
"""


def seed_previous_run(store: Any, now: float) -> None:
    """What an earlier ``ops serve`` left: the last report slot an hour before the current
    one and the last handoff look 20 minutes ago, so both replicas find one of each due at
    start and race for it."""
    store.claim_slot("hourly", latest_slot("0 * * * *", "UTC", now) - 3600, [], now, post=False)
    store.claim_slot("handoff:primary", now - 1200, [], now, post=False)


def test_reports_policies_tiers_and_handoffs_fire_once_with_two_replicas(
    tmp_path: Path, current_prometheus: LoadedPrometheus, postgres_database: str
) -> None:
    now = time.time()
    handoff = datetime.fromtimestamp((now - 300) // 60 * 60, UTC)
    (tmp_path / "oncall.yaml").write_text(oncall_file(handoff))
    remaining = current_prometheus.remaining("availability", 99.9)
    high = round(remaining * 100) + 5  # crossed at the data's end: one notice
    state = postgres_database
    seed_previous_run(Store(state), now)
    channels = ["alerts", "ha-oncall", "ha-handoffs", "ha-reports", "ha-policy"]
    with SlackServer(channels) as slack:
        installation = Installation(
            tmp_path,
            slack,
            state,
            f"slos: [{ROOT / 'slos'}]\nprometheus: {current_prometheus.url}\n"
            f"oncall: {tmp_path / 'oncall.yaml'}\n"
            "reports:\n  - {name: hourly, cron: '0 * * * *', timezone: UTC, "
            "slos: [search/availability], channel: '#ha-reports'}\n"
            f"policies:\n  - {{slos: [search/availability], thresholds: [{high}%], "
            "channel: '#ha-policy'}\n",
        )
        (tmp_path / "routes.yaml").write_text(ONCALL_ROUTES)
        replicas = installation.start_together(2)
        try:
            for replica in replicas:  # the HA receiver: every replica gets the notification
                assert post_webhook(replica, notification(alert())) == 200
            eventually(lambda: len(tier_pages(slack)) >= 3, what="three tiers paged")
            eventually(lambda: len(slack.state.top_level("ha-reports")) >= 1, what="report")
            eventually(lambda: len(slack.state.top_level("ha-policy")) >= 1, what="notice")
            eventually(lambda: len(slack.state.top_level("ha-handoffs")) >= 1, what="handoff")
            time.sleep(3.0)  # a second of any of them would come now
            assert [p.split(": tier ")[1][:6] for p in tier_pages(slack)] == [
                "1 of 3",
                "2 of 3",
                "3 of 3",
            ]
            assert tier_pages(slack)[0].startswith(":rotating_light: <@U0FIRST001> ")
            assert len(slack.state.top_level("ha-oncall")) == 1
            (report,) = slack.state.top_level("ha-reports")
            assert "SLO budget report: hourly" in report["text"]
            (notice,) = slack.state.top_level("ha-policy")
            assert notice["text"].startswith(
                f":warning: *search/availability*: error budget fell below {high}%"
            )
            (announcement,) = slack.state.top_level("ha-handoffs")
            assert announcement["text"].startswith(
                ":pager: On call for *primary* now: <@U0FIRST001> until "
            )
        finally:
            installation.stop()


def tier_pages(slack: SlackServer) -> list[str]:
    openings = slack.state.top_level("ha-oncall")
    if not openings:
        return []
    return [
        m["text"]
        for m in slack.state.replies("ha-oncall", openings[0]["ts"])
        if ": tier " in m["text"]
    ]


def post_webhook(replica: Replica, body: dict[str, Any]) -> int:
    status, answer = replica.post(body)
    assert status < 300, answer
    return status
