"""No zombie is left under a long-lived process that runs steps (pytest, ``ops serve``).

ops is a child subreaper while a step runs, so a step's orphans come to it; before, it stayed
one for good and reaped only what it found during a step: a background step's double-forked
child, killed when the run ended, stayed a zombie, and so did the orphans of every other
child the process started later (an ``ops`` subprocess killed mid-step, for one).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from ops_toolkit.runbook.execute import RunOptions, start_run
from tests.runbook.test_execute import make_runbook, statuses, step, world


def children() -> dict[int, str]:
    """This process's children (every thread's) and their state letters, zombies included."""
    found: dict[int, str] = {}
    for task in Path("/proc/self/task").iterdir():
        for pid in (task / "children").read_text().split():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            found[int(pid)] = stat[stat.rfind(")") + 2]
    return found


def new_children_once_settled(before: set[int]) -> dict[int, str]:
    """Children gained since ``before`` once the living ones have ended (a zombie never
    does: it stays until its parent reaps it)."""
    deadline = time.monotonic() + 10
    while True:
        gained = {pid: state for pid, state in children().items() if pid not in before}
        if all(state == "Z" for state in gained.values()) or time.monotonic() > deadline:
            return gained
        time.sleep(0.02)


def test_a_background_steps_double_forked_child_killed_at_the_end_is_reaped(
    tmp_path: Path,
) -> None:
    before = set(children())
    runbook = make_runbook(
        tmp_path,
        step("serve", "( ( exec sleep 1000 ) & ); sleep 1000", background="true")
        + step("check", "true"),
    )
    record = start_run(runbook, RunOptions(kill_grace=0.5), world(tmp_path))
    assert statuses(record) == [("serve", "succeeded"), ("check", "succeeded")]
    assert new_children_once_settled(before) == {}


def test_after_a_run_orphans_of_other_children_are_not_adopted(tmp_path: Path) -> None:
    runbook = make_runbook(tmp_path, step("escape", "( ( exec sleep 0.2 ) & )"))
    assert statuses(start_run(runbook, RunOptions(kill_grace=0.5), world(tmp_path))) == [
        ("escape", "succeeded")
    ]
    before = set(children())
    # Not a step: a child of this process whose own child outlives it (an ops subprocess
    # killed mid-step leaves its step so). That orphan is init's to reap, not ours.
    shell = subprocess.run(
        ["sh", "-c", "sleep 0.2 > /dev/null 2>&1 & echo $!"],
        capture_output=True,
        text=True,
        check=True,
    )
    orphan = int(shell.stdout)
    assert new_children_once_settled(before) == {}, f"the orphan {orphan} came to the test"
