"""Did-you-mean hints for names a user mistyped (attributes, keys, runbooks, SLOs).

``difflib`` is imported when a hint is wanted: this module is imported by every YAML read
(``yamlpath``), and a command that reads valid files never needs one (issue 15: ~0.7 ms of
each ``ops slo report``).
"""

from __future__ import annotations

from collections.abc import Iterable


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest option, or an empty string."""
    import difflib

    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def close_matches(word: str, options: Iterable[str], n: int = 3) -> list[str]:
    import difflib

    return difflib.get_close_matches(word, list(options), n=n, cutoff=0.5)
