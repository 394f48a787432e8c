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

Whoever can send an alert chooses its labels, so a label that gives a param an address (a
URL, ``//host``, ``host:port``, an IP: ``network_location``) could make a step fetch any
address the server reaches (SSRF). Such an address must be one the operator listed in
``serve.diagnose_allowed_urls`` (or under one), like a Rundeck option's allowed values;
otherwise the run does not start and the thread says why (``label_url_refusal``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import re
import socket
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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
KEEP_RUNS = 200  # unattended run records kept in <serve.state>.runs/runs, the newest


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


def url_allowed(value: str, allowed: str) -> bool:
    """Whether ``value`` is the URL ``allowed`` (kept without its trailing /) or under it:
    a path below, never another host whose name merely starts the same way."""
    return value == allowed or value.startswith(f"{allowed}/")


# A scheme and a slash: 'http://', and the 'http:/' and 'file:/' that curl takes as well.
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:/")
# host:port (a name, an IPv4 or a bracketed IPv6 address, then a port), before any path
_HOST_PORT = re.compile(r"^(\[[^\]/]*\]|[^\s/:@\[\]]+):[0-9]+$")


def network_location(value: str) -> str | None:
    """What makes a label ``value`` an address a step could fetch (``curl "$URL"`` takes a
    value without a scheme as http://): ``URL``, ``scheme-relative URL`` (``//host/x``),
    ``host:port`` (``localhost:9090``, ``svc.ns.svc:8080/admin``) or ``IP address``
    (``10.0.0.7``, ``[::1]``, ``0x7f.0.0.1``); None for a plain value (``search-api``,
    ``5xx``, ``docs/availability``, ``0.99``), which a param's ``pattern`` governs.

    A bare DNS name is not told from a plain value (``search-api`` is both), and a number
    with fewer than three dots stays plain though curl reads ``127.1`` as an address: a
    quantile of ``0.99`` or a count of ``3`` must still reach the steps."""
    text = value.strip()
    if _SCHEME.match(text):
        return "URL"
    if text.startswith("//"):
        return "scheme-relative URL"
    host = re.split(r"[/?#]", text, maxsplit=1)[0].rpartition("@")[2]  # without user@
    if _HOST_PORT.match(host):
        return "host:port"
    if _is_ip_address(host.removeprefix("[").removesuffix("]")):
        return "IP address"
    return None


def _is_ip_address(host: str) -> bool:
    """An IPv4 or IPv6 address, also a dotted quad in hex or octal (``0x7f.0.0.1``), which
    ipaddress refuses but curl and inet_aton take for 127.0.0.1."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host.count(".") != 3:
            return False
        try:
            socket.inet_aton(host)
        except OSError:
            return False
    return True


def location_allowed(value: str, allowed: str) -> bool:
    """Whether the network location ``value`` is the ``allowed`` URL or under it. A value
    without a scheme (``host:port/path``, ``//host/path``) is compared with the URL after
    its scheme: it names the same host, port and path."""
    if _SCHEME.match(value.strip()):
        return url_allowed(value, allowed)
    return url_allowed(value.strip().removeprefix("//"), allowed.partition("://")[2])


def label_url_refusal(
    runbook: Runbook, labels: Mapping[str, str], allowed: Sequence[str]
) -> str | None:
    """Why an unattended run may not start: a param given a network location (a URL, a
    ``//host``, a ``host:port`` or an IP address: ``network_location``) by an alert label,
    not in ``serve.diagnose_allowed_urls`` or under one; None when there is none. Before,
    only a value with ``://`` was checked, so ``localhost:9090`` reached ``curl "$URL"``.
    A param's default is the runbook author's choice, not the sender's, and is not checked."""
    for param in runbook.params:
        if not param.from_label or param.from_label not in labels:
            continue
        value = labels[param.from_label]
        kind = network_location(value)
        if kind is None or any(location_allowed(value, url) for url in allowed):
            continue
        what = f"the URL {value!r}" if kind == "URL" else f"the address {value!r} ({kind})"
        return (
            f"param {param.name}: label {param.from_label} gives {what}, "
            "which serve.diagnose_allowed_urls in ops.yaml does not list"
        )
    return None


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


def skipped_message(name: str, reason: str) -> dict[str, Any]:
    """The thread reply for a diagnose run that was not run, and why."""
    text = f":mag: Diagnose steps of `{escape(name)}` not run: {escape(reason)}"
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def prune_runs(directory: str, keep: int) -> int:
    """Remove all but the ``keep`` newest run records (by modification time) of a state
    folder's ``runs/``, with their journals; how many were removed.

    A run still going saves its record at each step, so it is among the newest. Each
    unattended run leaves a record: without this an alert storm filled the disk.
    """
    runs = os.path.join(directory, "runs")
    try:
        names = [n for n in os.listdir(runs) if n.endswith(".json") and not n.startswith(".")]
    except FileNotFoundError:
        return 0
    dated = []
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            dated.append((os.stat(os.path.join(runs, name)).st_mtime, name))
    dated.sort(reverse=True)
    removed = 0
    for _, name in dated[keep:]:
        with contextlib.suppress(FileNotFoundError):  # a run's journal (.jsonl), if left
            os.unlink(os.path.join(runs, f"{name.removesuffix('.json')}.jsonl"))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(runs, name))
            removed += 1
    return removed


@dataclass
class _Waiting:
    """A run waiting its turn, and every alert group that asked for it (coalesced)."""

    path: str
    labels: dict[str, str]
    name: str  # the alert's, for the log
    replies: list[tuple[str, list[str]]]  # (group key, channels)


class Diagnoser:
    """Runs diagnose steps on one background thread and replies in the alert's thread.

    Runs wait their turn in a bounded queue (``limit``, ``serve.diagnose_queue``): an alert
    storm once queued a run per group, answered an hour late, and lost them all on stop. A
    group whose runbook and labels match a run still waiting joins it (one run, a reply in
    each thread); over the bound the thread is told the run was skipped, and why; on stop,
    each run still waiting replies "not run: ops serve stopped" (the outbox keeps the reply
    for the next start). Only the newest ``keep_runs`` run records are kept.
    """

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
        limit: int = 20,
        keep_runs: int = KEEP_RUNS,
        allowed_urls: Sequence[str] = (),
    ) -> None:
        """``credentials``: ops's secrets, masked in every reply; ``withheld``: the variables
        holding them, never given to a step (even one the runbook names); ``allowed_urls``:
        ``serve.diagnose_allowed_urls``, the URLs an alert label may give a param."""
        self.allowed_urls = tuple(allowed_urls)
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
        self.limit = limit
        self.keep_runs = keep_runs
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="diagnose")
        self._lock = threading.Lock()
        self._waiting: dict[tuple[str, frozenset[tuple[str, str]]], _Waiting] = {}
        self._stopped = False

    def submit(self, notification: Notification, channels: Sequence[str]) -> None:
        path = self.runbooks.get(notification.alert_name)
        if notification.status != "firing" or path is None or not channels:
            return
        labels = dict(notification.labels())
        key = (path, frozenset(labels.items()))
        asking = (notification.group_key, list(channels))
        with self._lock:
            waiting = self._waiting.get(key)
            if waiting is not None and not self._stopped:
                waiting.replies.append(asking)  # the run waiting answers this group too
                return
            if self._stopped:
                reason = "ops serve stopped"
            elif len(self._waiting) >= self.limit:
                reason = (
                    f"{len(self._waiting)} diagnose runs were already waiting "
                    "(serve.diagnose_queue in ops.yaml)"
                )
            else:
                self._waiting[key] = _Waiting(path, labels, notification.alert_name, [asking])
                self.pool.submit(self._run, key)
                log.info(
                    "diagnose run for %s queued (%d waiting)",
                    notification.alert_name,
                    len(self._waiting),
                )
                return
        log.warning("diagnose run for %s not run: %s", notification.alert_name, reason)
        self._reply(path, notification.alert_name, [asking], skipped_message(_name(path), reason))

    def _run(self, key: tuple[str, frozenset[tuple[str, str]]]) -> None:
        with self._lock:
            waiting = self._waiting.pop(key, None)
        if waiting is None:  # stop() answered it
            return
        message = self.message_for(waiting.path, waiting.labels, waiting.name)
        self._reply(waiting.path, waiting.name, waiting.replies, message)

    def _reply(
        self,
        path: str,
        what: str,
        replies: Sequence[tuple[str, Sequence[str]]],
        message: dict[str, Any],
    ) -> None:
        planned = [
            Planned(group, c, "reply", message) for group, channels in replies for c in channels
        ]
        try:
            self.store.enqueue(planned, time.time())
        except Exception:  # on a worker thread: say it in the log, or nobody hears of it
            log.exception("cannot queue the diagnose reply for %s", what)
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
        document, error, name = None, None, _name(path)
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
        try:  # every run here (alert, button, /ops runbook) leaves a record: keep a few
            prune_runs(self.state_dir, self.keep_runs)
        except OSError as exc:
            log.warning("cannot prune old diagnose runs in %s: %s", self.state_dir, exc)
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
        refusal = label_url_refusal(runbook, labels, self.allowed_urls)
        if refusal is not None:  # before anything runs: no step, no run; one audit line
            self._audit_refusal(path, refusal, credentials)
            raise OpsError(refusal)
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

    def _audit_refusal(self, path: str, reason: str, credentials: Mapping[str, str]) -> None:
        """A run refused for what an alert's labels gave (a request refused, as a 4xx is)
        leaves its line in the audit trail beside the runs, masked like them: who sent
        what is found there too, not only in the thread."""
        from ops_toolkit.masking import Masker
        from ops_toolkit.runbook.audit import AuditLog

        os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
        AuditLog(os.path.join(self.state_dir, "audit.jsonl")).append(
            {
                "event": "run_refused",
                "status": "refused",
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "runbook": path,
                "user": "ops-serve",
                "host": socket.gethostname(),
                "reason": Masker(credentials.values())(reason),
            }
        )

    def stop(self) -> None:
        """Answer each run still waiting ("not run: ops serve stopped"), then let the one
        under way finish (its steps have their timeouts)."""
        with self._lock:
            self._stopped = True
            dropped = list(self._waiting.values())
            self._waiting.clear()
        if dropped:
            log.warning("ops serve stopped: %d diagnose runs waiting were not run", len(dropped))
        for waiting in dropped:
            message = skipped_message(_name(waiting.path), "ops serve stopped")
            self._reply(waiting.path, waiting.name, waiting.replies, message)
        self.pool.shutdown(wait=True, cancel_futures=True)


def _name(path: str) -> str:
    return os.path.basename(path).removesuffix(".md")
