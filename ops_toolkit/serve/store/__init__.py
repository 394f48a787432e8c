"""``ops serve``'s store: one contract (``core.Store``) over SQLite and PostgreSQL."""

from __future__ import annotations

from ops_toolkit.notify.model import Planned
from ops_toolkit.serve.store.backends import BACKENDS, parse_state
from ops_toolkit.serve.store.core import (
    COUNTER_NAMES,
    PENDING,
    SEEN_CHUNK,
    InboxEntry,
    OutboxEntry,
    Store,
    insert_outbox,
)
from ops_toolkit.serve.store.database import Database, Result, Transaction
from ops_toolkit.serve.store.schema import LATEST, migrate, schema_version

__all__ = [
    "BACKENDS",
    "COUNTER_NAMES",
    "LATEST",
    "PENDING",
    "SEEN_CHUNK",
    "Database",
    "InboxEntry",
    "OutboxEntry",
    "Planned",
    "Result",
    "Store",
    "Transaction",
    "insert_outbox",
    "migrate",
    "parse_state",
    "schema_version",
]
