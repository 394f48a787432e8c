"""A signal that lands while a step's process is being started still stops the step.

Python runs a signal handler between two bytecodes of the main thread. Under load that
point can be inside ``subprocess.Popen``, just after the fork, while the child already runs
the step: the ``KeyboardInterrupt`` was raised before ops held the process, and the step
outlived ops (tests/cli/test_run_signals.py and the rollout's sleeper check failed so, once
in a while). A profile hook sends the signal at exactly that point, so the race is lost on
every run instead of one in ten under load.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from types import FrameType

import pytest

from ops_toolkit.runbook.process import run_process, signals_interrupt
from tests.conftest import children_of
from tests.runbook.test_process import alive


def children() -> set[int]:
    """This process's living children (every thread's)."""
    return {pid for pid in children_of(os.getpid()) if alive(pid)}


@contextlib.contextmanager
def signal_just_after_the_fork() -> Iterator[None]:
    """SIGTERM to this process as soon as ``Popen``'s fork returns in the parent."""

    def hook(frame: FrameType, event: str, arg: object) -> None:
        if event == "c_return" and getattr(arg, "__name__", "") == "fork_exec":
            sys.setprofile(None)
            os.kill(os.getpid(), signal.SIGTERM)

    sys.setprofile(hook)
    try:
        yield
    finally:
        sys.setprofile(None)


def test_a_signal_inside_popen_after_the_fork_still_stops_the_step() -> None:
    before = children()
    script = "trap '' TERM; exec sleep 1000"
    with (
        signals_interrupt() as received,
        pytest.raises(KeyboardInterrupt) as raised,
        signal_just_after_the_fork(),
    ):
        run_process(
            ["bash", "-c", script],
            env=dict(os.environ),
            cwd=None,
            timeout=None,
            on_output=lambda text: None,
            kill_grace=0.2,
        )
    left = children() - before
    for pid in left:  # do not leave them to the rest of the session when the check fails
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert raised.value.args == ("SIGTERM",)
    assert received == [signal.SIGTERM]
    assert left == set()
