"""Steps started with ``background``: they run beside the run and are stopped when it ends.

A background step is its own process group, like every step; the group is recorded in the
run's state (so ``resume`` knows it may still be running) and stopped, SIGTERM then SIGKILL,
when the run ends however it ends: success, failure, Ctrl-C or SIGTERM (which the CLI turns
into an interrupt, ``process.signals_interrupt``).

A group id read back from the state is signalled only while its leader is still the process
ops started: the state may be edited, and once a group has ended (ops SIGKILLed during a
background step, a reboot) its id is free for any other process. So the leader's start time
(``/proc/PID/stat`` field 22), its pid and the boot id are recorded with the group id
(``leader_start``) and compared before a group that this process did not start is signalled.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import os
import subprocess
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import IO

from ops_toolkit.masking import StreamMasker
from ops_toolkit.runbook.process import (
    popen_holding_interrupts,
    read_proc,
    reap_group,
    release_interrupts,
    terminate_group,
)
from ops_toolkit.runbook.state import StepRecord

# Process handles of the background steps this process started, so they are reaped, and the
# threads copying their output into their logs, so the last of it is written before the run
# reports.
_STARTED: dict[int, tuple[subprocess.Popen[bytes], threading.Thread]] = {}
_LOG_DRAIN_SECONDS = 5.0  # a child that left the group may hold the pipe open


def start_background(
    argv: list[str],
    env: Mapping[str, str],
    cwd: str | None,
    log: str,
    mask: StreamMasker,
    on_start: Callable[[int], None],
) -> int:
    """Start ``argv`` in a new session, its output masked into ``log``; its process group id,
    given to ``on_start`` (which records it) before this returns.

    The output passes through ops, not straight into the file: a log left in a temporary
    folder must not hold the secrets the run masks everywhere else.

    It is started as a foreground step is (``popen_holding_interrupts``): a SIGTERM or Ctrl-C
    that comes while it starts waits until the group is recorded, then interrupts the run,
    whose end stops the group. Raised inside ``Popen``, after the fork, it lost the group:
    the step ran on after ops, and resume could not find it.
    """
    process = popen_holding_interrupts(
        None,
        argv,
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        copier = threading.Thread(
            target=_copy_masked, args=(process.stdout, log, mask), name=f"log-{process.pid}"
        )
        copier.daemon = True
        copier.start()
        _STARTED[process.pid] = (process, copier)
        on_start(process.pid)
    except BaseException:  # not recorded: nothing would stop it at the end of the run
        _stop_started(process.pid, grace=0.0)
        with contextlib.suppress(KeyboardInterrupt):
            release_interrupts()
        raise
    release_interrupts()
    return process.pid


def _copy_masked(source: IO[bytes], log: str, mask: StreamMasker) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    with source, open(log, "a", encoding="utf-8") as output:
        while chunk := os.read(source.fileno(), 65536):
            output.write(mask.feed(decoder.decode(chunk)))
            output.flush()
        output.write(mask.feed(decoder.decode(b"", final=True)) + mask.flush())


def stop_background(steps: Iterable[StepRecord], grace: float) -> list[str]:
    """Stop the process group of every step record that still has one; their names.

    A group this process did not start (read back by ``resume``) is signalled only if it
    is still the step's (``is_own_group``); else it is dropped, and the step says so.
    """
    stopped = []
    for step in steps:
        if step.pgid is None:
            continue
        started = _STARTED.pop(step.pgid, None)
        if started is None and not is_own_group(step.pgid, step.leader_start):
            step.message = "; ".join(m for m in (step.message, ended(step.pgid)) if m)
            step.pgid = step.leader_start = None
            continue
        _stop_group(step.pgid, started, grace)
        step.pgid = step.leader_start = None
        step.message = "; ".join(m for m in (step.message, "stopped at the end of the run") if m)
        stopped.append(step.name)
    return stopped


def _stop_started(pgid: int, grace: float) -> None:
    """Stop a group this process started (and has not stopped yet)."""
    _stop_group(pgid, _STARTED.pop(pgid, None), grace)


def _stop_group(
    pgid: int, started: tuple[subprocess.Popen[bytes], threading.Thread] | None, grace: float
) -> None:
    terminate_group(pgid, grace)
    if started is not None:
        process, copier = started
        process.wait()
        copier.join(_LOG_DRAIN_SECONDS)
    reap_group(pgid)


def ended(pgid: int) -> str:
    """Why a recorded process group is left alone."""
    return f"process group {pgid} is no longer the step's (its leader has ended): not signalled"


def leader_start(pid: int) -> str | None:
    """``<boot id>:<pid>:<start time>`` of process ``pid``: the same only for the same
    process (start times are in clock ticks: two processes may share one, not a pid too).

    None where /proc cannot tell (then a group read back from the state is never signalled).
    """
    boot = _boot_id()
    try:
        stat = read_proc(f"/proc/{pid}/stat")  # once per step: os calls, not open()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()  # the name may hold spaces and ')'
    if boot is None or len(fields) < 20:
        return None
    return f"{boot}:{pid}:{fields[19].decode()}"  # field 22: clock ticks since boot


def is_own_group(pgid: int, recorded: str | None) -> bool:
    """Whether group ``pgid``'s leader is still the process recorded as ``recorded``."""
    return recorded is not None and leader_start(pgid) == recorded


@functools.cache
def _boot_id() -> str | None:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            return handle.read().strip() or None
    except OSError:
        return None
