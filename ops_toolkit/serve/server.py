"""The ASGI app of ``ops serve``: webhook intake, health and metrics.

``POST /alertmanager`` answers 2xx only after the payload is committed to the store. Concurrent
requests share one commit (a single writer thread gathers whatever is waiting), so the store
keeps up while every accepted payload is on disk. When the inbox is over its bound or the
store fails, the answer is 503, which Alertmanager retries; bad input is a 4xx, never a 500.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Future
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ops_toolkit.alerts.webhook import PLACE, decode_body, parse_notification
from ops_toolkit.errors import OpsError, PayloadError, StoreConflict
from ops_toolkit.serve.body import TooLarge, TooSlow, read_body
from ops_toolkit.serve.store import Store

GROUP_COMMIT = 256
RETRY = {"Retry-After": "5"}
# A group commit that lost a race to another writer (PostgreSQL deadlock or serialization
# failure: rolled back whole) is tried again at once, this many times, before its webhooks
# get a 503: the database works, and Alertmanager's retry would come only much later.
INTAKE_CONFLICT_RETRIES = 3


class GroupCommitWriter:
    """One thread that commits every payload waiting at that moment in one transaction."""

    def __init__(
        self, store: Store, on_commit: Callable[[], None], clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.on_commit = on_commit
        self.clock = clock
        self.queue: queue.Queue[tuple[str, int, Future[int]] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="intake-writer", daemon=True)
        self.conflicts = 0  # group commits that lost a race and were tried again

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.queue.put(None)
        self.thread.join(timeout=30)

    def submit(self, body: str, alerts: int) -> Future[int]:
        future: Future[int] = Future()
        self.queue.put((body, alerts, future))
        return future

    def backlog(self) -> int:
        return self.queue.qsize()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self.queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < GROUP_COMMIT:
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            # A request that went away (client gone, server stopping) cancels its future;
            # its payload is still committed (Alertmanager's retry is then a duplicate).
            # Setting a result on a cancelled future raises, which once killed this thread
            # and left every later webhook waiting forever.
            try:
                ids = self._accept([(body, count) for body, count, _ in batch])
            except Exception as error:  # the store failed: every waiting request gets a 503
                for _, _, future in batch:
                    if future.set_running_or_notify_cancel():
                        future.set_exception(error)
                continue
            for (_, _, future), inbox_id in zip(batch, ids, strict=True):
                if future.set_running_or_notify_cancel():
                    future.set_result(inbox_id)
            try:
                self.on_commit()
            except Exception:  # waking the processor is best effort; it also polls
                logging.getLogger("ops.serve").exception("intake: waking the processor failed")

    def _accept(self, payloads: list[tuple[str, int]]) -> list[int]:
        """The group commit, tried again at once when it lost a race (``StoreConflict``:
        rolled back, nothing of it kept), up to ``INTAKE_CONFLICT_RETRIES`` times."""
        for retry in range(INTAKE_CONFLICT_RETRIES + 1):
            try:
                return self.store.accept(payloads, self.clock())
            except StoreConflict as error:
                if retry == INTAKE_CONFLICT_RETRIES:
                    raise
                self.conflicts += 1
                logging.getLogger("ops.serve").info("intake: %s; retrying at once", error)
        raise AssertionError("unreachable")  # the last try returned or raised


class InboxDepth:
    """The inbox depth for admitting a webhook, read off the event loop and shared.

    Reading it runs five store queries; run on the event loop for every request, they held
    up every other request meanwhile (intake p99 19 times the empty handler's). Now one
    read on a worker thread at most every ``max_age`` seconds serves every request, and no
    request waits for it once a reading is known: a request answers from the last reading
    while the next one runs (a request that waited for the refresh was the slowest of its
    second). Until a first reading, and after a read that failed, requests wait for the next
    one, and a read that fails fails those requests alike (503: the store cannot commit).
    The bound stays approximate, as it was: the writer's own backlog is added exactly.
    """

    def __init__(
        self,
        stats: Callable[[], dict[str, float]],
        max_age: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stats = stats
        self.max_age = max_age
        self.clock = clock
        self._reading: asyncio.Future[dict[str, float]] | None = None
        self._read_at = 0.0
        self._known: float | None = None  # the last reading that succeeded, while current

    async def get(self) -> float:
        now = self.clock()
        if self._reading is None or (self._reading.done() and now - self._read_at > self.max_age):
            self._read_at = now
            self._reading = asyncio.ensure_future(asyncio.to_thread(self.stats))
            self._reading.add_done_callback(self._keep)
        if self._known is not None:
            return self._known
        stats = await asyncio.shield(self._reading)
        return stats.get("inbox_depth", 0)

    async def settled(self) -> None:
        """Wait for the read under way, if any (its failure is for the requests to see)."""
        if self._reading is not None:
            await asyncio.wait([self._reading])

    def _keep(self, reading: asyncio.Future[dict[str, float]]) -> None:
        if reading.cancelled() or reading.exception() is not None:
            self._known = None  # the next requests wait for a reading, and fail with it
        else:
            self._known = reading.result().get("inbox_depth", 0)


@dataclass
class AppSettings:
    token: str | None
    inbox_limit: int = 10_000
    stats: Callable[[], dict[str, float]] = lambda: {}
    health: Callable[[], tuple[int, dict[str, Any]]] = lambda: (200, {"status": "ok"})
    max_body: int = 32 * 1024 * 1024
    read_timeout: float = 30.0
    on_refused: Callable[[int], None] = lambda size: None
    # What admission reads (``inbox_depth``), when cheaper than all of ``stats``: the store's
    # stats are five queries, admission needs one (issue 15).
    depth: Callable[[], dict[str, float]] | None = None


def _error(status: int, reason: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"status": "error", "error": reason}, status_code=status, headers=headers)


def _unavailable(error: Exception, *, detailed: bool) -> JSONResponse:
    """503 (Alertmanager retries it). With the bearer token, the reason: ours say it in words
    (the database is down, the URL without its password); anything else only by its type.
    Without it (``detailed`` False: no token configured, so every caller is anonymous) only
    that the store is unavailable: the reason names the store (a path, a database URL's
    user, host and name), which is for the log (``StoreFailureLog``), not for whoever asks."""
    if not detailed:
        from ops_toolkit.serve.metrics import store_state

        return _error(503, f"{PLACE}: {store_state(error)}; retry later", RETRY)
    if isinstance(error, OpsError):
        why = " ".join(str(error).split())
        return _error(503, f"{PLACE}: cannot store the payload now: {why}; retry later", RETRY)
    return _error(
        503, f"{PLACE}: cannot store the payload now ({type(error).__name__}); retry later", RETRY
    )


class StoreFailureLog:
    """The one log line for a store failure that ``/healthz`` and ``/metrics`` saw, with
    the detail an anonymous caller is not shown: said when the reason changes, not on every
    probe (a load balancer asks every few seconds), and said again after a recovery."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._said: str | None = None

    def failed(self, where: str, detail: str, state: str = "store unavailable") -> None:
        with self._lock:
            if detail == self._said:
                return
            self._said = detail
        logging.getLogger("ops.serve").warning("%s: %s: %s", where, state, detail)

    def recovered(self) -> None:
        with self._lock:
            self._said = None


def create_app(
    writer: GroupCommitWriter,
    settings: AppSettings,
    *,
    on_start: Callable[[], None] = lambda: None,
    on_stop: Callable[[], None] = lambda: None,
    extra_routes: Sequence[Route] = (),
) -> Starlette:
    expected = settings.token.encode() if settings.token else None
    inbox_depth = InboxDepth(settings.depth or settings.stats)
    failures = StoreFailureLog()

    def authorized(request: Request) -> bool:
        """Whether the request carries the server's bearer token (never, without one)."""
        if expected is None:
            return False
        # The scheme is case-insensitive (RFC 7235): "bearer x" is "Bearer x".
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode("utf-8", "replace"), expected
        )

    async def _refused(size: int) -> None:
        try:
            await asyncio.to_thread(settings.on_refused, size)
        except Exception:  # the notice is best effort: the 413 goes out whatever happens
            logging.getLogger("ops.serve").exception("could not record a refused body")

    def cannot_store(request: Request, error: Exception) -> JSONResponse:
        """The 503 of a webhook the store cannot take; its reason, naming the store, in
        the log once per reason, and in the answer only to the bearer token's holder."""
        from ops_toolkit.serve.metrics import store_failure, store_state

        failures.failed(PLACE, store_failure(error), store_state(error))
        return _unavailable(error, detailed=authorized(request))

    async def alertmanager(request: Request) -> Response:
        if expected is not None and not authorized(request):
            return _error(
                401,
                f"{PLACE}: missing or wrong bearer token",
                {"WWW-Authenticate": 'Bearer realm="ops"'},
            )
        # Read to the end (up to twice the limit) before answering a body over the limit, so
        # the sender sees the 413 instead of a connection reset while it is still writing.
        limit = settings.max_body
        raw = await read_body(request, limit=limit, timeout=settings.read_timeout, drain=2 * limit)
        if isinstance(raw, TooSlow):
            return _error(408, raw.reason(PLACE))
        if isinstance(raw, TooLarge):
            # Alertmanager never retries a 4xx: the refusal is posted to chat, not silent.
            await _refused(raw.size)
            return _error(413, raw.reason(PLACE, limit, "serve.max_body in ops.yaml"))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return _error(400, f"{PLACE}: body is not UTF-8: {exc}")
        try:
            notification = parse_notification(decode_body(text))
        except PayloadError as exc:
            return _error(400, str(exc))
        try:
            depth = await inbox_depth.get()
        except Exception as exc:  # the store cannot be read: it cannot commit either
            return cannot_store(request, exc)
        if writer.backlog() + depth > settings.inbox_limit:
            return _error(503, f"{PLACE}: inbox is full; retry later", {"Retry-After": "5"})
        try:
            inbox_id = await asyncio.wrap_future(writer.submit(text, len(notification.alerts)))
        except Exception as exc:
            return cannot_store(request, exc)
        failures.recovered()  # a later failure for the same reason is said again
        return JSONResponse(
            {"status": "accepted", "id": inbox_id, "alerts": len(notification.alerts)}
        )

    async def healthz(request: Request) -> Response:
        """Anyone may ask (a load balancer has no token); the store's failure in detail,
        which names the store (user, host, database, path), only with the bearer token,
        and in the log."""
        from ops_toolkit.serve.metrics import public_health

        status, body = await asyncio.to_thread(settings.health)
        if "detail" in body:
            failures.failed("GET /healthz", str(body["detail"]))
        elif status == 200:
            failures.recovered()
        return JSONResponse(
            body if authorized(request) else public_health(body), status_code=status
        )

    async def metrics(request: Request) -> Response:
        from ops_toolkit.serve.metrics import render_metrics, store_failure

        try:
            stats = await asyncio.to_thread(settings.stats)
        except Exception as exc:  # the store is down: say so, and still serve the gauge
            detail = store_failure(exc)
            failures.failed("GET /metrics", detail)
            said = f": {detail}" if authorized(request) else ""
            return PlainTextResponse(
                f"# store unavailable{said}\n" + render_metrics({"intake_up": 0.0}),
                status_code=503,
                media_type="text/plain; version=0.0.4",
            )
        failures.recovered()
        return PlainTextResponse(render_metrics(stats), media_type="text/plain; version=0.0.4")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        on_start()
        try:
            yield
        finally:
            on_stop()

    return Starlette(
        routes=[
            Route("/alertmanager", alertmanager, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            *extra_routes,
        ],
        lifespan=lifespan,
    )


def header_timeout_protocol(seconds: float) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol, closing connections that do not send a request's headers
    within ``seconds`` of connecting (or of their first byte after a response).

    uvicorn times out idle keep-alive connections only after a response, so a client that
    connects and trickles its headers (slowloris) holds a connection forever otherwise.
    The body has its own deadline in the handler (408).
    """
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutProtocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self.cycle is None or self.cycle.response_complete:
                self._arm()  # waiting for (the rest of) a request's headers
            super().data_received(data)
            if self.cycle is not None and not self.cycle.response_complete:
                self._disarm()  # the headers are in: the handler's own deadline takes over

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(seconds, self._expired)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _expired(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                self.transport.close()

    return HeaderTimeoutProtocol
