"""Escalations in a real store (SQLite and PostgreSQL) on a fake clock: pages, actions, jobs,
handoffs."""

from __future__ import annotations

import pytest

from ops_toolkit.config import parse_config
from ops_toolkit.escalate.oncall import parse_oncall
from ops_toolkit.notify.model import Planned
from ops_toolkit.serve.escalations import Escalations, ref_of
from ops_toolkit.serve.oncall import Oncall
from ops_toolkit.serve.store import Store

T0 = 1_780_000_000.0  # 2026-05-28 20:26:40 UTC, a Thursday
ONCALL = """
schedules:
  - name: primary
    timezone: UTC
    channel: "#search-oncall"
    layers:
      - {rotation: weekly, handoff: "09:00", start: 2026-05-25, participants: [U0PRIMARY1, dana@example.com]}
  - name: secondary
    timezone: UTC
    layers:
      - {rotation: weekly, handoff: "09:00", start: 2026-05-25, participants: [U0SECOND01]}
policies:
  - name: search
    tiers:
      - {schedule: primary, wait: 10m}
      - {schedule: secondary, wait: 10m}
      - {users: [U0LEAD0001], user_group: S0LEADS001, channel: "#incidents", email: [ic@example.com]}
    repeat: {every: 15m, limit: 1}
"""
OPENING = {
    "text": "FIRING: SearchErrors",
    "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "FIRING"}}],
}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def engine(state: str, clock: Clock) -> Escalations:
    return Escalations(
        Store(state),
        parse_oncall(ONCALL, "oncall.yaml"),
        lookup_user={"dana@example.com": "U0DANA0001"}.get,
        clock=clock,
    )


def fire(escalations: Escalations, status: str = "firing", *, opened: bool = True) -> str:
    if opened and not escalations.store.thread_known("g1", "#search-oncall"):
        # What processing the payload does: the opening post, which pages reply to.
        escalations.store.enqueue(
            [Planned("g1", "#search-oncall", "post", OPENING)], escalations.clock()
        )
    escalations.on_notification(
        group_key="g1",
        channel="#search-oncall",
        policy_name="search",
        status=status,
        name="SearchErrors",
        labels={"alertname": "SearchErrors", "service": "search"},
        runbook="runbooks/search-errors.md",
        message=OPENING,
        now=escalations.clock(),
    )
    return ref_of("g1", "#search-oncall")


def outbox(escalations: Escalations) -> list[tuple[str, str, str]]:
    """What the escalation queued (the opening posts left out)."""
    entries = sorted(escalations.store.entries(), key=lambda e: e.id)
    entries = [e for e in entries if e.message != OPENING]
    return [(e.channel, e.action, e.message.get("text", "")) for e in entries]


def test_nobody_acknowledges_each_tier_pages_once_on_time(state: str, clock: Clock) -> None:
    escalations = engine(state, clock)
    fire(escalations)
    pages: list[tuple[float, int]] = []
    while clock.now <= T0 + 3600:
        before = len(outbox(escalations))
        escalations.tick()
        pages.extend((clock.now - T0, n) for n in range(len(outbox(escalations)) - before))
        clock.now += 30
    texts = [t for _, _, t in outbox(escalations)]
    assert [t for t, _ in pages if _ == 0] == [0.0, 600.0, 1200.0, 2100.0]
    assert (
        texts[0]
        == ":rotating_light: <@U0PRIMARY1> *SearchErrors*: tier 1 of 3, please acknowledge."
    )
    assert texts[1] == (
        ":rotating_light: <@U0SECOND01> *SearchErrors*: tier 2 of 3, nobody acknowledged tier 1."
    )
    assert texts[2] == (
        ":rotating_light: <@U0LEAD0001> <!subteam^S0LEADS001> *SearchErrors*: tier 3 of 3, "
        "nobody acknowledged tier 2."
    )
    # Tier 3 also opens a thread in #incidents and emails the incident commander.
    assert [(c, a) for c, a, _ in outbox(escalations)][2:5] == [
        ("#search-oncall", "reply"),
        ("#incidents", "post"),
        ("email:ic@example.com", "email"),
    ]
    assert texts[-3].endswith("tier 3 of 3, still not acknowledged (repeat 1).")
    assert escalations.get(ref_of("g1", "#search-oncall")).timeline.status == "exhausted"  # type: ignore[union-attr]


def test_an_email_participant_is_mentioned_by_their_slack_id(state: str, clock: Clock) -> None:
    clock.now = T0 + 5 * 86400  # the next week: dana@example.com's turn
    escalations = engine(state, clock)
    fire(escalations)
    escalations.tick()
    assert outbox(escalations)[0][2].startswith(":rotating_light: <@U0DANA0001> *SearchErrors*")


