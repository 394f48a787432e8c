"""A signal that lands while a background step's process is being started still stops it.

A background step outlives its own start: ops records its process group and stops it when
the run ends. It was started with a plain ``Popen``, so a SIGTERM or Ctrl-C handled just after
the fork raised ``KeyboardInterrupt`` inside ``Popen``, before the group was recorded: the run
ended interrupted, nothing stopped the step, and it ran on, orphaned, after ops (resume could
not find it either). A profile hook sends the signal at exactly that point, as
tests/runbook/test_start_race.py does for foreground steps.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

from ops_toolkit.masking import Masker
from ops_toolkit.runbook.background import start_background
from ops_toolkit.runbook.execute import RunOptions, run_document, start_run
from ops_toolkit.runbook.process import signals_interrupt
from tests.conftest import children_of
from tests.runbook.test_execute import make_runbook, step, world
from tests.runbook.test_process import alive

MARKER = "background-start-race-marker"


@contextlib.contextmanager
def signal_just_after_the_fork_of(marker: str) -> Iterator[list[str]]:
    """SIGTERM to this process as soon as the fork of a command holding ``marker`` returns
    in the parent (``Popen._execute_child``'s ``args``); yields the argvs it signalled at."""
    signalled: list[str] = []

    def hook(frame: FrameType, event: str, arg: object) -> None:
        if event != "c_return" or getattr(arg, "__name__", "") != "fork_exec":
            return
        argv = frame.f_locals.get("args")
        if isinstance(argv, list) and any(marker in str(part) for part in argv):
            sys.setprofile(None)
            signalled.append(" ".join(map(str, argv)))
            os.kill(os.getpid(), signal.SIGTERM)

    sys.setprofile(hook)
    try:
        yield signalled
    finally:
        sys.setprofile(None)


def test_a_signal_just_after_a_background_steps_fork_still_stops_it(tmp_path: Path) -> None:
    before = children_of(os.getpid())
    runbook = make_runbook(
        tmp_path,
        step("serve", f"trap '' TERM; : {MARKER}; exec sleep 1000", background="true")
        + step("after", "true"),
    )
    with signals_interrupt() as received, signal_just_after_the_fork_of(MARKER) as signalled:
        record = start_run(runbook, RunOptions(kill_grace=0.2), world(tmp_path))
    left = {pid for pid in children_of(os.getpid()) - before if alive(pid)}
    for pid in left:  # do not leave them to the rest of the session when the check fails
        os.killpg(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert len(signalled) == 1
    assert received == [signal.SIGTERM]
    assert left == set()
    document = run_document(record)
    assert document["status"] == "aborted"
    assert [(s["name"], s["status"], s["message"]) for s in document["steps"]] == [
        ("serve", "failed", "interrupted by SIGTERM"),
        ("after", "skipped", "not reached"),
    ]


def test_a_background_step_whose_group_cannot_be_recorded_is_stopped(tmp_path: Path) -> None:
    before = children_of(os.getpid())
    started: list[int] = []

    def cannot_record(pgid: int) -> None:
        started.append(pgid)
        raise OSError(28, "No space left on device")

    log = tmp_path / "serve.log"
    try:
        start_background(
            ["sh", "-c", "trap '' TERM; exec sleep 1000"],
            dict(os.environ),
            None,
            str(log),
            Masker([]).stream(),
            cannot_record,
        )
    except OSError as exc:
        assert str(exc) == "[Errno 28] No space left on device"
    left = {pid for pid in children_of(os.getpid()) - before if alive(pid)}
    for pid in left:
        os.killpg(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert len(started) == 1
    assert left == set()
    assert not alive(started[0])
