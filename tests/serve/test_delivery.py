"""Processing and delivery against the local Slack-compatible API with the real WebClient:
threads, ordering, pacing, 429/500 recovery, unknown outcomes, dead letters, replays; on
each store backend."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from ops_toolkit.alerts.webhook import Notification
from ops_toolkit.escalate.route import Route, Routing, parse_routes
from ops_toolkit.notify.slack import SlackNotifier
from ops_toolkit.serve.store import Store
from ops_toolkit.serve.worker import Deliverer, Processor
from tests.alerts.payloads import alert, notification
from tests.slack_api import Fault, SlackServer, slack_server


@dataclass
class Clock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    yield from slack_server(["alerts", "search-oncall", "other"])


@dataclass
class Rig:
    store: Store
    processor: Processor
    deliverer: Deliverer
    clock: Clock
    slack: SlackServer

    def send(self, data: dict[str, object], times: int = 1) -> None:
        body = json.dumps(data)
        self.store.accept([(body, len(data["alerts"]))] * times, self.clock())  # type: ignore[arg-type]
        self.processor.run_once()

    def deliver(self, rounds: int = 5) -> None:
        for _ in range(rounds):
            self.deliverer.run_once()


def make_rig(
    state: str, slack: SlackServer, routing: Routing | None = None, timeout: float = 5
) -> Rig:
    clock = Clock()
    store = Store(state)

    def runbook_for(n: Notification) -> str | None:
        return "https://git.example/runbooks/search-errors.md"

    processor = Processor(
        store, routing or Routing(Route("#alerts")), runbook_for, lambda labels: None, clock
    )
    notifier = SlackNotifier("xoxb-test", base_url=slack.url, timeout=timeout)
    deliverer = Deliverer(store, notifier, pace=0.0, max_age=600, clock=clock)
    return Rig(store, processor, deliverer, clock, slack)


def test_firing_then_resolved_opens_updates_and_replies_in_the_thread(
    state: str, slack: SlackServer
) -> None:
    rig = make_rig(state, slack)
    rig.send(notification())
    rig.deliver()
    (opening,) = slack.state.top_level("alerts")
    assert opening["blocks"][0]["text"]["text"] == "FIRING: SearchAvailabilityBudgetBurn (page)"
    rig.send(notification(alert(), alert(fingerprint="f2", instance="b")))
    rig.send(notification(alert(status="resolved"), alert(fingerprint="f2", status="resolved")))
    rig.deliver()
    (opening,) = slack.state.top_level("alerts")
    assert opening["blocks"][0]["text"]["text"] == "RESOLVED: SearchAvailabilityBudgetBurn (page)"
    assert opening["updates"] == 1
    replies = [m["text"] for m in slack.state.replies("alerts", opening["ts"])]
    assert replies[0].startswith(":repeat: Still firing")
    assert replies[1].startswith(":white_check_mark: Resolved at")


def test_a_payload_replayed_ten_times_posts_once(state: str, slack: SlackServer) -> None:
    rig = make_rig(state, slack)
    rig.send(notification(), times=10)
    for _ in range(9):
        rig.processor.run_once()
    rig.deliver()
    assert len(slack.state.posts("alerts")) == 1
    assert rig.store.stats(rig.clock())["duplicates_dropped"] == 9


def test_routes_with_continue_post_to_each_channel(state: str, slack: SlackServer) -> None:
    routing = parse_routes(
        "routes:\n  - match: {severity: page}\n    channel: '#search-oncall'\n    continue: true\n"
        "  - match: {service: search}\n    channel: '#other'\n",
        "r.yaml",
    )
    rig = make_rig(state, slack, routing)
    rig.send(notification())
    rig.deliver()
    assert len(slack.state.posts("search-oncall")) == 1 and len(slack.state.posts("other")) == 1
    assert slack.state.posts("alerts") == []


def test_429_waits_for_that_channel_only(state: str, slack: SlackServer) -> None:
    routing = parse_routes(
        "routes:\n  - match: {slo: availability}\n    channel: '#search-oncall'\n"
        "  - match: {slo: latency}\n    channel: '#other'\n",
        "r.yaml",
    )
    rig = make_rig(state, slack, routing)
    slack.state.faults.append(Fault("chat.postMessage", "429", 1, retry_after=30))
    rig.send(notification())
    rig.send(notification(alert(slo="latency", fingerprint="g"), group_key="latency"))
    rig.deliver(rounds=2)
    assert slack.state.posts("search-oncall") == []
    assert len(slack.state.posts("other")) == 1
    assert rig.deliverer.next_allowed["#search-oncall"] == rig.clock.now + 30
    rig.clock.now += 31
    rig.deliver()
    assert len(slack.state.posts("search-oncall")) == 1


def test_500s_are_retried_with_backoff_in_order_and_without_duplicates(
    state: str, slack: SlackServer
) -> None:
    rig = make_rig(state, slack)
    slack.state.faults.append(Fault("chat.postMessage", "500", 4))
    rig.send(notification())
    rig.send(notification(alert(), alert(fingerprint="f2", instance="b")))
    rig.send(notification(alert(status="resolved"), alert(fingerprint="f2", status="resolved")))
    for _ in range(12):
        rig.deliver(rounds=1)
        rig.clock.now += 60
    posts = slack.state.posts("alerts")
    assert posts[0]["blocks"][0]["text"]["text"] == "RESOLVED: SearchAvailabilityBudgetBurn (page)"
    assert posts[0]["updates"] == 1
    assert [m["text"][:12] for m in posts[1:]] == [":repeat: Sti", ":white_check"]
    assert all(m["thread_ts"] == posts[0]["ts"] for m in posts[1:])
    stats = rig.store.stats(rig.clock())
    assert (stats["outbox_depth"], stats["retries"]) == (0.0, 4.0)


def test_a_timed_out_post_is_found_instead_of_posted_again(state: str, slack: SlackServer) -> None:
    rig = make_rig(state, slack, timeout=1)
    slack.state.faults.append(Fault("chat.postMessage", "hang_after_store", 1, seconds=2))
    rig.send(notification())
    rig.deliver(rounds=1)
    (entry,) = rig.store.entries(["pending"])
    assert "outcome unknown" in (entry.last_error or "")
    rig.clock.now += 60
    rig.deliver()
    assert len(slack.state.posts("alerts")) == 1
    assert rig.store.entries(["sent"])[0].ts == slack.state.posts("alerts")[0]["ts"]


def test_old_messages_go_to_dead_letters_and_can_be_requeued(
    state: str, slack: SlackServer
) -> None:
    rig = make_rig(state, slack)
    slack.state.faults.append(Fault("chat.postMessage", "500", 100))
    rig.send(notification())
    rig.deliver(rounds=1)
    rig.clock.now += 601
    rig.deliver(rounds=1)
    (dead,) = rig.store.entries(["dead"])
    assert dead.last_error == "older than 600s: Slack chat_postMessage: HTTP 500"
    slack.state.faults.clear()
    assert rig.store.requeue(None, rig.clock()) == 1
    rig.deliver()
    assert len(slack.state.posts("alerts")) == 1


def test_a_permanent_error_is_dead_at_once(state: str, slack: SlackServer) -> None:
    rig = make_rig(state, slack, Routing(Route("#missing")))
    rig.send(notification())
    rig.deliver(rounds=1)
    (dead,) = rig.store.entries(["dead"])
    assert (
        dead.last_error
        == "Slack: no channel #missing visible to the bot; invite it or fix alerts/routes.yaml"
    )


SPLIT_ROUTES = (
    "routes:\n  - match: {slo: availability}\n    channel: '#search-oncall'\n"
    "  - match: {slo: latency}\n    channel: '#other'\n"
)


def test_a_paced_channel_s_backlog_does_not_hold_back_another_channel(
    state: str, slack: SlackServer
) -> None:
    """More due entries in a paced channel than one read of the outbox takes (50) used to
    hide every other channel's entries until that backlog drained, one per pace."""
    rig = make_rig(state, slack, parse_routes(SPLIT_ROUTES, "r.yaml"))
    rig.deliverer.pace = 30.0
    for n in range(60):
        rig.send(notification(alert(fingerprint=f"f{n}"), group_key=f"storm-{n}"))
    rig.deliver(rounds=1)
    rig.send(notification(alert(slo="latency", fingerprint="g"), group_key="latency"))
    rig.deliver(rounds=1)
    assert len(slack.state.posts("search-oncall")) == 1  # the rest wait for the pace
    assert len(slack.state.posts("other")) == 1
    assert rig.store.stats(rig.clock())["outbox_depth"] == 59.0


