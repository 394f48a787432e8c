"""Escalation timelines on a fake clock: tiers, waits, repeats, ack, resolve, escalate now."""

from __future__ import annotations

from ops_toolkit.escalate.policy import (
    ACKNOWLEDGED,
    ACTIVE,
    EXHAUSTED,
    RESOLVED,
    EscalationPolicy,
    Page,
    Tier,
    Timeline,
    acknowledge,
    advance,
    escalate_now,
    on_status,
    resolve,
)

T0 = 1_780_000_000.0  # a pinned start
WORKED = EscalationPolicy(
    "search",
    (
        Tier(600, schedule="search-primary"),
        Tier(600, schedule="search-secondary"),
        Tier(0, users=("U0LEAD0001",)),
    ),
    repeat_every=900,
    repeat_limit=2,
)


def run(timeline: Timeline, until: float, step: float = 60.0) -> tuple[Timeline, list[Page]]:
    """Tick the clock every ``step`` seconds from the start to ``until``."""
    pages: list[Page] = []
    now = timeline.started_at
    while now <= until:
        timeline, fired = advance(timeline, WORKED, now)
        pages.extend(fired)
        now += step
    return timeline, pages


def test_nobody_acknowledges_every_tier_then_the_repeats_each_once() -> None:
    timeline = on_status(None, "firing", WORKED, T0)
    assert timeline is not None
    final, pages = run(timeline, T0 + 4 * 3600)
    assert [(p.tier, p.repeat, p.due_at - T0) for p in pages] == [
        (0, 0, 0.0),
        (1, 0, 600.0),
        (2, 0, 1200.0),
        (2, 1, 2100.0),
        (2, 2, 3000.0),
    ]
    assert final.status == EXHAUSTED and final.due_at is None


def test_acknowledge_stops_the_tiers_and_the_repeats() -> None:
    timeline = on_status(None, "firing", WORKED, T0)
    assert timeline is not None
    timeline, pages = run(timeline, T0 + 300)
    acked = acknowledge(timeline, "U0SEARCH01", T0 + 301)
    final, later = run(acked, T0 + 4 * 3600)
    assert [p.tier for p in pages] == [0]
    assert later == []
    assert (final.status, final.acknowledged_by) == (ACKNOWLEDGED, "U0SEARCH01")


def test_a_second_acknowledgement_changes_nothing() -> None:
    timeline = on_status(None, "firing", WORKED, T0)
    assert timeline is not None
    first = acknowledge(timeline, "U0SEARCH01", T0 + 10)
    assert acknowledge(first, "U0SEARCH02", T0 + 11) is first


def test_a_late_tick_fires_every_missed_step_once_and_keeps_the_schedule() -> None:
    timeline = on_status(None, "firing", WORKED, T0)
    assert timeline is not None
    timeline, first = advance(timeline, WORKED, T0)
    assert [p.tier for p in first] == [0]
    # The server was down from T0+1s until T0+25m: tiers 2 and 3 are both due, once each.
    timeline, caught_up = advance(timeline, WORKED, T0 + 1500)
    assert [(p.tier, p.due_at - T0) for p in caught_up] == [(1, 600.0), (2, 1200.0)]
    assert timeline.due_at == T0 + 2100  # the first repeat stays anchored to the policy
    again, nothing = advance(timeline, WORKED, T0 + 1500)
    assert nothing == [] and again is timeline


def test_resolve_ends_it_and_a_new_firing_starts_again_from_tier_one() -> None:
    timeline = on_status(None, "firing", WORKED, T0)
    assert timeline is not None
    timeline, _ = run(timeline, T0 + 700)
    resolved = on_status(timeline, "resolved", WORKED, T0 + 800)
    assert resolved is not None and resolved.status == RESOLVED
    assert advance(resolved, WORKED, T0 + 9999) == (resolved, [])
    restarted = on_status(resolved, "firing", WORKED, T0 + 5000)
    assert restarted is not None
    assert (restarted.status, restarted.step, restarted.due_at) == (ACTIVE, 0, T0 + 5000)


def test_a_repeated_firing_notification_does_not_restart_an_escalation() -> None:
    timeline = on_status(None, "firing", WORKED, T0)
    assert timeline is not None
    acked = acknowledge(timeline, "U0SEARCH01", T0 + 10)
    assert on_status(acked, "firing", WORKED, T0 + 300) is acked


def test_escalate_now_pages_the_next_tier_now_and_reanchors_the_wait() -> None:
    timeline = on_status(None, "firing", WORKED, T0)
    assert timeline is not None
    timeline, _ = advance(timeline, WORKED, T0)
    acked = acknowledge(timeline, "U0SEARCH01", T0 + 60)
    escalated = escalate_now(acked, WORKED, T0 + 120)
    timeline, pages = advance(escalated, WORKED, T0 + 120)
    assert [(p.tier, p.due_at) for p in pages] == [(1, T0 + 120)]
    assert timeline.due_at == T0 + 720 and timeline.acknowledged_by is None


def test_escalate_now_after_the_last_repeat_pages_the_last_tier_again() -> None:
    timeline = on_status(None, "firing", WORKED, T0)
    assert timeline is not None
    exhausted, _ = run(timeline, T0 + 4 * 3600)
    timeline, pages = advance(escalate_now(exhausted, WORKED, T0 + 5 * 3600), WORKED, T0 + 5 * 3600)
    assert [(p.tier, p.repeat) for p in pages] == [(2, 2)]
    assert timeline.status == EXHAUSTED


def test_escalate_now_on_a_resolved_escalation_does_nothing() -> None:
    resolved = resolve(Timeline(ACTIVE, T0, 1, T0 + 600), T0 + 1)
    assert escalate_now(resolved, WORKED, T0 + 2) is resolved


def test_a_one_tier_policy_without_repeats_pages_once() -> None:
    single = EscalationPolicy("single", (Tier(0, channel="#ops"),))
    timeline = on_status(None, "firing", single, T0)
    assert timeline is not None
    timeline, pages = advance(timeline, single, T0 + 9999)
    assert [p.tier for p in pages] == [0] and timeline.status == EXHAUSTED


def test_resolved_without_a_timeline_starts_nothing() -> None:
    assert on_status(None, "resolved", WORKED, T0) is None
