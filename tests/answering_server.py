"""A local HTTP server (real sockets) that answers every request with a set reply.

Stands in for a misbehaving Prometheus, proxy or webhook peer: garbage bodies, HTML error
pages, JSON of the wrong shape. ``replies`` is a list so a test can change the answer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    body: bytes
    status: int = 200
    content_type: str = "application/json"


@dataclass
class AnsweringServer:
    url: str
    reply: list[Reply] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    def set(
        self, body: bytes | str, status: int = 200, content_type: str = "application/json"
    ) -> None:
        self.reply[:] = [
            Reply(body.encode() if isinstance(body, str) else body, status, content_type)
        ]


def answering_server() -> Iterator[AnsweringServer]:
    """Yields a running server on a free loopback port; stops it afterwards."""
    state = AnsweringServer("", [Reply(b"{}")])

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            state.requests.append(self.path)
            state.headers.append({k.lower(): v for k, v in self.headers.items()})
            reply = state.reply[0]
            self.send_response(reply.status)
            self.send_header("content-type", reply.content_type)
            self.send_header("content-length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
