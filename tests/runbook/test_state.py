"""Damaged run state files are clear errors naming the file and the field; others still list."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.errors import RunbookError
from ops_toolkit.runbook.execute import RunOptions, start_run
from ops_toolkit.runbook.state import StateStore
from tests.runbook.test_execute import make_runbook, step, world

Edit = Callable[[dict[str, Any]], Any]


def a_run(tmp_path: Path) -> Path:
    """The state file of a real, finished run of steps ``a`` and ``b``."""
    runbook = make_runbook(tmp_path, step("a", "true") + step("b", "true"))
    record = start_run(runbook, RunOptions(), world(tmp_path))
    return tmp_path / "state" / "runs" / f"{record.run_id}.json"


def changed(edit: Edit) -> Edit:
    def apply(data: dict[str, Any]) -> Any:
        edit(data)
        return data

    return apply


STEP_STATUSES = (
    "succeeded, failed, skipped, timed_out, needs_confirmation, pending_manual, starting, "
    "running, pending"
)
DAMAGES: list[tuple[str, Edit, str]] = [
    ("a list, not an object", lambda d: [1], "the file: expected an object, got [1]"),
    (
        "a time that is text",
        changed(lambda d: d.update(started_at="yesterday")),
        "started_at: expected seconds since 1970, got 'yesterday'",
    ),
    (
        "a time out of range",
        changed(lambda d: d.update(finished_at=1e300)),
        "finished_at: expected seconds since 1970, got 1e+300",
    ),
    (
        "a time that is NaN",
        changed(lambda d: d["steps"]["a"].update(started_at=float("nan"))),
        "steps.a.started_at: expected seconds since 1970, got nan",
    ),
    (
        "an unknown step status",
        changed(lambda d: d["steps"]["a"].update(status="bogus")),
        f"steps.a.status: expected one of {STEP_STATUSES}, got 'bogus'",
    ),
    (
        "an unknown run status",
        changed(lambda d: d.update(status=None)),
        "status: expected one of running, succeeded, failed, aborted, waiting, got None",
    ),
    (
        "a step not in the plan",
        changed(lambda d: d["steps"].update(ghost={"name": "ghost"})),
        "steps.ghost: not in the plan and not a handler",
    ),
    (
        "a planned step without a record",
        changed(lambda d: d["steps"].pop("b")),
        "plan[1]: step 'b' has no record in steps",
    ),
    (
        "a step under another step's name",
        changed(lambda d: d["steps"]["a"].update(name="b")),
        "steps.a.name: 'b' is not its key 'a'",
    ),
    (
        "a param that is not text",
        changed(lambda d: d["params"].update(SERVICE=3)),
        "params.SERVICE: expected a string, got 3",
    ),
    (
        "a process group that is a boolean",
        changed(lambda d: d["steps"]["a"].update(pgid=True)),
        "steps.a.pgid: expected a process group id, got True",
    ),
    (
        "attempts that are negative",
        changed(lambda d: d["steps"]["b"].update(attempts=-1)),
        "steps.b.attempts: expected a whole number >= 0, got -1",
    ),
    (
        "a steps field that is a list",
        changed(lambda d: d.update(steps=[])),
        "steps: expected an object, got []",
    ),
    ("an unknown field", changed(lambda d: d.update(colour="red")), "colour: unknown field"),
    ("a missing field", changed(lambda d: d.pop("plan")), "the file: missing field 'plan'"),
    (
        "a run id that is not the file's",
        changed(lambda d: d.update(run_id="other")),
        "run_id: 'other' is not the file's name",
    ),
]


@pytest.mark.parametrize(("damage", "edit", "message"), DAMAGES, ids=[d[0] for d in DAMAGES])
def test_a_damaged_state_file_is_a_clear_error(
    tmp_path: Path, damage: str, edit: Edit, message: str
) -> None:
    path = a_run(tmp_path)
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    with pytest.raises(RunbookError) as raised:
        StateStore(str(tmp_path / "state")).load(path.stem)
    assert str(raised.value) == f"{path}: run state is damaged: {message}"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"run_id": ', "not JSON: Expecting value: line 1 column 12 (char 11)"),
        (b"", "not JSON: Expecting value: line 1 column 1 (char 0)"),
        (b"\xff{}", "not UTF-8 text"),
        (b'{"run_id": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
        (
            b'{"run_id": ' + b"[" * 900 + b"]" * 900 + b"}",
            "run_id: expected a run id, got " + "[" * 37 + "...",
        ),
    ],
    ids=["cut short", "empty", "not UTF-8", "nested 100,000 deep", "nested 900 deep"],
)
def test_a_state_file_that_is_not_json_is_a_clear_error(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = a_run(tmp_path)
    path.write_bytes(content)
    with pytest.raises(RunbookError) as raised:
        StateStore(str(tmp_path / "state")).load(path.stem)
    assert str(raised.value) == f"{path}: run state is damaged: {message}"


def test_runs_lists_the_good_runs_and_names_the_damaged_one(
    tmp_path: Path, runner: CliRunner
) -> None:
    good = a_run(tmp_path)
    damaged = a_run(tmp_path)
    data = json.loads(damaged.read_text())
    data["started_at"] = "yesterday"  # before: a crash sorting the runs
    damaged.write_text(json.dumps(data))
    (good.parent / ".tmp-unfinished.json").write_text('{"run_')  # a save cut short: ignored
    state = str(tmp_path / "state")
    listing = runner.invoke(main, ["runbook", "runs", "--json", "--state-dir", state])
    assert listing.exit_code == 1
    assert [r["run_id"] for r in json.loads(listing.stdout)] == [good.stem]
    assert listing.stderr == (
        f"Error: {damaged}: run state is damaged: started_at: expected seconds since 1970, "
        "got 'yesterday'\n"
    )
    table = runner.invoke(main, ["runbook", "runs", "--state-dir", state])
    assert table.exit_code == 1 and table.stdout.count("succeeded") == 1
    assert table.stderr.endswith(f"1 run(s) in {state} (from --state-dir)\n{listing.stderr}")
    shown = runner.invoke(main, ["runbook", "runs", damaged.stem, "--state-dir", state])
    assert shown.exit_code == 1
    assert shown.output.startswith(f"Error: {damaged}: run state is damaged: started_at: ")
    resumed = runner.invoke(main, ["runbook", "resume", damaged.stem, "--state-dir", state])
    assert resumed.exit_code == 1
    assert resumed.output.startswith(f"Error: {damaged}: run state is damaged: started_at: ")


def test_a_journal_line_nested_too_deeply_names_the_line(tmp_path: Path) -> None:
    path = a_run(tmp_path)
    journal = path.with_suffix(".jsonl")
    journal.write_bytes(b'{"seq": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n")
    with pytest.raises(RunbookError) as raised:
        StateStore(str(tmp_path / "state")).load(path.stem)
    assert str(raised.value) == f"{journal}:1: run state is damaged: nested too deeply"
