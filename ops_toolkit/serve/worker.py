"""The two loops behind ``ops serve``: inbox -> outbox (processing) and outbox -> chat (delivery).

Processing turns each stored payload into outbox entries (post, reply, update) per routed
channel, in one transaction with its seen event keys. Delivery sends entries in order per
alert group and channel, paced per channel, honouring 429 Retry-After for that channel only,
retrying other failures with exponential backoff and jitter, and dead-lettering entries
older than the maximum age. A post whose outcome is unknown is looked up before it is sent
again, so nothing is posted twice.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ops_toolkit.alerts.webhook import Notification, parse_notification
from ops_toolkit.errors import NotifyError, PayloadError
from ops_toolkit.escalate.route import Route, Routing
from ops_toolkit.notify.message import BudgetInfo, escalation, thread_reply
from ops_toolkit.notify.model import Notifier, Planned
from ops_toolkit.notify.outside import OutsideSender
from ops_toolkit.serve.store import OutboxEntry, Store

UNKNOWN_OUTCOME = "outcome unknown"
LEASE_SECONDS = 120.0  # longer than any chat call may take


@dataclass
class Processor:
    """Inbox -> outbox. ``budget`` looks up an alert's SLO budget (IO, may be slow or fail)."""

    store: Store
    routing: Routing
    runbook_for: Callable[[Notification], str | None]
    budget: Callable[[Mapping[str, str]], BudgetInfo | str | None]
    clock: Callable[[], float] = time.time
    on_output: Callable[[], None] = lambda: None
    on_new: Callable[[Notification], None] = lambda notification: None
    # Escalation policies (oncall): add the buttons to an opening message; start, keep or
    # end a routed group's escalation (idempotent, so a replayed payload changes nothing).
    decorate: Callable[[Notification, Route, dict[str, Any]], dict[str, Any]] = (
        lambda notification, route, message: message
    )
    on_routed: Callable[[Notification, Route, dict[str, Any], str | None], None] = (
        lambda notification, route, message, runbook: None
    )

    def plan(self, notification: Notification) -> list[Planned]:
        now = self.clock()
        runbook = self.runbook_for(notification)
        budget = self.budget(notification.labels()) if notification.status == "firing" else None
        planned: list[Planned] = []
        for route in self.routing.targets(notification.labels()):
            known = self.store.thread_known(notification.group_key, route.channel)
            opening = escalation(
                notification, runbook_url=runbook, budget=budget, mention=route.mention_text()
            ).as_dict()
            opening = self.decorate(notification, route, opening)
            self.on_routed(notification, route, opening, runbook)
            if not known:
                planned.append(Planned(notification.group_key, route.channel, "post", opening))
                continue
            if notification.status == "resolved":
                planned.append(Planned(notification.group_key, route.channel, "update", opening))
            reply = thread_reply(notification, now).as_dict()
            planned.append(Planned(notification.group_key, route.channel, "reply", reply))
        return planned

    def run_once(self, limit: int = 100) -> int:
        """Process stored payloads; how many were taken."""
        rows = self.store.unprocessed(limit)
        for inbox_id, body in rows:
            try:
                notification = parse_notification(json.loads(body))
            except (ValueError, PayloadError):
                # Bodies are validated before they are stored; one that no longer parses
                # (a store written by another version) is set aside rather than retried forever.
                logging.getLogger("ops.serve").error(
                    "inbox entry %d does not parse; skipped", inbox_id
                )
                self.store.process(inbox_id, [], [], self.clock())
                continue
            keys = notification.event_keys()
            # A replay of events already seen needs no message (and no budget query).
            planned = [] if self.store.all_seen(keys) else self.plan(notification)
            if self.store.process(inbox_id, keys, planned, self.clock()):
                self.on_output()
                self.on_new(notification)
        return len(rows)


