"""ops killed (SIGKILL) as a step starts: resume never runs that step again unasked."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ops_toolkit.runbook.state import StateStore
from tests.cli.test_run_cli import FENCE, ops, write_runbook


def killed_as_the_step_starts(tmp_path: Path) -> str:
    """A run whose step ``act`` SIGKILLs ops as its first action; returns the run id."""
    body = (
        f'{FENCE}sh {{"name":"act"}}\n'
        f"echo act >> {tmp_path}/log\n"
        f"if [ ! -e {tmp_path}/killed ]; then touch {tmp_path}/killed; kill -KILL $PPID; fi\n"
        f"{FENCE}\n\n"
        f'{FENCE}sh {{"name":"after"}}\necho after >> {tmp_path}/log\n{FENCE}\n'
    )
    path = write_runbook(tmp_path, body)
    state = tmp_path / "state"
    argv = [sys.executable, "-m", "ops_toolkit", "runbook", "run", str(path)]
    killed = subprocess.run(
        [*argv, "--state-dir", str(state), "--non-interactive"],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        check=False,
        timeout=60,
    )
    assert killed.returncode == -9
    run_id = next((state / "runs").glob("[!.]*.json")).stem  # not a save cut short
    saved = StateStore(str(state)).load(run_id)  # the snapshot and its journal
    assert saved.steps["act"].status in ("starting", "running")
    return run_id


def test_resume_refuses_a_step_that_may_have_run_and_names_it(tmp_path: Path) -> None:
    run_id = killed_as_the_step_starts(tmp_path)
    refused = ops("runbook", "resume", run_id, "--state-dir", str(tmp_path / "state"))
    assert refused.returncode == 1
    assert refused.stderr == (
        f"Error: run {run_id}: step 'act' may have run: ops stopped before recording its "
        f"outcome; check what it did, then 'ops runbook resume {run_id} --rerun-unknown' runs "
        "it again, '--skip-unknown' goes on after it\n"
    )
    assert (tmp_path / "log").read_text() == "act\n"


@pytest.mark.parametrize(
    ("flag", "log", "act"),
    [
        ("--rerun-unknown", "act\nact\nafter\n", "succeeded"),
        ("--skip-unknown", "act\nafter\n", "skipped"),
    ],
)
def test_resume_runs_it_again_or_skips_it_when_told(
    tmp_path: Path, flag: str, log: str, act: str
) -> None:
    run_id = killed_as_the_step_starts(tmp_path)
    state = str(tmp_path / "state")
    resumed = ops("runbook", "resume", run_id, "--state-dir", state, "--json", flag)
    assert resumed.returncode == 0, resumed.stderr
    document = json.loads(resumed.stdout)
    assert [(s["name"], s["status"]) for s in document["steps"]] == [
        ("act", act),
        ("after", "succeeded"),
    ]
    assert (tmp_path / "log").read_text() == log


def test_rerun_and_skip_together_is_a_usage_error(tmp_path: Path) -> None:
    result = ops(
        "runbook", "resume", "x", "--state-dir", str(tmp_path), "--rerun-unknown", "--skip-unknown"
    )
    assert result.returncode == 2
    assert "give --rerun-unknown or --skip-unknown, not both" in result.stderr


def test_a_run_in_progress_in_another_ops_cannot_be_resumed(tmp_path: Path) -> None:
    """Between two attempts of a step no process runs: only the run's lock tells."""
    body = (
        f'{FENCE}sh {{"name":"flaky","retries":"1","retry_delay":"1h"}}\n'
        f"touch {tmp_path}/attempted; exit 1\n{FENCE}\n"
    )
    path = write_runbook(tmp_path, body)
    state = tmp_path / "state"
    argv = [sys.executable, "-m", "ops_toolkit", "runbook", "run", str(path)]
    running = subprocess.Popen(
        [*argv, "--state-dir", str(state), "--non-interactive"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "attempted").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        run_id = next((state / "runs").glob("[!.]*.json")).stem
        refused = ops(
            "runbook", "resume", run_id, "--state-dir", str(state), "--rerun-unknown", timeout=60
        )
        assert refused.returncode == 1
        assert refused.stderr == (
            f"Error: run {run_id} is in progress in another ops process (pid {running.pid} on "
            f"{socket.gethostname()}); wait for it to end or stop it, then resume\n"
        )
    finally:
        running.send_signal(signal.SIGTERM)
        running.wait(timeout=60)
    assert not (state / "runs" / f"{run_id}.lock").exists()
    saved = json.loads((state / "runs" / f"{run_id}.json").read_text())
    assert saved["status"] == "aborted"
