"""Who holds a SQLite store: ``ops serve`` processes share it, ``ops store migrate`` takes it alone.

Each ``ops serve`` on a SQLite file holds a shared ``flock`` on ``<state>.lock`` for its
life; the kernel drops it when the process ends, even by SIGKILL, so a crash leaves no
stale lock. A migration asks for the lock exclusively without waiting: it gets it only
when no ``ops serve`` runs on the file, and while it holds it no ``ops serve`` starts.
Every holder writes its pid in the file (appended, one line each) so a refusal can say who.
"""

from __future__ import annotations

import fcntl
import os
import time
from dataclasses import dataclass

from ops_toolkit.errors import ConfigError


def lock_path(state: str) -> str:
    return f"{state}.lock"


@dataclass
class StoreLock:
    """An open lock file holding a flock; ``release`` (or process exit) lets it go."""

    path: str
    fd: int

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _open(state: str) -> tuple[str, int]:
    path = lock_path(state)
    try:
        return path, os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot open the store's lock: {exc.strerror or exc}") from None


def _holders(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, os.fstat(fd).st_size).decode(errors="replace")
    pids = [p for p in text.split() if p.isdigit()]
    alive = []
    for pid in dict.fromkeys(pids):
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            pass
        alive.append(pid)
    return ", ".join(alive) or "unknown"


def hold_for_serve(state: str, *, patience: float = 2.0) -> StoreLock:
    """The shared lock of a running ``ops serve``; refused while a migration runs.

    A replica starting at the same moment holds the lock alone for an instant (to clear
    the old pids), so the shared lock is asked for again during ``patience`` seconds before
    the holder is taken for a migration, which holds it for as long as it copies.
    """
    path, fd = _open(state)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.ftruncate(fd, 0)  # alone: the pids written before are history
    except BlockingIOError:
        pass  # other replicas run: keep their pids
    deadline = time.monotonic() + patience
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() < deadline:
                time.sleep(0.01)
                continue
            os.close(fd)
            raise ConfigError(
                f"{state}: 'ops store migrate' is moving this store (lock {path}); "
                "start ops serve on the migration's target instead"
            ) from None
    os.lseek(fd, 0, os.SEEK_END)
    os.write(fd, f"{os.getpid()}\n".encode())
    return StoreLock(path, fd)


def hold_alone(state: str) -> StoreLock:
    """The exclusive lock a migration needs: refused while any ``ops serve`` holds the store."""
    path, fd = _open(state)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        who = _holders(fd)
        os.close(fd)
        raise ConfigError(
            f"{state}: ops serve (pid {who}) holds this store; stop every ops serve on it, "
            "then migrate"
        ) from None
    os.ftruncate(fd, 0)  # holders before us are gone: their pids are history
    return StoreLock(path, fd)
