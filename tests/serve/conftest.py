"""The store contract's backends: each test that takes ``state`` runs on SQLite and on a
real PostgreSQL (a database of its own on the session's throwaway server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

BACKEND_NAMES = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKEND_NAMES)
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A ``--state`` value for a new empty store of each backend."""
    if request.param == "sqlite":
        yield str(tmp_path / "state.db")
        return
    url: str = request.getfixturevalue("postgres_database")
    yield url
    from ops_toolkit.serve.store.postgres import close_all

    close_all()  # before the database is dropped
