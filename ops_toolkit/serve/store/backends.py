"""Which backend a ``--state`` value (or ``serve.state``) names, by its URL scheme.

A plain path or ``sqlite:PATH`` is a SQLite file (the embedded default); ``postgresql://``
(or ``postgres://``) is a PostgreSQL database. The registry is a literal dict a type checker
follows; an unknown scheme is an error that lists the ones there are.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from ops_toolkit.errors import ConfigError
from ops_toolkit.serve.store.database import Database
from ops_toolkit.urls import redact_url

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
WHERE = "--state, OPS_STATE, or serve.state in ops.yaml"
_LIBPQ_KEYWORDS = re.compile(
    r"^\s*(host|hostaddr|port|dbname|user|password|sslmode|service)\s*=", re.IGNORECASE
)


@dataclass(frozen=True)
class StoreLocation:
    """A parsed ``--state``: the backend's scheme and what it opens (a path or a URL)."""

    scheme: str
    target: str
    shown: str  # for messages: never the password


@dataclass(frozen=True)
class StoreOptions:
    """How a backend opens: SQLite's ``synchronous`` level, and how long a write waits for
    another connection's lock (``store.busy_timeout``): SQLite's busy timeout on its one
    write lock, PostgreSQL's ``lock_timeout`` on the rows (and tables) a statement locks."""

    synchronous: str = "FULL"
    busy_timeout: float = 30.0


def _open_sqlite(location: StoreLocation, options: StoreOptions) -> Database:
    from ops_toolkit.serve.store.sqlite import SQLiteDatabase

    return SQLiteDatabase(
        location.target, synchronous=options.synchronous, busy_timeout=options.busy_timeout
    )


def _open_postgres(location: StoreLocation, options: StoreOptions) -> Database:
    from ops_toolkit.serve.store.postgres import PostgresDatabase

    return PostgresDatabase(location.target, busy_timeout=options.busy_timeout)


BACKENDS: dict[str, Callable[[StoreLocation, StoreOptions], Database]] = {
    "sqlite": _open_sqlite,
    "postgresql": _open_postgres,
    "postgres": _open_postgres,
}


def parse_state(state: str) -> StoreLocation:
    """``ops-state.db`` / ``sqlite:ops-state.db`` / ``postgresql://...`` -> its backend."""
    shown = redact_url(state)
    match = _SCHEME.match(state)
    if match is None or (match.group(1).lower() != "sqlite" and "://" not in state):
        if _LIBPQ_KEYWORDS.match(state):  # else a file named after the password is created
            raise ConfigError(
                f"{shown}: a libpq key=value string; write the database as "
                f"postgresql://USER:PASSWORD@HOST:PORT/DATABASE ({WHERE})"
            )
        return StoreLocation("sqlite", state, shown)  # a path (even one with a colon in it)
    scheme = match.group(1).lower()
    if scheme not in BACKENDS:
        raise ConfigError(
            f"{shown}: unknown store {scheme + ':'!r}; give a file path, sqlite:PATH or "
            f"postgresql://USER:PASSWORD@HOST:PORT/DATABASE ({WHERE})"
        )
    if scheme == "sqlite":
        path = state[len(match.group(0)) :]
        path = path[2:] if path.startswith("//") else path  # sqlite://PATH as well
        if not path:
            raise ConfigError(f"{shown}: no file after 'sqlite:'; give sqlite:PATH ({WHERE})")
        return StoreLocation("sqlite", path, path)
    head = state[len(match.group(0)) :].removeprefix("//").split("?", 1)[0]
    userinfo = head[: head.rfind("@")] if "@" in head else ""
    if "@" in userinfo or "/" in userinfo:  # libpq would split it elsewhere and say a part
        raise ConfigError(
            f"{shown}: the user or password holds an '@' or '/' as is; percent-encode it "
            f"('@' as %40, '/' as %2F) ({WHERE})"
        )
    return StoreLocation(scheme, state, shown)


def open_database(state: str, *, synchronous: str = "FULL", busy_timeout: float = 30.0) -> Database:
    location = parse_state(state)
    return BACKENDS[location.scheme](location, StoreOptions(synchronous, busy_timeout))


def require_existing(state: str) -> None:
    """For commands that read what ``ops serve`` wrote: a SQLite file that is not there is
    a mistaken path (opening it would create an empty store elsewhere). A database URL is
    checked by connecting."""
    location = parse_state(state)
    if location.scheme == "sqlite" and not os.path.exists(location.target):
        raise ConfigError(
            f"{location.shown}: no such store; pass the one 'ops serve' uses ({WHERE})"
        )


def runs_directory(state: str) -> str:
    """Where ``ops serve`` keeps its diagnose runs: beside a SQLite file, else in the
    working directory (a database URL is no place for files, and holds a password)."""
    location = parse_state(state)
    return f"{location.target}.runs" if location.scheme == "sqlite" else "ops-serve.runs"
