"""A plan's history: progress adds up from events; the file survives a torn last line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops_toolkit.errors import ConfigError
from ops_toolkit.rollout.history import History, progress

STAGES = ["pilot", "department", "all-staff"]


def event(kind: str, stage: str, at: float, status: str | None = None) -> dict[str, object]:
    out: dict[str, object] = {"event": kind, "stage": stage, "at": at, "run_id": f"r{at:g}"}
    if status:
        out["status"] = status
    return out


def test_no_events_is_before_the_first_stage() -> None:
    state = progress([], STAGES)
    assert (state.stage, state.since, state.pending) == (None, None, None)


def test_a_finished_advance_enters_the_stage_and_a_failed_one_does_not() -> None:
    events = [
        event("advance_started", "pilot", 1),
        event("advance_finished", "pilot", 2, "succeeded"),
        event("advance_started", "department", 3),
        event("advance_finished", "department", 4, "failed"),
    ]
    state = progress(events, STAGES)
    assert (state.stage, state.since, state.pending) == ("pilot", 2.0, None)


def test_a_started_advance_without_its_finish_is_pending() -> None:
    events = [event("advance_started", "pilot", 1)]
    state = progress(events, STAGES)
    assert state.stage is None
    assert state.pending is not None and state.pending["run_id"] == "r1"


def test_a_rollback_goes_back_one_stage_and_restarts_the_clock() -> None:
    events = [
        event("advance_started", "pilot", 1),
        event("advance_finished", "pilot", 2, "succeeded"),
        event("advance_started", "department", 3),
        event("advance_finished", "department", 4, "succeeded"),
        event("rollback_started", "department", 5),
        event("rollback_finished", "department", 6, "succeeded"),
    ]
    state = progress(events, STAGES)
    assert (state.stage, state.since) == ("pilot", 6.0)


def test_appends_start_on_a_fresh_line_after_a_torn_write(tmp_path: Path) -> None:
    path = tmp_path / "plan.history.jsonl"
    history = History(str(path))
    history.append(event("advance_started", "pilot", 1))
    with open(path, "a") as handle:
        handle.write('{"event": "advance_fin')  # the process died mid-write
    assert [e["event"] for e in history.read()] == ["advance_started"]
    history.append(event("advance_finished", "pilot", 2, "succeeded"))
    assert [e["event"] for e in history.read()] == ["advance_started", "advance_finished"]


def test_a_damaged_line_in_the_middle_names_its_place(tmp_path: Path) -> None:
    path = tmp_path / "plan.history.jsonl"
    path.write_text('{"event": "advance_started", "stage": "pilot", "at": 1}\nnot json\n{}\n')
    with pytest.raises(ConfigError) as caught:
        History(str(path)).read()
    assert str(caught.value) == f"{path}:2: not a JSON event"


def test_one_advance_at_a_time(tmp_path: Path) -> None:
    history = History(str(tmp_path / "plan.history.jsonl"))
    with (
        history.locked(),
        pytest.raises(ConfigError, match="another advance or rollback"),
        History(history.path).locked(),
    ):
        pass


def test_a_run_that_ended_failed_waiting_or_aborted_stays_pending() -> None:
    """Its succeeded steps changed the world: the next advance goes on with that run."""
    for status in ("failed", "waiting", "aborted"):
        events = [
            event("advance_started", "pilot", 1),
            {**event("advance_finished", "pilot", 2, status), "run_id": "r1"},
        ]
        state = progress(events, STAGES)
        assert state.pending is not None and state.pending["run_id"] == "r1", status
        assert (state.stage, state.pending_status, state.pending_at) == (None, status, 2.0)


def test_succeeded_or_abandoned_closes_a_pending_run() -> None:
    for status, stage in (("succeeded", "pilot"), ("abandoned", None)):
        events = [
            event("advance_started", "pilot", 1),
            {**event("advance_finished", "pilot", 2, "failed"), "run_id": "r1"},
            {**event("advance_finished", "pilot", 3, status), "run_id": "r1"},
        ]
        state = progress(events, STAGES)
        assert (state.stage, state.pending, state.pending_status) == (stage, None, None)


def test_a_failed_finish_of_another_run_does_not_make_it_pending() -> None:
    events = [
        event("advance_started", "pilot", 1),
        {**event("advance_finished", "pilot", 2, "failed"), "run_id": "someone-else"},
    ]
    assert progress(events, STAGES).pending is None
