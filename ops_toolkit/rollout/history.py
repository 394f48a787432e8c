"""A plan's progress: an append-only JSONL file beside it, and the state it adds up to.

Each line is one event (``advance_started``, ``advance_finished``, ``rollback_started``,
``rollback_finished``) with who, when and the evidence. The file is meant to be committed so
a team shares one history. A started advance without its finish is *pending*: the next
``advance`` resumes that runbook run instead of starting a second one. So is one whose run
ended ``failed``, ``waiting`` or ``aborted``: its finished steps have changed the world, so the
next ``advance`` goes on with that run (same id, succeeded steps not run again), and a
``rollback`` undoes it; only ``succeeded`` or ``abandoned`` close it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ops_toolkit.errors import ConfigError

EVENTS = ("advance_started", "advance_finished", "rollback_started", "rollback_finished")
# How a run may end and still be resumed: its runbook stopped short of the end.
RESUMABLE = frozenset({"failed", "waiting", "aborted"})


@dataclass(frozen=True)
class Progress:
    """Where a plan stands, computed from its events (pure)."""

    stage: str | None  # None: before the first stage
    since: float | None
    pending: Mapping[str, Any] | None  # a started advance or rollback not yet finished
    events: tuple[Mapping[str, Any], ...]
    pending_status: str | None = None  # how the pending run's last try ended; None: no end
    pending_at: float | None = None  # when that try ended


def progress(events: Sequence[Mapping[str, Any]], stage_names: Sequence[str]) -> Progress:
    """The current stage and any unfinished step, from the history's events in order."""
    stage: str | None = None
    since: float | None = None
    pending: Mapping[str, Any] | None = None
    ended: tuple[str | None, float | None] = (None, None)
    for event in events:
        kind = event["event"]
        if kind in ("advance_started", "rollback_started"):
            pending, ended = event, (None, None)
            continue
        if kind not in ("advance_finished", "rollback_finished"):
            continue
        status = event.get("status")
        resumable = (
            pending is not None
            and pending["event"].split("_")[0] == kind.split("_")[0]
            and pending.get("run_id") == event.get("run_id")
            and status in RESUMABLE
        )
        if resumable:
            ended = (str(status), float(event["at"]))
        else:
            pending, ended = None, (None, None)
        if status != "succeeded":
            continue
        if kind == "advance_finished":
            stage, since = event["stage"], float(event["at"])
        else:
            position = (
                list(stage_names).index(event["stage"]) if event["stage"] in stage_names else 0
            )
            stage = stage_names[position - 1] if position > 0 else None
            since = float(event["at"])
    return Progress(stage, since, pending, tuple(events), *ended)


class History:
    """The events file of one plan; appends are locked, fsynced and start on a fresh line."""

    def __init__(self, path: str) -> None:
        self.path = path

    def read(self) -> list[dict[str, Any]]:
        """Every event; a damaged line names its place, except a torn last line (a crash
        while writing it), which is ignored as never written."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            return []
        except IsADirectoryError:
            raise ConfigError(f"{self.path}: is a directory, expected the history file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{self.path}: cannot read: {exc}") from None
        lines = text.split("\n")
        torn = not text.endswith("\n") and lines[-1] != ""
        events = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError:
                if torn and number == len(lines):
                    continue
                raise ConfigError(f"{self.path}:{number}: not a JSON event") from None
            if not isinstance(event, dict) or event.get("event") not in EVENTS:
                raise ConfigError(f"{self.path}:{number}: expected an event ({', '.join(EVENTS)})")
            if not isinstance(event.get("stage"), str) or not isinstance(
                event.get("at"), int | float
            ):
                raise ConfigError(f"{self.path}:{number}: an event needs 'stage' and 'at'")
            events.append(event)
        return events

    def append(self, event: Mapping[str, Any]) -> None:
        """One fsynced line. A torn tail (a line without its newline: a writer died before
        its event was complete, so nobody was told it happened) is cut off first."""
        line = (json.dumps(event, sort_keys=True, default=str) + "\n").encode("utf-8")
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                tail = os.pread(fd, min(size, 1 << 20), max(0, size - (1 << 20)))
                cut = tail.rfind(b"\n")
                os.ftruncate(fd, size - len(tail) + cut + 1 if cut >= 0 else size - len(tail))
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One advance or rollback of a plan at a time on this machine."""
        lock_path = self.path + ".lock"
        os.makedirs(os.path.dirname(lock_path) or ".", exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ConfigError(
                    f"{self.path}: another advance or rollback of this plan is running"
                ) from None
            yield
        finally:
            os.close(fd)
