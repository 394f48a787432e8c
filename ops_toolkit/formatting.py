"""How budget numbers are written for people, the same in the terminal, chat and HTML."""

from __future__ import annotations

NONE = "—"
# Characters that reorder or hide text on screen (U+202E turns "exe.txt" into "txt.exe"):
# never shown from untrusted text in chat, reports or terminals.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def percent(value: float | None, digits: int = 1) -> str:
    """A ratio as a percentage (0.503 -> '50.3%'); no data is a dash, never 0%."""
    return NONE if value is None else f"{value * 100:.{digits}f}%"


def burn(value: float | None) -> str:
    return NONE if value is None else f"{value:.2f}x"


def bar(fraction: float | None, width: int = 10) -> str:
    """Budget remaining as a bar: full is untouched, empty is spent."""
    if fraction is None:
        return "·" * width
    filled = max(0, min(width, round(fraction * width)))
    return "█" * filled + "░" * (width - filled)