def test_due_entries_of_a_paced_channel_wait_for_the_pace_instead_of_polling(
    state: str, slack: SlackServer
) -> None:
    """The loop's wait used to count a paced channel's due entries as due now, so it polled
    the store every 10 ms until the pace ended."""
    rig = make_rig(state, slack)
    rig.deliverer.pace = 0.4
    rig.send(notification(alert(fingerprint="a"), group_key="first"))
    rig.send(notification(alert(fingerprint="b"), group_key="second"))
    assert rig.deliverer.run_once() == pytest.approx(0.4)  # the pace after the first post
    assert len(slack.state.posts("alerts")) == 1
    rig.clock.now += 0.4
    assert rig.deliverer.run_once() == pytest.approx(0.4)
    assert len(slack.state.posts("alerts")) == 2


def test_new_entries_wake_the_deliverer_only_for_a_channel_it_may_send_to(
    state: str, slack: SlackServer
) -> None:
    """The processor names the channels of what it queued; a storm into a paced channel
    does not wake the deliverer for each payload (it wakes itself when the pace ends)."""
    rig = make_rig(state, slack, parse_routes(SPLIT_ROUTES, "r.yaml"))
    rig.deliverer.pace = 30.0
    told: list[set[str]] = []
    rig.processor.on_output = lambda channels: told.append(set(channels))
    rig.send(notification())
    rig.send(notification(alert(slo="latency", fingerprint="g"), group_key="latency"))
    assert told == [{"#search-oncall"}, {"#other"}]
    assert not rig.deliverer.waiting_for({"#search-oncall"})
    rig.deliver(rounds=1)
    assert rig.deliverer.waiting_for({"#search-oncall"})
    assert rig.deliverer.waiting_for({"#search-oncall", "#other"})
    assert not rig.deliverer.waiting_for({"#search-oncall", "#third"})
    assert not rig.deliverer.waiting_for(set())
    rig.clock.now += 30
    assert not rig.deliverer.waiting_for({"#search-oncall"})
