"""Running one shell step as a process group: streamed output, timeout, nothing left behind.

The step gets its own session (so its own process group); on timeout the whole group gets
SIGTERM, then SIGKILL after a grace period. When the step's main process exits, whatever it
left running in its group is stopped the same way: a step owns its processes.
"""

from __future__ import annotations

import codecs
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

MAX_KEPT = 4 * 1024 * 1024  # characters of output kept per step (the tail)
DRAIN_AFTER_EXIT = 0.2


@dataclass(frozen=True)
class ProcessResult:
    exit_code: int | None
    timed_out: bool
    stdout: str
    output: str
    duration: float


def run_process(
    argv: list[str],
    *,
    env: Mapping[str, str],
    cwd: str | None,
    timeout: float | None,
    on_output: Callable[[str], None],
    on_start: Callable[[int], None] = lambda pid: None,
    kill_grace: float = 5.0,
    interactive: bool = False,
) -> ProcessResult:
    """Run ``argv``; ``on_output`` gets text as it arrives (stdout and stderr interleaved)."""
    started = time.monotonic()
    if interactive:
        return _run_attached(
            argv,
            env=env,
            cwd=cwd,
            timeout=timeout,
            on_start=on_start,
            kill_grace=kill_grace,
            started=started,
        )
    process = subprocess.Popen(
        argv,
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    on_start(process.pid)
    assert process.stdout is not None and process.stderr is not None
    streams = {process.stdout.fileno(): "stdout", process.stderr.fileno(): "stderr"}
    decoders = {fd: codecs.getincrementaldecoder("utf-8")("replace") for fd in streams}
    selector = selectors.DefaultSelector()
    for fd in streams:
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ)
    stdout: list[str] = []
    output: list[str] = []
    kept = 0
    timed_out = False
    exited_at: float | None = None
    deadline = started + timeout if timeout else None
    try:
        while selector.get_map():
            now = time.monotonic()
            wait = 0.05
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - now))
            for key, _ in selector.select(wait):
                fd = int(key.fd)
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                if not data:
                    selector.unregister(fd)
                    continue
                text = decoders[fd].decode(data)
                if not text:
                    continue
                output.append(text)
                if streams[fd] == "stdout":
                    stdout.append(text)
                kept += len(text)
                if kept > MAX_KEPT:
                    output, stdout, kept = _trim(output), _trim(stdout), MAX_KEPT
                on_output(text)
            now = time.monotonic()
            if process.poll() is not None:
                exited_at = exited_at or now
                if now - exited_at > DRAIN_AFTER_EXIT:
                    break  # a background child holds the pipe open; stop reading
            if deadline is not None and now >= deadline and process.poll() is None:
                timed_out = True
                break
    except BaseException:
        terminate_group(process.pid, kill_grace)
        process.wait()
        raise
    finally:
        selector.close()
    if not timed_out and process.poll() is None:  # closed its pipes but still running
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            process.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            timed_out = True
    if timed_out or _group_alive(process.pid):
        terminate_group(process.pid, kill_grace)
    exit_code = process.wait()
    process.stdout.close()
    process.stderr.close()
    return ProcessResult(
        exit_code=None if timed_out else exit_code,
        timed_out=timed_out,
        stdout="".join(stdout),
        output="".join(output),
        duration=time.monotonic() - started,
    )


def _run_attached(
    argv: list[str],
    *,
    env: Mapping[str, str],
    cwd: str | None,
    timeout: float | None,
    on_start: Callable[[int], None],
    kill_grace: float,
    started: float,
) -> ProcessResult:
    """An interactive step: the terminal is the step's; its output is not recorded."""
    process = subprocess.Popen(argv, env=dict(env), cwd=cwd)
    on_start(process.pid)
    try:
        exit_code: int | None = process.wait(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        process.terminate()
        try:
            process.wait(kill_grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        exit_code, timed_out = None, True
    return ProcessResult(
        exit_code,
        timed_out,
        "",
        "(interactive step: output not recorded)\n",
        time.monotonic() - started,
    )


def _trim(parts: list[str]) -> list[str]:
    text = "".join(parts)
    return [text[-MAX_KEPT:]]


def terminate_group(pgid: int, grace: float) -> None:
    """SIGTERM the process group, then SIGKILL whatever is still alive after ``grace``."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _group_alive(pgid):
            return
        time.sleep(0.02)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return


def _group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` is still running (zombies do not count)."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


def group_is_running(pgid: int) -> bool:
    """For resume: is a step's process group from an earlier run still alive?"""
    return _group_alive(pgid)
