"""Run state on disk: a JSON snapshot per run, and an append-only journal of its steps.

``runs/<id>.json`` is rewritten atomically when a run starts, resumes and ends;
``runs/<id>.jsonl`` gets one line each time a step changes (starting, running, finished).
Rewriting the whole run after every step made the cost of a step grow with the number of
steps (1,000 steps re-encoded and fsynced a 200 KB file three times each); a journal line
costs the same at step 1 and at step 1,000. Each line carries a sequence number and the
snapshot the last one folded into it, so a journal left behind by a crash between the two
is never replayed over a newer snapshot.

An ``ops`` killed with SIGKILL leaves the snapshot and the journal, from which ``resume``
goes on: ``load`` replays the journal.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import socket
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ops_toolkit.errors import RunbookError
from ops_toolkit.runbook.durable import PendingSync

STEP_STATUSES = (
    "succeeded",
    "failed",
    "skipped",
    "timed_out",
    "needs_confirmation",
    "pending_manual",
    "starting",
    "running",
    "pending",
)
DONE = frozenset({"succeeded", "skipped"})
# Written before a step can act and replaced by its outcome: found on disk after ops was
# killed, the step may or may not have run (``resume`` asks what to do).
MAYBE_STARTED = frozenset({"starting", "running"})
# A step whose process group may outlive ops: one it was running, or a background one
# (which succeeds as soon as it has started).
GROUP_MAY_LIVE = MAYBE_STARTED | {"succeeded"}


@dataclass
class StepRecord:
    name: str
    status: str = "pending"
    exit_code: int | None = None
    duration_s: float | None = None
    output: str = ""
    attempts: int = 0
    message: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    pgid: int | None = None
    handler: bool = False
    # The group leader's boot id and start time (background.leader_start): a pgid read back
    # is signalled only while its leader is still this process (ids are reused).
    leader_start: str | None = None
    # The step's earlier outcomes, oldest first, each kept when the step ran again (a resume,
    # a handler run twice): status, exit code, attempts, message, times and the tail of its
    # (masked) output, as ``earlier_attempt`` makes them. Saved only when not empty.
    earlier: list[dict[str, Any]] = field(default_factory=list)


EARLIER_OUTPUT_KEPT = 16 * 1024  # characters of an earlier attempt's output kept (the tail)


def earlier_attempt(step: StepRecord) -> dict[str, Any]:
    """``step``'s outcome as it stands, to keep in ``earlier`` before the step runs again."""
    return {
        "status": step.status,
        "exit_code": step.exit_code,
        "duration_s": step.duration_s,
        "output": step.output[-EARLIER_OUTPUT_KEPT:],  # masked when it was recorded
        "attempts": step.attempts,
        "message": step.message,
        "started_at": step.started_at,
        "finished_at": step.finished_at,
    }


def step_json(step: StepRecord) -> dict[str, Any]:
    """``step`` as saved. Without ``earlier`` when it has none: a run none of whose steps
    ran twice is saved as the version before it saved runs, which reads it."""
    data = vars(step)
    return data if step.earlier else {k: v for k, v in data.items() if k != "earlier"}


@dataclass
class RunRecord:
    run_id: str
    runbook: str
    runbook_sha256: str
    user: str
    host: str
    started_at: float
    params: dict[str, str]
    plan: list[str]
    status: str = "running"
    finished_at: float | None = None
    variables: dict[str, str] = field(default_factory=dict)
    steps: dict[str, StepRecord] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    resumed: int = 0
    journal_seq: int = 0  # the last journal line folded into this record

    def to_json(self) -> dict[str, Any]:
        # Shallow by hand: dataclasses.asdict deep-copies every output string, and the state
        # is written after every step.
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["steps"] = {name: step_json(step) for name, step in self.steps.items()}
        return data

    @classmethod
    def from_json(cls, data: Any) -> RunRecord:
        """The record in ``data``, checked field by field: ``DamagedState`` says where not."""
        run = _fields(data, "", _RUN_FIELDS)
        steps = {}
        for name, step in run.pop("steps", {}).items():
            steps[name] = _step_record(step, name, _key("steps", name), run["plan"])
        for number, name in enumerate(run["plan"]):
            if name not in steps:
                raise DamagedState(f"plan[{number}]: step {name!r} has no record in steps")
        return cls(**run, steps=steps)


