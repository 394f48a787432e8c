"""Running one shell step: streamed output, timeout, and nothing left behind.

The step gets its own session (so its own process group); on timeout the whole group gets
SIGTERM, then SIGKILL after a grace period. When the step's main process exits, whatever it
left running is stopped the same way: a step owns its processes.

"Whatever it left running" includes processes that leave the group (``setsid cmd &``, a
double fork): on Linux ops makes itself a child subreaper (``prctl(PR_SET_CHILD_SUBREAPER)``),
so an orphaned descendant of a step is re-parented to ops instead of to init. A step's living
processes are then exactly the tree under its main process plus the trees under the children
ops gained while the step ran. That holds because an ops process runs one step at a time and
starts no other children meanwhile (the CLI; ``ops serve`` runs diagnoses on one thread).
Finding them reads ``/proc/<pid>/task/<tid>/children`` of the thread that ran the step and of
the main thread (where the kernel puts adopted orphans), not the whole of ``/proc``, so the
check after each step costs one or two small reads when the step left nothing behind.

ops is a subreaper only while a step runs (``StepProcesses`` to its ``close``), and reaps the
orphans it gained then: a process that stayed a subreaper for good (``ops serve``, or pytest
after one step run in-process) adopted the orphans of every other child it started, a killed
``ops`` subprocess's steps for one, and nothing ever reaped them: zombies piled up under it.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import FrameType
from typing import Any

from ops_toolkit.errors import ReleasedEarly

MAX_KEPT = 4 * 1024 * 1024  # characters of output kept per step (the tail)
DRAIN_AFTER_EXIT = 0.2
KILL_WAIT = 5.0  # seconds to wait for SIGKILLed processes to go (uninterruptible sleep)
QUIET = 0.1  # seconds with none of a step's processes alive before ops believes they are gone
_PR_SET_CHILD_SUBREAPER = 36
_subreaper: bool | None = None  # whether this process can be a subreaper (None: not tried)
_subreaper_users = 0  # the StepProcesses not yet closed: while any is, ops is a subreaper
_subreaper_lock = threading.Lock()
_hurry = threading.Event()  # a second interrupt: skip the grace, SIGKILL at once


class _StartHold(threading.local):
    """Set while a step's process is being started: an interrupt then waits here.

    Python runs a signal handler between two bytecodes of the main thread. A SIGTERM or
    Ctrl-C that came inside ``subprocess.Popen``, after the fork, raised ``KeyboardInterrupt``
    there, before ops held the process: nothing stopped the step and it outlived ops. Under
    load the child runs its first commands before the parent returns from the fork, so a
    signal sent once the step has visibly started could still land there.
    """

    holding = False
    held: str | None = None


_start_hold = _StartHold()


def popen_holding_interrupts(
    family: StepProcesses | None, argv: list[str], **options: Any
) -> subprocess.Popen[bytes]:
    """``Popen``, returning with interrupts still held: the caller calls
    ``release_interrupts`` first thing inside the ``try`` that stops the step (a background
    step's, once its group is recorded). ``family``, if any, is closed if it cannot start."""
    _start_hold.holding = True
    try:
        return subprocess.Popen(argv, **options)
    except BaseException:
        if family is not None:
            family.close()
        release_interrupts()
        raise


def release_interrupts() -> None:
    """Stop holding; raise the interrupt that came meanwhile, if one did."""
    _start_hold.holding = False
    held, _start_hold.held = _start_hold.held, None
    if held is not None:
        raise KeyboardInterrupt(held)


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux) until
    ``stop_being_subreaper``; whether it is. Nested calls count: the last stop ends it."""
    global _subreaper, _subreaper_users
    with _subreaper_lock:
        if _subreaper is None:
            _subreaper = False
            if os.path.exists(f"/proc/{os.getpid()}/task/{threading.get_native_id()}/children"):
                _subreaper = _prctl_subreaper(1)
        if _subreaper and _subreaper_users == 0:
            _prctl_subreaper(1)
        _subreaper_users += _subreaper
        return _subreaper


def stop_being_subreaper() -> None:
    """Orphans go to init again once no step runs (they are nobody's to reap here)."""
    global _subreaper_users
    with _subreaper_lock:
        if _subreaper and _subreaper_users > 0:
            _subreaper_users -= 1
            if _subreaper_users == 0:
                _prctl_subreaper(0)


def _prctl_subreaper(on: int) -> bool:
    prctl = _prctl()
    return prctl is not None and prctl(_PR_SET_CHILD_SUBREAPER, on, 0, 0, 0) == 0


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's ``prctl``, looked up once: loading libc took more than the call (twice a step)."""
    try:
        import ctypes

        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


def _children(pid: int) -> set[int]:
    """The children of ``pid`` (every thread's, zombies included)."""
    found: set[int] = set()
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", "rb") as handle:
                found.update(int(child) for child in handle.read().split())
        except OSError:
            continue
    return found


def read_proc(path: str) -> bytes:
    """The whole of a small ``/proc`` file (os calls: a third of ``open()``'s cost)."""
    handle = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        parts = []
        while chunk := os.read(handle, 65536):
            parts.append(chunk)
        return b"".join(parts)
    finally:
        os.close(handle)


def _own_children() -> set[int]:
    """The children of this process that a step can have given it: those of the thread
    that starts steps (this one) and those of the main thread, which the kernel gives the
    orphans it re-parents to a subreaper (the first live thread of its group). Two small
    reads, instead of a listing of ``/proc/<pid>/task`` and one read per thread: this runs
    twice per step."""
    found: set[int] = set()
    own = os.getpid()
    for task in {own, threading.get_native_id()}:
        try:
            found.update(
                int(child) for child in read_proc(f"/proc/{own}/task/{task}/children").split()
            )
        except OSError:
            continue
    return found


def _stat_fields(pid: int) -> list[bytes] | None:
    """``/proc/<pid>/stat``'s fields after the name (state first), None when it is gone."""
    try:
        stat = read_proc(f"/proc/{pid}/stat")
    except OSError:
        return None
    return stat[stat.rfind(b")") + 2 :].split()  # the name may hold spaces and ')'


def _state(pid: int) -> bytes | None:
    """The scheduler state letter of ``pid`` (``b"Z"`` for a zombie), None when it is gone."""
    fields = _stat_fields(pid)
    return fields[0][:1] if fields else None


def reap_group(pgid: int, patience: float = 1.0) -> None:
    """Reap this process's children in group ``pgid`` (but its leader) once they have ended.

    A background step's double-forked child is re-parented to ops when ops is a subreaper
    at that instant; killed with its group at the end of the run, nobody else waits for it,
    and it stayed a zombie under a long-lived ops (pytest, ``ops serve``). After SIGKILL a
    process takes a moment to end: wait up to ``patience`` for the group's last ones."""
    deadline = time.monotonic() + patience
    while True:
        members = {pid for pid in _own_children() if pid != pgid and _group_of(pid) == pgid}
        living = False
        for pid in members:
            if _state(pid) == b"Z":
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
            else:
                living = True
        if not living or time.monotonic() > deadline:
            return
        time.sleep(0.01)


def _group_of(pid: int) -> int | None:
    """The process group of ``pid``; None when it is gone."""
    fields = _stat_fields(pid)
    return int(fields[2]) if fields and len(fields) > 2 else None


class StepProcesses:
    """Every process one step started, wherever it went; stops them all when asked."""

    def __init__(self) -> None:
        self.subreaper = become_subreaper()
        self.before = _own_children() if self.subreaper else set()
        self.main: int | None = None  # while ops has not reaped it
        # Its main process reaped and no orphan of it seen: nothing of the step is left to
        # become an orphan either, so ``close`` need not look again (a read per step).
        self.left_nothing = False

    def look_again(self) -> None:
        """Take the children ops has now (but the step's main process) as not the step's:
        for a step held at its gate since it was started, which has none of its own yet."""
        if self.subreaper:
            self.before = _own_children() - {self.main or 0}

    def close(self) -> None:
        """The step is over: stop adopting orphans, reap those of the step that are zombies.

        Only strays are reaped (children gained while the step ran, not its main process):
        a blanket ``waitpid(-1)`` would take the exit status of children ``subprocess``
        waits for. ``stop`` has made sure none of them still runs.
        """
        if not self.subreaper:
            return
        stop_being_subreaper()
        for pid in set() if self.left_nothing else self.strays():
            if _state(pid) == b"Z":
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
        self.subreaper = False

    def strays(self) -> set[int]:
        """Children ops gained while the step ran: the step's orphans (zombies included)."""
        if not self.subreaper:
            return set()
        return _own_children() - self.before - {self.main or 0}

    def living(self) -> set[int]:
        """The step's processes still running; reaps the orphans that already exited."""
        roots = self.strays()
        for pid in list(roots):
            if _state(pid) == b"Z":
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
        if self.main is not None:
            roots.add(self.main)
        found: set[int] = set()
        pending = list(roots)
        while pending:
            pid = pending.pop()
            if pid in found:
                continue
            found.add(pid)
            pending.extend(_children(pid))
        return {pid for pid in found if _state(pid) not in (None, b"Z")}

    def stop(self, grace: float, group: int | None = None) -> None:
        """SIGTERM every process of the step, SIGKILL those left after ``grace``, reap them."""
        if not self.subreaper:
            if group is not None:
                terminate_group(group, grace)
            return
        signal_now, signalled = signal.SIGTERM, set[int]()
        kill_at = time.monotonic() + grace
        give_up = kill_at + KILL_WAIT
        empty_since: float | None = None
        while True:
            living = self.living()
            if group is not None and not signalled:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(group, signal_now)
            now = time.monotonic()
            if not living:
                for pid in self.strays():  # killed orphans of killed parents came to ops
                    if _state(pid) == b"Z":
                        with contextlib.suppress(ChildProcessError):
                            os.waitpid(pid, os.WNOHANG)
                # One empty look is not enough: a process that forks and exits in a loop
                # (a "fork-hopper") is briefly invisible while its new child is re-parented
                # to ops. Done only after QUIET seconds in which nothing of the step lived.
                empty_since = now if empty_since is None else empty_since
                if now - empty_since >= QUIET or now >= give_up:
                    return
                time.sleep(0.01)
                continue
            empty_since = None
            if signal_now == signal.SIGTERM and (now >= kill_at or _hurry.is_set()):
                signal_now, signalled = signal.SIGKILL, set()
                continue
            for pid in living - signalled:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal_now)
            signalled |= living
            if now >= give_up:
                return
            time.sleep(0.02)


