"""Reading a request body with a size limit and a deadline: one reader for every endpoint.

A body is read into memory, so it must be bounded before it is read: a declared
``Content-Length`` over what the endpoint reads is refused at once, and a body of unknown
length (chunked) is read only until it passes the limit. A client that trickles its body
(one byte now and then, slowloris) is cut off at the deadline. ``/slack/*`` once read any
body whole, unsigned and without a deadline (a 200 MiB body held 448 MB), before its own
64 KiB check.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from starlette.requests import Request

_DIGITS = re.compile(r"[0-9]{1,20}")


@dataclass(frozen=True)
class TooLarge:
    """The body passed the limit: ``size`` bytes, declared or read; ``at_least`` when the
    reading stopped there (the body is longer still)."""

    size: int
    at_least: bool

    def reason(self, place: str, limit: int, setting: str = "") -> str:
        """Why, with the size when it is known (declared, or read whole)."""
        where = f" ({setting})" if setting else ""
        body = "body" if self.at_least else f"body of {self.size} bytes"
        return f"{place}: {body} is over the limit of {limit} bytes{where}"


@dataclass(frozen=True)
class TooSlow:
    """The body did not arrive within the deadline of ``seconds``."""

    seconds: float

    def reason(self, place: str) -> str:
        return f"{place}: body not received within {self.seconds:g}s"


async def read_body(
    request: Request, *, limit: int, timeout: float, drain: int | None = None
) -> bytes | TooLarge | TooSlow:
    """The body, or why it was not read: over ``limit`` bytes, or not in ``timeout`` seconds.

    ``drain`` (at least ``limit``): a body declared or found over the limit is still read
    up to this many bytes, so a sender that writes its whole body before reading the answer
    sees the 413 rather than a connection reset (Alertmanager); its bytes are not kept.
    Without it nothing past the limit is read.
    """
    drain = max(limit, drain if drain is not None else limit)
    declared = request.headers.get("content-length", "")
    size = int(declared) if _DIGITS.fullmatch(declared) else 0
    if size > drain:
        return TooLarge(size, at_least=False)  # refused before reading a byte of it
    size = 0
    chunks: list[bytes] = []
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > drain:
                    return TooLarge(size, at_least=True)
                if size <= limit:
                    chunks.append(chunk)
    except TimeoutError:
        return TooSlow(timeout)
    if size > limit:
        return TooLarge(size, at_least=False)
    return b"".join(chunks)