def _step_record(data: Any, name: str, where: str, plan: list[str]) -> StepRecord:
    values = _fields(data, where, _STEP_FIELDS)
    if values.get("name", name) != name:
        raise DamagedState(f"{where}.name: {values['name']!r} is not its key {name!r}")
    values["name"] = name
    if name not in plan and not values.get("handler", False):
        raise DamagedState(f"{where}: not in the plan and not a handler")
    return StepRecord(**values)


class DamagedState(ValueError):
    """A run state file that is not what ops writes; the message says where, inside it."""


RUN_STATUSES = ("running", "succeeded", "failed", "aborted", "waiting")
_LATEST = 253402300799.0  # 9999-12-31T23:59:59Z: a later time cannot be shown
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_STEP_NAME = re.compile(r"[A-Za-z0-9_-]+")
_Check = Callable[[Any, str], Any]


def _key(where: str, name: str) -> str:
    return f"{where}.{name}" if _STEP_NAME.fullmatch(name) else f"{where}[{name!r}]"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise DamagedState(f"{where}: expected a string, got {_shown(value)}")
    return value


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DamagedState(f"{where}: expected a whole number >= 0, got {_shown(value)}")
    return value


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise DamagedState(f"{where}: expected true or false, got {_shown(value)}")
    return value


def _seconds(value: Any, where: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value <= _LATEST  # also rejects NaN
    ):
        raise DamagedState(f"{where}: expected seconds since 1970, got {_shown(value)}")
    return float(value)


def _optional(check: _Check) -> _Check:
    return lambda value, where: None if value is None else check(value, where)


