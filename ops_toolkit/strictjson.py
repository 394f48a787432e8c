"""Reading JSON that someone else wrote, refusing what the standard library lets through.

``json.loads`` keeps the last of two equal keys, so ``{"status": "firing", "status":
"resolved"}`` means whatever the reader's library picks; a sender (or an attacker between
two readers) can make two programs see two different payloads. The one place where ops
reads such JSON refuses it instead.
"""

from __future__ import annotations

import json
from typing import Any


class DuplicateKeyError(ValueError):
    """A JSON object names one key twice; ``key`` is that key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key = key


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    mapping = dict(pairs)
    if len(mapping) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKeyError(key)
            seen.add(key)
    return mapping


def loads(text: str | bytes) -> Any:
    """``json.loads`` that raises :class:`DuplicateKeyError` (a ValueError) on a repeated key.

    Other errors are json's own (``JSONDecodeError``, ``RecursionError`` on deep nesting,
    ``ValueError`` on integers over Python's digit limit), for the caller to name the place.
    """
    return json.loads(text, object_pairs_hook=_unique)
