"""What a newcomer following the README tripped over in ``ops runbook``: each fixed, each
pinned here by its exact message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ops_toolkit.cli import main
from tests.cli.test_run_cli import FENCE, write_runbook


def _one_run(tmp_path: Path, runner: CliRunner, state: str) -> str:
    path = write_runbook(tmp_path, f'{FENCE}sh {{"name":"hello"}}\necho hi\n{FENCE}\n')
    result = runner.invoke(main, ["runbook", "run", str(path), "--json", "--state-dir", state])
    assert result.exit_code == 0, result.output
    run_id: str = json.loads(result.stdout)["run_id"]
    return run_id


def test_audit_of_a_run_that_does_not_exist_is_the_error_runs_and_resume_give(
    tmp_path: Path, runner: CliRunner
) -> None:
    state = str(tmp_path / "state")
    run_id = _one_run(tmp_path, runner, state)
    expected = (
        f"Error: no run 'nosuch' in {state}/runs; recent runs: {run_id} (see 'ops runbook runs')\n"
    )
    for command in ("audit", "runs", "resume"):
        result = runner.invoke(main, ["runbook", command, "nosuch", "--state-dir", state])
        assert (result.exit_code, result.output) == (1, expected), command


def test_audit_names_the_file_it_read_when_it_finds_nothing(
    tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    result = runner.invoke(main, ["runbook", "audit", "--state-dir", str(state)])
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == f"no audit records in {state}/audit.jsonl (from --state-dir)\n"
    monkeypatch.setenv("OPS_STATE_DIR", str(state))
    assert runner.invoke(main, ["runbook", "audit"]).stderr == (
        f"no audit records in {state}/audit.jsonl (from OPS_STATE_DIR)\n"
    )
    run_id = _one_run(tmp_path, runner, str(state))
    (state / "audit.jsonl").unlink()  # the run's record is there, its audit lines are not
    result = runner.invoke(main, ["runbook", "audit", run_id])
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == (
        f"no audit records of run {run_id} in {state}/audit.jsonl (from OPS_STATE_DIR)\n"
    )


def test_audit_of_a_run_prints_its_lines_and_nothing_on_stderr(
    tmp_path: Path, runner: CliRunner
) -> None:
    state = str(tmp_path / "state")
    run_id = _one_run(tmp_path, runner, state)
    result = runner.invoke(main, ["runbook", "audit", run_id, "--json", "--state-dir", state])
    assert result.exit_code == 0
    assert result.stderr == ""
    events = json.loads(result.stdout)
    assert [e["event"] for e in events] == ["run_started", "step_finished", "run_finished"]
