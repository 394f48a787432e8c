"""A hostile 'Prometheus' on 127.0.0.1 (real sockets): every request gets the bytes of one
``Behaviour``, as an attacker's server (or anything on the path to Prometheus) would send.

From an attacker's reproductions: a gzip bomb, a body of 100 TB announced and streamed,
chunks forever, a body that only ends with the connection, ``100 Continue`` forever, a body
trickled one byte at a time, a header line of only CRs. Each writer stops when the client
goes away or the server is closed, so a test leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import zlib
from collections.abc import Callable, Iterator
from typing import Self

JSON_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
MiB = 1024 * 1024

# What a behaviour does with a connection whose request was read: send, and maybe go on
# sending until ``stopped`` is set or the client closes.
Behaviour = Callable[[socket.socket, threading.Event], None]


def gzip_bomb(inflated_mib: int) -> bytes:
    """A gzip body of zeros that inflates to ``inflated_mib`` MiB (about 1 KB per MiB)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * MiB
    return b"".join(compressor.compress(zeros) for _ in range(inflated_mib)) + compressor.flush()


def sending(data: bytes) -> Behaviour:
    """Answers with ``data`` (each request of a kept-alive connection alike)."""

    def behave(connection: socket.socket, stopped: threading.Event) -> None:
        connection.sendall(data)

    return behave


def gzip_answer(bomb: bytes) -> Behaviour:
    return sending(
        JSON_HEAD + b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb) + bomb
    )


def streaming(head: bytes, blob: bytes) -> Behaviour:
    """Sends ``head``, then ``blob`` again and again, as fast as the client reads."""

    def behave(connection: socket.socket, stopped: threading.Event) -> None:
        connection.sendall(head)
        while not stopped.is_set():
            connection.sendall(blob)

    return behave


HUGE_LENGTH = streaming(JSON_HEAD + b"Content-Length: 99999999999999\r\n\r\n", b"x" * MiB)
ENDLESS_CHUNKED = streaming(
    JSON_HEAD + b"Transfer-Encoding: chunked\r\n\r\n", b"%x\r\n" % MiB + b"x" * MiB + b"\r\n"
)
UNTIL_CLOSED = streaming(JSON_HEAD + b"\r\n", b"x" * MiB)  # no length: framed by the close
ENDLESS_CONTINUE = streaming(b"", b"HTTP/1.1 100 Continue\r\n\r\n" * 4096)
CR_HEADER_LINE = sending(JSON_HEAD + b"\r\r\nContent-Length: 2\r\n\r\n{}")


def trickling(pause: float) -> Behaviour:
    """Announces a 1 MB body and sends one byte of it every ``pause`` seconds: each read is
    quick, the answer never ends."""

    def behave(connection: socket.socket, stopped: threading.Event) -> None:
        connection.sendall(JSON_HEAD + b"Content-Length: 1000000\r\n\r\n")
        while not stopped.wait(pause):
            connection.sendall(b" ")

    return behave


class HostileServer:
    """Answers every request on a free loopback port with ``behaviour``; ``requested`` is
    set once a request was read (a client is now held by the behaviour)."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.requested = threading.Event()
        self.requests = 0
        self._stopped = threading.Event()
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._connections.append(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        buffer = b""
        try:
            while not self._stopped.is_set():  # every request of a kept-alive connection
                while b"\r\n\r\n" not in buffer:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        while len(buffer) < int(value):
                            chunk = connection.recv(65536)
                            if not chunk:
                                return
                            buffer += chunk
                        buffer = buffer[int(value) :]
                with self._lock:
                    self.requests += 1
                self.requested.set()
                self.behaviour(connection, self._stopped)
        except OSError:  # the client went away: what it should do
            pass
        finally:
            connection.close()

    def close(self) -> None:
        """Stops accepting and ends every connection (and so every behaviour)."""
        self._stopped.set()
        self._listener.close()
        with self._lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


def hostile_server(behaviour: Behaviour) -> Iterator[HostileServer]:
    """A fixture's body: yields the running server, closes it afterwards."""
    with HostileServer(behaviour) as server:
        yield server
