"""What the core needs from a metrics backend: instant queries at a pinned time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Sample:
    """One series' value at the query time."""

    labels: Mapping[str, str]
    value: float

    def label_text(self) -> str:
        inner = ",".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        return "{" + inner + "}"


class MetricsSource(Protocol):
    """An instant-query backend. ``at`` is unix seconds; None means the server's now."""

    def query(self, promql: str, at: float | None = None) -> list[Sample]: ...

    def query_many(
        self, queries: Sequence[str], at: float | None = None
    ) -> list[list[Sample] | Exception]: ...


def escape_promql_string(value: str) -> str:
    """``value`` made safe inside a double- or single-quoted PromQL string literal."""
    return (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("'", "\\'")
        .replace("`", "\\`")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
    )
