"""The Prometheus client's HTTP transport keeps what ``requests`` gave a query (issue 15 took
``requests`` out of the report's start-up): connection reuse, proxies from the environment,
credentials in the URL, gzip answers. Real sockets on loopback; no mock.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ops_toolkit.errors import MetricsError
from ops_toolkit.metrics.model import Sample
from ops_toolkit.metrics.prometheus import PrometheusSource
from ops_toolkit.metrics.transport import bypassed
from tests.answering_server import AnsweringServer, answering_server

ANSWER = (
    b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"7"]}]}}'
)


@pytest.fixture
def server() -> Iterator[AnsweringServer]:
    yield from answering_server()


class RawServer:
    """HTTP/1.1 by hand: each request is answered with ``respond(n)``'s bytes (n counts
    requests from 0); ``close_after`` closes the connection after each answer without
    saying so, as a server dropping idle keep-alive connections does."""

    def __init__(self, respond: Callable[[int], bytes], *, close_after: bool = False) -> None:
        self.respond = respond
        self.close_after = close_after
        self.connections = 0
        self.requests = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self.answer, args=(connection,), daemon=True).start()

    def answer(self, connection: socket.socket) -> None:
        with connection:
            buffer = b""
            while True:
                while b"\r\n\r\n" not in buffer:
                    chunk = connection.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(buffer) < length:
                    buffer += connection.recv(65536)
                buffer = buffer[length:]
                number, self.requests = self.requests, self.requests + 1
                connection.sendall(self.respond(number))
                if self.close_after:
                    return

    def close(self) -> None:
        self.listener.close()


def http_answer(body: bytes, status: str = "200 OK", extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def test_a_kept_alive_connection_is_reused() -> None:
    raw = RawServer(lambda n: http_answer(ANSWER))
    source = PrometheusSource(raw.url, timeout=5, environ={})
    for _ in range(3):
        assert source.query("up", at=1.0) == [Sample({}, 7.0)]
    raw.close()
    assert (raw.requests, raw.connections) == (3, 1)


def test_a_connection_the_server_closed_while_idle_is_replaced_once() -> None:
    raw = RawServer(lambda n: http_answer(ANSWER), close_after=True)
    source = PrometheusSource(raw.url, timeout=5, environ={})
    assert source.query("up") == [Sample({}, 7.0)]
    assert source.query("up") == [Sample({}, 7.0)]
    raw.close()
    assert (raw.requests, raw.connections) == (2, 2)


def test_a_server_that_closes_without_answering_is_a_one_line_error() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"

    def hang_up() -> None:
        connection, _ = listener.accept()
        connection.recv(65536)
        connection.close()

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    with pytest.raises(MetricsError) as raised:
        PrometheusSource(url, timeout=5, environ={}).query("up")
    thread.join()
    listener.close()
    assert str(raised.value) == (
        f"cannot reach Prometheus at {url}: the server closed the connection without answering"
    )


def test_a_gzip_answer_is_read() -> None:
    raw = RawServer(
        lambda n: http_answer(gzip.compress(ANSWER), extra="Content-Encoding: gzip\r\n")
    )
    assert PrometheusSource(raw.url, timeout=5, environ={}).query("up") == [Sample({}, 7.0)]
    raw.close()


def test_a_redirect_names_where_it_points_instead_of_losing_the_query() -> None:
    raw = RawServer(
        lambda n: http_answer(b"", "308 Permanent Redirect", "Location: https://prom.example/\r\n")
    )
    with pytest.raises(MetricsError) as raised:
        PrometheusSource(raw.url, timeout=5, environ={}).query("up")
    raw.close()
    assert str(raised.value) == (
        f"Prometheus at {raw.url} answered HTTP 308, a redirect to https://prom.example/: give "
        "that address (a query is not sent on to another address)"
    )


def test_the_query_goes_as_a_form_under_the_urls_path_with_its_headers(
    server: AnsweringServer,
) -> None:
    server.set(ANSWER)
    source = PrometheusSource(
        server.url + "/prometheus/", timeout=5, headers={"X-Scope-OrgID": "search"}, environ={}
    )
    assert source.query("up", at=1_800_000_000) == [Sample({}, 7.0)]
    assert server.requests == ["/prometheus/api/v1/query"]
    headers = server.headers[0]
    assert headers["x-scope-orgid"] == "search"
    assert headers["content-type"] == "application/x-www-form-urlencoded"


def test_credentials_in_the_url_are_sent_as_basic_auth(server: AnsweringServer) -> None:
    server.set(ANSWER)
    host = server.url.removeprefix("http://")
    PrometheusSource(f"http://ops:s3cr%40t@{host}", timeout=5, environ={}).query("up")
    # base64 of "ops:s3cr@t": the password percent-decoded, as requests sent it
    assert server.headers[0]["authorization"] == "Basic b3BzOnMzY3JAdA=="


@pytest.fixture
def proxy() -> Iterator[list[tuple[str, str]]]:
    """A forwarding HTTP proxy on loopback; yields the (target, Proxy-Authorization) it saw."""
    seen: list[tuple[str, str]] = []

    class Forward(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            import urllib.request

            body = self.rfile.read(int(self.headers["content-length"]))
            seen.append((self.path, self.headers.get("proxy-authorization", "")))
            request = urllib.request.Request(self.path, data=body, method="POST")
            with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                request, timeout=5
            ) as answer:
                data = answer.read()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    listener = ThreadingHTTPServer(("127.0.0.1", 0), Forward)
    thread = threading.Thread(target=listener.serve_forever, daemon=True)
    thread.start()
    seen.append((f"http://proxy:p%40ss@127.0.0.1:{listener.server_address[1]}", ""))
    yield seen
    listener.shutdown()
    listener.server_close()
    thread.join()


def test_the_environments_proxy_is_used_and_no_proxy_is_honoured(
    server: AnsweringServer, proxy: list[tuple[str, str]]
) -> None:
    server.set(ANSWER)
    address = proxy.pop()[0]
    through = PrometheusSource(server.url, timeout=5, environ={"HTTP_PROXY": address})
    assert through.query("up") == [Sample({}, 7.0)]
    assert proxy == [(server.url + "/api/v1/query", "Basic cHJveHk6cEBzcw==")]  # proxy:p@ss
    direct = PrometheusSource(
        server.url, timeout=5, environ={"http_proxy": address, "no_proxy": "localhost,127.0.0.1"}
    )
    assert direct.query("up") == [Sample({}, 7.0)]
    assert len(proxy) == 1
    assert len(server.requests) == 2


def test_a_proxy_that_cannot_be_used_is_named() -> None:
    source = PrometheusSource(
        "http://127.0.0.1:9", environ={"ALL_PROXY": "socks5://u:pw@127.0.0.1:1080"}
    )
    with pytest.raises(MetricsError) as raised:
        source.query("up")
    assert str(raised.value) == (
        "cannot reach Prometheus at http://127.0.0.1:9: proxy 'socks5://u:***@127.0.0.1:1080' "
        "from the environment: only http:// proxies are supported (unset it, or add the host "
        "to no_proxy)"
    )


@pytest.mark.parametrize(
    ("host", "port", "no_proxy", "expected"),
    [
        ("prom.example.com", 9090, "example.com", True),
        ("prom.example.com", 9090, ".example.com", True),
        ("notexample.com", 9090, "example.com", False),
        ("prom.example.com", 9090, "prom.example.com:9091", False),
        ("prom.example.com", 9090, "prom.example.com:9090", True),
        ("10.1.2.3", 9090, "10.0.0.0/8", True),
        ("11.1.2.3", 9090, "10.0.0.0/8", False),
        ("anything", 80, "*", True),
        ("prom", 80, "", False),
    ],
    ids=[
        "a domain covers its hosts",
        "a leading dot is the same domain",
        "a domain does not cover a longer name",
        "another port is not covered",
        "the same port is",
        "an address in a CIDR block",
        "an address outside it",
        "a star covers all",
        "nothing set covers nothing",
    ],
)
def test_no_proxy_covers_hosts_as_requests_did(
    host: str, port: int, no_proxy: str, expected: bool
) -> None:
    assert bypassed(host, port, no_proxy) is expected


def test_an_unusable_url_is_a_metrics_error_at_query_time() -> None:
    source = PrometheusSource("http://prom:notaport", environ={})
    with pytest.raises(MetricsError) as raised:
        source.query("up")
    assert str(raised.value) == (
        "cannot reach Prometheus at http://prom:notaport: not a usable URL: Port could not be "
        "cast to integer value as 'notaport'"
    )


def test_the_answer_is_validated_as_before_whatever_the_transport() -> None:
    raw = RawServer(lambda n: http_answer(json.dumps({"status": "success"}).encode()))
    with pytest.raises(MetricsError) as raised:
        PrometheusSource(raw.url, timeout=5, environ={}).query("up")
    raw.close()
    assert str(raised.value) == (
        f"Prometheus at {raw.url} answered with an unexpected shape: data: expected an object, "
        "got nothing"
    )


def test_a_header_that_cannot_be_sent_is_named_without_its_value() -> None:
    source = PrometheusSource(
        "http://127.0.0.1:9", headers={"Authorization": "Bearer tok\r\nX-Evil: 1"}, environ={}
    )
    with pytest.raises(MetricsError) as raised:
        source.query("up")
    assert str(raised.value) == (
        "cannot reach Prometheus at http://127.0.0.1:9: header 'Authorization' cannot be sent: "
        "a line break, a NUL or a character outside Latin-1"
    )


def test_a_path_with_a_space_is_sent_quoted(server: AnsweringServer) -> None:
    server.set(ANSWER)
    PrometheusSource(server.url + "/my prom", timeout=5, environ={}).query("up")
    assert server.requests == ["/my%20prom/api/v1/query"]
