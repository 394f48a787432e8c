"""A stand-in for the worked example's search service, on loopback: its health endpoint.

The runbooks' ``health-endpoint`` and ``smoke-test`` steps curl ``$SEARCH_API_URL/healthz``
(default ``http://127.0.0.1:8080``). The document-search service itself is not part of this
repository, so ``make demo`` and the README's examples start this stand-in where it would
listen: the steps then make a real HTTP request and read a real answer, and say so
(``"service": "search-api stand-in"``) rather than pretending to be the service.

    python -m ops_toolkit.demo.search_api            # 127.0.0.1:8080 until Ctrl-C
    python -m ops_toolkit.demo.search_api --port 0   # a free port, printed on start
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HEALTH = {"status": "ok", "service": "search-api stand-in (python -m ops_toolkit.demo.search_api)"}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.split("?")[0] != "/healthz":
            self._answer(404, {"error": f"the stand-in serves only /healthz, not {self.path}"})
            return
        self._answer(200, HEALTH)

    def _answer(self, status: int, document: dict[str, str]) -> None:
        body = json.dumps(document).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the runbook's output is the record, not an access log


class SearchApiStandIn:
    """The stand-in in a background thread: ``start()``, ``url``, ``stop()``."""

    def __init__(self, port: int = 0) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> SearchApiStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ops_toolkit.demo.search_api")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    port = parser.parse_args(argv).port
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    except OSError as exc:
        raise SystemExit(f"127.0.0.1:{port}: cannot listen: {exc.strerror or exc}") from None
    print(f"search-api stand-in on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
