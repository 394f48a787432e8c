"""One plain-HTTP/1.1 connection: a request out, its whole answer in, kept alive when it can.

Why not ``http.client`` for plain ``http://`` (it still serves ``https://``): importing it
imports the ``email`` package (its header parser) and ``ssl``, about 12-16 ms of the ~110 ms
of CPU an ``ops slo report`` costs (issue 15), for a query that needs neither. This reads
what a Prometheus-compatible server may answer: a status line, headers (folded lines
joined, repeated ones joined with ", " as ``http.client`` does), and a body framed by
``Content-Length``, by ``Transfer-Encoding: chunked`` (trailers skipped) or by the end of
the connection; ``1xx`` interim answers are skipped. Anything else is ``BadAnswer`` naming
what is wrong, never a hang or a traceback.

A server may be hostile, or anything on its path may be: every part of an answer is bounded
(lines, header lines and bytes, interim answers, the body; ``Limits``) and the whole
exchange has one deadline, so a server that trickles a byte at a time, declares a body of
100 TB, streams chunks forever or answers ``100 Continue`` forever costs a bounded time and
memory and ends in one line, never in a MemoryError.
"""

from __future__ import annotations

import socket
import time
from typing import NamedTuple

MAX_LINE = 65536  # bytes in a status, header or chunk-size line (http.client's limit)
MAX_HEADERS = 100  # header lines in one answer (http.client's limit)
MAX_HEAD = 256 * 1024  # bytes of a status line and its headers (a real answer's are < 1 KiB)
MAX_INTERIM = 10  # 1xx interim answers before the real one (a server sends one or two)
# Bytes of an answer's body, as sent and again once inflated (metrics/transport.py). The
# largest answer of bench/slo_growth.py's report of 10,000 SLOs measured 9.7 MB inflated
# (230 KB gzip; 1.3 MB with --use-rules): about 1 KB per SLO, so this holds a query over
# some 130,000 SLOs, and bounds what a hostile server costs: a 1 MB gzip bomb inflated to
# 1 GiB per query (10 GB for one report, 8 queries at a time).
MAX_ANSWER = 128 * 1024 * 1024
NO_BODY = (204, 304)
_HEX = frozenset(b"0123456789abcdefABCDEF")


class Disconnected(ConnectionResetError):
    """The server closed the connection before the first byte of an answer: a kept-alive
    connection it dropped while idle (the caller retries once on a new one)."""


class BrokenOff(Exception):
    """The answer ended before the length it announced; ``received``: body bytes read."""

    def __init__(self, received: int) -> None:
        super().__init__(f"the answer broke off after {received} bytes")
        self.received = received


class BadAnswer(Exception):
    """Bytes that are not an HTTP/1.x answer; the message says which part is wrong."""


class Response(NamedTuple):
    """One whole answer. A NamedTuple: a frozen dataclass costs ~0.3 ms to create at every
    report's start (issue 15)."""

    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes
    will_close: bool


class Connection:
    """A plain TCP connection to ``host:port``, opened at the first request; an answer's
    body may hold at most ``max_body`` bytes."""

    def __init__(self, host: str, port: int, timeout: float, max_body: int = MAX_ANSWER) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.max_body = max_body
        self._sock: socket.socket | None = None

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    def settimeout(self, timeout: float) -> None:
        """The time the next exchange may take, when it is given no deadline."""
        self.timeout = timeout

    def exchange(
        self,
        method: str,
        target: str,
        body: bytes | None,
        headers: dict[str, str],
        deadline: float | None = None,
    ) -> Response:
        """Sends one request and reads its whole answer, all by ``deadline`` (a
        ``time.monotonic()`` instant; default: the timeout from now). ``ValueError``: a
        target or header that cannot be sent as it is; ``OSError`` (``TimeoutError`` among
        them) from the socket; ``Disconnected``, ``BrokenOff`` or ``BadAnswer`` from the
        answer."""
        if deadline is None:
            deadline = time.monotonic() + self.timeout
        head = request_head(method, target, self.host, self.port, body, headers)
        if self._sock is None:
            self._connect(deadline)
        assert self._sock is not None
        self._sock.settimeout(time_left(deadline))
        self._sock.sendall(head + body if body else head)  # the timeout bounds the whole send
        response = read_response(self._sock, method, deadline, self.max_body)
        if response.will_close:
            self.close()
        return response

    def _connect(self, deadline: float) -> None:
        # An ASCII host goes to getaddrinfo as bytes: a str would be IDNA-encoded first,
        # which imports the idna codec (with stringprep and unicodedata) for nothing.
        host: str | bytes = self.host.encode("ascii") if self.host.isascii() else self.host
        sock = socket.create_connection((host, self.port), time_left(deadline))  # type: ignore[arg-type]
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as http.client does
        self._sock = sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def shut_down(self) -> None:
        """Ends the connection under an exchange running in another thread: its next (or
        current) read finds the end at once. (Closing the socket there would be unsafe.)"""
        import contextlib

        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):  # not connected (any more)
                sock.shutdown(socket.SHUT_RDWR)


