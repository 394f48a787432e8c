"""Durations as people write them in runbooks and SLOs: ``90s``, ``5m``, ``1h30m``, ``30d``.

Pure; shared by runbook step attributes and SLO windows so both accept the same syntax.
"""

from __future__ import annotations

import math
import re

MAX_SECONDS = 3650 * 86400.0  # ten years: longer is a typo, and overflows time arithmetic
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d|w)")
_WHOLE = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h|d|w))+")


class DurationTooLong(ValueError):
    """A duration over ``MAX_SECONDS``."""


def parse_duration(text: str) -> float:
    """Seconds in ``text``; a bare number is seconds. Raises ValueError with the reason.

    The result is finite and at most ``MAX_SECONDS``: ``nan``, ``inf`` or ``1e400`` once
    came through as durations and crashed later with OverflowError.
    """
    value = text.strip()
    if not value:
        raise ValueError("empty duration")
    if not value.isascii() or "_" in value:  # float() takes '1_000' and '٣' (Arabic 3)
        raise ValueError(f"not a duration: {shorten(text)!r} (use e.g. '30s', '5m', '1h30m')")
    try:
        seconds = float(value)
    except ValueError:
        if not _WHOLE.fullmatch(value):
            raise ValueError(
                f"not a duration: {shorten(text)!r} (use e.g. '30s', '5m', '1h30m')"
            ) from None
        seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(value))
    if math.isnan(seconds):
        raise ValueError(f"not a duration: {shorten(text)!r} (use e.g. '30s', '5m', '1h30m')")
    if seconds < 0:
        raise ValueError(f"negative duration: {shorten(text)!r}")
    if seconds > MAX_SECONDS:
        raise DurationTooLong(f"duration too long: {shorten(text)!r} (at most 3650d)")
    return seconds


def shorten(text: str, limit: int = 40) -> str:
    """``text`` cut to ``limit`` characters for a message (a 5,000-digit value is no help)."""
    return text if len(text) <= limit else f"{text[:limit]}..."


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
