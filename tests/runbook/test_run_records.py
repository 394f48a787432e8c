"""Runs that end recorded: state and audit agree however a run stops."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from ops_toolkit.errors import RunbookError
from ops_toolkit.runbook.execute import RunOptions, start_run
from ops_toolkit.runbook.model import Step
from ops_toolkit.runbook.state import RunRecord, StateStore, StepRecord
from tests.runbook.fakes import ScriptedUI
from tests.runbook.test_execute import make_runbook, step, world


def audit_events(tmp_path: Path) -> list[tuple[str, str | None, str | None]]:
    lines = (tmp_path / "state" / "audit.jsonl").read_text().splitlines()
    return [(e["event"], e.get("step"), e.get("status")) for e in map(json.loads, lines)]


def saved_run(tmp_path: Path) -> dict[str, object]:
    path = next((tmp_path / "state" / "runs").glob("*.json"))
    return json.loads(path.read_text())  # type: ignore[no-any-return]


class TerminalGone(ScriptedUI):
    """The operator's terminal went away: writing to it fails."""

    def step_finished(self, step: Step, status: str, message: str, duration: float) -> None:
        raise OSError(5, "Input/output error")


def test_an_unexpected_error_mid_run_still_finishes_the_run_in_state_and_audit(
    tmp_path: Path,
) -> None:
    runbook = make_runbook(tmp_path, step("a", "true") + step("b", "true"))
    record = start_run(runbook, RunOptions(), world(tmp_path, TerminalGone()))
    assert record.steps["b"].message == "unexpected error: OSError: [Errno 5] Input/output error"
    saved = saved_run(tmp_path)
    assert saved["status"] == "failed"
    assert saved["finished_at"] is not None
    assert audit_events(tmp_path) == [
        ("run_started", None, None),
        ("step_finished", "a", "succeeded"),
        ("run_finished", None, "failed"),
    ]


def test_an_interrupt_records_the_cut_short_step_in_the_audit(tmp_path: Path) -> None:
    class CtrlC(ScriptedUI):
        def step_started(self, step: Step, attempt: int, attempts: int) -> None:
            raise KeyboardInterrupt

    runbook = make_runbook(tmp_path, step("a", "true") + step("b", "true"))
    record = start_run(runbook, RunOptions(), world(tmp_path, CtrlC()))
    assert record.status == "aborted"
    assert (record.steps["a"].status, record.steps["a"].message) == ("failed", "interrupted")
    assert audit_events(tmp_path) == [
        ("run_started", None, None),
        ("step_finished", "a", "failed"),
        ("run_finished", None, "aborted"),
    ]


class RecordingStore(StateStore):
    """The real store, noting each journal line (step, status, whether it has a pgid) and
    each sync to disk, with what the step had done by then (``seen_at_sync``)."""

    def __init__(self, directory: str, marker: Path, fail_sync: bool = False) -> None:
        super().__init__(directory)
        self.marker = marker
        self.fail_sync = fail_sync
        self.saved: list[tuple[str, ...]] = []
        self.held: list[bool] = []

    def record_step(
        self,
        record: RunRecord,
        step: StepRecord,
        *,
        durable: bool = False,
        sync_later: bool = False,
        variables: dict[str, str] | None = None,
    ) -> None:
        super().record_step(
            record, step, durable=durable, sync_later=sync_later, variables=variables
        )
        self.saved.append((step.name, step.status, "pgid" if step.pgid else "-"))

    def settle(self, record: RunRecord) -> None:
        if record.run_id not in self._syncing:
            return super().settle(record)
        running = [s.pgid for s in record.steps.values() if s.status == "running" and s.pgid]
        # A started shell must be waiting at its gate, reading the pipe ops has not written.
        self.held.extend(_waits_at_its_gate(pid) for pid in running)
        self.saved.append(("synced", "acted" if self.marker.exists() else "not acted"))
        super().settle(record)
        if self.fail_sync:
            raise RunbookError(
                f"{self.runs}/x.jsonl: cannot save the run state: Disk quota exceeded"
            )


