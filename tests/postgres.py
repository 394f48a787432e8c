"""The throwaway PostgreSQL server the tests share (one per session, a database per test).

The fixtures live in tests/conftest.py; this module holds what they build on, so a test
module can also start a server of its own (to stop and restart it without disturbing the
others).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ops_toolkit.demo.postgres import PASSWORD, SUPERUSER, PostgresServer

__all__ = [
    "PASSWORD",
    "SUPERUSER",
    "PostgresServer",
    "postgres_database",
    "postgres_server",
    "store_state",
]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL for the session; a test that needs it fails when it is not installed."""
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def postgres_database(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a new empty database, dropped after the test."""
    if not postgres_server.running:  # a test before this one stopped it and failed
        postgres_server.start()
    url = postgres_server.create_database()
    try:
        yield url
    finally:
        if postgres_server.running:
            postgres_server.drop_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A ``--state`` value for a new empty store of each backend: a test that takes it runs
    on SQLite and on the session's PostgreSQL (a database of its own)."""
    if request.param == "sqlite":
        yield str(tmp_path / "state.db")
        return
    url: str = request.getfixturevalue("postgres_database")
    yield url
    from ops_toolkit.serve.store.postgres import close_all

    close_all()  # before the database is dropped
