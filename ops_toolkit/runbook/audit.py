"""The audit trail: append-only JSON Lines, each line flushed and fsynced as written."""

from __future__ import annotations

import json
import os
from typing import Any


class AuditLog:
    """Appends one JSON object per line to ``path`` (created with mode 0600)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def append(self, event: dict[str, Any]) -> None:
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        line = (json.dumps(event, sort_keys=True, separators=(",", ":")) + "\n").encode()
        handle = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(handle, line)
            os.fsync(handle)
        finally:
            os.close(handle)
