"""Prometheus over HTTP (``/api/v1/query``): the only module that talks to it.

One HTTP client (``metrics/transport.py``: keep-alive connections, proxies and TLS as
``requests`` had them, without its import cost) is shared by every query; ``query_many``
runs queries concurrently on a bounded pool of daemon threads (``metrics/pool.py``: Ctrl-C
ends the command without waiting for them), each with its own timeout.

Every answer is validated before it is trusted: a body that is not JSON, an HTML error page
from a proxy, or JSON of an unexpected shape (``"result": "x"``, ``"value": [1]``, a value
that is not a number) is a ``MetricsError`` naming the place in the answer, never an
AttributeError or IndexError from deep inside a report. Queries are POSTed as a form, so a
batch of long queries never hits a URL length limit.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ops_toolkit.errors import MetricsError
from ops_toolkit.metrics.http11 import MAX_ANSWER
from ops_toolkit.metrics.model import Sample
from ops_toolkit.metrics.pool import concurrent_map
from ops_toolkit.metrics.source import SourceSettings, resolve_headers, secret_values
from ops_toolkit.metrics.transport import Client, HTTPFailure
from ops_toolkit.urls import redact_url as redact_url  # moved; still importable here

DEFAULT_TIMEOUT = 10.0
DEFAULT_CONCURRENCY = 8
RESULT_TYPES = ("vector", "scalar", "matrix", "string")
# A sample value as Prometheus writes it (Go's strconv.FormatFloat, or NaN, +Inf, -Inf).
# float() takes more that no Prometheus sends: '1_000', ' 7 ', 'infinity', non-ASCII digits.
SAMPLE_VALUE = re.compile(
    r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|NaN|[+-]Inf", re.ASCII
)
MAX_SNIPPET = 60


class PrometheusSource:
    """Instant queries against one Prometheus server."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        concurrency: int = DEFAULT_CONCURRENCY,
        deadline: float | None = None,
        headers: Mapping[str, str] | None = None,
        place: str | None = None,
        environ: Mapping[str, str] | None = None,
        max_answer: int = MAX_ANSWER,
    ) -> None:
        """``deadline`` (a ``time.monotonic()`` instant) bounds all queries together: a
        command's ``--timeout`` is one budget, not one per query and fallback. ``headers``
        go with every query (a tenant's ``X-Scope-OrgID``, ``Authorization``); ``place``
        names where the source was configured, in the messages of a refused query.
        ``environ`` (default ``os.environ``) names the proxies and the CA bundle.
        ``max_answer``: the most bytes an answer may hold, as sent and once inflated (a
        hostile server's gzip bomb or endless body stops there)."""
        if not re.match(r"^https?://", url):
            raise MetricsError(f"Prometheus URL must start with http:// or https://, got {url!r}")
        self.url = url.rstrip("/")
        self.shown_url = redact_url(self.url)  # what messages say: never the password
        self.timeout = timeout
        self.deadline = deadline
        self._bound = "--timeout bounds the whole command"  # what the deadline is, in messages
        self.concurrency = max(1, concurrency)
        self.place = place
        # One bounded attempt per query (a report retries nothing behind the user's back),
        # and as many kept-alive connections as the concurrency.
        self._client = Client(
            self.url,
            headers or {},
            pool_size=self.concurrency,
            environ=os.environ if environ is None else environ,
            max_answer=max_answer,
        )
        self._sends_credentials = self.shown_url != self.url or any(
            k.lower() == "authorization" for k in (headers or {})
        )
        # A server may quote the credential back (vmauth: 'cannot find the provided auth
        # token "Bearer ..."'): every message drops it.
        self._secrets = sorted(secret_values(headers or {}).values(), key=len, reverse=True)

    @property
    def headers(self) -> Mapping[str, str]:
        """The headers sent with every query (the URL's credentials included)."""
        return self._client.headers

    def within(self, seconds: float, bound: str) -> PrometheusSource:
        """This source, its connections shared, with all its queries from now on bounded by
        ``seconds`` together (``ops serve``'s budget lookup: many queries, one bound);
        ``bound`` says so in the message of a query that ran out of time."""
        import copy

        bounded = copy.copy(self)
        bounded.deadline = time.monotonic() + seconds
        bounded._bound = bound
        return bounded

    def close(self) -> None:
        """Ends the connections, those of queries under way too (they fail at once), and
        refuses further queries: a stopping ``ops serve`` does not wait for a stuck one."""
        self._client.close()

    def query(self, promql: str, at: float | None = None) -> list[Sample]:
        """Samples of an instant query; ``MetricsError`` with the server's reason otherwise."""
        timeout = self._time_left()
        # whole milliseconds: Prometheus refuses a fractional duration such as '9.98s'
        form: dict[str, str] = {
            "query": promql,
            "timeout": f"{max(1, int(timeout * 1000))}ms",
            # VictoriaMetrics answers a query for the last 30 s (-search.latencyOffset) as of
            # 30 s earlier, yet stamps the answer with the time asked: a report "at now"
            # would miss a tenth of its 5m window. nocache=1 makes it answer at the time
            # asked, as Prometheus does; Prometheus, Thanos and Mimir ignore the parameter.
            "nocache": "1",
        }
        if at is not None:
            form["time"] = f"{at:.3f}"
        try:
            answer = self._client.post_form("/api/v1/query", form, timeout)
        except HTTPFailure as failure:
            raise self._unreached(failure) from None
        body = answer.body
        if answer.status >= 400:  # the credential out before any snippet is cut
            for secret in self._secrets:
                body = body.replace(secret.encode(), b"***")
        if answer.status in (401, 403):
            raise MetricsError(self._redact(self._refused(answer.status, body)))
        if 300 <= answer.status < 400:
            where = redact_url(answer.location) if answer.location else "nowhere given"
            raise MetricsError(
                f"Prometheus at {self.shown_url} answered HTTP {answer.status}, a redirect to "
                f"{where}: give that address (a query is not sent on to another address)"
            )
        try:
            return parse_answer(body, answer.status, answer.content_type, self.shown_url)
        except MetricsError as exc:
            if not self._secrets:
                raise
            raise MetricsError(self._redact(str(exc))) from None

    def _unreached(self, failure: HTTPFailure) -> MetricsError:
        """What a request that got no answer is reported as: too slow, or why not reached."""
        if failure.timed_out:
            return MetricsError(self._too_slow())
        return MetricsError(
            f"cannot reach Prometheus at {self.shown_url}: {_connection_reason(failure)}"
        )

    def retention(self) -> str | None:
        """The server's TSDB retention as it states it (``15d``, ``30d or 10GiB``), from
        ``/api/v1/status/runtimeinfo``; None when it does not say (VictoriaMetrics, Thanos
        and Mimir answer 404 or have no such field): the check it feeds then does not apply.
        A server that cannot be reached is a ``MetricsError`` like any query."""
        import json

        try:
            answer = self._client.get("/api/v1/status/runtimeinfo", self._time_left())
        except HTTPFailure as failure:
            raise self._unreached(failure) from None
        if answer.status != 200:
            return None
        try:
            data = json.loads(answer.body).get("data")
        except (ValueError, UnicodeDecodeError, RecursionError, AttributeError):
            return None
        value = data.get("storageRetention") if isinstance(data, dict) else None
        return value if isinstance(value, str) and value else None

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***").replace(ascii(secret)[1:-1], "***")
        return text

    def _refused(self, status: int, body: bytes) -> str:
        """A 401 or 403 in one line naming the source, with what to check."""
        where = f"Prometheus at {self.shown_url}" + (f" ({self.place})" if self.place else "")
        reason = _refusal_reason(body)
        said = f": {reason}" if reason else ""
        if status == 403:
            return f"{where} forbids the query: HTTP 403 Forbidden{said}"
        if self._sends_credentials:
            return f"{where} refused the credentials: HTTP 401 Unauthorized{said}"
        return (
            f"{where} wants credentials: HTTP 401 Unauthorized{said} (set headers, basic_auth "
            "or bearer_token_env under prometheus: in ops.yaml)"
        )

    def _time_left(self) -> float:
        """This query's timeout: the per-query one, cut to what is left of the deadline."""
        if self.deadline is None:
            return self.timeout
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise MetricsError(self._too_slow())
        return min(self.timeout, left)

    def _too_slow(self) -> str:
        return f"Prometheus at {self.shown_url} did not answer within {self.timeout:g}s" + (
            f" ({self._bound})" if self.deadline is not None else ""
        )

    def query_many(
        self, queries: Sequence[str], at: float | None = None
    ) -> list[list[Sample] | Exception]:
        """Each query's samples or its ``MetricsError``, in order, run concurrently."""

        def one(promql: str) -> list[Sample] | Exception:
            try:
                return self.query(promql, at)
            except MetricsError as exc:
                return exc

        return concurrent_map(one, queries, self.concurrency)


