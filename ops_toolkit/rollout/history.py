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
import errno
import fcntl
import json
import os
import stat
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


# Created 0640: the history is the team's record (read by 'status' and 'report' of anyone in
# the checkout's group on a shared host), it holds no secret (params and check values come
# from the committed plan and Prometheus), and only its owner appends. Never world-readable,
# never written by others. The lock is created the same way; nothing is written to it.
MODE = 0o640
# Our event lines start so (json.dumps with sort_keys): a torn last line that does not is
# not ours, and ops never cuts it.
TORN_START = b'{"'
TAIL_LIMIT = 1 << 20  # an event line is far shorter: a longer last line is not ours
# Never through a planted link (O_NOFOLLOW), never blocking on a planted FIFO (O_NONBLOCK).
_FLAGS = os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK


def _open(path: str, flags: int, what: str) -> int:
    """An fd of the regular file at ``path`` itself; a link, a directory or a device at that
    name is a one-line error naming the file. A missing file raises FileNotFoundError."""
    try:
        fd = os.open(path, flags | _FLAGS, MODE)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # following it would read or write another file
            raise ConfigError(
                f"{path}: is a symbolic link; ops does not follow one (put the {what} itself there)"
            ) from None
        if exc.errno == errno.EISDIR:
            raise ConfigError(f"{path}: is a directory, expected the {what}") from None
        raise ConfigError(f"{path}: cannot open the {what}: {exc.strerror}") from None
    found = os.fstat(fd)
    if not stat.S_ISREG(found.st_mode):
        os.close(fd)
        kind = "a directory" if stat.S_ISDIR(found.st_mode) else "not a regular file"
        raise ConfigError(f"{path}: is {kind}, expected the {what}")
    _narrow(fd, found)
    return fd


def _narrow(fd: int, found: os.stat_result) -> None:
    """A file of ours wider than ``MODE`` (an older ops created histories 0644: readable by
    every user of the host) is narrowed to it, silently. Through the open descriptor, so
    that it is this very file, never one put at its name since; a file another user owns
    is theirs to set, and is left alone. A file system that refuses (read-only) leaves it."""
    permissions = stat.S_IMODE(found.st_mode)
    if found.st_uid != os.geteuid() or not permissions & ~MODE:
        return
    with contextlib.suppress(OSError):
        os.fchmod(fd, permissions & MODE)


def _is_event(line: bytes) -> bool:
    try:
        event = json.loads(line)
    except ValueError:
        return False
    return isinstance(event, dict) and event.get("event") in EVENTS


def events_until(events: Sequence[Mapping[str, Any]], at: float) -> list[Mapping[str, Any]]:
    """The events recorded at or before ``at``: the history as it stood then, so a status
    asked ``--at`` a past time shows the stage of that time, not today's."""
    return [event for event in events if float(event["at"]) <= at]


class History:
    """The events file of one plan; appends are locked, fsynced and start on a fresh line."""

    def __init__(self, path: str) -> None:
        self.path = path

    def read(self) -> list[dict[str, Any]]:
        """Every event; a damaged line names its place, except a torn last line (a crash
        while writing one of our events), which is ignored as never written."""
        try:
            fd = _open(self.path, os.O_RDONLY, "history file")
        except FileNotFoundError:
            return []
        try:
            with os.fdopen(fd, encoding="utf-8") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{self.path}: cannot read: {exc}") from None
        lines = text.split("\n")
        torn = not text.endswith("\n") and lines[-1].startswith(TORN_START.decode())
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
        """One fsynced line. A torn tail (the start of one of our events without its newline:
        a writer died before the event was complete, so nobody was told it happened) is cut
        off first; a whole last line without its newline (an editor's doing) is kept and
        ended. Anything else at the end is not our history, and is left as it is."""
        line = (json.dumps(event, sort_keys=True, default=str) + "\n").encode("utf-8")
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT
        try:
            fd = _open(self.path, flags, "history file")
        except FileNotFoundError:  # its directory, the first time
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            fd = _open(self.path, flags, "history file")
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = self._end_tail(fd, size) + line
            os.write(fd, line)
            os.fsync(fd)
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot write: {exc.strerror}") from None
        finally:
            os.close(fd)

    def _end_tail(self, fd: int, size: int) -> bytes:
        """Cut a torn event off the end of ``fd``; returns what to write before the next line
        (a newline after a whole event)."""
        chunk = os.pread(fd, min(size, TAIL_LIMIT), max(0, size - TAIL_LIMIT))
        cut = chunk.rfind(b"\n")
        # no line start within reach: longer than any event of ours
        tail = b"" if cut < 0 and size > TAIL_LIMIT else chunk[cut + 1 :]
        if _is_event(tail):
            return b"\n"  # a whole event, only its newline missing
        if not tail.startswith(TORN_START):
            raise ConfigError(
                f"{self.path}: its last line is not one of ops's events cut short; ops "
                "appends only to a rollout history it wrote (is this the plan's history?)"
            )
        os.ftruncate(fd, size - len(tail))
        return b""

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One advance or rollback of a plan at a time on this machine."""
        lock_path = self.path + ".lock"
        try:
            fd = _open(lock_path, os.O_RDWR | os.O_CREAT, "lock file")
        except FileNotFoundError:
            os.makedirs(os.path.dirname(lock_path) or ".", exist_ok=True)
            fd = _open(lock_path, os.O_RDWR | os.O_CREAT, "lock file")
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
