"""resume signals only the process groups that are still the run's own.

A pgid in the state file may be tampered with, or simply reused: ops SIGKILLed during a
background step leaves its group id on disk, and once that group ends any process may get
the id. An unrelated ``setsid sleep`` whose pgid is planted in the state must survive.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ops_toolkit.runbook.background import leader_start
from ops_toolkit.runbook.state import StateStore
from tests.cli.test_run_cli import FENCE, ops, write_runbook
from tests.runbook.test_process import alive


@pytest.fixture
def unrelated_group() -> Iterator[Callable[[], int]]:
    """``setsid sleep 300``: a process group ops did not start; killed (by pid) at teardown."""
    started: list[subprocess.Popen[bytes]] = []

    def start() -> int:
        process = subprocess.Popen(["sleep", "300"], start_new_session=True)
        started.append(process)
        return process.pid

    yield start
    for process in started:
        process.kill()
        process.wait()


@pytest.fixture
def pids_to_kill() -> Iterator[list[int]]:
    """Processes a test leaves behind when it fails half-way (by pid, at teardown)."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_resume_leaves_alone_a_group_planted_on_a_finished_step(
    tmp_path: Path, unrelated_group: Callable[[], int]
) -> None:
    path = write_runbook(
        tmp_path,
        f'{FENCE}sh {{"name":"one"}}\necho one\n{FENCE}\n\n'
        f'{FENCE}sh {{"name":"two"}}\ntest -e {tmp_path}/fixed || exit 1\n{FENCE}\n',
    )
    state = str(tmp_path / "state")
    assert ops("runbook", "run", str(path), "--state-dir", state).returncode == 1
    victim = unrelated_group()
    run_file = next((tmp_path / "state" / "runs").glob("*.json"))
    data = json.loads(run_file.read_text())
    data["steps"]["one"]["pgid"] = victim
    run_file.write_text(json.dumps(data))
    assert StateStore(state).load(run_file.stem).steps["one"].pgid is None  # dropped on load
    (tmp_path / "fixed").touch()

    resumed = ops("runbook", "resume", run_file.stem, "--state-dir", state)
    assert resumed.returncode == 0, resumed.stderr
    assert alive(victim)


def killed_with_a_background_step(tmp_path: Path, pids_to_kill: list[int]) -> tuple[str, int]:
    """ops SIGKILLed while its background step runs: the run id and the step's pid."""
    path = write_runbook(
        tmp_path,
        f'{FENCE}sh {{"name":"serve","background":"true"}}\n'
        f"echo $$ > {tmp_path}/bg.pid\nexec sleep 300\n{FENCE}\n\n"
        f'{FENCE}sh {{"name":"kill-ops"}}\n'
        f"while [ ! -s {tmp_path}/bg.pid ]; do sleep 0.02; done\nkill -KILL $PPID\n{FENCE}\n",
    )
    state = tmp_path / "state"
    killed = ops("runbook", "run", str(path), "--state-dir", str(state), timeout=60)
    assert killed.returncode == -9, killed.stderr
    background = int((tmp_path / "bg.pid").read_text())
    pids_to_kill.append(background)
    run_id = next((state / "runs").glob("[!.]*.json")).stem
    return run_id, background


def test_resume_stops_the_background_group_that_is_still_the_runs_own(
    tmp_path: Path, pids_to_kill: list[int]
) -> None:
    run_id, background = killed_with_a_background_step(tmp_path, pids_to_kill)
    saved = StateStore(str(tmp_path / "state")).load(run_id)
    assert saved.steps["serve"].pgid == background
    assert re.fullmatch(
        rf"[0-9a-f-]{{36}}:{background}:[0-9]+", saved.steps["serve"].leader_start or ""
    )
    assert alive(background)

    resumed = ops(
        "runbook", "resume", run_id, "--skip-unknown", "--state-dir", str(tmp_path / "state")
    )
    assert resumed.returncode == 0, resumed.stderr
    deadline = time.monotonic() + 10
    while alive(background) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(background)


def test_resume_leaves_alone_a_reused_group_id_of_a_background_step(
    tmp_path: Path, pids_to_kill: list[int], unrelated_group: Callable[[], int]
) -> None:
    """The background group ended and its id now names another process's group."""
    run_id, background = killed_with_a_background_step(tmp_path, pids_to_kill)
    os.kill(background, signal.SIGKILL)
    victim = unrelated_group()
    store = StateStore(str(tmp_path / "state"))
    record = store.load(run_id)
    assert record.status == "running"
    assert record.steps["serve"].leader_start not in (None, leader_start(victim))
    record.steps["serve"].pgid = victim  # as if the kernel had given the id to the victim
    store.save(record)

    resumed = ops(
        "runbook",
        *("resume", run_id, "--skip-unknown", "--json", "--state-dir", str(tmp_path / "state")),
        env={"COLUMNS": "200"},
    )
    assert resumed.returncode == 0, resumed.stderr
    ended = f"process group {victim} is no longer the step's (its leader has ended): not signalled"
    assert f"run {run_id}: step 'serve': {ended}" in resumed.stderr
    steps = json.loads(resumed.stdout)["steps"]
    assert steps[0]["message"] == f"running in the background until the run ends; {ended}"
    assert alive(victim)  # a group ops signals is gone (or a zombie) before ops exits


def test_a_step_whose_leader_ended_is_not_called_still_running(
    tmp_path: Path, unrelated_group: Callable[[], int]
) -> None:
    """A step that may have run, its group id now another's: resume asks, names no group."""
    path = write_runbook(tmp_path, f'{FENCE}sh {{"name":"act"}}\nkill -KILL $PPID\n{FENCE}\n')
    state = tmp_path / "state"
    assert ops("runbook", "run", str(path), "--state-dir", str(state)).returncode == -9
    run_id = next((state / "runs").glob("[!.]*.json")).stem
    store = StateStore(str(state))
    record = store.load(run_id)
    record.steps["act"].pgid = unrelated_group()
    store.save(record)
    refused = ops("runbook", "resume", run_id, "--state-dir", str(state))
    assert refused.stderr == (
        f"Error: run {run_id}: step 'act' may have run: ops stopped before recording its "
        f"outcome; check what it did, then 'ops runbook resume {run_id} --rerun-unknown' runs "
        "it again, '--skip-unknown' goes on after it\n"
    )


def test_leader_start_tells_apart_two_processes_started_in_one_clock_tick() -> None:
    """Start times count clock ticks (10 ms): the pid is part of the identity too."""
    first = subprocess.Popen(["sleep", "300"])
    second = subprocess.Popen(["sleep", "300"])
    try:
        one, two = leader_start(first.pid), leader_start(second.pid)
        assert one is not None and two is not None and one != two
        assert one.rsplit(":", 1)[0].endswith(f":{first.pid}")
    finally:
        for process in (first, second):
            process.kill()
            process.wait()


def test_leader_start_tells_two_processes_apart() -> None:
    first = subprocess.Popen([sys.executable, "-c", "pass"])
    first.wait()
    assert leader_start(first.pid) is None  # reaped: gone
    mine = leader_start(os.getpid())
    assert mine is not None and mine == leader_start(os.getpid())
    assert mine.split(":")[0] == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
