"""A small HTTP/1.1 client for Prometheus-compatible APIs, on the standard library's http.client.

Why not ``requests`` (which ``PrometheusSource`` used before): importing it took about a
third of the CPU of an ``ops slo report`` of 64 SLOs (issue 15: ~65 ms of ~200 ms, cookie
jars, charset detection, retry machinery and idna included), for features a query does not
use. This keeps the behaviour a query had through ``requests``:

- keep-alive connections, pooled up to the caller's concurrency and shared by its threads;
  a pooled connection the server closed meanwhile is replaced once, transparently;
- a timeout, for the whole exchange (``requests`` applied it to each socket operation, so a
  server trickling a byte at a time, or ``100 Continue`` forever, held a query forever);
- proxies from the environment (``http_proxy``, ``https_proxy``, ``all_proxy`` and
  ``no_proxy``, lower or upper case; ``https`` through a ``CONNECT`` tunnel);
- TLS verified against certifi's bundle, or ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``;
- credentials in the URL (``http://user:password@host``) sent as basic auth;
- gzip-compressed answers, inflated to at most the answer's limit (``max_answer``: a 1 MB
  gzip bomb inflated to 1 GiB per query, 10 GB for one report).

Plain ``http://`` is spoken by ``metrics/http11.py`` (``http.client`` imports the ``email``
package and ``ssl``: 12-16 ms of a report's ~110 ms of CPU); ``https://`` by
``http.client``, imported with ``ssl`` only for such a URL.

Not kept: following redirects (``requests`` turned a redirected POST into a GET without
the query; the caller reports the status and where it points instead) and ``~/.netrc``
(``ops.yaml`` holds a source's credentials).
"""

from __future__ import annotations

import io  # imported by the interpreter itself: free
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol
from urllib.parse import quote, unquote, urlencode, urlsplit

from ops_toolkit.metrics.http11 import (
    MAX_ANSWER,
    BadAnswer,
    BrokenOff,
    Connection,
    Disconnected,
    Response,
    over_limit,
    shown_size,
    time_left,
    too_long,
)

if TYPE_CHECKING:
    import http.client
    import socket
    import ssl

USER_AGENT = "ops-toolkit"
CLOSED = "ops is stopping"  # why a request of a closed client is not sent
STALE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)  # Disconnected too


class HTTPFailure(Exception):
    """No answer came: ``reason`` says why in words; ``timed_out`` when it was too slow."""

    def __init__(self, reason: str, *, timed_out: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.timed_out = timed_out


class Answer(NamedTuple):
    """An HTTP answer as a query reads it. (The records here are NamedTuples: a frozen
    dataclass costs ~0.3 ms to create at every report's start, issue 15.)"""

    status: int
    content_type: str
    body: bytes
    location: str | None = None


class _Proxy(NamedTuple):
    host: str
    port: int
    headers: Mapping[str, str]


class _Connection(Protocol):
    """What the pool keeps: ``http11.Connection``, or ``_TLSConnection`` for https."""

    @property
    def is_open(self) -> bool: ...

    def exchange(
        self,
        method: str,
        target: str,
        body: bytes | None,
        headers: dict[str, str],
        deadline: float | None = None,
    ) -> Response: ...

    def close(self) -> None: ...

    def shut_down(self) -> None: ...


class _TLSConnection:
    """``http.client.HTTPSConnection`` behind ``http11.Connection``'s interface: its
    failures become the same exceptions, and the same bounds hold (the exchange's deadline,
    the body's size)."""

    def __init__(self, connection: http.client.HTTPSConnection, max_body: int) -> None:
        self._connection = connection
        self._max_body = max_body
        self._deadline = 0.0
        # every answer (and a proxy tunnel's) is read through a file that keeps the deadline
        connection.response_class = self._response  # type: ignore[assignment]

    @property
    def is_open(self) -> bool:
        return self._connection.sock is not None

    def exchange(
        self,
        method: str,
        target: str,
        body: bytes | None,
        headers: dict[str, str],
        deadline: float | None = None,
    ) -> Response:
        import http.client

        connection = self._connection
        if deadline is None:
            deadline = time.monotonic() + (connection.timeout or 10.0)
        self._deadline = deadline
        connection.timeout = time_left(deadline)  # the connection and the tunnel's handshake
        if connection.sock is not None:
            connection.sock.settimeout(connection.timeout)  # the timeout bounds the whole send
        try:
            connection.request(method, target, body=body, headers=headers)
            response = connection.getresponse()
            if response.length is not None and response.length > self._max_body:
                raise BadAnswer(too_long(str(response.length), self._max_body))
            data = bytearray()
            while len(data) <= self._max_body:
                chunk = response.read(min(1 << 20, self._max_body + 1 - len(data)))
                if not chunk:
                    break
                data += chunk
            if len(data) > self._max_body:
                raise BadAnswer(over_limit(self._max_body))
            if response.length:  # read(amt) returns what came, short of the length
                raise BrokenOff(len(data))
        except http.client.RemoteDisconnected:
            raise Disconnected("the server closed the connection without answering") from None
        except http.client.IncompleteRead as exc:
            raise BrokenOff(len(exc.partial)) from None
        except http.client.HTTPException as exc:
            raise BadAnswer(type(exc).__name__) from None
        headers = {name.lower(): value for name, value in response.getheaders()}
        return Response(response.status, headers, bytes(data), response.will_close)

    def _response(self, sock: Any, *args: Any, **kwargs: Any) -> http.client.HTTPResponse:
        import http.client

        reader = _DeadlineSocket(sock, self._deadline)  # HTTPResponse calls only its makefile
        return http.client.HTTPResponse(reader, *args, **kwargs)  # type: ignore[arg-type]

    def close(self) -> None:
        self._connection.close()

    def shut_down(self) -> None:
        """As ``http11.Connection.shut_down``."""
        import contextlib
        import socket

        sock = self._connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):  # not connected (any more)
                sock.shutdown(socket.SHUT_RDWR)


