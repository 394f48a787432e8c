"""The store contract on both backends, and two stores (as two replicas) racing on one
database: every event accepted once, every outbox entry, report slot, policy notice and
escalation timer taken exactly once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import pytest

from ops_toolkit.errors import ConfigError, StoreError
from ops_toolkit.notify.model import Planned
from ops_toolkit.notify.slack import SlackNotifier
from ops_toolkit.serve.store import Store, parse_state
from ops_toolkit.serve.worker import Deliverer
from tests.postgres import PostgresServer
from tests.serve.test_escalations import T0, Clock, engine, fire, outbox
from tests.slack_api import SlackServer

T = TypeVar("T")
NOW = 1_800_000_000.0
REPLICAS = 2


def race(work: Callable[[Store], T], stores: list[Store]) -> list[T]:
    """Run ``work`` on each store in its own thread, all let go at the same instant."""
    start = threading.Barrier(len(stores))
    results: list[T | BaseException] = [RuntimeError("did not run")] * len(stores)

    def run(index: int) -> None:
        start.wait()
        try:
            results[index] = work(stores[index])
        except BaseException as error:  # surfaced below, in the test's thread
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results  # type: ignore[return-value]


def post(group: str, text: str = "hello") -> Planned:
    return Planned(group, "#alerts", "post", {"text": text})


def test_a_new_store_is_empty_and_counts_what_it_accepts(state: str) -> None:
    store = Store(state)
    assert store.stats(NOW)["inbox_depth"] == 0.0
    ids = store.accept([("{}", 2), ("{}", 3)], NOW)
    assert len(ids) == 2 and ids[0] < ids[1]
    assert [e.id for e in store.unprocessed()] == ids
    stats = store.stats(NOW)
    assert (stats["inbox_depth"], stats["alerts_received"]) == (2.0, 5.0)


def test_a_payload_is_processed_once_and_its_events_are_remembered(state: str) -> None:
    store = Store(state)
    first, again = store.accept([("{}", 1), ("{}", 1)], NOW)
    assert store.process(first, ["k1", "k2"], [post("g1")], NOW)
    assert not store.process(first, ["k1", "k2"], [post("g1")], NOW)  # already processed
    assert store.all_seen(["k2", "k1"])
    assert not store.process(again, ["k1", "k2"], [post("g1")], NOW)  # every event seen
    assert [e.group_key for e in store.entries()] == ["g1"]
    assert store.stats(NOW)["duplicates_dropped"] == 1.0
    assert store.thread_known("g1", "#alerts")


def test_entries_of_a_group_go_out_in_order(state: str) -> None:
    store = Store(state)
    store.enqueue([post("g1", "one"), Planned("g1", "#alerts", "reply", {"text": "two"})], NOW)
    (first,) = store.due(NOW)
    assert first.message == {"text": "one"}
    assert store.claim(first, "host:1", NOW)
    assert not store.claim(first, "host:2", NOW)  # taken: the compare-and-set fails
    store.mark_sent(first, "1.0001", "C01")
    (second,) = store.due(NOW)
    assert second.message == {"text": "two"}
    assert store.thread("g1", "#alerts") == ("C01", "1.0001")


def test_an_abandoned_claim_is_taken_over_by_its_holder_only(state: str) -> None:
    store = Store(state)
    store.enqueue([post("g1")], NOW)
    (entry,) = store.due(NOW)
    assert store.claim(entry, "host-a:1", NOW)
    (sending,) = store.due(NOW + 200)  # still due: 'sending' until marked sent
    assert (sending.status, sending.claimed_by) == ("sending", "host-a:1")
    assert store.claim(sending, "host-b:2", NOW + 200)  # the lease ran out: taken over
    assert not store.claim(sending, "host-c:3", NOW + 200)  # ... by one replica only
    (taken,) = store.entries()
    assert (taken.claimed_by, taken.attempts) == ("host-b:2", 2)


def test_a_report_slot_is_claimed_once(state: str) -> None:
    store = Store(state)
    assert store.claim_slot("weekly", 100.0, [post("r")], NOW) is not None
    assert store.claim_slot("weekly", 100.0, [post("r")], NOW) is None
    assert store.claim_slot("weekly", 50.0, [], NOW, post=False) == []
    assert store.last_slot("weekly") == 100.0
    assert store.slots("weekly") == [(50.0, False), (100.0, True)]
    assert len(store.entries()) == 1


def test_a_baseline_slot_is_still_free_to_post_once(state: str) -> None:
    """serve's first start records its latest slot unposted: 'ops slo report --once' in that
    slot said "already posted" when nothing was."""
    store = Store(state)
    assert store.claim_slot("daily", 100.0, [], NOW, post=False) == []
    assert store.claim_slot("daily", 100.0, [], NOW, post=False) is None
    assert store.claim_slot("daily", 100.0, [post("r")], NOW + 1) is not None
    assert store.claim_slot("daily", 100.0, [post("r")], NOW + 2) is None
    assert store.claim_slot("daily", 100.0, [], NOW + 3, post=False) is None
    assert store.slots("daily") == [(100.0, True)]
    assert len(store.entries()) == 1


def test_racing_replicas_post_a_baseline_slot_once(state: str) -> None:
    stores = replicas(state)
    for slot in range(40):
        stores[0].claim_slot("daily", float(slot), [], NOW, post=False)

    def claim(store: Store) -> int:
        return sum(
            store.claim_slot("daily", float(slot), [post(f"report:{slot}")], NOW) is not None
            for slot in range(40)
        )

    assert sum(race(claim, stores)) == 40
    assert len(stores[0].entries(limit=1000)) == 40


def test_a_policy_notice_goes_out_only_with_the_change_of_state(state: str) -> None:
    store = Store(state)
    assert store.policy_armed("search/availability", [50.0, 25.0]) == {50.0: True, 25.0: True}
    assert store.policy_update("search/availability", {50.0: False, 25.0: True}, [post("p")], NOW)
    assert not store.policy_update(
        "search/availability", {50.0: False, 25.0: True}, [post("p")], NOW + 60
    )
    assert store.policy_armed("search/availability", [50.0, 25.0]) == {50.0: False, 25.0: True}
    assert len(store.entries()) == 1


def test_dead_entries_and_payloads_can_be_requeued(state: str) -> None:
    store = Store(state)
    (entry_id,) = store.enqueue([post("g1")], NOW)
    store.kill(entry_id, "channel_not_found")
    (inbox_id,) = store.accept([("not json", 1)], NOW)
    store.kill_inbox(inbox_id, "not a payload")
    assert store.dead_inbox() == [(inbox_id, NOW, "not a payload")]
    assert store.entries_by_id([entry_id])[entry_id].last_error == "channel_not_found"
    assert (store.requeue(None, NOW + 1), store.requeue_inbox([inbox_id], NOW + 1)) == (1, 1)
    assert [e.id for e in store.due(NOW + 1)] == [entry_id]
    assert store.inbox_depth() == 1


# -- replicas racing -------------------------------------------------------------------


def replicas(state: str) -> list[Store]:
    return [Store(state) for _ in range(REPLICAS)]


def test_racing_replicas_claim_each_outbox_entry_exactly_once(state: str) -> None:
    stores = replicas(state)
    stores[0].enqueue([post(f"g{n}") for n in range(60)], NOW)

    def claim_pending(store: Store) -> list[int]:
        # A 'sending' entry listed as due belongs to its claimer until its lease runs out
        # (the deliverer skips it): only pending ones are there to take.
        me = f"replica-{id(store)}:1"
        due = store.due(NOW, limit=100)
        return [e.id for e in due if e.status == "pending" and store.claim(e, me, NOW)]

    claimed = race(claim_pending, stores)
    everything = [entry_id for ids in claimed for entry_id in ids]
    assert sorted(everything) == sorted(e.id for e in stores[0].entries())
    assert len(everything) == len(set(everything)) == 60


def test_racing_deliverers_post_each_message_exactly_once(state: str) -> None:
    """Two replicas' delivery loops over one outbox, posting to the Slack-compatible API
    with the real client: every message arrives once."""
    stores = replicas(state)
    stores[0].enqueue([post(f"g{n}", f"message {n}") for n in range(40)], NOW)
    with SlackServer(["alerts"]) as slack:
        deliverers = [
            Deliverer(
                store,
                SlackNotifier("xoxb-test", base_url=slack.url),
                pace=0.0,
                clock=lambda: NOW,
                me=f"replica-{index}:{index + 1}",
            )
            for index, store in enumerate(stores)
        ]
        by_store = {id(d.store): d for d in deliverers}

        def deliver(store: Store) -> int:
            for _ in range(5):
                by_store[id(store)].run_once()
            return 0

        race(deliver, stores)
        texts = sorted(m["text"] for m in slack.state.top_level("alerts"))
    assert texts == sorted(f"message {n}" for n in range(40))
    assert {e.status for e in stores[0].entries(limit=100)} == {"sent"}


def test_duplicate_webhooks_to_two_replicas_become_one_message(state: str) -> None:
    """HA Alertmanagers each send every notification: each replica stores its copy, and
    both process at once; each group is posted once."""
    stores = replicas(state)
    groups = [f"g{n}" for n in range(30)]

    def intake_and_process(store: Store) -> int:
        ids = store.accept([("{}", 1) for _ in groups], NOW)
        return sum(
            store.process(inbox_id, [f"{group}:firing"], [post(group)], NOW)
            for inbox_id, group in zip(ids, groups, strict=True)
        )

    assert sum(race(intake_and_process, stores)) == len(groups)
    assert sorted(e.group_key for e in stores[0].entries(limit=1000)) == sorted(groups)
    assert stores[1].stats(NOW)["duplicates_dropped"] == float(len(groups))


def test_racing_replicas_claim_each_report_slot_exactly_once(state: str) -> None:
    stores = replicas(state)

    def claim(store: Store) -> int:
        return sum(
            store.claim_slot("daily", float(slot), [post(f"report:{slot}")], NOW) is not None
            for slot in range(40)
        )

    assert sum(race(claim, stores)) == 40
    assert sum(race(claim, stores)) == 0  # a second round finds every slot taken
    assert len(stores[0].entries(limit=1000)) == 40


def test_racing_replicas_send_a_policy_notice_once(state: str) -> None:
    stores = replicas(state)

    def breach(store: Store) -> int:
        return sum(
            store.policy_update(f"svc/slo-{n}", {50.0: False}, [post(f"policy:{n}")], NOW)
            for n in range(30)
        )

    assert sum(race(breach, stores)) == 30
    assert len(stores[0].entries(limit=1000)) == 30


def test_racing_replicas_fire_each_escalation_timer_once(state: str) -> None:
    clock = Clock()
    engines = [engine(state, clock) for _ in range(REPLICAS)]
    fire(engines[0])
    clock.now = T0 + 601  # tier 1 is due at once, tier 2 after 10 minutes: both are due
    start = threading.Barrier(REPLICAS)
    queued: list[int] = []

    def tick(index: int) -> None:
        start.wait()
        queued.append(engines[index].tick())
        queued.append(engines[index].tick())

    threads = [threading.Thread(target=tick, args=(i,)) for i in range(REPLICAS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    replies = [t for _, a, t in outbox(engines[0]) if a == "reply"]
    assert replies and len(replies) == len(set(replies)) == sum(queued)
    assert "tier 1 of 3" in replies[0]


# -- where the store is ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "scheme", "target"),
    [
        ("ops-state.db", "sqlite", "ops-state.db"),
        ("sqlite:/var/lib/ops/state.db", "sqlite", "/var/lib/ops/state.db"),
        ("sqlite:///var/lib/ops/state.db", "sqlite", "/var/lib/ops/state.db"),
        ("backup:2026.db", "sqlite", "backup:2026.db"),
        ("postgresql://ops:pw@db:5432/ops", "postgresql", "postgresql://ops:pw@db:5432/ops"),
        ("postgres://ops@db/ops", "postgres", "postgres://ops@db/ops"),
    ],
    ids=["a path", "sqlite:PATH", "sqlite://PATH", "a path with a colon", "postgresql", "alias"],
)
def test_the_state_value_names_its_backend(state: str, scheme: str, target: str) -> None:
    location = parse_state(state)
    assert (location.scheme, location.target) == (scheme, target)


def test_an_unknown_scheme_is_refused_with_the_password_hidden() -> None:
    with pytest.raises(ConfigError) as caught:
        Store("mysql://ops:hunter22@db/ops")
    assert str(caught.value) == (
        "mysql://ops:***@db/ops: unknown store 'mysql:'; give a file path, sqlite:PATH or "
        "postgresql://USER:PASSWORD@HOST:PORT/DATABASE (--state, OPS_STATE, or serve.state in ops.yaml)"
    )


def test_a_wrong_password_says_so_without_showing_it(postgres_server: PostgresServer) -> None:
    url = postgres_server.url(password="not-the-password")
    with pytest.raises(StoreError) as caught:
        Store(url)
    shown = url.replace("not-the-password", "***")
    assert str(caught.value) == (
        f'{shown}: cannot connect: connection failed: connection to server at "127.0.0.1", '
        f"port {postgres_server.port} failed: FATAL: password authentication failed for user "
        '"ops" (check the user and password in the URL; --state, OPS_STATE, or serve.state in ops.yaml)'
    )
    assert "not-the-password" not in str(caught.value)


def test_an_unreachable_database_says_what_to_check(postgres_server: PostgresServer) -> None:
    from ops_toolkit.demo.servers import free_port

    port = free_port()
    with pytest.raises(StoreError) as caught:
        Store(f"postgresql://ops:s3cret@127.0.0.1:{port}/ops")
    message = str(caught.value)
    assert message.startswith(f"postgresql://ops:***@127.0.0.1:{port}/ops: cannot connect: ")
    assert "Connection refused" in message
    assert message.endswith(
        "(is PostgreSQL running and reachable at that address?; --state, OPS_STATE, or serve.state in "
        "ops.yaml)"
    )


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (
            "postgresql://ops:pw-123456@127.0.0.1:notaport/db",
            'invalid integer value "notaport" for connection option "port"',
        ),
        (
            "postgresql://ops:pw-123456@127.0.0.1:5999/db?bogus=1",
            'invalid URI query parameter: "bogus"',
        ),
    ],
    ids=["a port that is not a number", "an unknown parameter"],
)
def test_a_malformed_database_url_says_how_to_write_it(url: str, says: str) -> None:
    with pytest.raises(StoreError) as caught:
        Store(url)
    message = str(caught.value)
    assert message.startswith(url.replace("pw-123456", "***") + ": cannot connect: ")
    assert says in message
    assert message.endswith(
        "(write it as postgresql://USER:PASSWORD@HOST:PORT/DATABASE; --state, OPS_STATE, or "
        "serve.state in ops.yaml)"
    )
    assert "pw-123456" not in message


def test_processing_removes_old_inbox_rows_and_keys_at_most_once_a_minute(state: str) -> None:
    """Every processed payload used to run the two removals; now the first one in a minute
    does (issue 15). What is removed is unchanged: processed payloads after a day, dead
    ones and event keys after 30 days."""
    store = Store(state)
    day, month = 86400, 30 * 86400

    def age_everything() -> None:  # as if all of it had arrived 31 days ago
        store.execute("UPDATE inbox SET received_at = ?", (NOW - month - day,))
        store.execute("UPDATE events SET seen_at = ?", (NOW - month - day,))

    def counts() -> tuple[int, int]:
        inbox = store.execute("SELECT COUNT(*) FROM inbox").scalar()
        events = store.execute("SELECT COUNT(*) FROM events").scalar()
        return int(inbox), int(events)

    def process(key: str, now: float) -> None:
        (inbox_id,) = store.accept([("{}", 1)], now)
        assert store.process(inbox_id, [key], [], now)

    process("first", NOW - month - day)
    (dead,) = store.accept([("{}", 1)], NOW - month - day)
    store.kill_inbox(dead, "broken")
    age_everything()
    process("second", NOW)
    assert counts() == (1, 1)  # only the payload and key just processed are left
    age_everything()
    process("third", NOW + 59)
    assert counts() == (2, 2)  # within the minute: nothing removed
    process("fourth", NOW + 60)
    assert counts() == (2, 2)  # a minute later: the aged "second" goes; "third" is new


def test_executemany_counts_the_rows_changed_by_all_its_statements(state: str) -> None:
    """A payload's event keys go in as one batch (one round trip on PostgreSQL); whether
    any was new is the batch's count of rows inserted."""
    store = Store(state)
    insert = "INSERT INTO events (key, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING"
    with store.transaction() as tx:
        assert tx.executemany(insert, [("a", NOW), ("b", NOW)]) == 2
        assert tx.executemany(insert, [("a", NOW), ("c", NOW), ("d", NOW)]) == 2
        assert tx.executemany(insert, [("a", NOW)]) == 0
    assert store.execute("SELECT key FROM events ORDER BY key").rows == [
        ("a",),
        ("b",),
        ("c",),
        ("d",),
    ]
