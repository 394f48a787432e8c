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
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ops_toolkit.alerts.webhook import Notification, decode_body, parse_notification
from ops_toolkit.errors import (
    NotifyError,
    OpsError,
    PayloadError,
    StoreBusy,
    StoreConflict,
    StoreError,
)
from ops_toolkit.escalate.route import Route, Routing
from ops_toolkit.notify.message import UNAVAILABLE, BudgetInfo, escalation, thread_reply
from ops_toolkit.notify.model import Notifier, Planned
from ops_toolkit.notify.outside import OutsideSender, delivery_key
from ops_toolkit.serve.store import InboxEntry, OutboxEntry, Store

UNKNOWN_OUTCOME = "outcome unknown"
MAX_UNEXPECTED_FAILURES = 3  # errors that are not the chat's answer (bugs): then a dead letter
LEASE_SECONDS = 120.0  # longer than any chat call may take
STORE_BACKOFF = 0.5  # seconds a loop waits after the store failed, doubled each time ...
STORE_BACKOFF_MAX = 8.0  # ... up to this
# A round that lost a race to another writer (deadlock, serialization failure) is retried at
# once, a few times in a row, then after a short pause: never the outage's back-off.
CONFLICT_RETRIES_AT_ONCE = 3
CONFLICT_PAUSE = 0.05


MAX_INBOX_ATTEMPTS = 3  # the last one without enrichment; then a dead letter
INBOX_BACKOFF = 2.0
log = logging.getLogger("ops.serve")


