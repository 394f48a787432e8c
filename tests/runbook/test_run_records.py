"""Runs that end recorded: state and audit agree however a run stops."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

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
    """The real store, noting each step's status and pgid as each journal line writes them."""

    def __init__(self, directory: str) -> None:
        super().__init__(directory)
        self.saved: list[tuple[str, str, bool, bool]] = []

    def record_step(
        self,
        record: RunRecord,
        step: StepRecord,
        *,
        durable: bool = False,
        variables: dict[str, str] | None = None,
    ) -> None:
        super().record_step(record, step, durable=durable, variables=variables)
        self.saved.append((step.name, step.status, step.pgid is not None, durable))


def test_a_step_is_recorded_as_starting_before_its_process_exists(tmp_path: Path) -> None:
    """Starting is synced to disk before the process exists; running and the outcome follow."""
    runbook = make_runbook(tmp_path, step("a", "true"))
    store = RecordingStore(str(tmp_path / "state"))
    base = world(tmp_path)
    start_run(runbook, RunOptions(), replace(base, store=store))
    assert store.saved == [
        ("a", "starting", False, True),
        ("a", "running", True, False),
        ("a", "succeeded", False, False),
    ]


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