class _DeadlineSocket:
    """What ``http.client.HTTPResponse`` reads an answer from: ``sock`` whose every read may
    take only the time left before ``deadline`` (``TimeoutError`` after it)."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))


class _DeadlineReader(io.RawIOBase):
    """``sock``'s bytes, each read cut to the time left before ``deadline``."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._sock = sock
        self._raw = sock.makefile("rb", buffering=0)  # keeps the socket open while it is read
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self._sock.settimeout(time_left(self._deadline))
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


class Client:
    """POSTs forms to (and GETs from) one server (``url``: scheme, host, port and a path
    prefix)."""

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str],
        *,
        pool_size: int,
        environ: Mapping[str, str],
        max_answer: int = MAX_ANSWER,
    ) -> None:
        """Never raises: a URL that cannot be used is reported by each request, as a
        server that cannot be reached is. ``max_answer``: the most bytes an answer's body
        may hold, as sent and once inflated."""
        self._headers = dict(headers)
        self._max_answer = max_answer
        self._pool: list[_Connection] = []
        self._busy: set[_Connection] = set()  # under an exchange now
        self._closed = False
        self._pool_size = max(1, pool_size)
        self._lock = threading.Lock()
        self._environ = environ
        self._tls: ssl.SSLContext | None = None
        self._problem: str | None = None
        self._proxy: _Proxy | None = None
        self.scheme, self.host, self.port, self.prefix = "http", "", 80, ""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            self._problem = f"not a usable URL: {exc}"
            return
        if not parts.hostname:
            self._problem = "not a usable URL: no host"
            return
        self.scheme = parts.scheme.lower()
        self.host = parts.hostname
        self.port = port or (443 if self.scheme == "https" else 80)
        self.prefix = quote(parts.path.rstrip("/"), safe="/%:@!$&'()*+,;=-._~")
        if parts.username is not None:  # as requests did: the URL's credentials win
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            self._headers["Authorization"] = "Basic " + _b64(pair)
        try:
            self._proxy = proxy_for(self.scheme, self.host, self.port, environ)
        except ValueError as exc:
            self._problem = str(exc)
        for name, value in self._headers.items():
            if not _sendable(name) or not _sendable(value):
                # named, never shown: the value may be a credential
                self._problem = (
                    f"header {name!r} cannot be sent: a line break, a NUL or a character "
                    "outside Latin-1"
                )

    @property
    def headers(self) -> Mapping[str, str]:
        """What goes with every request besides the body's own headers."""
        return self._headers

    def close(self) -> None:
        """Closes the idle connections and shuts down those under an exchange (it fails at
        once); later requests fail without a connection."""
        with self._lock:
            self._closed = True
            idle, self._pool = self._pool, []
            busy = list(self._busy)
        for connection in idle:
            connection.close()
        for connection in busy:
            connection.shut_down()

    def post_form(self, path: str, form: Mapping[str, str], timeout: float) -> Answer:
        """The answer to one POST of ``form`` to ``path`` (under the URL's prefix), whole
        within ``timeout`` seconds; ``HTTPFailure`` when none came."""
        body = urlencode(form).encode("ascii")
        return self._request(
            "POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"}, timeout
        )

    def get(self, path: str, timeout: float) -> Answer:
        """The answer to a GET of ``path`` (under the URL's prefix), whole within
        ``timeout`` seconds; ``HTTPFailure`` when none came."""
        return self._request("GET", path, None, {}, timeout)

    def _request(
        self,
        method: str,
        path: str,
        body: bytes | None,
        own_headers: Mapping[str, str],
        timeout: float,
    ) -> Answer:
        if self._problem is not None:
            raise HTTPFailure(self._problem)
        if self._closed:
            raise HTTPFailure(CLOSED)
        try:
            return self._attempt(method, path, body, own_headers, timeout)
        except HTTPFailure:
            if self._closed:  # whatever the shut-down connection said: this is why
                raise HTTPFailure(CLOSED) from None
            raise

    def _attempt(
        self,
        method: str,
        path: str,
        body: bytes | None,
        own_headers: Mapping[str, str],
        timeout: float,
    ) -> Answer:
        import socket

        deadline = time.monotonic() + timeout  # for the whole exchange, a retry included
        headers = {
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Accept-Encoding": "gzip",
            **self._headers,
            **own_headers,
        }
        target = self.prefix + path
        if self._proxy is not None and self.scheme == "http":
            target = f"http://{_netloc(self.host, self.port, 80)}{target}"
            headers.update(self._proxy.headers)
        try:
            connection, reused = self._connection(timeout)
            try:
                return self._exchange(connection, method, target, body, headers, deadline)
            except STALE:  # Disconnected is a ConnectionResetError
                if not reused:
                    raise
            # the server had closed that idle pooled connection: once more on a new one
            return self._exchange(self._connect(timeout), method, target, body, headers, deadline)
        except TimeoutError:
            raise HTTPFailure("timed out", timed_out=True) from None
        except ConnectionRefusedError:
            raise HTTPFailure("connection refused") from None
        except socket.gaierror as exc:
            raise HTTPFailure(f"cannot resolve {self.host!r}: {exc.strerror}") from None
        except Disconnected:
            raise HTTPFailure("the server closed the connection without answering") from None
        except BrokenOff as exc:
            raise HTTPFailure(f"the answer broke off after {exc.received} bytes") from None
        except BadAnswer as exc:
            raise HTTPFailure(f"not a valid HTTP answer ({exc})") from None
        except OSError as exc:  # ssl.SSLError included
            raise HTTPFailure(_os_reason(exc)) from None
        except ValueError:  # what cannot be sent as it is; the text may hold a header
            raise HTTPFailure("the request cannot be sent (a header or the path)") from None

    def _exchange(
        self,
        connection: _Connection,
        method: str,
        target: str,
        body: bytes | None,
        headers: dict[str, str],
        deadline: float,
    ) -> Answer:
        """One request and its whole answer by ``deadline``; the connection is pooled again
        or closed."""
        with self._lock:
            self._busy.add(connection)
        try:
            response = connection.exchange(method, target, body, headers, deadline)
        except BaseException:
            connection.close()
            raise
        finally:
            with self._lock:
                self._busy.discard(connection)
        self._release(connection, response.will_close)
        return Answer(
            response.status,
            response.headers.get("content-type", ""),
            _decoded(
                response.body,
                response.headers.get("content-encoding", ""),
                self._max_answer,
                deadline,
            ),
            response.headers.get("location"),
        )

    def _connection(self, timeout: float) -> tuple[_Connection, bool]:
        with self._lock:
            if self._pool:
                connection = self._pool.pop()
                if connection.is_open:
                    return connection, True
        return self._connect(timeout), False

    def _connect(self, timeout: float) -> _Connection:
        if self._closed:
            raise HTTPFailure(CLOSED)
        host, port = self.host, self.port
        if self._proxy is not None:
            host, port = self._proxy.host, self._proxy.port
        if self.scheme != "https":
            return Connection(host, port, timeout, self._max_answer)
        import http.client

        if self._tls is None:
            self._tls = tls_context(self._environ)
        connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=self._tls)
        if self._proxy is not None:
            connection.set_tunnel(self.host, self.port, headers=dict(self._proxy.headers))
        return _TLSConnection(connection, self._max_answer)

    def _release(self, connection: _Connection, closing: bool) -> None:
        with self._lock:
            if not closing and not self._closed and len(self._pool) < self._pool_size:
                self._pool.append(connection)
                return
        connection.close()


