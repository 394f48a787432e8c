"""``POST /slack/interactions`` and ``POST /slack/commands``: verified, recorded, answered.

Each request is checked against ``SLACK_SIGNING_SECRET`` (a bad or stale signature is a
401, and so is a replay of one already accepted: nothing happens), then turned into a store
transaction (an action on an escalation, a job) and answered at once; messages and
Alertmanager calls follow from the outbox and the job loop. So Slack always has its answer
well within its 3 seconds.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ops_toolkit.config import OpsConfig
from ops_toolkit.errors import PayloadError, SignatureError, StoreError
from ops_toolkit.escalate.interact import (
    COMMANDS,
    INTERACTIONS,
    parse_command,
    parse_interaction,
    verify,
)
from ops_toolkit.notify.message import escape
from ops_toolkit.notify.model import Planned
from ops_toolkit.serve.escalations import Escalations

Answer = tuple[int, dict[str, Any]]


def ephemeral(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "replace_original": False, "text": text}


@dataclass
class SlackEndpoints:
    secret: str
    escalations: Escalations
    config: OpsConfig
    wake: Callable[[], None] = lambda: None
    runbooks: Mapping[str, str] = field(default_factory=dict)  # runbook name -> path
    clock: Callable[[], float] = time.time

    def _verified(self, headers: Mapping[str, str], body: bytes, place: str) -> None:
        now = self.clock()
        signature = verify(self.secret, headers, body, now, place)
        if not self.escalations.first_time(signature, now):
            raise SignatureError(f"{place}: replayed request (this signature was already used)")

    def interaction(self, headers: Mapping[str, str], body: bytes) -> Answer:
        try:
            self._verified(headers, body, INTERACTIONS)
        except SignatureError as error:
            return 401, {"ok": False, "error": str(error)}
        try:
            pressed = parse_interaction(body)
        except PayloadError as error:
            return 400, {"ok": False, "error": str(error)}
        outcome = self.escalations.act(
            pressed.ref,
            pressed.action,
            actor=f"slack:{pressed.user_id}",
            user=pressed.user_id,
            allowed=self.config.may,
        )
        if not outcome.done and pressed.response_url:
            self._respond(pressed.response_url, outcome.text)
        self.wake()
        return 200, {}

    def _respond(self, url: str, text: str) -> None:
        """An ephemeral note to the person who pressed (refused, nothing to do), via outbox."""
        self.escalations.store.enqueue(
            [
                Planned(
                    f"respond:{url}", "slack-response", "respond", {"url": url, **ephemeral(text)}
                )
            ],
            self.clock(),
        )

    def command(self, headers: Mapping[str, str], body: bytes) -> Answer:
        try:
            self._verified(headers, body, COMMANDS)
        except SignatureError as error:
            return 401, {"ok": False, "error": str(error)}
        try:
            command = parse_command(body)
        except PayloadError as error:
            # Slack shows the answer (mrkdwn) to the person who typed; it quotes what they typed.
            return 200, ephemeral(escape(str(error)))
        if command.name == "oncall":
            return 200, ephemeral(self._who(command.argument))
        if command.name == "ack":
            assert command.argument is not None
            outcome = self.escalations.act(
                command.argument,
                "ack",
                actor=f"slack:{command.user_id}",
                user=command.user_id,
                allowed=self.config.may,
            )
            self.wake()
            return 200, ephemeral(outcome.text)
        return 200, ephemeral(
            self._runbook(command.argument or "", command.user_id, command.channel_id)
        )

    def _who(self, schedule: str | None) -> str:
        oncall = self.escalations.oncall
        names = sorted(oncall.schedules)
        if schedule is not None:
            if schedule not in oncall.schedules:
                return f"No schedule named {escape(repr(schedule))}. Schedules: {', '.join(names) or 'none'}"
            names = [schedule]
        now = self.clock()
        moment = datetime.fromtimestamp(now, UTC)
        lines = []
        for name in names:
            user = oncall.schedules[name].who(moment, self.escalations.store_overrides(name, now))
            shown = (f"<@{user}>" if "@" not in user else user) if user else "nobody"
            lines.append(f"*{name}*: {shown}")
        return "\n".join(lines) or "No on-call schedules (alerts/oncall.yaml)."

    def _runbook(self, name: str, user: str, channel_id: str | None) -> str:
        if not self.config.may("runbook", user, set()):
            return "You are not allowed to run runbooks here."
        if name not in self.runbooks:
            from ops_toolkit.suggest import did_you_mean

            hint = did_you_mean(name, list(self.runbooks))
            return f"No runbook named {escape(repr(name))}{hint}."
        if channel_id is None:
            return "Run it from a channel: the results are posted there."
        self.escalations.add_job(
            "runbook",
            {"path": self.runbooks[name], "name": name, "channel": channel_id, "by": user},
            self.clock(),
        )
        self.wake()
        return f"Running the diagnose steps of {name}; the results follow in this channel."


BODY_LIMIT = 64 * 1024  # Slack's requests are a few KiB; nothing is signed before it is read


def routes(endpoints: SlackEndpoints) -> list[Any]:
    """The Starlette routes. The body is read before it can be verified (the signature
    covers it), so it is read bounded: a declared length over ``BODY_LIMIT`` is refused
    before a byte is read, a longer chunked body as soon as it passes the limit (413), and
    a body not in within ``serve.read_timeout`` is a 408, as for ``/alertmanager``."""
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from ops_toolkit.serve.body import TooSlow, read_body

    timeout = endpoints.config.serve.read_timeout

    def store_failed(place: str, error: Exception) -> Response:
        """Nothing was done (the replay check itself needs the store): a 503 that says
        only busy or unavailable, as the request is not verified yet; the reason, which
        names the store, in one log line. Was: a 500 and a traceback in the log."""
        from ops_toolkit.serve.metrics import store_failure, store_state

        state = store_state(error)
        logging.getLogger("ops.serve").warning("%s: %s: %s", place, state, store_failure(error))
        return JSONResponse(
            {"ok": False, "error": f"{place}: {state}; retry later"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    def handler(method: Callable[[Mapping[str, str], bytes], Answer], place: str) -> Any:
        async def endpoint(request: Request) -> Response:
            body = await read_body(request, limit=BODY_LIMIT, timeout=timeout)
            if isinstance(body, TooSlow):
                return JSONResponse({"ok": False, "error": body.reason(place)}, status_code=408)
            if not isinstance(body, bytes):
                refused = body.reason(place, BODY_LIMIT)
                return JSONResponse({"ok": False, "error": refused}, status_code=413)
            headers = {k.lower(): v for k, v in request.headers.items()}
            # SQLite transactions may wait for the intake writer: off the event loop.
            try:
                status, answer = await run_in_threadpool(method, headers, body)
            except (StoreError, sqlite3.Error) as error:
                return store_failed(place, error)
            if status == 200 and not answer:
                return Response(status_code=200)
            return JSONResponse(answer, status_code=status)

        return endpoint

    return [
        Route(
            "/slack/interactions", handler(endpoints.interaction, INTERACTIONS), methods=["POST"]
        ),
        Route("/slack/commands", handler(endpoints.command, COMMANDS), methods=["POST"]),
    ]