def _waits_at_its_gate(pid: int) -> bool:
    """Whether ``pid`` comes to block reading a pipe on its stdin (within 10 s)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            waiting = "pipe" in Path(f"/proc/{pid}/wchan").read_text()
            stdin = os.readlink(f"/proc/{pid}/fd/0")
        except OSError:
            return False
        if waiting and stdin.startswith("pipe:"):
            return True
        time.sleep(0.001)
    return False


def test_a_shell_step_acts_only_once_recorded_on_disk_as_starting_and_running(
    tmp_path: Path,
) -> None:
    """The shell starts up while its records are synced, held at its gate; the sync covers
    "starting" and "running" (with its pgid); only then does the script's first command
    run (issue 15: the disk's latency overlaps the shell's start-up)."""
    marker = tmp_path / "acted"
    runbook = make_runbook(tmp_path, step("a", f"echo acted > {marker}"))
    store = RecordingStore(str(tmp_path / "state"), marker)
    record = start_run(runbook, RunOptions(), replace(world(tmp_path), store=store))
    assert record.status == "succeeded"
    assert store.saved == [
        ("a", "starting", "-"),
        ("a", "running", "pgid"),
        ("synced", "not acted"),
        ("a", "succeeded", "-"),
    ]
    assert store.held == [True]
    assert marker.read_text() == "acted\n"


@pytest.mark.parametrize(
    ("kind", "code", "attributes", "env"),
    [
        ("python", "open({marker!r}, 'w').write('acted')", {"interpreter": "python3"}, {}),
        ("bash", "echo acted > {marker}", {}, {"BASH_ENV": "/dev/null"}),
    ],
    ids=["an interpreter", "a shell reading a startup file"],
)
def test_a_step_ops_cannot_gate_starts_once_recorded_on_disk_as_starting(
    tmp_path: Path, kind: str, code: str, attributes: dict[str, str], env: dict[str, str]
) -> None:
    """Where ops cannot hold the step at a gate (a startup file would run before it), its
    record is synced before its process exists."""
    marker = tmp_path / "acted"
    runbook = make_runbook(tmp_path, step("a", code.format(marker=str(marker)), kind, **attributes))
    store = RecordingStore(str(tmp_path / "state"), marker)
    record = start_run(runbook, RunOptions(), replace(world(tmp_path, env=env), store=store))
    assert record.status == "succeeded"
    assert store.saved == [
        ("a", "starting", "-"),
        ("synced", "not acted"),
        ("a", "running", "pgid"),
        ("a", "succeeded", "-"),
    ]
    assert marker.exists()


def test_a_step_whose_record_cannot_reach_the_disk_never_acts(tmp_path: Path) -> None:
    """Its shell, held at the gate, is stopped; the run fails naming why."""
    marker = tmp_path / "acted"
    runbook = make_runbook(tmp_path, step("a", f"echo acted > {marker}") + step("b", "true"))
    store = RecordingStore(str(tmp_path / "state"), marker, fail_sync=True)
    record = start_run(runbook, RunOptions(), replace(world(tmp_path), store=store))
    message = f"{store.runs}/x.jsonl: cannot save the run state: Disk quota exceeded"
    assert (record.status, record.steps["a"].status) == ("failed", "failed")
    assert record.steps["a"].message == message
    assert record.steps["b"].status == "pending"
    assert store.held == [True]
    assert not marker.exists()
    assert audit_events(tmp_path)[1:] == [("run_finished", None, "failed")]


def test_captured_output_with_a_nul_byte_fails_the_step_not_the_run_record(
    tmp_path: Path,
) -> None:
    """Before: the next step's Popen raised ValueError and the run stayed 'running'."""
    body = step("read", r"printf 'a\0b'", capture="VALUE") + step("use", 'echo "$VALUE"')
    record = start_run(make_runbook(tmp_path, body), RunOptions(), world(tmp_path))
    assert record.status == "failed"
    assert (record.steps["read"].status, record.steps["read"].message) == (
        "failed",
        "capture VALUE: the output contains a NUL byte, so it cannot be passed to later steps",
    )
    assert record.steps["use"].status == "pending"
    assert audit_events(tmp_path)[-1] == ("run_finished", None, "failed")


def test_past_its_gate_a_steps_stdin_is_dev_null_and_its_line_numbers_its_own(
    tmp_path: Path,
) -> None:
    """The gate reads its line from a pipe on stdin, then gives the script /dev/null, as
    every step had; being on the script's first line, it leaves line numbers alone."""
    code = (
        'readlink /proc/$$/fd/0\nif read -r line; then echo "read: $line"; fi\necho "line $LINENO"'
    )
    runbook = make_runbook(tmp_path, step("a", code, "bash"))
    record = start_run(runbook, RunOptions(), world(tmp_path))
    assert record.steps["a"].output == "/dev/null\nline 3\n"
