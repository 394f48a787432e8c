"""Run state on disk: one JSON file per run, rewritten atomically after every step.

An ``ops`` killed with SIGKILL leaves the last written state, from which ``resume`` goes on.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ops_toolkit.errors import RunbookError

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

    def to_json(self) -> dict[str, Any]:
        # Shallow by hand: dataclasses.asdict deep-copies every output string, and the state
        # is written after every step.
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["steps"] = {name: vars(step) for name, step in self.steps.items()}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        steps = {name: StepRecord(**step) for name, step in data.pop("steps", {}).items()}
        return cls(**data, steps=steps)


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

    def save(self, record: RunRecord, *, durable: bool = True) -> None:
        """Replace the run's file atomically: a reader sees the old record or the new one.

        The content is always synced before the rename, so the file is never seen half
        written, even after a power loss. ``durable`` also syncs the directory, so the new
        record survives a power loss: needed before a step starts (the record that it may
        run) and at the end of a run. Skipped after a step ends: losing that record in a
        crash leaves the step ``running`` on disk, which resume treats as unknown; safe.
        """
        target = self.runs / f"{record.run_id}.json"
        payload = json.dumps(record.to_json(), separators=(",", ":")).encode()
        temporary = None
        try:
            self.runs.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.runs, prefix=".tmp-", suffix=".json")
            try:
                _write_all(handle, payload)
                os.fsync(handle)
            finally:
                os.close(handle)
            os.replace(temporary, target)
            temporary = None
            if durable:
                directory = os.open(self.runs, os.O_RDONLY)
                try:
                    os.fsync(directory)
                finally:
                    os.close(directory)
        except OSError as exc:
            raise RunbookError(
                f"{target}: cannot save the run state: {exc.strerror or exc}"
            ) from None
        finally:
            if temporary is not None:  # interrupted or failed before the rename
                with contextlib.suppress(OSError):
                    os.unlink(temporary)

    def load(self, run_id: str) -> RunRecord:
        path = self.runs / f"{run_id}.json"
        if not path.is_file() or "/" in run_id:
            known = [r.run_id for r in self.list()[:5]]
            hint = f"; recent runs: {', '.join(known)}" if known else ""
            raise RunbookError(f"no run {run_id!r} in {self.runs}{hint} (see 'ops runbook runs')")
        try:
            return RunRecord.from_json(json.loads(path.read_text()))
        except (ValueError, TypeError) as exc:
            raise RunbookError(f"{path}: run state is damaged: {exc}") from None

    def list(self) -> list[RunRecord]:
        """Every readable run, newest first."""
        if not self.runs.is_dir():
            return []
        records = []
        for path in self.runs.glob("*.json"):
            with contextlib.suppress(ValueError, TypeError, OSError):
                records.append(RunRecord.from_json(json.loads(path.read_text())))
        return sorted(records, key=lambda r: r.started_at, reverse=True)


def _write_all(handle: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(handle, view) :]
