"""Durations as people write them in runbooks and SLOs: ``90s``, ``5m``, ``1h30m``, ``30d``.

Pure; shared by runbook step attributes and SLO windows so both accept the same syntax.
"""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+")


def parse_duration(text: str) -> float:
    """Seconds in ``text``; a bare number is seconds. Raises ValueError with the reason."""
    value = text.strip()
    if not value:
        raise ValueError("empty duration")
    try:
        seconds = float(value)
    except ValueError:
        if not _WHOLE.fullmatch(value):
            raise ValueError(f"not a duration: {text!r} (use e.g. '30s', '5m', '1h30m')") from None
        seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(value))
    if seconds < 0:
        raise ValueError(f"negative duration: {text!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest Prometheus-style spelling of ``seconds`` (``3d``, ``1h30m``, ``250ms``)."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    remaining = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
