"""The one exception tree of ops-toolkit.

Every error a user can cause is an ``OpsError`` whose message starts with the place
(``file:line``, ``file: yaml.path`` or the HTTP route), so the CLI can print it as is::

    OpsError
    ├── ConfigError      a file the user wrote is wrong (SLOs, routes, ops.yaml)
    │   └── SelectorError  a PromQL series selector is malformed (column and reason)
    ├── RunbookError     a runbook cannot be parsed or linted clean
    │   ├── StepFailed   a step ran and failed (command, exit code, output)
    │   └── ReleasedEarly  a step's shell left ops's gate before its turn: it may have run
    ├── MetricsError     Prometheus unreachable, slow, or rejected a query
    ├── NotifyError      Slack rejected or could not take a message
    ├── PayloadError     a webhook body is not a valid payload (an HTTP 400)
    ├── StoreError       ops serve's store is unavailable, or its schema is newer than ops
    │   ├── StoreConflict  a write lost to a concurrent one (deadlock, serialization): retry
    │   └── StoreBusy      another writer held the lock past the busy timeout: retry later
    └── SignatureError   a request is not signed by Slack, is stale or a replay (HTTP 401)

Anything else escaping to the user is a bug.
"""

from __future__ import annotations

from typing import Self


class OpsError(Exception):
    """Base of every error ops-toolkit raises on purpose.

    ``source`` and ``line`` keep the place apart from the text, for tools (lint --json).
    """

    source: str | None = None
    line: int | None = None
    detail: str = ""

    @classmethod
    def at(cls, source: str, line: int | None, detail: str) -> Self:
        error = cls(at(source, line, detail))
        error.source, error.line, error.detail = source, line, detail
        return error


class ConfigError(OpsError):
    """A configuration file (SLOs, routes, ops.yaml) is invalid."""


class SelectorError(ConfigError):
    """A PromQL series selector is malformed. Its reader is pure and does not know the file:
    ``column`` (1-based, in characters of ``text``) and ``reason`` let each caller name the
    place in its own terms (``f.yaml: slos[0].sli.ratio.bad: column 9 of '...': ...``)."""

    def __init__(self, text: str, column: int, reason: str) -> None:
        super().__init__(f"column {column} of {text!r}: {reason}")
        self.text, self.column, self.reason = text, column, reason


class RunbookError(OpsError):
    """A runbook cannot be found, parsed, linted clean or run."""


class StepFailed(RunbookError):
    """A runbook step ran and failed."""

    def __init__(self, message: str, *, step: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.step = step
        self.exit_code = exit_code


class ReleasedEarly(RunbookError):
    """A step's shell, started held at ops's gate (``runbook.kinds.GATE``), was let go by
    another process (any process of the same user can write to its stdin pipe) or ended
    before ops let it go: it may have run before ops recorded that it would. ``output`` is
    what it printed meanwhile, as far as ops could read it."""

    def __init__(self, message: str, *, output: str = "") -> None:
        super().__init__(message)
        self.output = output


class MetricsError(OpsError):
    """Prometheus could not answer a query."""


class NotifyError(OpsError):
    """A chat message could not be delivered.

    ``retry_after`` is the wait the chat service asked for (HTTP 429); ``permanent`` means
    retrying cannot help (unknown channel, bad token).
    """

    def __init__(
        self, message: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.permanent = permanent


class PayloadError(OpsError):
    """A request body is not a valid payload; the message names the field path."""


def at(source: str, line: int | None, message: str) -> str:
    """Format ``message`` with its place first, the one shape of every error message."""
    return f"{source}:{line}: {message}" if line is not None else f"{source}: {message}"


class StoreError(OpsError):
    """The store (SQLite file or PostgreSQL database) cannot be used now, or its schema is
    newer than this ops knows. The message starts with the store's URL, password redacted."""


class StoreConflict(StoreError):
    """A transaction lost to a concurrent one (PostgreSQL deadlock 40P01, serialization
    failure 40001) and was rolled back: the database is there, so the work is retried at
    once, without the back-off of an outage."""


class StoreBusy(StoreError):
    """A lock stayed with another connection past the busy timeout (``store.busy_timeout``):
    SQLite's write lock (another process on the file: a CLI command, a backup), or on
    PostgreSQL a row or table a write needs (``lock_timeout``, SQLSTATE 55P03). Contention, not
    an outage: the store works, so /healthz keeps the replica, intake answers 503 with
    Retry-After, and the loops wait a little and try again; nothing counts as a failed
    attempt. Not a ``StoreConflict``: trying again at once would wait out the timeout again
    while webhooks wait."""


class SignatureError(OpsError):
    """A request's signature is missing, wrong, stale or replayed; nothing is done (a 401)."""
