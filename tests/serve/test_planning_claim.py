"""Two replicas (two store objects on one database) plan each pending payload once.

Planning is the costly, outward part of processing (budget queries, the escalation writes of
``on_routed``); recording it was already once (``Store.process`` locks the row), but both
replicas planned every payload. Now a replica claims a payload before planning it
(compare-and-set, as outbox claims are), and the other skips it, holding back the later
payloads of its group. Each test runs on SQLite and on a real PostgreSQL (``state``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

from ops_toolkit.alerts.webhook import Notification
from ops_toolkit.escalate.route import Route, Routing
from ops_toolkit.serve.store import Store
from ops_toolkit.serve.worker import LEASE_SECONDS, Processor
from tests.alerts.payloads import alert, notification
from tests.serve.test_store_contract import race

NOW = 1_800_000_000.0


def payload(index: int, status: str = "firing") -> str:
    name = f"Group{index}"
    return json.dumps(
        notification(
            alert(name, status, fingerprint=f"f{index}"), group_key=f'{{}}:{{alertname="{name}"}}'
        )
    )


class Planning:
    """Counts the payloads each replica planned (``runbook_for`` is asked once a plan)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.planned: list[tuple[str, str]] = []

    def replica(
        self, store: Store, me: str, during: Callable[[], object] = lambda: None
    ) -> Processor:
        def runbook_for(notification: Notification) -> str | None:
            with self.lock:
                self.planned.append((me, notification.alert_name))
            during()
            return None

        routing = Routing(Route("#alerts"))
        return Processor(store, routing, runbook_for, lambda labels: None, clock=lambda: NOW, me=me)


def test_a_payload_one_replica_is_planning_is_skipped_by_the_other(state: str) -> None:
    first, second = Store(state), Store(state)
    first.accept([(payload(1), 1), (payload(1, "resolved"), 1), (payload(2), 1)], NOW)
    planning = Planning()
    other = planning.replica(second, "replica-b")
    rounds: list[int] = []
    # While replica A plans its first payload, replica B runs a whole round.
    one = planning.replica(first, "replica-a", lambda: rounds or rounds.append(other.run_once()))
    assert one.run_once() == 2  # the first payload of Group1, and Group2: B took Group2
    # B skipped Group1's firing (A plans it) and so its resolution, which must come after
    assert rounds == [1]
    assert planning.planned == [
        ("replica-a", "Group1"),
        ("replica-b", "Group2"),
        ("replica-a", "Group1"),
    ]
    # recorded once each: Group1's opening, its resolution (update and reply), Group2's
    assert sorted((e.group_key.split('"')[1], e.action) for e in first.entries()) == [
        ("Group1", "post"),
        ("Group1", "reply"),
        ("Group1", "update"),
        ("Group2", "post"),
    ]
    assert first.unprocessed() == []
    first.close()
    second.close()


def test_two_replicas_racing_plan_every_payload_once(state: str) -> None:
    stores = [Store(state), Store(state)]
    payloads = 40
    stores[0].accept([(payload(i), 1) for i in range(payloads)], NOW)
    planning = Planning()
    replicas = [planning.replica(s, f"replica-{i}") for i, s in enumerate(stores)]

    def drain(store: Store) -> int:
        replica = replicas[stores.index(store)]
        taken = 0
        while store.unprocessed():
            taken += replica.run_once(limit=5)
        return taken

    assert sum(race(drain, stores)) == payloads
    assert sorted(name for _, name in planning.planned) == sorted(
        f"Group{i}" for i in range(payloads)
    )
    assert len(stores[0].entries(limit=1000)) == payloads  # one opening each, posted once
    for store in stores:
        store.close()


def test_a_claim_whose_holder_overran_its_lease_is_taken_over(state: str) -> None:
    store = Store(state)
    store.accept([(payload(1), 1)], NOW)
    (entry,) = store.unprocessed()
    assert store.claim_inbox(entry, "replica-gone", NOW - LEASE_SECONDS - 1)
    planning = Planning()
    assert planning.replica(store, "replica-b").run_once() == 1
    assert planning.planned == [("replica-b", "Group1")]
    assert store.unprocessed() == []
    store.close()


def test_a_claim_still_in_its_lease_is_left_to_its_holder(state: str) -> None:
    store = Store(state)
    store.accept([(payload(1), 1)], NOW)
    (entry,) = store.unprocessed()
    assert store.claim_inbox(entry, "replica-a", NOW - 1)
    assert not store.claim_inbox(entry, "replica-b", NOW)  # read unclaimed: the CAS loses
    planning = Planning()
    assert planning.replica(store, "replica-b").run_once() == 0
    assert planning.planned == []
    (held,) = store.unprocessed()
    assert (held.claimed_by, held.claimed_at) == ("replica-a", NOW - 1)
    store.close()