def proxy_for(scheme: str, host: str, port: int, environ: Mapping[str, str]) -> _Proxy | None:
    """The proxy the environment names for this server, as ``requests`` chose it: the
    scheme's ``*_proxy``, else ``all_proxy``, unless ``no_proxy`` covers the host."""

    def setting(name: str) -> str:
        return environ.get(name) or environ.get(name.upper()) or ""

    address = setting(f"{scheme}_proxy") or setting("all_proxy")
    if not address or bypassed(host, port, setting("no_proxy")):
        return None
    if "://" not in address:
        address = "http://" + address
    parts = urlsplit(address)
    if parts.scheme.lower() != "http" or not parts.hostname:
        raise ValueError(
            f"proxy {_without_password(address)!r} from the environment: only http:// proxies "
            "are supported (unset it, or add the host to no_proxy)"
        )
    headers = {}
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        headers["Proxy-Authorization"] = "Basic " + _b64(pair)
    return _Proxy(parts.hostname, parts.port or 80, headers)


def bypassed(host: str, port: int, no_proxy: str) -> bool:
    """Whether ``no_proxy`` (comma- or space-separated hosts, domains, ``host:port``, CIDR
    blocks, or ``*``) exempts ``host``."""
    host = host.lower()
    for entry in no_proxy.replace(",", " ").split():
        entry = entry.lower().lstrip(".")
        if entry == "*":
            return True
        name, _, entry_port = entry.partition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and entry_port != str(port):
            continue
        if "/" in name:
            if _in_block(host, name):
                return True
        elif host == name or host.endswith("." + name):
            return True
    return False