@dataclass(frozen=True)
class ProcessResult:
    exit_code: int | None
    timed_out: bool
    stdout: str
    output: str
    duration: float


class HeldProcess:
    """A step's process started held at its gate (``kinds.GATE``): nothing of it has run.

    Started ahead of its turn (``start_held``), it is either let go by ``run_process`` once
    ops has put the step's record on disk, or ``discard``ed: killed at the gate, then reaped.
    Until ``run_process`` takes it, this object owns the gate's write end, the pipes and the
    step's ``StepProcesses``.
    """

    def __init__(
        self,
        argv: list[str],
        env: Mapping[str, str],
        cwd: str | None,
        process: subprocess.Popen[bytes],
        family: StepProcesses,
        gate: int,
    ) -> None:
        self.argv, self.env, self.cwd = argv, env, cwd
        self.process, self.family, self.gate = process, family, gate
        self.pipe = f"pipe:[{os.fstat(gate).st_ino}]"  # its stdin, as /proc/<pid>/fd/0 names it
        self.output = ""  # what it printed, once ``discard`` found it let go

    def at_gate(self) -> bool:
        """Whether the shell still waits at its gate: nothing of its script has run.

        The gate's pipe is its stdin until the gate has read its line: the gate's next
        command, before any of the script's, makes /dev/null its stdin. So while
        ``/proc/<pid>/fd/0`` is that very pipe, no command of the step has run; a shell let
        go by another process (any process of the same user can write a line to
        ``/proc/<pid>/fd/0``), or gone, has another stdin or none. One ``readlink``: cheap
        enough for every step, and not fooled by a line written but not yet read (the shell
        still waits; ops's own line follows it, in turn). Chosen over a nonce the gate
        would check (the shell must hold it, and its environment and command line are
        readable by the same user) and over the scheduler's state in ``/proc/<pid>/stat``
        or ``wchan`` (a released shell blocked in a later read looks the same).
        """
        if not _can_read_fds():
            return True  # no /proc: ops cannot tell, as before
        try:
            return os.readlink(f"/proc/{self.process.pid}/fd/0") == self.pipe
        except OSError:
            return False  # it has ended (a zombie has no fds)

    def matches(self, argv: list[str], env: Mapping[str, str], cwd: str | None) -> bool:
        """Whether this is the process ``argv``/``env``/``cwd`` would start now: the same
        command line and environment, in the very directory (a step that ran meanwhile may
        have removed it and made another by that name)."""
        if self.argv != argv or self.cwd != cwd or self.env != env:
            return False
        try:
            here, there = os.stat(cwd or "."), os.stat(f"/proc/{self.process.pid}/cwd")
        except OSError:
            return False
        return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)

    def discard(self) -> bool:
        """Kill it at its gate (it never runs a command of its script) and reap it; whether
        it was still at its gate (False: let go or ended by another process: it may have
        run).

        Stopped (SIGSTOP) before it is looked at, so that it cannot be let go between the
        look and the kill."""
        pid = self.process.pid
        with contextlib.suppress(ProcessLookupError, PermissionError, ChildProcessError):
            os.killpg(pid, signal.SIGSTOP)  # its own group: nothing else in it
            # Until it has stopped or ended; WNOWAIT leaves its exit for ``wait`` below.
            os.waitid(os.P_PID, pid, os.WSTOPPED | os.WEXITED | os.WNOWAIT)
        waiting = self.at_gate()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        if not waiting:  # what it printed out of turn belongs in its step's record
            self.output = _leftover(self.process)
        os.close(self.gate)  # were it still alive, it would read the end of the pipe and exit
        self.process.wait()
        self.family.main = None
        self.family.close()
        assert self.process.stdout is not None and self.process.stderr is not None
        self.process.stdout.close()
        self.process.stderr.close()
        return waiting


