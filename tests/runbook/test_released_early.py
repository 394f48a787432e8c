"""A shell held at ops's gate and let go by another process is recorded as maybe started.

ops starts the next step's shell ahead, held at its gate (``kinds.GATE``: it reads a line
from a pipe). Any process of the same user can write that line through
``/proc/<pid>/fd/0``: here step one does, waits until step two has run, then fails or
succeeds. Before, step two ran out of turn and the record said "not reached" (a resume ran
it again). Now the run fails naming the step, which is recorded as ``starting`` (resume
asks), shown as ``unknown``, and audited as ``step_released_early``. Real processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ops_toolkit.errors import RunbookError
from ops_toolkit.runbook.execute import (
    RELEASED_EARLY,
    RunOptions,
    resume_run,
    run_document,
    start_run,
)
from ops_toolkit.runbook.kinds import GATE
from ops_toolkit.runbook.process import start_held
from ops_toolkit.runbook.report import render_markdown
from tests.runbook.test_execute import make_runbook, statuses, step, world

# Run by step one: lets go every shell held at ops's gate beside its own (a child of ops
# whose command line holds the gate), then waits until the marker says step two ran.
RELEASE = """
import os, sys, time
marker = sys.argv[1]
ours = os.getppid()
with open(f"/proc/{ours}/stat") as handle:
    ops = int(handle.read().rsplit(")", 1)[1].split()[1])
deadline = time.monotonic() + 30
released = []
while not released:
    assert time.monotonic() < deadline, "no held shell to let go"
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in (os.getpid(), ours):
            continue
        try:
            with open(f"/proc/{name}/stat") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{name}/cmdline", "rb") as handle:
                command = handle.read()
        except OSError:
            continue
        if parent == ops and b"_ops_gate" in command:
            with open(f"/proc/{name}/fd/0", "w") as gate:
                gate.write("go\\n")
            released.append(name)
    time.sleep(0.01)
while not os.path.exists(marker):
    assert time.monotonic() < deadline, "the shell let go did not run"
    time.sleep(0.01)
print("released", len(released))
"""


OPS = [sys.executable, "-m", "ops_toolkit", "runbook"]


def two_steps(tmp_path: Path, one_exits: int):  # type: ignore[no-untyped-def]
    """A runbook (and its path) whose step one lets step two's held shell go, then exits
    ``one_exits``; and the marker step two leaves."""
    helper = tmp_path / "release.py"
    helper.write_text(RELEASE)
    marker = tmp_path / "two-ran"
    body = step("one", f"{sys.executable} {helper} {marker}\nexit {one_exits}")
    body += step("two", f"echo promoted; touch {marker}")
    return make_runbook(tmp_path, body), tmp_path / "rb.md", marker


def test_a_shell_let_go_while_the_step_before_fails_is_recorded_as_maybe_started(
    tmp_path: Path,
) -> None:
    runbook, _, marker = two_steps(tmp_path, one_exits=1)
    record = start_run(runbook, RunOptions(), world(tmp_path))
    assert marker.exists()  # it did run: the record must not say otherwise
    assert record.status == "failed"
    assert statuses(record) == [("one", "failed"), ("two", "unknown")]
    two = record.steps["two"]
    assert (two.status, two.message, two.output) == ("starting", RELEASED_EARLY, "promoted\n")
    assert run_document(record)["steps"][1]["message"] == RELEASED_EARLY
    report = render_markdown(run_document(record), record, "Test")
    assert f"| two | ❓ unknown |  |  | {RELEASED_EARLY} |" in report
    events = [line for line in (tmp_path / "state" / "audit.jsonl").read_text().splitlines()]
    early = [line for line in events if '"step_released_early"' in line]
    assert len(early) == 1 and '"step":"two"' in early[0] and '"status":"unknown"' in early[0]
    assert f'"error":"step \'two\': {RELEASED_EARLY}"' in events[-1]
    with pytest.raises(RunbookError) as raised:
        resume_run(record, runbook, RunOptions(), world(tmp_path))
    assert str(raised.value) == (
        f"run {record.run_id}: step 'two' may have run: ops stopped before recording its "
        f"outcome; check what it did, then 'ops runbook resume {record.run_id} "
        "--rerun-unknown' runs it again, '--skip-unknown' goes on after it"
    )


def test_a_shell_let_go_before_its_turn_is_stopped_at_its_turn_and_recorded(
    tmp_path: Path,
) -> None:
    runbook, _, _ = two_steps(tmp_path, one_exits=0)
    record = start_run(runbook, RunOptions(), world(tmp_path))
    assert record.status == "failed"
    assert statuses(record) == [("one", "succeeded"), ("two", "unknown")]
    two = record.steps["two"]
    assert (two.status, two.message, two.output) == ("starting", RELEASED_EARLY, "promoted\n")
    assert record.steps["one"].output == "released 1\n"


def test_the_cli_fails_the_run_naming_the_step(tmp_path: Path) -> None:
    _, path, _ = two_steps(tmp_path, one_exits=1)
    state = tmp_path / "state"
    ran = subprocess.run(
        [*OPS, "run", str(path), "--json", "--non-interactive", "--state-dir", str(state)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert ran.returncode == 1, ran.stderr
    run_id = ran.stdout.split('"run_id": "')[1].split('"')[0]
    assert f"run {run_id} failed: step 'two': {RELEASED_EARLY}" in " ".join(ran.stderr.split())
    shown = subprocess.run(
        [*OPS, "runs", run_id, "--state-dir", str(state)],
        capture_output=True,
        text=True,
    )
    assert f"[outcome unknown]      two: unknown: {RELEASED_EARLY}\n  promoted\n" in shown.stdout


def held_shell(marker: Path):  # type: ignore[no-untyped-def]
    return start_held(["bash", "-c", f"{GATE}touch {marker}"], env=dict(os.environ), cwd=None)


def wait_for(path: Path) -> None:
    deadline = time.monotonic() + 30
    while not path.exists():
        assert time.monotonic() < deadline, f"gave up waiting for {path}"
        time.sleep(0.01)


def test_a_held_shell_is_at_its_gate_until_another_process_writes_its_line(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "ran"
    held = held_shell(marker)
    assert held.at_gate()
    with open(f"/proc/{held.process.pid}/fd/0", "w") as gate:
        gate.write("go\n")
    wait_for(marker)
    assert not held.at_gate()
    assert held.discard() is False


def test_an_untouched_held_shell_is_discarded_at_its_gate(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    held = held_shell(marker)
    assert held.discard() is True
    assert not marker.exists()


def test_a_held_shell_killed_by_another_process_is_not_at_its_gate(tmp_path: Path) -> None:
    held = held_shell(tmp_path / "ran")
    os.kill(held.process.pid, 9)
    deadline = time.monotonic() + 30
    while held.at_gate():
        assert time.monotonic() < deadline, "the killed shell still reads as at its gate"
        time.sleep(0.01)
    assert held.discard() is False
