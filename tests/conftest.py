"""Shared fixtures: the repository root, a CLI runner, and a throwaway PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.postgres import postgres_database, postgres_server, store_state

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["ROOT", "postgres_database", "postgres_server", "runner", "store_state"]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
