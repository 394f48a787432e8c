"""Shared fixtures: the repository root, a CLI runner, and a throwaway PostgreSQL.

And a check at the end of the session: no process the tests started may outlive them. Every
process started under this session carries ``OPS_TEST_SESSION`` in its environment (unless a
test gave it an environment of its own); whichever still runs at the end, and every child of
pytest still there (a zombie that nobody waited for included), is named and the session
fails. They are then stopped by pid, so one leak does not slow the next run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from subprocess import Popen, TimeoutExpired
from typing import Any, TypeVar

import pytest
from click.testing import CliRunner

from tests.postgres import postgres_database, postgres_server, store_state

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["ROOT", "postgres_database", "postgres_server", "runner", "store_state"]

T = TypeVar("T", str, bytes)

SESSION_MARK = "OPS_TEST_SESSION"
# Seconds for processes stopped by the last teardowns to go (less in tests of this check).
LEFTOVER_WAIT = float(os.environ.get("OPS_TEST_LEFTOVER_WAIT", "10"))


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def stopped_at_teardown() -> Iterator[Callable[[Popen[T]], Popen[T]]]:
    """Register a process the test starts; at teardown, one still running (the test failed
    half-way) gets SIGTERM (an ``ops`` then stops its steps), SIGKILL after 10 s, and is
    waited for."""
    started: list[Popen[Any]] = []

    def register(process: Popen[T]) -> Popen[T]:
        started.append(process)
        return process

    yield register
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except TimeoutExpired:
                process.kill()
        process.wait()


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # the controller, or a run without workers
        os.environ[SESSION_MARK] = f"{os.getpid()}-{uuid.uuid4().hex}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    mark = os.environ.get(SESSION_MARK)
    if mark is None:
        return
    deadline = time.monotonic() + LEFTOVER_WAIT
    while (left := leftover_processes(mark)) and time.monotonic() < deadline:
        time.sleep(0.05)
    if not left:
        return
    lines = [f"  pid {pid} ({state}): {command}" for pid, (state, command) in sorted(left.items())]
    message = "processes the tests started are still there at the end of the session:"
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write("\n")
        reporter.write_sep("=", "LEFTOVER PROCESSES", red=True, bold=True)
        reporter.write_line(message)
        for line in lines:
            reporter.write_line(line)
    else:
        print(message, *lines, sep="\n")
    for pid, (state, _) in left.items():
        if state != "Z":
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    for pid in children_of(os.getpid()):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def leftover_processes(mark: str) -> dict[int, tuple[str, str]]:
    """Processes of this session still there: pid -> (state letter, command line).

    The children of pytest (zombies too, which no environment can be read from), and any
    other process whose environment carries the session's mark (those that left pytest's
    tree: ``setsid``, double forks, daemons).
    """
    own = os.getpid()
    found: dict[int, tuple[str, str]] = {}
    for pid in children_of(own):
        found[pid] = _describe(pid)
    needle = f"{SESSION_MARK}={mark}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == own or int(entry) in found:
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found[int(entry)] = _describe(int(entry))
    return {pid: about for pid, about in found.items() if about[0] != "?"}


def children_of(pid: int) -> set[int]:
    """``pid``'s children, every thread's (zombies included)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found.update(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def _describe(pid: int) -> tuple[str, str]:
    """State letter and command line ("?" when the process is already gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").strip()
    except OSError:
        return "?", ""
    name = stat[stat.find("(") + 1 : stat.rfind(")")]
    return stat[stat.rfind(")") + 2], command.decode(errors="replace") or f"[{name}]"