def _refusal_reason(body: bytes) -> str:
    """The server's reason for a 401/403: a JSON ``error`` or the first line of the text."""
    import json

    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        document = None
    if isinstance(document, dict) and isinstance(document.get("error"), str):
        return _clean(document["error"])
    text = body[:500].decode("utf-8", "replace").strip()
    return _clean(text.splitlines()[0]) if text and not text.startswith("<") else ""


def open_source(
    settings: SourceSettings,
    environ: Mapping[str, str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    deadline: float | None = None,
) -> PrometheusSource:
    """The source ``settings`` describe, its secret read from ``environ`` or its file now."""
    return PrometheusSource(
        settings.url,
        timeout=timeout,
        deadline=deadline,
        headers=resolve_headers(settings, environ),
        place=settings.place,
        max_answer=settings.max_answer or MAX_ANSWER,
    )


def parse_answer(body: bytes, status: int, content_type: str, url: str) -> list[Sample]:
    """An ``/api/v1/query`` answer validated into samples; ``MetricsError`` names what is off."""
    import json

    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        kind = content_type.split(";")[0].strip() or "no content type"
        raise MetricsError(
            f"Prometheus at {url} answered HTTP {status} with a body that is not JSON "
            f"({kind}): {_snippet(body)}"
        ) from None
    if not isinstance(document, dict):
        raise _shape(url, "", f"expected an object, got {_kind(document)}")
    if document.get("status") == "error" or status >= 400:
        error_type = document.get("errorType")
        error = document.get("error")
        reason = (
            f"{_clean(error_type)}: {_clean(error)}"
            if isinstance(error, str) and isinstance(error_type, str)
            else "no reason given"
        )
        raise MetricsError(f"Prometheus at {url} rejected the query: HTTP {status}: {reason}")
    if document.get("status") != "success":
        raise _shape(url, "status", f"expected 'success', got {_short(document.get('status'))}")
    data = document.get("data")
    if not isinstance(data, dict):
        raise _shape(url, "data", f"expected an object, got {_kind(data)}")
    result_type = data.get("resultType")
    if result_type not in RESULT_TYPES:
        raise _shape(
            url,
            "data.resultType",
            f"expected one of {', '.join(RESULT_TYPES)}, got {_short(result_type)}",
        )
    result = data.get("result")
    if result_type == "scalar":
        return [Sample({}, _point(result, url, "data.result"))]
    if result_type == "string":
        raise _shape(url, "data.result", "a string, not a number (the query returns text)")
    if not isinstance(result, list):
        raise _shape(url, "data.result", f"expected a list, got {_kind(result)}")
    return [_series(item, url, f"data.result[{i}]", result_type) for i, item in enumerate(result)]


def _series(item: Any, url: str, path: str, result_type: str) -> Sample:
    if not isinstance(item, dict):
        raise _shape(url, path, f"expected an object, got {_kind(item)}")
    metric = item.get("metric", {})
    if not isinstance(metric, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metric.items()
    ):
        raise _shape(url, f"{path}.metric", "expected an object of string labels")
    if result_type == "matrix":
        values = item.get("values")
        if not isinstance(values, list) or not values:
            raise _shape(url, f"{path}.values", f"expected a non-empty list, got {_kind(values)}")
        # A range selector's last point: what an instant query of the series would say.
        return Sample(dict(metric), _point(values[-1], url, f"{path}.values[{len(values) - 1}]"))
    return Sample(dict(metric), _point(item.get("value"), url, f"{path}.value"))


def _point(point: Any, url: str, path: str) -> float:
    """A ``[unix time, "number"]`` pair's number (``NaN`` and ``±Inf`` included)."""
    if (
        not isinstance(point, list)
        or len(point) != 2
        or isinstance(point[0], bool)
        or not isinstance(point[0], int | float)
        or not isinstance(point[1], str)
    ):
        raise _shape(url, path, f'expected [time, "number"], got {_short(point)}')
    if not SAMPLE_VALUE.fullmatch(point[1]):
        raise _shape(url, path, f"not a number: {_short(point[1])}")
    return float(point[1])


def _shape(url: str, path: str, what: str) -> Any:
    where = f"{path}: " if path else ""
    raise MetricsError(f"Prometheus at {url} answered with an unexpected shape: {where}{what}")


def _fail(message: str) -> Any:
    raise MetricsError(message)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )


def _short(value: Any) -> str:
    import json

    try:
        text = json.dumps(value, ensure_ascii=True)
    except (ValueError, TypeError):
        text = repr(value)
    return text if len(text) <= MAX_SNIPPET else text[: MAX_SNIPPET - 1] + "…"


def _clean(text: str) -> str:
    """A server-given reason on one line, bounded."""
    line = " ".join(text.split())
    return line if len(line) <= 500 else line[:499] + "…"


def _snippet(body: bytes) -> str:
    text = " ".join(body[:MAX_SNIPPET].decode("utf-8", "replace").split())
    if not text:
        return "an empty body"
    return ascii(text) + ("..." if len(body) > MAX_SNIPPET else "")


def _connection_reason(failure: HTTPFailure) -> str:
    if failure.reason == "connection refused":
        return "connection refused (is it running? check --prometheus / OPS_PROMETHEUS_URL)"
    return failure.reason[:200]
