"""Scheduled budget reports and the error-budget policy, as run by ``ops serve``.

Each schedule posts exactly once per cron slot: the slot is recorded with its messages in one
transaction, so a restart does not post it again; a slot missed while the server was down is
posted once on start (only the latest one). On the very first start the latest past slot is
recorded without posting, so adding a schedule does not post at once.

The policy notifies once when an SLO's budget crosses a threshold downward, and re-arms the
threshold when the budget recovers above it plus a hysteresis margin; states live in the store.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from ops_toolkit.config import OpsConfig, Policy, ReportSchedule
from ops_toolkit.errors import ConfigError
from ops_toolkit.metrics.model import MetricsSource
from ops_toolkit.notify.message import Message, escape
from ops_toolkit.notify.model import Planned
from ops_toolkit.slo.evaluate import SLOStatus, evaluate_auto
from ops_toolkit.slo.model import SLO


def latest_slot(cron: str, timezone: str, now: float) -> float:
    """The latest cron slot at or before ``now``, with the schedule read in ``timezone``."""
    from croniter import croniter

    moment = datetime.fromtimestamp(now, ZoneInfo(timezone))
    if croniter.match(cron, moment.replace(second=0, microsecond=0)):
        return moment.replace(second=0, microsecond=0).timestamp()
    previous: datetime = croniter(cron, moment).get_prev(datetime)
    return previous.timestamp()


def select_slos(slos: Sequence[SLO], selectors: Sequence[str]) -> list[SLO]:
    """SLOs matching ``service/slo``, ``service/*`` or ``*`` selectors, in definition order."""

    def matches(slo: SLO, selector: str) -> bool:
        if selector in ("*", "*/*"):
            return True
        service, _, name = selector.partition("/")
        return slo.service == service and name in ("*", slo.name)

    return [s for s in slos if any(matches(s, sel) for sel in selectors)]


def resolve_slos(config: OpsConfig, selectors: Sequence[str]) -> list[SLO]:
    """Paths load their SLOs; anything else selects among the configured SLO files."""
    from ops_toolkit.slo.spec import load_slos

    paths = [s for s in selectors if os.path.exists(s)]
    chosen = load_slos(paths) if paths else []
    others = [s for s in selectors if s not in paths]
    if others:
        chosen += select_slos(load_slos([p for p in config.slos if os.path.exists(p)]), others)
    if not chosen:
        raise ConfigError(f"no SLO matches {', '.join(selectors)}")
    return chosen


def policy_step(
    remaining_percent: float, armed: Mapping[float, bool], hysteresis: float
) -> tuple[list[float], dict[float, bool]]:
    """Thresholds crossed downward now (each fires once), and the new armed states."""
    fired: list[float] = []
    states: dict[float, bool] = {}
    for threshold, is_armed in armed.items():
        if is_armed and remaining_percent <= threshold:
            fired.append(threshold)
            states[threshold] = False
        elif not is_armed and remaining_percent > threshold + hysteresis:
            states[threshold] = True
        else:
            states[threshold] = is_armed
    return sorted(fired), states


def policy_message(
    status: SLOStatus, threshold: float, policy: Policy, runbook_base_url: str | None = None
) -> Message:
    from ops_toolkit.escalate.route import Route

    remaining = status.budget_remaining or 0.0
    mention = Route(policy.channel, policy.mention).mention_text()
    text = (
        f"{mention} :warning: *{escape(status.slo.key)}*: error budget fell below {threshold:g}% "
        f"({remaining * 100:.1f}% left of the {escape(status.slo.window.describe())} budget, "
        f"status {status.status})."
    ).strip()
    if threshold <= 0:
        text += " The budget is spent: freeze risky changes until it recovers."
    if status.slo.runbook:
        from ops_toolkit.links import runbook_url
        from ops_toolkit.notify.message import link

        url = runbook_url(status.slo.runbook, runbook_base_url)
        text += (
            f" Runbook: {link(url, 'runbook')}"
            if url
            else f" Runbook: `{escape(status.slo.runbook)}`"
        )
    return Message(text, ({"type": "section", "text": {"type": "mrkdwn", "text": text}},))


class SlotStore(Protocol):
    """What reports and the policy need from ``ops serve``'s store (``serve.store.Store``):
    slots claimed exactly once, policy states, and the outbox."""

    def last_slot(self, name: str) -> float | None: ...

    def claim_slot(
        self, name: str, slot: float, planned: Sequence[Planned], now: float, *, post: bool = True
    ) -> list[int] | None: ...

    def policy_armed(self, slo: str, thresholds: Sequence[float]) -> dict[float, bool]: ...

    def policy_update(
        self, slo: str, armed: dict[float, bool], planned: Sequence[Planned], now: float
    ) -> bool: ...


