"""URLs as messages and logs may show them: never with the password.

Shared by the metrics client (``https://user:secret@prometheus``) and the store
(``postgresql://ops:secret@db/ops``, ``?password=secret`` in a libpq URL, or a libpq
``host=db password=secret`` string given where a URL was expected).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)(.*)$", re.DOTALL)
_PASSWORD_PARAMETER = re.compile(r"([?&]password=)([^&#]*)", re.IGNORECASE)
_KEYWORD_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'?|\S*)", re.IGNORECASE)


def _userinfo_password(url: str) -> tuple[str, str, str] | None:
    """(before, password, after) for ``scheme://user:password@rest``, else None.

    The userinfo ends at the *last* ``@`` before the query: a password with an ``@`` or a
    ``/`` left unencoded is a mistake libpq reports, and then it must not be shown in part.
    """
    match = _SCHEME.match(url)
    if match is None:
        return None
    scheme, rest = match.groups()
    head = rest.split("?", 1)[0].split("#", 1)[0]
    at = head.rfind("@")
    if at < 0 or ":" not in head[:at]:
        return None
    user, _, password = head[:at].partition(":")
    return f"{scheme}{user}:", password, rest[at:]


def redact_url(url: str) -> str:
    """``scheme://user:secret@host`` -> ``scheme://user:***@host`` (and ``password=***``)."""
    parts = _userinfo_password(url)
    if parts is not None:
        url = f"{parts[0]}***{parts[2]}"
    if _SCHEME.match(url):
        return _PASSWORD_PARAMETER.sub(r"\1***", url)
    return _KEYWORD_PASSWORD.sub(r"\1***", url)  # a libpq key=value string


def url_passwords(url: str) -> list[str]:
    """Every password ``url`` holds, as written and percent-decoded, longest first: what a
    library's message may quote back, to be replaced before it is shown."""
    found: set[str] = set()
    parts = _userinfo_password(url)
    if parts is not None:
        found.add(parts[1])
    found.update(m.group(2) for m in _PASSWORD_PARAMETER.finditer(url))
    if not _SCHEME.match(url):
        found.update(m.group(2).strip("'") for m in _KEYWORD_PASSWORD.finditer(url))
    found |= {unquote(p) for p in found}
    return sorted((p for p in found if p), key=len, reverse=True)