def time_left(deadline: float) -> float:
    """Seconds left before ``deadline``; ``TimeoutError`` when none are."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")
    return left


def request_head(
    method: str, target: str, host: str, port: int, body: bytes | None, headers: dict[str, str]
) -> bytes:
    """The request line and headers, with ``Host`` and ``Content-Length`` as ``http.client``
    adds them. ``ValueError`` for a target with a space, a control or a non-ASCII character,
    or a header that is not a single line of Latin-1 (as ``http.client`` refuses them)."""
    if not target.isascii() or any(ord(c) <= 0x20 or c == "\x7f" for c in target):
        raise ValueError("the request target cannot be sent as it is")
    if target.startswith("http://"):  # to a proxy: the Host is the target's, as http.client says
        authority = target.split("/", 3)[2]
    else:
        shown = host if host.isascii() else host.encode("idna").decode("ascii")
        shown = f"[{shown}]" if ":" in shown else shown
        authority = shown if port == 80 else f"{shown}:{port}"
    lines = [f"{method} {target} HTTP/1.1", f"Host: {authority}"]
    for name, value in headers.items():
        if any(c in name + value for c in "\r\n\0") or ":" in name or not name:
            raise ValueError("a header cannot be sent as it is")
        lines.append(f"{name}: {value}")
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def read_response(
    sock: socket.socket, method: str, deadline: float, max_body: int = MAX_ANSWER
) -> Response:
    """The whole answer to one request on ``sock``, read by ``deadline`` (``TimeoutError``
    after it), its body at most ``max_body`` bytes (``BadAnswer`` beyond)."""
    reader = _Reader(sock, deadline)
    for _ in range(MAX_INTERIM + 1):
        reader.head_left = MAX_HEAD
        status, version = _status_line(reader)
        headers = _headers(reader)
        if status >= 200 or status == 101:
            break  # 100 Continue, 103 Early Hints: an interim answer, the real one follows
    else:
        raise BadAnswer(f"more than {MAX_INTERIM} interim 1xx answers")
    connection = headers.get("connection", "").lower()
    will_close = "close" in connection or (version == "HTTP/1.0" and "keep-alive" not in connection)
    if method == "HEAD" or status in NO_BODY or 100 <= status < 200:
        return Response(status, headers, b"", will_close)
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return Response(status, headers, _chunked(reader, max_body), will_close)
    length = headers.get("content-length")
    if length is None:  # framed by the end of the connection
        return Response(status, headers, reader.until_closed(max_body), True)
    lengths = {part.strip() for part in length.split(",")}
    if len(lengths) != 1 or not ((size := lengths.pop()).isascii() and size.isdigit()):
        raise BadAnswer(f"a Content-Length that is not a number: {_shown(length)}")
    if int(size) > max_body:
        raise BadAnswer(too_long(size, max_body))
    return Response(status, headers, reader.exactly(int(size), 0), will_close)


def over_limit(limit: int) -> str:
    """What an answer too large is said to be, naming the limit."""
    return f"a body over the {shown_size(limit)} limit of an answer"


def too_long(length: str, limit: int) -> str:
    """What an answer announcing ``length`` bytes, over ``limit``, is said to be."""
    shown = length if len(length) <= 30 else length[:30] + "..."
    return f"a Content-Length of {shown} bytes, over the {shown_size(limit)} limit of an answer"


def shown_size(size: int) -> str:
    """``size`` bytes as a person reads it: ``256 MiB``, ``64 KiB``, ``1000 bytes``."""
    for unit, name in ((1024**3, "GiB"), (1024**2, "MiB"), (1024, "KiB")):
        if size >= unit and size % unit == 0:
            return f"{size // unit} {name}"
    return f"{size} bytes"


def _status_line(reader: _Reader) -> tuple[int, str]:
    line = reader.head_line()
    if not line:
        raise Disconnected("the server closed the connection without answering")
    parts = line.rstrip(b"\r\n").split(None, 2)
    if (
        len(parts) < 2
        or parts[0] not in (b"HTTP/1.0", b"HTTP/1.1")
        or len(parts[1]) != 3
        or not parts[1].isdigit()
    ):
        raise BadAnswer(f"a status line that is not HTTP/1.x: {_shown(line)}")
    return int(parts[1]), parts[0].decode("ascii")


def _headers(reader: _Reader) -> dict[str, str]:
    headers: dict[str, str] = {}
    last = ""
    for _ in range(MAX_HEADERS + 1):
        line = reader.head_line()
        if line in (b"\r\n", b"\n"):
            return headers
        if not line:
            raise BadAnswer("the headers broke off")
        text = line.decode("latin-1").rstrip("\r\n")
        if text[:1] in (" ", "\t") and last:  # a folded line continues the header before it
            headers[last] += " " + text.strip()
            continue
        name, colon, value = text.partition(":")
        name = name.strip().lower()
        if not colon or not name:
            raise BadAnswer(f"a header line without a name: {_shown(line)}")
        value = value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
        last = name
    raise BadAnswer(f"more than {MAX_HEADERS} header lines")


def _chunked(reader: _Reader, max_body: int) -> bytes:
    body = bytearray()  # not a list of parts: a million 1-byte chunks would be 40 MB of them
    received = 0
    while True:
        line = reader.line()
        if not line:
            raise BrokenOff(received)
        size = line.split(b";", 1)[0].strip()
        if not size or not set(size) <= _HEX:
            raise BadAnswer(f"a chunk size that is not hexadecimal: {_shown(line)}")
        length = int(size, 16)
        if length == 0:
            break
        if received + length > max_body:
            raise BadAnswer(over_limit(max_body))
        body += reader.exactly(length, received)
        received += length
        if reader.line() not in (b"\r\n", b"\n"):
            raise BadAnswer("a chunk longer than its size")
    reader.head_left = MAX_HEAD
    for _ in range(MAX_HEADERS + 1):  # trailers, up to the blank line
        line = reader.head_line()
        if line in (b"\r\n", b"\n", b""):
            return bytes(body)
    raise BadAnswer(f"more than {MAX_HEADERS} trailer lines")


class _Reader:
    """Reads one answer from a socket by a deadline: lines and counted bytes. An answer to a
    request is read whole before the next request is sent, so nothing is buffered between
    answers; what a server sends beyond an answer's end is a broken server's and is
    dropped."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.buffer = bytearray()
        self.head_left = MAX_HEAD  # bytes that lines may still take (status, headers)

    def _more(self) -> bool:
        self.sock.settimeout(time_left(self.deadline))
        chunk = self.sock.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def head_line(self) -> bytes:
        """A line of the head (status, headers, trailers): ``line``, and ``BadAnswer`` when
        such lines take over ``MAX_HEAD`` bytes together."""
        line = self.line()
        self.head_left -= len(line)
        if self.head_left < 0:
            raise BadAnswer(f"headers over {shown_size(MAX_HEAD)}")
        return line

    def line(self) -> bytes:
        """Up to and including the next line feed (what is left when the connection ends
        first, maybe nothing); ``BadAnswer`` for a line over ``MAX_LINE`` bytes."""
        searched = 0
        while (end := self.buffer.find(b"\n", searched)) < 0:
            searched = len(self.buffer)
            if searched > MAX_LINE:
                break
            if not self._more():
                end = searched - 1
                break
        if end + 1 > MAX_LINE or end < 0 < len(self.buffer):
            raise BadAnswer(f"a line longer than {MAX_LINE} bytes")
        line = bytes(self.buffer[: end + 1])
        del self.buffer[: end + 1]
        return line

    def exactly(self, size: int, received: int) -> bytes:
        """``size`` bytes; ``BrokenOff`` (counting ``received`` before them) if the
        connection ends first."""
        while len(self.buffer) < size:
            if not self._more():
                raise BrokenOff(received + len(self.buffer))
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def until_closed(self, max_body: int) -> bytes:
        """All that comes until the server closes the connection: at most ``max_body``."""
        while len(self.buffer) <= max_body and self._more():
            pass
        if len(self.buffer) > max_body:
            raise BadAnswer(over_limit(max_body))
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


def _shown(line: bytes | str) -> str:
    text = line.decode("latin-1") if isinstance(line, bytes) else line
    text = text.rstrip("\r\n")
    return ascii(text[:60] + ("..." if len(text) > 60 else ""))
