"""The plain-HTTP client (``metrics/http11.py``, which replaced ``http.client`` for
``http://`` so that a report does not import the ``email`` package and ``ssl``) reads every
framing a server may use, and a malformed answer is one line naming what is wrong, never a
hang or a traceback; ``https://`` still goes through ``http.client`` with TLS verified.
Real sockets on loopback (a hand-written server, and a TLS server with a certificate made by
``openssl`` for the test); no mock.
"""

from __future__ import annotations

import gzip
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ops_toolkit.errors import MetricsError
from ops_toolkit.metrics.http11 import MAX_HEAD, MAX_HEADERS, MAX_INTERIM, MAX_LINE, request_head
from ops_toolkit.metrics.model import Sample
from ops_toolkit.metrics.prometheus import PrometheusSource
from tests.metrics.test_transport import ANSWER, RawServer, http_answer


def chunked(body: bytes, size: int = 10, trailer: str = "") -> bytes:
    parts = [body[i : i + size] for i in range(0, len(body), size)]
    framed = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in parts)
    return framed + b"0\r\n" + trailer.encode() + b"\r\n"


def chunked_answer(body: bytes, extra: str = "", trailer: str = "") -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{extra}"
    return (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + chunked(body, trailer=trailer)


WELL_FORMED = [
    pytest.param(lambda n: chunked_answer(ANSWER), id="a chunked body"),
    pytest.param(
        lambda n: chunked_answer(ANSWER, trailer="X-Checksum: 1\r\n"),
        id="a chunked body with a trailer",
    ),
    pytest.param(
        lambda n: chunked_answer(gzip.compress(ANSWER), extra="Content-Encoding: gzip\r\n"),
        id="a gzip body in chunks",
    ),
    pytest.param(
        lambda n: b"HTTP/1.1 100 Continue\r\n\r\n" + http_answer(ANSWER),
        id="an interim 100 Continue before the answer",
    ),
    pytest.param(
        lambda n: http_answer(ANSWER, extra="X-Long: a\r\n  folded value\r\n"),
        id="a folded header line",
    ),
    pytest.param(
        lambda n: (
            b"HTTP/1.1 200 OK\nContent-Type: application/json\nContent-Length: "
            + str(len(ANSWER)).encode()
            + b"\n\n"
            + ANSWER
        ),
        id="bare line feeds",
    ),
]


@pytest.mark.parametrize("respond", WELL_FORMED)
def test_every_framing_is_read_and_the_connection_kept(respond: Callable[[int], bytes]) -> None:
    raw = RawServer(respond)
    source = PrometheusSource(raw.url, timeout=5, environ={})
    for _ in range(3):
        assert source.query("up") == [Sample({}, 7.0)]
    raw.close()
    assert (raw.requests, raw.connections) == (3, 1)


def test_a_body_framed_by_the_end_of_the_connection_is_read_and_the_connection_not_kept() -> None:
    raw = RawServer(
        lambda n: b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + ANSWER,
        close_after=True,
    )
    source = PrometheusSource(raw.url, timeout=5, environ={})
    assert source.query("up") == [Sample({}, 7.0)]
    assert source.query("up") == [Sample({}, 7.0)]
    raw.close()
    assert (raw.requests, raw.connections) == (2, 2)


def test_connection_close_is_honoured() -> None:
    raw = RawServer(lambda n: http_answer(ANSWER, extra="Connection: close\r\n"), close_after=True)
    source = PrometheusSource(raw.url, timeout=5, environ={})
    assert source.query("up") == [Sample({}, 7.0)]
    assert source.query("up") == [Sample({}, 7.0)]
    raw.close()
    assert (raw.requests, raw.connections) == (2, 2)


MALFORMED = [
    pytest.param(
        b"SSH-2.0-OpenSSH_9.2\r\n",
        "not a valid HTTP answer (a status line that is not HTTP/1.x: 'SSH-2.0-OpenSSH_9.2')",
        id="another protocol",
    ),
    pytest.param(
        b"HTTP/1.1 2000 OK\r\n\r\n",
        "not a valid HTTP answer (a status line that is not HTTP/1.x: 'HTTP/1.1 2000 OK')",
        id="a status of four digits",
    ),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nContent-Type application/json\r\n\r\n",
        "not a valid HTTP answer (a header line without a name: 'Content-Type application/json')",
        id="a header line without a colon",
    ),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nX: " + b"a" * MAX_LINE + b"\r\n\r\n",
        f"not a valid HTTP answer (a line longer than {MAX_LINE} bytes)",
        id="a header line over the limit",
    ),
    pytest.param(
        b"HTTP/1.1 200 OK\r\n" + b"X: 1\r\n" * (MAX_HEADERS + 1) + b"\r\n",
        f"not a valid HTTP answer (more than {MAX_HEADERS} header lines)",
        id="too many headers",
    ),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n",
        "not a valid HTTP answer (a Content-Length that is not a number: '12abc')",
        id="a length that is not a number",
    ),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!",
        "not a valid HTTP answer (a Content-Length that is not a number: '5, 6')",
        id="two different lengths",
    ),
    pytest.param(
        "HTTP/1.1 200 OK\r\nContent-Length: \u00b2\r\n\r\nhello".encode("latin-1"),
        "not a valid HTTP answer (a Content-Length that is not a number: '\\xb2')",
        id="a digit that is not ASCII",
    ),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        "not a valid HTTP answer (a chunk size that is not hexadecimal: 'zz')",
        id="a chunk size that is not hexadecimal",
    ),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
        "not a valid HTTP answer (a chunk size that is not hexadecimal: '-5')",
        id="a negative chunk size",
    ),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n",
        "not a valid HTTP answer (a chunk longer than its size)",
        id="a chunk longer than its size",
    ),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + ANSWER[:40],
        "the answer broke off after 40 bytes",
        id="a body shorter than its length",
    ),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(ANSWER)[:30],
        "the answer broke off after 20 bytes",
        id="a chunked body cut short",
    ),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n",
        "not a valid HTTP answer (the headers broke off)",
        id="headers cut short",
    ),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\r\nContent-Length: 2\r\n\r\n{}",
        "not a valid HTTP answer (a header line without a name: '')",
        id="a header line of only CRs",  # was an IndexError, a traceback in the CLI
    ),
    pytest.param(
        b"HTTP/1.1 200 OK\r\n" + (b"X: " + b"a" * 60000 + b"\r\n") * 5 + b"\r\n",
        f"not a valid HTTP answer (headers over {MAX_HEAD // 1024} KiB)",
        id="headers over the limit together",
    ),
    pytest.param(
        b"HTTP/1.1 100 Continue\r\n\r\n" * (MAX_INTERIM + 1) + http_answer(ANSWER),
        f"not a valid HTTP answer (more than {MAX_INTERIM} interim 1xx answers)",
        id="too many interim answers",
    ),
    pytest.param(
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello",
        "the gzip answer does not decompress: Error -3 while decompressing data: invalid "
        "stored block lengths",
        id="a gzip body that is not gzip",
    ),
]


