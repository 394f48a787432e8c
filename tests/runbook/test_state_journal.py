"""Run state as a snapshot and a journal: a step's save costs the same at step 1 and 1,000."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ops_toolkit.errors import RunbookError
from ops_toolkit.runbook.audit import AuditLog
from ops_toolkit.runbook.execute import RunOptions, start_run
from ops_toolkit.runbook.state import RunRecord, StateStore, StepRecord
from tests.runbook.test_execute import make_runbook, step, world


class CountingStore(StateStore):
    """The real store, counting whole-run snapshots and the bytes of each journal line."""

    def __init__(self, directory: str) -> None:
        super().__init__(directory)
        self.snapshots = 0
        self.lines: list[int] = []

    def save(self, record: RunRecord) -> None:
        super().save(record)
        self.snapshots += 1

    def record_step(
        self,
        record: RunRecord,
        step: StepRecord,
        *,
        durable: bool = False,
        sync_later: bool = False,
        variables: dict[str, str] | None = None,
    ) -> None:
        journal = self.runs / f"{record.run_id}.jsonl"
        before = journal.stat().st_size
        super().record_step(
            record, step, durable=durable, sync_later=sync_later, variables=variables
        )
        self.lines.append(journal.stat().st_size - before)


def running_record(store: StateStore) -> RunRecord:
    record = RunRecord(
        run_id="20260101T000000Z-abcdef",
        runbook="rb.md",
        runbook_sha256="0" * 64,
        user="alice",
        host="laptop",
        started_at=1767225600.0,
        params={},
        plan=["a", "b"],
        steps={"a": StepRecord("a"), "b": StepRecord("b")},
    )
    store.save(record)
    return record


def test_a_run_writes_two_snapshots_whatever_its_number_of_steps(tmp_path: Path) -> None:
    """Before: the whole run was re-encoded and rewritten three times per step (quadratic)."""
    body = "".join(step(f"s{number}", "true") for number in range(40))
    store = CountingStore(str(tmp_path / "state"))
    record = start_run(
        make_runbook(tmp_path, body), RunOptions(), replace(world(tmp_path), store=store)
    )
    assert record.status == "succeeded"
    assert store.snapshots == 2  # started, finished
    assert len(store.lines) == 3 * 40  # starting, running, finished
    # the last step's lines are as long as the first's (give or take digits): nothing grows
    assert max(store.lines[-3:]) <= max(store.lines[:3]) + 16
    assert not (tmp_path / "state" / "runs" / f"{record.run_id}.jsonl").exists()


def test_a_killed_run_reads_back_from_its_snapshot_and_journal(tmp_path: Path) -> None:
    store = StateStore(str(tmp_path))
    record = running_record(store)
    a = record.steps["a"]
    a.status = "starting"
    store.record_step(record, a, durable=True)
    a.status, a.exit_code, a.output = "succeeded", 0, "hello\n"
    record.variables["GREETING"] = "hello"  # as a capture does
    store.record_step(record, a, variables={"GREETING": "hello"})
    b = record.steps["b"]
    b.status, b.pgid = "running", 4242
    store.record_step(record, b)
    loaded = StateStore(str(tmp_path)).load(record.run_id)  # ops killed: no final snapshot
    assert loaded == record
    assert (loaded.steps["a"].status, loaded.steps["b"].status) == ("succeeded", "running")
    assert loaded.variables == {"GREETING": "hello"}


def test_journal_lines_older_than_the_snapshot_are_not_replayed(tmp_path: Path) -> None:
    """A crash between writing a snapshot and emptying the journal leaves stale lines."""
    store = StateStore(str(tmp_path))
    record = running_record(store)
    a = record.steps["a"]
    a.status = "starting"
    store.record_step(record, a, durable=True)
    journal = (tmp_path / "runs" / f"{record.run_id}.jsonl").read_bytes()
    a.status, a.message = "skipped", "outcome unknown: skipped (--skip-unknown)"
    store.save(record)  # as resume does; then the crash puts the old journal back
    (tmp_path / "runs" / f"{record.run_id}.jsonl").write_bytes(journal)
    loaded = store.load(record.run_id)
    assert (loaded.steps["a"].status, loaded.journal_seq) == ("skipped", 1)


def test_a_line_cut_short_is_dropped_and_the_next_one_starts_clean(tmp_path: Path) -> None:
    store = StateStore(str(tmp_path))
    record = running_record(store)
    path = tmp_path / "runs" / f"{record.run_id}.jsonl"
    a = record.steps["a"]
    a.status = "starting"
    store.record_step(record, a, durable=True)
    with path.open("ab") as handle:
        handle.write(b'{"seq":2,"step":{"na')  # ops killed mid-write: never acknowledged
    assert store.load(record.run_id).steps["a"].status == "starting"
    store = StateStore(str(tmp_path))  # the ops that goes on with the run after the crash
    a.status = "succeeded"
    store.record_step(record, a)
    assert store.load(record.run_id).steps["a"].status == "succeeded"
    assert path.read_bytes().count(b"\n") == 2


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"{]", "not JSON: Expecting property name enclosed in double quotes: line 1 column 2"),
        (b'{"seq":9}', "the file: missing field 'step'"),
        (b'{"seq":9,"step":{"name":7}}', "step.name: expected a string, got 7"),
        (b'{"seq":9,"step":{"name":"ghost"}}', "step: not in the plan and not a handler"),
        (
            b'{"seq":9,"step":{"name":"a","status":"bogus"}}',
            "step.status: expected one of succeeded, failed, skipped, timed_out, "
            "needs_confirmation, pending_manual, starting, running, pending, got 'bogus'",
        ),
        (b'{"seq":-1,"step":{}}', "seq: expected a whole number >= 0, got -1"),
        (b"\xff", "not UTF-8 text"),
    ],
    ids=["not JSON", "no step", "a name not text", "not planned", "bad status", "bad seq", "bytes"],
)
def test_a_damaged_journal_line_is_a_clear_error_naming_file_and_line(
    tmp_path: Path, line: bytes, message: str
) -> None:
    store = StateStore(str(tmp_path))
    record = running_record(store)
    a = record.steps["a"]
    a.status = "starting"
    store.record_step(record, a, durable=True)
    path = tmp_path / "runs" / f"{record.run_id}.jsonl"
    with path.open("ab") as handle:
        handle.write(line + b"\n")
    with pytest.raises(RunbookError) as raised:
        store.load(record.run_id)
    shown = str(raised.value)
    if message.startswith("not JSON"):
        shown = shown.rsplit(" (char", 1)[0]
    assert shown == f"{path}:2: run state is damaged: {message}"


def test_the_journal_holds_only_what_changed(tmp_path: Path) -> None:
    store = StateStore(str(tmp_path))
    record = running_record(store)
    b = record.steps["b"]
    b.status = "starting"
    store.record_step(record, b, durable=True)
    lines = (tmp_path / "runs" / f"{record.run_id}.jsonl").read_text().splitlines()
    # without "earlier" (it ran once): as the version before it wrote a step, which reads it
    fresh = {k: v for k, v in vars(StepRecord("b")).items() if k != "earlier"}
    assert [json.loads(line) for line in lines] == [
        {"seq": 1, "step": {**fresh, "status": "starting"}}
    ]


def test_a_steps_audit_line_is_on_disk_before_the_next_step_runs(tmp_path: Path) -> None:
    """Its sync overlaps the next step's start (its shell held at the gate while its records
    are synced), and is waited for before that step acts."""
    calls: list[str] = []  # what the run wrote, in order

    class NotingStore(StateStore):
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
            calls.append(f"{step.name} {step.status}")

        def settle(self, record: RunRecord) -> None:
            syncing = record.run_id in self._syncing
            super().settle(record)
            if syncing:
                calls.append("state synced")

    class NotingAudit(AuditLog):
        def append(self, event: dict[str, Any], *, sync_later: bool = False) -> None:
            super().append(event, sync_later=sync_later)
            later = " (sync later)" if sync_later else ""
            calls.append(f"audit {event['event']} {event.get('step', '')}".strip() + later)

        def settle(self) -> None:
            syncing = self._syncing is not None
            super().settle()
            if syncing:
                calls.append("audit synced")

    base = world(tmp_path)
    store = NotingStore(str(tmp_path / "state"))
    audit = NotingAudit(str(tmp_path / "state" / "audit.jsonl"))
    body = step("a", "true") + step("b", "true")
    start_run(make_runbook(tmp_path, body), RunOptions(), replace(base, store=store, audit=audit))
    assert calls == [
        "audit run_started",
        "a starting",
        "a running",
        "state synced",
        "a succeeded",
        "audit step_finished a (sync later)",
        "b starting",
        "b running",
        "state synced",
        "audit synced",
        "b succeeded",
        "audit step_finished b (sync later)",
        "audit synced",
        "audit run_finished",
    ]
