"""URLs as messages and logs may show them: never with the password.

Shared by the metrics client (``https://user:secret@prometheus``) and the store
(``postgresql://ops:secret@db/ops``, or ``?password=secret`` in a libpq URL).
"""

from __future__ import annotations

import re

_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://[^/@:]*):[^/@]*@")
_PASSWORD_PARAMETER = re.compile(r"([?&]password=)[^&]*", re.IGNORECASE)


def redact_url(url: str) -> str:
    """``scheme://user:secret@host`` -> ``scheme://user:***@host`` (and ``password=***``)."""
    return _PASSWORD_PARAMETER.sub(r"\1***", _USERINFO.sub(r"\1:***@", url))
