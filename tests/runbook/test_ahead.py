"""The next step's shell, started ahead held at its gate, never runs a command out of turn.

ops starts the next shell step's shell while a step runs (when the step cannot change the
next one's environment), or else once the step has succeeded, before it records and shows
the step's outcome (``execute._Ahead``). These tests catch ops with that shell held, with
real processes: while step one waits for the test; or once it is over, with ops's stderr a
pipe the test has filled, so that ops blocks on step one's result line (seen in
``/proc/<pid>/wchan``) after writing its records; then step one fails, or ops is SIGKILLed
or SIGTERMed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ops_toolkit.runbook.execute import RunOptions, start_run
from ops_toolkit.runbook.kinds import GATE
from ops_toolkit.runbook.process import run_process, start_held
from ops_toolkit.runbook.state import StateStore
from tests.conftest import children_of
from tests.runbook.test_execute import make_runbook, statuses, step, world
from tests.runbook.test_process import alive
from tests.runbook.test_start_race import children

FENCE = "```"
WAIT = 30.0  # seconds a condition may take on a loaded machine before the test gives up


def wait_until(condition: object, what: str) -> None:
    """Poll ``condition()`` until true; fail naming ``what`` (no timing is asserted)."""
    deadline = time.monotonic() + WAIT
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.01)


def test_a_discarded_held_shell_never_runs_its_script_and_is_reaped(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    before = children()
    held = start_held(["bash", "-c", f"{GATE}touch {marker}"], env=dict(os.environ), cwd=None)
    assert held.process.pid in children() - before
    held.discard()
    assert held.process.returncode == -signal.SIGKILL
    assert not marker.exists()
    assert children() - before == set()


def test_a_held_shell_acts_only_once_run_process_lets_it_go(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    held = start_held(
        ["bash", "-c", f"{GATE}touch {marker}; echo went"], env=dict(os.environ), cwd=None
    )
    seen_at_ready: list[bool] = []
    result = run_process(
        held.argv,
        env=held.env,
        cwd=None,
        timeout=None,
        on_output=lambda text: None,
        ready=lambda: seen_at_ready.append(marker.exists()),
        gated=True,
        held=held,
    )
    assert seen_at_ready == [False]
    assert (result.exit_code, result.output) == (0, "went\n")
    assert marker.exists()


def test_shells_started_while_the_step_before_ran_run_in_turn(tmp_path: Path) -> None:
    log = tmp_path / "log"
    names = ("one", "two", "three")
    body = "".join(step(name, f"echo {name} >> {log}; echo {name}") for name in names)
    record = start_run(make_runbook(tmp_path, body), RunOptions(), world(tmp_path))
    assert statuses(record) == [(name, "succeeded") for name in names]
    assert [record.steps[name].output for name in names] == ["one\n", "two\n", "three\n"]
    assert log.read_text() == "one\ntwo\nthree\n"


def test_a_held_shell_whose_directory_the_step_before_made_anew_is_not_the_one_let_go(
    tmp_path: Path,
) -> None:
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "f").write_text("old\n")
    body = step("one", "rm -rf work && mkdir work && echo new > work/f", cwd=str(tmp_path))
    body += step("two", "cat f", cwd=str(tmp_path / "work"))
    record = start_run(make_runbook(tmp_path, body), RunOptions(), world(tmp_path))
    assert statuses(record) == [("one", "succeeded"), ("two", "succeeded")]
    assert record.steps["two"].output == "new\n"


def test_the_step_after_a_failed_one_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "two-ran"
    runbook = make_runbook(tmp_path, step("one", "exit 3") + step("two", f"touch {marker}"))
    before = children()
    record = start_run(runbook, RunOptions(), world(tmp_path))
    assert statuses(record) == [("one", "failed"), ("two", "skipped")]
    assert not marker.exists()
    assert children() - before == set()


def test_a_shell_held_while_a_step_ran_is_killed_when_the_step_fails(tmp_path: Path) -> None:
    started, go, marker = tmp_path / "one-started", tmp_path / "go", tmp_path / "two-ran"
    path = write_two_steps(
        tmp_path, f"touch {started}\nwhile [ ! -e {go} ]; do sleep 0.01; done\nexit 3", marker
    )
    ops = subprocess.Popen(
        [sys.executable, "-m", "ops_toolkit", *run_argv(path, tmp_path / "state")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(started.exists, "step one to start")
        wait_until(lambda: held_shells(ops.pid, marker), "step two's shell, while one runs")
        held = held_shells(ops.pid, marker)[0]
        go.touch()
        out, _ = ops.communicate()
    finally:
        if ops.poll() is None:
            ops.kill()
        ops.wait()
    assert ops.returncode == 1
    assert [(s["name"], s["status"]) for s in json.loads(out)["steps"]] == [
        ("one", "failed"),
        ("two", "skipped"),
    ]
    assert not alive(held)
    assert not marker.exists()


def test_a_held_shell_whose_environment_a_handler_changed_is_not_the_one_let_go(
    tmp_path: Path,
) -> None:
    # Step two's shell is started while step one runs; one fails, its handler captures FIXED
    # (and must not take the held shell for one of its own orphans); with --keep-going, two
    # runs with FIXED: a shell started afresh, the held one killed at its gate.
    body = (
        step("one", "exit 3", on_failure="fix")
        + step("two", 'echo "two: $FIXED"')
        + step("fix", "echo fixed", capture="FIXED")
    )
    record = start_run(make_runbook(tmp_path, body), RunOptions(keep_going=True), world(tmp_path))
    assert statuses(record) == [("one", "failed"), ("two", "succeeded"), ("fix", "succeeded")]
    assert (record.steps["two"].output, record.steps["fix"].output) == ("two: fixed\n", "fixed\n")


def test_a_step_whose_when_is_false_after_the_step_before_is_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "two-ran"
    body = (
        step("one", "echo no", capture="GO")
        + step("two", f"touch {marker}", when='GO == "yes"')
        + step("three", 'echo "three after $GO"')
    )
    record = start_run(make_runbook(tmp_path, body), RunOptions(), world(tmp_path))
    assert statuses(record) == [("one", "succeeded"), ("two", "skipped"), ("three", "succeeded")]
    assert not marker.exists()
    assert record.steps["three"].output == "three after no\n"


def test_a_step_started_ahead_gets_what_the_step_before_captured_and_exported(
    tmp_path: Path,
) -> None:
    body = (
        step("one", "echo first", capture="FIRST")
        + step("two", 'echo "two: $FIRST"')
        + step("three", "export SECOND=2")
        + step("four", 'echo "four: $FIRST $SECOND"', cwd=str(tmp_path))
    )
    record = start_run(make_runbook(tmp_path, body), RunOptions(), world(tmp_path))
    assert [record.steps[name].output for name in ("two", "four")] == [
        "two: first\n",
        "four: first 2\n",
    ]


@dataclass
class Caught:
    """An ``ops runbook run`` stopped after step ``one``, with step ``two``'s shell held."""

    ops: subprocess.Popen[bytes]
    held_shell: int
    state: Path
    marker: Path
    stderr: int  # the read end of ops's (full) stderr