def _in_block(host: str, block: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(block, strict=False)
    except ValueError:
        return False


def tls_context(environ: Mapping[str, str]) -> ssl.SSLContext:
    """Certificates checked against the bundle ``requests`` used: ``REQUESTS_CA_BUNDLE`` or
    ``CURL_CA_BUNDLE`` (a file or a directory), else certifi's."""
    import os
    import ssl

    bundle = environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE")
    if not bundle:
        import certifi

        bundle = certifi.where()
    if os.path.isdir(bundle):
        return ssl.create_default_context(capath=bundle)
    return ssl.create_default_context(cafile=bundle)


def _decoded(body: bytes, encoding: str, limit: int, deadline: float) -> bytes:
    """The body as sent, inflated when compressed: at most ``limit`` bytes, else
    ``HTTPFailure`` naming the limit (no more than that is ever inflated), by ``deadline``
    (``TimeoutError``)."""
    encoding = encoding.strip().lower()
    if encoding not in ("gzip", "deflate"):
        return body
    import zlib

    try:  # 47: a gzip or zlib header, detected; -15: raw deflate, as some servers send it
        return _inflated(body, 47 if encoding == "gzip" else 15, limit, deadline, encoding)
    except zlib.error:
        try:
            return _inflated(body, -15, limit, deadline, encoding)
        except zlib.error as exc:
            raise HTTPFailure(f"the {encoding} answer does not decompress: {exc}") from None


INFLATE_STEP = 4 * 1024 * 1024  # bytes inflated between two looks at the deadline


def _inflated(body: bytes, wbits: int, limit: int, deadline: float, encoding: str) -> bytes:
    """``zlib.decompress(body, wbits)`` a step at a time, stopped one byte past ``limit``
    or at ``deadline``: a bomb costs at most the limit's memory and the query's time."""
    import zlib

    inflater = zlib.decompressobj(wbits)
    data = bytearray()
    pending = body
    while not inflater.eof and len(data) <= limit:
        time_left(deadline)
        step = inflater.decompress(pending, min(INFLATE_STEP, limit + 1 - len(data)))
        pending = inflater.unconsumed_tail
        if not step and not pending:
            break  # all of it taken, and nothing more comes: a stream cut short
        data += step
    if len(data) > limit:
        raise HTTPFailure(
            f"the {encoding} answer inflates past the {shown_size(limit)} limit of an answer"
        )
    if not inflater.eof:
        raise zlib.error("Error -5 while decompressing data: incomplete or truncated stream")
    return bytes(data)


def _sendable(text: str) -> bool:
    """Whether http.client sends ``text`` as a header name or value as it is."""
    if any(c in text for c in "\r\n\0"):
        return False
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _os_reason(exc: OSError) -> str:
    reason = exc.strerror or str(exc) or type(exc).__name__
    if reason.endswith(")") and " (_ssl.c:" in reason:  # CPython's source line: noise
        reason = reason[: reason.rindex(" (_ssl.c:")]
    return " ".join(reason.split())[:200]


def _netloc(host: str, port: int, default: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port == default else f"{shown}:{port}"


def _without_password(address: str) -> str:
    from ops_toolkit.urls import redact_url

    return redact_url(address)


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode("utf-8")).decode("ascii")