@dataclass
class ReportPublisher:
    """Builds budget reports and enqueues them (and their chart) in the outbox."""

    config: OpsConfig
    store: SlotStore
    source: Callable[[], MetricsSource]

    def plan(self, schedule: ReportSchedule, at: float) -> list[Planned]:
        slos = resolve_slos(self.config, schedule.slos)
        source = self.source()
        statuses = evaluate_auto(slos, source, at, keep_going=True)
        return report_plan(
            statuses,
            channel=schedule.channel,
            group=f"report:{schedule.name}:{at:.0f}",
            title=f"SLO budget report: {schedule.name}",
            runbook_base_url=self.config.runbook_base_url,
            chart=chart_png(statuses, source) if schedule.chart else None,
        )

    def run_due(self, now: float) -> list[int]:
        """Enqueue the reports whose latest slot is not recorded yet; their outbox ids."""
        ids: list[int] = []
        for schedule in self.config.reports:
            slot = latest_slot(schedule.cron, schedule.timezone, now)
            last = self.store.last_slot(schedule.name)
            if last is None:
                self.store.claim_slot(schedule.name, slot, [], now, post=False)
            elif slot > last:
                claimed = self.store.claim_slot(schedule.name, slot, self.plan(schedule, slot), now)
                ids += claimed or []
        return ids

    def run_by_hand(self, name: str, now: float, *, force: bool = False) -> list[int] | None:
        """``--once``: the schedule's latest slot, unless it was posted (None) or ``force``."""
        schedule = self.config.report(name)
        slot = latest_slot(schedule.cron, schedule.timezone, now)
        planned = self.plan(schedule, slot if not force else now)
        return self.store.claim_slot(schedule.name, slot if not force else now, planned, now)


def report_plan(
    statuses: Sequence[SLOStatus],
    *,
    channel: str,
    group: str,
    title: str = "SLO budget report",
    runbook_base_url: str | None = None,
    chart: bytes | None = None,
    chart_name: str = "burndown.png",
) -> list[Planned]:
    """Outbox entries of a report: its first message, continuations in the thread, the chart.

    ``chart_name`` may be the absolute path of the chart already written (``--chart``): the
    console notifier then points at it instead of writing a copy.
    """
    from ops_toolkit.notify.report import report_messages

    messages = report_messages(statuses, title=title, runbook_base_url=runbook_base_url)
    planned = [
        Planned(group, channel, "post" if i == 0 else "reply", m.as_dict())
        for i, m in enumerate(messages)
    ]
    if chart is not None:
        upload = {
            "text": "Error budget burn-down",
            "filename": chart_name,
            "content_b64": base64.b64encode(chart).decode(),
        }
        planned.append(Planned(group, channel, "upload", upload))
    return planned


def chart_png(statuses: Sequence[SLOStatus], source: MetricsSource) -> bytes:
    """The burn-down chart of ``statuses`` as PNG bytes."""
    from ops_toolkit.slo.burndown import burndowns
    from ops_toolkit.slo.html import render_png

    return render_png(burndowns(statuses, source))


@dataclass
class PolicyRunner:
    """Evaluates the policies' SLOs and enqueues a notice per threshold crossed downward."""

    config: OpsConfig
    store: SlotStore
    source: Callable[[], MetricsSource]

    def run(self, now: float) -> int:
        notices = 0
        for policy in self.config.policies:
            slos = resolve_slos(self.config, policy.slos)
            for status in evaluate_auto(slos, self.source(), now, keep_going=True):
                notices += self.apply(policy, status, now)
        return notices

    def apply(self, policy: Policy, status: SLOStatus, now: float) -> int:
        if status.budget_remaining is None:
            return 0
        armed = self.store.policy_armed(status.slo.key, policy.thresholds)
        fired, states = policy_step(status.budget_remaining * 100, armed, policy.hysteresis)
        planned = []
        if fired:
            message = policy_message(status, min(fired), policy, self.config.runbook_base_url)
            planned.append(
                Planned(
                    f"policy:{status.slo.key}:{min(fired):g}:{now:.0f}",
                    policy.channel,
                    "post",
                    message.as_dict(),
                )
            )
        # Another replica may have fired the same notice a moment ago: then nothing changes.
        return len(planned) if self.store.policy_update(status.slo.key, states, planned, now) else 0


def gate_minimum(config: OpsConfig, slo: SLO) -> float | None:
    """The policy's gate for ``slo`` as a fraction (a deploy freeze at 0% is ``gate: 0``)."""
    for policy in config.policies:
        if policy.gate is not None and select_slos([slo], policy.slos):
            return policy.gate / 100
    return None