@dataclass
class Processor:
    """Inbox -> outbox. ``budget`` looks up an alert's SLO budget (IO, may be slow or fail).

    Enrichment (runbook link, SLO budget) never holds a message back: a lookup that fails
    in any way gives "unavailable" and is counted. A payload whose processing fails is
    retried a bounded number of times (the last time without enrichment) while the payloads
    behind it go on, except later ones of the same alert group, which keep their order;
    then it is a dead letter, logged and counted, never retried forever.
    """

    store: Store
    routing: Routing
    runbook_for: Callable[[Notification], str | None]
    budget: Callable[[Mapping[str, str]], BudgetInfo | str | None]
    clock: Callable[[], float] = time.time
    # New outbox entries for these channels: wake the deliverer (service.py wakes it unless
    # every one of them must wait anyway).
    on_output: Callable[[Collection[str]], None] = lambda channels: None
    on_new: Callable[[Notification], None] = lambda notification: None
    max_attempts: int = MAX_INBOX_ATTEMPTS
    backoff: float = INBOX_BACKOFF
    # Escalation policies (oncall): add the buttons to an opening message; start, keep or
    # end a routed group's escalation (idempotent, so a replayed payload changes nothing).
    decorate: Callable[[Notification, Route, dict[str, Any]], dict[str, Any]] = (
        lambda notification, route, message: message
    )
    on_routed: Callable[[Notification, Route, dict[str, Any], str | None], None] = (
        lambda notification, route, message, runbook: None
    )
    # Who plans a payload, in its claim (``Store.claim_inbox``): of several replicas one
    # plans each payload (budget queries, escalation writes); the others skip it.
    me: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")

    def plan(self, notification: Notification, *, enrich: bool = True) -> list[Planned]:
        now = self.clock()
        runbook = self._runbook(notification) if enrich else None
        budget: BudgetInfo | str | None = None
        if notification.status == "firing":
            budget = self._budget(notification) if enrich else UNAVAILABLE
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

    def _runbook(self, notification: Notification) -> str | None:
        try:
            return self.runbook_for(notification)
        except Exception as error:  # enrichment is optional: the alert goes out without it
            self._enrichment_failed("runbook link", notification, error)
            return None

    def _budget(self, notification: Notification) -> BudgetInfo | str | None:
        try:
            budget = self.budget(notification.labels())
        except Exception as error:  # enrichment is optional: the alert goes out without it
            self._enrichment_failed("SLO budget", notification, error)
            return UNAVAILABLE
        if budget == UNAVAILABLE:
            self.store.count("enrichment_failures")  # the lookup logged its reason
        return budget

    def _enrichment_failed(self, what: str, notification: Notification, error: Exception) -> None:
        log.warning(
            "%s of %s unavailable: %s", what, notification.alert_name or "alert", _reason(error)
        )
        self.store.count("enrichment_failures")

    def run_once(self, limit: int = 100) -> int:
        """Process stored payloads that are due; how many were taken (tried)."""
        now = self.clock()
        held: set[str] = set()  # groups with an earlier payload waiting for its retry
        taken = 0
        for entry in self.store.unprocessed(limit):
            try:
                # Intake's rule, but a lone surrogate stored before intake refused it
                # becomes U+FFFD (as Alertmanager's Go reads it) rather than a dead letter.
                notification = parse_notification(decode_body(entry.body, repair=True))
            except (ValueError, RecursionError, PayloadError) as error:
                # Bodies are validated before they are stored; one that no longer parses
                # (a store written by another version) can never succeed: set it aside.
                reason = f"does not parse: {_reason(error)}"
                log.error("inbox entry %d: dead letter: %s", entry.id, reason)
                self.store.kill_inbox(entry.id, reason)
                continue
            if entry.next_attempt_at > now or notification.group_key in held:
                held.add(notification.group_key)
                continue
            if not self._claim(entry, now):
                # Another replica plans it; the later payloads of its group wait their turn.
                held.add(notification.group_key)
                continue
            taken += 1
            try:
                self._process(entry.id, notification, enrich=entry.attempts + 1 < self.max_attempts)
            except StoreError:
                raise  # the database is away, not the payload at fault: no attempt counted
            except Exception as error:  # one bad payload must not hold back the others
                if self._failed(entry, notification, error):
                    held.add(notification.group_key)
        return taken

    def _claim(self, entry: InboxEntry, now: float) -> bool:
        """Whether this replica plans ``entry``: unclaimed, ours, or its holder's claim lapsed
        (the holder died or overran its lease), and our compare-and-set won."""
        held_by_other = entry.claimed_by is not None and entry.claimed_by != self.me
        if held_by_other and not claim_lapsed(entry.claimed_by, entry.claimed_at, now, self.me):
            return False
        return self.store.claim_inbox(entry, self.me, now)

    def _process(self, inbox_id: int, notification: Notification, *, enrich: bool) -> None:
        keys = notification.event_keys()
        # A replay of events already seen needs no message (and no budget query).
        planned = [] if self.store.all_seen(keys) else self.plan(notification, enrich=enrich)
        if self.store.process(inbox_id, keys, planned, self.clock()):
            self.on_output({entry.channel for entry in planned})
            try:
                self.on_new(notification)
            except Exception as error:  # a follow-up (diagnose) never undoes the delivery
                log.error(
                    "inbox entry %d: follow-up of %s failed: %s",
                    inbox_id,
                    notification.alert_name or "alert",
                    _reason(error),
                )

    def _failed(self, entry: InboxEntry, notification: Notification, error: Exception) -> bool:
        """Log and record a failed attempt; True when the payload will be retried."""
        attempt = entry.attempts + 1
        reason = _reason(error)
        name = notification.alert_name or "alert"
        if attempt >= self.max_attempts:
            log.error(
                "inbox entry %d (%s): dead letter after %d attempts: %s",
                entry.id,
                name,
                attempt,
                reason,
            )
            self.store.kill_inbox(entry.id, f"{attempt} attempts failed: {reason}")
            return False
        delay = self.backoff * 2 ** (attempt - 1)
        log.warning(
            "inbox entry %d (%s): attempt %d of %d failed, retrying in %gs: %s",
            entry.id,
            name,
            attempt,
            self.max_attempts,
            delay,
            reason,
        )
        self.store.retry_inbox(entry.id, self.clock() + delay, reason)
        return True


