"""A step owns its processes: none survives the step, not even those that left its group."""

from __future__ import annotations

import time
from pathlib import Path

from ops_toolkit.runbook.execute import RunOptions, start_run
from tests.runbook.test_execute import make_runbook, statuses, step, world

# Each escapes the step's process group in its own way; each writes its pid to a file.
ESCAPES = (
    # a new session, holding the step's output pipe open
    "setsid sleep 1000 & echo $! > setsid.pid\n"
    # a new session, not holding the pipe
    "setsid sleep 1000 > /dev/null 2>&1 < /dev/null & echo $! > quiet.pid\n"
    # a double fork: its parent exits at once, so it is orphaned
    "( ( exec sleep 1000 ) & echo $! > double.pid ) \n"
    # a daemon-style double fork into a new session, with a child of its own
    "setsid sh -c 'sleep 1000 & echo $! > grandchild.pid; wait' > /dev/null 2>&1 &\n"
    "while [ ! -s grandchild.pid ]; do sleep 0.01; done\n"
)
PID_FILES = ("setsid.pid", "quiet.pid", "double.pid", "grandchild.pid")


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def escaped_pids(directory: Path) -> list[int]:
    return [int((directory / name).read_text()) for name in PID_FILES]


def test_processes_that_leave_the_group_are_stopped_when_the_step_exits(tmp_path: Path) -> None:
    runbook = make_runbook(tmp_path, step("escape", ESCAPES + "echo done", cwd=str(tmp_path)))
    record = start_run(runbook, RunOptions(kill_grace=1.0), world(tmp_path))
    assert statuses(record) == [("escape", "succeeded")]
    assert record.steps["escape"].output == "done\n"
    pids = escaped_pids(tmp_path)
    assert [pid for pid in pids if alive(pid)] == []


def test_processes_that_leave_the_group_are_stopped_on_timeout(tmp_path: Path) -> None:
    code = ESCAPES + "sleep 1000"
    runbook = make_runbook(tmp_path, step("escape", code, cwd=str(tmp_path), timeout="1s"))
    record = start_run(runbook, RunOptions(kill_grace=1.0), world(tmp_path))
    assert statuses(record) == [("escape", "timed_out")]
    assert [pid for pid in escaped_pids(tmp_path) if alive(pid)] == []


def test_processes_that_ignore_sigterm_outside_the_group_are_killed(tmp_path: Path) -> None:
    code = "setsid sh -c 'trap \"\" TERM; echo $$ > stubborn.pid; exec sleep 1000' &\n"
    code += "while [ ! -s stubborn.pid ]; do sleep 0.01; done"
    runbook = make_runbook(tmp_path, step("stubborn", code, cwd=str(tmp_path)))
    record = start_run(runbook, RunOptions(kill_grace=0.3), world(tmp_path))
    assert statuses(record) == [("stubborn", "succeeded")]
    assert not alive(int((tmp_path / "stubborn.pid").read_text()))


def test_a_step_that_leaves_nothing_behind_leaves_no_zombie_either(tmp_path: Path) -> None:
    """Orphans that exit on their own are re-parented to ops: ops reaps them."""
    code = "( ( exec sh -c 'echo $$ > short.pid' ) & ) ; sleep 0.3"
    runbook = make_runbook(tmp_path, step("short", code, cwd=str(tmp_path)))
    start_run(runbook, RunOptions(), world(tmp_path))
    pid = int((tmp_path / "short.pid").read_text())
    assert not Path(f"/proc/{pid}").exists()


# Ignores SIGTERM, leaves the session, then forks a new child and exits, over and over, writing
# each new pid down. It stops itself after 30 s whatever happens, so a failing test leaks
# nothing for long.
FORK_HOPPER = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
end = time.monotonic() + 30
if os.fork():
    sys.exit(0)
os.setsid()
for fd in (0, 1, 2):
    os.close(fd)
with open("hopper.pids", "a") as pids:
    while time.monotonic() < end:
        if os.fork():
            os._exit(0)
        pids.write(f"{os.getpid()}\\n")
        pids.flush()
"""


def test_a_fork_hopper_that_ignores_sigterm_is_stopped_with_the_step(tmp_path: Path) -> None:
    """Was: stop() took one look at the step's processes; between a hop's exit and its new
    child's re-parenting that look was empty, so the hopper outlived the run."""
    (tmp_path / "hopper.py").write_text(FORK_HOPPER)
    code = (
        "python3 hopper.py\nwhile [ ! -s hopper.pids ]; do sleep 0.01; done\nsleep 0.3\necho done"
    )
    runbook = make_runbook(tmp_path, step("hop", code, cwd=str(tmp_path)))
    record = start_run(runbook, RunOptions(kill_grace=2.0), world(tmp_path))
    assert statuses(record) == [("hop", "succeeded")]
    pids = (tmp_path / "hopper.pids").read_text().split()
    assert [pid for pid in pids if alive(int(pid))] == []
    time.sleep(0.2)  # a survivor would hop again and write its new pid down
    assert (tmp_path / "hopper.pids").read_text().split() == pids


def test_the_kept_tail_never_starts_inside_a_secret() -> None:
    from ops_toolkit.masking import Masker
    from ops_toolkit.runbook.process import keep_tail

    masker = Masker(["hunter2-secret"])
    parts = ["x" * 20, "hunter2-", "secret", "y" * 10]  # 48 characters
    assert keep_tail(parts, masker.safe_cut, limit=20) == ["y" * 10]  # not "secret" + 10 y
    assert keep_tail(parts, masker.safe_cut, limit=24) == ["hunter2-secret" + "y" * 10]
    assert masker(keep_tail(parts, masker.safe_cut, limit=24)[0]) == "***" + "y" * 10


def test_output_over_the_kept_limit_shows_no_fragment_of_a_secret(tmp_path: Path) -> None:
    """A step prints a 13-character secret back to back past the 4 MiB kept: wherever the
    cut falls, the kept output is masks only (cut blindly, it began with a secret's tail)."""
    from ops_toolkit.runbook.process import MAX_KEPT

    code = (
        "python3 -c 'import os, sys; "
        f'sys.stdout.write(os.environ["PW"] * ({MAX_KEPT} // 13 + 50_000))\''
    )
    runbook = make_runbook(tmp_path, step("flood", code), "secrets: [PW]\n")
    record = start_run(runbook, RunOptions(), world(tmp_path, None, {"PW": "s3cret-value1"}))
    output = record.steps["flood"].output
    assert statuses(record) == [("flood", "succeeded")]
    assert len(output) > MAX_KEPT // 13 * 3 - 300_000  # about MAX_KEPT / 13 masks kept
    assert output.replace("***", "") == ""
