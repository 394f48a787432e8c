"""The audit trail: append-only JSON Lines, each line written and synced to disk at once.

A writer killed mid-line (or a full disk) can leave a last line without its newline. Every
append therefore starts on a fresh line, so one damaged record never swallows the next, and
the reader skips a damaged line and reports where it was instead of giving up on the file.

The trail grows until ``prune`` is asked for (``ops runbook audit --prune``, never during a
run): it writes the lines it keeps to a new file beside it and renames that over the trail,
holding the lock appenders take; an appender that waited for the lock on the old file sees
that the name now holds another file and appends to that one, so no line is lost.
"""

from __future__ import annotations

import calendar
import errno
import fcntl
import json
import os
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from ops_toolkit.errors import RunbookError
from ops_toolkit.files import write_atomically
from ops_toolkit.runbook.durable import PendingSync


@dataclass(frozen=True)
class AuditTrail:
    """The readable records of an audit file, and one message per damaged line."""

    events: list[dict[str, Any]]
    damaged: list[str]


@dataclass(frozen=True)
class Pruned:
    """What ``AuditLog.prune`` did: lines removed and kept."""

    removed: int
    kept: int


class AuditLog:
    """Appends one JSON object per line to ``path`` (created with mode 0600)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._syncing: PendingSync | None = None

    def append(self, event: dict[str, Any], *, sync_later: bool = False) -> None:
        """Append ``event``; it is on disk when this returns, or when ``settle`` does.

        ``sync_later`` puts the sync to disk off until ``settle`` (a step's line, synced
        with the next step's starting record, just before that step can act): the line is
        written at once, so it survives ops being killed.
        """
        self.settle()  # lines reach the disk in order
        line = (json.dumps(event, sort_keys=True, separators=(",", ":")) + "\n").encode()
        handle = self._open_locked(create=True)
        try:
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

    def _open_locked(self, *, create: bool) -> int:
        """The trail open for reading and appending, its lock held (writers on one host take
        turns, so a check of the last byte and the append that depends on it are one step).

        Once the lock is held, the name must still be this file: a prune that held the lock
        meanwhile renamed a new file over it, and a line appended to the old one is lost.
        """
        flags = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW
        flags |= os.O_CREAT if create else 0
        for _ in range(100):
            try:
                try:
                    handle = os.open(self.path, flags, 0o600)
                except FileNotFoundError:  # its directory, the first time
                    if not create:
                        raise
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
                fcntl.flock(handle, fcntl.LOCK_EX)
                held, named = os.fstat(handle), os.lstat(self.path)
            except FileNotFoundError:
                os.close(handle)
                continue
            except OSError as exc:
                os.close(handle)
                raise self._error(exc) from None
            if (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino):
                return handle
            os.close(handle)  # replaced while this process waited: take the new one
        raise RunbookError(f"{self.path}: cannot write the audit trail: it keeps being replaced")

    def prune(
        self,
        older_than: float,
        keep_runs: Collection[str],
        *,
        before_replace: Callable[[], None] = lambda: None,
    ) -> Pruned:
        """Remove the lines of each run whose last line is older than ``older_than`` (seconds
        since the epoch), but for the runs in ``keep_runs`` (in progress, or resumable):
        a run's trail goes whole or stays whole. Lines that do not parse, or have no time,
        stay (nothing says how old they are).

        The kept lines are written to a new file in the same folder, synced, given the
        trail's mode and renamed over it while the appenders' lock is held; a crash leaves
        the old trail or the new one. ``before_replace`` runs just before the rename (tests
        reach the moment when an appender waits for the lock).
        """
        try:
            handle = self._open_locked(create=False)
        except RunbookError as exc:
            if not os.path.lexists(self.path):
                return Pruned(0, 0)
            raise exc from None
        try:
            status = os.fstat(handle)
            data = _read_all(handle)
            lines = data.split(b"\n")
            if lines and not lines[-1]:
                lines.pop()
            keep = _lines_to_keep(lines, older_than, keep_runs)
            removed = len(lines) - sum(keep)
            if removed:
                kept = b"".join(
                    line + b"\n" for line, kept in zip(lines, keep, strict=True) if kept
                )
                write_atomically(
                    self.path,
                    kept,
                    mode=status.st_mode & 0o7777,
                    durable=True,
                    before_replace=before_replace,
                )
            return Pruned(removed, len(lines) - removed)
        except OSError as exc:
            raise self._error(exc) from None
        finally:
            os.close(handle)  # the lock goes with it

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


def _read_all(handle: int) -> bytes:
    chunks = []
    offset = 0
    while chunk := os.pread(handle, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _lines_to_keep(lines: list[bytes], older_than: float, keep_runs: Collection[str]) -> list[bool]:
    """For each line, whether ``AuditLog.prune`` keeps it."""
    times: list[float | None] = []
    runs: list[str | None] = []
    newest: dict[str, float] = {}
    for raw in lines:
        when, run = _time_and_run(raw)
        times.append(when)
        runs.append(run)
        if run is not None:
            newest[run] = max(
                newest.get(run, float("-inf")), float("inf") if when is None else when
            )
    keep = []
    for when, run in zip(times, runs, strict=True):
        if run is not None:
            keep.append(run in keep_runs or newest[run] >= older_than)
        else:
            keep.append(when is None or when >= older_than)
    return keep


def _time_and_run(raw: bytes) -> tuple[float | None, str | None]:
    """A line's time (None: damaged, or none) and run id (None: none)."""
    try:
        event = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return None, None
    if not isinstance(event, dict):
        return None, None
    run = event.get("run_id") if isinstance(event.get("run_id"), str) else None
    try:
        when = float(calendar.timegm(time.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ")))
    except (KeyError, TypeError, ValueError):
        return None, run
    return when, run
