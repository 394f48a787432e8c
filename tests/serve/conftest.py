"""The store contract's backends: each test here that takes ``state`` runs on SQLite and on
a real PostgreSQL (``store_state`` in tests/postgres.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def state(store_state: str) -> str:
    return store_state