@pytest.mark.parametrize(("answer", "reason"), MALFORMED)
def test_a_malformed_answer_is_one_line_naming_what_is_wrong(answer: bytes, reason: str) -> None:
    raw = RawServer(lambda n: answer, close_after=True)
    with pytest.raises(MetricsError) as raised:
        PrometheusSource(raw.url, timeout=5, environ={}).query("up")
    raw.close()
    assert str(raised.value) == f"cannot reach Prometheus at {raw.url}: {reason}"


def test_the_request_is_what_http_client_sent() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    received: list[bytes] = []

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            data = b""
            while b"\r\n\r\n" not in data or not data.endswith(b"1.000"):
                data += connection.recv(65536)
            received.append(data)
            connection.sendall(http_answer(ANSWER))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    source = PrometheusSource(f"http://127.0.0.1:{port}/prom", timeout=5, environ={})
    assert source.query("up", at=1.0) == [Sample({}, 7.0)]
    thread.join()
    listener.close()
    head, _, body = received[0].partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /prom/api/v1/query HTTP/1.1"
    assert sorted(lines[1:]) == sorted(
        [
            f"Host: 127.0.0.1:{port}",
            "User-Agent: ops-toolkit",
            "Accept: application/json",
            "Accept-Encoding: gzip",
            "Content-Type: application/x-www-form-urlencoded",
            f"Content-Length: {len(body)}",
        ]
    )
    assert body.startswith(b"query=up&timeout=") and body.endswith(b"&nocache=1&time=1.000")


