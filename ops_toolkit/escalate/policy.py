"""Escalation policies and an alert group's escalation timeline, as a pure state machine.

A policy is tiers in order; each tier notifies any of a channel, a Slack user group, users,
the current on-call of a schedule, a webhook or email addresses, then waits before the
next tier. The last tier repeats every N minutes up to a limit. Steps are numbered: step
``i < len(tiers)`` pages tier ``i``; later steps are the last tier's repeats.

The timeline is a value: every event (a firing, a tick of the clock, an acknowledgement,
escalate now, a resolve) maps the old value and ``now`` to a new one plus the pages to send.
The store keeps it and fires the due steps in the same transaction that advances it, so
each step pages exactly once whatever restarts in between.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

ACTIVE = "active"  # paging: ``due_at`` is when the next step pages
ACKNOWLEDGED = "acknowledged"  # someone took it: no more pages until escalated again
RESOLVED = "resolved"  # the alert group resolved: over until it fires again
EXHAUSTED = "exhausted"  # every step paged, nobody acknowledged
STATUSES = (ACTIVE, ACKNOWLEDGED, RESOLVED, EXHAUSTED)


@dataclass(frozen=True)
class Tier:
    """Who one tier notifies, and how long it waits before the next tier (seconds)."""

    wait: float = 0.0
    channel: str | None = None
    user_group: str | None = None
    users: tuple[str, ...] = ()
    schedule: str | None = None
    webhook: str | None = None
    email: tuple[str, ...] = ()


@dataclass(frozen=True)
class EscalationPolicy:
    name: str
    tiers: tuple[Tier, ...]
    repeat_every: float | None = None  # seconds between repeats of the last tier
    repeat_limit: int = 0  # how many repeats after the last tier's first page

    @property
    def steps(self) -> int:
        return len(self.tiers) + (self.repeat_limit if self.repeat_every else 0)

    def tier_of(self, step: int) -> tuple[int, int]:
        """(tier index, repeat number; 0 for the tier's first page) of ``step``."""
        last = len(self.tiers) - 1
        return (step, 0) if step <= last else (last, step - last)

    def delay_after(self, step: int) -> float:
        """Seconds from ``step``'s page to the next step's."""
        if step < len(self.tiers) - 1:
            return self.tiers[step].wait
        assert self.repeat_every is not None
        return self.repeat_every

    def offsets(self) -> list[float]:
        """Seconds from the first page to each step's page, when nobody acknowledges."""
        offsets, total = [], 0.0
        for step in range(self.steps):
            offsets.append(total)
            if step + 1 < self.steps:
                total += self.delay_after(step)
        return offsets


@dataclass(frozen=True)
class Page:
    """One step to send now: which tier, which repeat, and when it was due."""

    step: int
    tier: int
    repeat: int
    due_at: float


@dataclass(frozen=True)
class Timeline:
    status: str
    started_at: float
    step: int  # the next step to page
    due_at: float | None  # when it pages (None unless active)
    acknowledged_by: str | None = None
    changed_at: float = 0.0


def begin(policy: EscalationPolicy, now: float) -> Timeline:
    """A new escalation: the first tier pages now."""
    return Timeline(ACTIVE, now, 0, now, changed_at=now)


def on_status(
    timeline: Timeline | None, status: str, policy: EscalationPolicy, now: float
) -> Timeline | None:
    """An alert group's new webhook status: firing starts (or restarts after a resolve)."""
    if status == "resolved":
        return None if timeline is None else resolve(timeline, now)
    if timeline is None or timeline.status == RESOLVED:
        return begin(policy, now)
    return timeline  # already escalating, acknowledged or exhausted: a repeat notification


def advance(
    timeline: Timeline, policy: EscalationPolicy, now: float
) -> tuple[Timeline, list[Page]]:
    """Every step due by ``now``, each once, in order; the next step's time follows its
    scheduled time (not ``now``), so a late tick does not shift the policy."""
    pages: list[Page] = []
    step, due_at = timeline.step, timeline.due_at
    while timeline.status == ACTIVE and due_at is not None and due_at <= now:
        if step >= policy.steps:
            break
        tier, repeat = policy.tier_of(step)
        pages.append(Page(step, tier, repeat, due_at))
        step += 1
        due_at = due_at + policy.delay_after(step - 1) if step < policy.steps else None
    if not pages:
        return timeline, pages
    status = ACTIVE if due_at is not None else EXHAUSTED
    return replace(timeline, status=status, step=step, due_at=due_at, changed_at=now), pages


def acknowledge(timeline: Timeline, user: str, now: float) -> Timeline:
    """Stop paging (and the repeats); a second acknowledgement changes nothing."""
    if timeline.status in (ACKNOWLEDGED, RESOLVED):
        return timeline
    return replace(timeline, status=ACKNOWLEDGED, due_at=None, acknowledged_by=user, changed_at=now)


def resolve(timeline: Timeline, now: float) -> Timeline:
    if timeline.status == RESOLVED:
        return timeline
    return replace(timeline, status=RESOLVED, due_at=None, changed_at=now)


def escalate_now(timeline: Timeline, policy: EscalationPolicy, now: float) -> Timeline:
    """Page the next tier now, acknowledged or not; past the last step, its last tier again."""
    if timeline.status == RESOLVED:
        return timeline
    step = min(timeline.step, policy.steps - 1) if timeline.status == EXHAUSTED else timeline.step
    if step >= policy.steps:
        step = policy.steps - 1
    return replace(
        timeline, status=ACTIVE, step=step, due_at=now, acknowledged_by=None, changed_at=now
    )