@dataclass
class Deliverer:
    """Outbox -> chat."""

    store: Store
    notifier: Notifier
    pace: float = 1.0
    max_age: float = 3600.0
    base_backoff: float = 1.0
    max_backoff: float = 300.0
    clock: Callable[[], float] = time.time
    next_allowed: dict[str, float] = field(default_factory=dict)
    me: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    only: set[int] | None = None  # deliver just these entries (ops slo report --post)
    outside: OutsideSender = field(default_factory=OutsideSender)  # webhook and email tiers

    def run_once(self) -> float:
        """Send what is due; seconds until something may be due again."""
        now = self.clock()
        for entry in self.store.due(now, ids=self.only):
            if self.next_allowed.get(entry.channel, 0.0) > self.clock():
                continue
            if entry.status == "sending" and not self._abandoned(entry):
                continue  # another live deliverer is sending it
            if now - entry.created_at > self.max_age:
                self.store.kill(
                    entry.id, f"older than {self.max_age:g}s: {entry.last_error or 'not sent'}"
                )
                continue
            self._send(entry)
        waits = [t - self.clock() for t in self.next_allowed.values() if t > self.clock()]
        due = self.store.next_due_at()
        if due is not None:
            waits.append(due - self.clock())
        return max(0.01, min([1.0, *waits]))

    def _abandoned(self, entry: OutboxEntry) -> bool:
        """A 'sending' entry whose deliverer died (same host, pid gone) or overran its lease."""
        if entry.claimed_at is None or self.clock() - entry.claimed_at > LEASE_SECONDS:
            return True
        host, _, pid = (entry.claimed_by or "").rpartition(":")
        if host != socket.gethostname() or not pid.isdigit():
            return False
        if int(pid) == os.getpid():
            return entry.claimed_by != self.me
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def _send(self, entry: OutboxEntry) -> None:
        channel_id, thread_ts = self.store.thread(entry.group_key, entry.channel)
        reply_to = thread_ts if entry.action == "reply" else None
        uncertain = entry.status == "sending" or UNKNOWN_OUTCOME in (entry.last_error or "")
        if not self.store.claim(entry, self.me, self.clock()):
            return  # another deliverer took it
        try:
            if entry.action in ("post", "reply") and uncertain:
                found = self.notifier.find(entry.channel, entry.id, reply_to)
                if found is not None:
                    self.store.mark_sent(entry, found[1], found[0])
                    return
            if entry.action in ("webhook", "email", "respond"):
                self.outside.send(entry.action, entry.id, entry.group_key, entry.message)
                self.store.mark_sent(entry, f"{entry.action}:{entry.id}", entry.channel)
            elif entry.action == "upload":
                content = base64.b64decode(entry.message["content_b64"])
                sent_channel, file_id = self.notifier.upload(
                    entry.channel,
                    thread_ts,
                    entry.message["filename"],
                    content,
                    entry.message["text"],
                )
                self.store.mark_sent(entry, file_id, sent_channel)
            elif entry.action == "update":
                if channel_id and thread_ts:
                    self.notifier.update(channel_id, thread_ts, entry.message)
                    self.store.mark_sent(entry, thread_ts, channel_id)
                else:  # the opening post never went out: there is nothing to update
                    self.store.kill(entry.id, "the message to update was never posted")
            else:
                sent_channel, ts = self.notifier.post(
                    entry.channel, entry.message, entry.id, reply_to
                )
                self.store.mark_sent(entry, ts, sent_channel)
        except NotifyError as error:
            self._failed(entry, error)
            return
        self.next_allowed[entry.channel] = self.clock() + self.pace

    def _failed(self, entry: OutboxEntry, error: NotifyError) -> None:
        now = self.clock()
        if error.permanent:
            self.store.kill(entry.id, str(error))
        elif error.retry_after is not None:
            self.next_allowed[entry.channel] = now + error.retry_after
            self.store.reschedule(entry.id, now + error.retry_after, str(error))
        else:
            delay = min(self.max_backoff, self.base_backoff * 2 ** max(0, entry.attempts))
            self.store.reschedule(entry.id, now + delay * random.uniform(0.5, 1.0), str(error))


class Loop:
    """Runs a ``step`` (returning seconds to wait) on a thread until stopped; ``wake`` cuts a wait."""

    def __init__(self, name: str, step: Callable[[], float]) -> None:
        self.step = step
        self.stopped = threading.Event()
        self.woken = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.errors = 0

    def _run(self) -> None:
        while not self.stopped.is_set():
            try:
                wait = self.step()
            except Exception:  # a loop must outlive one bad round: log it, count it, go on
                logging.getLogger("ops.serve").exception(
                    "%s failed; retrying in 1s", self.thread.name
                )
                self.errors += 1
                wait = 1.0
            self.woken.wait(wait)
            self.woken.clear()

    def start(self) -> None:
        self.thread.start()

    def wake(self) -> None:
        self.woken.set()

    def stop(self) -> None:
        self.stopped.set()
        self.woken.set()
        self.thread.join(timeout=30)


def deliver_now(
    store: Store,
    notifier: Notifier,
    ids: Sequence[int],
    *,
    timeout: float = 120.0,
    pace: float = 1.0,
) -> list[str]:
    """Deliver just ``ids`` from this process, with the outbox's retry rules; problems left."""
    deliverer = Deliverer(store, notifier, pace=pace, only=set(ids))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entries = {e.id: e for e in store.entries(limit=100_000) if e.id in ids}
        if all(e.status in ("sent", "dead") for e in entries.values()):
            return [
                f"outbox entry {e.id}: {e.last_error}"
                for e in entries.values()
                if e.status == "dead"
            ]
        time.sleep(deliverer.run_once())
    return [
        f"outbox entries {', '.join(map(str, ids))}: not delivered within {timeout:g}s; "
        "'ops serve' will go on trying"
    ]
