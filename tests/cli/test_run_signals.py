"""A real ``ops runbook run`` told to stop (SIGTERM, SIGHUP, Ctrl-C) ends the run cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from subprocess import Popen

import pytest

from tests.cli.test_run_cli import FENCE, write_runbook
from tests.runbook.test_process import alive


def steps(work: Path) -> str:
    return (
        f'{FENCE}sh {{"name":"long"}}\n'
        f"setsid sleep 1000 > /dev/null 2>&1 < /dev/null & echo $! > {work}/escaped.pid\n"
        f"echo $$ > {work}/main.pid\n"
        "trap '' TERM\n"  # a step that ignores SIGTERM still ends: SIGKILL after the grace
        f"touch {work}/started\n"
        "sleep 1000\n"
        f"{FENCE}\n\n"
        f'{FENCE}sh {{"name":"after"}}\ntouch {work}/after-ran\n{FENCE}\n'
    )


def start_ops(
    tmp_path: Path, grace: str, stopped_at_teardown: Callable[[Popen[str]], Popen[str]]
) -> Popen[str]:
    process = stopped_at_teardown(
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ops_toolkit",
                "runbook",
                "run",
                str(write_runbook(tmp_path, steps(tmp_path))),
                "--state-dir",
                str(tmp_path / "state"),
                "--non-interactive",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "OPS_KILL_GRACE": grace},
        )
    )
    deadline = time.monotonic() + 30
    while not (tmp_path / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (tmp_path / "started").exists()
    return process


def assert_aborted(tmp_path: Path, process: Popen[str], name: str) -> None:
    _, stderr = process.communicate(timeout=60)
    # 128 + the signal, as shells report it: Ctrl-C (SIGINT) exits 130 (before: 1)
    assert process.returncode == 128 + signal.Signals[name].value
    run_id = next((tmp_path / "state" / "runs").glob("*.json")).stem
    assert f"Run aborted. Resume with: ops runbook resume {run_id}" in stderr
    saved = json.loads((tmp_path / "state" / "runs" / f"{run_id}.json").read_text())
    assert saved["status"] == "aborted"
    assert saved["steps"]["long"]["status"] == "failed"
    assert saved["steps"]["long"]["message"] == f"interrupted by {name}"
    assert saved["steps"]["after"]["status"] == "pending"
    audit = [
        json.loads(line) for line in (tmp_path / "state" / "audit.jsonl").read_text().splitlines()
    ]
    assert [(e["event"], e.get("step"), e.get("status")) for e in audit] == [
        ("run_started", None, None),
        ("step_finished", "long", "failed"),
        ("run_finished", None, "aborted"),
    ]
    assert not (tmp_path / "after-ran").exists()
    for pid_file in ("main.pid", "escaped.pid"):
        pid = int((tmp_path / pid_file).read_text())
        # SIGKILL is sent before ops exits; the kernel may take a moment to end the process.
        deadline = time.monotonic() + 10
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(pid), pid_file


@pytest.mark.parametrize(
    "number", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=lambda number: number.name
)
def test_a_signal_stops_the_step_and_records_the_run_as_aborted(
    tmp_path: Path,
    number: signal.Signals,
    stopped_at_teardown: Callable[[Popen[str]], Popen[str]],
) -> None:
    process = start_ops(tmp_path, "0.5", stopped_at_teardown)
    process.send_signal(number)
    assert_aborted(tmp_path, process, number.name)


def test_a_second_signal_skips_the_grace_and_the_run_is_still_recorded(
    tmp_path: Path, stopped_at_teardown: Callable[[Popen[str]], Popen[str]]
) -> None:
    process = start_ops(tmp_path, "3600", stopped_at_teardown)
    process.send_signal(signal.SIGTERM)
    # The second must come after ops took the first: two pending SIGTERMs merge into one, and
    # ops would wait out the hour (a fixed 0.5 s pause lost that race under load). The escaped
    # sleep does not ignore SIGTERM, so its end shows that ops is stopping the step and now
    # waits out the grace for the main process, which ignores it.
    escaped = int((tmp_path / "escaped.pid").read_text())
    deadline = time.monotonic() + 30
    while alive(escaped):
        assert time.monotonic() < deadline, "ops did not start stopping the step"
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    assert_aborted(tmp_path, process, "SIGTERM")