def test_two_servers_on_one_store_page_each_tier_exactly_once(state: str, clock: Clock) -> None:
    first, second = engine(state, clock), engine(state, clock)
    fire(first)
    fire(second)  # the same payload processed twice (a replay): still one escalation
    for moment in (T0, T0 + 600, T0 + 601):
        clock.now = moment
        first.tick()
        second.tick()
    replies = [t for c, a, t in outbox(first) if a == "reply"]
    assert len(replies) == 2 and "tier 2 of 3" in replies[1]


def test_acknowledge_stops_it_and_a_double_click_acts_once(state: str, clock: Clock) -> None:
    escalations = engine(state, clock)
    ref = fire(escalations)
    escalations.tick()
    clock.now = T0 + 120
    first = escalations.act(ref, "ack", actor="slack:U0PRIMARY1", user="U0PRIMARY1")
    second = escalations.act(ref, "ack", actor="slack:U0PRIMARY1", user="U0PRIMARY1")
    assert (first.done, first.text) == (True, "Acknowledged by <@U0PRIMARY1> at 20:28 UTC")
    assert (second.done, second.text) == (
        False,
        "Nothing to do: already acknowledged by <@U0PRIMARY1>.",
    )
    clock.now = T0 + 3 * 3600
    escalations.tick()
    entries = outbox(escalations)
    assert [(c, a) for c, a, _ in entries] == [
        ("#search-oncall", "reply"),  # tier 1
        ("#search-oncall", "update"),  # the opening message shows who acknowledged
        ("#search-oncall", "reply"),  # ... and the thread says so
    ]
    update = escalations.store.entries()[1].message
    status = [b for b in update["blocks"] if b.get("block_id") == "ops_status"]
    assert status[0]["elements"][0]["text"] == "Acknowledged by <@U0PRIMARY1> at 20:28 UTC"
    # the status line takes the Acknowledge button's place; Resolve stays
    (buttons,) = [b for b in update["blocks"] if b.get("block_id") == "ops_escalation"]
    assert [e["action_id"] for e in buttons["elements"]][:2] == ["escalate", "resolve"]
    escalation = escalations.get(ref)
    assert escalation is not None
    assert [
        (actor, action, outcome) for _, actor, action, outcome in escalations.log(escalation.id)
    ] == [
        ("slack:U0PRIMARY1", "ack", "done"),
        ("slack:U0PRIMARY1", "ack", "unchanged"),
    ]


def test_escalate_now_pages_the_next_tier_once_for_a_double_click(state: str, clock: Clock) -> None:
    escalations = engine(state, clock)
    ref = fire(escalations)
    escalations.tick()
    clock.now = T0 + 60
    assert escalations.act(ref, "escalate", actor="cli:dana", user="cli:dana").done
    assert escalations.act(ref, "escalate", actor="cli:dana", user="cli:dana").text == (
        "Nothing to do: already escalated a moment ago."
    )
    escalations.tick()
    pages = [t for _, a, t in outbox(escalations) if "tier" in t]
    assert len(pages) == 2 and "tier 2 of 3" in pages[1]
    assert escalations.get(ref).timeline.due_at == T0 + 660  # type: ignore[union-attr]


def test_resolve_ends_it_and_firing_again_starts_from_tier_one(state: str, clock: Clock) -> None:
    escalations = engine(state, clock)
    ref = fire(escalations)
    escalations.tick()
    clock.now = T0 + 300
    fire(escalations, "resolved")
    clock.now = T0 + 900
    escalations.tick()
    assert len([t for _, _, t in outbox(escalations) if "tier" in t]) == 1
    clock.now = T0 + 1000
    fire(escalations)
    escalations.tick()
    pages = [t for _, _, t in outbox(escalations) if "tier" in t]
    assert len(pages) == 2 and "tier 1 of 3" in pages[1]
    assert escalations.get(ref).timeline.status == "active"  # type: ignore[union-attr]


def test_acknowledging_a_resolved_escalation_says_it_is_resolved_and_no_button_is_left(
    state: str, clock: Clock
) -> None:
    """A newcomer resolved from the CLI, then acknowledged: "already acknowledged by
    someone", though nobody had; the updated message still offered Acknowledge."""
    escalations = engine(state, clock)
    ref = fire(escalations)
    escalations.tick()
    resolved = escalations.act(ref, "resolve", actor="cli:dana", user="cli:dana")
    assert (resolved.done, resolved.text) == (True, "Resolved by dana at 20:26 UTC")
    late = escalations.act(ref, "ack", actor="slack:U0PRIMARY1", user="U0PRIMARY1")
    assert (late.done, late.text) == (False, "Nothing to do: it is resolved.")
    updates = [e.message for e in escalations.store.entries() if e.action == "update"]
    assert len(updates) == 1
    assert [b.get("type") for b in updates[0]["blocks"]] == ["header", "context"]
    assert updates[0]["blocks"][-1]["elements"][0]["text"] == "Resolved by dana at 20:26 UTC"