def claim_lapsed(claimed_by: str | None, claimed_at: float | None, now: float, me: str) -> bool:
    """Whether a claim (``host:pid`` at ``claimed_at``) no longer holds: its holder died
    (same host, pid gone; or this process under another name) or overran its lease."""
    if claimed_at is None or now - claimed_at > LEASE_SECONDS:
        return True
    host, _, pid = (claimed_by or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return claimed_by != me
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _reason(error: BaseException) -> str:
    """An exception as one bounded line: its type (for bugs) and message."""
    text = " ".join(str(error).split()) or "no message"
    if not isinstance(error, OpsError):
        text = f"{type(error).__name__}: {text}"
    return text if len(text) <= 300 else text[:299] + "…"


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
    interrupted: set[int] = field(default_factory=set)  # claimed, outcome not recorded

    def run_once(self) -> float:
        """Send what is due; seconds until something may be due again."""
        now = self.clock()
        for entry in self.store.due(now, ids=self.only, skip_channels=self._waiting(now)):
            if self.next_allowed.get(entry.channel, 0.0) > self.clock():
                continue
            if entry.status == "sending" and not self._abandoned(entry):
                continue  # another live deliverer is sending it
            if now - entry.created_at > self.max_age:
                self._kill(entry, f"older than {self.max_age:g}s: {entry.last_error or 'not sent'}")
                continue
            self._send(entry)
        # A channel waiting (paced) wakes the loop when its wait ends, not before: its due
        # entries would otherwise make this loop poll every 10 ms meanwhile.
        later = self.clock()
        waiting = self._waiting(later)
        waits = [self.next_allowed[channel] - later for channel in waiting]
        due = self.store.next_due_at(skip_channels=waiting)
        if due is not None:
            waits.append(due - later)
        return max(0.01, min([1.0, *waits]))

    def _waiting(self, now: float) -> set[str]:
        """The channels that may not be sent to yet (paced, or a 429's Retry-After)."""
        return {channel for channel, until in self.next_allowed.items() if until > now}

    def waiting_for(self, channels: Collection[str]) -> bool:
        """Whether every one of ``channels`` must wait (paced, or told to by a 429): new
        entries for them need no wake-up, the deliverer wakes itself when the wait ends.
        Waking it for each payload of a storm into one paced channel cost a read of the
        whole backlog per payload (issue 15)."""
        now = self.clock()
        return bool(channels) and all(self.next_allowed.get(c, 0.0) > now for c in channels)

    def _abandoned(self, entry: OutboxEntry) -> bool:
        """A 'sending' entry whose deliverer died (same host, pid gone) or overran its lease,
        or one of ours whose outcome we could not record (the store went away meanwhile)."""
        if entry.id in self.interrupted:
            return True
        return claim_lapsed(entry.claimed_by, entry.claimed_at, self.clock(), self.me)

    def _send(self, entry: OutboxEntry) -> None:
        """Send one entry. When the store fails on the way (the claim's or the result's
        commit may or may not have happened), the entry is remembered as interrupted: once
        the store is back it is looked up in the chat before it is sent again."""
        try:
            self._send_claimed(entry)
        except StoreError:
            self.interrupted.add(entry.id)
            raise

    def _send_claimed(self, entry: OutboxEntry) -> None:
        channel_id, thread_ts = self.store.thread(entry.group_key, entry.channel)
        reply_to = thread_ts if entry.action == "reply" else None
        uncertain = (
            entry.status == "sending"
            or UNKNOWN_OUTCOME in (entry.last_error or "")
            or entry.id in self.interrupted
        )
        if not self.store.claim(entry, self.me, self.clock()):
            return  # another deliverer took it
        self.interrupted.discard(entry.id)
        try:
            if entry.action in ("post", "reply") and uncertain:
                found = self.notifier.find(entry.channel, entry.id, reply_to)
                if found is not None:
                    self.store.mark_sent(entry, found[1], found[0])
                    return
            if entry.action in ("webhook", "email", "respond"):
                key = delivery_key(entry.id, entry.created_at, entry.group_key, entry.channel)
                self.outside.send(entry.action, entry.id, entry.group_key, entry.message, key)
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
                    self._kill(entry, "the message to update was never posted")
            else:
                sent_channel, ts = self.notifier.post(
                    entry.channel, entry.message, entry.id, reply_to
                )
                self.store.mark_sent(entry, ts, sent_channel)
        except NotifyError as error:
            self._failed(entry, error)
            return
        except StoreError:
            raise  # the result could not be recorded: not the entry's fault (see _send)
        except Exception as error:  # a bug or a malformed entry: never left 'sending' forever
            permanent = entry.attempts + 1 >= MAX_UNEXPECTED_FAILURES
            self._failed(entry, NotifyError(f"unexpected {_reason(error)}", permanent=permanent))
            return
        self.next_allowed[entry.channel] = self.clock() + self.pace

    def _failed(self, entry: OutboxEntry, error: NotifyError) -> None:
        now = self.clock()
        if error.permanent:
            self._kill(entry, str(error))
            return
        if error.retry_after is not None:
            delay = min(error.retry_after, self.max_backoff)
            self.next_allowed[entry.channel] = now + delay
        else:
            step = min(self.max_backoff, self.base_backoff * 2 ** max(0, entry.attempts))
            delay = step * random.uniform(0.5, 1.0)
        log.warning(
            "outbox entry %d (%s to %s): attempt %d failed, retrying in %.1fs: %s",
            entry.id,
            entry.action,
            entry.channel,
            entry.attempts + 1,
            delay,
            error,
        )
        self.store.reschedule(entry.id, now + delay, str(error))

    def _kill(self, entry: OutboxEntry, reason: str) -> None:
        log.error(
            "outbox entry %d (%s to %s): dead letter: %s",
            entry.id,
            entry.action,
            entry.channel,
            reason,
        )
        self.store.kill(entry.id, reason)


class Loop:
    """Runs a ``step`` (returning seconds to wait) on a thread until stopped; ``wake`` cuts a wait."""

    def __init__(
        self, name: str, step: Callable[[], float], woken: threading.Event | None = None
    ) -> None:
        self.step = step
        self.stopped = threading.Event()
        self.woken = woken or threading.Event()  # (tests pass one that hooks its wait)
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.errors = 0
        self.conflicts = 0  # rounds that lost a race to another writer (retried at once)
        self.busy = 0  # rounds that waited out SQLite's busy timeout (retried after a pause)

    def _run(self) -> None:
        outage = 0  # rounds in a row the store was unavailable
        streak = 0  # rounds in a row that lost a race to another writer
        contended = 0  # rounds in a row that found SQLite's lock held by another connection
        while not self.stopped.is_set():
            # Cleared before the round, never after its wait: a wake from here on may be for
            # work this round looked for too early, so it stays set and the wait below
            # returns at once for another round; a wake before here is for work this round
            # will see.
            self.woken.clear()
            try:
                wait = self.step()
                outage = streak = contended = 0
            except StoreConflict as error:  # lost a race to another writer: again, at once
                self.conflicts += 1
                streak += 1
                wait = 0.0 if streak <= CONFLICT_RETRIES_AT_ONCE else CONFLICT_PAUSE
                logging.getLogger("ops.serve").info(
                    "%s: %s; retrying %s",
                    self.thread.name,
                    error,
                    "at once" if not wait else f"in {wait:g}s",
                )
            except StoreBusy as error:  # another connection holds the lock: wait, then again
                # Not an error (the store works) and not a payload's fault: the round that met
                # it did not count an attempt; it is done again after the pause.
                self.busy += 1
                contended += 1
                wait = min(STORE_BACKOFF_MAX, STORE_BACKOFF * 2 ** (contended - 1))
                logging.getLogger("ops.serve").warning(
                    "%s: %s; retrying in %gs", self.thread.name, error, wait
                )
            except StoreError as error:  # the database is away: back off, say why in a line
                outage += 1
                wait = min(STORE_BACKOFF_MAX, STORE_BACKOFF * 2 ** (outage - 1))
                logging.getLogger("ops.serve").warning(
                    "%s: %s; retrying in %gs", self.thread.name, error, wait
                )
                self.errors += 1
            except Exception:  # a loop must outlive one bad round: log it, count it, go on
                logging.getLogger("ops.serve").exception(
                    "%s failed; retrying in 1s", self.thread.name
                )
                self.errors += 1
                wait = 1.0
            self.woken.wait(wait)

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
