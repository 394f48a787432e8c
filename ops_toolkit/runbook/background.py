"""Steps started with ``background``: they run beside the run and are stopped when it ends.

A background step is its own process group, like every step; the group is recorded in the
run's state (so ``resume`` knows it may still be running) and stopped, SIGTERM then SIGKILL,
when the run ends however it ends: success, failure, Ctrl-C or SIGTERM (which the CLI turns
into an interrupt, ``process.signals_interrupt``).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Mapping

from ops_toolkit.runbook.process import terminate_group
from ops_toolkit.runbook.state import StepRecord

# Process handles of the background steps this process started, so they are reaped.
_STARTED: dict[int, subprocess.Popen[bytes]] = {}


def start_background(argv: list[str], env: Mapping[str, str], cwd: str | None, log: str) -> int:
    """Start ``argv`` in a new session writing to ``log``; returns its process group id."""
    with open(log, "ab") as output:
        process = subprocess.Popen(
            argv,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _STARTED[process.pid] = process
    return process.pid


def stop_background(steps: Iterable[StepRecord], grace: float) -> list[str]:
    """Stop the process group of every step record that still has one; their names."""
    stopped = []
    for step in steps:
        if step.pgid is None:
            continue
        terminate_group(step.pgid, grace)
        process = _STARTED.pop(step.pgid, None)
        if process is not None:
            process.wait()
        step.pgid = None
        step.message = "; ".join(m for m in (step.message, "stopped at the end of the run") if m)
        stopped.append(step.name)
    return stopped