@pytest.mark.parametrize(
    ("target", "host", "port", "expected"),
    [
        ("/api/v1/query", "127.0.0.1", 9090, "127.0.0.1:9090"),
        ("/api/v1/query", "prom.example", 80, "prom.example"),
        ("/api/v1/query", "::1", 9090, "[::1]:9090"),
        ("/api/v1/query", "prométhée.example", 80, "xn--promthe-eyac.example"),
        ("http://prom.example:9090/api/v1/query", "proxy", 3128, "prom.example:9090"),
    ],
    ids=["host and port", "the default port left out", "IPv6", "IDNA", "through a proxy"],
)
def test_the_host_header_names_the_server_as_http_client_did(
    target: str, host: str, port: int, expected: str
) -> None:
    head = request_head("GET", target, host, port, None, {}).decode("latin-1")
    assert head.split("\r\n")[:2] == [f"GET {target} HTTP/1.1", f"Host: {expected}"]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, made by the openssl binary."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"),
            *("-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_server(certificate: tuple[Path, Path]) -> Iterator[tuple[str, list[str]]]:
    """An HTTPS server answering ANSWER; yields its URL and the client ports it saw."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            seen.append(str(self.client_address[1]))
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(ANSWER)))
            self.end_headers()
            self.wfile.write(ANSWER)

        def log_message(self, format: str, *args: object) -> None:
            pass

    listener = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    listener.socket = context.wrap_socket(listener.socket, server_side=True)
    thread = threading.Thread(target=listener.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{listener.server_address[1]}", seen
    listener.shutdown()
    listener.server_close()
    thread.join()


def test_https_is_verified_against_the_given_bundle_and_kept_alive(
    tls_server: tuple[str, list[str]], certificate: tuple[Path, Path]
) -> None:
    url, seen = tls_server
    source = PrometheusSource(url, timeout=5, environ={"REQUESTS_CA_BUNDLE": str(certificate[0])})
    for _ in range(3):
        assert source.query("up") == [Sample({}, 7.0)]
    assert len(seen) == 3 and len(set(seen)) == 1  # one connection


def test_an_https_server_whose_certificate_is_not_trusted_is_a_one_line_error(
    tls_server: tuple[str, list[str]],
) -> None:
    url, _ = tls_server
    with pytest.raises(MetricsError) as raised:
        PrometheusSource(url, timeout=5, environ={}).query("up")  # certifi's bundle
    assert str(raised.value) == (
        f"cannot reach Prometheus at {url}: [SSL: CERTIFICATE_VERIFY_FAILED] certificate "
        "verify failed: self-signed certificate"  # without OpenSSL's source line
    )


@pytest.fixture
def hostile_tls_server(certificate: tuple[Path, Path]) -> Iterator[str]:
    """An HTTPS server that answers 2 KiB in a byte every 0.2 s, or under ``/chunked`` 10 KiB
    in chunks; yields its URL."""
    stopped = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            self.send_response(200)
            self.send_header("content-type", "application/json")
            if self.path.startswith("/chunked"):  # 10 KiB in chunks, no length announced
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                self.wfile.write((b"400\r\n" + b" " * 1024 + b"\r\n") * 10 + b"0\r\n\r\n")
                return
            self.send_header("content-length", "2048")
            self.end_headers()
            self.wfile.flush()
            for _ in range(2048):
                if stopped.wait(0.2):
                    return
                self.wfile.write(b" ")
                self.wfile.flush()

        def log_message(self, format: str, *args: object) -> None:
            pass

    listener = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    listener.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    listener.socket = context.wrap_socket(listener.socket, server_side=True)
    thread = threading.Thread(target=listener.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{listener.server_address[1]}"
    stopped.set()
    listener.shutdown()
    listener.server_close()
    thread.join()


def test_an_https_answer_trickled_ends_at_the_timeout(
    hostile_tls_server: str, certificate: tuple[Path, Path]
) -> None:
    bundle = {"REQUESTS_CA_BUNDLE": str(certificate[0])}
    with pytest.raises(MetricsError) as raised:
        PrometheusSource(hostile_tls_server, timeout=1, environ=bundle).query("up")
    assert str(raised.value) == f"Prometheus at {hostile_tls_server} did not answer within 1s"


def test_an_https_answer_over_the_limit_is_refused_before_it_is_read(
    hostile_tls_server: str, certificate: tuple[Path, Path]
) -> None:
    bundle = {"REQUESTS_CA_BUNDLE": str(certificate[0])}
    with pytest.raises(MetricsError) as raised:
        PrometheusSource(hostile_tls_server, timeout=5, environ=bundle, max_answer=1024).query("up")
    assert str(raised.value) == (
        f"cannot reach Prometheus at {hostile_tls_server}: not a valid HTTP answer (a "
        "Content-Length of 2048 bytes, over the 1 KiB limit of an answer)"
    )


def test_an_https_body_in_chunks_stops_at_the_limit(
    hostile_tls_server: str, certificate: tuple[Path, Path]
) -> None:
    url = hostile_tls_server + "/chunked"
    bundle = {"REQUESTS_CA_BUNDLE": str(certificate[0])}
    with pytest.raises(MetricsError) as raised:
        PrometheusSource(url, timeout=5, environ=bundle, max_answer=4096).query("up")
    assert str(raised.value) == (
        f"cannot reach Prometheus at {url}: not a valid HTTP answer (a body over the 4 KiB "
        "limit of an answer)"
    )
