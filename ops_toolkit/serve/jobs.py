"""The jobs behind Slack buttons that talk to other systems: silences and diagnose runs.

A button press only records a job (so Slack gets its answer within 3 seconds); this loop
claims each due job for a lease, does it, and records the outcome with its messages in one
transaction. A silence job looks for the silence it may already have created (a crash
after Alertmanager answered but before the commit) by the job's id in the comment, so a
retry never creates a second silence.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ops_toolkit.errors import OpsError
from ops_toolkit.notify.model import Planned
from ops_toolkit.serve.escalations import Escalation, Escalations

log = logging.getLogger("ops.serve")


class JobRunner:
    def __init__(
        self,
        escalations: Escalations,
        *,
        alertmanager: Any = None,  # AlertmanagerClient, when ops.yaml names one
        diagnose: Callable[[str, dict[str, str]], dict[str, Any]] | None = None,
        on_output: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.escalations = escalations
        self.alertmanager = alertmanager
        self.diagnose = diagnose
        self.on_output = on_output
        self.clock = clock

    def run_once(self) -> int:
        """Do every due job; how many were done."""
        done = 0
        for job_id, escalation_id, kind, payload, attempts in self.escalations.due_jobs(
            self.clock()
        ):
            if not self.escalations.claim_job(job_id, attempts, self.clock()):
                continue  # another runner has it
            if escalation_id is None:
                self._runbook(job_id, payload)
                done += 1
                continue
            escalation = self.escalations.by_id(escalation_id)
            if escalation is None:  # cannot happen while rows are never deleted; do not spin
                self.escalations.finish_job_alone(job_id, [], self.clock())
                continue
            try:
                self._do(job_id, kind, payload, escalation)
            except OpsError as error:
                log.warning("job %d (%s) failed: %s", job_id, kind, error)
                self.escalations.fail_job(job_id, str(error), attempts, self.clock())
                if attempts + 1 >= 5:
                    self._tell(job_id, escalation, f":warning: {kind} failed: {error}")
                continue
            done += 1
        if done:
            self.on_output()
        return done

    def _do(self, job_id: int, kind: str, payload: dict[str, Any], escalation: Escalation) -> None:
        now = self.clock()
        if kind in ("silence", "unsilence") and self.alertmanager is None:
            raise OpsError("no Alertmanager configured ('alertmanager: URL' in ops.yaml)")
        if kind == "silence":
            from ops_toolkit.metrics.alertmanager import silence_body

            comment = (
                f"{payload['label']} from Slack (ops job {job_id}, escalation {escalation.ref})"
            )
            silence_id = self._existing(comment)
            end = now + float(payload["seconds"])
            if silence_id is None:
                silence_id = self.alertmanager.create_silence(
                    silence_body(escalation.labels, now, end, str(payload["by"]), comment)
                )
            line = f"{payload['label']} by {_who(str(payload['by']))} (silence {silence_id})"
            self.escalations.finish_job(
                job_id, escalation, line=line, silence=(silence_id, end), now=now
            )
        elif kind == "unsilence":
            self.alertmanager.expire_silence(str(payload["silence_id"]))
            line = f"Unsilenced by {_who(str(payload['by']))}"
            self.escalations.finish_job(
                job_id, escalation, line=line, silence=(None, None), now=now
            )
        elif kind == "diagnose":
            path = escalation.runbook_path
            if self.diagnose is None or path is None:
                message = {"text": ":mag: No runbook with diagnose steps is known for this alert."}
            else:
                message = self.diagnose(path, escalation.labels)
            self.escalations.finish_job(
                job_id,
                escalation,
                line="diagnose finished",
                extra=[Planned(escalation.group_key, escalation.channel, "reply", message)],
                now=now,
            )
        else:
            raise OpsError(f"unknown job kind {kind!r}")

    def _runbook(self, job_id: int, payload: dict[str, Any]) -> None:
        """``/ops runbook NAME``: its diagnose steps, results in the channel it was typed in."""
        if self.diagnose is None:
            message = {"text": ":mag: Diagnose runs are not available on this server."}
        else:
            message = self.diagnose(str(payload["path"]), {})
        channel = str(payload["channel"])
        self.escalations.finish_job_alone(
            job_id, [Planned(f"runbook:{job_id}", channel, "post", message)], self.clock()
        )

    def _existing(self, comment: str) -> str | None:
        try:
            silences = self.alertmanager.silences()
        except OpsError:
            return None
        for silence in silences:
            state = (silence.get("status") or {}).get("state")
            if silence.get("comment") == comment and state in ("active", "pending"):
                return str(silence["id"])
        return None

    def _tell(self, job_id: int, escalation: Escalation, text: str) -> None:
        self.escalations.finish_job(
            job_id,
            escalation,
            line=text,
            extra=[Planned(escalation.group_key, escalation.channel, "reply", {"text": text})],
            now=self.clock(),
        )


def _who(user: str) -> str:
    return user[4:] if user.startswith("cli:") else f"<@{user}>"
