"""Escalations kept in the store: timelines, pages, actions from Slack and the CLI, jobs.

One row per (alert group, routed channel) holds the timeline of ``policy.py``. Every change
is a compare-and-set on the row's ``version`` in the same transaction that writes the
outbox entries it causes, so a tier pages exactly once whatever crashes or replicas race,
and a double click acts once (the second finds the state already changed). Work that talks
to other systems (silences in Alertmanager, diagnose runs) is a row in ``jobs``, done by a
loop, so an HTTP request from Slack only records and answers.

An escalation's ``ref`` (12 hex characters of its group key and channel) is stable across
restarts and replicas; buttons, ``/ops ack`` and ``ops escalation ack`` all name it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from ops_toolkit.escalate import policy as timelines
from ops_toolkit.escalate.interact import ACTIONS, SILENCE_SECONDS
from ops_toolkit.escalate.oncall import OncallConfig
from ops_toolkit.escalate.policy import EscalationPolicy, Page, Timeline
from ops_toolkit.notify import actions as blocks
from ops_toolkit.notify.message import plain
from ops_toolkit.notify.model import Planned
from ops_toolkit.serve.store import Store, Transaction, insert_outbox

# The tables are in serve/store/schema.py (migrations of the one store).
REPLAY_KEEP_SECONDS = 600.0  # longer than the signature window (300 s)
RECENT_SECONDS = 30.0  # a second Escalate now / Run diagnose within this is the same click


def ref_of(group_key: str, channel: str) -> str:
    return hashlib.sha256(f"{group_key}\x1f{channel}".encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Escalation:
    id: int
    ref: str
    group_key: str
    channel: str
    policy: str
    timeline: Timeline
    version: int
    name: str
    labels: dict[str, str]
    runbook: str | None
    runbook_path: str | None
    message: dict[str, Any]
    silence_id: str | None
    silenced_until: float | None
    last_action: str | None


@dataclass(frozen=True)
class Outcome:
    """What an action did, in words for the person who asked (ephemeral reply, CLI)."""

    done: bool
    text: str


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%H:%M UTC")


def mention(participant: str, lookup: Callable[[str], str | None]) -> str:
    """Slack syntax for a person: ``<@U...>``; an email is looked up, else shown as is."""
    if "@" in participant:
        user_id = lookup(participant)
        return f"<@{user_id}>" if user_id else participant
    return f"<@{participant}>"


class Escalations:
    """The escalation half of ``ops serve``'s store, and what acts on it."""

    def __init__(
        self,
        store: Store,
        oncall: OncallConfig,
        *,
        lookup_user: Callable[[str], str | None] = lambda email: None,
        known_user: Callable[[str], str | None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.oncall = oncall
        self.lookup_user = lookup_user  # may ask Slack (pages)
        self.known_user = known_user or lookup_user  # must not block (allow-lists)
        self.can_silence = True  # False when ops serve knows no Alertmanager
        self.buttons = True  # False without SLACK_SIGNING_SECRET: a press could not be verified
        self.clock = clock

    # -- reading -------------------------------------------------------------------------

    def get(self, ref: str) -> Escalation | None:
        row = self.store.execute(
            f"SELECT {_COLUMNS} FROM escalations WHERE ref = ? OR CAST(id AS TEXT) = ?",
            (ref, ref),
        ).fetchone()
        return None if row is None else _escalation(row)

    def listing(
        self, statuses: Collection[str] | None = None, limit: int = 200
    ) -> list[Escalation]:
        rows = self.store.execute(
            f"SELECT {_COLUMNS} FROM escalations ORDER BY changed_at DESC LIMIT ?", (limit,)
        ).fetchall()
        found = [_escalation(r) for r in rows]
        return [e for e in found if statuses is None or e.timeline.status in statuses]

    def log(self, escalation_id: int) -> list[tuple[float, str, str, str]]:
        rows = self.store.execute(
            "SELECT at, actor, action, outcome FROM escalation_log WHERE escalation_id = ? "
            "ORDER BY id",
            (escalation_id,),
        ).fetchall()
        return [(float(a), str(b), str(c), str(d)) for a, b, c, d in rows]

    def next_due_at(self) -> float | None:
        timer = self.store.execute(
            "SELECT MIN(due_at) FROM escalations WHERE status = 'active'"
        ).scalar()
        job = self.store.execute("SELECT MIN(next_at) FROM jobs WHERE status = 'pending'").scalar()
        times = [float(x) for x in (timer, job) if x is not None]
        return min(times) if times else None

    # -- from webhooks -------------------------------------------------------------------

    def on_notification(
        self,
        *,
        group_key: str,
        channel: str,
        policy_name: str,
        status: str,
        name: str,
        labels: Mapping[str, str],
        runbook: str | None,
        message: dict[str, Any],
        now: float,
        runbook_path: str | None = None,
    ) -> None:
        """Start, keep or end the escalation of a routed alert group (idempotent)."""
        policy = self.oncall.policy(policy_name)
        ref = ref_of(group_key, channel)
        for _ in range(5):
            current = self.get(ref)
            timeline = timelines.on_status(
                current.timeline if current else None, status, policy, now
            )
            if timeline is None:
                return
            with self.store.transaction() as db:
                if current is None:
                    db.execute(
                        f"INSERT INTO escalations (ref, group_key, channel, policy, "
                        f"status, started_at, step, due_at, acknowledged_by, changed_at, name, "
                        f"labels, runbook, runbook_path, message) VALUES ({', '.join('?' * 15)}) "
                        "ON CONFLICT DO NOTHING",
                        (
                            ref,
                            group_key,
                            channel,
                            policy_name,
                            *_timeline_values(timeline),
                            name,
                            json.dumps(dict(labels)),
                            runbook,
                            runbook_path,
                            json.dumps(message),
                        ),
                    )
                    return
                changed = self._save(db, current, timeline)
                if changed and status == "firing" and current.timeline.status == "resolved":
                    db.execute(
                        "UPDATE escalations SET message = ?, labels = ?, last_action = NULL "
                        "WHERE id = ?",
                        (json.dumps(message), json.dumps(dict(labels)), current.id),
                    )
                if changed or timeline is current.timeline:
                    return

    # -- timers --------------------------------------------------------------------------

    def tick(self, now: float | None = None) -> int:
        """Page every due step, each exactly once; how many pages were queued."""
        now = self.clock() if now is None else now
        rows = self.store.execute(
            f"SELECT {_COLUMNS} FROM escalations WHERE status = 'active' AND due_at <= ? "
            "ORDER BY due_at LIMIT 100",
            (now,),
        ).fetchall()
        queued = 0
        for row in rows:
            escalation = _escalation(row)
            policy = self._policy(escalation)
            if policy is None:  # the policy left oncall.yaml: stop, and say so once
                self._stop_orphan(escalation, now)
                continue
            if not self.store.thread_known(escalation.group_key, escalation.channel):
                # The opening post is not in the outbox yet (its payload is still being
                # processed): a page now would be sent before it, outside its thread.
                continue
            timeline, pages = timelines.advance(escalation.timeline, policy, now)
            if not pages:
                continue
            planned = [p for page in pages for p in self._page(escalation, policy, page, now)]
            with self.store.transaction() as db:
                if self._save(db, escalation, timeline):
                    insert_outbox(db, planned, now)
                    queued += len(pages)
        return queued

    def _stop_orphan(self, escalation: Escalation, now: float) -> None:
        stopped = replace(
            escalation.timeline, status=timelines.EXHAUSTED, due_at=None, changed_at=now
        )
        text = (
            f":warning: Escalation policy {escalation.policy!r} is no longer in the on-call "
            "file; nobody more is paged for this alert."
        )
        with self.store.transaction() as db:
            if self._save(db, escalation, stopped):
                insert_outbox(
                    db,
                    [Planned(escalation.group_key, escalation.channel, "reply", {"text": text})],
                    now,
                )

    def _policy(self, escalation: Escalation) -> EscalationPolicy | None:
        return self.oncall.policies.get(escalation.policy)

    def on_call(self, escalation: Escalation, now: float) -> set[str]:
        """Everyone the escalation's tiers would page now: the allow-list's ``oncall``."""
        policy = self._policy(escalation)
        people: set[str] = set()
        if policy is None:
            return people
        moment = datetime.fromtimestamp(now, UTC)
        for tier in policy.tiers:
            people.update(tier.users)
            if tier.schedule and tier.schedule in self.oncall.schedules:
                user = self.oncall.schedules[tier.schedule].who(
                    moment, self.store_overrides(tier.schedule, now)
                )
                if user:
                    people.add(user)
        # Only what is already known: this runs while Slack waits for an answer.
        resolved = {self.known_user(p) or p if "@" in p else p for p in people}
        return people | resolved

    def store_overrides(self, schedule: str, now: float) -> list[Any]:
        from ops_toolkit.serve.overrides import OverrideStore

        return OverrideStore(self.store).overrides(schedule, now, now + 1)

    def _page(
        self, escalation: Escalation, policy: EscalationPolicy, page: Page, now: float
    ) -> list[Planned]:
        tier = policy.tiers[page.tier]
        people: list[str] = list(tier.users)
        if tier.schedule and tier.schedule in self.oncall.schedules:
            user = self.oncall.schedules[tier.schedule].who(
                datetime.fromtimestamp(now, UTC), self.store_overrides(tier.schedule, now)
            )
            if user:
                people.insert(0, user)
        mentions = [mention(p, self.lookup_user) for p in people]
        if tier.user_group:
            mentions.append(f"<!subteam^{tier.user_group}>")
        by_hand = self._escalated_by(escalation, page)
        text = blocks.page_text(
            escalation.name,
            page.tier + 1,
            len(policy.tiers),
            page.repeat,
            mentions,
            nobody=bool(tier.schedule) and not people,
            escalated_by=_who(by_hand) if by_hand else None,
        )
        message = blocks.page_message(text, escalation.ref if self.buttons else None)
        key = escalation.group_key
        planned = [Planned(key, escalation.channel, "reply", message)]
        if tier.channel and tier.channel != escalation.channel:
            opening = blocks.with_status(
                escalation.message,
                escalation.ref,
                text,
                silenced=escalation.silence_id is not None,
                buttons=self.buttons,
            )
            opening["text"] = text  # the notification shows the page, not the alert's title
            action = (
                "reply" if page.repeat or self.store.thread_known(key, tier.channel) else "post"
            )
            planned.append(
                Planned(key, tier.channel, action, message if action == "reply" else opening)
            )
        # Alert text is untrusted: one line each, so a label cannot fake a "Runbook:" line.
        summary = f"{plain(escalation.name)}: tier {page.tier + 1} of {len(policy.tiers)}"
        if tier.webhook:
            planned.append(
                Planned(
                    key,
                    f"webhook:{tier.webhook}",
                    "webhook",
                    {
                        "text": summary,
                        "webhook": tier.webhook,
                        "url": self.oncall.webhooks[tier.webhook].url,
                        "format": self.oncall.webhooks[tier.webhook].format,
                        "routing_key_env": self.oncall.webhooks[tier.webhook].routing_key_env,
                        "event": "trigger",
                        "labels": escalation.labels,
                        "tier": page.tier + 1,
                        "runbook": escalation.runbook,
                    },
                )
            )
        if tier.email:
            planned.append(
                Planned(
                    key,
                    "email:" + ",".join(tier.email),  # 'ops outbox list' shows who
                    "email",
                    {
                        "text": summary,
                        "to": list(tier.email),
                        "subject": f"[ops] {summary} (escalated by hand by {plain(_who(by_hand))})"
                        if by_hand
                        else f"[ops] {summary} (nobody acknowledged yet)"
                        if page.step
                        else f"[ops] {summary}",
                        "body": f"{plain(escalation.name)} is firing.\nLabels: "
                        + ", ".join(plain(f"{k}={v}") for k, v in sorted(escalation.labels.items()))
                        + (f"\nRunbook: {plain(escalation.runbook)}" if escalation.runbook else "")
                        + f"\nAcknowledge: /ops ack {escalation.ref}  or  ops escalation ack "
                        f"{escalation.ref}",
                    },
                )
            )
        return planned

    def _escalated_by(self, escalation: Escalation, page: Page) -> str | None:
        """Who paged ``page`` by hand: an escalate action done at the instant it became due
        (``escalate_now`` makes the next step due at the action's time); None for a page
        that came due by the policy's wait. The user as the timeline keeps it
        (``U0123ABCD``, or ``cli:alice``)."""
        actor = self.store.execute(
            "SELECT actor FROM escalation_log WHERE escalation_id = ? AND action = 'escalate' "
            "AND outcome = 'done' AND at = ? ORDER BY id DESC LIMIT 1",
            (escalation.id, page.due_at),
        ).scalar()
        if actor is None:
            return None
        return str(actor).removeprefix("slack:")

    # -- actions -------------------------------------------------------------------------

    def act(
        self,
        ref: str,
        action: str,
        *,
        actor: str,
        user: str,
        now: float | None = None,
        allowed: Callable[[str, str, set[str]], bool] = lambda a, u, o: True,
    ) -> Outcome:
        """Do a button's (or command's) action once; says what happened."""
        now = self.clock() if now is None else now
        if action not in ACTIONS:
            return Outcome(False, f"unknown action {action!r}")
        for _ in range(5):
            escalation = self.get(ref)
            if escalation is None:
                return Outcome(False, f"no escalation {ref}")
            if not allowed(action, user, self.on_call(escalation, now)):
                self._log(escalation.id, actor, action, "refused", now)
                return Outcome(False, f"you are not allowed to {ACTIONS[action].lower()} here")
            result = self._try(escalation, action, actor, user, now)
            if result is not None:
                return result
        return Outcome(False, "the escalation kept changing; try again")

    def _try(
        self, escalation: Escalation, action: str, actor: str, user: str, now: float
    ) -> Outcome | None:
        """One compare-and-set attempt; None when someone else changed the row first."""
        policy = self._policy(escalation)
        timeline = escalation.timeline
        who = f"<@{user}>" if not user.startswith("cli:") else user[4:]
        label = ACTIONS[action]
        if action == "ack":
            new = timelines.acknowledge(timeline, user, now)
            unchanged = (
                "it is resolved"
                if timeline.status == timelines.RESOLVED
                else f"already acknowledged by {_who(timeline.acknowledged_by)}"
            )
        elif action == "resolve":
            new = timelines.resolve(timeline, now)
            unchanged = "already resolved"
        elif action == "escalate":
            if policy is None:
                return Outcome(False, f"escalation policy {escalation.policy!r} is gone")
            recent = self._recent(escalation.id, action, now)
            new = timeline if recent else timelines.escalate_now(timeline, policy, now)
            unchanged = "already escalated a moment ago" if recent else "it is resolved"
        elif action in ("silence_1h", "silence_4h", "silence_24h", "unsilence") and not (
            self.can_silence
        ):
            return self._unchanged(
                escalation, actor, action, now, "silences need 'alertmanager: URL' in ops.yaml"
            )
        elif action.startswith("silence"):
            if escalation.silence_id or self._pending(escalation.id, ("silence",)):
                return self._unchanged(escalation, actor, action, now, "already silenced")
            return self._job(
                escalation,
                "silence",
                actor,
                action,
                now,
                {"seconds": SILENCE_SECONDS[action], "by": user, "label": label},
                f"{label} by {who} at {_when(now)}",
            )
        elif action == "unsilence":
            if not escalation.silence_id:
                return self._unchanged(escalation, actor, action, now, "not silenced")
            return self._job(
                escalation,
                "unsilence",
                actor,
                action,
                now,
                {"silence_id": escalation.silence_id, "by": user},
                f"Unsilenced by {who} at {_when(now)}",
            )
        else:  # diagnose
            if self._recent(escalation.id, action, now):
                return self._unchanged(escalation, actor, action, now, "diagnose already started")
            return self._job(
                escalation,
                "diagnose",
                actor,
                action,
                now,
                {"by": user},
                f"Diagnose started by {who} at {_when(now)}",
            )
        if new == timeline:
            return self._unchanged(escalation, actor, action, now, unchanged)
        done = {"ack": "Acknowledged", "resolve": "Resolved", "escalate": "Escalated"}[action]
        status_line = f"{done} by {who} at {_when(now)}"
        acknowledged = status_line if action == "ack" else self._acknowledged(escalation)
        messages = self._status_messages(
            escalation, status_line, acknowledged, resolved=new.status == timelines.RESOLVED
        )
        with self.store.transaction() as db:
            if not self._save(db, escalation, new, last_action=status_line):
                return None
            self._log(escalation.id, actor, action, "done", now, db)
            insert_outbox(db, messages, now)
        return Outcome(True, status_line)

    def _acknowledged(self, escalation: Escalation) -> str | None:
        """``Acknowledged by <@U1> at 10:02 UTC`` once it is, for the opening message."""
        user = escalation.timeline.acknowledged_by
        if not user:
            return None
        at = self.store.execute(
            "SELECT MIN(at) FROM escalation_log WHERE escalation_id = ? AND action = 'ack' "
            "AND outcome = 'done'",
            (escalation.id,),
        ).scalar()
        when = float(at) if at is not None else escalation.timeline.changed_at
        return f"Acknowledged by {_who(user)} at {_when(when)}"

    def _status_messages(
        self,
        escalation: Escalation,
        line: str,
        acknowledged: str | None = None,
        *,
        resolved: bool = False,
    ) -> list[Planned]:
        updated = blocks.with_status(
            escalation.message,
            escalation.ref,
            line,
            silenced=escalation.silence_id is not None,
            acknowledged=acknowledged,
            resolved=resolved,
            buttons=self.buttons,
        )
        reply = blocks.page_message(line, None)
        return [
            Planned(escalation.group_key, escalation.channel, "update", updated),
            Planned(escalation.group_key, escalation.channel, "reply", reply),
        ]

    def _unchanged(
        self, escalation: Escalation, actor: str, action: str, now: float, why: str
    ) -> Outcome:
        self._log(escalation.id, actor, action, "unchanged", now)
        return Outcome(False, f"Nothing to do: {why}.")

    def _job(
        self,
        escalation: Escalation,
        kind: str,
        actor: str,
        action: str,
        now: float,
        payload: dict[str, Any],
        line: str,
    ) -> Outcome:
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO jobs (escalation_id, kind, payload, next_at, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (escalation.id, kind, json.dumps(payload), now, now),
            )
            self._log(escalation.id, actor, action, "done", now, db)
        return Outcome(True, line)

    def _recent(self, escalation_id: int, action: str, now: float) -> bool:
        row = self.store.execute(
            "SELECT 1 FROM escalation_log WHERE escalation_id = ? AND action = ? AND "
            "outcome = 'done' AND at > ?",
            (escalation_id, action, now - RECENT_SECONDS),
        ).fetchone()
        return row is not None

    def _pending(self, escalation_id: int, kinds: Sequence[str]) -> bool:
        marks = ",".join("?" for _ in kinds)
        row = self.store.execute(
            f"SELECT 1 FROM jobs WHERE escalation_id = ? AND status = 'pending' AND kind IN ({marks})",
            (escalation_id, *kinds),
        ).fetchone()
        return row is not None

    def _log(
        self,
        escalation_id: int,
        actor: str,
        action: str,
        outcome: str,
        now: float,
        db: Transaction | None = None,
    ) -> None:
        (db or self.store).execute(
            "INSERT INTO escalation_log (escalation_id, at, actor, action, outcome) "
            "VALUES (?, ?, ?, ?, ?)",
            (escalation_id, now, actor, action, outcome),
        )

    def _save(
        self,
        db: Transaction,
        current: Escalation,
        timeline: Timeline,
        last_action: str | None = None,
    ) -> bool:
        """Compare-and-set the timeline; False when another writer got there first."""
        if timeline == current.timeline and last_action is None:
            return True
        cursor = db.execute(
            "UPDATE escalations SET status = ?, started_at = ?, step = ?, due_at = ?, "
            "acknowledged_by = ?, changed_at = ?, version = version + 1, "
            "last_action = COALESCE(?, last_action) WHERE id = ? AND version = ?",
            (*_timeline_values(timeline), last_action, current.id, current.version),
        )
        return bool(cursor.rowcount == 1)

    # -- jobs ----------------------------------------------------------------------------

    def add_job(
        self, kind: str, payload: dict[str, Any], now: float, escalation_id: int | None = None
    ) -> int:
        result = self.store.execute(
            "INSERT INTO jobs (escalation_id, kind, payload, next_at, created_at) "
            "VALUES (?, ?, ?, ?, ?) RETURNING id",
            (escalation_id, kind, json.dumps(payload), now, now),
        )
        return int(result.scalar())

    def due_jobs(self, now: float) -> list[tuple[int, int | None, str, dict[str, Any], int]]:
        rows = self.store.execute(
            "SELECT id, escalation_id, kind, payload, attempts FROM jobs "
            "WHERE status = 'pending' AND next_at <= ? ORDER BY id LIMIT 20",
            (now,),
        ).fetchall()
        return [
            (int(a), None if b is None else int(b), str(c), json.loads(d), int(e))
            for a, b, c, d, e in rows
        ]

    def claim_job(self, job_id: int, attempts: int, now: float, lease: float = 120.0) -> bool:
        """Take a job for ``lease`` seconds (another runner may take it after that)."""
        cursor = self.store.execute(
            "UPDATE jobs SET attempts = attempts + 1, next_at = ? WHERE id = ? AND "
            "status = 'pending' AND attempts = ?",
            (now + lease, job_id, attempts),
        )
        return bool(cursor.rowcount == 1)

    def finish_job(
        self,
        job_id: int,
        escalation: Escalation,
        *,
        line: str,
        silence: tuple[str | None, float | None] | None = None,
        extra: Sequence[Planned] = (),
        now: float,
    ) -> None:
        """Record a job's result, the silence it made or removed, and its messages, at once."""
        acknowledged = self._acknowledged(escalation)
        with self.store.transaction() as db:
            db.execute("UPDATE jobs SET status = 'done', result = ? WHERE id = ?", (line, job_id))
            if silence is not None:
                db.execute(
                    "UPDATE escalations SET silence_id = ?, silenced_until = ?, last_action = ?, "
                    "version = version + 1 WHERE id = ?",
                    (*silence, line, escalation.id),
                )
                escalation = replace(escalation, silence_id=silence[0])
            messages = (
                self._status_messages(escalation, line, acknowledged) if silence is not None else []
            )
            insert_outbox(db, [*messages, *extra], now)

    def finish_job_alone(self, job_id: int, planned: Sequence[Planned], now: float) -> None:
        """A job not tied to an escalation (``/ops runbook``): done, with its messages."""
        with self.store.transaction() as db:
            db.execute("UPDATE jobs SET status = 'done' WHERE id = ?", (job_id,))
            insert_outbox(db, planned, now)

    def fail_job(self, job_id: int, error: str, attempts: int, now: float) -> None:
        final = attempts + 1 >= 5
        self.store.execute(
            "UPDATE jobs SET status = ?, result = ?, next_at = ? WHERE id = ?",
            ("failed" if final else "pending", error, now + min(300.0, 5.0 * 2**attempts), job_id),
        )

    def by_id(self, escalation_id: int) -> Escalation | None:
        return self.get(str(escalation_id))

    # -- Slack replay protection ---------------------------------------------------------

    def first_time(self, signature: str, now: float) -> bool:
        """Remember a request's signature; False when it was seen before (a replay)."""
        with self.store.transaction() as db:
            db.execute("DELETE FROM slack_requests WHERE seen_at < ?", (now - REPLAY_KEEP_SECONDS,))
            cursor = db.execute(
                "INSERT INTO slack_requests (signature, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (signature, now),
            )
            return bool(cursor.rowcount == 1)


def _who(user: str | None) -> str:
    if not user:
        return "someone"
    return user[4:] if user.startswith("cli:") else f"<@{user}>"


def _timeline_values(timeline: Timeline) -> tuple[Any, ...]:
    return (
        timeline.status,
        timeline.started_at,
        timeline.step,
        timeline.due_at,
        timeline.acknowledged_by,
        timeline.changed_at,
    )


_COLUMNS = (
    "id, ref, group_key, channel, policy, status, started_at, step, due_at, acknowledged_by, "
    "changed_at, version, name, labels, runbook, runbook_path, message, silence_id, "
    "silenced_until, last_action"
)


def _escalation(row: Sequence[Any]) -> Escalation:
    return Escalation(
        id=int(row[0]),
        ref=str(row[1]),
        group_key=str(row[2]),
        channel=str(row[3]),
        policy=str(row[4]),
        timeline=Timeline(
            status=str(row[5]),
            started_at=float(row[6]),
            step=int(row[7]),
            due_at=None if row[8] is None else float(row[8]),
            acknowledged_by=row[9],
            changed_at=float(row[10]),
        ),
        version=int(row[11]),
        name=str(row[12]),
        labels=json.loads(row[13]),
        runbook=row[14],
        runbook_path=row[15],
        message=json.loads(row[16]),
        silence_id=row[17],
        silenced_until=None if row[18] is None else float(row[18]),
        last_action=row[19],
    )