def _exit_code(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -255 <= value <= 255:
        raise DamagedState(f"{where}: expected an exit code, got {_shown(value)}")
    return value


def _pgid(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise DamagedState(f"{where}: expected a process group id, got {_shown(value)}")
    return value


def _one_of(choices: tuple[str, ...]) -> _Check:
    def check(value: Any, where: str) -> str:
        if value not in choices:
            raise DamagedState(
                f"{where}: expected one of {', '.join(choices)}, got {_shown(value)}"
            )
        return str(value)

    return check


def _run_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _RUN_ID.fullmatch(value):
        raise DamagedState(f"{where}: expected a run id, got {_shown(value)}")
    return value


def _texts(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise DamagedState(f"{where}: expected an object, got {_shown(value)}")
    for key, item in value.items():
        _text(item, _key(where, key))
    return value


def _plan(value: Any, where: str) -> list[str]:
    if not isinstance(value, list):
        raise DamagedState(f"{where}: expected a list of step names, got {_shown(value)}")
    for number, name in enumerate(value):
        _text(name, f"{where}[{number}]")
        if name in value[:number]:
            raise DamagedState(f"{where}[{number}]: step {name!r} is listed twice")
    return value


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DamagedState(f"{where}: expected an object, got {_shown(value)}")
    return value


def _earlier(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise DamagedState(f"{where}: expected a list of earlier attempts, got {_shown(value)}")
    return [
        _fields(entry, f"{where}[{number}]", _EARLIER_FIELDS) for number, entry in enumerate(value)
    ]


def _fields(data: Any, where: str, spec: dict[str, tuple[_Check, bool]]) -> dict[str, Any]:
    """Check each field of ``data`` against ``spec`` (check, required)."""
    inside = f"{where}." if where else ""
    if not isinstance(data, dict):
        raise DamagedState(f"{where or 'the file'}: expected an object, got {_shown(data)}")
    for name in data:
        if name not in spec:
            raise DamagedState(f"{inside}{name}: unknown field")
    values = {}
    for name, (check, required) in spec.items():
        if name in data:
            values[name] = check(data[name], f"{inside}{name}")
        elif required:
            raise DamagedState(f"{where or 'the file'}: missing field {name!r}")
    return values


_RUN_FIELDS: dict[str, tuple[_Check, bool]] = {
    "run_id": (_run_id, True),
    "runbook": (_text, True),
    "runbook_sha256": (_text, True),
    "user": (_text, True),
    "host": (_text, True),
    "started_at": (_seconds, True),
    "params": (_texts, True),
    "plan": (_plan, True),
    "status": (_one_of(RUN_STATUSES), False),
    "finished_at": (_optional(_seconds), False),
    "variables": (_texts, False),
    "steps": (_object, False),
    "options": (_object, False),
    "resumed": (_count, False),
    "journal_seq": (_count, False),
}
_JOURNAL_FIELDS: dict[str, tuple[_Check, bool]] = {
    "seq": (_count, True),
    "step": (_object, True),
    "variables": (_texts, False),
}
_STEP_FIELDS: dict[str, tuple[_Check, bool]] = {
    "name": (_text, False),
    "status": (_one_of(STEP_STATUSES), False),
    "exit_code": (_optional(_exit_code), False),
    "duration_s": (_optional(_seconds), False),
    "output": (_text, False),
    "attempts": (_count, False),
    "message": (_text, False),
    "started_at": (_optional(_seconds), False),
    "finished_at": (_optional(_seconds), False),
    "pgid": (_optional(_pgid), False),
    "handler": (_flag, False),
    "leader_start": (_optional(_text), False),
    "earlier": (_earlier, False),
}
# An earlier attempt: the outcome fields of a step, its status required.
_EARLIER_FIELDS: dict[str, tuple[_Check, bool]] = {
    "status": (_STEP_FIELDS["status"][0], True),
    **{
        key: _STEP_FIELDS[key]
        for key in (
            *("exit_code", "duration_s", "output", "attempts", "message"),
            *("started_at", "finished_at"),
        )
    },
}


def default_state_dir() -> str:
    explicit = os.environ.get("OPS_STATE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return os.path.join(base, "ops")


class StateStore:
    """Run records under ``<dir>/runs/<run_id>.json``."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)
        self.runs = self.directory / "runs"
        # The journal of each run this store appends to, open from its first line until the
        # run ends (or its claim is let go): three opens per step cost more than the lines.
        self._journals: dict[str, int] = {}
        self._syncing: dict[str, PendingSync] = {}

    def save(self, record: RunRecord) -> None:
        """Write the whole run as a new snapshot, atomically and durably.

        A reader sees the old snapshot or the new one, never half of one, even after a power
        loss (the content is synced before the rename, the directory after it). The journal
        is emptied once the snapshot holds it (removed when the run has ended), and created
        before the directory sync, so that appending to it never needs one.
        """
        target = self.runs / f"{record.run_id}.json"
        journal = self._journal(record.run_id)
        payload = json.dumps(record.to_json(), separators=(",", ":")).encode()
        temporary = None
        try:
            self._make_runs()
            handle, temporary = tempfile.mkstemp(dir=self.runs, prefix=".tmp-", suffix=".json")
            try:
                _write_all(handle, payload)
                os.fsync(handle)
            finally:
                os.close(handle)
            os.replace(temporary, target)
            temporary = None
            if record.status == "running":  # an open handle appends at the new end
                os.close(os.open(journal, _JOURNAL_FLAGS | os.O_TRUNC, 0o600))
            else:
                self.close(record.run_id)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(journal)
            _sync_directory(self.runs)
        except OSError as exc:
            raise RunbookError(
                f"{target}: cannot save the run state: {exc.strerror or exc}"
            ) from None
        finally:
            if temporary is not None:  # interrupted or failed before the rename
                with contextlib.suppress(OSError):
                    os.unlink(temporary)

    def record_step(
        self,
        record: RunRecord,
        step: StepRecord,
        *,
        durable: bool = False,
        sync_later: bool = False,
        variables: dict[str, str] | None = None,
    ) -> None:
        """Append ``step`` as it is now (and new ``variables``) to the run's journal.

        Every line is written before this returns, so it survives ops being killed (the
        kernel holds it). ``durable`` also puts it on disk, so it survives a power loss:
        needed before a step can act (the record that it may run); ``sync_later`` puts
        that sync off until ``settle``. Without either, a power loss can
        lose the line, which is safe: a step whose outcome is lost reads as ``starting``
        (unknown: resume asks), and a lost pgid belongs to a process that died with the host.
        """
        if sync_later:
            self.settle(record)  # one sync under way per run
        record.journal_seq += 1
        entry: dict[str, Any] = {"seq": record.journal_seq, "step": step_json(step)}
        if variables:
            entry["variables"] = variables
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        handle = self._journal_handle(record.run_id)
        try:
            _write_all(handle, line)
            if durable:
                os.fdatasync(handle)  # the data and the size: all an appended line needs
        except OSError as exc:
            raise self._journal_error(record.run_id, exc) from None
        if sync_later:
            self._syncing[record.run_id] = PendingSync(handle, close=False)

    def settle(self, record: RunRecord) -> None:
        """Wait until the line appended with ``sync_later`` is on disk."""
        syncing = self._syncing.pop(record.run_id, None)
        failure = syncing.wait() if syncing is not None else None
        if failure is not None:
            raise self._journal_error(record.run_id, failure) from None

    def close(self, run_id: str) -> None:
        """Let go of the run's journal handle (it is opened again if a line follows)."""
        syncing = self._syncing.pop(run_id, None)
        if syncing is not None:
            syncing.wait()  # the sync uses the handle; its failure matters no more
        handle = self._journals.pop(run_id, None)
        if handle is not None:
            os.close(handle)

    def _journal_handle(self, run_id: str) -> int:
        handle = self._journals.get(run_id)
        if handle is not None:
            return handle
        try:
            handle = os.open(self._journal(run_id), _JOURNAL_FLAGS, 0o600)
        except OSError as exc:
            raise self._journal_error(run_id, exc) from None
        try:
            # Only a writer killed mid-line leaves a torn line, and no other writer appends
            # while this process holds the run (``claim``): checked once, at the open.
            size = os.fstat(handle).st_size
            if size and os.pread(handle, 1, size - 1) != b"\n":
                _cut_torn_line(handle, size)  # a line cut short by a crash: never acknowledged
        except OSError as exc:
            os.close(handle)
            raise self._journal_error(run_id, exc) from None
        self._journals[run_id] = handle
        return handle

    def _journal_error(self, run_id: str, exc: OSError) -> RunbookError:
        return RunbookError(
            f"{self._journal(run_id)}: cannot save the run state: {exc.strerror or exc}"
        )

    def _make_runs(self) -> None:
        """``runs/``, created private (0700: run records hold step output), and never a
        symbolic link: records written through one would land wherever it points."""
        if self.runs.is_symlink():
            raise RunbookError(
                f"{self.runs}: cannot keep run state there: it is a symbolic link; ops does "
                "not follow one (replace it with a directory)"
            )
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.runs.mkdir(exist_ok=True, mode=0o700)

    def _journal(self, run_id: str) -> Path:
        return self.runs / f"{run_id}.jsonl"

    def load(self, run_id: str) -> RunRecord:
        path = self.runs / f"{run_id}.json"
        if not _RUN_ID.fullmatch(run_id) or not path.is_file():
            known = [r.run_id for r in self.list()[:5]]
            hint = f"; recent runs: {', '.join(known)}" if known else ""
            raise RunbookError(f"no run {run_id!r} in {self.runs}{hint} (see 'ops runbook runs')")
        return _read(path)

    @contextlib.contextmanager
    def claim(self, run_id: str) -> Iterator[None]:
        """Hold run ``run_id`` while this process runs it: two ops never run one run at once.

        An flock on ``runs/<run_id>.lock``: the kernel drops it when ops dies, even by SIGKILL,
        so a killed run can be resumed at once. The file is removed when the run ends; a
        claim that raced with that removal sees another inode and tries again.
        """
        path = self.runs / f"{run_id}.lock"
        while True:
            try:
                self._make_runs()
                handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
            except OSError as exc:
                raise RunbookError(f"{path}: cannot lock the run: {exc.strerror}") from None
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(handle, 200, 0).decode(errors="replace").strip() or "unknown"
                os.close(handle)
                raise RunbookError(
                    f"run {run_id} is in progress in another ops process ({holder}); wait "
                    "for it to end or stop it, then resume"
                ) from None
            try:
                same = os.fstat(handle).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(handle)
        try:
            os.ftruncate(handle, 0)
            os.pwrite(handle, f"pid {os.getpid()} on {socket.gethostname()}".encode(), 0)
            yield
        finally:
            self.close(run_id)
            with contextlib.suppress(OSError):
                os.unlink(path)
            os.close(handle)

    def scan(self) -> tuple[list[RunRecord], list[str]]:
        """Every readable run (newest first), and one message per damaged state file."""
        if not self.runs.is_dir():
            return [], []
        records, damaged = [], []
        for path in self.runs.glob("*.json"):
            if path.name.startswith("."):  # a save that never finished (ops killed in it)
                continue
            try:
                records.append(_read(path))
            except RunbookError as exc:
                damaged.append(str(exc))
        return sorted(records, key=lambda r: r.started_at, reverse=True), sorted(damaged)

    def unfinished(self) -> set[str]:
        """The ids of the runs not known to have succeeded: in progress, failed, aborted or
        waiting (all resumable), and those whose state is damaged (nothing says they
        ended). Their audit lines are kept whatever their age."""
        if not self.runs.is_dir():
            return set()
        unfinished = set()
        for path in self.runs.glob("*.json"):
            if path.name.startswith("."):
                continue
            try:
                if _read(path).status == "succeeded":
                    continue
            except RunbookError:
                pass
            unfinished.add(path.stem)
        return unfinished

    def list(self) -> list[RunRecord]:
        """Every readable run, newest first."""
        return self.scan()[0]


def _read(path: Path) -> RunRecord:
    """The run in ``path``; any damage is a ``RunbookError`` naming the file and the field."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise RunbookError(f"{path}: cannot read the run state: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise RunbookError(f"{path}: run state is damaged: not UTF-8 text") from None
    try:
        data = json.loads(text)
        record = RunRecord.from_json(data)
    except DamagedState as exc:
        raise RunbookError(f"{path}: run state is damaged: {exc}") from None
    except ValueError as exc:
        raise RunbookError(f"{path}: run state is damaged: not JSON: {exc}") from None
    except RecursionError:  # json.loads (and repr in messages) recurse once per level
        raise RunbookError(f"{path}: run state is damaged: nested too deeply") from None
    if record.run_id != path.stem:
        raise RunbookError(
            f"{path}: run state is damaged: run_id: {record.run_id!r} is not the file's name"
        )
    return _forget_ended_groups(_replay(record, path.with_suffix(".jsonl")))


def _forget_ended_groups(record: RunRecord) -> RunRecord:
    """No pgid for a step whose processes cannot be running: every step of a run that ended
    (its ops stopped them), a step that ended other than started in the background."""
    for step in record.steps.values():
        if record.status != "running" or step.status not in GROUP_MAY_LIVE:
            step.pgid = step.leader_start = None
    return record


def _replay(record: RunRecord, journal: Path) -> RunRecord:
    """``record`` with the lines of its journal newer than the snapshot applied in order."""
    try:
        data = journal.read_bytes()
    except FileNotFoundError:
        return record
    except OSError as exc:
        raise RunbookError(f"{journal}: cannot read the run state: {exc.strerror}") from None
    lines = data.split(b"\n")
    for number, raw in enumerate(lines[:-1], 1):  # the last is empty, or cut short: unwritten
        try:
            entry = _fields(json.loads(raw.decode("utf-8")), "", _JOURNAL_FIELDS)
            if entry["seq"] <= record.journal_seq:
                continue  # already in the snapshot (a crash before the journal was emptied)
            step = entry["step"]
            name = step.get("name")
            if not isinstance(name, str):
                raise DamagedState(f"step.name: expected a string, got {_shown(name)}")
            record.steps[name] = _step_record(step, name, "step", record.plan)
        except UnicodeDecodeError:
            raise RunbookError(
                f"{journal}:{number}: run state is damaged: not UTF-8 text"
            ) from None
        except DamagedState as exc:
            raise RunbookError(f"{journal}:{number}: run state is damaged: {exc}") from None
        except ValueError as exc:
            raise RunbookError(
                f"{journal}:{number}: run state is damaged: not JSON: {exc}"
            ) from None
        except RecursionError:
            raise RunbookError(
                f"{journal}:{number}: run state is damaged: nested too deeply"
            ) from None
        record.variables.update(entry.get("variables", {}))
        record.journal_seq = entry["seq"]
    return record


def _cut_torn_line(handle: int, size: int) -> None:
    """Drop the unfinished last line of a journal (a write that a crash cut short)."""
    data = os.pread(handle, size, 0)
    os.ftruncate(handle, data.rfind(b"\n") + 1)


def _sync_directory(path: Path) -> None:
    directory = os.open(path, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


_JOURNAL_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW


def _write_all(handle: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(handle, view) :]