def test_allow_lists_refuse_and_record_it(state: str, clock: Clock) -> None:
    config = parse_config(
        "slack: {allow: {silence: [oncall], resolve: [U0LEAD0001]}}\n", "ops.yaml"
    )
    escalations = engine(state, clock)
    ref = fire(escalations)
    refused = escalations.act(
        ref, "resolve", actor="slack:U0PRIMARY1", user="U0PRIMARY1", allowed=config.may
    )
    assert (refused.done, refused.text) == (False, "you are not allowed to resolve here")
    outsider = escalations.act(
        ref, "silence_1h", actor="slack:U0OUTSIDE1", user="U0OUTSIDE1", allowed=config.may
    )
    assert not outsider.done
    on_call = escalations.act(
        ref, "silence_1h", actor="slack:U0SECOND01", user="U0SECOND01", allowed=config.may
    )
    assert (on_call.done, on_call.text) == (True, "Silence 1h by <@U0SECOND01> at 20:26 UTC")
    again = escalations.act(
        ref, "silence_4h", actor="slack:U0SECOND01", user="U0SECOND01", allowed=config.may
    )
    assert again.text == "Nothing to do: already silenced."
    assert [(k, p["seconds"]) for _, _, k, p, _ in escalations.due_jobs(T0)] == [("silence", 3600)]
    escalation = escalations.get(ref)
    assert escalation is not None
    assert [o for *_, o in escalations.log(escalation.id)] == [
        "refused",
        "refused",
        "done",
        "unchanged",
    ]


def test_a_signature_is_accepted_once(state: str, clock: Clock) -> None:
    escalations = engine(state, clock)
    assert escalations.first_time("v0=abc", T0)
    assert not escalations.first_time("v0=abc", T0 + 1)
    assert escalations.first_time("v0=abc", T0 + 601)  # forgotten after the window: stale anyway


def oncall(state: str, clock: Clock, posted: list[int]) -> Oncall:
    return Oncall(
        parse_config("", "ops.yaml"),
        parse_oncall(ONCALL, "oncall.yaml"),
        Store(state),
        lookup_user=lambda email: None,
        wake_delivery=lambda: posted.append(1),
        diagnose=None,
        runbook_paths={},
        clock=clock,
    )


def test_handoff_notices_go_out_once_each_across_restarts(state: str, clock: Clock) -> None:
    posted: list[int] = []
    clock.now = T0  # Thursday: the first start only records a baseline
    first = oncall(state, clock, posted)
    assert first.handoffs(clock.now) == 0
    clock.now = T0 + 4 * 86400  # Monday 2026-06-01 20:26 UTC: the 09:00 handoff has passed
    assert first.handoffs(clock.now) == 0  # more than an hour ago: not announced late
    clock.now = 1_780_909_200.0 + 60  # Monday 2026-06-08 09:01 UTC, a minute after a handoff
    second = oncall(state, clock, posted)  # a restart
    assert second.handoffs(clock.now) == 1
    assert first.handoffs(clock.now) == 0
    (entry,) = first.store.entries()
    assert (entry.channel, entry.message["text"]) == (
        "#search-oncall",
        ":pager: On call for *primary* now: <@U0PRIMARY1> until 2026-06-15 09:00 UTC.",
    )


def test_unknown_refs_and_actions_say_so(state: str, clock: Clock) -> None:
    escalations = engine(state, clock)
    assert escalations.act("000000000000", "ack", actor="cli:x", user="cli:x").text == (
        "no escalation 000000000000"
    )


