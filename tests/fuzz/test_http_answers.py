"""Fuzz the plain-HTTP reader (``metrics/http11.py``) with what a hostile server may send:
random bytes, and mutations of valid answers and of the malformed ones the tests name
(tests/metrics/test_http11.py). Whatever comes, the reader raises only its own errors
(``BadAnswer``, ``BrokenOff``, ``Disconnected``), the transport only ``HTTPFailure`` and a
query only ``MetricsError``, and memory stays within the limits (a header line of only
``\\r\\r\\n`` was an IndexError). Real sockets: a socketpair, and a server on loopback.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ops_toolkit.errors import MetricsError
from ops_toolkit.metrics.http11 import (
    MAX_HEAD,
    BadAnswer,
    BrokenOff,
    Disconnected,
    Response,
    read_response,
)
from ops_toolkit.metrics.prometheus import PrometheusSource
from tests.fuzz.profile import fuzz
from tests.metrics.test_http11 import MALFORMED, WELL_FORMED, chunked_answer
from tests.metrics.test_transport import ANSWER, RawServer, http_answer

LIMIT = 64 * 1024  # the answer limit under fuzz: small, so that grown answers meet it
SEEDS = [
    *(case.values[0] for case in MALFORMED),  # the malformed cases, each as the tests send it
    *(case.values[0](0) for case in WELL_FORMED),  # type: ignore[operator]
    http_answer(ANSWER),
    http_answer(gzip.compress(ANSWER), extra="Content-Encoding: gzip\r\n"),
    b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + ANSWER,
    chunked_answer(ANSWER * 50),
]
TOKENS = [
    b"\r",
    b"\n",
    b"\r\n",
    b"\r\r\n",
    b"\r\n\r\n",
    b":",
    b" ",
    b"\t",
    b"0",
    b"ffffffff",
    b";ext=1",
    b"\x00",
    b"\xff",
    b"\xc2\xb2",
    b"HTTP/1.1 100 Continue\r\n\r\n",
    b"Content-Length: 99999999999999\r\n",
    b"Content-Length: 5, 6\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Connection: close\r\n",
    b" folded\r\n",
]


@st.composite
def mutated_answer(draw: st.DrawFn) -> bytes:
    """A seed with one to four byte-level mutations; a repeat may grow it past the limits."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        end = draw(st.integers(at, min(len(data), at + 64)))
        action = draw(st.sampled_from(["insert", "replace", "delete", "repeat", "cut"]))
        noise = draw(st.sampled_from(TOKENS) | st.binary(min_size=1, max_size=16))
        if action == "insert":
            data[at:at] = noise
        elif action == "replace":
            data[at:end] = noise
        elif action == "delete":
            del data[at:end]
        elif action == "repeat":
            data[end:end] = bytes(data[at:end] or noise) * draw(st.integers(2, 20_000))
        else:
            del data[at:]
    return bytes(data[: 2 * 1024 * 1024])


@st.composite
def grown_answer(draw: st.DrawFn) -> bytes:
    """An answer whose body, in any framing, is around the limit or well past it."""
    size = draw(st.integers(LIMIT - 16, 4 * LIMIT))
    framing = draw(st.sampled_from(["length", "close", "chunks", "1xx"]))
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    if framing == "length":
        return head + b"Content-Length: %d\r\n\r\n" % size + b"x" * size
    if framing == "close":
        return head + b"\r\n" + b"x" * size
    if framing == "chunks":
        chunk = draw(st.integers(1, 4096))
        part = b"%x\r\n" % chunk + b"x" * chunk + b"\r\n"
        return head + b"Transfer-Encoding: chunked\r\n\r\n" + part * (size // chunk) + b"0\r\n\r\n"
    return b"HTTP/1.1 100 Continue\r\n\r\n" * (size // 100) + http_answer(ANSWER)


ANSWERS = mutated_answer() | grown_answer() | st.binary(max_size=2000)


def read(data: bytes) -> Response:
    """``data`` as a server sends it, then closes its side; read with the fuzz limit."""
    ours, theirs = socket.socketpair()

    def send() -> None:
        try:
            theirs.sendall(data)
            theirs.shutdown(socket.SHUT_WR)
        except OSError:  # the reader gave up before the end: as it may
            pass

    writer = threading.Thread(target=send, daemon=True)
    writer.start()
    try:
        return read_response(ours, "POST", time.monotonic() + 30, LIMIT)
    finally:
        ours.close()
        writer.join()
        theirs.close()


@fuzz(200)
@given(ANSWERS)
def test_the_reader_raises_only_its_own_errors_within_bounded_memory(data: bytes) -> None:
    tracemalloc.start()
    try:
        try:
            response = read(data)
        except (BadAnswer, BrokenOff, Disconnected):
            response = None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    if response is not None:
        assert len(response.body) <= LIMIT
    # a line or the head, a body up to the limit, each copied once, and socket reads
    assert peak < 4 * (MAX_HEAD + LIMIT)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[RawServer, list[bytes]]]:
    """A loopback server answering (and then closing) with the bytes a test sets."""
    answer = [b""]
    raw = RawServer(lambda n: answer[0], close_after=True)
    yield raw, answer
    raw.close()


def test_a_query_raises_only_metrics_errors(server: tuple[RawServer, list[bytes]]) -> None:
    raw, answer = server
    source = PrometheusSource(raw.url, timeout=30, environ={}, max_answer=LIMIT)

    @fuzz(100)
    @given(ANSWERS)
    def target(data: bytes) -> None:
        answer[0] = data
        try:
            source.query("up")
        except MetricsError as error:
            assert f"Prometheus at {raw.url}" in str(error)
            assert "\n" not in str(error)

    target()
