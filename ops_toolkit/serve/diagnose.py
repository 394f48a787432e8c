"""Alerts run their runbook's safe steps: the diagnose steps, unattended, results in the thread.

Opt-in (``auto_diagnose: true`` in ops.yaml). Params come from the alert's labels through
each param's ``from_label`` and are validated against their patterns like any other value;
they reach the steps only as environment variables. Unattended runs never run a step marked
``confirm`` (it stays ``needs_confirmation``) nor a ``manual`` one, nor a failed step's
``on_failure`` handler that is not tagged diagnose itself, so only read-only diagnose steps
execute.

The steps get the unattended environment model (runbook/environment.py): an allow-list
plus the runbook's ``env:`` and ``secrets:`` names, never the server's Slack or webhook
token, whose values are masked in the reply all the same. Whatever goes wrong, the alert's
thread gets a reply saying so: a diagnose run never ends in silence.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ops_toolkit.alerts.webhook import Notification
from ops_toolkit.errors import OpsError
from ops_toolkit.metrics.model import MetricsSource
from ops_toolkit.notify.message import code_block, escape, truncate
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
    name: str, document: dict[str, Any] | None, error: str | None
) -> dict[str, Any]:
    """The thread reply: each diagnose step's status and the first lines of its output."""
    if document is None:
        text = f":mag: Could not run the diagnose steps of `{escape(name)}`: {escape(error or '', lines=True)}"
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
    header = f":mag: Diagnose steps of `{escape(name)}` ran unattended (run `{document['run_id']}`): {document['status']}"
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
            text += f"\n{code_block(truncate(shown, 2500))}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, 3000)}})
    return {"text": truncate(header, 3000), "blocks": blocks[:50]}


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
        credentials: Mapping[str, str] | None = None,
        withheld: Sequence[str] = (),
    ) -> None:
        """``credentials``: ops's secrets, masked in every reply; ``withheld``: the variables
        holding them, never given to a step (even one the runbook names)."""
        self.store = store
        self.state_dir = state_dir
        self.runbooks = runbooks
        self.metrics = metrics
        self.on_output = on_output
        self.tag = tag
        self.credentials = dict(credentials or {})
        # Variables ops's configuration reads credentials from (``serve.service.
        # credential_variables``: the metrics source's and the on-call file's), set once.
        self.credential_variables: frozenset[str] = frozenset(withheld)
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="diagnose")

    def submit(self, notification: Notification, channels: Sequence[str]) -> None:
        path = self.runbooks.get(notification.alert_name)
        if notification.status != "firing" or path is None or not channels:
            return
        self.pool.submit(self._run, notification, path, list(channels))

    def _run(self, notification: Notification, path: str, channels: list[str]) -> None:
        message = self.message_for(path, dict(notification.labels()), notification.alert_name)
        try:
            self.store.enqueue(
                [Planned(notification.group_key, c, "reply", message) for c in channels],
                time.time(),
            )
        except Exception:  # on a worker thread: say it in the log, or nobody hears of it
            log.exception("cannot queue the diagnose reply for %s", notification.alert_name)
            return
        self.on_output()

    def message_for(
        self, path: str, labels: dict[str, str], what: str | None = None
    ) -> dict[str, Any]:
        """Run ``path``'s diagnose steps unattended with params from ``labels``; the reply,
        every credential masked. Also what the Run diagnose button and /ops runbook post."""
        from ops_toolkit.masking import Masker
        from ops_toolkit.runbook.environment import ops_credentials

        what = what or path
        credentials = {
            **ops_credentials(os.environ, self.credential_variables),
            **self.credentials,
        }
        mask = Masker(credentials.values())
        document, error, name = None, None, os.path.basename(path).removesuffix(".md")
        try:
            document = self._diagnose(labels, path, credentials)
        except OpsError as exc:  # e.g. a label value failing its param's pattern
            error = str(exc)
        except Exception as exc:  # a bug must not leave the alert's thread silent
            trace = "".join(traceback.format_exception(exc))
            log.error("diagnose run for %s broke:\n%s", what, mask(trace))
            error = f"unexpected error: {type(exc).__name__}: {exc}"
        if error is not None:
            error = mask(error)
            log.warning("cannot diagnose %s: %s", what, error)
        return summary_message(name, document, error)

    def _diagnose(
        self, labels: dict[str, str], path: str, credentials: Mapping[str, str]
    ) -> dict[str, Any]:
        """One unattended run of the runbook's diagnose steps; its ``--json`` document."""
        from ops_toolkit.runbook.audit import AuditLog
        from ops_toolkit.runbook.environment import unattended_environment
        from ops_toolkit.runbook.execute import RunOptions, World, run_document, start_run
        from ops_toolkit.runbook.guard import forbid_inspection
        from ops_toolkit.runbook.parse import read_runbook
        from ops_toolkit.runbook.state import StateStore

        runbook = read_runbook(path)
        forbid_inspection()  # a step chosen by an alert must not read the server's tokens
        world = World(
            ui=QuietUI(),
            store=StateStore(self.state_dir),
            audit=AuditLog(os.path.join(self.state_dir, "audit.jsonl")),
            env=unattended_environment(os.environ, runbook, self.credential_variables),
            credentials=credentials,
            credential_variables=self.credential_variables,
            metrics=self.metrics,
            user="ops-serve",
            host=socket.gethostname(),
        )
        options = RunOptions(
            params=params_from_labels(runbook, labels),
            tags=(self.tag,),
            keep_going=True,
        )
        return run_document(start_run(runbook, options, world))

    def stop(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
