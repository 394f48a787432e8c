"""Alerts run their runbook's safe steps: the diagnose steps, unattended, results in the thread.

Opt-in (``auto_diagnose: true`` in ops.yaml). Params come from the alert's labels through
each param's ``from_label`` and are validated against their patterns like any other value;
they reach the steps only as environment variables. Unattended runs never run a step marked
``confirm`` (it stays ``needs_confirmation``) nor a ``manual`` one, so only read-only
diagnose steps execute.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ops_toolkit.alerts.webhook import Notification
from ops_toolkit.errors import OpsError
from ops_toolkit.metrics.model import MetricsSource
from ops_toolkit.notify.message import escape, truncate
from ops_toolkit.notify.model import Planned
from ops_toolkit.runbook.model import Param, Runbook, Step
from ops_toolkit.serve.store import Store

log = logging.getLogger("ops.serve")
OUTPUT_LINES = 6


class QuietUI:
    """An operator who is not there: no prompts, output kept only in the run state."""

    interactive = False

    def step_started(self, step: Step, attempt: int, attempts: int) -> None: ...

    def step_output(self, step: Step, text: str) -> None: ...

    def step_finished(self, step: Step, status: str, message: str, duration: float) -> None: ...

    def confirm(self, step: Step, question: str) -> bool:
        return False

    def manual(self, step: Step, instructions: str) -> bool:
        return False

    def ask_param(self, param: Param) -> str:
        raise OpsError(f"param {param.name} has no value")

    def note(self, message: str) -> None: ...


def params_from_labels(runbook: Runbook, labels: dict[str, str]) -> dict[str, str]:
    return {
        p.name: labels[p.from_label]
        for p in runbook.params
        if p.from_label and p.from_label in labels
    }


def summary_message(
    runbook: Runbook, document: dict[str, Any] | None, error: str | None
) -> dict[str, Any]:
    """The thread reply: each diagnose step's status and the first lines of its output."""
    if document is None:
        text = f":mag: Could not run the diagnose steps of `{escape(runbook.name)}`: {escape(error or '')}"
        return {
            "text": truncate(text, 3000),
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, 3000)}}
            ],
        }
    icons = {
        "succeeded": ":white_check_mark:",
        "failed": ":x:",
        "timed_out": ":hourglass:",
        "skipped": ":fast_forward:",
        "needs_confirmation": ":raised_hand:",
        "pending_manual": ":bust_in_silhouette:",
    }
    header = f":mag: Diagnose steps of `{escape(runbook.name)}` ran unattended (run `{document['run_id']}`): {document['status']}"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": truncate(header, 3000)}}
    ]
    for step in document["steps"][:20]:
        lines = step["output"].strip().splitlines()
        shown = "\n".join(lines[:OUTPUT_LINES]) + (
            f"\n… {len(lines) - OUTPUT_LINES} more lines" if len(lines) > OUTPUT_LINES else ""
        )
        text = f"{icons.get(step['status'], '')} *{escape(step['name'])}* {step['status']}"
        if step["message"]:
            text += f": {escape(step['message'])}"
        if shown:
            text += f"\n```{escape(truncate(shown, 2500))}```"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, 3000)}})
    return {"text": truncate(header, 3000), "blocks": blocks[:50]}


def run_diagnose(
    path: str,
    labels: dict[str, str],
    state_dir: str,
    metrics: Callable[[], MetricsSource],
    tag: str = "diagnose",
) -> dict[str, Any]:
    """Run a runbook's ``tag`` steps unattended (never ``confirm`` or ``manual`` ones) with
    params from ``labels``; the thread reply with each step's status and output."""
    from ops_toolkit.runbook.audit import AuditLog
    from ops_toolkit.runbook.execute import RunOptions, World, run_document, start_run
    from ops_toolkit.runbook.parse import read_runbook
    from ops_toolkit.runbook.state import StateStore

    try:
        runbook = read_runbook(path)
    except OpsError as exc:
        log.warning("cannot diagnose with %s: %s", path, exc)
        text = f":mag: Could not read the runbook `{escape(path)}`: {escape(str(exc))}"
        return {"text": truncate(text, 3000)}
    document, error = None, None
    world = World(
        ui=QuietUI(),
        store=StateStore(state_dir),
        audit=AuditLog(os.path.join(state_dir, "audit.jsonl")),
        metrics=metrics,
        user="ops-serve",
        host=socket.gethostname(),
    )
    options = RunOptions(params=params_from_labels(runbook, labels), tags=(tag,), keep_going=True)
    try:
        document = run_document(start_run(runbook, options, world))
    except OpsError as exc:  # e.g. a label value failing its param's pattern
        error = str(exc)
    return summary_message(runbook, document, error)


class Diagnoser:
    """Runs diagnose steps on one background thread and replies in the alert's thread."""

    def __init__(
        self,
        store: Store,
        state_dir: str,
        runbooks: dict[str, str],
        metrics: Callable[[], MetricsSource],
        on_output: Callable[[], None],
        tag: str = "diagnose",
    ) -> None:
        self.store = store
        self.state_dir = state_dir
        self.runbooks = runbooks
        self.metrics = metrics
        self.on_output = on_output
        self.tag = tag
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="diagnose")

    def submit(self, notification: Notification, channels: Sequence[str]) -> None:
        path = self.runbooks.get(notification.alert_name)
        if notification.status != "firing" or path is None or not channels:
            return
        self.pool.submit(self._run, notification, path, list(channels))

    def _run(self, notification: Notification, path: str, channels: list[str]) -> None:
        message = run_diagnose(
            path, dict(notification.labels()), self.state_dir, self.metrics, self.tag
        )
        self.store.enqueue(
            [Planned(notification.group_key, c, "reply", message) for c in channels], time.time()
        )
        self.on_output()

    def stop(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
