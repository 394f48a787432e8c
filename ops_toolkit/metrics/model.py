"""What the core needs from a metrics backend: instant queries at a pinned time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


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


@runtime_checkable
class BoundedSource(Protocol):
    """A source whose queries can be bounded together (``PrometheusSource``)."""

    def within(self, seconds: float, bound: str) -> MetricsSource: ...


_SHORT_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_promql_string(value: str) -> str:
    """``value`` as the inside of a PromQL string literal, quoted with ``"`` or ``'``.

    PromQL strings follow Go's rules: ``\\'`` is an error inside double quotes and ``\\"``
    inside single quotes, so both quotes (and the backtick, which ends a raw string) are
    written as ``\\xNN``, valid in either. Control and other non-printable characters are
    escaped too; a lone surrogate, which has no UTF-8 form, becomes U+FFFD as Go reads it.
    """
    out = []
    for char in value:
        code = ord(char)
        if char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif char in "\"'`" or code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\\ufffd")
        elif not char.isprintable():
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            out.append(char)
    return "".join(out)
