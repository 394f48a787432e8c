"""Secret values replaced by ``***`` in everything ops writes or prints."""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"


class Masker:
    """Replaces every occurrence of the given secret values; longest first."""

    def __init__(self, secrets: Iterable[str]) -> None:
        values = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in values)) if values else None

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def mapping(self, values: dict[str, str], secret_names: Iterable[str]) -> dict[str, str]:
        """``values`` with secret names shown as ``***`` and other values masked."""
        hidden = set(secret_names)
        return {k: (MASK if k in hidden else self(v)) for k, v in values.items()}
