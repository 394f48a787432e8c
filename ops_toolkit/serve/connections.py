"""How many connections ``ops serve`` keeps open at once, in all and per client address.

Each connection is an open file. A client may take up to ``serve.read_timeout`` to send
its request's headers, so a few hundred idle connections once used up the process's open
files: ``accept()`` failed (``Too many open files``) and a real webhook waited until its
sender gave up. Now a connection over either cap is answered 503 with ``Retry-After`` as
soon as its headers arrive (Alertmanager retries a 5xx), is given a short grace to send
them, and the caps stay below the open-file limit, leaving room for the store, the log
and diagnose runs. The soft open-file limit is raised to the hard one at start (systemd
gives a service 1024 soft, 524288 hard).
"""

from __future__ import annotations

import resource
from collections import Counter
from dataclasses import dataclass

from ops_toolkit.errors import ConfigError

MOST_CONNECTIONS = 4096  # a ceiling on the derived cap, whatever the open-file limit
RESERVED_FILES_MIN = 64  # open files kept for the store, logs, sockets out, diagnose runs
REFUSED_GRACE_SECONDS = 1.0  # how long a connection over a cap may take to send headers


@dataclass(frozen=True)
class ConnectionLimits:
    total: int  # connections open at once, every client together
    per_client: int  # connections open at once from one client address


def raise_open_file_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):  # a sandbox may refuse: keep the soft limit
            return soft
        return hard
    return soft


def reserved_files(open_files: int) -> int:
    """Open files left for everything but client connections: a quarter, at least 64."""
    return max(RESERVED_FILES_MIN, open_files // 4)


def connection_limits(
    open_files: int, total: int | None = None, per_client: int | None = None, source: str = ""
) -> ConnectionLimits:
    """The caps for ``open_files`` (the soft RLIMIT_NOFILE): ``total`` and ``per_client``
    as ops.yaml's ``serve.max_connections`` and ``serve.max_connections_per_client`` give
    them, else derived: what the open files allow after ``reserved_files`` (at most 4096),
    and a quarter of that per client address (Alertmanager replicas each have their own;
    a proxy in front of ops serve shares one). A cap the open files cannot hold is an error
    at start, not a failing ``accept()`` later."""
    place = f"{source or 'ops.yaml'}: serve"
    room = open_files - reserved_files(open_files)
    if room < 1:
        raise ConfigError(
            f"the open-file limit (RLIMIT_NOFILE) is {open_files}: ops serve needs more than "
            f"{reserved_files(open_files)}; raise it (ulimit -n, or LimitNOFILE= in systemd)"
        )
    if total is not None and total > room:
        raise ConfigError(
            f"{place}.max_connections: {total} is more than the open-file limit allows "
            f"({open_files} open files leave room for {room} connections); raise the limit "
            "(ulimit -n, or LimitNOFILE= in systemd) or lower max_connections"
        )
    chosen_total = total if total is not None else min(room, MOST_CONNECTIONS)
    chosen_per_client = per_client if per_client is not None else max(1, chosen_total // 4)
    return ConnectionLimits(chosen_total, min(chosen_per_client, chosen_total))


class ConnectionCount:
    """Connections open now, in all and per client address (one event loop: no lock)."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self.total = 0
        self.by_client: Counter[str] = Counter()

    def opened(self, client: str) -> str | None:
        """Count a new connection; why it is over a cap, or None when it is within both."""
        self.total += 1
        self.by_client[client] += 1
        if self.by_client[client] > self.limits.per_client:
            return (
                f"too many connections from {client} ({self.limits.per_client}, "
                "serve.max_connections_per_client)"
            )
        if self.total > self.limits.total:
            return f"too many connections ({self.limits.total}, serve.max_connections)"
        return None

    def closed(self, client: str) -> None:
        self.total -= 1
        self.by_client[client] -= 1
        if self.by_client[client] <= 0:
            del self.by_client[client]