def test_the_worked_example_pages_the_search_oncall_then_the_secondary_then_the_commander(
    state: str, clock: Clock
) -> None:
    from ops_toolkit.escalate.oncall import load_oncall
    from ops_toolkit.escalate.route import load_routes
    from tests.conftest import ROOT

    oncall_config = load_oncall(str(ROOT / "alerts" / "oncall.yaml"))
    (route,) = load_routes(str(ROOT / "alerts" / "routes.yaml")).targets(
        {"service": "search", "severity": "page"}
    )
    assert (route.channel, route.escalation) == ("#search-oncall", "search")
    escalations = Escalations(Store(state), oncall_config, clock=clock)
    clock.now = 1_781_514_000.0  # Monday 2026-06-15 09:00 UTC (11:00 Berlin, 05:00 New York)
    escalations.store.enqueue([Planned("g", route.channel, "post", OPENING)], clock.now)
    escalations.on_notification(
        group_key="g",
        channel=route.channel,
        policy_name=route.escalation,
        status="firing",
        name="SearchAvailabilityBudgetBurn",
        labels={"alertname": "SearchAvailabilityBudgetBurn"},
        runbook=None,
        message=OPENING,
        now=clock.now,
    )
    start = clock.now
    while clock.now <= start + 1500:
        escalations.tick()
        clock.now += 60
    entries = [(c, a, t) for c, a, t in outbox(escalations)]
    # Week 23 of the weekly rotations that began on 5 January (23 % 3 = 2): the primary is
    # U0SEARCH03, the secondary U0SEARCH02; the commander rotates every 2 days from 5 January
    # 08:00 New York, so the 15th at 05:00 there is still the 13th's shift: U0LEAD0001.
    assert [t.split()[1] for _, _, t in entries] == [
        "<@U0SEARCH03>",
        "<@U0SEARCH02>",
        "<@U0LEAD0001>",
        "<@U0LEAD0001>",
    ]
    assert [t.split("*: ")[1] for _, _, t in entries[:3]] == [
        "tier 1 of 3, please acknowledge.",
        "tier 2 of 3, nobody acknowledged tier 1.",
        "tier 3 of 3, nobody acknowledged tier 2.",
    ]
    assert [(c, a) for c, a, _ in entries] == [
        ("#search-oncall", "reply"),
        ("#search-oncall", "reply"),
        ("#search-oncall", "reply"),
        ("#incidents", "post"),
    ]
    created = [
        e.created_at - start
        for e in sorted(escalations.store.entries(), key=lambda e: e.id)
        if e.message != OPENING
    ]
    assert created == [0.0, 600.0, 1200.0, 1200.0]


def test_an_escalation_whose_policy_left_the_file_stops_once(state: str, clock: Clock) -> None:
    escalations = engine(state, clock)
    fire(escalations)
    later = Escalations(
        escalations.store,
        parse_oncall(ONCALL.replace("name: search", "name: other"), "o.yaml"),
        clock=clock,
    )
    later.tick()
    later.tick()
    assert outbox(later) == [
        (
            "#search-oncall",
            "reply",
            ":warning: Escalation policy 'search' is no longer in the on-call file; nobody more is "
            "paged for this alert.",
        )
    ]
    assert later.next_due_at() is None  # nothing left to wake up for


def test_silences_without_an_alertmanager_are_refused_at_once(state: str, clock: Clock) -> None:
    escalations = engine(state, clock)
    escalations.can_silence = False
    ref = fire(escalations)
    outcome = escalations.act(ref, "silence_1h", actor="slack:U1", user="U1")
    assert outcome.text == "Nothing to do: silences need 'alertmanager: URL' in ops.yaml."
    assert escalations.due_jobs(T0 + 1) == []


def test_no_page_goes_out_before_the_opening_post_it_replies_to(state: str, clock: Clock) -> None:
    # Regression: the timer could queue tier 1 between planning a payload and committing its
    # opening post; the page then had the lower outbox id and went out first, top-level.
    escalations = engine(state, clock)
    fire(escalations, opened=False)
    assert escalations.tick() == 0
    escalations.store.enqueue([Planned("g1", "#search-oncall", "post", OPENING)], clock.now)
    assert escalations.tick() == 1
    actions = [e.action for e in sorted(escalations.store.entries(), key=lambda e: e.id)]
    assert actions == ["post", "reply"]


def test_label_values_cannot_fake_lines_in_the_email_or_webhook_text(
    state: str, clock: Clock
) -> None:
    escalations = engine(state, clock)
    escalations.store.enqueue([Planned("g1", "#search-oncall", "post", OPENING)], clock())
    escalations.on_notification(
        group_key="g1",
        channel="#search-oncall",
        policy_name="search",
        status="firing",
        name="Search\u202eErrors\nRunbook: https://evil.example",
        labels={"alertname": "SearchErrors", "service": "search\nAcknowledge: not needed"},
        runbook="runbooks/search-errors.md",
        message=OPENING,
        now=clock(),
    )
    while clock.now <= T0 + 1300:
        escalations.tick()
        clock.now += 30
    (email,) = [e.message for e in escalations.store.entries() if e.action == "email"]
    assert email["body"].splitlines()[:3] == [
        "SearchErrors Runbook: https://evil.example is firing.",
        "Labels: alertname=SearchErrors, service=search Acknowledge: not needed",
        "Runbook: runbooks/search-errors.md",
    ]
    assert email["text"] == "SearchErrors Runbook: https://evil.example: tier 3 of 3"
