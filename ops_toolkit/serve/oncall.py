"""The on-call half of ``ops serve``: escalation timers, jobs, handoff notices, Slack endpoints.

Built by ``EscalationService`` when an on-call file exists. Everything it decides is in the
store: timelines, jobs, handoff slots (claimed exactly once, as scheduled reports are).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from ops_toolkit.alerts.webhook import Notification
from ops_toolkit.config import OpsConfig, refuse_placeholder
from ops_toolkit.escalate.oncall import OncallConfig
from ops_toolkit.escalate.route import Route
from ops_toolkit.notify.actions import with_status
from ops_toolkit.notify.model import Planned
from ops_toolkit.serve.escalations import Escalations, ref_of
from ops_toolkit.serve.jobs import JobRunner
from ops_toolkit.serve.store import Store

log = logging.getLogger("ops.serve")
HANDOFF_CATCH_UP = 3600.0  # after a long outage, announce only handoffs of the last hour


def handoff_notice(
    schedule: str, user: str | None, start: float, end: float | None
) -> dict[str, Any]:
    who = (f"<@{user}>" if "@" not in user else user) if user else "nobody"
    until = (
        f" until {datetime.fromtimestamp(end, UTC).strftime('%Y-%m-%d %H:%M UTC')}" if end else ""
    )
    text = f":pager: On call for *{schedule}* now: {who}{until}."
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


class Oncall:
    def __init__(
        self,
        config: OpsConfig,
        oncall: OncallConfig,
        store: Store,
        *,
        lookup_user: Callable[[str], str | None],
        known_user: Callable[[str], str | None] | None = None,
        wake_delivery: Callable[[], None],
        diagnose: Callable[[str, dict[str, str]], dict[str, Any]] | None,
        runbook_paths: Mapping[str, str],
        clock: Callable[[], float] = time.time,
        interactive: bool = True,
    ) -> None:
        """``interactive``: Slack's button presses can be verified (``SLACK_SIGNING_SECRET``
        is set); without, messages carry no buttons that would only fail when pressed."""
        self.config = config
        self.oncall = oncall
        self.store = store
        self.clock = clock
        self.wake_delivery = wake_delivery
        self.escalations = Escalations(
            store, oncall, lookup_user=lookup_user, known_user=known_user, clock=clock
        )
        alertmanager = None
        if config.alertmanager:
            from ops_toolkit.metrics.alertmanager import AlertmanagerClient

            alertmanager = AlertmanagerClient(config.alertmanager, timeout=5.0)
        self.escalations.can_silence = alertmanager is not None
        self.interactive = interactive
        self.escalations.buttons = interactive
        self.jobs = JobRunner(
            self.escalations,
            alertmanager=alertmanager,
            diagnose=diagnose,
            on_output=wake_delivery,
            clock=clock,
        )
        self.runbook_paths = runbook_paths
        self.wake: Callable[[], None] = lambda: None

    # -- from the processing loop ---------------------------------------------------------

    def opening(
        self, notification: Notification, route: Route, message: dict[str, Any]
    ) -> dict[str, Any]:
        """The opening message with the escalation buttons, when the route escalates."""
        if route.escalation is None or notification.status != "firing":
            return message
        ref = ref_of(notification.group_key, route.channel)
        return with_status(message, ref, None, buttons=self.interactive)

    def on_notification(
        self,
        notification: Notification,
        route: Route,
        message: dict[str, Any],
        runbook: str | None,
        runbook_path: str | None,
    ) -> None:
        if route.escalation is None:
            return
        self.escalations.on_notification(
            group_key=notification.group_key,
            channel=route.channel,
            policy_name=route.escalation,
            status=notification.status,
            name=notification.alert_name or "alert",
            labels=dict(notification.group_labels or notification.labels()),
            runbook=runbook,
            runbook_path=runbook_path,
            message=message,
            now=self.clock(),
        )
        self.wake()

    # -- the loop -------------------------------------------------------------------------

    def run_once(self) -> float:
        """Pages, jobs and handoff notices that are due; seconds until the next may be."""
        now = self.clock()
        queued = self.escalations.tick(now)
        queued += self.jobs.run_once()
        queued += self.handoffs(now)
        if queued:
            self.wake_delivery()
        due = self.escalations.next_due_at()
        return max(0.05, min(5.0, (due - self.clock()) if due is not None else 5.0))

    def handoffs(self, now: float) -> int:
        """Each schedule's handoffs since the last look, each announced exactly once."""
        posted = 0
        moment = datetime.fromtimestamp(now, UTC)
        for name, schedule in self.oncall.schedules.items():
            if schedule.channel is None:
                continue
            slot_name = f"handoff:{name}"
            last = self.store.last_slot(slot_name)
            if last is None:  # first start: a baseline, no notice for the past
                self.store.claim_slot(slot_name, now, [], now, post=False)
                continue
            since = datetime.fromtimestamp(max(last, now - HANDOFF_CATCH_UP), UTC)
            overrides = self.escalations.store_overrides(name, now)
            for shift in schedule.handoffs(since, moment, overrides):
                start = shift.start.timestamp()
                notice = handoff_notice(name, shift.user, start, shift.end.timestamp())
                planned = [Planned(slot_name, schedule.channel, "post", notice)]
                if self.store.claim_slot(slot_name, start, planned, now) is not None:
                    posted += 1
        return posted

    # -- Slack ---------------------------------------------------------------------------

    def slack_routes(self) -> list[Any]:
        """The Slack endpoints, when ``SLACK_SIGNING_SECRET`` is set (else none: no actions)."""
        secret = os.environ.get("SLACK_SIGNING_SECRET")
        if not secret:
            log.warning(
                "SLACK_SIGNING_SECRET is not set: escalation messages carry no buttons and "
                "/ops commands are off (ops escalation ack|resolve still work); set it to the "
                "Slack app's Signing Secret to turn them on"
            )
            return []
        refuse_placeholder("SLACK_SIGNING_SECRET", secret)
        from ops_toolkit.serve.slack import SlackEndpoints, routes

        endpoints = SlackEndpoints(
            secret,
            self.escalations,
            self.config,
            wake=lambda: self.wake(),
            runbooks=self.runbook_paths,
            clock=self.clock,
        )
        return routes(endpoints)
