"""The ASGI app of ``ops serve``: webhook intake, health and metrics.

``POST /alertmanager`` answers 2xx only after the payload is committed to SQLite. Concurrent
requests share one commit (a single writer thread gathers whatever is waiting), so the store
keeps up while every accepted payload is on disk. When the inbox is over its bound or the
store fails, the answer is 503, which Alertmanager retries; bad input is a 4xx, never a 500.
"""

from __future__ import annotations

import asyncio
import hmac
import json
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

from ops_toolkit.alerts.webhook import PLACE, parse_notification
from ops_toolkit.errors import PayloadError
from ops_toolkit.serve.store import Store

MAX_BODY = 1024 * 1024
DRAIN_LIMIT = 8 * MAX_BODY
GROUP_COMMIT = 256


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
            try:
                ids = self.store.accept([(body, count) for body, count, _ in batch], self.clock())
            except Exception as error:  # the store failed: every waiting request gets a 503
                for _, _, future in batch:
                    future.set_exception(error)
                continue
            for (_, _, future), inbox_id in zip(batch, ids, strict=True):
                future.set_result(inbox_id)
            self.on_commit()


@dataclass
class AppSettings:
    token: str | None
    inbox_limit: int = 10_000
    stats: Callable[[], dict[str, float]] = lambda: {}
    health: Callable[[], dict[str, Any]] = lambda: {"status": "ok"}


def _error(status: int, reason: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"status": "error", "error": reason}, status_code=status, headers=headers)


def create_app(
    writer: GroupCommitWriter,
    settings: AppSettings,
    *,
    on_start: Callable[[], None] = lambda: None,
    on_stop: Callable[[], None] = lambda: None,
    extra_routes: Sequence[Route] = (),
) -> Starlette:
    expected = f"Bearer {settings.token}".encode() if settings.token else None

    async def alertmanager(request: Request) -> Response:
        if expected is not None:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return _error(
                    401,
                    f"{PLACE}: missing or wrong bearer token",
                    {"WWW-Authenticate": 'Bearer realm="ops"'},
                )
        declared = request.headers.get("content-length")
        too_big = _error(413, f"{PLACE}: body over {MAX_BODY} bytes")
        if declared is not None and declared.isdigit() and int(declared) > DRAIN_LIMIT:
            return too_big
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > DRAIN_LIMIT:
                return too_big
            if size <= MAX_BODY:
                chunks.append(chunk)
        if size > MAX_BODY:
            # Read to the end (up to DRAIN_LIMIT) before answering, so the sender sees the
            # 413 instead of a connection reset while it is still writing.
            return too_big
        raw = b"".join(chunks)
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            return _error(400, f"{PLACE}: body is not JSON: {exc}")
        try:
            notification = parse_notification(data)
        except PayloadError as exc:
            return _error(400, str(exc))
        if writer.backlog() + settings.stats().get("inbox_depth", 0) > settings.inbox_limit:
            return _error(503, f"{PLACE}: inbox is full; retry later", {"Retry-After": "5"})
        try:
            inbox_id = await asyncio.wrap_future(
                writer.submit(raw.decode("utf-8"), len(notification.alerts))
            )
        except Exception as exc:
            return _error(
                503,
                f"{PLACE}: cannot store the payload now ({type(exc).__name__}); retry later",
                {"Retry-After": "5"},
            )
        return JSONResponse(
            {"status": "accepted", "id": inbox_id, "alerts": len(notification.alerts)}
        )

    async def healthz(request: Request) -> Response:
        return JSONResponse(settings.health())

    async def metrics(request: Request) -> Response:
        from ops_toolkit.serve.metrics import render_metrics

        return PlainTextResponse(
            render_metrics(settings.stats()), media_type="text/plain; version=0.0.4"
        )

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