def write_two_steps(tmp_path: Path, one: str, marker: Path) -> Path:
    """A runbook: bash step ``one`` runs ``one``; bash step ``two`` touches ``marker``."""
    body = (
        f'{FENCE}bash {{"name":"one"}}\n{one}\n{FENCE}\n\n'
        f'{FENCE}bash {{"name":"two"}}\ntouch {marker}\n{FENCE}\n'
    )
    path = tmp_path / "rb.md"
    path.write_text(f"---\ntitle: Ahead\nowner: team\n---\n# Ahead\n\n{body}")
    return path


def run_argv(path: Path, state: Path) -> list[str]:
    return ["runbook", "run", str(path), "--json", "--non-interactive", "--state-dir", str(state)]


def held_shells(ops: int, marker: Path) -> list[int]:
    """ops's children whose command line names ``marker``: step two's shell."""
    found = []
    for child in living_children_of(ops):
        try:
            if str(marker).encode() in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
        except OSError:
            continue  # gone meanwhile
    return found


@pytest.fixture
def caught(tmp_path: Path) -> Iterator[Caught]:
    started, go, marker = tmp_path / "one-started", tmp_path / "go", tmp_path / "two-ran"
    path = write_two_steps(
        tmp_path, f"touch {started}\nwhile [ ! -e {go} ]; do sleep 0.01; done", marker
    )
    state = tmp_path / "state"
    read_end, write_end = os.pipe()
    ops = subprocess.Popen(
        [sys.executable, "-m", "ops_toolkit", *run_argv(path, state)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=write_end,
    )
    # A writer of its own (a new open file description, so ops's stays blocking) fills the
    # pipe while step one waits: ops's next line to stderr blocks.
    filler = os.open(f"/proc/self/fd/{write_end}", os.O_WRONLY | os.O_NONBLOCK)
    os.close(write_end)
    try:
        wait_until(started.exists, "step one to start")
        for size in (65536, 1):
            while True:
                try:
                    os.write(filler, b"x" * size)
                except BlockingIOError:
                    break
        os.close(filler)
        go.touch()
        wait_until(lambda: held_shells(ops.pid, marker), "step two's shell to be started ahead")
        # Then ops writes step one's journal and audit lines, and blocks on its result line.
        wait_until(lambda: b"pipe_write" in blocked_in(ops.pid), "ops to block on stderr")
        yield Caught(ops, held_shells(ops.pid, marker)[0], state, marker, read_end)
    finally:
        if ops.poll() is None:
            ops.kill()
        ops.wait()
        os.close(read_end)


def blocked_in(pid: int) -> bytes:
    """Where ``pid``'s main thread waits in the kernel (``anon_pipe_write``, ...)."""
    return Path(f"/proc/{pid}/wchan").read_bytes()


def living_children_of(pid: int) -> set[int]:
    return {child for child in children_of(pid) if alive(child)}


def drain(handle: int) -> threading.Thread:
    """Read ``handle`` to its end on a thread, so that its writer never blocks again."""

    def read() -> None:
        while os.read(handle, 65536):
            pass

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return reader


def test_a_shell_held_ahead_never_runs_when_ops_is_sigkilled(caught: Caught) -> None:
    assert alive(caught.held_shell)
    caught.ops.send_signal(signal.SIGKILL)
    caught.ops.wait()
    wait_until(lambda: not alive(caught.held_shell), "the held shell to exit")
    assert not caught.marker.exists()
    run_id = next((caught.state / "runs").glob("*.json")).stem
    saved = StateStore(str(caught.state)).load(run_id)
    assert (saved.steps["one"].status, saved.steps["two"].status) == ("succeeded", "pending")

    drain(caught.stderr)
    argv = ["runbook", "resume", run_id, "--state-dir", str(caught.state), "--json"]
    resumed = subprocess.run(
        [sys.executable, "-m", "ops_toolkit", *argv],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert [s["status"] for s in json.loads(resumed.stdout)["steps"]] == ["succeeded"] * 2
    assert caught.marker.exists()


def test_a_shell_held_ahead_never_runs_when_ops_is_stopped_by_sigterm(caught: Caught) -> None:
    caught.ops.send_signal(signal.SIGTERM)
    reader = drain(caught.stderr)
    assert caught.ops.wait() == 128 + signal.SIGTERM
    reader.join()
    assert not alive(caught.held_shell)  # ops killed it at its gate and reaped it
    assert not caught.marker.exists()
    run_id = next((caught.state / "runs").glob("*.json")).stem
    saved = StateStore(str(caught.state)).load(run_id)
    assert saved.status == "aborted"
    assert (saved.steps["one"].status, saved.steps["two"].status) == ("succeeded", "pending")
