"""The audit trail survives a record cut short, and says clearly when it cannot be written."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from ops_toolkit.errors import RunbookError
from ops_toolkit.runbook.audit import AuditLog
from ops_toolkit.runbook.execute import RunOptions, start_run
from tests.runbook.test_execute import make_runbook, step, world

CUT_SHORT = '{"event":"step_fin'  # a writer killed mid-line


def test_a_record_after_a_cut_short_line_starts_on_a_fresh_line(tmp_path: Path) -> None:
    audit = tmp_path / "state" / "audit.jsonl"
    audit.parent.mkdir()
    audit.write_text('{"event":"run_started","run_id":"old"}\n' + CUT_SHORT)
    record = start_run(make_runbook(tmp_path, step("a", "true")), RunOptions(), world(tmp_path))
    lines = audit.read_text().split("\n")
    assert lines[1] == CUT_SHORT
    assert [json.loads(line)["event"] for line in lines[2:] if line] == [
        "run_started",
        "step_finished",
        "run_finished",
    ]
    trail = AuditLog(str(audit)).read()
    assert [(e["run_id"], e["event"]) for e in trail.events] == [
        ("old", "run_started"),
        (record.run_id, "run_started"),
        (record.run_id, "step_finished"),
        (record.run_id, "run_finished"),
    ]
    assert trail.damaged == [
        f"{audit}:2: damaged record skipped (Unterminated string starting at: line 1 column "
        "10 (char 9))"
    ]


def test_the_reader_skips_lines_that_are_not_events(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    audit.write_bytes(b'[1]\n\xff\xfe\n{"event":"run_started"}\n\n')
    trail = AuditLog(str(audit)).read()
    assert trail.events == [{"event": "run_started"}]
    assert trail.damaged == [
        f"{audit}:1: damaged record skipped (not an event)",
        f"{audit}:2: damaged record skipped (not UTF-8)",
    ]


def test_the_reader_skips_a_line_nested_too_deeply(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    deep = b'{"event": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    audit.write_bytes(deep + b'\n{"event":"run_started"}\n')
    trail = AuditLog(str(audit)).read()
    assert trail.events == [{"event": "run_started"}]
    assert trail.damaged == [f"{audit}:1: damaged record skipped (nested too deeply)"]


def test_an_audit_path_that_is_a_directory_stops_the_run_before_any_step(tmp_path: Path) -> None:
    audit = tmp_path / "state" / "audit.jsonl"
    audit.mkdir(parents=True)
    runbook = make_runbook(tmp_path, step("a", "touch ran", cwd=str(tmp_path)))
    with pytest.raises(RunbookError) as raised:
        start_run(runbook, RunOptions(), world(tmp_path))
    assert str(raised.value) == f"{audit}: cannot write the audit trail: Is a directory"
    assert not (tmp_path / "ran").exists()
    saved = json.loads(next((tmp_path / "state" / "runs").glob("*.json")).read_text())
    assert saved["status"] == "failed"


def test_the_cli_says_so_in_one_line(tmp_path: Path, runner: CliRunner) -> None:
    (tmp_path / "state" / "audit.jsonl").mkdir(parents=True)
    path = make_runbook(tmp_path, step("a", "true")).source
    result = runner.invoke(main, ["runbook", "run", path, "--state-dir", str(tmp_path / "state")])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {tmp_path}/state/audit.jsonl: cannot write the audit trail: Is a directory\n"
    )


def test_ops_runbook_audit_lists_a_runs_records_and_names_damaged_lines(
    tmp_path: Path, runner: CliRunner
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "audit.jsonl").write_text(CUT_SHORT)
    record = start_run(make_runbook(tmp_path, step("a", "true")), RunOptions(), world(tmp_path))
    result = runner.invoke(
        main, ["runbook", "audit", record.run_id, "--json", "--state-dir", str(state)]
    )
    assert result.exit_code == 0
    assert [e["event"] for e in json.loads(result.stdout)] == [
        "run_started",
        "step_finished",
        "run_finished",
    ]
    assert result.stderr == (
        f"warning: {state}/audit.jsonl:1: damaged record skipped (Unterminated string "
        "starting at: line 1 column 10 (char 9))\n"
    )
    text = runner.invoke(main, ["runbook", "audit", "--state-dir", str(state)])
    assert f"{record.run_id}  step_finished  a  succeeded" in text.stdout


def test_a_symlinked_audit_file_is_refused_and_its_target_left_alone(tmp_path: Path) -> None:
    """Was: appended through the link, to whatever file it named."""
    target = tmp_path / "victim.txt"
    target.write_text("precious\n")
    (tmp_path / "state").mkdir()
    audit = tmp_path / "state" / "audit.jsonl"
    audit.symlink_to(target)
    runbook = make_runbook(tmp_path, step("a", f"touch {tmp_path}/ran"))
    with pytest.raises(RunbookError) as raised:
        start_run(runbook, RunOptions(), world(tmp_path))
    assert str(raised.value) == (
        f"{audit}: cannot write the audit trail: it is a symbolic link; ops does not follow one "
        "(replace it with a file)"
    )
    assert target.read_text() == "precious\n"
    assert not (tmp_path / "ran").exists()


def test_a_symlinked_runs_folder_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "runs").symlink_to(elsewhere)
    runbook = make_runbook(tmp_path, step("a", f"touch {tmp_path}/ran"))
    with pytest.raises(RunbookError) as raised:
        start_run(runbook, RunOptions(), world(tmp_path))
    assert str(raised.value) == (
        f"{tmp_path}/state/runs: cannot keep run state there: it is a symbolic link; ops does "
        "not follow one (replace it with a directory)"
    )
    assert list(elsewhere.iterdir()) == []
    assert not (tmp_path / "ran").exists()


def test_a_new_state_dir_and_its_files_are_private(tmp_path: Path) -> None:
    """Was: state/ and runs/ 0755 under umask 022 (run records hold step output)."""
    old = os.umask(0o022)
    try:
        runbook = make_runbook(tmp_path, step("a", "true"))
        record = start_run(runbook, RunOptions(), world(tmp_path))
    finally:
        os.umask(old)
    state = tmp_path / "state"
    modes = {
        str(path.relative_to(tmp_path)): stat.S_IMODE(path.stat().st_mode)
        for path in (
            state,
            state / "runs",
            state / "audit.jsonl",
            state / "runs" / f"{record.run_id}.json",
        )
    }
    assert modes == {
        "state": 0o700,
        "state/runs": 0o700,
        "state/audit.jsonl": 0o600,
        f"state/runs/{record.run_id}.json": 0o600,
    }


def test_the_first_line_creates_the_trails_directory_private(tmp_path: Path) -> None:
    """The directory is made only when the file cannot be opened (issue 15: not per line)."""
    log = AuditLog(str(tmp_path / "state" / "audit.jsonl"))
    log.append({"event": "run_started"})
    log.append({"event": "run_finished"}, sync_later=True)
    log.settle()
    assert [e["event"] for e in log.read().events] == ["run_started", "run_finished"]
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700