def _leftover(process: subprocess.Popen[bytes]) -> str:
    """What a killed process left in its output pipes (stdout, then stderr)."""
    selector = selectors.DefaultSelector()
    decoders = {}
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            os.set_blocking(stream.fileno(), False)
            selector.register(stream.fileno(), selectors.EVENT_READ)
            decoders[stream.fileno()] = codecs.getincrementaldecoder("utf-8")("replace")
    try:
        return _unread(selector, decoders)
    finally:
        selector.close()


@functools.cache
def _can_read_fds() -> bool:
    """Whether ``/proc/<pid>/fd`` tells a process's open files (Linux)."""
    return os.path.isdir(f"/proc/{os.getpid()}/fd")


def start_held(argv: list[str], *, env: Mapping[str, str], cwd: str | None) -> HeldProcess:
    """Start ``argv`` (a script beginning with ``kinds.GATE``) held at its gate, in its own
    session, its output piped: ``run_process(..., held=...)`` lets it go.

    An interrupt that comes while it starts is raised once it is held here, and kills it.
    """
    family = StepProcesses()
    stdin, gate = os.pipe()
    try:
        process = popen_holding_interrupts(
            family,
            argv,
            env=dict(env),
            cwd=cwd,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except BaseException:
        os.close(gate)
        raise
    finally:
        os.close(stdin)
    family.main = process.pid
    held = HeldProcess(argv, env, cwd, process, family, gate)
    try:
        release_interrupts()
    except BaseException:
        held.discard()
        raise
    return held


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
    ready: Callable[[], None] = lambda: None,
    gated: bool = False,
    safe_cut: Callable[[str, int], int] = lambda text, index: index,
    held: HeldProcess | None = None,
    start_next: Callable[[], int | None] = lambda: None,
) -> ProcessResult:
    """Run ``argv``; ``on_output`` gets text as it arrives (stdout and stderr interleaved).

    ``ready`` is called before the process can act. ``gated``: ``argv`` holds until it reads
    a line from its stdin, a pipe (a shell step's ``kinds.GATE``), so ``ready`` runs while
    the process starts up (after ``on_start``), then the line lets it go; otherwise
    ``ready`` runs before it is started. ``held``: that gated process, already started
    (``start_held``, with this ``argv``), which this call takes over. ``start_next`` is
    called once the process is let go; the child it may start (its pid) is not this step's.

    Only the last ``MAX_KEPT`` characters are kept; ``safe_cut(text, index)`` moves the cut
    past any secret it would split (``Masker.safe_cut``), since the caller masks the kept
    text afterwards and a secret's tail alone would not be recognised.
    """
    started = time.monotonic()
    if interactive:
        ready()
        return _run_attached(
            argv,
            env=env,
            cwd=cwd,
            timeout=timeout,
            on_start=on_start,
            kill_grace=kill_grace,
            started=started,
        )
    gate: int | None = None
    if gated or held is not None:
        if held is None:
            held = start_held(argv, env=env, cwd=cwd)
        else:  # started ahead, maybe while another step ran: what is ops's now is not this step's
            held.family.look_again()
        family, process, gate = held.family, held.process, held.gate
    else:
        ready()
        family = StepProcesses()
        process = popen_holding_interrupts(
            family,
            argv,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    family.main = process.pid
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
        release_interrupts()  # one that came while the step started is raised here: it stops it
        on_start(process.pid)  # inside the try: an interrupt while recording it stops the step
        if gate is not None:
            ready()
            if held is not None and not held.at_gate():  # let go before its record was on disk
                raise ReleasedEarly(f"process {process.pid} left its gate before its turn")
            let_go, gate = gate, None
            _open_gate(let_go)
        not_ours = start_next()
        if not_ours is not None:
            family.before.add(not_ours)
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
                    output, stdout = keep_tail(output, safe_cut), keep_tail(stdout, safe_cut)
                    kept = len(output[0])
                on_output(text)
            now = time.monotonic()
            if process.poll() is not None:
                exited_at = exited_at or now
                if now - exited_at > DRAIN_AFTER_EXIT:
                    break  # a background child holds the pipe open; stop reading
            if deadline is not None and now >= deadline and process.poll() is None:
                timed_out = True
                break
        if not timed_out and process.poll() is None:  # closed its pipes but still running
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                timed_out = True
        if timed_out:
            family.stop(kill_grace, group=process.pid)
        exit_code = process.wait()
        family.main = None
        _stop_leftovers(family, process.pid, kill_grace)
    except ReleasedEarly as early:
        family.stop(kill_grace, group=process.pid)
        process.wait()
        early.output = _unread(selector, decoders)
        raise
    except BaseException:
        family.stop(kill_grace, group=process.pid)
        process.wait()
        raise
    finally:
        if gate is not None:  # not let go: its shell reads the end of the pipe and exits
            os.close(gate)
        family.close()
        selector.close()
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
    """An interactive step: the terminal is the step's; its output is not recorded.

    It stays in ops's process group (the terminal's foreground), so Ctrl-C reaches it too.
    """
    family = StepProcesses()
    process = popen_holding_interrupts(family, argv, env=dict(env), cwd=cwd)
    family.main = process.pid
    try:
        release_interrupts()
        on_start(process.pid)
        try:
            exit_code: int | None = process.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            process.terminate()
            family.stop(kill_grace)
            if not family.subreaper:
                try:
                    process.wait(kill_grace)
                except subprocess.TimeoutExpired:
                    process.kill()
            process.wait()
            exit_code, timed_out = None, True
        family.main = None
        family.stop(kill_grace)
    except BaseException:
        family.stop(kill_grace)
        if process.poll() is None:
            process.kill()
        process.wait()
        raise
    finally:
        family.close()
    return ProcessResult(
        exit_code,
        timed_out,
        "",
        "(interactive step: output not recorded)\n",
        time.monotonic() - started,
    )


def _unread(selector: selectors.BaseSelector, decoders: Mapping[int, Any]) -> str:
    """What a stopped process left in its output pipes (up to ``MAX_KEPT``), unwaited for."""
    parts: list[str] = []
    for key in list(selector.get_map().values()):
        fd = int(key.fd)
        with contextlib.suppress(OSError):
            while (sum(map(len, parts)) < MAX_KEPT) and (data := os.read(fd, 65536)):
                parts.append(decoders[fd].decode(data))
    return "".join(parts)


def _open_gate(gate: int) -> None:
    """Let a gated process go on."""
    try:
        os.write(gate, b"\n")
    except BrokenPipeError:
        pass  # it is gone already (killed): its exit status tells
    finally:
        os.close(gate)


def keep_tail(
    parts: list[str], safe_cut: Callable[[str, int], int], limit: int = MAX_KEPT
) -> list[str]:
    """The last ``limit`` characters of ``parts``, less any secret the cut would split."""
    text = "".join(parts)
    return [text[safe_cut(text, max(0, len(text) - limit)) :]]


def _stop_leftovers(family: StepProcesses, pgid: int, grace: float) -> None:
    """After the main process exited: stop what it left running (one small read if nothing)."""
    if family.subreaper:
        if family.strays():
            family.stop(grace, group=pgid)
        else:
            family.left_nothing = True
    elif _group_alive(pgid):
        terminate_group(pgid, grace)


def terminate_group(pgid: int, grace: float) -> None:
    """SIGTERM the process group, then SIGKILL whatever is still alive after ``grace``."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and not _hurry.is_set():
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


@contextlib.contextmanager
def signals_interrupt() -> Iterator[list[int]]:
    """While a run goes on, SIGTERM and SIGHUP end it like Ctrl-C (``KeyboardInterrupt``).

    Yields the list of signal numbers received, so the command can exit 128 + the first
    (130 for Ctrl-C), as shells do.

    The first signal interrupts; later ones never interrupt the clean-up (stopping the step,
    saving the state, writing the audit), they only cut the grace short: SIGKILL at once.
    Signal handlers belong to the main thread, so elsewhere (``ops serve``) this does nothing.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    interrupted = False

    def interrupt(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupted
        received.append(signum)
        if interrupted:
            _hurry.set()
            return
        interrupted = True
        if _start_hold.holding:  # a step is being started: raised once ops holds it
            _start_hold.held = signal.Signals(signum).name
            return
        raise KeyboardInterrupt(signal.Signals(signum).name)

    caught = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {number: signal.signal(number, interrupt) for number in caught}
    try:
        yield received
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        _hurry.clear()
