"""Steps started with ``background``: they run beside the run and are stopped when it ends.

A background step is its own process group, like every step; the group is recorded in the
run's state (so ``resume`` knows it may still be running) and stopped, SIGTERM then SIGKILL,
when the run ends however it ends: success, failure, Ctrl-C or SIGTERM (which the CLI turns
into an interrupt, ``process.signals_interrupt``).
"""

from __future__ import annotations

import codecs
import os
import subprocess
import threading
from collections.abc import Iterable, Mapping
from typing import IO

from ops_toolkit.masking import StreamMasker
from ops_toolkit.runbook.process import terminate_group
from ops_toolkit.runbook.state import StepRecord

# Process handles of the background steps this process started, so they are reaped, and the
# threads copying their output into their logs, so the last of it is written before the run
# reports.
_STARTED: dict[int, tuple[subprocess.Popen[bytes], threading.Thread]] = {}
_LOG_DRAIN_SECONDS = 5.0  # a child that left the group may hold the pipe open


def start_background(
    argv: list[str], env: Mapping[str, str], cwd: str | None, log: str, mask: StreamMasker
) -> int:
    """Start ``argv`` in a new session, its output masked into ``log``; its process group id.

    The output passes through ops, not straight into the file: a log left in a temporary
    folder must not hold the secrets the run masks everywhere else.
    """
    process = subprocess.Popen(
        argv,
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdout is not None
    copier = threading.Thread(
        target=_copy_masked, args=(process.stdout, log, mask), name=f"log-{process.pid}"
    )
    copier.daemon = True
    copier.start()
    _STARTED[process.pid] = (process, copier)
    return process.pid


def _copy_masked(source: IO[bytes], log: str, mask: StreamMasker) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    with source, open(log, "a", encoding="utf-8") as output:
        while chunk := os.read(source.fileno(), 65536):
            output.write(mask.feed(decoder.decode(chunk)))
            output.flush()
        output.write(mask.feed(decoder.decode(b"", final=True)) + mask.flush())


def stop_background(steps: Iterable[StepRecord], grace: float) -> list[str]:
    """Stop the process group of every step record that still has one; their names."""
    stopped = []
    for step in steps:
        if step.pgid is None:
            continue
        terminate_group(step.pgid, grace)
        started = _STARTED.pop(step.pgid, None)
        if started is not None:
            process, copier = started
            process.wait()
            copier.join(_LOG_DRAIN_SECONDS)
        step.pgid = None
        step.message = "; ".join(m for m in (step.message, "stopped at the end of the run") if m)
        stopped.append(step.name)
    return stopped
