"""A plan's history: progress adds up from events; the file survives a torn last line."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
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


TOKEN = b"ghp_ExampleTokenFileWithoutTrailingNewline"


def test_a_link_planted_at_the_history_is_refused_and_its_target_left_alone(
    tmp_path: Path,
) -> None:
    """Before: append followed the link and cut the target's 'torn tail' (all of a one-line
    file without a newline, a token file) to nothing, then appended an event to it."""
    victim = tmp_path / "victim.bin"
    victim.write_bytes(TOKEN)
    path = tmp_path / "search.history.jsonl"
    path.symlink_to(victim)
    history = History(str(path))
    message = (
        f"{path}: is a symbolic link; ops does not follow one (put the history file itself there)"
    )
    with pytest.raises(ConfigError) as appending:
        history.append(event("advance_started", "pilot", 1))
    with pytest.raises(ConfigError) as reading:
        history.read()
    assert str(appending.value) == str(reading.value) == message
    assert victim.read_bytes() == TOKEN


def test_a_link_planted_at_the_lock_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    target = tmp_path / "created-by-ops"
    lock = tmp_path / "search.history.jsonl.lock"
    lock.symlink_to(target)  # dangling: O_CREAT through it would create the target
    with (
        pytest.raises(ConfigError) as caught,
        History(str(tmp_path / "search.history.jsonl")).locked(),
    ):
        pass
    assert str(caught.value) == (
        f"{lock}: is a symbolic link; ops does not follow one (put the lock file itself there)"
    )
    assert not target.exists()


def test_a_file_that_is_not_our_history_is_never_cut(tmp_path: Path) -> None:
    """A torn tail is repaired only when it is the start of one of our events."""
    path = tmp_path / "search.history.jsonl"
    path.write_bytes(TOKEN)
    history = History(str(path))
    with pytest.raises(ConfigError) as reading:
        history.read()
    assert str(reading.value) == f"{path}:1: not a JSON event"
    with pytest.raises(ConfigError) as appending:
        history.append(event("advance_started", "pilot", 1))
    assert str(appending.value) == (
        f"{path}: its last line is not one of ops's events cut short; ops appends only to a "
        "rollout history it wrote (is this the plan's history?)"
    )
    assert path.read_bytes() == TOKEN


def test_a_whole_last_event_without_its_newline_is_kept(tmp_path: Path) -> None:
    """An editor that drops the final newline: before, append cut that event off."""
    path = tmp_path / "search.history.jsonl"
    path.write_text(json.dumps(event("advance_started", "pilot", 1)))
    history = History(str(path))
    history.append(event("advance_finished", "pilot", 2, "failed"))
    assert [e["event"] for e in history.read()] == ["advance_started", "advance_finished"]


def test_history_and_lock_are_created_readable_by_the_group_only(tmp_path: Path) -> None:
    history = History(str(tmp_path / "rollouts" / "search.history.jsonl"))
    previous = os.umask(0o022)
    try:
        with history.locked():
            history.append(event("advance_started", "pilot", 1))
    finally:
        os.umask(previous)
    for name in ("search.history.jsonl", "search.history.jsonl.lock"):
        assert stat.S_IMODE((tmp_path / "rollouts" / name).stat().st_mode) == 0o640, name


def test_a_fifo_at_the_history_is_an_error_not_a_hang(tmp_path: Path) -> None:
    path = tmp_path / "search.history.jsonl"
    os.mkfifo(path)
    with pytest.raises(ConfigError) as caught:
        History(str(path)).read()
    assert str(caught.value) == f"{path}: is not a regular file, expected the history file"


def test_ops_rollout_advance_refuses_a_planted_history_link(project: Path) -> None:
    victim = project / "victim.bin"
    victim.write_bytes(TOKEN)
    (project / "rollouts" / "p3.history.jsonl").symlink_to(victim)
    result = CliRunner().invoke(main, ["rollout", "advance", "p3", "--yes"])
    assert (result.exit_code, result.output) == (
        1,
        "Error: rollouts/p3.history.jsonl: is a symbolic link; ops does not follow one "
        "(put the history file itself there)\n",
    )
    assert victim.read_bytes() == TOKEN and not (project / "access.conf").exists()


def _entered_pilot(path: Path, mode: int) -> None:
    path.write_text(
        "".join(
            json.dumps(event(kind, "pilot", 1, "succeeded"), sort_keys=True) + "\n"
            for kind in ("advance_started", "advance_finished")
        )
    )
    os.chmod(path, mode)


@pytest.mark.parametrize(
    ("before", "after"),
    [(0o644, 0o640), (0o666, 0o640), (0o4755, 0o640), (0o604, 0o600), (0o600, 0o600)],
    ids=["0644", "0666", "4755", "0604", "0600"],
)
def test_a_history_of_ours_wider_than_0640_is_narrowed_when_opened(
    tmp_path: Path, before: int, after: int
) -> None:
    """Before: a history an older ops created 0644 (readable by every user of the host)
    stayed so; only new ones were 0640. Narrower bits are kept (0604 -> 0600)."""
    path = tmp_path / "search.history.jsonl"
    _entered_pilot(path, before)
    assert [e["event"] for e in History(str(path)).read()] == [
        "advance_started",
        "advance_finished",
    ]
    assert stat.S_IMODE(path.stat().st_mode) == after


@pytest.mark.parametrize(
    "command",
    [["status", "p3"], ["report", "p3"], ["advance", "p3", "--yes"]],
    ids=["status", "report", "advance"],
)
def test_ops_rollout_narrows_a_0644_history_and_its_lock_and_says_nothing(
    project: Path, command: list[str]
) -> None:
    history = project / "rollouts" / "p3.history.jsonl"
    _entered_pilot(history, 0o644)
    lock = project / "rollouts" / "p3.history.jsonl.lock"
    lock.touch(mode=0o644)
    (project / "reload-ok").touch()  # the runbook's 'reload' step succeeds
    result = CliRunner().invoke(main, ["rollout", *command])
    assert result.exit_code == 0, result.output
    assert "0640" not in result.output and "mode" not in result.output
    assert stat.S_IMODE(history.stat().st_mode) == 0o640
    if command[0] == "advance":  # it ran the stage's runbook under the lock
        assert (project / "access.conf").read_text() == "stage=department\n"
        assert stat.S_IMODE(lock.stat().st_mode) == 0o640


def test_a_history_another_user_owns_is_left_at_its_mode(tmp_path: Path) -> None:
    """Its owner set it (ops, run as root here, can read it): not ops's to change."""
    path = tmp_path / "search.history.jsonl"
    _entered_pilot(path, 0o644)
    os.chown(path, 65534, 65534)  # nobody: the tests run as root, as CI does
    history = History(str(path))
    assert len(history.read()) == 2
    history.append(event("advance_started", "department", 2))
    found = path.stat()
    assert (stat.S_IMODE(found.st_mode), found.st_uid) == (0o644, 65534)
