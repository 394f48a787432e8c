"""The audit trail: append-only JSON Lines, each line written and synced to disk at once.

A writer killed mid-line (or a full disk) can leave a last line without its newline. Every
append therefore starts on a fresh line, so one damaged record never swallows the next, and
the reader skips a damaged line and reports where it was instead of giving up on the file.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
from dataclasses import dataclass
from typing import Any

from ops_toolkit.errors import RunbookError
from ops_toolkit.runbook.durable import PendingSync


@dataclass(frozen=True)
class AuditTrail:
    """The readable records of an audit file, and one message per damaged line."""

    events: list[dict[str, Any]]
    damaged: list[str]


class AuditLog:
    """Appends one JSON object per line to ``path`` (created with mode 0600)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._syncing: PendingSync | None = None

    def append(self, event: dict[str, Any], *, sync_later: bool = False) -> None:
        """Append ``event``; it is on disk when this returns, or when ``settle`` does.

        ``sync_later`` lets the sync to disk run on a thread while ops goes on (a step's
        line, synced while the next step's starting record is): the line is written at once,
        so it survives ops being killed, and ``settle`` waits for it to be on disk.
        """
        self.settle()  # lines reach the disk in order
        line = (json.dumps(event, sort_keys=True, separators=(",", ":")) + "\n").encode()
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        try:
            try:
                handle = os.open(self.path, flags, 0o600)
            except FileNotFoundError:  # its directory, the first time
                os.makedirs(os.path.dirname(self.path) or ".", mode=0o700, exist_ok=True)
                handle = os.open(self.path, flags, 0o600)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # appending through a link would write elsewhere
                raise RunbookError(
                    f"{self.path}: cannot write the audit trail: it is a symbolic link; "
                    "ops does not follow one (replace it with a file)"
                ) from None
            raise self._error(exc) from None
        try:
            # Writers on one host take turns, so the check of the last byte and the append
            # that depends on it are one step.
            fcntl.flock(handle, fcntl.LOCK_EX)
            size = os.fstat(handle).st_size
            if size and os.pread(handle, 1, size - 1) != b"\n":
                line = b"\n" + line  # the last record was cut short: start a fresh line
            view = memoryview(line)
            while view:
                view = view[os.write(handle, view) :]
        except OSError as exc:
            os.close(handle)
            raise self._error(exc) from None
        if sync_later:
            self._syncing = PendingSync(handle, close=True)
            return
        try:
            os.fdatasync(handle)  # the line and the file's new size: all an append needs
        except OSError as exc:
            raise self._error(exc) from None
        finally:
            os.close(handle)

    def settle(self) -> None:
        """Wait until the line appended with ``sync_later`` is on disk."""
        syncing, self._syncing = self._syncing, None
        failure = syncing.wait() if syncing is not None else None
        if failure is not None:
            raise self._error(failure) from None

    def read(self) -> AuditTrail:
        """Every record that parses; a damaged line is skipped and named (``path:line``)."""
        try:
            with open(self.path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return AuditTrail([], [])
        except OSError as exc:
            raise RunbookError(
                f"{self.path}: cannot read the audit trail: {exc.strerror}"
            ) from None
        events: list[dict[str, Any]] = []
        damaged: list[str] = []
        for number, raw in enumerate(data.split(b"\n"), 1):
            if not raw.strip():
                continue
            try:
                event = json.loads(raw.decode("utf-8"))
            except ValueError as exc:
                reason = "not UTF-8" if isinstance(exc, UnicodeDecodeError) else f"{exc}"
                damaged.append(f"{self.path}:{number}: damaged record skipped ({reason})")
                continue
            except RecursionError:  # json.loads recurses once per nested array or object
                damaged.append(f"{self.path}:{number}: damaged record skipped (nested too deeply)")
                continue
            if not isinstance(event, dict) or not isinstance(event.get("event"), str):
                damaged.append(f"{self.path}:{number}: damaged record skipped (not an event)")
                continue
            events.append(event)
        return AuditTrail(events, damaged)

    def _error(self, exc: OSError) -> RunbookError:
        return RunbookError(f"{self.path}: cannot write the audit trail: {exc.strerror or exc}")
