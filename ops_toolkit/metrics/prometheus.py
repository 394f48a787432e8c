"""Prometheus over HTTP through prometheus-api-client: the only module that talks to it.

One ``requests`` session is shared by every query (connection reuse); ``query_many`` runs
queries concurrently on a bounded thread pool, each with its own timeout.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ops_toolkit.errors import MetricsError
from ops_toolkit.metrics.model import Sample

DEFAULT_TIMEOUT = 10.0
DEFAULT_CONCURRENCY = 8


class PrometheusSource:
    """Instant queries against one Prometheus server."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        import requests
        from prometheus_api_client import PrometheusConnect
        from requests.adapters import HTTPAdapter

        if not re.match(r"^https?://", url):
            raise MetricsError(f"Prometheus URL must start with http:// or https://, got {url!r}")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.concurrency = max(1, concurrency)
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=self.concurrency, max_retries=0)
        self._client = PrometheusConnect(url=self.url, session=session, timeout=timeout)
        # The client mounts its own adapter (3 retries with backoff) on the URL; a report
        # wants one bounded attempt per query, and a pool as large as the concurrency.
        session.mount(self.url, adapter)

    def query(self, promql: str, at: float | None = None) -> list[Sample]:
        """Samples of an instant query; ``MetricsError`` with the server's reason otherwise."""
        import requests
        from prometheus_api_client.exceptions import PrometheusApiClientException

        params: dict[str, Any] = {"timeout": f"{self.timeout:g}s"}
        if at is not None:
            params["time"] = f"{at:.3f}"
        try:
            data = self._client.custom_query(promql, params=params)
        except PrometheusApiClientException as exc:
            raise MetricsError(
                f"Prometheus at {self.url} rejected the query: {_reason(exc)}"
            ) from None
        except requests.Timeout:
            raise MetricsError(
                f"Prometheus at {self.url} did not answer within {self.timeout:g}s"
            ) from None
        except requests.RequestException as exc:
            raise MetricsError(
                f"cannot reach Prometheus at {self.url}: {_connection_reason(exc)}"
            ) from None
        except ValueError:
            raise MetricsError(
                f"Prometheus at {self.url} answered with something not JSON"
            ) from None
        return _samples(data)

    def query_many(
        self, queries: Sequence[str], at: float | None = None
    ) -> list[list[Sample] | Exception]:
        """Each query's samples or its ``MetricsError``, in order, run concurrently."""

        def one(promql: str) -> list[Sample] | Exception:
            try:
                return self.query(promql, at)
            except MetricsError as exc:
                return exc

        if len(queries) <= 1:
            return [one(q) for q in queries]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(queries))) as pool:
            return list(pool.map(one, queries))


def _samples(data: Any) -> list[Sample]:
    if isinstance(data, list) and len(data) == 2 and not isinstance(data[0], dict):
        return [Sample({}, _number(data[1]))]  # scalar result
    samples = []
    for item in data or []:
        value = item.get("value")
        if value is None:
            continue
        samples.append(Sample(dict(item.get("metric", {})), _number(value[1])))
    return samples


def _number(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def _reason(exc: Exception) -> str:
    text = str(exc)
    match = re.search(r"\((b?)'(.*)'\)$", text, re.DOTALL) or re.search(
        r'\((b?)"(.*)"\)$', text, re.DOTALL
    )
    if match:
        body = match.group(2)
        try:
            decoded = json.loads(body.encode().decode("unicode_escape"))
            status = re.search(r"HTTP Status Code (\d+)", text)
            prefix = f"HTTP {status.group(1)}: " if status else ""
            return f"{prefix}{decoded.get('errorType', 'error')}: {decoded.get('error', body)}"
        except (ValueError, AttributeError):
            return text
    return text


def _connection_reason(exc: Exception) -> str:
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused (is it running? check --prometheus / OPS_PROMETHEUS_URL)"
    return text.split(": ", 1)[-1][:200]
